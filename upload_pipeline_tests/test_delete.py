"""delete_from_hub: what it refuses, what it withdraws from staging, and the repo `datasets` reads afterwards."""

from __future__ import annotations

import io
import shutil
import threading
import time

import dagster as dg
import datasets
import pytest
import yaml
from huggingface_hub import CommitOperationAdd, DatasetCard, HfApi

from upload_pipeline import remote, steps
from upload_pipeline.definitions import build_definitions
from upload_pipeline.delete import DeleteRequest, delete_from_hub
from upload_pipeline.providers.base import ProviderError
from upload_pipeline.providers.hf_hub import HfHubResource
from upload_pipeline.providers.local_hub import LocalHubResource
from upload_pipeline.staging import read_shards
from upload_pipeline_tests.conftest import WRITE_TOKEN

REPO = "tests/ds"


def local_hub(workspace) -> LocalHubResource:
    return LocalHubResource(root=str(workspace.root / "remote" / "hub"))


def publish(workspace, hub):
    ds, paths = workspace.stage()
    return remote.sync(hub, ds.hub, remote.sync_request(ds, paths, "hub", "publish"))


def staged_names(workspace):
    return sorted(p.name for p in (workspace.staged / "data").glob("*.parquet"))


@pytest.mark.parametrize("config_name,split,error", [
    ("default", "tset", "refusing to delete split 'tset' of config 'default' of ds: tests/ds has no such split; "
                        "it has: default (test, train)"),
    ("defualt", None, "refusing to delete config 'defualt' of ds: tests/ds has no such config; "
                      "it has: default (test, train)"),
    ("defualt", "test", "has no such config; it has: default (test, train)"),
])
def test_a_config_or_split_that_does_not_exist_is_refused_before_anything_changes(workspace, config_name, split,
                                                                                  error):
    workspace.land("train/a.parquet", rows=20)
    workspace.land("test/a.parquet", rows=20, seed=4)
    hub = local_hub(workspace)
    publish(workspace, hub)
    ds = workspace.config().datasets[0]
    commits, tree = len(hub.commits(ds.hub)), hub.remote_tree(ds.hub)
    with pytest.raises(ProviderError, match=error.replace("(", r"\(").replace(")", r"\)")):
        delete_from_hub(workspace.config(), hub, DeleteRequest("ds", config_name, split, confirm=True))
    assert len(hub.commits(ds.hub)) == commits and hub.remote_tree(ds.hub) == tree
    assert staged_names(workspace) == ["test-00000.parquet", "train-00000.parquet"]


def test_a_split_taken_out_of_the_datasets_file_is_withdrawn_from_staging_too(workspace):
    workspace.land("train/a.parquet", rows=20)
    workspace.land("test/a.parquet", rows=20, seed=4)
    hub = local_hub(workspace)
    publish(workspace, hub)
    repo = hub.repo_dir(workspace.config().datasets[0].hub)
    workspace.dataset(splits={"train": ["train/**"]}, exclude=["test/**"])  # stop publishing "test" ...
    delete_from_hub(workspace.config(), hub, DeleteRequest("ds", "default", "test", confirm=True))  # ... and drop it
    assert staged_names(workspace) == ["train-00000.parquet"]
    publish(workspace, hub)
    assert not (repo / "data" / "test-00000.parquet").exists()
    assert {k: v.num_rows for k, v in datasets.load_dataset(str(repo)).items()} == {"train": 20}


def test_deleting_the_last_split_takes_the_config_out_and_the_repo_still_loads(workspace, hub_server):
    workspace.land("train/a.parquet", rows=20)
    hub = HfHubResource(token=WRITE_TOKEN, endpoint=hub_server.url)
    publish(workspace, hub)
    api = HfApi(endpoint=hub_server.url, token=WRITE_TOKEN)
    # Another config shares the repo, and the card has a person's prose.
    legacy = io.BytesIO()
    datasets.Dataset.from_dict({"x": [1, 2, 3]}).to_parquet(legacy)
    theirs = DatasetCard.load(REPO, repo_type="dataset")
    theirs.data["configs"].append({"config_name": "legacy", "data_files": [{"split": "train",
                                                                             "path": "legacy/train-*"}]})
    theirs.text = "# Shared\n\nTheir prose.\n\n" + theirs.text
    api.create_commit(REPO, repo_type="dataset", commit_message="theirs", operations=[
        CommitOperationAdd("legacy/train-00000.parquet", legacy.getvalue()),
        CommitOperationAdd("README.md", str(theirs).encode())])

    delete_from_hub(workspace.config(), hub, DeleteRequest("ds", "default", "train", confirm=True))
    card = DatasetCard.load(REPO, repo_type="dataset")
    assert [c["config_name"] for c in card.data["configs"]] == ["legacy"] and "Their prose." in card.text
    assert datasets.load_dataset(REPO)["train"]["x"] == [1, 2, 3]  # no config named: the one left
    assert read_shards(workspace.config().datasets[0], workspace.staged) == []
    assert not (workspace.staged / "README.md").exists()


def test_after_a_delete_pr_is_merged_the_same_delete_without_it_keeps_the_split_deleted(workspace, hub_server):
    workspace.land("train/a.parquet", rows=40)
    workspace.land("test/a.parquet", rows=10, seed=5)
    hub = HfHubResource(token=WRITE_TOKEN, endpoint=hub_server.url)
    publish(workspace, hub)
    api = HfApi(endpoint=hub_server.url, token=WRITE_TOKEN)
    delete = DeleteRequest("ds", "default", split="test", confirm=True, create_pr=True)
    pr = delete_from_hub(workspace.config(), hub, delete)
    assert staged_names(workspace) == ["test-00000.parquet", "train-00000.parquet"]  # staging left as it is
    api.merge_pull_request(REPO, int(pr.metadata["pull_request"].rstrip("/").split("/")[-1]), repo_type="dataset")
    # As the README says: run it again without create_pr, else the next publish uploads the split again.
    delete_from_hub(workspace.config(), hub, DeleteRequest("ds", "default", split="test", confirm=True))
    assert staged_names(workspace) == ["train-00000.parquet"]
    publish(workspace, hub)
    assert "data/test-00000.parquet" not in api.list_repo_files(REPO, repo_type="dataset")
    assert list(datasets.load_dataset(REPO)) == ["train"]


def test_a_split_delete_on_a_lost_staging_leaves_the_other_splits_published(workspace):
    """Staging deleted by hand (or a new machine), then one split deleted: only that split goes; the empty
    staged tree the delete found is not one it emptied, so the next publish deletes nothing more."""
    workspace.land("train/a.parquet", rows=20)
    workspace.land("test/a.parquet", rows=10, seed=4)
    hub = local_hub(workspace)
    publish(workspace, hub)
    ds, paths = workspace.config().datasets[0], workspace.paths()
    repo = hub.repo_dir(ds.hub)
    shutil.rmtree(paths.staged)
    delete_from_hub(workspace.config(), hub, DeleteRequest("ds", "default", "test", confirm=True))
    assert steps.write_card(ds, paths) == ""
    with pytest.raises(RuntimeError, match="nothing staged, so nothing to publish"):
        remote.sync_request(ds, paths, "hub", "publish")
    assert (repo / "data" / "train-00000.parquet").exists() and not (repo / "data" / "test-00000.parquet").exists()


def test_a_delete_pull_request_retried_after_a_refusal_is_a_new_one(workspace, hub_server):
    """A retry looks for the pull request its lost answer may have opened by title: an older delete of the same
    split, still open for review, must not be taken for it."""
    workspace.land("train/a.parquet", rows=40)
    workspace.land("test/a.parquet", rows=10, seed=5)
    hub = HfHubResource(token=WRITE_TOKEN, endpoint=hub_server.url)
    publish(workspace, hub)
    first = delete_from_hub(workspace.config(), hub, DeleteRequest("ds", "default", "test", confirm=True,
                                                                   create_pr=True))
    hub_server.faults.fail_next(1, kind="commit", status=503)  # refused before anything was made; retried
    second = delete_from_hub(workspace.config(), hub, DeleteRequest("ds", "default", "test", confirm=True,
                                                                    create_pr=True))
    prs = HfApi(endpoint=hub_server.url, token=WRITE_TOKEN).get_repo_discussions(
        REPO, repo_type="dataset", discussion_type="pull_request")
    assert len(list(prs)) == 2 and second.metadata["pull_request"] != first.metadata["pull_request"]


def test_a_config_another_dataset_publishes_is_refused_naming_that_dataset(workspace):
    workspace.dataset(config_name="first")
    data = yaml.safe_load(workspace.config_file.read_text())
    data["datasets"].append({**data["datasets"][0], "name": "other", "config_name": "second",
                             "landing": str(workspace.root / "process" / "other"), "s3": None})
    workspace.config_file.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ProviderError, match="dataset other publishes that config to tests/ds; delete it as "
                                            "dataset other"):
        delete_from_hub(workspace.config(), local_hub(workspace), DeleteRequest("ds", "second", confirm=True))


def test_a_shard_a_running_copy_adds_is_deleted_with_its_split(workspace):
    """A delete started while a publish copies (the copy holds the staging lock shared) waits for it, so the
    split's shard that copy uploads is in the tree the delete reads, and goes in its commit too."""
    workspace.land("train/a.parquet", rows=20)
    workspace.land("test/a.parquet", rows=20, seed=4)
    hub = local_hub(workspace)
    publish(workspace, hub)
    workspace.land("test/b.parquet", rows=20, seed=5)
    ds, paths = workspace.stage()  # a second publish run: staged, about to copy
    errors = []

    def delete():
        try:
            delete_from_hub(workspace.config(), hub, DeleteRequest("ds", "default", "test", confirm=True))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    with steps.staging_lock(paths, shared=True):  # the copy's hold, taken before the delete starts
        worker = threading.Thread(target=delete)
        worker.start()
        time.sleep(1)  # the delete has started (and, before the fix, read the Hub's tree)
        remote.sync(hub, ds.hub, remote.sync_request(ds, paths, "hub", "publish"))
        assert sorted(p for p in hub.remote_tree(ds.hub) if p.startswith("data/test-")) == [
            "data/test-00000.parquet", "data/test-00001.parquet"]
    worker.join(60)
    assert not worker.is_alive() and errors == []
    assert sorted(hub.remote_tree(ds.hub)) == ["README.md", "data/train-00000.parquet"]
    assert {k: v.num_rows for k, v in datasets.load_dataset(str(hub.repo_dir(ds.hub))).items()} == {"train": 20}


def test_a_delete_job_run_without_confirm_fails_and_changes_nothing(workspace):
    """confirm defaults to false: a delete_from_hub run launched without it (a typo in the launchpad, a copied
    run config) deletes nothing from the Hub and withdraws nothing from staging."""
    workspace.land("train/a.parquet", rows=20)
    workspace.land("test/a.parquet", rows=20, seed=4)
    hub = local_hub(workspace)
    publish(workspace, hub)
    ds, paths = workspace.config().datasets[0], workspace.paths()
    commits, tree = len(hub.commits(ds.hub)), hub.remote_tree(ds.hub)
    defs = build_definitions(workspace.config(), environ={})
    rc = {"ops": {"delete_paths": {"config": {"dataset": "ds", "config_name": "default", "split": "test"}}}}
    result = defs.resolve_job_def("delete_from_hub").execute_in_process(
        run_config=rc, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    assert "without confirm: true" in result.failure_data_for_node("delete_paths").error.to_string()
    assert len(hub.commits(ds.hub)) == commits and hub.remote_tree(ds.hub) == tree
    assert staged_names(workspace) == ["test-00000.parquet", "train-00000.parquet"]
    assert not paths.file("withdrawn.json").exists()


def test_deleting_the_default_config_leaves_a_config_whose_folder_starts_with_data(workspace):
    """The default config's folder is `data`; a config sharing the repo may be named `data_v2`: the folder goes
    with what is inside it, not with every path that starts with its name."""
    workspace.land("train/a.parquet", rows=20)
    hub = local_hub(workspace)
    publish(workspace, hub)
    ds = workspace.config().datasets[0]
    repo = hub.repo_dir(ds.hub)
    (repo / "data_v2").mkdir()
    (repo / "data_v2" / "train-00000.parquet").write_bytes(b"theirs")
    delete_from_hub(workspace.config(), hub, DeleteRequest("ds", "default", confirm=True))
    assert hub.commits(ds.hub)[-1]["deleted"] == ["data/train-00000.parquet"]
    assert (repo / "data_v2" / "train-00000.parquet").read_bytes() == b"theirs"


def test_a_delete_job_run_asking_for_a_pull_request_never_commits_directly(workspace):
    """create_pr reaches the provider: the local Hub cannot open one and refuses, rather than committing."""
    workspace.land("train/a.parquet", rows=20)
    workspace.land("test/a.parquet", rows=20, seed=4)
    hub = local_hub(workspace)
    publish(workspace, hub)
    ds = workspace.config().datasets[0]
    commits = len(hub.commits(ds.hub))
    rc = {"ops": {"delete_paths": {"config": {"dataset": "ds", "config_name": "default", "split": "test",
                                              "confirm": True, "create_pr": True}}}}
    result = build_definitions(workspace.config(), environ={}).resolve_job_def("delete_from_hub").execute_in_process(
        run_config=rc, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    assert "pull requests need the real Hub provider" in result.failure_data_for_node("delete_paths").error.to_string()
    assert len(hub.commits(ds.hub)) == commits
    assert staged_names(workspace) == ["test-00000.parquet", "train-00000.parquet"]
