"""`hub.create_pr` against the local Hub server: at most one open pull request of ours per dataset config."""

from __future__ import annotations

import datasets
import pytest
from huggingface_hub import CommitOperationAdd, HfApi

from upload_pipeline import remote
from upload_pipeline.delete import DeleteRequest, delete_from_hub
from upload_pipeline.providers import hf_pr
from upload_pipeline.providers.hf_hub import HfHubResource
from upload_pipeline_tests.conftest import WRITE_TOKEN
from upload_pipeline_tests.test_providers.test_hf_hub import someone_edits_the_card_before_our_first_commit

REPO = "tests/ds"


def message(run: str) -> str:
    # Spelled out rather than built: it is the title the Dagster asset gives a publish of dataset ds, config default.
    return f"Publish ds (default) from Dagster run {run}"


@pytest.fixture
def hub(workspace, hub_server) -> HfHubResource:
    workspace.dataset(hub={"repo_id": REPO, "create_pr": True})
    return HfHubResource(token=WRITE_TOKEN, endpoint=hub_server.url)


@pytest.fixture
def api(hub_server) -> HfApi:
    return HfApi(endpoint=hub_server.url, token=WRITE_TOKEN)


def publish(workspace, hub, run):
    ds, paths = workspace.stage()
    return remote.sync(hub, ds.hub, remote.sync_request(ds, paths, "hub", message(run)))


def prs(api, status="open"):
    """(num, title) of the repo's pull requests with `status`, oldest first."""
    return sorted((pr.num, pr.title) for pr in api.get_repo_discussions(
        REPO, repo_type="dataset", discussion_type="pull_request") if pr.status == status)


def open_foreign_pr(api, title: str, path: str) -> None:
    api.create_commit(REPO, [CommitOperationAdd(path, title.encode())], commit_message=title, repo_type="dataset",
                      create_pr=True)


def test_a_publish_with_nothing_new_opens_no_second_pull_request(workspace, hub, api, hub_server):
    workspace.land("train/a.parquet", rows=50)
    first = publish(workspace, hub, "aaaaaaaa")
    assert first.metadata["pull_request"].endswith("/discussions/1")

    hub_server.counters.reset()
    again = publish(workspace, hub, "bbbbbbbb")
    assert again.plan.noop and again.metadata["pull_request"] == first.metadata["pull_request"]
    assert again.commit_id == first.commit_id and again.bytes_sent == 0
    assert hub_server.counters.commits == 0 and hub_server.counters.lfs_bytes == 0
    assert prs(api) == [(1, message("aaaaaaaa"))]


def test_a_change_opens_a_new_pull_request_and_closes_the_one_it_supersedes(workspace, hub, api):
    workspace.land("train/a.parquet", rows=50)
    publish(workspace, hub, "aaaaaaaa")
    workspace.land("train/b.parquet", rows=20, seed=2, start_id=50)
    result = publish(workspace, hub, "bbbbbbbb")
    assert result.metadata["pull_request"].endswith("/discussions/2")
    assert prs(api) == [(2, message("bbbbbbbb"))] and prs(api, "closed") == [(1, message("aaaaaaaa"))]
    closing = [e.content for e in api.get_discussion_details(REPO, 1, repo_type="dataset").events
               if e.type == "comment"]
    assert closing[-1] == "Superseded by #2"
    assert datasets.load_dataset(REPO, revision="refs/pr/2")["train"].num_rows == 70  # the newest holds it all


def test_pull_requests_of_others_and_of_other_configs_are_left_open(workspace, hub, api):
    workspace.land("train/a.parquet", rows=50)
    publish(workspace, hub, "aaaaaaaa")
    open_foreign_pr(api, "Fix a typo in the card", "notes.md")
    open_foreign_pr(api, "Publish ds (legacy) from Dagster run cccccccc", "legacy/x.txt")
    # Theirs are newer than ours, and hold nothing of this config: ours is still the one that holds it.
    again = publish(workspace, hub, "bbbbbbbb")
    assert again.plan.noop and again.metadata["pull_request"].endswith("/discussions/1")

    workspace.land("train/b.parquet", rows=20, seed=2, start_id=50)
    result = publish(workspace, hub, "dddddddd")
    assert result.metadata["pull_request"].endswith("/discussions/4")
    assert prs(api) == [(2, "Fix a typo in the card"), (3, "Publish ds (legacy) from Dagster run cccccccc"),
                        (4, message("dddddddd"))]
    assert prs(api, "closed") == [(1, message("aaaaaaaa"))]


def test_the_check_names_the_open_pull_request_and_after_its_merge_nothing_is_left_to_publish(
        workspace, hub, api, hub_server):
    workspace.land("train/a.parquet", rows=50)
    publish(workspace, hub, "aaaaaaaa")
    publish(workspace, hub, "bbbbbbbb")
    assert [num for num, _ in prs(api)] == [1]
    ds, paths = workspace.stage()
    problems = remote.differences(hub, ds.hub, ds, paths, "hub")
    pending = f"(pending in pull request {hub.repo_url(ds.hub)}/discussions/1, not merged yet)"
    assert problems and all(p.endswith(pending) for p in problems)

    api.merge_pull_request(REPO, 1, repo_type="dataset")
    hub_server.counters.reset()
    result = publish(workspace, hub, "cccccccc")
    assert result.plan.noop and "pull_request" not in result.metadata
    assert hub_server.counters.commits == 0 and prs(api) == []
    assert remote.differences(hub, ds.hub, ds, paths, "hub") == []
    assert datasets.load_dataset(REPO)["train"].num_rows == 50


def test_an_open_pull_request_of_ours_is_closed_once_the_branch_already_has_what_it_would_commit(
        workspace, hub, api):
    """Published meanwhile without `create_pr`: the open PR proposes nothing more, and merged it would only put
    an older card back, so the next publish (a no-op) closes it."""
    workspace.land("train/a.parquet", rows=50)
    publish(workspace, hub, "aaaaaaaa")  # PR #1: train/a
    workspace.land("train/b.parquet", rows=20, seed=2, start_id=50)
    workspace.dataset(hub={"repo_id": REPO, "create_pr": False})
    publish(workspace, hub, "bbbbbbbb")  # main: train/a and train/b, no PR
    assert prs(api) == [(1, message("aaaaaaaa"))]

    workspace.dataset(hub={"repo_id": REPO, "create_pr": True})
    result = publish(workspace, hub, "cccccccc")
    assert result.plan.noop and "pull_request" not in result.metadata
    assert prs(api) == [] and prs(api, "closed") == [(1, message("aaaaaaaa"))]
    closing = [e.content for e in api.get_discussion_details(REPO, 1, repo_type="dataset").events
               if e.type == "comment"]
    assert closing[-1] == "Superseded: main already has this content"
    assert datasets.load_dataset(REPO)["train"].num_rows == 70


def test_publishes_taking_an_emptied_dataset_out_keep_one_open_pull_request(workspace, hub, api):
    """The delete job emptied staging: each publish then proposes the dataset's removal, through the same
    bookkeeping (it went through `delete_paths`, which opened one more PR per publish)."""
    workspace.land("train/a.parquet", rows=50)
    api.merge_pull_request(REPO, hf_pr_num(publish(workspace, hub, "aaaaaaaa")), repo_type="dataset")
    delete_from_hub(workspace.config(), hub, DeleteRequest("ds", "default", confirm=True))  # a PR: create_pr
    ds, paths = workspace.config().datasets[0], workspace.paths()
    results = [remote.sync(hub, ds.hub, remote.sync_request(ds, paths, "hub", message(run)))
               for run in ("bbbbbbbb", "cccccccc", "dddddddd")]  # make run, the nightly reconcile...
    ours = [num for num, title in prs(api) if title.startswith("Publish ds (default)")]
    assert len(ours) == 1
    assert [hf_pr_num(r) for r in results] == ours * 3 and results[1].plan.noop and results[2].plan.noop


def hf_pr_num(result) -> int:
    return int(result.metadata["pull_request"].rstrip("/").rsplit("/", 1)[1])


def test_a_pull_request_closed_by_a_reviewer_is_not_taken_for_the_publish(workspace, hub, api):
    """Only open pull requests can hold a publish: a closed one is never merged, so the publish opens a new one
    rather than answering with it and leaving nothing to merge."""
    workspace.land("train/a.parquet", rows=50)
    publish(workspace, hub, "aaaaaaaa")
    api.change_discussion_status(REPO, 1, new_status="closed", repo_type="dataset")
    result = publish(workspace, hub, "bbbbbbbb")
    assert not result.plan.noop and result.metadata["pull_request"].endswith("/discussions/2")
    assert prs(api) == [(2, message("bbbbbbbb"))] and prs(api, "closed") == [(1, message("aaaaaaaa"))]


def test_an_open_pull_request_holding_the_publish_closes_the_older_ones_a_crash_left(workspace, hub, api, monkeypatch):
    """A run stopped between opening its pull request and closing the one it supersedes leaves two open: the next
    publish, held by the newest, closes the older, which merged after it would put back a stale card."""
    workspace.land("train/a.parquet", rows=50)
    publish(workspace, hub, "aaaaaaaa")
    workspace.land("train/b.parquet", rows=20, seed=2, start_id=50)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("stopped before closing the superseded pull request")

    monkeypatch.setattr(hf_pr, "supersede", crash)
    with pytest.raises(KeyboardInterrupt):
        publish(workspace, hub, "bbbbbbbb")
    monkeypatch.undo()
    assert [num for num, _ in prs(api)] == [1, 2]

    result = publish(workspace, hub, "cccccccc")
    assert result.plan.noop and result.metadata["pull_request"].endswith("/discussions/2")
    assert prs(api) == [(2, message("bbbbbbbb"))] and prs(api, "closed") == [(1, message("aaaaaaaa"))]


@pytest.mark.parametrize("mode", ["in parts", "create_pr"])
def test_a_pull_request_built_while_the_branch_moved_is_closed_and_the_publish_re_planned(
        workspace, hub_server, monkeypatch, mode):
    """The Hub starts a PR at its parent commit: built on a head that moved meanwhile, merging it would conflict
    with the other writer's commit (here a card edit) or undo it. It is closed and the publish planned again."""
    if mode == "in parts":
        workspace.dataset(shard_size=5000, row_group_rows=100)
        hub = HfHubResource(token=WRITE_TOKEN, endpoint=hub_server.url, max_operations_per_commit=3)
    else:
        workspace.dataset(hub={"repo_id": REPO, "create_pr": True})
        hub = HfHubResource(token=WRITE_TOKEN, endpoint=hub_server.url)
    api = HfApi(endpoint=hub_server.url, token=WRITE_TOKEN)
    api.create_repo(REPO, repo_type="dataset")
    api.upload_file(path_or_fileobj=b"---\nlicense: mit\n---\n# Theirs\n", path_in_repo="README.md", repo_id=REPO,
                    repo_type="dataset")
    workspace.land("train/a.parquet", rows=1000)
    calls = someone_edits_the_card_before_our_first_commit(hub_server, monkeypatch)
    ds, paths = workspace.stage()
    result = remote.sync(hub, ds.hub, remote.sync_request(ds, paths, "hub", message("r1")))
    assert len(calls) == 2 and calls[0] != calls[1]
    prs = api.get_repo_discussions(REPO, repo_type="dataset", discussion_type="pull_request")
    closed, last = sorted(prs, key=lambda d: d.num)
    assert closed.status == "closed"
    assert last.status == ("merged" if mode == "in parts" else "open")
    revision = "main" if mode == "in parts" else f"refs/pr/{last.num}"
    card = api.hf_hub_download(REPO, "README.md", repo_type="dataset", revision=revision)
    assert "By someone else." in open(card, encoding="utf-8").read()
    assert result.commit_id
