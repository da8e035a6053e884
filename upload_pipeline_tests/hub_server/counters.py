"""Request, commit and byte counters, so tests can assert exactly what the client sent.

Byte counts are request-body bytes actually read from the socket, per route kind: an upload cut part-way by a
fault counts the part that arrived, and its retry counts again.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass

# Route kinds whose bodies are LFS object bytes (basic PUT and multipart parts, hub-protocol.md §3.14).
LFS_UPLOAD_KINDS = ("lfs_upload", "lfs_part")


@dataclass(frozen=True)
class RequestRecord:
    method: str
    kind: str
    path: str
    status: int | None  # None: the connection was cut before any answer
    bytes_received: int
    bytes_sent: int  # body length of the response (0 for HEAD and cut connections)


class Counters:
    """Thread-safe counters. All read accessors return snapshots."""

    def __init__(self, log_size: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._log_size = log_size
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests: Counter[tuple[str, str]] = Counter()
            self._received: Counter[str] = Counter()
            self._sent: Counter[str] = Counter()
            self._commits = 0
            # Bounded so that a long benchmark run does not grow memory without limit.
            self._log: deque[RequestRecord] = deque(maxlen=self._log_size)

    def record(self, record: RequestRecord) -> None:
        with self._lock:
            self._requests[(record.method, record.kind)] += 1
            self._received[record.kind] += record.bytes_received
            self._sent[record.kind] += record.bytes_sent
            self._log.append(record)

    def record_commit(self) -> None:
        with self._lock:
            self._commits += 1

    @property
    def requests(self) -> dict[tuple[str, str], int]:
        """Requests per `(method, kind)`, e.g. `{("POST", "commit"): 1}`."""
        with self._lock:
            return dict(self._requests)

    def count(self, method: str | None = None, kind: str | None = None) -> int:
        """Number of requests matching `method` and/or `kind`."""
        with self._lock:
            return sum(n for (m, k), n in self._requests.items() if method in (None, m) and kind in (None, k))

    @property
    def commits(self) -> int:
        """Commits actually created (failed commit requests do not count)."""
        with self._lock:
            return self._commits

    @property
    def bytes_received(self) -> dict[str, int]:
        """Request-body bytes per route kind."""
        with self._lock:
            return dict(self._received)

    @property
    def bytes_sent(self) -> dict[str, int]:
        """Response-body bytes per route kind."""
        with self._lock:
            return dict(self._sent)

    @property
    def lfs_bytes(self) -> int:
        """Bytes received by LFS uploads (basic PUT plus multipart parts)."""
        with self._lock:
            return sum(self._received[kind] for kind in LFS_UPLOAD_KINDS)

    @property
    def commit_bytes(self) -> int:
        """Bytes received in commit NDJSON payloads."""
        with self._lock:
            return self._received["commit"]

    @property
    def log(self) -> list[RequestRecord]:
        """The last requests (at most `log_size`), oldest first."""
        with self._lock:
            return list(self._log)
