"""Content-addressed blob store on disk (`<root>/blobs/ab/<sha256>`), shared by every repo.

Blobs are written to a temp file and renamed into place, so a reader never sees a partial blob and a crash leaves
at most an orphan temp file. Which repo may *use* an LFS object is tracked separately by `storage.Storage`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .errors import bad_request


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root / "blobs"
        self.tmp = root / "tmp"
        self.root.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def size(self, sha256: str) -> int:
        return self.path(sha256).stat().st_size

    def put_bytes(self, data: bytes) -> str:
        """Store `data`; returns its sha256."""
        sha256 = hashlib.sha256(data).hexdigest()
        if not self.exists(sha256):
            self._commit_temp(self._write_temp([data])[0], sha256)
        return sha256

    def ingest(self, chunks: Iterable[bytes], sha256: str, size: int) -> None:
        """Stream an LFS object to disk; reject it unless its sha256 and size are the announced ones (§3.14)."""
        temp, digest, written = self._write_temp(chunks)
        if digest != sha256 or written != size:
            temp.unlink(missing_ok=True)
            raise bad_request(
                f"Uploaded object does not match: expected sha256 {sha256} and size {size}, got {digest} and {written}"
            )
        self._commit_temp(temp, sha256)

    def ingest_parts(self, parts: list[Path], sha256: str, size: int) -> None:
        """Assemble multipart parts in order into one object, with the same checks as `ingest`."""
        self.ingest(_read_files(parts), sha256, size)

    def write_part(self, upload_dir: Path, number: int, chunks: Iterable[bytes]) -> str:
        """Store one multipart part; returns its md5 hex, used as the part's ETag like S3 does."""
        upload_dir.mkdir(parents=True, exist_ok=True)
        md5 = hashlib.md5(usedforsecurity=False)
        temp = upload_dir / f".part-{number}.tmp"
        with temp.open("wb") as out:
            for chunk in chunks:
                md5.update(chunk)
                out.write(chunk)
        os.replace(temp, upload_dir / f"part-{number}")
        return md5.hexdigest()

    def read_range(self, sha256: str, start: int, length: int, chunk_size: int = 1 << 20) -> Iterable[bytes]:
        with self.path(sha256).open("rb") as src:
            src.seek(start)
            while length > 0:
                chunk = src.read(min(chunk_size, length))
                if not chunk:
                    return
                length -= len(chunk)
                yield chunk

    def read_bytes(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def _write_temp(self, chunks: Iterable[bytes]) -> tuple[Path, str, int]:
        digest, written = hashlib.sha256(), 0
        fd, name = tempfile.mkstemp(dir=self.tmp, prefix="blob-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    digest.update(chunk)
                    written += len(chunk)
                    out.write(chunk)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return Path(name), digest.hexdigest(), written

    def _commit_temp(self, temp: Path, sha256: str) -> None:
        target = self.path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp, target)


def _read_files(paths: list[Path], chunk_size: int = 1 << 20) -> Iterable[bytes]:
    for path in paths:
        with path.open("rb") as src:
            while chunk := src.read(chunk_size):
                yield chunk
