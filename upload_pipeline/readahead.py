"""Run an iterator one step ahead of its consumer, in a thread, with a bounded queue between them.

The shard step reads (decompresses, decodes, casts) landed files and encodes and compresses shards. pyarrow
releases the GIL for both, so with the reading in a thread of its own the two run on two cores instead of
taking turns on one. The queue holds at most `depth` items, so memory stays bounded; items come out in order,
so the output does not depend on the timing.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()
_POLL_SECONDS = 0.1


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


def readahead(items: Iterable[T], depth: int = 4) -> Iterator[T]:
    """Yield what `items` yields, producing it in a background thread up to `depth` items ahead.

    An exception raised by `items` is raised here, in the consumer, at the point where it happened in the
    sequence. If the consumer stops early (an error of its own, or `close()`), the thread stops too.
    """
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    source = iter(items)

    def produce() -> None:
        try:
            for item in source:
                if not put(item):
                    return
        except BaseException as exc:  # handed to the consumer, which raises it
            put(_Failed(exc))
            return
        finally:
            close = getattr(source, "close", None)
            if close is not None:  # a generator's `with` blocks (open files) end here, in its own thread
                close()
        put(_DONE)

    thread = threading.Thread(target=produce, name="readahead", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()
