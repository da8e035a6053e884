"""Read-only listing routes: tree (§3.6), paths-info (§3.7) and commit history (§3.10)."""

from __future__ import annotations

import html
from urllib.parse import parse_qs, urlencode

from .errors import HubError
from .http_io import Response, json_response, parse_json
from .request import Request
from .storage import RepoKey, Storage
from .trees import directory_oids, list_folder, paths_info

# The real Hub caps paths-info at 1000 paths per call with a 413 (§3.7).
MAX_PATHS_INFO = 1000
_SECURITY_STATUS = {
    "status": "safe",
    "avScan": {"virusFound": False, "virusNames": None},
    "pickleImportScan": {"highestSafetyLevel": "innocuous", "imports": []},
}


def tree(req: Request) -> Response:
    """`GET /api/{T}/{repo}/tree/{rev}[/{path}]?recursive=&expand=`; a missing folder is 404 EntryNotFound."""
    key, _ = req.open_repo()
    storage = req.hub.storage
    sha = storage.resolve(key, req.param("rev"))
    folder = req.param("path") if req.params.get("path") else ""
    entries = list_folder(storage.commit(key, sha)["tree"], folder, recursive=req.flag("recursive"))
    expand = req.flag("expand")
    # The real Hub pages at 1000 entries, or 50 with expand=true (§3.6); both sizes are configurable for tests.
    page, headers = _paginate(req, entries, req.hub.expand_page_size if expand else req.hub.tree_page_size)
    if expand:
        _add_expand_info(storage, key, sha, page)
    return json_response(page, headers=headers)


def paths_info_route(req: Request) -> Response:
    """`POST /api/{T}/{repo}/paths-info/{rev}`, form-encoded `paths=...&expand=...`; missing paths are omitted."""
    key, _ = req.open_repo()
    storage = req.hub.storage
    sha = storage.resolve(key, req.param("rev"))
    raw = req.body.read_all()
    if "json" in (req.headers.get("Content-Type") or ""):
        data = _json_object(raw)
        paths, expand = data.get("paths") or [], bool(data.get("expand"))
    else:
        form = parse_qs(raw.decode(), keep_blank_values=True)
        paths, expand = form.get("paths", []), (form.get("expand", ["false"])[-1].lower() == "true")
    if isinstance(paths, str):
        paths = [paths]
    if len(paths) > MAX_PATHS_INFO:
        raise HubError(413, f"Too many paths: at most {MAX_PATHS_INFO} per request")
    items = paths_info(storage.commit(key, sha)["tree"], paths)
    if expand:
        _add_expand_info(storage, key, sha, items)
    return json_response(items)


def commits(req: Request) -> Response:
    """`GET /api/{T}/{repo}/commits/{rev}`: first-parent history, newest first, paginated with `Link`."""
    key, _ = req.open_repo()
    storage = req.hub.storage
    history = storage.history(key, storage.resolve(key, req.param("rev")))
    formatted = "formatted" in req.query.get("expand[]", []) + req.query.get("expand", [])
    items = []
    for commit in history:
        item = {
            "id": commit["id"],
            "authors": [{"user": author, "avatar": None} for author in commit["authors"]],
            "date": commit["date"],
            "title": commit["title"],
            "message": commit["message"],
        }
        if formatted:
            item["formatted"] = {"title": html.escape(commit["title"]), "message": html.escape(commit["message"])}
        items.append(item)
    page, headers = _paginate(req, items, req.hub.commits_page_size)
    return json_response(page, headers=headers)


def _paginate(req: Request, items: list, page_size: int) -> tuple[list, dict[str, str]]:
    """Cursor pagination: the client follows `Link: <absolute url>; rel="next"` as-is (§3.6)."""
    try:
        start = max(0, int(req.arg("cursor", "0")))
    except ValueError:
        start = 0
    page = items[start : start + page_size]
    if start + page_size >= len(items):
        return page, {}
    query = [(name, value) for name, values in req.query.items() if name != "cursor" for value in values]
    query.append(("cursor", str(start + page_size)))
    return page, {"Link": f'<{req.base_url}{req.raw_path}?{urlencode(query)}>; rel="next"'}


def _add_expand_info(storage: Storage, key: RepoKey, sha: str, entries: list[dict]) -> None:
    """Add `lastCommit` (newest commit that changed the path) and, for files, `securityFileStatus`."""
    pending = {entry["path"]: entry for entry in entries}
    history = storage.history(key, sha)
    for commit, parent in zip(history, [*history[1:], None], strict=True):
        if not pending:
            break
        now, before = _oids(commit["tree"]), _oids(parent["tree"]) if parent else {}
        for path in [path for path in pending if now.get(path) != before.get(path)]:
            pending.pop(path)["lastCommit"] = {"id": commit["id"], "title": commit["title"], "date": commit["date"]}
    for entry in entries:
        if entry["type"] == "file":
            entry["securityFileStatus"] = _SECURITY_STATUS


def _oids(tree: dict) -> dict[str, str]:
    return {**{path: entry["oid"] for path, entry in tree.items()}, **directory_oids(tree)}


def _json_object(raw: bytes) -> dict:
    data = parse_json(raw)
    return data if isinstance(data, dict) else {}
