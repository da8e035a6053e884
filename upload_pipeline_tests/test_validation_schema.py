"""The dataset schema: one per config across splits; strict and promote; what the card cannot describe."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from upload_pipeline import card, steps, validation
from upload_pipeline.staging import read_shards
from upload_pipeline_tests.conftest import settle
from upload_pipeline_tests.test_validation import put, reasons


def test_schema_drift_int_vs_string_is_rejected_with_the_column(workspace):
    workspace.land("train/a.parquet")
    workspace.land("train/b.parquet")
    t = pq.read_table(workspace.landing / "train/a.parquet")
    drift = t.set_column(0, "id", pa.array([str(i) for i in t["id"].to_pylist()]))
    pq.write_table(drift, workspace.landing / "train/c.parquet")
    settle(workspace.landing / "train/c.parquet")
    got = reasons(workspace)
    assert list(got) == ["train/c.parquet"]
    assert "column 'id' is string here but int64 in the dataset" in got["train/c.parquet"]


def test_drift_between_splits_is_caught_too(workspace):
    workspace.land("train/a.parquet")
    workspace.land("train/b.parquet")
    t = pq.read_table(workspace.landing / "train/a.parquet").drop_columns(["tags"])
    (workspace.landing / "test").mkdir()
    pq.write_table(t, workspace.landing / "test/a.parquet")
    settle(workspace.landing / "test/a.parquet")
    assert "missing column(s) tags" in reasons(workspace)["test/a.parquet"]


def decimal_file(workspace, relpath: str, precision: int, big: str = "2.50") -> None:
    path = workspace.landing / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"price": pa.array([Decimal("1.25"), Decimal(big)], pa.decimal128(precision, 2))}),
                   path)
    settle(path)


def test_decimal_precision_drift_strict_rejects_promote_casts_only_what_fits(workspace):
    decimal_file(workspace, "train/a.parquet", 10)
    decimal_file(workspace, "train/b.parquet", 10)
    decimal_file(workspace, "train/c.parquet", 12)
    decimal_file(workspace, "train/d.parquet", 12, big="1234567890.25")
    got = reasons(workspace)
    assert "decimal128(12, 2) here but decimal128(10, 2)" in got["train/c.parquet"]
    workspace.dataset(schema_policy="promote")
    got = reasons(workspace)
    assert list(got) == ["train/d.parquet"]
    assert "cannot become decimal128(10, 2) without loss" in got["train/d.parquet"]


def test_promote_policy_widens_and_fills_missing_columns(workspace):
    workspace.dataset(schema_policy="promote")
    workspace.land("train/a.parquet", rows=10)
    workspace.land("train/b.parquet", rows=10, seed=1)
    t = pq.read_table(workspace.landing / "train/a.parquet")
    narrow = t.set_column(0, "id", t["id"].cast(pa.int32())).drop_columns(["tags"])
    pq.write_table(narrow, workspace.landing / "train/c.parquet")
    settle(workspace.landing / "train/c.parquet")
    assert reasons(workspace) == {}
    run = steps.shard(workspace.config().datasets[0], workspace.paths())
    table = pq.read_table(workspace.staged / run.written[0].path)
    assert table.num_rows == 30 and table.schema.field("id").type == pa.int64()
    assert table["tags"].to_pylist()[20:] == [None] * 10


def test_a_file_accepted_under_promote_is_checked_again_under_strict(workspace):
    workspace.dataset(schema_policy="promote")
    workspace.land("train/a.parquet", rows=10)
    workspace.land("train/b.parquet", rows=10, seed=1)
    t = pq.read_table(workspace.landing / "train/a.parquet")
    pq.write_table(t.set_column(0, "id", t["id"].cast(pa.int32())), workspace.landing / "train/c.parquet")
    settle(workspace.landing / "train/c.parquet")
    assert reasons(workspace) == {}
    ds, paths = workspace.dataset(schema_policy="strict"), workspace.paths()
    # The shards step on the landed files validated under promote names the file and says what to do.
    with pytest.raises(RuntimeError, match=r"train/c.parquet: does not fit the dataset schema under schema_policy "
                                           r"strict: column 'id' is int32 here.*landed files asset again"):
        steps.shard(ds, paths)
    assert not (workspace.staged / "data").exists()
    assert "column 'id' is int32 here but int64" in reasons(workspace)["train/c.parquet"]
    assert sum(s.rows for s in steps.shard(ds, paths).all_shards) == 20


@pytest.mark.parametrize("policy", ["strict", "promote"])
def test_a_file_with_a_column_name_twice_is_rejected_saying_so(workspace, policy):
    workspace.dataset(schema_policy=policy)
    put(workspace, "train/a.parquet", pa.table({"id": [0, 1], "x": [1, 2]}))
    put(workspace, "train/b.parquet", pa.table({"id": [2, 3], "x": [3, 4]}))
    twice = pa.Table.from_arrays([pa.array([4, 5]), pa.array([5, 6]), pa.array([7, 8])], names=["id", "x", "x"])
    put(workspace, "train/c.parquet", twice)  # as pandas writes a frame with two columns "x"
    assert reasons(workspace) == {"train/c.parquet": "column name(s) x appear more than once"}


def _twice(*types):
    return pa.StructArray.from_arrays([pa.array([1, 2]).cast(t) for t in types], names=["x"] * len(types))


@pytest.mark.parametrize(("column", "values", "path"), [
    ("s", lambda: _twice(pa.int64(), pa.string()), "s"),
    ("meta", lambda: pa.ListArray.from_arrays([0, 1, 2], pa.StructArray.from_arrays(
        [_twice(pa.int64(), pa.int64())], ["in"])), "meta[].in"),
])
def test_a_struct_with_a_field_name_twice_is_rejected_at_any_depth(workspace, column, values, path):
    # `datasets` describes such a struct with one of the two fields and drops the other's values without a word.
    put(workspace, "train/a.parquet", pa.table({column: values()}))
    assert reasons(workspace) == {"train/a.parquet": f"column {path!r} has the field name(s) x more than once"}


MAP = pa.map_(pa.string(), pa.int64())


def test_a_type_the_card_cannot_describe_is_rejected_before_anything_is_staged(workspace, monkeypatch):
    asked = []
    monkeypatch.setattr(validation, "features_problem",
                        lambda schema: asked.append(schema) or card.features_problem(schema))
    workspace.land("train/good.parquet", rows=5)
    for i in range(2):
        put(workspace, f"train/map-{i}.parquet", pa.table({"attrs": pa.array([[("k", i)]], MAP)}))
    put(workspace, "train/nested.parquet", pa.table({"meta": pa.array([{"n": 1, "attrs": [[("k", 1)]]}],
                                                                      pa.struct([("n", pa.int64()),
                                                                                 ("attrs", pa.list_(MAP))]))}))
    got = reasons(workspace)
    assert got == {f"train/map-{i}.parquet": "column 'attrs' is map<string, int64>, which a dataset card's "
                   "features (datasets) cannot describe" for i in range(2)} | {
        "train/nested.parquet": "column 'meta.attrs[]' is map<string, int64>, which a dataset card's features "
                                "(datasets) cannot describe"}
    assert len(asked) == 3  # once per schema, not per file
    ds, paths = workspace.stage()  # the card step does not meet them
    assert sum(s.rows for s in read_shards(ds, paths.staged)) == 5


def test_files_with_rows_decide_the_schema_not_empty_ones(workspace):
    # One file per pandas partition; an empty partition's object column has no type (null).
    empty = pd.DataFrame({"id": pd.Series([], dtype="int64"), "text": pd.Series([], dtype=object)})
    for i in range(2):
        put(workspace, f"train/part-{i}.parquet", pa.Table.from_pandas(empty, preserve_index=False))
    put(workspace, "train/part-2.parquet", pa.table({"id": [1, 2], "text": ["a", "b"]}))
    put(workspace, "test/part-0.parquet", pa.table({"id": pa.array([], pa.int64()), "text": pa.array([], pa.int64())}))
    landing = steps.land(workspace.config().datasets[0], workspace.paths())
    assert [f.status for f in landing.validation.files] == ["empty", "empty", "new"]
    assert [(r.relpath, r.reason) for r in landing.rejected] == [("test/part-0.parquet", (
        "schema differs from the dataset's: column 'text' is int64 here but string in the dataset"))]


def test_a_file_validated_under_another_dataset_schema_is_judged_again(workspace):
    """The validation cache keeps a verdict for one dataset schema. Files landing before anything is staged may
    outvote the schema an earlier file was accepted under: that file is then rejected, not waved through to fail
    the shards step on every run (whose advice, validating again, would hit the same cached verdict)."""
    ds, paths = workspace.config().datasets[0], workspace.paths()
    put(workspace, "train/a.parquet", pa.table({"id": [0, 1]}))
    assert steps.land(ds, paths).rejected == []  # alone, its schema is the dataset's
    put(workspace, "train/b.parquet", pa.table({"id": ["2", "3"]}))
    put(workspace, "train/c.parquet", pa.table({"id": ["4", "5"]}))
    got = reasons(workspace)
    assert list(got) == ["train/a.parquet"] and "column 'id' is int64 here but string" in got["train/a.parquet"]
    assert sum(s.rows for s in steps.shard(ds, paths).all_shards) == 4
