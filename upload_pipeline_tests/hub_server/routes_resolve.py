"""File downloads: `HEAD`/`GET /{P}{repo}/resolve/{rev}/{path}` with Range support (§3.16).

Served directly with 200/206 (no CDN redirect). Never sends `X-Xet-*` headers, which would switch the client to
Xet downloads (§4.2), and never compresses bodies (the client checks lengths against the HEAD size).
"""

from __future__ import annotations

import re

from .errors import HubError, entry_not_found
from .http_io import Response
from .request import Request
from .trees import etag

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def resolve(req: Request) -> Response:
    key, _ = req.open_repo()
    storage = req.hub.storage
    sha = storage.resolve(key, req.param("rev"))
    path = req.param("path")
    entry = storage.commit(key, sha)["tree"].get(path)
    if entry is None:
        raise entry_not_found(f"{path} does not exist on revision {sha}", commit=sha)
    size = entry["size"]
    headers = {
        "X-Repo-Commit": sha,
        "ETag": f'"{etag(entry)}"',
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'inline; filename="{path.rsplit("/", 1)[-1]}"',
    }
    if entry["lfs"]:
        headers.update({"X-Linked-Etag": f'"{entry["sha256"]}"', "X-Linked-Size": str(size)})
    byte_range = _parse_range(req.headers.get("Range"), size) if req.method == "GET" else None
    if byte_range is None:
        return Response(
            200,
            headers=headers,
            content_type="application/octet-stream",
            stream=storage.blobs.read_range(entry["sha256"], 0, size),
            length=size,
        )
    start, end = byte_range
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    length = end - start + 1
    return Response(
        206,
        headers=headers,
        content_type="application/octet-stream",
        stream=storage.blobs.read_range(entry["sha256"], start, length),
        length=length,
    )


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single `bytes=` range; None to serve everything; 416 when unsatisfiable."""
    match = _RANGE.fullmatch((header or "").strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None  # no Range, multiple ranges or garbage: a full 200 is a valid answer
    first, last = match.groups()
    if first == "":  # suffix range: the last N bytes
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        # HfFileSystemStreamFile treats 416 as end of file (§3.16).
        raise HubError(416, "Requested range not satisfiable", headers={"Content-Range": f"bytes */{size}"})
    return start, end
