"""Uploads and commits through the real HfApi: upload_file/folder, create_commit semantics, listings, history."""

from __future__ import annotations

import hashlib
import threading

import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError
from huggingface_hub.utils import get_session

pytestmark = pytest.mark.timeout(30)

REPO = "tester/ds1"


@pytest.fixture
def repo(api):
    api.create_repo(REPO, repo_type="dataset")
    return REPO


def test_upload_file_regular_and_lfs(api, hub, repo):
    api.upload_file(path_or_fileobj=b"hello world\n", path_in_repo="dir/a.txt", repo_id=repo, repo_type="dataset")
    api.upload_file(
        path_or_fileobj=b"PAR1" + b"\x00" * 1000, path_in_repo="data/x.parquet", repo_id=repo, repo_type="dataset"
    )

    tree = hub.tree(repo)
    assert tree["dir/a.txt"]["lfs"] is False and tree["data/x.parquet"]["lfs"] is True
    assert hub.read_file(repo, "dir/a.txt") == b"hello world\n"
    assert tree["data/x.parquet"]["sha256"] == hashlib.sha256(b"PAR1" + b"\x00" * 1000).hexdigest()
    assert hub.counters.count("POST", "commit") == 2 and hub.counters.commits == 2
    assert hub.counters.count("PUT", "lfs_upload") == 1  # only the parquet file went through LFS


def test_unchanged_upload_makes_no_commit(api, hub, repo):
    first = api.upload_file(path_or_fileobj=b"same\n", path_in_repo="a.txt", repo_id=repo, repo_type="dataset")
    hub.reset()

    again = api.upload_file(path_or_fileobj=b"same\n", path_in_repo="a.txt", repo_id=repo, repo_type="dataset")

    assert again.oid == first.oid  # preupload's `oid` let the client drop the no-op
    assert hub.counters.commits == 0 and hub.counters.count("POST", "commit") == 0


def test_upload_folder(api, hub, repo, tmp_path):
    folder = tmp_path / "upload"
    (folder / "data" / "sub").mkdir(parents=True)
    (folder / "README.md").write_text("# hi\n")
    (folder / "data" / "a.parquet").write_bytes(b"\x01" * 2048)
    (folder / "data" / "sub" / "b.csv").write_text("x,y\n1,2\n")

    info = api.upload_folder(folder_path=folder, repo_id=repo, repo_type="dataset", commit_message="Add folder")

    assert info.oid == hub.list_commits(repo)[0]["id"]
    assert hub.list_commits(repo)[0]["title"] == "Add folder"
    assert set(hub.tree(repo)) == {".gitattributes", "README.md", "data/a.parquet", "data/sub/b.csv"}
    assert hub.counters.commits == 1


def test_create_commit_adds_deletes_and_folder_delete(api, hub, repo):
    seed = [CommitOperationAdd(f"old/{n}.txt", f"{n}\n".encode()) for n in range(3)]
    api.create_commit(repo, [*seed, CommitOperationAdd("keep.txt", b"k")], commit_message="seed", repo_type="dataset")

    api.create_commit(
        repo,
        [
            CommitOperationAdd("new/x.parquet", b"\x00" * 64),
            CommitOperationDelete("keep.txt"),
            CommitOperationDelete("old/", is_folder=True),
        ],
        commit_message="rework",
        commit_description="adds, a delete and a folder delete",
        repo_type="dataset",
    )

    assert set(hub.tree(repo)) == {".gitattributes", "new/x.parquet"}
    head = hub.list_commits(repo)[0]
    assert (head["title"], head["message"]) == ("rework", "adds, a delete and a folder delete")


def test_failed_commit_changes_nothing(api, hub, repo):
    api.upload_file(path_or_fileobj=b"a", path_in_repo="a.txt", repo_id=repo, repo_type="dataset")
    before = hub.list_commits(repo)

    with pytest.raises(EntryNotFoundError):
        api.create_commit(
            repo,
            [CommitOperationAdd("b.txt", b"b"), CommitOperationDelete("missing.txt")],
            commit_message="bad",
            repo_type="dataset",
        )

    assert hub.list_commits(repo) == before
    assert "b.txt" not in hub.tree(repo)


def test_commit_referencing_unknown_lfs_object_is_rejected(api, hub, repo):
    payload = (
        '{"key":"header","value":{"summary":"sneaky","description":""}}\n'
        '{"key":"lfsFile","value":{"path":"x.bin","algo":"sha256","oid":"%s","size":3}}\n' % ("ab" * 32)
    )
    response = api_post(api, f"{hub.url}/api/datasets/{repo}/commit/main", payload)

    assert response.status_code == 400
    assert "does not exist" in response.json()["error"]
    assert len(hub.list_commits(repo)) == 1


def test_parent_commit_mismatch_is_412(api, hub, repo):
    stale = hub.list_commits(repo)[0]["id"]
    api.upload_file(path_or_fileobj=b"1", path_in_repo="a.txt", repo_id=repo, repo_type="dataset")

    with pytest.raises(HfHubHTTPError) as err:
        api.upload_file(
            path_or_fileobj=b"2", path_in_repo="a.txt", repo_id=repo, repo_type="dataset", parent_commit=stale
        )

    assert err.value.response.status_code == 412
    assert hub.read_file(repo, "a.txt") == b"1"
    head = hub.list_commits(repo)[0]["id"]
    api.upload_file(
        path_or_fileobj=b"3", path_in_repo="a.txt", repo_id=repo, repo_type="dataset", parent_commit=head[:7]
    )
    assert hub.read_file(repo, "a.txt") == b"3"


def test_commit_while_another_is_in_progress_on_the_branch_is_409(api, hub, repo, monkeypatch):
    """The Hub refuses, not queues, a second commit to a branch mid-commit (datasets retries it as "another commit
    is in progress"): a server that serialises them would hide a client's missing 409 handling."""
    inside, release = threading.Event(), threading.Event()
    write_commit = hub.storage.write_commit

    def slow_write_commit(*args, **kwargs):
        inside.set()
        release.wait(10)
        return write_commit(*args, **kwargs)

    monkeypatch.setattr(hub.storage, "write_commit", slow_write_commit)
    first = threading.Thread(
        target=api.upload_file,
        kwargs={"path_or_fileobj": b"1", "path_in_repo": "a.txt", "repo_id": repo, "repo_type": "dataset"},
    )
    first.start()
    try:
        assert inside.wait(10)
        with pytest.raises(HfHubHTTPError) as err:
            api.upload_file(path_or_fileobj=b"2", path_in_repo="b.txt", repo_id=repo, repo_type="dataset")
    finally:
        release.set()
        first.join()

    assert err.value.response.status_code == 409
    assert "a.txt" in hub.tree(repo) and "b.txt" not in hub.tree(repo)
    api.upload_file(path_or_fileobj=b"2", path_in_repo="b.txt", repo_id=repo, repo_type="dataset")  # free again
    assert "b.txt" in hub.tree(repo)


def test_list_repo_tree_recursive_expand_and_pagination(api, hub, repo):
    hub.tree_page_size = 2  # forces Link pagination
    ops = [CommitOperationAdd(p, b"x") for p in ("a.txt", "d/b.txt", "d/e/c.txt")]
    api.create_commit(repo, ops, commit_message="files", repo_type="dataset")

    entries = {e.path: type(e).__name__ for e in api.list_repo_tree(repo, repo_type="dataset", recursive=True)}
    top = [e.path for e in api.list_repo_tree(repo, repo_type="dataset")]
    sub = list(api.list_repo_tree(repo, path_in_repo="d", repo_type="dataset", expand=True))

    assert entries == {
        ".gitattributes": "RepoFile",
        "a.txt": "RepoFile",
        "d": "RepoFolder",
        "d/b.txt": "RepoFile",
        "d/e": "RepoFolder",
        "d/e/c.txt": "RepoFile",
    }
    assert sorted(top) == [".gitattributes", "a.txt", "d"]
    assert {e.path for e in sub} == {"d/b.txt", "d/e"}
    assert all(e.last_commit.title == "files" for e in sub)
    assert hub.counters.count("GET", "tree") > 3  # pages were followed
    with pytest.raises(EntryNotFoundError):
        list(api.list_repo_tree(repo, path_in_repo="nope", repo_type="dataset"))


def test_list_repo_commits_and_get_paths_info(api, hub, repo):
    hub.commits_page_size = 3  # 4 commits -> two pages
    for n in range(3):
        api.upload_file(
            path_or_fileobj=f"{n}".encode(),
            path_in_repo="d/a.txt",
            repo_id=repo,
            repo_type="dataset",
            commit_message=f"c{n}",
        )

    commits = api.list_repo_commits(repo, repo_type="dataset")
    infos = api.get_paths_info(repo, ["d/a.txt", "d", "missing"], repo_type="dataset")

    assert [c.title for c in commits] == ["c2", "c1", "c0", "initial commit"]
    assert commits[0].authors == ["tester"] and commits[0].created_at.tzinfo is not None
    assert hub.counters.count("GET", "commits") == 2
    assert {(type(i).__name__, i.path) for i in infos} == {("RepoFile", "d/a.txt"), ("RepoFolder", "d")}
    head_file = next(i for i in infos if i.path == "d/a.txt")
    old = api.get_paths_info(repo, ["d/a.txt"], revision=commits[2].commit_id, repo_type="dataset")[0]
    assert old.blob_id != head_file.blob_id  # c0's content, read at an older revision


def api_post(api, url: str, ndjson: str):
    return get_session().post(
        url, content=ndjson.encode(), headers={**api._build_hf_headers(), "Content-Type": "application/x-ndjson"}
    )
