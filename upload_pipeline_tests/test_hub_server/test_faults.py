"""Fault injection and counters: what the real client retries, what surfaces, and exactly what bytes were sent.

huggingface_hub retries preupload, LFS transfers and tree pages (sleeping 1, 2, 4... s, or Retry-After + 1 s) but
not commits (hub-protocol.md §7), so fault counts stay small to keep these tests fast.
"""

from __future__ import annotations

import math
import time

import httpx2
import pytest
from huggingface_hub import CommitOperationAdd
from huggingface_hub.errors import HfHubHTTPError

pytestmark = pytest.mark.timeout(60)

REPO = "tester/ds1"


@pytest.fixture
def repo(api, hub):
    api.create_repo(REPO, repo_type="dataset")
    hub.reset()
    return REPO


def upload(api, content: bytes, path: str):
    return api.upload_file(path_or_fileobj=content, path_in_repo=path, repo_id=REPO, repo_type="dataset")


def test_429_with_retry_after_is_retried(api, hub, repo):
    rule = hub.faults.fail_next(1, "POST", r"/preupload/", status=429, retry_after=0)

    started = time.monotonic()
    upload(api, b"hello\n", "a.txt")

    assert rule.hits == 1
    assert hub.counters.count("POST", "preupload") == 2
    assert time.monotonic() - started >= 1  # Retry-After 0 -> the client waits 0 + 1 s
    assert hub.read_file(repo, "a.txt") == b"hello\n"


def test_429_carries_the_hubs_ratelimit_headers(api, hub, repo):
    """The Hub's 429 names its reset in `RateLimit` (which the client reads first), with or without Retry-After."""
    hub.faults.fail_next(1, kind="repo_info", status=429, ratelimit_reset=55)

    with pytest.raises(HfHubHTTPError) as err:
        api.repo_info(repo, repo_type="dataset")  # not retried by the client: the 429 surfaces

    assert err.value.response.status_code == 429 and "retry-after" not in err.value.response.headers
    assert "reached your 'api' rate limit" in str(err.value)
    assert "Retry after 55 seconds (0/500 requests remaining in current 300s window)" in str(err.value)


def test_500_burst_on_tree_pages_is_retried(api, hub, repo):
    hub.faults.fail_next(2, "GET", kind="tree", status=500)

    files = api.list_repo_files(repo, repo_type="dataset")

    assert files == [".gitattributes"]
    assert [r.status for r in hub.counters.log if r.kind == "tree"] == [500, 500, 200]


def test_commit_errors_are_not_retried_and_change_nothing(api, hub, repo):
    hub.faults.fail_next(1, "POST", kind="commit", status=503)

    with pytest.raises(HfHubHTTPError) as err:
        upload(api, b"x", "a.txt")

    assert err.value.response.status_code == 503
    assert hub.counters.count("POST", "commit") == 1 and hub.counters.commits == 0
    assert "a.txt" not in hub.tree(repo)


def test_connection_cut_mid_lfs_upload_is_retried(api, hub, repo):
    content = b"\x00" * 50_000
    rule = hub.faults.cut_connection("PUT", kind="lfs_upload", after_bytes=1000)

    upload(api, content, "blob.bin")

    puts = [r for r in hub.counters.log if r.kind == "lfs_upload"]
    assert rule.hits == 1
    assert [(r.status, r.bytes_received) for r in puts] == [(None, 1000), (200, len(content))]
    assert hub.counters.lfs_bytes == 1000 + len(content)
    assert hub.read_file(repo, "blob.bin") == content


def test_connection_cut_on_commit_surfaces_to_the_caller(api, hub, repo):
    hub.faults.cut_connection("POST", kind="commit", after_bytes=10)

    with pytest.raises(httpx2.RemoteProtocolError):
        upload(api, b"x", "a.txt")

    assert hub.counters.commits == 0 and "a.txt" not in hub.tree(repo)
    upload(api, b"x", "a.txt")  # the next attempt goes through
    assert hub.read_file(repo, "a.txt") == b"x"


def test_a_lost_answer_hides_a_commit_that_was_made(api, hub, repo):
    hub.faults.lose_response("POST", kind="commit")

    with pytest.raises(httpx2.RemoteProtocolError):
        upload(api, b"x", "a.txt")

    assert hub.counters.commits == 1 and hub.read_file(repo, "a.txt") == b"x"
    assert [r.status for r in hub.counters.log if r.kind == "commit"] == [None]


def test_delay_applies_to_matching_requests_only(api, hub, repo):
    hub.faults.delay(0.3, "GET", kind="repo_info", count=1)

    started = time.monotonic()
    api.dataset_info(repo)
    slow = time.monotonic() - started
    started = time.monotonic()
    api.dataset_info(repo)

    assert slow >= 0.3 and time.monotonic() - started < 0.3
    assert hub.faults.rules == []


def test_counters_match_uploaded_bytes_basic_and_multipart(api, hub, repo):
    hub.lfs_multipart_threshold, hub.lfs_chunk_size = 64 * 1024, 16 * 1024
    small, large = b"\x01" * 20_000, b"\x02" * 100_000
    ops = [
        CommitOperationAdd("small.bin", small),
        CommitOperationAdd("large.bin", large),
        CommitOperationAdd("r.txt", b"hi\n"),
    ]

    api.create_commit(REPO, ops, commit_message="mixed", repo_type="dataset")

    counters = hub.counters
    assert counters.lfs_bytes == len(small) + len(large)
    assert counters.bytes_received["lfs_upload"] == len(small)
    assert counters.count("PUT", "lfs_part") == math.ceil(len(large) / (16 * 1024))
    assert counters.count("POST", "lfs_complete") == 1 and counters.count("POST", "lfs_verify") == 2
    assert counters.commits == 1 and 0 < counters.commit_bytes < 2000  # LFS content is not in the commit
    assert hub.read_file(repo, "large.bin") == large

    hub.reset()
    assert hub.counters.requests == {} and hub.counters.lfs_bytes == 0
