"""Shards: byte-deterministic, append-only, bounded row groups, footers naming their landed files (crashes and
other writers: test_shards_durability.py)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from upload_pipeline import shards, steps
from upload_pipeline.staging import read_shards
from upload_pipeline_tests import datagen


def publish(workspace):
    ds, paths = workspace.config().datasets[0], workspace.paths()
    steps.land(ds, paths)
    return steps.shard(ds, paths)


def staged_bytes(workspace) -> dict[str, tuple[str, int]]:
    return {p.relative_to(workspace.staged).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                                          p.stat().st_mtime_ns)
            for p in sorted(workspace.staged.rglob("*.parquet"))}


def test_same_input_gives_byte_identical_shards(workspace, tmp_path):
    workspace.dataset(shard_size=40_000, row_group_rows=500)
    for i in range(3):
        workspace.land(f"train/{i}.parquet", rows=1200, seed=i, start_id=i * 1200)
    publish(workspace)
    first = {k: v[0] for k, v in staged_bytes(workspace).items()}
    shutil.rmtree(workspace.staged)
    shutil.rmtree(workspace.root / "state")
    publish(workspace)
    assert {k: v[0] for k, v in staged_bytes(workspace).items()} == first
    assert len(first) > 1


def test_shards_roll_at_the_size_and_row_groups_stay_bounded(workspace):
    workspace.dataset(shard_size=30_000, row_group_rows=400)
    workspace.land("train/a.parquet", rows=3000)
    run = publish(workspace)
    assert len(run.written) >= 3
    assert sum(s.rows for s in run.written) == 3000
    for shard in run.written[:-1]:
        assert shard.size >= 30_000
    meta = pq.read_metadata(workspace.staged / run.written[0].path)
    assert max(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) <= 400
    ids = [i for s in run.written for i in pq.read_table(workspace.staged / s.path)["id"].to_pylist()]
    assert ids == list(range(3000))  # landed row order is kept


def test_appending_keeps_old_shards_and_adds_new_ones(workspace):
    workspace.land("train/a.parquet", rows=100)
    workspace.land("test/a.parquet", rows=40, seed=3)
    publish(workspace)
    before = staged_bytes(workspace)
    workspace.land("train/b.parquet", rows=60, seed=1, start_id=100)
    run = publish(workspace)
    after = staged_bytes(workspace)
    assert {k: after[k] for k in before} == before  # same bytes, never rewritten
    assert [s.path for s in run.written] == ["data/train-00001.parquet"]
    assert run.written[0].rows == 60


def test_nothing_new_writes_nothing(workspace):
    workspace.land("train/a.parquet", rows=100)
    publish(workspace)
    before = staged_bytes(workspace)
    run = publish(workspace)
    assert run.written == [] and staged_bytes(workspace) == before


def test_footers_record_the_landed_files_they_hold(workspace):
    a = workspace.land("train/a.parquet", rows=10)
    publish(workspace)
    shard = read_shards(workspace.config().datasets[0], workspace.staged)[0]
    assert shard.sources == (hashlib.sha256(a.read_bytes()).hexdigest(),)
    footer = json.loads(pq.read_metadata(workspace.staged / shard.path).metadata[b"upload_pipeline"])
    assert footer["arrow_bytes"] > 0


def test_shards_are_hashed_as_they_are_written(workspace):
    workspace.dataset(shard_size=40_000, row_group_rows=500)
    for i in range(3):
        workspace.land(f"train/{i}.parquet", rows=1200, seed=i, start_id=i * 1200)
    run = publish(workspace)
    assert len(run.hashes) == len(run.written) > 1
    cache = json.loads(workspace.paths().file("staged-hashes.json").read_text())
    for rel, sha in run.hashes.items():
        assert sha == hashlib.sha256((workspace.staged / rel).read_bytes()).hexdigest()
        assert cache[rel]["sha256"] == sha
    staged = steps.staged_files(workspace.paths())
    assert {rel: staged[rel].sha256 for rel in run.hashes} == run.hashes


@pytest.mark.skipif(sys.platform != "linux", reason="the package chooses jemalloc on Linux only")
def test_pyarrow_allocates_with_jemalloc_unless_told_otherwise():
    code = "import upload_pipeline, pyarrow as pa; print(pa.default_memory_pool().backend_name)"
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    chosen = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert chosen.stdout.strip() == "jemalloc"
    told = subprocess.run([sys.executable, "-c", code], env={**env, "ARROW_DEFAULT_MEMORY_POOL": "system"},
                          capture_output=True, text=True, check=True)
    assert told.stdout.strip() == "system"


def test_a_file_overwritten_in_place_while_it_is_read_is_refused(workspace):
    a = workspace.land("train/a.parquet", rows=100)
    ds, paths = workspace.config().datasets[0], workspace.paths()
    landed = steps.land(ds, paths).validation
    batches = shards._batches(ds, workspace.landing, landed.files, landed.schema)
    rows = 0
    while rows < 100:  # every row read, the file still open
        rows += next(batches)[0].num_rows
    datagen.write(a, 150, seed=9)
    with pytest.raises(RuntimeError, match="train/a.parquet: changed since it was validated"):
        next(batches)


def test_a_shard_holding_several_landed_files_records_every_one_so_none_is_published_twice(workspace):
    """The footer is the record of what is published: a file whose rows share a shard with another's (and a row
    group) must be in it, or the next publish takes it for new and stages its rows a second time."""
    landed = [workspace.land(f"train/{i}.parquet", rows=50, seed=i, start_id=i * 50) for i in range(3)]
    run = publish(workspace)
    assert [s.sources for s in run.written] == [tuple(hashlib.sha256(p.read_bytes()).hexdigest() for p in landed)]
    again = publish(workspace)
    assert again.written == [] and sum(s.rows for s in again.all_shards) == 150
