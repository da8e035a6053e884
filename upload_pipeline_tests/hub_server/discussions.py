"""Discussions and pull requests: records, events, and file-level three-way merge.

A PR is a discussion with `isPullRequest` plus a ref `refs/pr/N`. The record keeps the commit the PR was opened
from (`baseCommit`), so merging can replay only the PR's own changes onto the current target branch and report
`filesWithConflicts` when both sides changed a path.
"""

from __future__ import annotations

import uuid

from .errors import HubError
from .storage import DEFAULT_BRANCH, RepoKey, Storage, utc_now
from .trees import Tree


def new_discussion(
    storage: Storage,
    key: RepoKey,
    title: str,
    description: str,
    *,
    pr_from: str | None,
    base_branch: str = DEFAULT_BRANCH,
) -> dict:
    """Create and persist a discussion, or a PR starting at commit `pr_from` and targeting `base_branch`.

    Call with `storage.lock` held: the number is allocated from the stored list.
    """
    discussions = storage.discussions(key)
    record = {
        "num": len(discussions) + 1,
        "title": title,
        # An empty PR opened through the API is a draft until it receives a commit.
        "status": "draft" if pr_from else "open",
        "isPullRequest": pr_from is not None,
        "createdAt": utc_now(),
        "author": storage.user,
        "events": [event(storage.user, "comment", comment_data(storage.user, description))],
    }
    if pr_from is not None:
        record.update({"base": f"refs/heads/{base_branch}", "baseCommit": pr_from, "mergeCommitId": None})
        refs = storage.refs(key)
        refs["prs"][str(record["num"])] = pr_from
        storage.write_refs(key, refs)
    storage.write_discussions(key, [*discussions, record])
    return record


def record_pr_commit(storage: Storage, key: RepoKey, num: int, commit: dict) -> None:
    """A commit landed on `refs/pr/{num}`: log it, and leave the draft state."""

    def add_commit(record: dict) -> None:
        record["events"].append(event(storage.user, "commit", {"subject": commit["title"], "oid": commit["id"]}))
        if record["status"] == "draft":
            record["status"] = "open"

    update(storage, key, num, add_commit)


def update(storage: Storage, key: RepoKey, num: int, change) -> dict:
    """Apply `change(record)` to discussion `num` and persist; returns the record. Hold `storage.lock`."""
    discussions = storage.discussions(key)
    record = find(discussions, num)
    change(record)
    storage.write_discussions(key, discussions)
    return record


def find(discussions: list[dict], num: int) -> dict:
    for record in discussions:
        if record["num"] == num:
            return record
    raise HubError(404, f"Discussion #{num} not found")


def pr_trees(storage: Storage, key: RepoKey, record: dict) -> tuple[Tree, Tree, str, Tree]:
    """(tree the PR started from, PR head tree, target head sha, target head tree)."""
    refs = storage.refs(key)
    target_sha = refs["branches"][record["base"].removeprefix("refs/heads/")]
    return (
        storage.commit(key, record["baseCommit"])["tree"],
        storage.commit(key, refs["prs"][str(record["num"])])["tree"],
        target_sha,
        storage.commit(key, target_sha)["tree"],
    )


def changes_and_conflicts(base: Tree, head: Tree, target: Tree) -> tuple[dict[str, dict | None], list[str]]:
    """The PR's changes (path -> new entry, None for a deletion) and the paths the target also changed."""
    changes = {path: head.get(path) for path in base.keys() | head.keys() if base.get(path) != head.get(path)}
    conflicts = sorted(path for path, new in changes.items() if target.get(path) not in (base.get(path), new))
    return changes, conflicts


def merge(storage: Storage, key: RepoKey, num: int) -> dict:
    """Merge PR `num` into its target branch with a two-parent merge commit. Hold `storage.lock`."""
    record = find(storage.discussions(key), num)
    if not record["isPullRequest"] or record["status"] not in ("open", "draft"):
        raise HubError(400, f"#{num} is not an open pull request")
    base, head, target_sha, target = pr_trees(storage, key, record)
    changes, conflicts = changes_and_conflicts(base, head, target)
    if conflicts:
        raise HubError(409, f"Cannot merge #{num}: conflicting files: {', '.join(conflicts)}")
    tree = dict(target)
    for path, entry in changes.items():
        if entry is None:
            tree.pop(path, None)
        else:
            tree[path] = entry
    pr_head = storage.refs(key)["prs"][str(num)]
    commit = storage.write_commit(
        key, parents=[target_sha, pr_head], tree=tree, title=f"{record['title']} (#{num})", message=""
    )
    refs = storage.refs(key)
    refs["branches"][record["base"].removeprefix("refs/heads/")] = commit["id"]
    storage.write_refs(key, refs)

    def mark_merged(record: dict) -> None:
        record.update(status="merged", mergeCommitId=commit["id"])
        record["events"].append(event(storage.user, "status-change", {"status": "merged"}))

    return update(storage, key, num, mark_merged)


def event(author: str, kind: str, data: dict) -> dict:
    return {"id": uuid.uuid4().hex[:24], "type": kind, "createdAt": utc_now(), "author": {"name": author}, "data": data}


def comment_data(author: str, text: str) -> dict:
    # Keys read by `community.deserialize_event` and `DiscussionComment` properties.
    now = utc_now()
    return {
        "edited": False,
        "hidden": False,
        "latest": {"raw": text, "html": text, "updatedAt": now, "author": {"name": author}},
        "numEdits": 0,
        "editors": [author],
        "history": [],
    }
