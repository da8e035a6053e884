"""Upload-mode negotiation (`preupload`, §3.12) and commits (§3.15)."""

from __future__ import annotations

import re

from . import discussions
from .commits import apply_operations, parse_commit
from .errors import HubError, bad_request, revision_not_found
from .gitattributes import DEFAULT_GITATTRIBUTES, gitignore_patterns, lfs_patterns, matches_any, upload_mode
from .http_io import Response, json_response
from .request import Request
from .storage import RepoKey, Storage
from .trees import Tree, remote_oid

_PR_REF = re.compile(r"refs/pr/(\d+)")


def preupload(req: Request) -> Response:
    """Answer "lfs" or "regular" per file, with `shouldIgnore` (required) and the current remote `oid`."""
    key, _ = req.open_repo(write="upload files")
    storage = req.hub.storage
    sha = storage.resolve(key, req.param("rev"))
    tree = storage.commit(key, sha)["tree"]
    body = req.json_object()
    files = body.get("files")
    if not isinstance(files, list):
        raise bad_request("Expected a `files` list")
    patterns = lfs_patterns(_text(storage, tree, ".gitattributes") or DEFAULT_GITATTRIBUTES)
    ignored = gitignore_patterns(body.get("gitIgnore") or _text(storage, tree, ".gitignore"))
    answers = []
    for item in files:
        path = item.get("path") if isinstance(item, dict) else None
        if not isinstance(path, str):
            raise bad_request("Each file needs a `path`")
        answers.append(
            {
                "path": path,  # must echo the request exactly
                "uploadMode": upload_mode(path, _size(item), item.get("sample") or "", patterns),
                "shouldIgnore": matches_any(path, ignored, match_dirs=True),
                # Drives the client's no-op detection: git sha1 for regular files, sha256 for LFS ones.
                "oid": remote_oid(tree[path]) if path in tree else None,
            }
        )
    return json_response({"files": answers, "commitOid": sha})


def commit(req: Request) -> Response:
    """Apply an NDJSON commit atomically to a branch or `refs/pr/N`, or open a PR with `?create_pr=1`."""
    key, _ = req.open_repo(write="commit to this repo")
    revision = req.param("rev")
    create_pr = req.flag("create_pr")
    # Read and parse before taking the lock: never hold it while waiting on the network.
    plan = parse_commit(req.body.read_all())
    storage = req.hub.storage
    with storage.commit_slot(key, revision), storage.lock:
        branch, pr_num, head = _commit_target(storage, key, revision)
        if create_pr and pr_num is not None:
            raise bad_request("Cannot open a pull request from a pull request")

        def lfs_size(oid: str) -> int | None:
            return storage.blobs.size(oid) if storage.has_lfs(key, oid) else None

        # The parent check comes before the operations: against a moved head they may fail for the wrong reason.
        if plan.parent_commit is not None and create_pr:
            # No 412 here: the Hub opens the PR *from* `parentCommit`, even if the branch has moved since
            # (huggingface_hub's `create_commit` docs); the merge then replays the PR onto the moved branch.
            head = storage.resolve(key, plan.parent_commit)
        elif plan.parent_commit is not None and not head.startswith(plan.parent_commit):
            raise HubError(412, "A commit has happened since. Please refresh and try again.")
        apply_operations(plan, storage.commit(key, head)["tree"], lfs_size)
        for content in plan.blobs.values():
            storage.blobs.put_bytes(content)
        new = storage.write_commit(key, parents=[head], tree=plan.tree, title=plan.summary, message=plan.description)
        if create_pr:
            record = discussions.new_discussion(
                storage, key, plan.summary, plan.description, pr_from=head, base_branch=branch
            )
            pr_num = record["num"]
        refs = storage.refs(key)
        if pr_num is None:
            refs["branches"][branch] = new["id"]
        else:
            refs["prs"][str(pr_num)] = new["id"]
        storage.write_refs(key, refs)
        if pr_num is not None:
            discussions.record_pr_commit(storage, key, pr_num, new)
    req.hub.counters.record_commit()
    repo_url = f"{req.base_url}/{key.web_prefix}{key.repo_id}"
    # `commitUrl` must be {ENDPOINT}/{P}{repo}/commit/{sha}: the client parses the repo out of it (§3.15).
    data = {"success": True, "commitOid": new["id"], "commitUrl": f"{repo_url}/commit/{new['id']}", "hookOutput": ""}
    if create_pr:
        data["pullRequestUrl"] = f"{repo_url}/discussions/{pr_num}"
    return json_response(data)


def _commit_target(storage: Storage, key: RepoKey, revision: str) -> tuple[str | None, int | None, str]:
    """(branch, PR number, head sha) for a commit to `revision`: only branches and PR refs take commits."""
    refs = storage.refs(key)
    branch = revision.removeprefix("refs/heads/")
    if branch in refs["branches"]:
        return branch, None, refs["branches"][branch]
    match = _PR_REF.fullmatch(revision)
    if match and match.group(1) in refs["prs"]:
        return None, int(match.group(1)), refs["prs"][match.group(1)]
    # A tag or a commit id is no place to commit to: the Hub answers RevisionNotFound for it too (huggingface_hub's
    # `create_commit` docs: a `revision` that "is not a branch name (example: a commit oid)" gets one).
    raise revision_not_found(revision)


def _text(storage: Storage, tree: Tree, path: str) -> str | None:
    entry = tree.get(path)
    return storage.blobs.read_bytes(entry["sha256"]).decode("utf-8", "replace") if entry else None


def _size(item: dict) -> int:
    size = item.get("size", 0)
    if not isinstance(size, int) or size < 0:
        raise bad_request(f"Invalid size for {item['path']}: {size!r}")
    return size
