"""The remote tree under a prefix: keys from a paginated listing, sha256 from a HEAD of each object.

A listing gives each key's ETag and size but not the sha256. A HEAD gives it: the server's own SHA256 for a
single-part object uploaded with a flexible checksum (so a claim cannot contradict the bytes), else the
sha256 we keep in the object's metadata (multipart ETags are not MD5s, and their checksum is a composite).
That costs one HEAD per object, so `HeadCache` remembers the sha256 read for each (key, ETag, size) in a JSON
file under `paths.state`: an unchanged object is never HEADed twice, and since an object rewritten with other
bytes gets another ETag (multipart ones another md5-of-md5s), a stale entry is never used. Objects with no sha256
either way (written by another tool) are remembered as such and come back as `etag:<etag>`, which matches no
sha256, so a sync replaces them. The same HEAD names the object's server-side encryption, which the cache keeps
too, so a plan can tell an object encrypted otherwise than the dataset asks without HEADing it again. Entries
written before the encryption was kept lack it: where it is needed, such an object is HEADed once more.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from upload_pipeline.providers.s3_transfer import encryption_of, stored_sha256
from upload_pipeline.state import read_json, write_json_atomic


class HeadCache:
    """key → {etag, size, sha256, encryption} read by HEAD; a file per bucket and prefix, or in memory only."""

    def __init__(self, folder: Path | None, bucket: str, prefix: str) -> None:
        digest = hashlib.sha256(f"{bucket}/{prefix}".encode()).hexdigest()[:16]
        self.file = folder / f"{bucket}--{digest}.json" if folder else None
        self.entries: dict[str, dict] = read_json(self.file, {}).get("objects", {}) if self.file else {}
        self._where = {"bucket": bucket, "prefix": prefix}
        self._saved = dict(self.entries)

    def get(self, key: str, etag: str, size: int, encryption: bool = False) -> dict | None:
        """The entry read for this version of the object, if any; with `encryption`, only one that names the
        object's encryption (entries written before it was kept do not)."""
        hit = self.entries.get(key)
        if hit and hit["etag"] == etag and hit["size"] == size and (not encryption or "encryption" in hit):
            return hit
        return None

    def put(self, key: str, etag: str, size: int, sha256: str | None, encryption: dict[str, str]) -> None:
        self.entries[key] = {"etag": etag, "size": size, "sha256": sha256, "encryption": encryption}

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


def remote_tree(client: Any, bucket: str, base: str, cache: HeadCache, workers: int,
                encryption: bool = False) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Path relative to `base` → sha256 (or `etag:<etag>` for objects without our metadata), and path → the
    server-side encryption of each object with a sha256 whose encryption is known (see encryption_of): with
    `encryption`, of every one, the cache entries that lack it being HEADed again."""
    listed = list_objects(client, bucket, base)
    found: dict[str, dict] = {}
    missing = []
    for key, (etag, size) in listed.items():
        hit = cache.get(key, etag, size, encryption)
        if hit:
            found[key] = hit
        else:
            missing.append(key)

    def head(key: str) -> tuple[str, dict]:
        return key, client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for key, info in pool.map(head, missing):
            # The HEAD's ETag and size: the object may have been replaced since the listing.
            cache.put(key, info["ETag"], info["ContentLength"], stored_sha256(info), encryption_of(info))
            found[key] = cache.entries[key]
    cache.keep_only(set(listed))
    cache.save()
    tree = {key[len(base):]: found[key]["sha256"] or f"etag:{listed[key][0].strip(chr(34))}" for key in listed}
    encrypted = {key[len(base):]: found[key]["encryption"] for key in listed
                 if found[key]["sha256"] and "encryption" in found[key]}
    return tree, encrypted
