"""Commit payloads: parse the NDJSON body and compute the new tree, validating everything first (§3.15).

Nothing here writes to disk: the route stores blobs and moves the ref only once the whole payload is valid, so a
rejected commit changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import bad_request, entry_not_found
from .trees import Tree, make_entry, parents_of

_HEX_OID = re.compile(r"[0-9a-f]{64}")
_PARENT = re.compile(r"[0-9a-f]{5,40}")


@dataclass
class CommitPlan:
    summary: str
    description: str
    parent_commit: str | None
    operations: list[tuple[str, dict]]
    tree: Tree = field(default_factory=dict)
    # Regular file contents by sha256, to store once the commit is accepted.
    blobs: dict[str, bytes] = field(default_factory=dict)


def parse_commit(body: bytes) -> CommitPlan:
    """Parse the NDJSON payload: header first, then operations (not yet applied)."""
    lines = [_parse_line(number, line) for number, line in enumerate(body.splitlines(), start=1) if line.strip()]
    if not lines or lines[0].get("key") != "header":
        raise bad_request("The first line of a commit payload must be the header")
    header = lines[0].get("value") or {}
    summary = header.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        raise bad_request("The commit summary must be a non-empty string")
    parent = header.get("parentCommit")
    if parent is not None and not (isinstance(parent, str) and _PARENT.fullmatch(parent)):
        raise bad_request(f"Invalid parentCommit: {parent!r}")
    operations = [(line.get("key"), line.get("value") or {}) for line in lines[1:]]
    return CommitPlan(summary.strip(), str(header.get("description") or ""), parent, operations)


def apply_operations(plan: CommitPlan, base_tree: Tree, lfs_size: Callable[[str], int | None]) -> None:
    """Compute `plan.tree` from `base_tree`; `lfs_size(oid)` is the stored size of an LFS object, or None."""
    plan.tree = dict(base_tree)
    for key, value in plan.operations:
        _apply(plan, key, value, lfs_size)
    _check_file_dir_conflicts(plan.tree)


def _parse_line(number: int, line: bytes) -> dict:
    try:
        item = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise bad_request(f"Line {number} of the commit payload is not JSON: {err}") from None
    if not isinstance(item, dict):
        raise bad_request(f"Line {number} of the commit payload is not a JSON object")
    return item


def _apply(plan: CommitPlan, key, value: dict, lfs_size: Callable[[str], int | None]) -> None:
    # Operations apply in order, later lines win (§3.15).
    if key == "file":
        path = valid_path(value.get("path"))
        if value.get("encoding", "base64") != "base64":
            raise bad_request(f"Unsupported encoding for {path}: {value.get('encoding')}")
        try:
            content = base64.b64decode(value.get("content") or "", validate=True)
        except (binascii.Error, TypeError):
            raise bad_request(f"Invalid base64 content for {path}") from None
        sha256 = hashlib.sha256(content).hexdigest()
        plan.blobs[sha256] = content
        plan.tree[path] = make_entry(sha256, len(content), lfs=False, content=content)
    elif key == "lfsFile":
        path = valid_path(value.get("path"))
        oid = value.get("oid")
        if value.get("algo", "sha256") != "sha256" or not (isinstance(oid, str) and _HEX_OID.fullmatch(oid)):
            raise bad_request(f"Invalid LFS oid for {path}: {oid!r}")
        stored = lfs_size(oid)
        if stored is None:
            # Wording of the real Hub's rejection of a pointer to an object it does not have.
            message = "Your push was rejected because an LFS pointer pointed to a file that does not exist"
            raise bad_request(f"{message} ({path}, oid {oid})")
        if value.get("size") is not None and value["size"] != stored:
            raise bad_request(f"LFS size mismatch for {path}: payload says {value['size']}, stored object has {stored}")
        plan.tree[path] = make_entry(oid, stored, lfs=True)
    elif key == "deletedFile":
        path = valid_path(value.get("path"))
        if plan.tree.pop(path, None) is None:
            raise entry_not_found(f"A file with this name doesn't exist: {path}")
    elif key == "deletedFolder":
        # `delete_folder` sends the folder without a trailing slash; users may add one (§3.15).
        prefix = valid_path(str(value.get("path") or "").rstrip("/")) + "/"
        doomed = [path for path in plan.tree if path.startswith(prefix)]
        if not doomed:
            raise entry_not_found(f"A folder with this name doesn't exist: {prefix.rstrip('/')}")
        for path in doomed:
            del plan.tree[path]
    else:
        raise bad_request(f"Unknown commit operation: {key!r}")


def valid_path(path) -> str:
    """Reject paths that would escape the repo or that git cannot store."""
    if not isinstance(path, str) or not path:
        raise bad_request("Missing path")
    parts = path.split("/")
    if path.startswith("/") or "\\" in path or any(part in ("", ".", "..") for part in parts) or parts[0] == ".git":
        raise bad_request(f"Invalid path in repo: {path!r}")
    return path


def _check_file_dir_conflicts(tree: Tree) -> None:
    for path in tree:
        for parent in parents_of(path):
            if parent in tree:
                raise bad_request(f"Cannot add {path}: {parent} is a file")
