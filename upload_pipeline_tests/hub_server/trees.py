"""Commit trees and their JSON shapes.

A tree maps each file path to `{"sha256", "size", "lfs", "oid"}`; directories are implied by the paths. `oid` is
the git blob id the client compares with (hub-protocol.md §9.14): sha1 of the content for regular files, sha1 of
the LFS pointer text for LFS files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from .errors import entry_not_found

Tree = dict[str, dict]


def git_blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def make_entry(sha256: str, size: int, *, lfs: bool, content: bytes | None = None) -> dict:
    """Tree entry; regular files need their `content` to compute the git blob oid."""
    oid = git_blob_oid(lfs_pointer(sha256, size) if lfs else content or b"")
    return {"sha256": sha256, "size": size, "lfs": lfs, "oid": oid}


def remote_oid(entry: dict) -> str:
    """The oid preupload reports for an existing file: git sha1 for regular files, sha256 for LFS (§3.12)."""
    return entry["sha256"] if entry["lfs"] else entry["oid"]


def etag(entry: dict) -> str:
    """Resolve ETag: the value the client uses as cache blob name (§3.16)."""
    return remote_oid(entry)


def parents_of(path: str) -> Iterable[str]:
    parts = path.split("/")
    for depth in range(1, len(parts)):
        yield "/".join(parts[:depth])


def directory_oids(tree: Tree) -> dict[str, str]:
    """A stable oid per directory: sha1 over the sorted `(path, oid)` pairs below it."""
    hashers: dict[str, hashlib._Hash] = {}
    for path in sorted(tree):
        for directory in parents_of(path):
            hasher = hashers.setdefault(directory, hashlib.sha1(usedforsecurity=False))
            hasher.update(f"{path}\0{tree[path]['oid']}\n".encode())
    return {directory: hasher.hexdigest() for directory, hasher in hashers.items()}


def file_json(path: str, entry: dict) -> dict:
    item = {"type": "file", "oid": entry["oid"], "size": entry["size"], "path": path}
    if entry["lfs"]:
        # Real content size in both places; no `xetHash`, which would switch the client to Xet (§3.6, §4.2).
        pointer_size = len(lfs_pointer(entry["sha256"], entry["size"]))
        item["lfs"] = {"oid": entry["sha256"], "size": entry["size"], "pointerSize": pointer_size}
    return item


def dir_json(path: str, oid: str) -> dict:
    return {"type": "directory", "oid": oid, "size": 0, "path": path}


def sibling_json(path: str, entry: dict, *, blobs: bool) -> dict:
    """`siblings` item of repo info; note the LFS key is `sha256` here, not `oid` (§3.5)."""
    item: dict = {"rfilename": path}
    if blobs:
        item["size"] = entry["size"]
        item["blobId"] = entry["oid"]
        if entry["lfs"]:
            pointer_size = len(lfs_pointer(entry["sha256"], entry["size"]))
            item["lfs"] = {"sha256": entry["sha256"], "size": entry["size"], "pointerSize": pointer_size}
    return item


def list_folder(tree: Tree, folder: str, *, recursive: bool) -> list[dict]:
    """Tree listing of `folder` ("" for the root), directories first, paths relative to the repo root (§3.6).

    A missing folder is `EntryNotFound` (datasets relies on that 404); a file path lists just that file.
    """
    folder = folder.strip("/")
    if folder in tree:
        return [file_json(folder, tree[folder])]
    dir_oids = directory_oids(tree)
    if folder and folder not in dir_oids:
        raise entry_not_found(f"{folder} does not exist on this revision")
    prefix = f"{folder}/" if folder else ""
    dirs, files = [], []
    for directory, oid in dir_oids.items():
        if directory.startswith(prefix) and (recursive or "/" not in directory[len(prefix) :]):
            dirs.append(dir_json(directory, oid))
    for path, entry in tree.items():
        if path.startswith(prefix) and (recursive or "/" not in path[len(prefix) :]):
            files.append(file_json(path, entry))
    return sorted(dirs, key=lambda item: item["path"]) + sorted(files, key=lambda item: item["path"])


def paths_info(tree: Tree, paths: list[str]) -> list[dict]:
    """Entries for the given paths; missing ones are silently omitted (§3.7)."""
    dir_oids = directory_oids(tree)
    items = []
    for raw in paths:
        path = raw.strip("/")
        if path in tree:
            items.append(file_json(path, tree[path]))
        elif path in dir_oids:
            items.append(dir_json(path, dir_oids[path]))
    return items
