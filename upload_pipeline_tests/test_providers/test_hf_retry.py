"""Faults between the Hub provider and the local Hub server: what is retried and how long it waits, and that a cut
connection or a lost answer still ends in exactly one commit."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import datasets
import pytest
from huggingface_hub import DatasetCard, HfApi
from huggingface_hub.utils import _http as hf_http

from upload_pipeline.providers.base import ProviderError
from upload_pipeline.providers.hf_retry import with_retries
from upload_pipeline_tests.conftest import WRITE_TOKEN
from upload_pipeline_tests.test_providers.test_hf_hub import REPO, provider, publish, user_commits


def test_rate_limits_and_server_errors_are_retried(workspace, hub_server):
    workspace.land("train/a.parquet", rows=50)
    hub_server.faults.fail_next(2, kind="commit", status=429, retry_after=1)
    hub_server.faults.fail_next(2, kind="preupload", status=503)
    hub_server.faults.fail_next(1, kind="repo_info", status=500)
    result = publish(workspace, provider(hub_server, http_attempts=4))
    assert result.commit_id and len(user_commits(hub_server)) == 1


def test_a_card_that_cannot_be_read_fails_the_publish_instead_of_being_replaced(workspace, hub_server, monkeypatch):
    theirs = "---\nlicense: mit\n---\n# Their dataset\n\nHand-written introduction.\n"
    api = HfApi(endpoint=hub_server.url, token=WRITE_TOKEN)
    api.create_repo(REPO, repo_type="dataset", private=True)
    api.upload_file(path_or_fileobj=theirs.encode(), path_in_repo="README.md", repo_id=REPO, repo_type="dataset")
    workspace.land("train/a.parquet", rows=50)
    # huggingface_hub retries the download 5 times itself (1 + 2 + 4 + 8 + 8 s); its waits are skipped here.
    monkeypatch.setattr(hf_http, "time", SimpleNamespace(**{**vars(time), "sleep": lambda _: None}))
    hub_server.faults.fail_next(100, kind="resolve", status=503)  # every try fails
    with pytest.raises(ProviderError, match="read README.md of tests/ds: HTTP 503"):
        publish(workspace, provider(hub_server, http_attempts=1))
    hub_server.faults.reset()
    assert DatasetCard.load(REPO, repo_type="dataset").text.startswith("# Their dataset\n\nHand-written")
    assert [c["title"] for c in user_commits(hub_server)] == ["Upload README.md with huggingface_hub"]


def test_a_connection_cut_mid_upload_is_retried(workspace, hub_server):
    workspace.land("train/a.parquet", rows=3000)
    rule = hub_server.faults.cut_connection(kind="lfs_upload", after_bytes=1000)
    publish(workspace, provider(hub_server))
    assert rule.hits == 1
    assert datasets.load_dataset(REPO)["train"].num_rows == 3000


def test_a_connection_cut_on_the_commit_ends_in_exactly_one_commit(workspace, hub_server):
    workspace.land("train/a.parquet", rows=50)
    hub_server.faults.cut_connection(kind="commit", after_bytes=10)
    publish(workspace, provider(hub_server))
    assert len(user_commits(hub_server)) == 1


def test_a_commit_whose_answer_is_lost_is_reported_as_the_commit_it_was(workspace, hub_server):
    workspace.land("train/a.parquet", rows=50)
    hub_server.faults.lose_response(kind="commit")  # it lands; the retry then meets a moved parent (412)
    result = publish(workspace, provider(hub_server), message="publish run abc")
    [commit] = user_commits(hub_server)
    assert not result.plan.noop and result.commit_id == commit["id"] and result.metadata["answer_lost"]
    assert sorted(u.path for u in result.plan.uploads) == ["README.md", "data/train-00000.parquet"]
    assert result.bytes_sent == result.plan.upload_bytes > 0


def test_after_a_failed_commit_the_rerun_does_not_resend_uploads(workspace, hub_server):
    workspace.land("train/a.parquet", rows=3000)
    hub_server.faults.fail_next(3, kind="commit", status=500)
    with pytest.raises(ProviderError, match="HTTP 500"):
        publish(workspace, provider(hub_server, http_attempts=3))
    assert user_commits(hub_server) == [] and hub_server.counters.lfs_bytes > 0
    hub_server.counters.reset()
    publish(workspace, provider(hub_server))
    assert hub_server.counters.lfs_bytes == 0 and hub_server.counters.commits == 1
    assert datasets.load_dataset(REPO)["train"].num_rows == 3000


def test_retry_after_is_honoured_and_capped(hub_server):
    """The wait before a retry is the server's Retry-After, at most max_wait: never a backoff of our own that
    comes back too early, nor an hour's sleep."""
    api = HfApi(endpoint=hub_server.url, token=WRITE_TOKEN)
    api.create_repo(REPO, repo_type="dataset")
    hub_server.faults.fail_next(1, kind="repo_info", status=429, retry_after=7)
    hub_server.faults.fail_next(1, kind="repo_info", status=503, retry_after=3600)
    slept = []
    info = with_retries("read", lambda: api.repo_info(REPO, repo_type="dataset"), sleep=slept.append)
    assert info.sha and slept == [7, 30]


@pytest.mark.parametrize(("reset", "slept"), [(3, [3]), (55, [30])])
def test_a_429_with_only_the_ratelimit_header_waits_its_reset(hub_server, reset, slept):
    """The Hub may send `RateLimit: "api";r=0;t=N` without Retry-After: N is the wait, capped as Retry-After is."""
    api = HfApi(endpoint=hub_server.url, token=WRITE_TOKEN)
    api.create_repo(REPO, repo_type="dataset")
    hub_server.faults.fail_next(1, kind="repo_info", status=429, ratelimit_reset=reset)
    waits = []
    assert with_retries("read", lambda: api.repo_info(REPO, repo_type="dataset"), sleep=waits.append).sha
    assert waits == slept


def test_a_commit_meeting_another_in_progress_waits_then_re_plans_on_it(workspace, hub_server, monkeypatch):
    """The Hub answers 409 while another commit to the branch is being applied: nothing of ours landed, so the
    commit is tried again; by then the branch has moved (412), and the publish re-plans on the other commit."""
    workspace.land("train/a.parquet", rows=50)
    hub = provider(hub_server)
    publish(workspace, hub)
    workspace.land("train/b.parquet", rows=10, seed=3, start_id=50)
    inside, release = threading.Event(), threading.Event()
    write_commit = hub_server.storage.write_commit

    def held(*args, **kwargs):  # someone else's commit, half applied when ours arrives
        inside.set()
        release.wait(20)
        return write_commit(*args, **kwargs)

    def release_after_our_409():
        while not any(r.status == 409 for r in hub_server.counters.log):
            time.sleep(0.05)
        release.set()

    monkeypatch.setattr(hub_server.storage, "write_commit", held)
    api = HfApi(endpoint=hub_server.url, token=WRITE_TOKEN)
    other = threading.Thread(target=api.upload_file, kwargs={
        "path_or_fileobj": b"x", "path_in_repo": "other.txt", "repo_id": REPO, "repo_type": "dataset"})
    other.start()
    assert inside.wait(10)
    threading.Thread(target=release_after_our_409, daemon=True).start()
    try:
        result = publish(workspace, hub)
    finally:
        release.set()
        other.join()
    assert [r.status for r in hub_server.counters.log if r.kind == "commit" and r.status >= 400] == [409, 412]
    assert result.commit_id == api.repo_info(REPO, repo_type="dataset").sha
    assert {"other.txt", "data/train-00001.parquet"} <= set(api.list_repo_files(REPO, repo_type="dataset"))
    assert datasets.load_dataset(REPO)["train"].num_rows == 60
