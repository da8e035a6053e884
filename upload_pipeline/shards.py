"""Append-only, byte-deterministic parquet shards, written with bounded memory.

A run writes the new landed files of each split into new shards after the existing ones, under
`state/<dataset>/pending/`, and moves them into the staged tree through a journal (see `journal`). So a landed
file is in the staged tree entirely or not at all, and the footers of the staged shards are an exact record
of what has been published. With `copy_fitting_files`, a landed file that already fits is copied as its own
shard instead of rewritten (see `copying`).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path, PurePosixPath

import pyarrow as pa
import pyarrow.parquet as pq

from upload_pipeline import copying, journal
from upload_pipeline.config import DatasetConfig
from upload_pipeline.encoding import dictionary_columns
from upload_pipeline.hashing import HashingWriter
from upload_pipeline.parquet_io import SchemaMismatch, iter_conformed
from upload_pipeline.readahead import readahead
from upload_pipeline.staging import FOOTER_KEY, Shard, data_dir, read_shards, shard_path
from upload_pipeline.validation import FileRecord


@dataclass
class ShardRun:
    written: list[Shard]
    all_shards: list[Shard]
    hashes: dict[str, str] = field(default_factory=dict)  # sha256 of each written shard, hashed as it was written
    copied: list[str] = field(default_factory=list)  # written shards that are landed files copied as they are
    # copy_fitting_files: landed file → why it was rewritten instead of copied
    not_copied: dict[str, str] = field(default_factory=dict)


def write_shards(ds: DatasetConfig, landing_root: Path, new_files: list[FileRecord], schema: pa.Schema,
                 staged_root: Path, pending: Path, withdrawn: set[str]) -> ShardRun:
    """Write `new_files` (already validated, sorted by path) into new shards after the existing ones, leaving out
    the `withdrawn` content hashes (taken out by the delete job since the files were validated)."""
    journal.recover(pending, staged_root)
    existing = read_shards(ds, staged_root)
    # Files a crashed run had already staged (rolled forward just now) are not new any more.
    done = {sha for s in existing for sha in s.sources} | withdrawn
    run = ShardRun([], [])
    for split in ds.splits:
        files = [f for f in new_files if f.split == split and f.sha256 not in done]
        if files:
            start = max((s.index for s in existing if s.split == split), default=-1) + 1
            _write_split(ds, landing_root, split, start, files, schema, pending, run)
    if run.written:
        copied = {PurePosixPath(s.path).name: {"size": s.size, "sha256": s.sources[0], "arrow_bytes": s.arrow_bytes}
                  for s in run.written if s.path in run.copied}
        # The copies' record goes in with them, by the same journal.
        moves = copying.stage_records(staged_root, pending, data_dir(ds), copied, [])
        journal.commit(pending, staged_root, [s.path for s in run.written] + moves, [])
    run.all_shards = read_shards(ds, staged_root)
    return run


def _write_split(ds: DatasetConfig, landing_root: Path, split: str, index: int, files: list[FileRecord],
                 schema: pa.Schema, pending: Path, run: ShardRun) -> None:
    """Shard one split's new files in path order: a file that fits is copied, runs of the others are rewritten."""
    def fits(record: FileRecord) -> bool:
        if not ds.copy_fitting_files:
            return False
        reason = copying.misfit(landing_root / record.relpath, ds, schema)
        if reason is not None:
            run.not_copied[record.relpath] = reason
        return reason is None

    for copy, group in groupby(files, key=fits):
        if copy:
            for record in group:
                rel = shard_path(ds, split, index)
                source = landing_root / record.relpath
                record.check_unchanged(source)
                copying.copy_file(source, pending / rel)
                record.check_unchanged(source)  # not rewritten while it was copied
                run.written.append(Shard(rel, split, index, record.rows, record.size, record.arrow_bytes,
                                         (record.sha256,)))
                run.hashes[rel] = record.sha256  # the bytes validation hashed, unchanged since
                run.copied.append(rel)
                index += 1
            continue
        writer = _SplitWriter(ds, split, index, schema, pending)
        # Reading runs ahead in its own thread, so decoding and encoding use both cores. It may hold a row group's
        # worth of batches: with less, the writer would wait for every row group to fill up.
        ahead = readahead(_batches(ds, landing_root, list(group), schema), ds.row_group_bytes,
                          lambda item: item[0].nbytes)
        with closing(ahead) as batches:
            for batch, sha in batches:
                writer.add(batch, sha)
        run.written.extend(writer.close())
        run.hashes |= writer.hashes
        index = writer.index


def _batches(ds: DatasetConfig, landing_root: Path, files: list[FileRecord],
             schema: pa.Schema) -> Iterator[tuple[pa.RecordBatch, str]]:
    for record in files:
        path = landing_root / record.relpath
        record.check_unchanged(path)
        # Named here: the error alone says neither which landed file nor that the shards step met it.
        try:
            for batch in iter_conformed(path, schema, ds.schema_policy):
                yield batch, record.sha256
        except SchemaMismatch as exc:
            raise RuntimeError(f"{record.relpath}: does not fit the dataset schema under schema_policy "
                               f"{ds.schema_policy}: {exc}; materialize the landed files asset again to validate "
                               "it under this policy") from exc
        except MemoryError:
            raise  # the machine's problem, not the file's
        except Exception as exc:  # noqa: BLE001 - whatever reading it raised, the file is named
            raise RuntimeError(f"{record.relpath}: cannot be read for the shards: {type(exc).__name__}: {exc}") from exc
        record.check_unchanged(path)  # not rewritten in place while it was read (its rows would be mixed)


class _SplitWriter:
    """Rolls row groups into shards of about `shard_size` parquet bytes.

    Row groups close at `row_group_rows` rows or `row_group_bytes` Arrow bytes, whichever comes first, so at
    most one row group is held in memory. Every decision depends only on the input rows, which is what makes
    the output byte-identical for identical input.
    """

    def __init__(self, ds: DatasetConfig, split: str, start: int, schema: pa.Schema, pending: Path):
        self.ds, self.split, self.index, self.schema, self.pending = ds, split, start, schema, pending
        self.buffer: list[pa.RecordBatch] = []
        self.buffered_rows = self.buffered_bytes = 0
        self.queue: deque[list] = deque()  # [sha256, rows still in the buffer], in row order
        self.file = None
        self.writer: pq.ParquetWriter | None = None
        self.rows = self.arrow_bytes = 0
        self.sources: list[str] = []
        self.done: list[Shard] = []
        self.hashes: dict[str, str] = {}

    def add(self, batch: pa.RecordBatch, sha: str) -> None:
        if batch.num_rows == 0:
            return
        self.buffer.append(batch)
        self.buffered_rows += batch.num_rows
        self.buffered_bytes += batch.nbytes
        if self.queue and self.queue[-1][0] == sha:
            self.queue[-1][1] += batch.num_rows
        else:
            self.queue.append([sha, batch.num_rows])
        while self.buffered_rows >= self.ds.row_group_rows:
            self._flush(self.ds.row_group_rows)
        if self.buffered_bytes >= self.ds.row_group_bytes:
            self._flush(self.buffered_rows)

    def close(self) -> list[Shard]:
        if self.buffered_rows:
            self._flush(self.buffered_rows)
        self._finish_shard()
        return self.done

    def _flush(self, rows: int) -> None:
        # Roll before writing, not after: the shard in progress is only finished when more rows come.
        if self.file is not None and self.file.tell() >= self.ds.shard_size:
            self._finish_shard()
        table = pa.Table.from_batches(self.buffer, schema=self.schema)
        group, rest = table.slice(0, rows), table.slice(rows)
        if self.writer is None:
            self._open(group)
        self.writer.write_table(group, row_group_size=group.num_rows)
        self.rows += group.num_rows
        self.arrow_bytes += group.nbytes
        self._take_sources(group.num_rows)
        self.buffer = rest.to_batches()
        self.buffered_rows, self.buffered_bytes = rest.num_rows, rest.nbytes

    def _take_sources(self, rows: int) -> None:
        while rows > 0:
            entry = self.queue[0]
            if entry[0] not in self.sources:
                self.sources.append(entry[0])
            used = min(rows, entry[1])
            entry[1] -= used
            rows -= used
            if entry[1] == 0:
                self.queue.popleft()

    def _open(self, first_group: pa.Table) -> None:
        path = self.pending / shard_path(self.ds, self.split, self.index)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = HashingWriter(path.open("wb"))
        compression = None if self.ds.compression == "none" else self.ds.compression
        self.writer = pq.ParquetWriter(self.file, self.schema, compression=compression,
                                       use_dictionary=dictionary_columns(first_group), write_statistics=True,
                                       write_page_index=True)

    def _finish_shard(self) -> None:
        if self.writer is None:
            return
        own = {"sources": self.sources, "arrow_bytes": self.arrow_bytes}
        self.writer.add_key_value_metadata({FOOTER_KEY: json.dumps(own, sort_keys=True).encode()})
        self.writer.close()
        size = self.file.tell()
        self.file.close()  # flushed and fsynced
        rel = shard_path(self.ds, self.split, self.index)
        self.hashes[rel] = self.file.hexdigest()
        self.done.append(Shard(rel, self.split, self.index, self.rows, size, self.arrow_bytes, tuple(self.sources)))
        self.index += 1
        self.writer, self.file = None, None
        self.rows = self.arrow_bytes = 0
        self.sources = []
