"""Refs listing, branches and tags (§3.8, §3.9)."""

from __future__ import annotations

import re

from .errors import HubError, bad_request, revision_not_found
from .http_io import Response, json_response
from .request import Request
from .storage import DEFAULT_BRANCH

_REF_NAME = re.compile(r"[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*")


def list_refs(req: Request) -> Response:
    """`GET /api/{T}/{repo}/refs[?include_prs=1]`: `branches`, `converts` and `tags` are all required."""
    key, _ = req.open_repo()
    refs = req.hub.storage.refs(key)
    data = {
        "branches": [_ref(name, f"refs/heads/{name}", sha) for name, sha in sorted(refs["branches"].items())],
        "converts": [],
        "tags": [_ref(name, f"refs/tags/{name}", sha) for name, sha in sorted(refs["tags"].items())],
    }
    if req.flag("include_prs"):
        prs = sorted(refs["prs"].items(), key=lambda item: int(item[0]))
        data["pullRequests"] = [_ref(f"refs/pr/{num}", f"refs/pr/{num}", sha) for num, sha in prs]
    return json_response(data)


def create_branch(req: Request) -> Response:
    """`POST /api/{T}/{repo}/branch/{branch}`, body `{"startingPoint": rev}` or `{}`; 409 if it exists."""
    key, _ = req.open_repo(write="create a branch")
    branch = _valid_name(req.param("branch"))
    starting_point = req.json_object().get("startingPoint") or DEFAULT_BRANCH
    storage = req.hub.storage
    with storage.lock:
        refs = storage.refs(key)
        if branch in refs["branches"]:
            raise HubError(409, f"Reference refs/heads/{branch} already exists")
        refs["branches"][branch] = storage.resolve(key, str(starting_point))
        storage.write_refs(key, refs)
    return json_response({})


def delete_branch(req: Request) -> Response:
    key, _ = req.open_repo(write="delete a branch")
    branch = req.param("branch")
    if branch == DEFAULT_BRANCH:
        raise HubError(403, "Cannot delete the default branch")
    _delete_ref(req, key, "branches", branch)
    return json_response({})


def create_tag(req: Request) -> Response:
    """`POST /api/{T}/{repo}/tag/{revision}`, body `{"tag": name, "message"?}`; 409 if the tag exists."""
    key, _ = req.open_repo(write="create a tag")
    body = req.json_object()
    tag = _valid_name(str(body.get("tag") or ""))
    storage = req.hub.storage
    with storage.lock:
        refs = storage.refs(key)
        if tag in refs["tags"]:
            raise HubError(409, f"Tag {tag} already exists")
        refs["tags"][tag] = storage.resolve(key, req.param("rev"))
        storage.write_refs(key, refs)
    return json_response({})


def delete_tag(req: Request) -> Response:
    key, _ = req.open_repo(write="delete a tag")
    _delete_ref(req, key, "tags", req.param("rev"))
    return json_response({})


def _delete_ref(req: Request, key, kind: str, name: str) -> None:
    storage = req.hub.storage
    with storage.lock:
        refs = storage.refs(key)
        if name not in refs[kind]:
            raise revision_not_found(name)
        del refs[kind][name]
        storage.write_refs(key, refs)


def _valid_name(name: str) -> str:
    if not _REF_NAME.fullmatch(name) or ".." in name or name.startswith("refs/") or name.endswith(".lock"):
        raise bad_request(f"Invalid reference name: {name!r}")
    return name


def _ref(name: str, ref: str, sha: str) -> dict:
    return {"name": name, "ref": ref, "targetCommit": sha}
