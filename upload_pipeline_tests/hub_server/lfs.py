"""Pending LFS uploads: the opaque session behind each upload URL handed out by the batch API.

Upload URLs carry no `authorization` header (hub-protocol.md §2.2, §3.14), so the random session id in the URL is
the capability. Sessions live in memory only: after a restart, clients ask the batch API again. A session stays
usable after a successful PUT (a retried PUT whose response was lost must not fail) and is dropped at verify.
"""

from __future__ import annotations

import math
import shutil
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from .errors import HubError
from .storage import RepoKey


@dataclass(frozen=True)
class UploadSession:
    id: str
    key: RepoKey
    oid: str
    size: int
    chunk_size: int | None  # set for multipart uploads

    @property
    def part_count(self) -> int:
        # The client insists on exactly ceil(size / chunk_size) part URLs (§3.14).
        return math.ceil(self.size / self.chunk_size) if self.chunk_size else 0


class LfsSessions:
    def __init__(self, staging_root: Path) -> None:
        self._staging_root = staging_root
        self._lock = threading.Lock()
        self._sessions: dict[str, UploadSession] = {}

    def open(self, key: RepoKey, oid: str, size: int, chunk_size: int | None) -> UploadSession:
        session = UploadSession(uuid.uuid4().hex, key, oid, size, chunk_size)
        with self._lock:
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str) -> UploadSession:
        with self._lock:
            session = self._sessions.get(session_id)
        if session is None:
            raise HubError(404, "Unknown or expired upload URL")
        return session

    def staging_dir(self, session: UploadSession) -> Path:
        return self._staging_root / session.id

    def close_for(self, key: RepoKey, oid: str) -> None:
        """Forget every session of `oid` in repo `key` and delete their staged parts."""
        with self._lock:
            done = [s for s in self._sessions.values() if s.key == key and s.oid == oid]
            for session in done:
                del self._sessions[session.id]
        for session in done:
            shutil.rmtree(self.staging_dir(session), ignore_errors=True)
