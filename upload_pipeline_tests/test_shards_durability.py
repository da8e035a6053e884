"""Shards across crashes, power loss and other writers: all or nothing, journaled, fsynced, under the staging lock."""

from __future__ import annotations

import os
import shutil
import stat
import threading

import pytest

from upload_pipeline import journal, shards, steps
from upload_pipeline.delete import DeleteRequest, delete_from_hub
from upload_pipeline.providers.local_hub import LocalHubResource
from upload_pipeline.staging import read_shards
from upload_pipeline_tests.test_shards import publish, staged_bytes


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
