"""Git LFS batch API and transfers: basic PUT, multipart parts + completion, verify (§3.13, §3.14)."""

from __future__ import annotations

import re
import shutil

from .errors import HubError, bad_request
from .http_io import Response, json_response
from .request import Request

LFS_CONTENT_TYPE = "application/vnd.git-lfs+json"
_OID = re.compile(r"[0-9a-f]{64}")


def batch(req: Request) -> Response:
    """`POST /{P}{repo}.git/info/lfs/objects/batch`: echo each oid/size; no `actions` means already stored."""
    key, _ = req.open_repo(write="upload LFS files")
    body = req.json_object()
    if body.get("operation") != "upload":
        raise bad_request("Only the upload operation is supported")
    objects = body.get("objects")
    if not isinstance(objects, list):
        raise bad_request("Expected an `objects` list")
    storage, hub = req.hub.storage, req.hub
    answers, multipart = [], False
    for obj in objects:
        oid, size = (obj.get("oid"), obj.get("size")) if isinstance(obj, dict) else (None, None)
        if not (isinstance(oid, str) and _OID.fullmatch(oid) and isinstance(size, int) and size >= 0):
            answers.append(
                {
                    "oid": str(oid),
                    "size": size if isinstance(size, int) else 0,
                    "error": {"code": 422, "message": "Invalid oid or size"},
                }
            )
            continue
        if storage.has_lfs(key, oid) and storage.blobs.size(oid) == size:
            answers.append({"oid": oid, "size": size})
            continue
        # Multipart is chosen by the server only: the client uses it when `chunk_size` is in the upload header.
        chunk_size = hub.lfs_chunk_size if size > hub.lfs_multipart_threshold else None
        session = hub.lfs_sessions.open(key, oid, size, chunk_size)
        upload_url = f"{req.base_url}/lfs-upload/{session.id}"
        upload: dict = {"href": upload_url}
        if chunk_size:
            multipart = True
            upload = {"href": f"{upload_url}/complete", "header": {"chunk_size": str(chunk_size)}}
            upload["header"].update({str(n): f"{upload_url}/part/{n}" for n in range(1, session.part_count + 1)})
        verify = {"href": f"{req.base_url}/{key.web_prefix}{key.repo_id}.git/info/lfs/objects/verify"}
        answers.append(
            {"oid": oid, "size": size, "authenticated": True, "actions": {"upload": upload, "verify": verify}}
        )
    data = {"transfer": "multipart" if multipart else "basic", "objects": answers, "hash_algo": "sha256"}
    response = json_response(data)
    response.content_type = LFS_CONTENT_TYPE
    return response


def upload(req: Request) -> Response:
    """Basic transfer: `PUT /lfs-upload/{id}` with the raw object, no auth; checked against sha256 and size."""
    session = req.hub.lfs_sessions.get(req.params["upload"])
    if session.chunk_size:
        raise bad_request("This object must be uploaded in parts")
    req.hub.storage.blobs.ingest(req.body.chunks(), session.oid, session.size)
    req.hub.storage.add_lfs(session.key, session.oid)
    return Response(200)


def upload_part(req: Request) -> Response:
    """Multipart transfer: `PUT /lfs-upload/{id}/part/{n}`; the response ETag is echoed back at completion."""
    hub = req.hub
    session = hub.lfs_sessions.get(req.params["upload"])
    number = int(req.params["part"])
    if not 1 <= number <= session.part_count:
        raise bad_request(f"Invalid part number {number}")
    etag = hub.storage.blobs.write_part(hub.lfs_sessions.staging_dir(session), number, req.body.chunks())
    return Response(200, headers={"ETag": f'"{etag}"'})


def complete(req: Request) -> Response:
    """`POST /lfs-upload/{id}/complete` with `{"oid", "parts": [{"partNumber", "etag"}]}`: assemble and check."""
    hub = req.hub
    session = hub.lfs_sessions.get(req.params["upload"])
    body = req.json_object()
    parts = body.get("parts")
    if body.get("oid") != session.oid or not isinstance(parts, list):
        raise bad_request("Completion payload does not match this upload")
    numbers = [part.get("partNumber") for part in parts if isinstance(part, dict)]
    if sorted(numbers) != list(range(1, session.part_count + 1)):
        raise bad_request(f"Expected parts 1..{session.part_count}, got {numbers}")
    staging = hub.lfs_sessions.staging_dir(session)
    paths = [staging / f"part-{n}" for n in range(1, session.part_count + 1)]
    missing = [path.name for path in paths if not path.is_file()]
    if missing:
        raise bad_request(f"Parts not uploaded: {', '.join(missing)}")
    hub.storage.blobs.ingest_parts(paths, session.oid, session.size)
    hub.storage.add_lfs(session.key, session.oid)
    shutil.rmtree(staging, ignore_errors=True)
    return json_response({})


def verify(req: Request) -> Response:
    """`POST /{P}{repo}.git/info/lfs/objects/verify` (with auth): 200 once the object is stored in this repo."""
    key, _ = req.open_repo(write="upload LFS files")
    body = req.json_object()
    oid, size = body.get("oid"), body.get("size")
    storage = req.hub.storage
    if not (isinstance(oid, str) and storage.has_lfs(key, oid) and storage.blobs.size(oid) == size):
        raise HubError(404, f"Object {oid} not found")
    req.hub.lfs_sessions.close_for(key, oid)
    return json_response({})
