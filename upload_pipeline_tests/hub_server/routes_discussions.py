"""Discussion and pull-request routes used by `HfApi` 2.4.0 (`create_discussion`/`create_pull_request`,
`get_repo_discussions`, `get_discussion_details`, `comment_discussion`, `change_discussion_status`,
`merge_pull_request`). URLs and keys are the ones read in `hf_api.py` and `community.py`.
"""

from __future__ import annotations

from . import discussions
from .errors import bad_request
from .http_io import Response, json_response
from .request import Request
from .storage import DEFAULT_BRANCH, RepoKey, Storage

# `get_repo_discussions` pages with `?p=N` and stops when start + len(page) reaches `count`.
PAGE_SIZE = 50


def create(req: Request) -> Response:
    """`POST /api/{T}/{repo}/discussions` with `{"title", "description", "pullRequest"}` → `{"num": N}`."""
    key, _ = req.open_repo(write="open a discussion")
    body = req.json_object()
    title = str(body.get("title") or "").strip()
    if len(title) < 3:
        raise bad_request("The title must be at least 3 characters long")
    storage = req.hub.storage
    with storage.lock:
        pr_from = storage.refs(key)["branches"][DEFAULT_BRANCH] if body.get("pullRequest") else None
        record = discussions.new_discussion(storage, key, title, str(body.get("description") or ""), pr_from=pr_from)
    return json_response(
        {"num": record["num"], "pullRequest": record["isPullRequest"], "url": _url(req, key, record["num"])}
    )


def list_discussions(req: Request) -> Response:
    key, _ = req.open_repo()
    records = req.hub.storage.discussions(key)
    wanted_type, wanted_status = req.arg("type", "all"), req.arg("status", "all")
    records = [
        record
        for record in reversed(records)
        if wanted_type == "all" or (wanted_type == "pull_request") == record["isPullRequest"]
        if wanted_status == "all" or record["status"] == wanted_status
        if req.arg("author") in (None, record["author"])
    ]
    start = int(req.arg("p", "0")) * PAGE_SIZE
    page = [_summary(key, record) for record in records[start : start + PAGE_SIZE]]
    return json_response({"discussions": page, "count": len(records), "start": start, "numClosedDiscussions": 0})


def details(req: Request) -> Response:
    """`GET /api/{T}/{repo}/discussions/{N}?diff=1`: events, and for PRs `changes.base` + `filesWithConflicts`."""
    key, _ = req.open_repo()
    storage = req.hub.storage
    with storage.lock:
        record = discussions.find(storage.discussions(key), int(req.params["num"]))
        data = _summary(key, record)
        data["events"] = record["events"]
        if record["isPullRequest"]:
            _add_pr_details(storage, key, record, data)
    return json_response(data)


def change_status(req: Request) -> Response:
    """`POST .../discussions/{N}/status` with `{"status": "open"|"closed", "comment"?}` → `{"newStatus": event}`."""
    key, _ = req.open_repo(write="change the status of a discussion")
    body = req.json_object()
    status = body.get("status")
    if status not in ("open", "closed"):
        raise bad_request("status must be 'open' or 'closed'")
    storage = req.hub.storage
    status_event = discussions.event(storage.user, "status-change", {"status": status})

    def apply(record: dict) -> None:
        if record["status"] == "merged":
            raise bad_request("A merged pull request cannot change status")
        if body.get("comment"):
            record["events"].append(
                discussions.event(storage.user, "comment", discussions.comment_data(storage.user, body["comment"]))
            )
        record["status"] = status
        record["events"].append(status_event)

    with storage.lock:
        discussions.update(storage, key, int(req.params["num"]), apply)
    return json_response({"newStatus": status_event})


def comment(req: Request) -> Response:
    """`POST .../discussions/{N}/comment` with `{"comment"}` → `{"newMessage": event}`."""
    key, _ = req.open_repo(write="comment")
    text = str(req.json_object().get("comment") or "")
    if not text.strip():
        raise bad_request("The comment must not be empty")
    storage = req.hub.storage
    new_event = discussions.event(storage.user, "comment", discussions.comment_data(storage.user, text))
    with storage.lock:
        discussions.update(storage, key, int(req.params["num"]), lambda record: record["events"].append(new_event))
    return json_response({"newMessage": new_event})


def merge(req: Request) -> Response:
    """`POST .../discussions/{N}/merge`: three-way merge into the target branch, 409 on conflicting files."""
    key, _ = req.open_repo(write="merge a pull request")
    req.json()  # optional `{"comment"}`; consumed so the connection stays in sync
    storage = req.hub.storage
    num = int(req.params["num"])
    # A merge is a commit to the PR's target branch: refused with 409 while another commit to it is in progress.
    target = discussions.find(storage.discussions(key), num).get("base") or DEFAULT_BRANCH
    with storage.commit_slot(key, target), storage.lock:
        record = discussions.merge(storage, key, num)
    req.hub.counters.record_commit()
    return json_response({"mergeCommitId": record["mergeCommitId"]})


def _summary(key: RepoKey, record: dict) -> dict:
    return {
        "num": record["num"],
        "title": record["title"],
        "status": record["status"],
        "author": {"name": record["author"]},
        "createdAt": record["createdAt"],
        "repo": {"name": key.repo_id, "type": key.type},
        "isPullRequest": record["isPullRequest"],
        "numComments": sum(1 for event in record["events"] if event["type"] == "comment"),
        "pinned": False,
    }


def _add_pr_details(storage: Storage, key: RepoKey, record: dict, data: dict) -> None:
    data["changes"] = {"base": record["base"]}
    if record["mergeCommitId"]:
        data["changes"]["mergeCommitId"] = record["mergeCommitId"]
        data["filesWithConflicts"], data["diff"] = [], ""
        return
    base, head, _, target = discussions.pr_trees(storage, key, record)
    changes, conflicts = discussions.changes_and_conflicts(base, head, target)
    data["filesWithConflicts"] = conflicts
    # A header-only git diff: enough to see which files the PR touches.
    data["diff"] = "".join(f"diff --git a/{path} b/{path}\n" for path in sorted(changes))


def _url(req: Request, key: RepoKey, num: int) -> str:
    return f"{req.base_url}/{key.web_prefix}{key.repo_id}/discussions/{num}"
