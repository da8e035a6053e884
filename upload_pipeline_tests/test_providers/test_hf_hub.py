"""The Hub provider against the local Hub server over HTTP: one commit per publish, 412, PRs, auth (faults and
retries: test_hf_retry.py)."""

from __future__ import annotations


import datasets
import pytest
from huggingface_hub import DatasetCard, HfApi

from upload_pipeline import remote
from upload_pipeline.card import generated_metadata
from upload_pipeline.delete import DeleteRequest, delete_from_hub
from upload_pipeline.providers.base import MissingCredentials, ProviderError
from upload_pipeline.providers.hf_hub import HfHubResource
from upload_pipeline_tests.conftest import READ_TOKEN, WRITE_TOKEN

REPO = "tests/ds"


def provider(server, token=WRITE_TOKEN, **kw) -> HfHubResource:
    return HfHubResource(token=token, endpoint=server.url, **kw)


def publish(workspace, hub, message="publish"):
    ds, paths = workspace.stage()
    return remote.sync(hub, ds.hub, remote.sync_request(ds, paths, "hub", message))


def user_commits(server, revision="main"):
    # The server's repo creation makes an "initial commit" with .gitattributes, as the Hub does.
    return [c for c in server.list_commits(REPO, revision) if c["title"] != "initial commit"]


def test_publish_is_one_commit_loadable_and_a_rerun_is_a_noop(workspace, hub_server):
    workspace.land("train/a.parquet", rows=120)
    workspace.land("test/a.parquet", rows=30, seed=1)
    hub = provider(hub_server)
    result = publish(workspace, hub)
    assert result.commit_id and not result.plan.noop
    assert len(user_commits(hub_server)) == 1
    loaded = datasets.load_dataset(REPO)
    assert {k: v.num_rows for k, v in loaded.items()} == {"train": 120, "test": 30}
    assert HfApi(endpoint=hub_server.url, token=WRITE_TOKEN).repo_info(REPO, repo_type="dataset").private
    assert remote.differences(hub, workspace.config().datasets[0].hub, *workspace.stage(), "hub") == []

    hub_server.counters.reset()
    again = publish(workspace, hub)
    assert again.plan.noop and hub_server.counters.commits == 0 and hub_server.counters.lfs_bytes == 0
    assert len(user_commits(hub_server)) == 1


def test_an_append_sends_only_the_new_shard_and_the_card(workspace, hub_server):
    workspace.land("train/a.parquet", rows=200)
    hub = provider(hub_server)
    publish(workspace, hub)
    workspace.land("train/b.parquet", rows=50, seed=2, start_id=200)
    hub_server.counters.reset()
    result = publish(workspace, hub)
    new_shard = workspace.staged / "data" / "train-00001.parquet"
    assert [u.path for u in result.plan.uploads] == ["data/train-00001.parquet", "README.md"]
    assert hub_server.counters.lfs_bytes == new_shard.stat().st_size
    readme = len((workspace.staged / "README.md").read_bytes())
    assert hub_server.counters.commit_bytes < 2 * readme + 2000  # base64 card + NDJSON framing, no shard bytes
    assert hub_server.counters.commits == 1
    assert datasets.load_dataset(REPO)["train"].num_rows == 250


def test_an_lfs_transfer_refused_names_the_file_and_the_reason(workspace, hub_server):
    workspace.land("train/a.parquet", rows=500)
    hub_server.faults.fail_next(1, kind="lfs_upload", status=400)
    with pytest.raises(ProviderError, match="upload to tests/ds") as raised:
        publish(workspace, provider(hub_server))
    assert "'data/train-00000.parquet' to the Hub: HTTP 400 (the Hub said: Injected fault" in str(raised.value)
    assert user_commits(hub_server) == []


def someone_edits_the_card_before_our_first_commit(hub_server, monkeypatch) -> list[str]:
    """After the plan, before its commit, another writer adds a section to the card on main; returns the base
    of each of our commit attempts."""
    api = HfApi(endpoint=hub_server.url, token=WRITE_TOKEN)
    real_commit = HfHubResource._commit
    calls = []

    def someone_else_commits_first(self, target, plan, message, force_pr=False):
        if not calls:
            card = DatasetCard.load(REPO, repo_type="dataset")
            card.text += "\n## Written on the Hub\n\nBy someone else.\n"
            api.upload_file(path_or_fileobj=str(card).encode(), path_in_repo="README.md", repo_id=REPO,
                            repo_type="dataset", commit_message="edit card")
        calls.append(plan.base)
        return real_commit(self, target, plan, message, force_pr)

    monkeypatch.setattr(HfHubResource, "_commit", someone_else_commits_first)
    return calls


def test_a_concurrent_writer_causes_412_then_a_remerge_keeps_their_change(workspace, hub_server, monkeypatch):
    workspace.land("train/a.parquet", rows=50)
    hub = provider(hub_server)
    publish(workspace, hub)
    workspace.land("train/b.parquet", rows=10, seed=3, start_id=50)
    calls = someone_edits_the_card_before_our_first_commit(hub_server, monkeypatch)
    publish(workspace, hub)
    assert len(calls) == 2 and calls[0] != calls[1]  # the second attempt is pinned to the new head
    card = str(DatasetCard.load(REPO, repo_type="dataset"))
    assert "By someone else." in card
    assert generated_metadata(card, "default")[1]["splits"][0]["num_examples"] == 60
    assert sorted(c["title"] for c in user_commits(hub_server)) == ["edit card", "publish", "publish"]


def test_bad_token_fails_before_any_upload_and_says_what_to_set(workspace, hub_server):
    workspace.land("train/a.parquet", rows=50)
    with pytest.raises(MissingCredentials, match="set HF_TOKEN"):
        publish(workspace, provider(hub_server, token="hf_wrong"))
    assert hub_server.counters.count(kind="preupload") == 0 and hub_server.counters.lfs_bytes == 0


def test_read_only_token_is_refused_without_retries(workspace, hub_server):
    workspace.land("train/a.parquet", rows=50)
    HfApi(endpoint=hub_server.url, token=WRITE_TOKEN).create_repo(REPO, repo_type="dataset")
    with pytest.raises(ProviderError, match="403") as info:
        publish(workspace, provider(hub_server, token=READ_TOKEN))
    assert READ_TOKEN not in str(info.value)
    assert hub_server.counters.lfs_bytes == 0
    assert [r.kind for r in hub_server.counters.log if r.status == 403] == ["preupload"]  # asked once, no retries


def test_no_token_at_all_names_the_variable(workspace, hub_server, monkeypatch):
    for var in ("HF_TOKEN", "HF_HUB_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(MissingCredentials, match="set HF_TOKEN"):
        provider(hub_server, token=None).check_auth()


def test_revision_branch_is_created_and_main_left_alone(workspace, hub_server):
    ds = workspace.dataset(hub={"repo_id": REPO, "revision": "staging"})
    workspace.land("train/a.parquet", rows=50)
    publish(workspace, provider(hub_server))
    assert len(user_commits(hub_server, "staging")) == 1 and user_commits(hub_server, "main") == []
    assert datasets.load_dataset(REPO, revision=ds.hub.revision)["train"].num_rows == 50


def test_pr_mode_opens_a_pull_request_and_leaves_main(workspace, hub_server):
    workspace.dataset(hub={"repo_id": REPO, "create_pr": True})
    workspace.land("train/a.parquet", rows=50)
    result = publish(workspace, provider(hub_server))
    assert "pull_request" in result.metadata
    assert user_commits(hub_server) == [] and hub_server.refs(REPO)["prs"]


def test_a_pull_request_whose_answer_is_lost_is_opened_once(workspace, hub_server):
    workspace.dataset(hub={"repo_id": REPO, "create_pr": True})
    workspace.land("train/a.parquet", rows=50)
    hub_server.faults.lose_response(kind="commit")  # the PR opens; the client cannot tell and retries
    result = publish(workspace, provider(hub_server), message="publish run abc")
    prs = list(HfApi(endpoint=hub_server.url, token=WRITE_TOKEN).get_repo_discussions(
        REPO, repo_type="dataset", discussion_type="pull_request"))
    assert [(pr.title, pr.num) for pr in prs] == [("publish run abc", 1)]
    assert result.metadata["pull_request"].endswith("/discussions/1") and len(hub_server.refs(REPO)["prs"]) == 1
    assert result.commit_id == hub_server.refs(REPO)["prs"]["1"] and user_commits(hub_server) == []


@pytest.mark.parametrize("lost", ["commit", "discussion_merge"])
def test_a_publish_in_parts_whose_answers_are_lost_still_lands_once(workspace, hub_server, lost):
    workspace.dataset(shard_size=5000, row_group_rows=100)
    workspace.land("train/a.parquet", rows=1000)
    hub_server.faults.lose_response(kind=lost)
    result = publish(workspace, provider(hub_server, max_operations_per_commit=3))
    assert result.metadata["commits"] > 1 and len(hub_server.refs(REPO)["prs"]) == 1
    assert len(user_commits(hub_server)) == 1
    assert datasets.load_dataset(REPO)["train"].num_rows == 1000


def test_a_publish_too_big_for_one_commit_lands_on_main_in_one_merge(workspace, hub_server):
    workspace.dataset(shard_size=5000, row_group_rows=100)
    workspace.land("train/a.parquet", rows=1000)
    result = publish(workspace, provider(hub_server, max_operations_per_commit=3))
    assert result.metadata["commits"] > 1
    main = user_commits(hub_server)
    assert len(main) == 1  # first-parent history of main: just the merge
    assert datasets.load_dataset(REPO)["train"].num_rows == 1000


def test_card_merge_keeps_foreign_configs_and_prose_on_the_hub(workspace, hub_server):
    api = HfApi(endpoint=hub_server.url, token=WRITE_TOKEN)
    api.create_repo(REPO, repo_type="dataset")
    theirs = ("---\nconfigs:\n- config_name: legacy\n  data_files: legacy/*.parquet\nlicense: apache-2.0\n---\n"
              "# Their dataset\n\nHand-written introduction.\n")
    api.upload_file(path_or_fileobj=theirs.encode(), path_in_repo="README.md", repo_id=REPO, repo_type="dataset")
    api.upload_file(path_or_fileobj=b"PAR1-not-ours", path_in_repo="legacy/x.parquet", repo_id=REPO,
                    repo_type="dataset")
    workspace.land("train/a.parquet", rows=40)
    publish(workspace, provider(hub_server))
    card = DatasetCard.load(REPO, repo_type="dataset")
    assert card.text.startswith("# Their dataset\n\nHand-written introduction.")
    assert [c["config_name"] for c in card.data["configs"]] == ["default", "legacy"]
    assert "legacy/x.parquet" in api.list_repo_files(REPO, repo_type="dataset")
    assert datasets.load_dataset(REPO, "default")["train"].num_rows == 40


def test_delete_a_split_then_the_config_each_in_one_commit(workspace, hub_server):
    workspace.land("train/a.parquet", rows=40)
    workspace.land("test/a.parquet", rows=10, seed=5)
    hub = provider(hub_server)
    publish(workspace, hub)
    cfg = workspace.config()
    before = len(user_commits(hub_server))
    delete_from_hub(cfg, hub, DeleteRequest("ds", "default", split="test", confirm=True))
    assert len(user_commits(hub_server)) == before + 1
    files = HfApi(endpoint=hub_server.url, token=WRITE_TOKEN).list_repo_files(REPO, repo_type="dataset")
    assert "data/test-00000.parquet" not in files and "data/train-00000.parquet" in files
    assert list(datasets.load_dataset(REPO)) == ["train"]

    pr = delete_from_hub(cfg, hub, DeleteRequest("ds", "default", confirm=True, create_pr=True))
    assert "pull_request" in pr.metadata and len(user_commits(hub_server)) == before + 1
    delete_from_hub(cfg, hub, DeleteRequest("ds", "default", confirm=True))
    card = DatasetCard.load(REPO, repo_type="dataset")
    assert not card.data.get("configs") and not card.data.get("dataset_info")
    assert not [f for f in HfApi(endpoint=hub_server.url, token=WRITE_TOKEN).list_repo_files(
        REPO, repo_type="dataset") if f.startswith("data/")]


def test_a_publish_in_parts_reports_the_merge_commit_on_main(workspace, hub_server):
    """The result's commit is what `main` is now (the archive and the audit name it), not the PR's last commit."""
    workspace.dataset(shard_size=5000, row_group_rows=100)
    workspace.land("train/a.parquet", rows=1000)
    result = publish(workspace, provider(hub_server, max_operations_per_commit=3))
    assert result.metadata["commits"] > 1
    [merge] = user_commits(hub_server)
    assert result.commit_id == merge["id"] != hub_server.refs(REPO)["prs"]["1"]


def test_a_token_that_may_not_create_the_repo_is_refused_without_retries(workspace, hub_server):
    workspace.land("train/a.parquet", rows=50)
    with pytest.raises(ProviderError, match="403"):
        publish(workspace, provider(hub_server, token=READ_TOKEN))
    assert [r.kind for r in hub_server.counters.log if r.status == 403] == ["repo_create"]  # asked once


def test_a_delete_in_parts_whose_part_answer_is_lost_lands_once(workspace, hub_server):
    """Part 2 lands but its answer is lost: the retry sees it at the PR's head instead of deleting again (404)."""
    workspace.dataset(shard_size=5000, row_group_rows=100)
    workspace.land("train/a.parquet", rows=1000)
    hub = provider(hub_server, max_operations_per_commit=3)
    publish(workspace, hub)
    api = HfApi(endpoint=hub_server.url, token=WRITE_TOKEN)
    assert len([f for f in api.list_repo_files(REPO, repo_type="dataset") if f.startswith("data/")]) > 3
    rule = hub_server.faults.lose_response(kind="commit", path=r"/commit/refs%2Fpr%2F")
    delete_from_hub(workspace.config(), hub, DeleteRequest("ds", "default", confirm=True))
    assert rule.hits == 1
    assert not [f for f in api.list_repo_files(REPO, repo_type="dataset") if f.startswith("data/")]
    assert len(hub_server.refs(REPO)["prs"]) == 2  # the publish's and the delete's, each merged once
