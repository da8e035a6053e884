"""Fault-injecting reverse proxy on 127.0.0.1 in front of any S3 endpoint, with per-operation counters.

    proxy = FaultProxy(moto_url); proxy.start()
    proxy.fail_next(2, status=503, op="UploadPart")      # two SlowDown replies, then pass through
    proxy.reset_next(after_bytes=1 << 20, path=r"partNumber=2")
    proxy.kill(); proxy.revive()                         # connections refused in between
    proxy.strip_response_header("x-amz-server-side-encryption", op="HeadObject")  # until clear_faults()
    proxy.counts["UploadPart"], proxy.bytes_forwarded

Each fault rule matches on method, a regex searched in the request target (path + query) and/or
the S3 operation name (see s3_ops); rules are consulted in the order they were added. Header stripping
rules are kept apart: they alter the response of a request that may also meet one of the others.
"""

from __future__ import annotations

import re
import socket
import threading
from collections import Counter
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from .proxy_http import ProxyHandler, ProxyServer

S3_ERRORS = {
    503: ("SlowDown", "Please reduce your request rate."),
    500: ("InternalError", "We encountered an internal error. Please try again."),
}


@dataclass
class Rule:
    action: str  # "error" | "reset" | "delay" | "kill" | "strip"
    times: int
    skip: int
    method: str | None
    path: re.Pattern | None
    op: str | None
    status: int = 0
    code: str = ""
    message: str = ""
    after_bytes: int = 0
    seconds: float = 0.0
    header: str = ""  # lower case

    def matches(self, method: str, target: str, op: str) -> bool:
        return (
            (self.method is None or self.method == method)
            and (self.op is None or self.op == op)
            and (self.path is None or self.path.search(target) is not None)
        )


class FaultProxy:
    def __init__(self, upstream_url: str) -> None:
        url = urlsplit(upstream_url)
        if url.scheme != "http" or url.hostname is None:
            raise ValueError(f"plain http upstream expected, got {upstream_url!r}")
        self.upstream = (url.hostname, url.port or 80)
        self.port = 0
        self._lock = threading.Lock()  # rules, counters, connection set
        self._life = threading.Lock()  # serialises start/kill/revive
        self._server: ProxyServer | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()
        self._rules: list[Rule] = []
        self._strips: list[Rule] = []
        self._counts: Counter[str] = Counter()
        self._bytes: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self._server is not None

    def start(self) -> str:
        """Listen on an ephemeral port; returns the URL to give boto3 as endpoint_url."""
        with self._life:
            self._listen(0)
        return self.endpoint_url

    def kill(self) -> None:
        """Act like a crashed server: close the listener (new connections are refused) and
        drop every open connection, including requests in flight."""
        with self._life:
            with self._lock:
                server, self._server = self._server, None
                conns = list(self._conns)
            if server is None:
                return
            server.shutdown()
            server.server_close()
            self._thread.join()
            for sock in conns:
                try:
                    sock.shutdown(socket.SHUT_RDWR)  # wakes the handler thread blocked on it
                except OSError:
                    pass

    def revive(self) -> None:
        """Listen again on the same port after kill(); counters and pending rules are kept."""
        with self._life:
            if self._server is None:
                self._listen(self.port)

    stop = kill

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _listen(self, port: int) -> None:
        server = ProxyServer(("127.0.0.1", port), ProxyHandler)
        server.proxy = self
        self.port = server.server_address[1]
        # A short poll interval keeps kill() fast: shutdown() waits for the loop to notice.
        thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), daemon=True, name=f"fault-proxy-{self.port}"
        )
        with self._lock:
            self._server, self._thread = server, thread
        thread.start()

    # -- fault injection ----------------------------------------------------------------------
    def fail_next(self, times: int = 1, *, status: int = 503, code: str | None = None, skip: int = 0,
                  method: str | None = None, path: str | None = None, op: str | None = None) -> None:
        """Answer the next `times` matching requests with an S3 XML error instead of forwarding
        them: 503 SlowDown, 500 InternalError, or any status with an explicit `code`."""
        default_code, message = S3_ERRORS.get(status, (code, code))
        if code is None and default_code is None:
            raise ValueError(f"no default S3 error code for status {status}; pass code=")
        self._add(Rule("error", times, skip, method, _regex(path), op, status=status,
                       code=code or default_code, message=message))

    def reset_next(self, times: int = 1, *, after_bytes: int = 64 * 1024, skip: int = 0,
                   method: str | None = None, path: str | None = None, op: str | None = None) -> None:
        """Read `after_bytes` of the matching request's body, then reset the TCP connection
        without answering. The request never reaches the upstream."""
        self._add(Rule("reset", times, skip, method, _regex(path), op, after_bytes=after_bytes))

    def delay_next(self, times: int = 1, *, seconds: float, skip: int = 0,
                   method: str | None = None, path: str | None = None, op: str | None = None) -> None:
        """Hold the matching requests for `seconds` before forwarding them."""
        self._add(Rule("delay", times, skip, method, _regex(path), op, seconds=seconds))

    def kill_on_next(self, *, skip: int = 0, method: str | None = None, path: str | None = None,
                     op: str | None = None) -> None:
        """kill() the proxy when the matching request arrives (after `skip` matches pass)."""
        self._add(Rule("kill", 1, skip, method, _regex(path), op))

    def strip_response_header(self, header: str, *, method: str | None = None, path: str | None = None,
                              op: str | None = None) -> None:
        """Drop `header` from the responses to the matching requests until clear_faults(): a store that accepts
        a request header but does not apply it, or does not report it (x-amz-server-side-encryption, say)."""
        # The response, not the request: stripping a signed request header works only against a server that
        # does not check SigV4 (moto), and the client cannot tell an unreported setting from an unapplied one,
        # so this is that store as the client sees it, in front of any upstream.
        with self._lock:
            self._strips.append(Rule("strip", 0, 0, method, _regex(path), op, header=header.lower()))

    def clear_faults(self) -> None:
        with self._lock:
            self._rules.clear()
            self._strips.clear()

    def _add(self, rule: Rule) -> None:
        with self._lock:
            self._rules.append(rule)

    # -- counters -----------------------------------------------------------------------------
    @property
    def counts(self) -> Counter[str]:
        """Requests received per S3 operation, faulted ones included."""
        with self._lock:
            return Counter(self._counts)

    @property
    def bytes_by_op(self) -> Counter[str]:
        """Request-body bytes forwarded upstream, per S3 operation."""
        with self._lock:
            return Counter(self._bytes)

    @property
    def bytes_forwarded(self) -> int:
        with self._lock:
            return sum(self._bytes.values())

    @property
    def faults(self) -> Counter[str]:
        """Faults injected so far, per action ("error", "reset", "delay", "kill"; "strip" counts requests whose
        response was stripped of a header)."""
        with self._lock:
            return Counter(self._faults)

    def reset_counters(self) -> None:
        with self._lock:
            self._counts.clear()
            self._bytes.clear()
            self._faults.clear()

    # -- hooks called by proxy_http handler threads ----------------------------------------------
    def _on_request(self, method: str, target: str, op: str) -> Rule | None:
        """Count the request and claim the first matching rule that is due, atomically."""
        with self._lock:
            self._counts[op] += 1
            for rule in self._rules:
                if not rule.matches(method, target, op):
                    continue
                if rule.skip:
                    rule.skip -= 1
                    continue
                rule.times -= 1
                if rule.times == 0:
                    self._rules.remove(rule)
                self._faults[rule.action] += 1
                return replace(rule)
            return None

    def _stripped(self, method: str, target: str, op: str) -> frozenset[str]:
        """The response headers to drop for this request."""
        with self._lock:
            headers = frozenset(r.header for r in self._strips if r.matches(method, target, op))
            if headers:
                self._faults["strip"] += 1
            return headers

    def _count_bytes(self, op: str, n: int) -> None:
        with self._lock:
            self._bytes[op] += n

    def _register(self, server: ProxyServer, sock: socket.socket) -> bool:
        with self._lock:
            if server is not self._server:
                return False
            self._conns.add(sock)
            return True

    def _unregister(self, sock: socket.socket) -> None:
        with self._lock:
            self._conns.discard(sock)


def _regex(pattern: str | None) -> re.Pattern | None:
    return re.compile(pattern) if pattern is not None else None
