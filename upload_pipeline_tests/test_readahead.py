"""readahead: same items in the same order, errors where they happened, and no thread left behind."""

from __future__ import annotations

import threading
import time
from contextlib import closing

import pytest

from upload_pipeline.readahead import readahead


def test_yields_every_item_in_order():
    assert list(readahead(range(1000), budget=3)) == list(range(1000))
    assert list(readahead([], budget=1)) == []


def test_an_error_in_the_source_is_raised_after_the_items_before_it():
    def source():
        yield from range(5)
        raise ValueError("page 6 is corrupt")

    seen = []
    with pytest.raises(ValueError, match="page 6 is corrupt"):
        for item in readahead(source(), budget=2):
            seen.append(item)
    assert seen == [0, 1, 2, 3, 4]


def made_at_least(produced: list, count: int) -> list:
    """`produced` once the producer has made `count` items (and had time to make more, if it would)."""
    deadline = time.monotonic() + 10
    while len(produced) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    return list(produced)


def test_the_producer_stays_within_its_budget():
    produced = []

    def source():
        for i in range(100):
            produced.append(i)
            yield i

    items = readahead(source(), budget=4)
    assert next(items) == 0
    # one taken, `budget` waiting, one more made and waiting for room
    assert len(made_at_least(produced, 6)) == 1 + 4 + 1
    items.close()


def test_the_budget_counts_the_cost_of_each_item():
    produced = []

    def source():
        for size in [5, 5, 5, 50, 1, 1]:
            produced.append(size)
            yield size

    items = readahead(source(), budget=10, cost=lambda size: size)
    assert next(items) == 5
    assert made_at_least(produced, 4) == [5, 5, 5, 50]  # one taken, two wait (cost 10), 50 waits for room
    assert [next(items), next(items)] == [5, 5]
    assert made_at_least(produced, 5) == [5, 5, 5, 50, 1]  # 50 got in once nothing waited; 1 waits behind it
    assert list(items) == [50, 1, 1]


def test_stopping_early_stops_the_thread_and_closes_the_source():
    closed = threading.Event()

    def source():
        try:
            yield from range(10**9)
        finally:
            closed.set()

    before = threading.active_count()
    rows = source()  # still referenced: it is closed by readahead, not by the garbage collector
    with closing(readahead(rows, budget=2)) as items:
        for item in items:
            if item == 3:
                break
    assert closed.wait(2)
    assert threading.active_count() == before


def test_a_consumer_error_stops_the_thread():
    before = threading.active_count()
    with pytest.raises(RuntimeError), closing(readahead(iter(range(10**9)), budget=2)) as items:
        for item in items:
            if item == 10:
                raise RuntimeError("the writer failed")
    assert threading.active_count() == before
