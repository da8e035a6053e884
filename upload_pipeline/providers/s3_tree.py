"""The remote tree under a prefix: keys from a paginated listing, sha256 from a HEAD of each object.

A listing gives each key's ETag and size but not the sha256. A HEAD gives it: the server's own SHA256 for a
single-part object uploaded with a flexible checksum (so a claim cannot contradict the bytes), else the
sha256 we keep in the object's metadata (multipart ETags are not MD5s, and their checksum is a composite).
That costs one HEAD per object, so `HeadCache` remembers the sha256 read for each (key, ETag, size) in a JSON
file under `paths.state`: an unchanged object is never HEADed twice, and since an object rewritten with other
bytes gets another ETag (multipart ones another md5-of-md5s), a stale entry is never used. Objects with no sha256
either way (written by another tool) are remembered as such and come back as `etag:<etag>`, which matches no
sha256, so a sync replaces them.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from upload_pipeline.providers.s3_transfer import stored_sha256
from upload_pipeline.state import read_json, write_json_atomic


class HeadCache:
    """key → {etag, size, sha256} read by HEAD; a file per bucket and prefix, or in memory only."""

    def __init__(self, folder: Path | None, bucket: str, prefix: str) -> None:
        digest = hashlib.sha256(f"{bucket}/{prefix}".encode()).hexdigest()[:16]
        self.file = folder / f"{bucket}--{digest}.json" if folder else None
        self.entries: dict[str, dict] = read_json(self.file, {}).get("objects", {}) if self.file else {}
        self._where = {"bucket": bucket, "prefix": prefix}
        self._saved = dict(self.entries)

    def get(self, key: str, etag: str, size: int) -> tuple[bool, str | None]:
        hit = self.entries.get(key)
        if hit and hit["etag"] == etag and hit["size"] == size:
            return True, hit["sha256"]
        return False, None

    def put(self, key: str, etag: str, size: int, sha256: str | None) -> None:
        self.entries[key] = {"etag": etag, "size": size, "sha256": sha256}

    def keep_only(self, keys: set[str]) -> None:
        self.entries = {k: v for k, v in self.entries.items() if k in keys}

    def save(self) -> None:
        if self.file and self.entries != self._saved:
            write_json_atomic(self.file, {**self._where, "objects": self.entries})
            self._saved = dict(self.entries)


def list_objects(client: Any, bucket: str, base: str) -> dict[str, tuple[str, int]]:
    """key → (ETag, size) for every object under `base` (a prefix ending in "/", or "" for the bucket)."""
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base):
        for obj in page.get("Contents", []):
            if not obj["Key"].endswith("/"):  # zero-byte "folder" markers made by consoles
                found[obj["Key"]] = (obj["ETag"], obj["Size"])
    return found


def remote_tree(client: Any, bucket: str, base: str, cache: HeadCache, workers: int) -> dict[str, str]:
    """Path relative to `base` → sha256 (or `etag:<etag>` for objects without our metadata)."""
    listed = list_objects(client, bucket, base)
    sha: dict[str, str | None] = {}
    missing = []
    for key, (etag, size) in listed.items():
        hit, value = cache.get(key, etag, size)
        if hit:
            sha[key] = value
        else:
            missing.append(key)

    def head(key: str) -> tuple[str, dict]:
        return key, client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for key, info in pool.map(head, missing):
            sha[key] = stored_sha256(info)
            # The HEAD's ETag and size: the object may have been replaced since the listing.
            cache.put(key, info["ETag"], info["ContentLength"], sha[key])
    cache.keep_only(set(listed))
    cache.save()
    return {key[len(base):]: sha[key] or f"etag:{listed[key][0].strip(chr(34))}" for key in listed}
