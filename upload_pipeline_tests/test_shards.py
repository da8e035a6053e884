"""Shards: byte-deterministic, append-only, bounded row groups, and all-or-nothing across a crash."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import threading

import pyarrow.parquet as pq
import pytest

from upload_pipeline import journal, shards, steps
from upload_pipeline.delete import DeleteRequest, delete_from_hub
from upload_pipeline.providers.local_hub import LocalHubResource
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


def test_a_crash_before_the_journal_leaves_nothing_staged(workspace, monkeypatch):
    workspace.land("train/a.parquet", rows=100)
    monkeypatch.setattr(journal, "commit", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt("crash")))
    with pytest.raises(KeyboardInterrupt):
        publish(workspace)
    assert not (workspace.staged / "data").exists()
    monkeypatch.undo()
    run = publish(workspace)
    assert [s.rows for s in run.all_shards] == [100]


def test_a_crash_after_the_journal_is_rolled_forward(workspace, monkeypatch):
    workspace.land("train/a.parquet", rows=100)
    real_recover = journal.recover

    def crash_with_journal_written(scratch, target):
        if (scratch / journal.JOURNAL).exists():  # inside commit: journal written, nothing moved yet
            raise KeyboardInterrupt("crash")
        return real_recover(scratch, target)

    monkeypatch.setattr(journal, "recover", crash_with_journal_written)
    with pytest.raises(KeyboardInterrupt):
        publish(workspace)
    assert (workspace.paths().file("pending") / journal.JOURNAL).exists()
    monkeypatch.undo()
    run = publish(workspace)
    assert run.written == [] and [s.rows for s in run.all_shards] == [100]


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


@pytest.mark.parametrize("error", [OSError("disk read error"), KeyError("a reader's bare key")])
def test_a_file_failing_mid_split_stages_nothing(workspace, monkeypatch, error):
    """The read-ahead thread's error reaches the writer, naming the file whatever the error; no partial shard is
    staged, and a rerun is whole."""
    workspace.dataset(row_group_rows=100)
    workspace.land("train/a.parquet", rows=1000)
    workspace.land("train/b.parquet", rows=1000, seed=1, start_id=1000)
    ds, paths = workspace.config().datasets[0], workspace.paths()
    steps.land(ds, paths)
    real = shards.iter_conformed

    def failing(path, schema, policy):
        if path.name == "b.parquet":
            yield from list(real(path, schema, policy))[:3]
            raise error
        yield from real(path, schema, policy)

    monkeypatch.setattr(shards, "iter_conformed", failing)
    with pytest.raises(RuntimeError, match=f"train/b.parquet: cannot be read for the shards: {type(error).__name__}"):
        steps.shard(ds, paths)
    assert not (workspace.staged / "data").exists()
    monkeypatch.undo()
    run = steps.shard(ds, paths)
    assert sum(s.rows for s in run.all_shards) == 2000


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


def delete_split(workspace, split):
    hub = LocalHubResource(root=str(workspace.root / "remote" / "hub"))
    delete_from_hub(workspace.config(), hub, DeleteRequest("ds", "default", split=split, confirm=True))


def test_a_delete_finishes_a_shards_journal_cut_halfway_first(workspace, monkeypatch):
    workspace.dataset(shard_size=30_000, row_group_rows=400)
    workspace.land("train/a.parquet", rows=100)
    workspace.land("test/a.parquet", rows=20, seed=4)
    ds, paths = workspace.stage()
    workspace.land("train/b.parquet", rows=3000, seed=1, start_id=100)
    steps.land(ds, paths)
    real_replace = os.replace

    def crash_after_the_first_shard_moved(src, dst):
        real_replace(src, dst)
        if str(dst).startswith(str(workspace.staged)):
            raise KeyboardInterrupt("crash")

    monkeypatch.setattr(os, "replace", crash_after_the_first_shard_moved)
    with pytest.raises(KeyboardInterrupt):
        steps.shard(ds, paths)
    monkeypatch.undo()
    delete_split(workspace, "test")
    publish(workspace)
    staged = read_shards(ds, workspace.staged)
    assert {s.split for s in staged} == {"train"} and sum(s.rows for s in staged) == 3100


def test_the_delete_job_waits_while_another_process_writes_the_staged_tree(workspace):
    workspace.land("train/a.parquet", rows=100)
    workspace.land("test/a.parquet", rows=20, seed=4)
    ds, paths = workspace.stage()
    steps.land(ds, paths)  # the lock is free again after each step
    done = threading.Event()
    worker = threading.Thread(target=lambda: (delete_split(workspace, "test"), done.set()))
    with steps.staging_lock(paths):  # as a shards step of a publish run holds it
        worker.start()
        assert not done.wait(1.0)
        assert {s.split for s in read_shards(ds, paths.staged)} == {"train", "test"}
    worker.join(30)
    assert done.is_set() and {s.split for s in read_shards(ds, paths.staged)} == {"train"}


def test_a_withdrawn_file_stays_out_when_landed_json_predates_the_delete(workspace):
    workspace.land("train/a.parquet", rows=100)
    workspace.land("test/a.parquet", rows=20, seed=4)
    ds, paths = workspace.stage()
    delete_split(workspace, "test")
    run = steps.shard(ds, paths)  # landed.json still lists test/a.parquet as new
    assert run.written == [] and {s.split for s in run.all_shards} == {"train"}


def test_renames_are_synced_before_the_journal_is_removed(workspace, monkeypatch):
    """Each rename's folder is fsynced after it, and before the journal goes; a shard's folder in pending/ is before
    the journal is written (os calls recorded, still made)."""
    workspace.land("train/a.parquet", rows=100)
    events = []
    real_fsync, real_replace, real_rmtree = os.fsync, os.replace, shutil.rmtree

    def fsync(fd):
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            events.append(("sync", os.fstat(fd).st_ino))
        real_fsync(fd)

    def replace(src, dst):
        src_folder = os.stat(os.path.dirname(src)).st_ino
        real_replace(src, dst)
        events.append(("rename", os.stat(os.path.dirname(dst)).st_ino, src_folder, os.path.basename(dst)))

    def rmtree(path, *args, **kwargs):
        events.append(("rmtree",))
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(shutil, "rmtree", rmtree)
    publish(workspace)
    renames = {i: event for i, event in enumerate(events) if event[0] == "rename"}
    assert len(renames) > 3  # the journal, the shard, landed.json, sources.json, ...
    for i, (_, folder, _, _) in renames.items():
        synced = events.index(("sync", folder), i)
        assert ("rmtree",) not in events[i:synced]
    journal_written = next(i for i, event in renames.items() if event[3] == journal.JOURNAL)
    shard_came_from = next(event[2] for event in renames.values() if event[3] == "train-00000.parquet")
    assert ("sync", shard_came_from) in events[:journal_written]


def test_a_shard_holding_several_landed_files_records_every_one_so_none_is_published_twice(workspace):
    """The footer is the record of what is published: a file whose rows share a shard with another's (and a row
    group) must be in it, or the next publish takes it for new and stages its rows a second time."""
    landed = [workspace.land(f"train/{i}.parquet", rows=50, seed=i, start_id=i * 50) for i in range(3)]
    run = publish(workspace)
    assert [s.sources for s in run.written] == [tuple(hashlib.sha256(p.read_bytes()).hexdigest() for p in landed)]
    again = publish(workspace)
    assert again.written == [] and sum(s.rows for s in again.all_shards) == 150


@pytest.mark.parametrize("step", ["land", "shard"])
def test_the_landing_and_shards_steps_wait_while_another_process_writes_the_staged_tree(workspace, step):
    """The delete job (or another run's step) holds the staging lock while it changes the staged tree and the
    journal's scratch folder: a step of a publish run must not recover, read or write them meanwhile."""
    workspace.land("train/a.parquet", rows=100)
    ds, paths = workspace.config().datasets[0], workspace.paths()
    steps.land(ds, paths)
    before = paths.file("landed.json").read_bytes()
    workspace.land("train/b.parquet", rows=10, seed=1, start_id=100)
    done = threading.Event()
    worker = threading.Thread(target=lambda: (getattr(steps, step)(ds, paths), done.set()))
    with steps.staging_lock(paths):
        worker.start()
        assert not done.wait(1.0)
        assert paths.file("landed.json").read_bytes() == before and not (workspace.staged / "data").exists()
    worker.join(30)
    assert done.is_set()


def test_a_delete_cut_by_a_crash_halfway_through_its_journal_is_finished_by_the_next_step(workspace, monkeypatch):
    """Some shards of the withdrawn split deleted, the journal still there: the next step finishes it rather than
    failing on the shard already gone (every later step, publish or delete, would fail the same way)."""
    workspace.dataset(shard_size=30_000, row_group_rows=400)
    workspace.land("train/a.parquet", rows=3000)
    workspace.land("test/a.parquet", rows=20, seed=4)
    ds, paths = workspace.stage()
    assert len([p for p in staged_bytes(workspace) if p.startswith("data/train-")]) > 1
    real_unlink = os.unlink

    def crash_after_the_first_shard_deleted(path, *args, **kwargs):
        real_unlink(path, *args, **kwargs)
        if str(path).startswith(str(workspace.staged / "data" / "train-")):
            raise KeyboardInterrupt("crash")

    monkeypatch.setattr(os, "unlink", crash_after_the_first_shard_deleted)
    with pytest.raises(KeyboardInterrupt):
        delete_split(workspace, "train")
    monkeypatch.undo()
    assert (paths.file("pending") / journal.JOURNAL).exists()
    run = publish(workspace)
    assert run.written == [] and [(s.split, s.rows) for s in run.all_shards] == [("test", 20)]
    assert not (paths.file("pending") / journal.JOURNAL).exists()


@pytest.mark.parametrize("copy_fitting_files", [False, True])
def test_every_shard_is_on_disk_before_the_journal_that_moves_it_in(workspace, copy_fitting_files, request):
    """The journal says the shards are complete: after a power loss it moves them in as they are, so their bytes
    (written, or copied from a landed file) are fsynced before it is written (os calls recorded, still made)."""
    workspace.dataset(copy_fitting_files=copy_fitting_files, compression="snappy", shard_size=30_000,
                      row_group_rows=400)
    workspace.land("train/a.parquet", rows=3000)
    workspace.land("test/a.parquet", rows=20, seed=4)  # fits: copied with copy_fitting_files
    events = request.getfixturevalue("file_syncs")  # from here on: landing the files above is not recorded
    run = publish(workspace)
    assert len(run.written) > 2 and bool(run.copied) == copy_fitting_files
    journal_written = next(i for i, e in enumerate(events) if e[0] == "rename" and e[2] == journal.JOURNAL)
    for shard in run.written:
        assert ("sync", (workspace.staged / shard.path).stat().st_ino) in events[:journal_written], shard.path
