"""Account and repo-level routes: whoami, agent registry, repo create/delete, repo info, README validation."""

from __future__ import annotations

import hashlib

from . import auth, yaml_meta
from .errors import HubError, bad_request
from .http_io import Response, json_response
from .request import Request
from .storage import make_repo_key
from .trees import sibling_json


def whoami(req: Request) -> Response:
    """`GET /api/whoami-v2` (§3.2)."""
    auth.reject_invalid(req.access)
    if req.access is auth.Access.ANONYMOUS:
        raise HubError(401, auth.INVALID_CREDENTIALS, headers={"X-Error-Message": auth.INVALID_CREDENTIALS})
    role = "write" if req.access is auth.Access.WRITE else "read"
    return json_response(
        {
            "type": "user",
            "id": hashlib.sha1(req.hub.user.encode(), usedforsecurity=False).hexdigest()[:24],
            "name": req.hub.user,
            "fullname": req.hub.user.title(),
            "email": None,
            "orgs": [],
            "auth": {"type": "access_token", "accessToken": {"displayName": "local-hub", "role": role}},
        }
    )


def agent_harnesses(req: Request) -> Response:
    """First request of a client process unless telemetry is disabled (§3.1): answer the empty registry."""
    return json_response({"standardEnvVars": [], "harnesses": {}})


def create_repo(req: Request) -> Response:
    """`POST /api/repos/create` (§3.3). The 409 body must not contain the "conflicting operation" sentence."""
    auth.check_write(req.access, "create a repo")
    body = req.json_object()
    name = body.get("name")
    if not isinstance(name, str):
        raise bad_request("Missing repo name")
    key = make_repo_key(body.get("type") or "model", body.get("organization") or req.hub.user, name)
    private = body.get("visibility") == "private"  # 2.4.0 sends `visibility` only when `private` is given (§3.3)
    url = f"{req.base_url}/{key.web_prefix}{key.repo_id}"
    if not req.hub.storage.create_repo(key, private=private):
        raise HubError(
            409,
            f"You already created this {key.type} repo",
            body={"error": f"You already created this {key.type} repo", "url": url},
        )
    return json_response({"url": url, "name": key.repo_id, "id": key.repo_id})


def delete_repo(req: Request) -> Response:
    """`DELETE /api/repos/delete` (§3.4): a missing repo is 404 RepoNotFound so `missing_ok=True` works."""
    body = req.json_object()
    key = make_repo_key(body.get("type") or "model", body.get("organization") or req.hub.user, str(body.get("name")))
    req.open_repo_key(key, write="delete this repo")
    req.hub.storage.delete_repo(key)
    return json_response({})


def repo_info(req: Request) -> Response:
    """`GET /api/{T}/{repo}[/revision/{rev}]` (§3.5): `id` and `sha` are required by the client."""
    key, meta = req.open_repo()
    storage = req.hub.storage
    sha = storage.resolve(key, req.param("rev") if "rev" in req.params else "main")
    commit = storage.commit(key, sha)
    tree = commit["tree"]
    with_blobs = req.flag("blobs")
    namespace = key.repo_id.split("/")[0]
    info = {
        "_id": hashlib.sha1(key.repo_id.encode(), usedforsecurity=False).hexdigest()[:24],
        "id": key.repo_id,
        "author": namespace,
        "sha": sha,
        "private": meta["private"],
        "gated": False,
        "disabled": False,
        "lastModified": commit["date"],
        "createdAt": meta["createdAt"],
        "tags": [],
        "downloads": 0,
        "likes": 0,
        "usedStorage": sum(entry["size"] for entry in tree.values()),
        "siblings": [sibling_json(path, entry, blobs=with_blobs) for path, entry in sorted(tree.items())],
    }
    if "README.md" in tree:
        card = yaml_meta.card_data(storage.blobs.read_bytes(tree["README.md"]["sha256"]).decode("utf-8", "replace"))
        if card is not None:
            info["cardData"] = card
    expand = req.query.get("expand")
    if expand:
        # With `expand`, the Hub returns only the requested properties (plus the ids).
        info = {name: value for name, value in info.items() if name in ("_id", "id", *expand)}
    return json_response(info)


def validate_yaml(req: Request) -> Response:
    """`POST /api/validate-yaml` (§3.11): always JSON, 400 with `errors` when the metadata is invalid."""
    auth.reject_invalid(req.access)
    body = req.json_object()
    content = body.get("content")
    if not isinstance(content, str):
        raise HubError(400, "Missing content", body={"errors": [{"message": "Missing content"}], "warnings": []})
    errors = yaml_meta.validate(content, str(body.get("repoType") or "model"))
    if errors:
        raise HubError(400, errors[0], body={"errors": [{"message": e} for e in errors], "warnings": []})
    return json_response({"errors": [], "warnings": []})
