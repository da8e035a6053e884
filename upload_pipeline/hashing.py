"""Content hashes: the identity of a landed file and of every staged or remote file."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import BinaryIO


def sha256_file(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


class HashingWriter:
    """A binary file being written that hashes its bytes on the way, so nothing reads them back to hash.

    pyarrow's writers accept it as their sink (they need `write`, `tell`, `flush` and `closed`).
    """

    def __init__(self, file: BinaryIO):
        self._file = file
        self._sha = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self._sha.update(data)
        return self._file.write(data)

    def tell(self) -> int:
        return self._file.tell()

    def flush(self) -> None:
        self._file.flush()

    @property
    def closed(self) -> bool:
        return self._file.closed

    def close(self) -> None:
        """Flush, fsync and close the file."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def hexdigest(self) -> str:
        return self._sha.hexdigest()
