"""Streaming parquet reads conformed to one dataset schema, shared by validation and sharding.

Every landed file is read a record batch at a time, never whole, so memory stays bounded by the batch and
row-group sizes whatever the size of the input.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

# Aim for batches of about this many Arrow bytes; the row count follows from the file's own statistics.
_TARGET_BATCH_BYTES = 4 * 1024 * 1024
_MAX_BATCH_ROWS = 65_536


class SchemaMismatch(ValueError):
    """A file's columns do not fit the dataset's schema; the message says which column and why."""


def dataset_schema(schema: pa.Schema) -> pa.Schema:
    """The schema shards are written with: no writer metadata (pandas', Spark's), every column nullable."""
    return pa.schema([f.with_nullable(True).remove_metadata() for f in schema])


def describe(schema: pa.Schema) -> list[tuple[str, str]]:
    return [(f.name, str(f.type)) for f in schema]


def batch_rows(pf: pq.ParquetFile) -> int:
    """Rows per read batch: about 4 MB of Arrow data, at least 1 row, so wide rows stay bounded too."""
    meta = pf.metadata
    if meta.num_rows == 0 or meta.num_row_groups == 0:
        return 1024
    total = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    per_row = max(1, total // meta.num_rows)
    return int(max(1, min(_MAX_BATCH_ROWS, _TARGET_BATCH_BYTES // per_row)))


def strict_difference(file_schema: pa.Schema, reference: pa.Schema) -> str | None:
    """Why `file_schema` is not the same schema as `reference` (names, order and types), or None."""
    have, want = describe(dataset_schema(file_schema)), describe(reference)
    if have == want:
        return None
    have_d, want_d = dict(have), dict(want)
    missing = [n for n in want_d if n not in have_d]
    extra = [n for n in have_d if n not in want_d]
    if missing:
        return f"missing column(s) {', '.join(missing)}"
    if extra:
        return f"column(s) {', '.join(extra)} not in the dataset schema"
    for name, typ in have:
        if want_d[name] != typ:
            return f"column {name!r} is {typ} here but {want_d[name]} in the dataset"
    return "columns are in a different order than in the dataset: " + ", ".join(n for n, _ in have)


def conform(batch: pa.RecordBatch, reference: pa.Schema, policy: str) -> pa.RecordBatch:
    """Return `batch` with exactly the reference schema.

    strict: names, order and types must already match (nullability aside).
    promote: columns may come in any order, missing columns become nulls, and a type may differ when every
    value converts without loss (int32 → int64, null → string, timestamp[ms] → timestamp[us]); a cast that would
    lose data (overflow, string → int, decimal precision drop) is refused with the column named.
    """
    if policy == "strict":
        reason = strict_difference(batch.schema, reference)
        if reason:
            raise SchemaMismatch(reason)
        return pa.RecordBatch.from_arrays(batch.columns, schema=reference)
    columns = []
    names = batch.schema.names
    extra = [n for n in names if reference.get_field_index(n) < 0]
    if extra:
        raise SchemaMismatch(f"column(s) {', '.join(extra)} not in the dataset schema")
    for ref_field in reference:
        if ref_field.name not in names:
            columns.append(pa.nulls(batch.num_rows, ref_field.type))
            continue
        column = batch.column(ref_field.name)
        try:
            columns.append(column.cast(ref_field.type, safe=True))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise SchemaMismatch(f"column {ref_field.name!r} is {column.type} here and cannot become "
                                 f"{ref_field.type} without loss: {exc}") from None
    return pa.RecordBatch.from_arrays(columns, schema=reference)


def iter_batches(path: Path) -> Iterator[pa.RecordBatch]:
    """Yield the file's rows in order, a bounded batch at a time, as the file has them."""
    # pre_buffer=False: pyarrow's default coalesces the reads of every row group of the file up front, so memory
    # grew with the file size (the whole compressed file was held); without it one column chunk is read at a time.
    with pq.ParquetFile(path, pre_buffer=False) as pf:
        yield from pf.iter_batches(batch_size=batch_rows(pf), use_threads=False)


def iter_conformed(path: Path, reference: pa.Schema, policy: str) -> Iterator[pa.RecordBatch]:
    """Yield the file's rows in order as batches with the reference schema."""
    for batch in iter_batches(path):
        yield conform(batch, reference, policy)
