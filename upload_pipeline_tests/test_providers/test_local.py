"""The embedded default providers: one recorded commit per publish, mirror semantics, owned paths only."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import dagster as dg
import pytest

from upload_pipeline import remote, staging
from upload_pipeline.card import generated_metadata
from upload_pipeline.definitions import build_definitions
from upload_pipeline.providers import local_hub, local_s3
from upload_pipeline.providers.local_hub import LocalHubResource
from upload_pipeline.providers.local_s3 import LocalS3Resource
from upload_pipeline.hashing import sha256_file as real_sha256
from upload_pipeline.staging import read_shards


def test_local_hub_commits_once_per_change_and_never_when_nothing_changed(workspace):
    hub = LocalHubResource(root=str(workspace.root / "remote" / "hub"))
    workspace.land("train/a.parquet", rows=20)
    ds, paths = workspace.stage()
    first = remote.sync(hub, ds.hub, remote.sync_request(ds, paths, "hub", "first"))
    assert sorted(u.path for u in first.plan.uploads) == ["README.md", "data/train-00000.parquet"]
    again = remote.sync(hub, ds.hub, remote.sync_request(ds, paths, "hub", "again"))
    assert again.plan.noop and again.commit_id == first.commit_id
    workspace.land("train/b.parquet", rows=5, seed=1)
    workspace.stage()
    third = remote.sync(hub, ds.hub, remote.sync_request(ds, paths, "hub", "third"))
    log = hub.commits(ds.hub)
    assert [c["message"] for c in log] == ["first", "third"]
    assert log[1]["parent"] == first.commit_id and log[1]["id"] == third.commit_id
    assert log[1]["added"] == ["data/train-00001.parquet", "README.md"] and log[1]["deleted"] == []
    assert remote.differences(hub, ds.hub, ds, paths, "hub") == []


def test_local_hub_keeps_remote_prose_and_foreign_files(workspace):
    hub = LocalHubResource(root=str(workspace.root / "remote" / "hub"))
    workspace.land("train/a.parquet", rows=20)
    ds, paths = workspace.stage()
    remote.sync(hub, ds.hub, remote.sync_request(ds, paths, "hub", "first"))
    repo = hub.repo_dir(ds.hub)
    readme = (repo / "README.md").read_text()
    (repo / "README.md").write_text(readme + "\n## Added on the Hub\n\nKeep me.\n")
    (repo / "other").mkdir()
    (repo / "other" / "x.parquet").write_bytes(b"not ours")
    (repo / "data" / "train-00099.parquet").write_bytes(b"stale")
    result = remote.sync(hub, ds.hub, remote.sync_request(ds, paths, "hub", "second"))
    assert result.plan.deletes == ["data/train-00099.parquet"]
    assert "Keep me." in (repo / "README.md").read_text()
    assert (repo / "other" / "x.parquet").exists()


def test_local_s3_mirrors_and_deletes_what_staging_lost(workspace):
    s3 = LocalS3Resource(root=str(workspace.root / "remote" / "s3"))
    workspace.land("train/a.parquet", rows=20)
    ds, paths = workspace.stage()
    remote.sync(s3, ds.s3, remote.sync_request(ds, paths, "s3", "m"))
    folder = s3.folder(ds.s3)
    assert folder == Path(workspace.root / "remote/s3/test-bucket/datasets/ds")
    assert (folder / "README.md").read_bytes() == (paths.staged / "README.md").read_bytes()
    (folder / "data" / "train-00042.parquet").write_bytes(b"stale")
    second = remote.sync(s3, ds.s3, remote.sync_request(ds, paths, "s3", "m"))
    assert second.plan.deletes == ["data/train-00042.parquet"] and not second.plan.uploads
    assert remote.differences(s3, ds.s3, ds, paths, "s3") == []
    (folder / "data" / "train-00000.parquet").write_bytes(b"tampered")
    assert remote.differences(s3, ds.s3, ds, paths, "s3")[0].startswith("data/train-00000.parquet: sha256")


def test_delete_paths_removes_a_folder_in_one_commit(workspace):
    hub = LocalHubResource(root=str(workspace.root / "remote" / "hub"))
    workspace.land("train/a.parquet", rows=20)
    workspace.land("test/a.parquet", rows=20, seed=4)
    ds, paths = workspace.stage()
    remote.sync(hub, ds.hub, remote.sync_request(ds, paths, "hub", "first"))
    result = hub.delete_paths(ds.hub, ["data/test-00000.parquet"], "drop test")
    assert result.plan.deletes == ["data/test-00000.parquet"]
    assert hub.commits(ds.hub)[-1]["deleted"] == ["data/test-00000.parquet"]


def test_a_delete_finishes_a_commit_a_crash_cut_short_first(workspace, monkeypatch):
    hub = LocalHubResource(root=str(workspace.root / "remote" / "hub"))
    workspace.land("train/a.parquet", rows=20)
    workspace.land("test/a.parquet", rows=20, seed=4)
    ds, paths = workspace.stage()
    repo = hub.repo_dir(ds.hub)
    real_replace = os.replace

    def crash_after_the_first_file_moved(src, dst):
        real_replace(src, dst)
        if Path(dst).parent.parent == repo:  # a shard moved into data/: the journal is half applied
            raise KeyboardInterrupt("crash")

    monkeypatch.setattr(os, "replace", crash_after_the_first_file_moved)
    with pytest.raises(KeyboardInterrupt):
        remote.sync(hub, ds.hub, remote.sync_request(ds, paths, "hub", "first"))
    monkeypatch.undo()
    hub.delete_paths(ds.hub, ["data/test-00000.parquet"], "drop test")
    # The cut commit's files all arrived (the card and train's shard), then the test shard went.
    assert sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*") if ".hub" not in p.parts) == [
        "README.md", "data", "data/train-00000.parquet"]
    # and the cut commit is in the log, recovered with its files, before the delete's
    log = hub.commits(ds.hub)
    assert [c["message"] for c in log] == ["first", "drop test"] and log[1]["parent"] == log[0]["id"]


def test_a_commit_planned_before_another_writers_is_planned_again_on_it(workspace):
    """As the Hub pins a commit to its parent (412): a dataset sharing the repo committed between our plan and
    our commit; its card change survives and the log stays one line of descent."""
    hub = LocalHubResource(root=str(workspace.root / "remote" / "hub"))
    workspace.land("train/a.parquet", rows=20)
    ds, paths = workspace.stage()
    remote.sync(hub, ds.hub, remote.sync_request(ds, paths, "hub", "first"))
    workspace.land("train/b.parquet", rows=5, seed=1)
    workspace.stage()
    request = remote.sync_request(ds, paths, "hub", "second")
    stale = hub.plan_sync(ds.hub, request)
    hub.delete_paths(ds.hub, [], "their note", readme=lambda card: card + "\nTheir note.\n")
    result = hub.apply(ds.hub, stale, request)
    assert "Their note." in (hub.repo_dir(ds.hub) / "README.md").read_text()
    log = hub.commits(ds.hub)
    assert [c["message"] for c in log] == ["first", "their note", "second"]
    assert [c["parent"] for c in log[1:]] == [log[0]["id"], log[1]["id"]] and result.commit_id == log[2]["id"]
    assert remote.differences(hub, ds.hub, ds, paths, "hub") == []


def test_delete_job_removes_a_split_from_repo_card_and_staging_for_good(workspace):
    workspace.land("train/a.parquet", rows=20)
    workspace.land("test/a.parquet", rows=20, seed=4)
    defs = build_definitions(workspace.config(), environ={})
    instance = dg.DagsterInstance.ephemeral()
    assert defs.resolve_job_def("publish_ds").execute_in_process(instance=instance).success
    job = defs.resolve_job_def("delete_from_hub")
    run_config = {"ops": {"delete_paths": {"config": {"dataset": "ds", "config_name": "default",
                                                         "split": "test", "confirm": False}}}}
    refused = job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False)
    assert not refused.success
    run_config["ops"]["delete_paths"]["config"]["confirm"] = True
    deleted = job.execute_in_process(run_config=run_config, instance=instance)
    assert deleted.success

    hub = workspace.root / "remote" / "hub" / "tests" / "ds"
    assert not (hub / "data" / "test-00000.parquet").exists()
    entry, info = generated_metadata((hub / "README.md").read_text(), "default")
    assert [f["split"] for f in entry["data_files"]] == ["train"]
    assert [s["name"] for s in info["splits"]] == ["train"]
    assert [s.split for s in read_shards(workspace.config().datasets[0], workspace.staged)] == ["train"]
    commits = LocalHubResource(root=str(workspace.root / "remote" / "hub")).commits(workspace.config().datasets[0].hub)
    assert commits[-1]["deleted"] == ["data/test-00000.parquet"] and commits[-1]["added"] == ["README.md"]
    assert commits[-1]["message"] == f"Delete split 'test' of config 'default' of ds from Dagster run " \
                                     f"{deleted.run_id[:8]} (upload_pipeline)"
    # publishing again does not bring the withdrawn split back
    again = defs.resolve_job_def("publish_ds").execute_in_process(instance=instance)
    assert again.success and not (hub / "data" / "test-00000.parquet").exists()
    assert len(LocalHubResource(root=str(workspace.root / "remote" / "hub")).commits(
        workspace.config().datasets[0].hub)) == len(commits)


def test_a_plan_made_while_a_commit_is_being_put_together_waits_for_it(workspace, monkeypatch):
    """Another writer's plan (the dry_run job, a dataset sharing the repo) recovers the repo first, which drops a
    scratch folder without a journal: it must not be the files of a commit under way."""
    workspace.land("train/a.parquet", rows=20)
    ds, paths = workspace.stage()
    hub = LocalHubResource(root=str(workspace.root / "remote" / "hub"))
    remote.sync(hub, ds.hub, remote.sync_request(ds, paths, "hub", "first"))
    workspace.land("train/b.parquet", rows=5, seed=3, start_id=500)
    ds, paths = workspace.stage()
    other = threading.Thread(target=lambda: LocalHubResource(root=hub.root).plan_sync(
        ds.hub, remote.sync_request(ds, paths, "hub", "dry run")))
    real_append = local_hub.append_jsonl

    def the_other_plans_now(path, record):  # the files are in the scratch folder, the journal not written yet
        if not other.is_alive():
            other.start()
            other.join(timeout=1)
        return real_append(path, record)

    monkeypatch.setattr(local_hub, "append_jsonl", the_other_plans_now)
    result = remote.sync(hub, ds.hub, remote.sync_request(ds, paths, "hub", "second"))
    other.join(timeout=30)
    repo = hub.repo_dir(ds.hub)
    assert all((repo / u.path).exists() for u in result.plan.uploads) and not other.is_alive()
    assert [c["message"] for c in hub.commits(ds.hub)] == ["first", "second"]


def test_local_s3_reads_only_the_objects_that_changed_since_the_last_plan(workspace, monkeypatch):
    s3 = LocalS3Resource(root=str(workspace.root / "remote" / "s3"))
    workspace.land("train/a.parquet", rows=20)
    ds, paths = workspace.stage()
    remote.sync(s3, ds.s3, remote.sync_request(ds, paths, "s3", "m"))
    s3.remote_tree(ds.s3)
    read = []
    monkeypatch.setattr(staging, "sha256_file", lambda path: read.append(path.name) or real_sha256(path))
    assert remote.sync(s3, ds.s3, remote.sync_request(ds, paths, "s3", "m")).plan.noop and read == []
    (s3.folder(ds.s3) / "data" / "train-00000.parquet").write_bytes(b"tampered")
    assert remote.sync(s3, ds.s3, remote.sync_request(ds, paths, "s3", "m")).plan.uploads
    assert read == ["train-00000.parquet"]
    assert remote.differences(s3, ds.s3, ds, paths, "s3") == []
    assert not (s3.folder(ds.s3) / ".hashes").exists()  # the cache is not in the mirror


def test_local_hub_leaves_a_config_whose_folder_name_starts_like_ours(workspace):
    """The default config owns `data/`; another config sharing the repo may be named `data_v2`: its folder
    starts with the same letters without being inside ours, so a sync neither deletes it nor reports it."""
    hub = LocalHubResource(root=str(workspace.root / "remote" / "hub"))
    workspace.land("train/a.parquet", rows=20)
    ds, paths = workspace.stage()
    remote.sync(hub, ds.hub, remote.sync_request(ds, paths, "hub", "first"))
    repo = hub.repo_dir(ds.hub)
    (repo / "data_v2").mkdir()
    (repo / "data_v2" / "train-00000.parquet").write_bytes(b"theirs")
    assert remote.sync(hub, ds.hub, remote.sync_request(ds, paths, "hub", "again")).plan.noop
    assert (repo / "data_v2" / "train-00000.parquet").read_bytes() == b"theirs"
    assert remote.differences(hub, ds.hub, ds, paths, "hub") == []


def test_the_check_tells_a_hub_card_whose_metadata_for_this_config_is_stale(workspace):
    """The Hub's card is compared by this config's generated metadata: one put back to an older version (a hand
    edit, a revert) fails the check, though every shard is there."""
    hub = LocalHubResource(root=str(workspace.root / "remote" / "hub"))
    workspace.land("train/a.parquet", rows=20)
    ds, paths = workspace.stage()
    remote.sync(hub, ds.hub, remote.sync_request(ds, paths, "hub", "first"))
    readme = hub.repo_dir(ds.hub) / "README.md"
    old_card = readme.read_text()
    workspace.land("train/b.parquet", rows=5, seed=1)
    workspace.stage()
    remote.sync(hub, ds.hub, remote.sync_request(ds, paths, "hub", "second"))
    assert remote.differences(hub, ds.hub, ds, paths, "hub") == []
    readme.write_text(old_card)
    assert remote.differences(hub, ds.hub, ds, paths, "hub") == [
        "README.md: this config's metadata differs from the staged card"]


def test_local_hub_delete_of_nothing_there_makes_no_commit(workspace):
    """A delete that changes nothing (a delete job run again) records no empty commit, as on the Hub."""
    hub = LocalHubResource(root=str(workspace.root / "remote" / "hub"))
    workspace.land("train/a.parquet", rows=20)
    ds, paths = workspace.stage()
    first = remote.sync(hub, ds.hub, remote.sync_request(ds, paths, "hub", "first"))
    result = hub.delete_paths(ds.hub, ["data/test-00000.parquet"], "drop test", readme=lambda card: None)
    assert result.plan.noop and result.commit_id == first.commit_id
    assert [c["message"] for c in hub.commits(ds.hub)] == ["first"]


def test_local_s3_writes_the_card_after_the_shards_so_a_crash_never_leaves_a_card_ahead_of_its_data(
        workspace, monkeypatch):
    s3 = LocalS3Resource(root=str(workspace.root / "remote" / "s3"))
    workspace.land("train/a.parquet", rows=20)
    ds, paths = workspace.stage()
    remote.sync(s3, ds.s3, remote.sync_request(ds, paths, "s3", "m"))
    card_before = (s3.folder(ds.s3) / "README.md").read_bytes()
    workspace.land("train/b.parquet", rows=5)
    ds, paths = workspace.stage()
    real_copy = local_s3.shutil.copyfile

    def crash_on_a_shard(source, dest):
        if Path(source).suffix == ".parquet":
            raise OSError("disk full")
        return real_copy(source, dest)

    monkeypatch.setattr(local_s3.shutil, "copyfile", crash_on_a_shard)
    with pytest.raises(OSError, match="disk full"):
        remote.sync(s3, ds.s3, remote.sync_request(ds, paths, "s3", "m"))
    assert (s3.folder(ds.s3) / "README.md").read_bytes() == card_before
    assert not list(s3.folder(ds.s3).rglob(".upload.*"))  # no half-copied file left behind
    monkeypatch.setattr(local_s3.shutil, "copyfile", real_copy)
    remote.sync(s3, ds.s3, remote.sync_request(ds, paths, "s3", "m"))
    assert remote.differences(s3, ds.s3, ds, paths, "s3") == []
