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
    """The schema shards are written with: no writer metadata (pandas', Spark's), every field nullable, a list's
    values named `element`, and a dictionary (a pandas categorical) as its plain values.

    At every nesting level, not only the top one: a writer's NOT NULL inside a struct or list says nothing about
    the values, and keeping it would set files with the same data apart. So would the name of a list's values:
    parquet's standard layout (pyarrow ≥ 13, Spark) reads back as `element`, older pyarrow's as `item`. And so
    would a dictionary's index width: pandas picks int8 or int16 by the number of categories in each file, while
    the parquet bytes are the same strings (which the shard writer dictionary-encodes again where values repeat).
    """
    return pa.schema([_loose(f) for f in schema])


def _loose(field: pa.Field) -> pa.Field:
    return pa.field(field.name, _loose_type(field.type))


def _loose_type(typ: pa.DataType) -> pa.DataType:
    if pa.types.is_dictionary(typ):
        return _loose_type(typ.value_type)
    if pa.types.is_struct(typ):
        return pa.struct([_loose(f) for f in typ.fields])
    if pa.types.is_map(typ):
        # Arrow map keys are never null, so only their types are loosened.
        return pa.map_(_loose_type(typ.key_type), _loose(typ.item_field), typ.keys_sorted)
    if pa.types.is_large_list(typ):
        return pa.large_list(_element(typ.value_field))
    if pa.types.is_fixed_size_list(typ):
        return pa.list_(_element(typ.value_field), typ.list_size)
    if pa.types.is_list(typ):
        return pa.list_(_element(typ.value_field))
    return typ


def _element(field: pa.Field) -> pa.Field:
    return pa.field("element", _loose_type(field.type))


def describe(schema: pa.Schema) -> list[tuple[str, str]]:
    """Names and types as compared between files: through dataset_schema, so nullability and metadata do not count."""
    return [(f.name, str(f.type)) for f in dataset_schema(schema)]


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
    have, want = describe(file_schema), describe(reference)
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


# Significand bits of a float of each width: an integer of at most that many magnitude bits converts exactly.
_SIGNIFICAND_BITS = {16: 11, 32: 24, 64: 53}
_UNITS = ["s", "ms", "us", "ns"]
_WIDER = {(pa.string(), pa.large_string()), (pa.binary(), pa.large_binary()), (pa.date32(), pa.date64())}


def widening_problem(have: pa.DataType, want: pa.DataType, path: str) -> str | None:
    """Why `promote` refuses to turn column `path` of type `have` into `want`, or None when it may.

    Decided on the two types, child by child for nested ones, because pyarrow's safe cast only catches overflow
    and truncation: it turns "007" into 7, 2 into True, 0.1 into a float32, naive times into UTC and drops struct
    fields. Only a decimal → decimal (any precision and scale, as the README promises "a decimal that fits") and
    a time in a finer unit (which may overflow) are left to the cast, which refuses any value it cannot keep.
    """
    types = pa.types
    if have == want or types.is_null(have):
        return None
    if types.is_dictionary(have) or types.is_dictionary(want):
        # Dictionary encoding is how values are stored, not what they are: compare the values.
        return widening_problem(_values(have), _values(want), path)
    if types.is_struct(have) and types.is_struct(want):
        fields, wanted = {f.name: f.type for f in have.fields}, {f.name: f.type for f in want.fields}
        extra, missing = [n for n in fields if n not in wanted], [n for n in wanted if n not in fields]
        if extra or missing:
            why = (f"field(s) {', '.join(extra)} not in the dataset schema" if extra
                   else f"missing field(s) {', '.join(missing)}")
            return f"column {path!r} is {have} here but {want} in the dataset: {why}"
        for name, typ in wanted.items():
            reason = widening_problem(fields[name], typ, f"{path}.{name}")
            if reason:
                return reason
        return None
    if _list_fits(have, want):
        return widening_problem(have.value_type, want.value_type, f"{path}[]")
    if types.is_map(have) and types.is_map(want):
        return (widening_problem(have.key_type, want.key_type, f"{path}.key")
                or widening_problem(have.item_type, want.item_type, f"{path}.value"))
    if _widens(have, want):
        return None
    return f"column {path!r} is {have} here but {want} in the dataset, and promote only widens without loss"


def _values(typ: pa.DataType) -> pa.DataType:
    return typ.value_type if pa.types.is_dictionary(typ) else typ


def _list_fits(have: pa.DataType, want: pa.DataType) -> bool:
    """Whether lists of `have`'s kind fit `want`'s (values aside): fixed size → list → large_list, never back."""
    kinds = [pa.types.is_fixed_size_list, pa.types.is_list, pa.types.is_large_list]
    low = next((i for i, is_kind in enumerate(kinds) if is_kind(have)), None)
    high = next((i for i, is_kind in enumerate(kinds) if is_kind(want)), None)
    if low is None or high is None or low > high:
        return False
    # Two fixed-size lists hold the same values only when they have the same size.
    return low > 0 or high > 0 or have.list_size == want.list_size


def _widens(have: pa.DataType, want: pa.DataType) -> bool:
    """Whether every value of the scalar type `have` is also a value of `want`."""
    types = pa.types
    if types.is_integer(have) and types.is_integer(want):
        # A signed value may be negative; an unsigned one needs a wider signed type for its top bit.
        return have.bit_width < want.bit_width and not (types.is_signed_integer(have)
                                                         and types.is_unsigned_integer(want))
    if types.is_integer(have) and types.is_floating(want):
        return have.bit_width - types.is_signed_integer(have) <= _SIGNIFICAND_BITS[want.bit_width]
    if types.is_floating(have) and types.is_floating(want):
        return have.bit_width < want.bit_width
    if types.is_decimal(have) and types.is_decimal(want):
        return True
    if types.is_timestamp(have) and types.is_timestamp(want):
        # A naive time is not a UTC one, nor is one timezone another: only the unit may change.
        return have.tz == want.tz and _UNITS.index(have.unit) <= _UNITS.index(want.unit)
    if (types.is_duration(have) and types.is_duration(want)) or (types.is_time(have) and types.is_time(want)):
        return _UNITS.index(have.unit) <= _UNITS.index(want.unit)
    return (have, want) in _WIDER


def conform(batch: pa.RecordBatch, reference: pa.Schema, policy: str) -> pa.RecordBatch:
    """Return `batch` with exactly the reference schema.

    strict: names, order and types must already match (nullability aside).
    promote: columns may come in any order, missing columns become nulls, and a type may differ when it widens
    without loss (see `widening_problem`); anything else, and a value that does not fit (a decimal over the
    dataset's precision, a timestamp out of range in a finer unit), is refused with the column named.
    """
    if policy == "strict":
        reason = strict_difference(batch.schema, reference)
        if reason:
            raise SchemaMismatch(reason)
        if not batch.schema.equals(reference, check_metadata=False):
            # The same data under other nested nullability, list value names or as a dictionary: the arrays take
            # the reference's types too, so every batch a shard writer gets has exactly its schema.
            batch = batch.cast(reference)
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
        reason = widening_problem(column.type, ref_field.type, ref_field.name)
        if reason:
            raise SchemaMismatch(reason)
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
    # Page checksums are verified where the writer wrote them (Spark does by default): otherwise a flipped bit in a
    # plain page decodes fine and is published as another value.
    with pq.ParquetFile(path, pre_buffer=False, page_checksum_verification=True) as pf:
        yield from pf.iter_batches(batch_size=batch_rows(pf), use_threads=False)


def iter_conformed(path: Path, reference: pa.Schema, policy: str) -> Iterator[pa.RecordBatch]:
    """Yield the file's rows in order as batches with the reference schema."""
    for batch in iter_batches(path):
        yield conform(batch, reference, policy)
