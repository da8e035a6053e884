"""Validation of discovered files: readable parquet, one schema per dataset config, row counts, content hash.

The schema is checked across every split, not only within one: a config's card declares one `features` list,
and `datasets.load_dataset` casts every file to it, so drift between splits breaks loading just as drift
inside a split does (dataset-viewer#2625, #3173).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from upload_pipeline.card import features_problem
from upload_pipeline.config import DatasetConfig
from upload_pipeline.hashing import sha256_file
from upload_pipeline.landing import Discovery, LandedFile, Rejection
from upload_pipeline.parquet_io import SchemaMismatch, dataset_schema, describe, iter_conformed, strict_difference

_MAGIC = b"PAR1"
_WORKERS = 2  # the machines this runs on have 2 cores; more would only add memory
_T = TypeVar("_T")


class BadFile(Exception):
    """A landed file that cannot be published; the message is the reason."""


@dataclass
class FileRecord:
    relpath: str
    split: str
    sha256: str
    rows: int
    size: int
    mtime_ns: int
    # "new" (to shard), "published" (already in a shard), "duplicate" (same bytes as another file),
    # "empty" (valid parquet with no rows: nothing to publish), "withdrawn" (deleted by the delete job)
    status: str
    duplicate_of: str | None = None
    arrow_bytes: int = 0  # of its rows decoded, what the card counts for a file copied as it is

    def check_unchanged(self, path: Path) -> None:
        """Raise if the file at `path` is not the one validated (size and mtime, as the validation cache keys)."""
        stat = path.stat()
        if (stat.st_size, stat.st_mtime_ns) != (self.size, self.mtime_ns):
            raise RuntimeError(f"{self.relpath}: changed since it was validated; materialize the landed files "
                               "asset again before the shards")


@dataclass
class Validation:
    files: list[FileRecord] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    schema: pa.Schema | None = None

    def new_files(self) -> list[FileRecord]:
        return [f for f in self.files if f.status == "new"]


def schema_fingerprint(schema: pa.Schema | None) -> str:
    return hashlib.sha256(repr(describe(schema)).encode()).hexdigest()[:16] if schema is not None else ""


def validate(ds: DatasetConfig, found: Discovery, *, reference: pa.Schema | None, published: set[str],
             known_paths: dict[str, str], cache: dict[str, dict], withdrawn: set[str] = frozenset()) -> Validation:
    """Check every discovered file and decide what is new.

    Args:
        reference: the schema of the shards already written, or None for a dataset with no shards yet (then the
            schema most files share is the dataset's, ties going to the first file).
        published: content hashes already in shards (renamed or copied files are recognised by these).
        known_paths: relpath → sha256 of files already published under that name.
        cache: relpath → earlier result for the same size, mtime, schema and schema_policy; updated in place.
        withdrawn: content hashes whose rows were deleted from the repo on purpose (the delete job).
    """
    result = Validation(rejected=list(found.rejected))
    readable: list[tuple[LandedFile, pa.Schema, int]] = []
    # Why `datasets` cannot describe a schema, by `describe`, so each is asked once. The staged shards' schema has
    # its card already: a run whose files all have it does not even import `datasets`.
    unfit: dict[str, str | None] = {} if reference is None else {repr(describe(reference)): None}
    for landed in found.files:
        footer = _per_file(_footer, landed.path, ds, unfit)
        if isinstance(footer, BadFile):
            result.rejected.append(Rejection(landed.relpath, str(footer)))
        else:
            readable.append((landed, *footer))
    # A file with no rows has no say: an empty pandas partition's object columns are typed null, and would
    # otherwise outvote the files that hold the rows.
    voters = [s for _, s, rows in readable if rows] or [s for _, s, _ in readable]
    result.schema = reference if reference is not None else _majority_schema(voters)
    fingerprint = schema_fingerprint(result.schema)
    first_by_hash: dict[str, str] = {}

    def check(item: tuple[LandedFile, pa.Schema, int]) -> tuple[str, int, int] | BadFile:
        return _per_file(_checked, *item, result.schema, ds.schema_policy, fingerprint, cache)

    # Two files at a time: decoding and hashing release the GIL, so both cores work (each file's result is
    # the same either way, and they are used below in path order).
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        outcomes = list(pool.map(check, readable))
    for (landed, _, _), outcome in zip(readable, outcomes, strict=True):
        if isinstance(outcome, BadFile):
            result.rejected.append(Rejection(landed.relpath, str(outcome)))
            continue
        sha, rows, arrow_bytes = outcome
        earlier = known_paths.get(landed.relpath)
        if earlier is not None and earlier != sha and sha not in published:
            result.rejected.append(Rejection(landed.relpath, (
                "content changed after it was published; shards are append-only, so land the new rows as a "
                "new file (the published rows stay as they are)")))
            continue
        record = FileRecord(landed.relpath, landed.split, sha, rows, landed.size, landed.mtime_ns, "new",
                            arrow_bytes=arrow_bytes)
        if rows == 0:
            record.status = "empty"
        elif sha in withdrawn:
            record.status = "withdrawn"
        elif sha in published:
            record.status = "published"
        elif sha in first_by_hash:
            record.status, record.duplicate_of = "duplicate", first_by_hash[sha]
        else:
            first_by_hash[sha] = landed.relpath
        result.files.append(record)
    result.rejected.sort(key=lambda r: r.relpath)
    return result


def _per_file(check: Callable[..., _T], *args) -> _T | BadFile:
    """`check(*args)`, or why the file it reads is bad: whatever reading one file raises is that file's problem
    (a name pyarrow cannot encode, a footer pyarrow chokes on), so it is rejected and the others still validated.
    Running out of memory is the machine's, and stops the step."""
    try:
        return check(*args)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - see above
        return _bad(exc)


def _bad(exc: Exception) -> BadFile:
    """The reason for a file's rejection: one that vanished or became unreadable since it was discovered (an
    OSError) says so, anything else unforeseen is named by its type (its message alone may be a bare key)."""
    if isinstance(exc, BadFile):
        return exc
    if isinstance(exc, OSError):
        return BadFile(f"cannot read: {exc.strerror or exc}")
    return BadFile(f"cannot read: {type(exc).__name__}: {exc}")


def _footer(path: Path, ds: DatasetConfig, unfit: dict[str, str | None]) -> tuple[pa.Schema, int]:
    """The file's schema and row count, after the structural checks that need only the first and last bytes and
    the footer."""
    size = path.stat().st_size
    if size == 0:
        raise BadFile("empty file (0 bytes)")
    with path.open("rb") as f:
        head = f.read(4)
        f.seek(max(0, size - 4))
        tail = f.read(4)
    if head != _MAGIC:
        raise BadFile("not a parquet file (it does not start with the PAR1 magic bytes)")
    if tail != _MAGIC or size < 12:
        raise BadFile("truncated parquet file (no footer at the end): cut short, or still being written")
    try:
        with pq.ParquetFile(path) as pf:
            meta = pf.metadata
            schema = pf.schema_arrow
    except (pa.ArrowException, OSError) as exc:
        raise BadFile(f"corrupt parquet footer: {exc}") from None
    for i in range(meta.num_row_groups):
        size_i = meta.row_group(i).total_byte_size
        if size_i > ds.max_input_row_group_bytes:
            raise BadFile(f"row group {i} holds {size_i} bytes uncompressed, over max_input_row_group_bytes="
                          f"{ds.max_input_row_group_bytes}; rewrite it with smaller row groups")
    # pandas writes such files; a column is looked up by name, so which of them is meant cannot be told.
    twice = [name for name, n in Counter(schema.names).items() if n > 1]
    if twice:
        raise BadFile(f"column name(s) {', '.join(twice)} appear more than once")
    key = repr(describe(schema))
    if key not in unfit:
        unfit[key] = features_problem(dataset_schema(schema))
    if unfit[key]:
        raise BadFile(unfit[key])
    return schema, meta.num_rows


def _majority_schema(schemas: list[pa.Schema]) -> pa.Schema | None:
    if not schemas:
        return None
    normalised = [dataset_schema(s) for s in schemas]
    counts = Counter(repr(describe(s)) for s in normalised)
    best = max(counts.values())
    return next(s for s in normalised if counts[repr(describe(s))] == best)


def _checked(landed: LandedFile, schema: pa.Schema, footer_rows: int, reference: pa.Schema, policy: str,
             fingerprint: str, cache: dict[str, dict]) -> tuple[str, int, int]:
    """Decode every row once (corrupt pages show here, not halfway through a shard) and hash the bytes."""
    hit = cache.get(landed.relpath)
    # The verdict depends on the file, the dataset's schema and the policy: a file `promote` accepted may not pass
    # `strict`. An entry without policy or arrow_bytes is from before they were recorded: the file is read again.
    key = (landed.size, landed.mtime_ns, fingerprint, policy)
    if hit and (hit["size"], hit["mtime_ns"], hit["schema"], hit.get("policy")) == key and "arrow_bytes" in hit:
        return hit["sha256"], hit["rows"], hit["arrow_bytes"]
    if policy == "strict":
        compared = schema if footer_rows else _typed_as(schema, reference)
        if reason := strict_difference(compared, reference):
            raise BadFile(f"schema differs from the dataset's: {reason}")
    rows = arrow_bytes = 0
    try:
        for batch in iter_conformed(landed.path, reference, policy):
            rows += batch.num_rows
            arrow_bytes += batch.nbytes
    except SchemaMismatch as exc:
        raise BadFile(f"schema differs from the dataset's: {exc}") from None
    except (FileNotFoundError, PermissionError):
        raise  # gone or unreadable since its footer was read, not corrupt: `_bad` says so
    except (pa.ArrowException, OSError) as exc:
        raise BadFile(f"corrupt parquet data: {exc}") from None
    sha = sha256_file(landed.path)
    if landed.path.stat().st_mtime_ns != landed.mtime_ns:
        raise BadFile("the file changed while it was being validated; it will be read again on the next run")
    cache[landed.relpath] = {"size": landed.size, "mtime_ns": landed.mtime_ns, "schema": fingerprint,
                             "policy": policy, "sha256": sha, "rows": rows, "arrow_bytes": arrow_bytes}
    return sha, rows, arrow_bytes


def _typed_as(schema: pa.Schema, reference: pa.Schema) -> pa.Schema:
    """The schema of a file with no rows, its null-typed columns taking the dataset's type: pandas types an empty
    object column null, and no value of it contradicts the dataset's."""
    return pa.schema([reference.field(f.name) if pa.types.is_null(f.type) and f.name in reference.names else f
                      for f in schema])
