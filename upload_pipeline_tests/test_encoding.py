"""Dictionary encoding only where values repeat, judged on the first 10 000 rows of the first row group, down to
nested leaves."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from upload_pipeline import steps
from upload_pipeline.encoding import dictionary_columns


def test_repeated_leaves_get_a_dictionary_and_unique_ones_do_not():
    table = pa.table({
        "id": list(range(10)),
        "label": ["cat", "dog"] * 5,
        "tags": [["a"], ["b"]] * 5,
        "meta": [{"source": "web", "version": i} for i in range(10)],
        "pair": pa.array([[1, 2], [3, 4]] * 5, pa.list_(pa.int64(), 2)),
        # x, y1, x, y3, ...: six distinct among ten values, past half
        "big": pa.array([["x"] if i % 2 == 0 else [f"y{i}"] for i in range(10)], pa.large_list(pa.string())),
        "empty": pa.nulls(10, pa.string()),
        "score": [i / 10 for i in range(10)],
    })
    expected = ["label", "tags.list.element", "meta.source", "pair.list.element", "empty"]
    assert dictionary_columns(table) == expected
    # A slice is judged on its own rows: ids 3..6 are still unique, the labels still repeat.
    assert dictionary_columns(table.slice(3, 4)) == expected


def test_nulls_are_not_values_and_fixed_size_lists_are_judged_on_their_elements():
    table = pa.table({
        # four values among ten rows: two distinct repeat, four distinct do not
        "rare": [None] * 6 + ["a", "a", "b", "b"],
        "rare_unique": [None] * 6 + ["a", "b", "c", "d"],
        "point": pa.array([[i, -i] for i in range(10)], pa.list_(pa.int64(), 2)),
        "corner": pa.array([[0, 1]] * 10, pa.list_(pa.int64(), 2)),
    })
    assert dictionary_columns(table) == ["rare", "corner.list.element"]


def test_a_schema_with_a_map_keeps_pyarrows_default():
    keys = pa.array([[("k", i)] for i in range(4)], pa.map_(pa.string(), pa.int64()))
    assert dictionary_columns(pa.table({"m": keys, "id": list(range(4))})) is True


def test_shards_carry_dictionary_pages_only_for_repeating_columns(workspace):
    workspace.land("train/a.parquet", rows=2000)
    ds, paths = workspace.config().datasets[0], workspace.paths()
    steps.land(ds, paths)
    [shard] = steps.shard(ds, paths).written
    meta = pq.read_metadata(paths.staged / shard.path)
    with_dictionary = {meta.schema.column(i).path for i in range(meta.num_columns)
                       if meta.row_group(0).column(i).has_dictionary_page}
    # datagen: 5 labels, 3 versions, a few hundred words; unique ids, scores, times and texts.
    assert with_dictionary == {"label", "tags.list.element", "meta.source", "meta.version"}
    assert pq.read_table(paths.staged / shard.path).num_rows == 2000


def test_only_the_first_rows_are_judged():
    # Labels repeat over the first 10 000 rows and never after: the sample decides, not the whole group.
    labels = [f"l{i % 3}" for i in range(10_000)] + [f"u{i}" for i in range(30_000)]
    assert dictionary_columns(pa.table({"label": labels})) == ["label"]
    assert dictionary_columns(pa.table({"label": labels[::-1]})) == []
    # Unique over the first 1 000 rows, then one value: over the 10 000 judged, the values repeat.
    assert dictionary_columns(pa.table({"label": [f"u{i}" for i in range(1_000)] + ["x"] * 20_000})) == ["label"]
