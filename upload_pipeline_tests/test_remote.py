"""The remote copies when nothing is staged: after a whole-config delete they take the dataset out; staging
lost or never filled publishes nothing."""

from __future__ import annotations

import io
import shutil

import datasets
import pytest
from huggingface_hub import CommitOperationAdd, DatasetCard, HfApi

from upload_pipeline import remote, steps
from upload_pipeline.delete import DeleteRequest, delete_from_hub
from upload_pipeline.providers.hf_hub import HfHubResource
from upload_pipeline.providers.local_hub import LocalHubResource
from upload_pipeline.providers.local_s3 import LocalS3Resource
from upload_pipeline_tests.conftest import WRITE_TOKEN
from upload_pipeline_tests.test_providers.conftest import s3_provider, stage
from upload_pipeline_tests.test_providers.test_s3 import read_back

REPO = "tests/ds"


def publish_both(hub, s3, ds, paths):
    return [remote.sync(provider, target, remote.sync_request(ds, paths, role, "publish"))
            for provider, target, role in ((hub, ds.hub, "hub"), (s3, ds.s3, "s3"))]


def add_legacy_config(api):
    """Another config and a person's prose in the repo, which the dataset's removal must leave alone."""
    legacy = io.BytesIO()
    datasets.Dataset.from_dict({"x": [1, 2, 3]}).to_parquet(legacy)
    theirs = DatasetCard.load(REPO, repo_type="dataset")
    theirs.data["configs"].append({"config_name": "legacy", "data_files": "legacy/*.parquet"})
    theirs.text = "# Shared\n\nTheir prose.\n\n" + theirs.text
    api.create_commit(REPO, repo_type="dataset", commit_message="theirs", operations=[
        CommitOperationAdd("legacy/train-00000.parquet", legacy.getvalue()),
        CommitOperationAdd("README.md", str(theirs).encode())])


def test_after_the_config_is_deleted_the_copies_follow_and_a_new_file_publishes_again(
        workspace, hub_server, moto, bucket, no_ambient_aws, tmp_path):
    workspace.land("train/a.parquet", rows=20)
    workspace.land("test/a.parquet", rows=10, seed=4)
    ds, paths = stage(workspace, bucket)
    hub, s3 = HfHubResource(token=WRITE_TOKEN, endpoint=hub_server.url), s3_provider(moto.endpoint, tmp_path / "s3")
    publish_both(hub, s3, ds, paths)
    api = HfApi(endpoint=hub_server.url, token=WRITE_TOKEN)
    add_legacy_config(api)

    delete_from_hub(workspace.config(), hub, DeleteRequest("ds", "default", confirm=True))
    assert steps.write_card(ds, paths) == "" and steps.staged_files(paths) == {}
    hub_result, s3_result = publish_both(hub, s3, ds, paths)  # nothing staged is a state the copies sync
    assert hub_result.plan.noop  # the delete already took the dataset out of the Hub
    assert read_back(moto.client(), bucket) == {}  # S3 mirrors the empty tree: shards and README gone
    assert sorted(s3_result.plan.deletes) == ["README.md", "data/test-00000.parquet", "data/train-00000.parquet"]
    card = DatasetCard.load(REPO, repo_type="dataset")
    assert [c["config_name"] for c in card.data["configs"]] == ["legacy"] and "Their prose." in card.text
    assert datasets.load_dataset(REPO)["train"]["x"] == [1, 2, 3]
    for provider, target, role in ((hub, ds.hub, "hub"), (s3, ds.s3, "s3")):
        assert remote.differences(provider, target, ds, paths, role) == []
    commits = len(api.list_repo_commits(REPO, repo_type="dataset"))
    assert all(r.plan.noop for r in publish_both(hub, s3, ds, paths))
    assert len(api.list_repo_commits(REPO, repo_type="dataset")) == commits

    workspace.land("train/b.parquet", rows=5, seed=9, start_id=100)  # new data publishes as usual
    ds, paths = workspace.stage()
    publish_both(hub, s3, ds, paths)
    assert {k: v.num_rows for k, v in datasets.load_dataset(REPO, "default").items()} == {"train": 5}
    assert read_back(moto.client(), bucket) == {p: f.sha256 for p, f in steps.staged_files(paths).items()}


def test_a_staging_emptied_otherwise_than_by_the_delete_job_wipes_nothing(workspace, hub_server, moto, bucket,
                                                                         no_ambient_aws, tmp_path):
    """A new machine, or staging deleted by hand: an empty staged tree is refused, not mirrored."""
    workspace.land("train/a.parquet", rows=20)
    ds, paths = stage(workspace, bucket)
    hub, s3 = HfHubResource(token=WRITE_TOKEN, endpoint=hub_server.url), s3_provider(moto.endpoint, tmp_path / "s3")
    publish_both(hub, s3, ds, paths)
    published = read_back(moto.client(), bucket)
    for shard in (paths.staged / "data").glob("*.parquet"):
        shard.unlink()
    assert steps.write_card(ds, paths) == ""
    for role in ("hub", "s3"):
        with pytest.raises(RuntimeError, match=f"nothing staged, so nothing to publish; the {role} copy is left"):
            remote.sync_request(ds, paths, role, "publish")
    assert read_back(moto.client(), bucket) == published
    assert datasets.load_dataset(REPO)["train"].num_rows == 20
    # The reconcile's check still tells: the remote has what staging lost.
    assert "data/train-00000.parquet: remote only" in remote.differences(hub, ds.hub, ds, paths, "hub")


def test_nothing_landed_yet_is_nothing_to_publish_and_shards_without_their_card_are_refused(workspace):
    ds, paths = workspace.config().datasets[0], workspace.paths()
    assert steps.write_card(ds, paths) == ""
    with pytest.raises(RuntimeError, match="nothing staged, so nothing to publish"):
        remote.sync_request(ds, paths, "hub", "publish")

    workspace.land("train/a.parquet", rows=20)
    ds, paths = workspace.stage()
    (paths.staged / "README.md").unlink()
    with pytest.raises(RuntimeError, match="README.md: no dataset card staged; materialize dataset_card first"):
        remote.sync_request(ds, paths, "s3", "publish")


def test_nothing_published_tells_a_dataset_not_landed_yet_from_a_lost_staging(workspace, hub_server, moto, bucket,
                                                                               no_ambient_aws, tmp_path):
    ds, paths = stage(workspace, bucket)  # nothing landed: nothing staged
    hub, s3 = HfHubResource(token=WRITE_TOKEN, endpoint=hub_server.url), s3_provider(moto.endpoint, tmp_path / "s3")
    for provider, target, role in ((hub, ds.hub, "hub"), (s3, ds.s3, "s3")):  # no repo yet; an empty bucket
        assert remote.nothing_published(provider, target, ds, paths, role)
        assert remote.differences(provider, target, ds, paths, role) == []
    workspace.land("train/a.parquet", rows=20)
    ds, paths = stage(workspace, bucket)
    publish_both(hub, s3, ds, paths)
    for shard in (paths.staged / "data").glob("*.parquet"):
        shard.unlink()
    steps.write_card(ds, paths)
    for provider, target, role in ((hub, ds.hub, "hub"), (s3, ds.s3, "s3")):
        assert not remote.nothing_published(provider, target, ds, paths, role)


def test_a_staging_lost_after_the_dataset_was_staged_again_is_refused_not_taken_for_the_deletes(workspace):
    """The delete job's note that it emptied staging holds only until shards are staged again: a staging lost
    after that (a new machine, deleted by hand) is refused like any other, so the nightly reconcile wipes nothing."""
    workspace.land("train/a.parquet", rows=20)
    ds, paths = workspace.stage()
    hub = LocalHubResource(root=str(workspace.root / "remote" / "hub"))
    s3 = LocalS3Resource(root=str(workspace.root / "remote" / "s3"))
    publish_both(hub, s3, ds, paths)
    delete_from_hub(workspace.config(), hub, DeleteRequest("ds", "default", confirm=True))
    publish_both(hub, s3, ds, paths)  # the copies follow the emptied tree
    workspace.land("train/b.parquet", rows=5, seed=9, start_id=100)
    ds, paths = workspace.stage()
    publish_both(hub, s3, ds, paths)
    published = hub.remote_tree(ds.hub), s3.remote_tree(ds.s3)
    assert "data/train-00000.parquet" in published[0]
    shutil.rmtree(paths.staged)
    for role in ("hub", "s3"):
        with pytest.raises(remote.NothingStaged):
            remote.sync_request(ds, paths, role, "publish")
    assert (hub.remote_tree(ds.hub), s3.remote_tree(ds.s3)) == published


def test_a_staged_card_edited_to_the_same_size_is_published_again(workspace):
    """The staged tree's hash cache is keyed by size and mtime: a card a person edited without changing its length
    is hashed again and uploaded, not taken for the one the copy has (which the check would not notice either)."""
    workspace.land("train/a.parquet", rows=20)
    ds, paths = workspace.stage()
    s3 = LocalS3Resource(root=str(workspace.root / "remote" / "s3"))
    remote.sync(s3, ds.s3, remote.sync_request(ds, paths, "s3", "publish"))
    readme = paths.staged / "README.md"
    edited = readme.read_text().replace("published by upload_pipeline.", "published by our ML platform.")
    assert len(edited) == len(readme.read_text()) and edited != readme.read_text()
    readme.write_text(edited)
    assert steps.write_card(ds, paths) == edited  # a person's prose is kept
    result = remote.sync(s3, ds.s3, remote.sync_request(ds, paths, "s3", "publish"))
    assert [u.path for u in result.plan.uploads] == ["README.md"]
    assert s3.read_text(ds.s3, "README.md") == edited and remote.differences(s3, ds.s3, ds, paths, "s3") == []


def test_a_keep_policy_copy_holding_the_dataset_is_not_taken_for_an_empty_one(workspace):
    """Under `keep` a sync deletes nothing, yet what is under the prefix is the dataset's: with staging lost, the
    asset must fail loudly instead of reporting "nothing landed yet"."""
    workspace.land("train/a.parquet", rows=20)
    workspace.dataset(s3={"bucket": "test-bucket", "prefix": "datasets/ds", "delete_policy": "keep"})
    ds, paths = workspace.stage()
    s3 = LocalS3Resource(root=str(workspace.root / "remote" / "s3"))
    remote.sync(s3, ds.s3, remote.sync_request(ds, paths, "s3", "publish"))
    for shard in (paths.staged / "data").glob("*.parquet"):
        shard.unlink()
    assert steps.write_card(ds, paths) == ""
    assert not remote.nothing_published(s3, ds.s3, ds, paths, "s3")


def test_taking_the_dataset_out_of_a_repo_that_is_gone_is_nothing_to_do(workspace, hub_server):
    """After the delete job, the repo itself was deleted (or the revision's branch): there is nothing to take the
    dataset out of, so the publish is a no-op rather than an error."""
    workspace.land("train/a.parquet", rows=20)
    ds, paths = workspace.stage()
    hub = HfHubResource(token=WRITE_TOKEN, endpoint=hub_server.url)
    remote.sync(hub, ds.hub, remote.sync_request(ds, paths, "hub", "publish"))
    delete_from_hub(workspace.config(), hub, DeleteRequest("ds", "default", confirm=True))
    HfApi(endpoint=hub_server.url, token=WRITE_TOKEN).delete_repo(REPO, repo_type="dataset")
    result = remote.sync(hub, ds.hub, remote.sync_request(ds, paths, "hub", "publish"))
    assert result.plan.noop and result.commit_id is None and not hub_server.repo_exists(REPO)
