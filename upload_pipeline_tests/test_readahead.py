"""readahead: same items in the same order, errors where they happened, and no thread left behind."""

from __future__ import annotations

import threading
import time
from contextlib import closing

import pytest

from upload_pipeline.readahead import readahead


def test_yields_every_item_in_order():
    assert list(readahead(range(1000), depth=3)) == list(range(1000))
    assert list(readahead([], depth=1)) == []


def test_an_error_in_the_source_is_raised_after_the_items_before_it():
    def source():
        yield from range(5)
        raise ValueError("page 6 is corrupt")

    seen = []
    with pytest.raises(ValueError, match="page 6 is corrupt"):
        for item in readahead(source(), depth=2):
            seen.append(item)
    assert seen == [0, 1, 2, 3, 4]


def test_the_producer_stays_at_most_depth_items_ahead():
    produced = []

    def source():
        for i in range(100):
            produced.append(i)
            yield i

    items = readahead(source(), depth=4)
    assert next(items) == 0
    time.sleep(0.3)
    # one taken, `depth` queued, one more made and waiting for room
    assert len(produced) <= 1 + 4 + 1
    items.close()


def test_stopping_early_stops_the_thread_and_closes_the_source():
    closed = threading.Event()

    def source():
        try:
            yield from range(10**9)
        finally:
            closed.set()

    before = threading.active_count()
    with closing(readahead(source(), depth=2)) as items:
        for item in items:
            if item == 3:
                break
    assert closed.wait(2)
    assert threading.active_count() == before


def test_a_consumer_error_stops_the_thread():
    before = threading.active_count()
    with pytest.raises(RuntimeError), closing(readahead(iter(range(10**9)), depth=2)) as items:
        for item in items:
            if item == 10:
                raise RuntimeError("the writer failed")
    assert threading.active_count() == before
