"""`HubServer`: lifecycle of the local Hub, plus direct on-disk state accessors for test assertions."""

from __future__ import annotations

import contextlib
import ipaddress
import shutil
import socket
import threading
from collections.abc import Iterable
from http.server import ThreadingHTTPServer
from pathlib import Path

from .auth import TokenPolicy
from .counters import Counters
from .faults import FaultInjector
from .handler import HubRequestHandler
from .lfs import LfsSessions
from .storage import DEFAULT_BRANCH, Storage, make_repo_key


class _HTTPServer(ThreadingHTTPServer):
    """Threaded server that tracks its connections and handler threads, so `stop()` can end idle keep-alive
    connections and join every thread. (The stdlib only joins non-daemon threads, and non-daemon threads would
    keep a test process alive if a server were never stopped.)
    """

    daemon_threads = True

    def __init__(self, address: tuple[str, int], hub: HubServer) -> None:
        self.hub = hub
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._handler_threads: set[threading.Thread] = set()
        super().__init__(address, HubRequestHandler)

    def process_request(self, request, client_address) -> None:
        thread = threading.Thread(target=self.process_request_thread, args=(request, client_address), daemon=True)
        with self._lock:
            self._connections.add(request)
            self._handler_threads.add(thread)
        thread.start()

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._connections.discard(request)
                self._handler_threads.discard(threading.current_thread())

    def close_all(self) -> None:
        """Hang up every open connection, close the listening socket, and join the handler threads."""
        with self._lock:
            connections, threads = list(self._connections), list(self._handler_threads)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self.server_close()
        for thread in threads:
            thread.join()


class HubServer:
    """A protocol-faithful local Hugging Face Hub on 127.0.0.1, persisted under `root`.

    Args:
        root: directory holding repos, commits and blobs; a new server on the same root sees the same state.
        host: loopback address to bind (anything else is refused).
        port: 0 picks a free port.
        write_tokens / read_tokens: valid tokens. Both None (default): any token may write.
        user: account name returned by whoami and recorded as commit author.
        tree_page_size / expand_page_size / commits_page_size: pagination sizes (Hub: 1000 / 50 / 50).
        lfs_multipart_threshold / lfs_chunk_size: objects above the threshold get multipart upload URLs.
    """

    def __init__(
        self,
        root: Path | str,
        host: str = "127.0.0.1",
        port: int = 0,
        write_tokens: Iterable[str] | None = None,
        read_tokens: Iterable[str] | None = None,
        *,
        user: str = "tester",
        tree_page_size: int = 1000,
        expand_page_size: int = 50,
        commits_page_size: int = 50,
        lfs_multipart_threshold: int = 64 * 1024 * 1024,
        lfs_chunk_size: int = 8 * 1024 * 1024,
    ) -> None:
        if not _is_ipv4_loopback(host):
            raise ValueError(f"HubServer only binds IPv4 loopback addresses such as 127.0.0.1, not {host!r}")
        self.root = Path(root)
        self.host, self._requested_port = host, port
        self.user = user
        self.tokens = TokenPolicy(write_tokens, read_tokens)
        self.tree_page_size, self.expand_page_size, self.commits_page_size = (
            tree_page_size,
            expand_page_size,
            commits_page_size,
        )
        self.lfs_multipart_threshold, self.lfs_chunk_size = lfs_multipart_threshold, lfs_chunk_size
        self.storage = Storage(self.root, user)
        self.lfs_sessions = LfsSessions(self.root / "tmp" / "uploads")
        self.faults = FaultInjector()
        self.counters = Counters()
        self.stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """Base URL without trailing slash: use it verbatim as `HF_ENDPOINT` (§2.1)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> HubServer:
        if self._httpd is not None:
            raise RuntimeError("server already started")
        # Upload sessions do not survive a restart, so their staged parts are garbage.
        shutil.rmtree(self.root / "tmp", ignore_errors=True)
        self.storage.blobs.tmp.mkdir(parents=True, exist_ok=True)
        self.stopping.clear()
        self._httpd = _HTTPServer((self.host, self._requested_port), self)
        # A short poll interval keeps stop() fast: shutdown() waits for the serve loop's next poll.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"hub-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, hang up open connections, close the listening socket and join every thread."""
        if self._httpd is None:
            return
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.close_all()
        self._thread.join()
        self._httpd, self._thread = None, None

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def reset(self) -> None:
        """Clear counters and fault rules (repo state is untouched)."""
        self.counters.reset()
        self.faults.reset()

    # Direct state accessors for assertions: they read the on-disk store, not HTTP.

    def repo_exists(self, repo_id: str, repo_type: str = "dataset") -> bool:
        return self.storage.repo(_key(repo_type, repo_id)) is not None

    def list_commits(self, repo_id: str, revision: str = DEFAULT_BRANCH, repo_type: str = "dataset") -> list[dict]:
        """First-parent history at `revision`, newest first: `{"id", "parents", "title", "message", "date", ...}`."""
        key = _key(repo_type, repo_id)
        return [
            {k: v for k, v in c.items() if k != "tree"}
            for c in self.storage.history(key, self.storage.resolve(key, revision))
        ]

    def tree(self, repo_id: str, revision: str = DEFAULT_BRANCH, repo_type: str = "dataset") -> dict[str, dict]:
        """`{path: {"sha256", "size", "lfs", "oid"}}` at `revision`."""
        key = _key(repo_type, repo_id)
        tree = self.storage.commit(key, self.storage.resolve(key, revision))["tree"]
        return {path: dict(entry) for path, entry in tree.items()}  # copies: the stored commit is shared

    def read_file(self, repo_id: str, path: str, revision: str = DEFAULT_BRANCH, repo_type: str = "dataset") -> bytes:
        return self.storage.blobs.read_bytes(self.tree(repo_id, revision, repo_type)[path]["sha256"])

    def refs(self, repo_id: str, repo_type: str = "dataset") -> dict:
        """`{"branches": {name: sha}, "tags": {...}, "prs": {"N": sha}}`."""
        return self.storage.refs(_key(repo_type, repo_id))


def _key(repo_type: str, repo_id: str):
    namespace, _, name = repo_id.partition("/")
    return make_repo_key(repo_type, namespace, name)


def _is_ipv4_loopback(host: str) -> bool:
    try:
        return ipaddress.IPv4Address(host).is_loopback
    except ValueError:
        return False
