"""Downloads from the local Hub: hf_hub_download, HfFileSystem reads, raw resolve semantics (HEAD, Range, 416)."""

from __future__ import annotations

import http.client
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from huggingface_hub import CommitOperationAdd, HfFileSystem, hf_hub_download
from huggingface_hub.errors import EntryNotFoundError, RevisionNotFoundError

pytestmark = pytest.mark.timeout(30)

REPO = "tester/ds1"
TEXT = b"line one\nline two\n"
BLOB = bytes(range(256)) * 40  # 10240 bytes, binary -> LFS


@pytest.fixture
def repo(api):
    api.create_repo(REPO, repo_type="dataset")
    ops = [CommitOperationAdd("dir/a.txt", TEXT), CommitOperationAdd("dir/blob.bin", BLOB)]
    api.create_commit(REPO, ops, commit_message="files", repo_type="dataset")
    return REPO


def test_hf_hub_download_regular_and_lfs(repo, hub, hf_home):
    text_path = hf_hub_download(repo, "dir/a.txt", repo_type="dataset")
    blob_path = hf_hub_download(repo, "dir/blob.bin", repo_type="dataset")

    assert Path(text_path).read_bytes() == TEXT
    assert Path(blob_path).read_bytes() == BLOB
    assert str(hf_home) in text_path  # the per-test HF_HOME cache is used
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(repo, "dir/missing.txt", repo_type="dataset")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(repo, "dir/a.txt", repo_type="dataset", revision="nope")


def test_hf_file_system_ls_open_and_range_reads(repo, hub):
    fs = HfFileSystem()

    listing = fs.ls(f"datasets/{repo}/dir", detail=True)
    with fs.open(f"datasets/{repo}/dir/blob.bin", "rb", block_size=1024) as f:
        f.seek(300)
        chunk = f.read(10)
    whole = fs.cat(f"datasets/{repo}/dir/a.txt")

    assert {(e["name"], e["size"]) for e in listing} == {
        (f"datasets/{repo}/dir/a.txt", len(TEXT)),
        (f"datasets/{repo}/dir/blob.bin", len(BLOB)),
    }
    assert chunk == BLOB[300:310]
    assert whole == TEXT
    assert any(r.kind == "resolve" and r.status == 206 for r in hub.counters.log)
    assert fs.glob(f"datasets/{repo}/**/*.txt") == [f"datasets/{repo}/dir/a.txt"]


def test_resolve_headers_ranges_and_keep_alive(repo, hub):
    sha = hub.list_commits(repo)[0]["id"]
    lfs_sha256 = hub.tree(repo)["dir/blob.bin"]["sha256"]
    conn = http.client.HTTPConnection(urlsplit(hub.url).netloc, timeout=5)
    url = f"/datasets/{repo}/resolve/main/dir/blob.bin"

    conn.request("HEAD", url)
    head = conn.getresponse()
    head_body = head.read()
    # Same connection: a HEAD body would desynchronise this next response (hub-protocol.md §2.4).
    conn.request("GET", url, headers={"Range": "bytes=10-19"})
    ranged = conn.getresponse()
    ranged_body = ranged.read()
    conn.request("GET", url, headers={"Range": f"bytes={len(BLOB)}-"})
    past_end = conn.getresponse()
    past_end.read()
    conn.request("GET", f"/datasets/{repo}/resolve/main/dir/nope.txt")
    missing = conn.getresponse()
    missing.read()
    conn.close()

    assert head.status == 200 and head_body == b""
    assert head.getheader("X-Repo-Commit") == sha
    assert head.getheader("X-Linked-Etag") == f'"{lfs_sha256}"' and head.getheader("X-Linked-Size") == str(len(BLOB))
    assert head.getheader("Content-Length") == str(len(BLOB))
    assert not any(name.lower().startswith("x-xet") for name, _ in head.getheaders())
    assert ranged.status == 206 and ranged_body == BLOB[10:20]
    assert ranged.getheader("Content-Range") == f"bytes 10-19/{len(BLOB)}"
    assert past_end.status == 416 and past_end.getheader("Content-Range") == f"bytes */{len(BLOB)}"
    assert missing.status == 404 and missing.getheader("X-Error-Code") == "EntryNotFound"
    assert missing.getheader("X-Repo-Commit") == sha


def test_resolve_at_pinned_commit_and_percent_encoded_revision(api, repo, hub):
    old = hub.list_commits(repo)[0]["id"]
    api.upload_file(
        path_or_fileobj=b"changed\n", path_in_repo="dir/a.txt", repo_id=repo, repo_type="dataset", create_pr=True
    )

    pinned = hf_hub_download(repo, "dir/a.txt", repo_type="dataset", revision=old)
    on_pr = hf_hub_download(repo, "dir/a.txt", repo_type="dataset", revision="refs/pr/1")

    assert Path(pinned).read_bytes() == TEXT
    assert Path(on_pr).read_bytes() == b"changed\n"
    assert any("refs%2Fpr%2F1" in r.path for r in hub.counters.log)
