"""Conforming batches to the dataset schema: promote widens only without loss, nullability never counts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from upload_pipeline import steps
from upload_pipeline.parquet_io import (
    SchemaMismatch,
    conform,
    dataset_schema,
    iter_batches,
    iter_conformed,
    strict_difference,
)
from upload_pipeline_tests.conftest import settle


def promoted(values: pa.Array, typ: pa.DataType) -> pa.Array:
    return conform(pa.record_batch({"c": values}), pa.schema([("c", typ)]), "promote").column(0)


def not_null(name: str, typ: pa.DataType) -> pa.Field:
    return pa.field(name, typ, nullable=False)


POINT = pa.struct([("x", pa.int64())])


@pytest.mark.parametrize(("values", "typ", "reason"), [
    (pa.array(["007"]), pa.int64(), "'c' is string here but int64"),
    (pa.array([0.1]), pa.float32(), "'c' is double here but float"),
    (pa.array([0.1], pa.float32()), pa.float16(), "'c' is float here but halffloat"),
    (pa.array([2]), pa.bool_(), "'c' is int64 here but bool"),
    (pa.array([2**53 + 1]), pa.float64(), "'c' is int64 here but double"),
    (pa.array([2**24 + 1], pa.int32()), pa.float32(), "'c' is int32 here but float"),
    (pa.array([200], pa.uint8()), pa.int8(), "'c' is uint8 here but int8"),
    (pa.array([-1], pa.int8()), pa.uint16(), "'c' is int8 here but uint16"),
    (pa.array([Decimal("12345678901234567.89")], pa.decimal128(19, 2)), pa.float64(),
     "'c' is decimal128(19, 2) here but double"),
    (pa.array([1.0000000001]), pa.decimal128(10, 2), "'c' is double here but decimal128(10, 2)"),
    (pa.array([0], pa.timestamp("s")), pa.timestamp("s", tz="UTC"),
     "'c' is timestamp[s] here but timestamp[s, tz=UTC]"),
    (pa.array([0], pa.timestamp("s", tz="UTC")), pa.timestamp("s", tz="Europe/Paris"),
     "'c' is timestamp[s, tz=UTC] here but timestamp[s, tz=Europe/Paris]"),
    (pa.array([0], pa.timestamp("ns")), pa.timestamp("us"), "'c' is timestamp[ns] here but timestamp[us]"),
    (pa.array(["a"], pa.large_string()), pa.string(), "'c' is large_string here but string"),
    (pa.array([{"x": 1, "y": "dropped"}]), POINT, "field(s) y not in the dataset schema"),
    (pa.array([{"y": "a"}]), pa.struct([("x", pa.int64()), ("y", pa.string())]), "missing field(s) x"),
    (pa.array([{"x": "007"}]), POINT, "'c.x' is string here but int64"),
    (pa.array([[0.5]]), pa.list_(pa.float32()), "'c[]' is double here but float"),
    (pa.array([[1]], pa.large_list(pa.int64())), pa.list_(pa.int64()),
     "'c' is large_list<item: int64> here but list<item: int64>"),
    (pa.array([[("k", 2)]], pa.map_(pa.string(), pa.int64())), pa.map_(pa.string(), pa.bool_()),
     "'c.value' is int64 here but bool"),
    (pa.array(["7"]).dictionary_encode(), pa.int64(), "'c' is string here but int64"),
    (pa.array([[("007", 1)]], pa.map_(pa.string(), pa.int64())), pa.map_(pa.int64(), pa.int64()),
     "'c.key' is string here but int64"),
    (pa.array([[1, 2, 3]], pa.list_(pa.int64(), 3)), pa.list_(pa.int64(), 2),
     "'c' is fixed_size_list<item: int64>[3] here but fixed_size_list<item: int64>[2]"),
    (pa.array([dt.time(1, 2, 3)], pa.time64("ns")), pa.time32("s"), "'c' is time64[ns] here but time32[s]"),
    (pa.array([dt.timedelta(seconds=2)], pa.duration("ms")), pa.duration("s"), "'c' is duration[ms] here but"),
])
def test_promote_refuses_what_is_not_a_lossless_widening_naming_the_column_and_types(values, typ, reason):
    with pytest.raises(SchemaMismatch, match="in the dataset") as refused:
        promoted(values, typ)
    assert reason in str(refused.value)


@pytest.mark.parametrize(("values", "typ"), [
    (pa.array([-(2**31), 2**31 - 1], pa.int32()), pa.int64()),
    (pa.array([2**32 - 1], pa.uint32()), pa.uint64()),
    (pa.array([2**32 - 1], pa.uint32()), pa.int64()),
    (pa.array([-(2**31), 2**31 - 1], pa.int32()), pa.float64()),
    (pa.array([2**32 - 1], pa.uint32()), pa.float64()),
    (pa.array([-(2**15), 2**15 - 1], pa.int16()), pa.float32()),
    (pa.array([-128, 127], pa.int8()), pa.float16()),
    (pa.array([0.1], pa.float32()), pa.float64()),
    (pa.array([0.1], pa.float16()), pa.float32()),
    (pa.array([Decimal("-12345678.90")], pa.decimal128(10, 2)), pa.decimal128(14, 4)),
    (pa.array([Decimal("1.25")], pa.decimal128(10, 2)), pa.decimal256(40, 2)),
    (pa.array([dt.datetime(2024, 1, 2, 3, 4, 5)], pa.timestamp("s")), pa.timestamp("ns")),
    (pa.array([dt.datetime(2024, 1, 2, tzinfo=dt.UTC)], pa.timestamp("ms", tz="UTC")), pa.timestamp("us", tz="UTC")),
    (pa.array([dt.date(2024, 1, 2)], pa.date32()), pa.date64()),
    (pa.array([dt.time(1, 2, 3)], pa.time32("s")), pa.time64("ns")),
    (pa.array(["a"]), pa.large_string()),
    (pa.array([b"a"]), pa.large_binary()),
    (pa.nulls(2), pa.string()),
    (pa.nulls(2), POINT),
    (pa.array([[1, None]], pa.list_(pa.int32())), pa.large_list(pa.int64())),
    (pa.array([[1, 2]], pa.list_(pa.int32(), 2)), pa.list_(pa.int64())),
    (pa.array([{"y": "a", "x": 1}]), pa.struct([("x", pa.int64()), ("y", pa.large_string())])),
    (pa.array([{"x": 1}], pa.struct([("x", pa.int32())])), POINT),
    (pa.array([[("k", 2)]], pa.map_(pa.string(), pa.int32())), pa.map_(pa.large_string(), pa.int64())),
    (pa.array(["a", "b", "a"]).dictionary_encode(), pa.string()),
])
def test_promote_casts_a_lossless_widening_with_every_value_kept(values, typ):
    got = promoted(values, typ)
    assert got.type == typ
    assert got.to_pylist() == values.to_pylist()


def test_a_column_not_in_the_dataset_schema_is_refused_not_dropped():
    batch = pa.record_batch({"c": [1], "extra": ["kept nowhere"]})
    with pytest.raises(SchemaMismatch, match=r"column\(s\) extra not in the dataset schema"):
        conform(batch, pa.schema([("c", pa.int64())]), "promote")


def test_strict_refuses_the_same_columns_in_another_order():
    batch = pa.record_batch({"b": [1], "a": [2]})
    reference = pa.schema([("a", pa.int64()), ("b", pa.int64())])
    assert strict_difference(batch.schema, reference) == (
        "columns are in a different order than in the dataset: b, a")
    with pytest.raises(SchemaMismatch, match="different order"):
        conform(batch, reference, "strict")
    assert conform(batch, reference, "promote").to_pylist() == [{"a": 2, "b": 1}]


def test_promote_still_refuses_a_value_that_does_not_fit():
    with pytest.raises(SchemaMismatch, match="cannot become decimal128"):
        promoted(pa.array([Decimal("1.234")], pa.decimal128(10, 3)), pa.decimal128(10, 2))
    with pytest.raises(SchemaMismatch, match=r"cannot become timestamp\[ns\] without loss"):
        promoted(pa.array([10**12], pa.timestamp("s")), pa.timestamp("ns"))


def test_a_decimal_that_fits_is_promoted_to_a_narrower_precision():
    assert promoted(pa.array([Decimal("2.50")], pa.decimal128(12, 2)), pa.decimal128(10, 2)).to_pylist() == [
        Decimal("2.50")]


NESTED_NOT_NULL = pa.schema([
    not_null("point", pa.struct([not_null("x", pa.int64())])),
    pa.field("tags", pa.list_(not_null("item", pa.string()))),
    pa.field("long", pa.large_list(not_null("item", pa.int64()))),
    pa.field("pair", pa.list_(not_null("item", pa.int64()), 2)),
    pa.field("attrs", pa.map_(pa.string(), not_null("value", pa.struct([not_null("y", pa.int64())])))),
])
NESTED_NULLABLE = pa.schema([
    ("point", POINT),
    ("tags", pa.list_(pa.string())),
    ("long", pa.large_list(pa.int64())),
    ("pair", pa.list_(pa.int64(), 2)),
    ("attrs", pa.map_(pa.string(), pa.struct([("y", pa.int64())]))),
])


def test_dataset_schema_makes_every_nested_field_nullable():
    # Type equality compares nested nullability; a map's keys stay NOT NULL, as Arrow requires.
    assert dataset_schema(NESTED_NOT_NULL) == NESTED_NULLABLE


def test_strict_ignores_nullability_at_every_nesting_level(tmp_path):
    assert strict_difference(NESTED_NOT_NULL, NESTED_NULLABLE) is None
    row = {"point": {"x": 1}, "tags": ["a"], "long": [2], "pair": [3, 4], "attrs": [("k", {"y": 5})]}
    nullable, not_nullable = tmp_path / "nullable.parquet", tmp_path / "not-null.parquet"
    pq.write_table(pa.Table.from_pylist([row], schema=NESTED_NULLABLE), nullable)
    pq.write_table(pa.Table.from_pylist([row], schema=NESTED_NOT_NULL), not_nullable)
    # Through parquet, as the pipeline reads them (lists come back with `element` items).
    reference = dataset_schema(pq.read_schema(nullable))
    assert strict_difference(pq.read_schema(not_nullable), reference) is None
    for policy in ("strict", "promote"):
        batches = list(iter_conformed(not_nullable, reference, policy))
        assert batches[0].schema == reference
        assert batches[0].to_pylist() == [row]


def test_strict_takes_lists_whose_values_are_named_item_or_element_as_the_same(tmp_path):
    """Parquet's standard list layout reads back as `element` (pyarrow ≥ 13, Spark); older pyarrow's as `item`."""
    old, new = tmp_path / "old.parquet", tmp_path / "new.parquet"
    table = pa.table({"tags": pa.array([["a"], ["b", "c"]], pa.list_(pa.string()))})
    pq.write_table(table, old, use_compliant_nested_type=False)
    pq.write_table(table, new)
    reference = dataset_schema(pq.read_schema(new))
    assert str(pq.read_schema(old).field("tags").type) == "list<item: string>"
    assert strict_difference(pq.read_schema(old), reference) is None
    assert pa.Table.from_batches(list(iter_conformed(old, reference, "strict"))).equals(
        pa.Table.from_batches(list(iter_conformed(new, reference, "strict"))))


def categories(n: int, nested: bool = False) -> pa.RecordBatch:
    """A pandas categorical as pyarrow reads it back: int8 indices up to 127 categories, int16 above."""
    index = pa.int8() if n <= 127 else pa.int16()
    values = pa.DictionaryArray.from_arrays(pa.array(range(n), index), pa.array([f"v{i}" for i in range(n)]))
    if nested:
        values = pa.ListArray.from_arrays(pa.array(range(n + 1), pa.int32()), values)
    return pa.record_batch({"c": values})


@pytest.mark.parametrize("nested", [False, True])
def test_a_dictionary_column_is_compared_and_staged_as_its_values_whatever_its_index_width(nested):
    reference = dataset_schema(categories(2, nested).schema)
    assert reference == pa.schema([("c", pa.list_(pa.field("element", pa.string())) if nested else pa.string())])
    wide = categories(300, nested)
    assert strict_difference(wide.schema, reference) is None
    for policy in ("strict", "promote"):
        got = conform(wide, reference, policy)
        assert got.schema == reference
        assert got.to_pylist() == wide.to_pylist()


def test_read_batches_hold_about_4_mb_of_wide_rows_and_at_most_65536_narrow_ones(tmp_path):
    narrow, wide = tmp_path / "narrow.parquet", tmp_path / "wide.parquet"
    pq.write_table(pa.table({"id": pa.array(range(200_000), pa.int64())}), narrow)
    pq.write_table(pa.table({"text": ["x" * 100_000] * 100}), wide, use_dictionary=False)  # 100 KB a row
    assert [b.num_rows for b in iter_batches(narrow)] == [65_536, 65_536, 65_536, 3_392]
    assert {b.num_rows for b in list(iter_batches(wide))[:-1]} == {41}


def test_a_page_failing_its_crc_is_refused_not_read_as_other_values(workspace):
    path = workspace.landing / "train/a.parquet"
    path.parent.mkdir(parents=True)
    # Page CRCs, as Spark writes by default; plain and uncompressed, so one flipped bit is one other value.
    pq.write_table(pa.table({"id": pa.array(range(1000), pa.int64())}), path, compression="none",
                   use_dictionary=False, write_page_checksum=True)
    raw = bytearray(path.read_bytes())
    raw[4 + 100] ^= 0x01  # a bit of the first data page (a disk or transfer error)
    path.write_bytes(bytes(raw))
    settle(path)
    with pytest.raises(OSError, match="CRC checksum verification failed"):
        list(iter_batches(path))
    rejected = steps.land(workspace.config().datasets[0], workspace.paths()).rejected
    assert [r.relpath for r in rejected] == ["train/a.parquet"]
    assert "corrupt parquet data" in rejected[0].reason and "CRC checksum verification failed" in rejected[0].reason
