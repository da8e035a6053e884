"""A tar.gz of the staged tree for one published version, next to the S3 copy: `<prefix>/archives/<ds>-<v>.tar.gz`.

The archive is byte-deterministic — entries sorted, mtime 0, uid/gid 0, mode 0644, gzip header without name or
time — so one staged tree always gives the same bytes and sha256. It holds the staged files (hidden and system
files left out) under one folder `<ds>-<version>/`. It is built under `state/<ds>/archive-tmp/`, uploaded and
verified through the S3 provider, and deleted only then; after a failure it is kept, and the retry reuses it
when its sha256 and manifest still match the sidecar written when it was built. Every build or upload appends
one operation record to `state/<ds>/archives.jsonl`; a staged tree already archived (same manifest, the
object still there with its sha256) is neither rebuilt nor uploaded again, and appends nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tarfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from upload_pipeline.config import S3Target
from upload_pipeline.hashing import sha256_file
from upload_pipeline.landing import is_system_file
from upload_pipeline.providers.local_s3 import LocalS3Resource
from upload_pipeline.staging import StagedFile
from upload_pipeline.state import append_jsonl, read_json, read_jsonl, write_json_atomic
from upload_pipeline.steps import DatasetPaths, staged_files

ARCHIVE_DIR = "archives"  # under the prefix; a mirror sync never deletes it (remote.sync_request)
HISTORY = "archives.jsonl"
TMP_DIR = "archive-tmp"
# Files operating systems drop into folders (hidden ones, `.DS_Store` and `._*`, are already left out).
_SYSTEM_NAMES = frozenset({"Thumbs.db", "ehthumbs.db", "desktop.ini", "Icon\r", "__MACOSX", "$RECYCLE.BIN"})


class ArchiveStore(Protocol):
    """What the archive needs from the S3 role: S3StorageResource, or LocalArchiveStore for the default."""

    def object_sha256(self, target: S3Target, path: str) -> str | None: ...

    def put_file(self, target: S3Target, path: str, source: Path, sha256: str) -> str: ...

    def abort_unfinished(self, target: S3Target, folder: str) -> list[str]: ...


@dataclass
class ArchiveRecord:
    """One archive operation, as kept in the history and shown as asset metadata."""

    id: str
    dataset: str
    version: str
    status: str  # uploaded | failed | unchanged (the last is never appended)
    source: str  # the staged folder
    manifest_sha256: str  # of the archived files' paths, sizes and sha256
    files: int
    source_bytes: int
    key: str  # relative to the prefix
    uri: str = ""
    archive_path: str = ""  # the temporary archive
    size: int = 0
    sha256: str = ""
    compression_ratio: float = 0.0  # source bytes / archive bytes
    reused_temp: bool = False
    started_at: str = ""
    finished_at: str = ""
    error: str | None = None


def archived_files(paths: DatasetPaths) -> dict[str, StagedFile]:
    """The staged files an archive holds: all but hidden, system and temp files."""
    return {p: f for p, f in staged_files(paths).items()
            if not any(is_system_file(part) or part in _SYSTEM_NAMES for part in p.split("/"))}


def manifest_sha256(files: dict[str, StagedFile]) -> str:
    lines = "".join(f"{f.sha256}  {f.size}  {path}\n" for path, f in sorted(files.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def build(root: Path, files: dict[str, StagedFile], top: str, dest: Path) -> None:
    """Write the deterministic tar.gz of `files` (relative to `root`) to `dest`, whole or not at all."""
    partial = dest.with_name(dest.name + ".partial")
    with open(partial, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz, \
                tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(files):
                info = tarfile.TarInfo(f"{top}/{path}")
                info.size, info.mtime, info.mode = files[path].size, 0, 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with open(root / path, "rb") as f:
                    tar.addfile(info, f)
        raw.flush()
        os.fsync(raw.fileno())
    os.replace(partial, dest)


def publish_archive(store: ArchiveStore, target: S3Target, dataset: str, paths: DatasetPaths,
                    version: str) -> ArchiveRecord:
    """Build (or reuse) and upload the archive of the staged tree as `version`, unless already archived.

    Raises:
        ProviderError: the upload or its verification failed; the temporary archive is kept for the retry.
    """
    files = archived_files(paths)
    manifest = manifest_sha256(files)
    history = paths.file(HISTORY)
    uploaded = [r for r in read_jsonl(history) if r["status"] == "uploaded"]
    done = next((r for r in reversed(uploaded) if r["manifest_sha256"] == manifest), None)
    if done and store.object_sha256(target, done["key"]) == done["sha256"]:
        # An upload a crash cut short (of an archive since superseded) is never continued now: its parts go.
        store.abort_unfinished(target, ARCHIVE_DIR + "/")
        return ArchiveRecord(**{**done, "status": "unchanged"})
    name = f"{dataset}-{version}"
    if any(r["key"] == f"{ARCHIVE_DIR}/{name}.tar.gz" and r["manifest_sha256"] != manifest for r in uploaded):
        # That version's archive holds another tree: it is never overwritten; this one is named by its content.
        name = f"{dataset}-{manifest[:16]}"
    tmp = paths.file(TMP_DIR) / f"{name}.tar.gz"
    record = ArchiveRecord(
        id=uuid.uuid4().hex, dataset=dataset, version=version, status="failed", source=str(paths.staged),
        manifest_sha256=manifest, files=len(files), source_bytes=sum(f.size for f in files.values()),
        key=f"{ARCHIVE_DIR}/{name}.tar.gz", archive_path=str(tmp), started_at=_now())
    try:
        record.reused_temp = _reusable(tmp, manifest)
        if not record.reused_temp:
            tmp.parent.mkdir(parents=True, exist_ok=True)
            build(paths.staged, files, name, tmp)
            write_json_atomic(_sidecar(tmp), {"manifest_sha256": manifest, "sha256": sha256_file(tmp)})
        record.size, record.sha256 = tmp.stat().st_size, read_json(_sidecar(tmp))["sha256"]
        record.compression_ratio = round(record.source_bytes / record.size, 4) if record.size else 0.0
        record.uri = store.put_file(target, record.key, tmp, record.sha256)
        record.status = "uploaded"
    except Exception as exc:
        record.error = str(exc)
        raise
    finally:
        record.finished_at = _now()
        append_jsonl(history, asdict(record))
    shutil.rmtree(tmp.parent)  # verified: this and any older, superseded temp archive can go
    return record


class LocalArchiveStore:
    """The archive on the embedded default: a file under `<root>/<bucket>/<prefix>/archives/`."""

    def __init__(self, provider: LocalS3Resource) -> None:
        self.provider = provider

    def object_sha256(self, target: S3Target, path: str) -> str | None:
        file = self.provider.folder(target) / path
        return sha256_file(file) if file.is_file() else None

    def abort_unfinished(self, target: S3Target, folder: str) -> list[str]:
        return []  # a local copy has no multipart uploads

    def put_file(self, target: S3Target, path: str, source: Path, sha256: str) -> str:
        dest = self.provider.folder(target) / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(f".{dest.name}.partial")
        shutil.copyfile(source, partial)
        os.replace(partial, dest)
        if sha256_file(dest) != sha256:
            raise OSError(f"{dest}: copied archive does not have the sha256 {sha256}")
        return str(dest)


def store_for(provider: object) -> ArchiveStore:
    """The archive store of the S3 role's provider."""
    return LocalArchiveStore(provider) if isinstance(provider, LocalS3Resource) else provider


def _reusable(tmp: Path, manifest: str) -> bool:
    """A temporary archive kept by a failed attempt is reused when it is still what it was built as."""
    side = read_json(_sidecar(tmp))
    return (tmp.is_file() and side is not None and side["manifest_sha256"] == manifest
            and sha256_file(tmp) == side["sha256"])


def _sidecar(tmp: Path) -> Path:
    return tmp.with_name(tmp.name + ".json")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
