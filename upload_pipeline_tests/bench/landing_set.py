"""The landing set every Hub and S3 benchmark of a run shares: about `megabytes` of parquet in `files` files
over 3 splits, plus one more train file (5 % of the set) for the append benchmark.

Rows come from `datagen.table` (ints, floats, strings of varied length, lists, structs, timestamps, nulls),
written as a processing job would: pyarrow's default compression (snappy) and 100 000-row row groups. File
sizes vary around the mean (0.6×, 1.0×, 1.4×), as real drops do. The same size and file count give the same
bytes, and a folder already holding that set is reused (`--work`), since generating 1 GB takes minutes.
"""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import pyarrow.parquet as pq

from upload_pipeline_tests import datagen

SPLITS = {"train": 0.8, "validation": 0.1, "test": 0.1}
APPEND_SHARE = 0.05
# Rows per MB of parquet from datagen.table(text_words=40) under pyarrow's defaults, measured; sizes are "about".
ROWS_PER_MB = 9300
TEXT_WORDS = 40
ROW_GROUP_ROWS = 100_000
_SPREAD = (0.6, 1.0, 1.4)
_VERSION = 1  # bump when the generator changes, so a reused folder is regenerated


@dataclass(frozen=True)
class LandingSet:
    files: tuple[Path, ...]  # <folder>/landing/<split>/part-NNN.parquet
    append_file: Path  # <folder>/append/train/: not landed until the append benchmark links it in
    bytes: int
    rows: int

    def split_files(self) -> dict[str, list[Path]]:
        return {split: [f for f in self.files if f.parent.name == split] for split in SPLITS}


def make(folder: Path, megabytes: float, files: int) -> LandingSet:
    """Generate the set in `folder` (two worker processes), or reuse the one already there."""
    manifest = folder / "manifest.json"
    wanted = {"version": _VERSION, "megabytes": megabytes, "files": files}
    plan = _plan(megabytes, files)
    if not (manifest.exists() and json.loads(manifest.read_text()).get("params") == wanted):
        jobs = [(str(folder / rel), rows, seed, start) for rel, rows, seed, start in plan]
        # spawn, not fork: the caller may already run server threads, which a forked child would inherit broken.
        with ProcessPoolExecutor(max_workers=2, mp_context=get_context("spawn")) as pool:
            list(pool.map(_write, jobs))
        manifest.write_text(json.dumps({"params": wanted}))
    paths = [folder / rel for rel, *_ in plan]
    landed, extra = tuple(paths[:-1]), paths[-1]
    return LandingSet(landed, extra, sum(p.stat().st_size for p in landed),
                      sum(pq.read_metadata(p).num_rows for p in landed))


def _plan(megabytes: float, files: int) -> list[tuple[str, int, int, int]]:
    """(relative path, rows, seed, first id) of every file; the append file last, ids continuing."""
    small = max(1, round(files * SPLITS["test"]))
    counts = {"train": max(1, files - 2 * small), "validation": small, "test": small}
    plan, start, seed = [], 0, 0
    for split, share in SPLITS.items():
        weights = [_SPREAD[i % len(_SPREAD)] for i in range(counts[split])]
        for i, w in enumerate(weights):
            rows = max(1, int(megabytes * share * ROWS_PER_MB * w / sum(weights)))
            plan.append((f"landing/{split}/part-{i:03d}.parquet", rows, seed, start))
            start, seed = start + rows, seed + 1
    plan.append(("append/train/part-append.parquet", max(1, int(megabytes * APPEND_SHARE * ROWS_PER_MB)),
                 seed, start))
    return plan


def _write(job: tuple[str, int, int, int]) -> None:
    """One file, a row group at a time: a 70 MB file built at once holds 650 000 rows of Python objects."""
    path, rows, seed, start = job
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    writer = None
    for k, first in enumerate(range(0, rows, ROW_GROUP_ROWS)):
        table = datagen.table(min(ROW_GROUP_ROWS, rows - first), seed=seed * 10_000 + k, start_id=start + first,
                              text_words=TEXT_WORDS)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()
