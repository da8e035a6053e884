"""Landed files staged as shards byte for byte (`copy_fitting_files`), when they already are what a shard would be.

Decoding and re-encoding is most of a publish's CPU. A landed file written with the dataset's codec, row groups
within the dataset's limits and the dataset's schema gains little from that rewrite, so with `copy_fitting_files`
it is copied instead, one shard per such file. Its footer cannot carry our record of sources (adding it would be a
rewrite), and needs none: a copied shard has the landed file's bytes, so its content hash is its source. Its Arrow
size (the card's `num_bytes`) is kept in `<data_dir>/.copied.json`, a hidden file of the staged tree (never
uploaded) that the same journal moves in with the shard; if that record is lost, it is measured from the shard.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath

import pyarrow as pa
import pyarrow.parquet as pq

from upload_pipeline.config import DatasetConfig
from upload_pipeline.hashing import sha256_file
from upload_pipeline.parquet_io import iter_batches
from upload_pipeline.state import read_json, write_json_atomic

RECORD = ".copied.json"
# The key of the record of sources in the footers of the shards we write (see `staging.read_shards`), kept here
# rather than in staging, which builds on this module, because `misfit` refuses landed files carrying it.
FOOTER_KEY = b"upload_pipeline"
# pyarrow's names for a codec in a file's metadata (lz4 is written as LZ4_RAW by newer writers).
_CODECS = {"none": {"UNCOMPRESSED"}, "lz4": {"LZ4", "LZ4_RAW"}}


def misfit(path: Path, ds: DatasetConfig, schema: pa.Schema) -> str | None:
    """Why the landed file at `path` cannot be staged as it is, or None when it can (footer only, no data read)."""
    if path.stat().st_size > ds.shard_size:
        return f"larger than shard_size ({ds.shard_size} bytes)"
    landed = pq.read_schema(path)
    # Arrow's own type equality, stricter than `strict`: a nested NOT NULL, which a copy would keep, counts.
    if landed.names != schema.names or [f.type for f in landed] != [f.type for f in schema]:
        return "its columns differ from the dataset schema (they are cast when rewritten)"
    meta = pq.read_metadata(path)
    if FOOTER_KEY in (meta.metadata or {}):
        # A copy would keep that footer, and its record of another shard's sources would stand for this file's.
        return "it is a shard written by upload_pipeline (its footer lists the sources of that shard)"
    codecs = _CODECS.get(ds.compression, {ds.compression.upper()})
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        if group.num_rows == 0:  # `datasets` sizes its reads by the first row group: an empty one fails a load
            return f"row group {i} has no rows"
        if group.num_rows > ds.row_group_rows:
            return f"row group {i} has {group.num_rows} rows, over row_group_rows ({ds.row_group_rows})"
        if group.total_byte_size > ds.row_group_bytes:
            return (f"row group {i} has {group.total_byte_size} bytes uncompressed, over row_group_bytes "
                    f"({ds.row_group_bytes})")
        odd = {group.column(c).compression for c in range(group.num_columns)} - codecs
        if odd:
            return f"row group {i} is compressed with {', '.join(sorted(odd))}, not {ds.compression}"
    return None


def copy_file(src: Path, dst: Path) -> None:
    """Copy `src` to `dst` (the kernel's copy where it has one) and make it durable before it is journalled."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    with dst.open("rb") as f:
        os.fsync(f.fileno())


def read_records(folder: Path) -> dict[str, dict]:
    """Shard file name → {"size", "sha256", "arrow_bytes"} of the copied shards in `folder`."""
    return read_json(folder / RECORD, {})


def stage_records(staged_root: Path, scratch: Path, data_dir: str, added: dict[str, dict],
                  removed: list[str]) -> list[str]:
    """Write the staged record with `added` and without the shards `removed` (paths) into `scratch`, for the journal
    that moves the shards in or deletes them; the journal moves to add (none when the record does not change)."""
    records = read_records(staged_root / data_dir)
    names = {PurePosixPath(p).name for p in removed}
    if not added and not names & records.keys():
        return []
    records = {k: v for k, v in records.items() if k not in names} | added
    (scratch / data_dir).mkdir(parents=True, exist_ok=True)
    write_json_atomic(scratch / data_dir / RECORD, records)
    return [f"{data_dir}/{RECORD}"]


def is_recorded(path: Path, record: dict | None) -> bool:
    """Whether `record` (from `read_records`) is that of the shard at `path` as it is now."""
    return record is not None and record["size"] == path.stat().st_size


def copied_shard_facts(path: Path, record: dict | None) -> tuple[str, int]:
    """(sha256, Arrow bytes) of a shard without our footer record: from its record, else measured from the file."""
    if is_recorded(path, record):
        return record["sha256"], record["arrow_bytes"]
    return sha256_file(path), sum(batch.nbytes for batch in iter_batches(path))
