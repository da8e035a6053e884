"""Branches, tags and pull requests on the local Hub through the real HfApi."""

from __future__ import annotations

import pytest
from huggingface_hub import CommitOperationAdd
from huggingface_hub.errors import HfHubHTTPError, RevisionNotFoundError

pytestmark = pytest.mark.timeout(30)

REPO = "tester/ds1"


@pytest.fixture
def repo(api):
    api.create_repo(REPO, repo_type="dataset")
    api.upload_file(path_or_fileobj=b"v1\n", path_in_repo="a.txt", repo_id=REPO, repo_type="dataset")
    return REPO


def upload(api, content: bytes, path: str = "a.txt", **kwargs):
    return api.upload_file(path_or_fileobj=content, path_in_repo=path, repo_id=REPO, repo_type="dataset", **kwargs)


def test_branch_commit_and_refs(api, hub, repo):
    first = hub.list_commits(repo)[0]["id"]
    api.create_branch(repo, branch="dev", repo_type="dataset")
    api.create_branch(repo, branch="dev", repo_type="dataset", exist_ok=True)

    upload(api, b"dev\n", revision="dev")

    assert hub.read_file(repo, "a.txt", "dev") == b"dev\n"
    assert hub.read_file(repo, "a.txt") == b"v1\n"
    refs = api.list_repo_refs(repo, repo_type="dataset")
    assert {b.name for b in refs.branches} == {"main", "dev"}
    assert refs.converts == [] and refs.tags == []
    with pytest.raises(HfHubHTTPError) as err:
        api.create_branch(repo, branch="dev", repo_type="dataset")
    assert err.value.response.status_code == 409
    api.delete_branch(repo, branch="dev", repo_type="dataset")
    assert hub.refs(repo)["branches"] == {"main": first}


def test_branch_from_revision_and_missing_starting_point(api, hub, repo):
    initial = hub.list_commits(repo)[-1]["id"]

    api.create_branch(repo, branch="from-initial", revision=initial, repo_type="dataset")

    assert "a.txt" not in hub.tree(repo, "from-initial")
    with pytest.raises(RevisionNotFoundError):
        api.create_branch(repo, branch="x", revision="nope", repo_type="dataset")


def test_commit_or_pr_on_a_tag_or_commit_id_is_revision_not_found(api, hub, repo):
    """Only branches (and PR refs) take commits; the Hub answers RevisionNotFound for the rest (huggingface_hub's
    `create_commit` docs), which the client maps to `RevisionNotFoundError`."""
    head = hub.list_commits(repo)[0]["id"]
    api.create_tag(repo, tag="v1", repo_type="dataset")

    for revision, create_pr in ((head, True), (head, False), ("v1", False)):
        with pytest.raises(RevisionNotFoundError):
            upload(api, b"x\n", "x.txt", revision=revision, create_pr=create_pr)

    assert hub.list_commits(repo)[0]["id"] == head and not hub.refs(repo)["prs"]


def test_tags(api, hub, repo):
    api.create_tag(repo, tag="v1.0", repo_type="dataset")
    upload(api, b"v2\n")

    assert hub.read_file(repo, "a.txt", "v1.0") == b"v1\n"
    assert [t.name for t in api.list_repo_refs(repo, repo_type="dataset").tags] == ["v1.0"]
    api.delete_tag(repo, tag="v1.0", repo_type="dataset")
    assert hub.refs(repo)["tags"] == {}


def test_create_pr_commit_then_merge(api, hub, repo):
    info = upload(api, b"proposed\n", create_pr=True, commit_message="Propose change")

    assert info.pr_num == 1 and info.pr_revision == "refs/pr/1"
    assert hub.read_file(repo, "a.txt") == b"v1\n"
    assert hub.read_file(repo, "a.txt", "refs/pr/1") == b"proposed\n"
    details = api.get_discussion_details(repo, 1, repo_type="dataset")
    assert (details.is_pull_request, details.status, details.target_branch) == (True, "open", "refs/heads/main")
    assert details.conflicting_files == [] and details.git_reference == "refs/pr/1"
    prs = api.list_repo_refs(repo, repo_type="dataset", include_pull_requests=True).pull_requests
    assert [p.ref for p in prs] == ["refs/pr/1"]

    api.merge_pull_request(repo, 1, repo_type="dataset")

    assert hub.read_file(repo, "a.txt") == b"proposed\n"
    merged = api.get_discussion_details(repo, 1, repo_type="dataset")
    assert merged.status == "merged" and merged.merge_commit_oid == hub.list_commits(repo)[0]["id"]


def test_create_pull_request_push_to_it_and_close(api, hub, repo):
    pr = api.create_pull_request(repo, title="Empty PR", repo_type="dataset")
    assert (pr.num, pr.status, pr.git_reference) == (1, "draft", "refs/pr/1")

    api.create_commit(
        repo,
        [CommitOperationAdd("b.txt", b"b")],
        commit_message="on the PR",
        revision=pr.git_reference,
        repo_type="dataset",
    )

    details = api.get_discussion_details(repo, pr.num, repo_type="dataset")
    assert details.status == "open"
    assert [e.type for e in details.events] == ["comment", "commit"]
    event = api.change_discussion_status(repo, pr.num, "closed", comment="not needed", repo_type="dataset")
    assert event.new_status == "closed"
    assert [d.status for d in api.get_repo_discussions(repo, repo_type="dataset")] == ["closed"]
    assert "b.txt" not in hub.tree(repo)


def test_merge_with_conflicting_files_is_refused(api, hub, repo):
    upload(api, b"pr side\n", create_pr=True)
    upload(api, b"main side\n")

    assert api.get_discussion_details(repo, 1, repo_type="dataset").conflicting_files == ["a.txt"]
    with pytest.raises(HfHubHTTPError) as err:
        api.merge_pull_request(repo, 1, repo_type="dataset")
    assert err.value.response.status_code == 409
    assert hub.read_file(repo, "a.txt") == b"main side\n"


def test_create_pr_with_a_stale_parent_commit_opens_the_pr_from_it(api, hub, repo):
    """With `create_pr`, `parentCommit` is where the PR starts, not a 412 check (huggingface_hub's `create_commit`:
    "If specified and `create_pr` is `True`, the pull request will be created from `parent_commit`")."""
    stale = hub.list_commits(repo)[0]["id"]
    upload(api, b"b\n", "b.txt")  # main moves on

    info = upload(api, b"c\n", "c.txt", create_pr=True, parent_commit=stale[:7])

    assert info.pr_revision == "refs/pr/1" and set(hub.tree(repo)) == {".gitattributes", "a.txt", "b.txt"}
    assert set(hub.tree(repo, "refs/pr/1")) == {".gitattributes", "a.txt", "c.txt"}  # built on the stale parent
    assert hub.list_commits(repo, "refs/pr/1")[1]["id"] == stale
    api.merge_pull_request(repo, 1, repo_type="dataset")
    assert set(hub.tree(repo)) == {".gitattributes", "a.txt", "b.txt", "c.txt"}
