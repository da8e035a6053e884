"""Run an iterator ahead of its consumer, in a thread, holding at most a budget of what it produced.

The shard step reads (decompresses, decodes, casts) landed files and encodes and compresses shards. pyarrow
releases the GIL for both, so with the reading in a thread of its own the two run on two cores instead of
taking turns on one. What is read ahead is bounded by a budget (bytes, for record batches), so memory stays
bounded; items come out in order, so the output does not depend on the timing.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


def readahead(items: Iterable[T], budget: int, cost: Callable[[T], int] = lambda _: 1) -> Iterator[T]:
    """Yield what `items` yields, producing it in a background thread while the items waiting to be taken
    cost at most `budget` in all (an item is let in whenever nothing waits, so a bigger one still passes).

    An exception raised by `items` is raised here, in the consumer, at the point where it happened in the
    sequence. If the consumer stops early (an error of its own, or `close()`), the thread stops too.
    """
    waiting: deque[tuple[object, int]] = deque()
    held = 0
    stop = False
    changed = threading.Condition()
    source = iter(items)

    def put(item: object, weight: int) -> bool:
        nonlocal held
        with changed:
            changed.wait_for(lambda: stop or not waiting or held + weight <= budget)
            if stop:
                return False
            waiting.append((item, weight))
            held += weight
            changed.notify_all()
            return True

    def produce() -> None:
        try:
            for item in source:
                if not put(item, cost(item)):
                    return
        except BaseException as exc:  # handed to the consumer, which raises it
            put(_Failed(exc), 0)
            return
        finally:
            close = getattr(source, "close", None)
            if close is not None:  # a generator's `with` blocks (open files) end here, in its own thread
                close()
        put(_DONE, 0)

    thread = threading.Thread(target=produce, name="readahead", daemon=True)
    thread.start()
    try:
        while True:
            with changed:
                changed.wait_for(lambda: waiting)
                item, weight = waiting.popleft()
                held -= weight
                changed.notify_all()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        with changed:
            stop = True
            changed.notify_all()
        thread.join()
