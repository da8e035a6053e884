"""The HTTP/1.1 request handler: route, apply faults, call the route, write the response, count and log.

Keep-alive rules (hub-protocol.md §2.4): Content-Length on every response, no body on HEAD, and the request
body fully consumed before the next request, or the connection closed.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import time
from http.server import BaseHTTPRequestHandler

from . import auth, routing
from .counters import RequestRecord
from .errors import HubError
from .faults import FaultRule
from .http_io import BodyReader, Response, error_response, json_response
from .request import Request

logger = logging.getLogger("upload_pipeline_tests.hub_server")

# Unread request bodies up to this size are drained to keep the connection; larger ones close it instead.
DRAIN_LIMIT = 16 * 1024 * 1024


class HubRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LocalHub/1.0"
    # Idle keep-alive connections are closed after this many seconds, so no handler thread waits forever.
    timeout = 120

    def setup(self) -> None:
        super().setup()
        # Headers and body are separate writes: without TCP_NODELAY, Nagle + delayed ACK add ~40 ms per request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_GET

    def _handle(self) -> None:
        hub = self.server.hub
        started = time.monotonic()
        raw_path, _, query_string = self.path.partition("?")
        found = routing.match(self.command, raw_path)
        authorization = self.headers.get("Authorization")
        body = BodyReader(self.rfile, self.headers.get("Content-Length"), self.headers.get("Transfer-Encoding"))
        recorded = False

        def record(status: int | None, body_length: int) -> None:
            # Recorded *before* the client can see the outcome, so a test reading counters right after a call
            # (or after a retry of a cut request) never races the handler thread.
            nonlocal recorded
            recorded = True
            hub.counters.record(RequestRecord(self.command, found.kind, raw_path, status, body.bytes_read, body_length))
            logger.info(
                "%s %s %s %s auth=%s in=%d out=%d %.1fms",
                self.client_address[0],
                self.command,
                raw_path,
                status if status is not None else "cut",
                auth.redact_authorization(authorization),
                body.bytes_read,
                body_length,
                (time.monotonic() - started) * 1000,
            )

        try:
            plan = hub.faults.plan_for(self.command, raw_path, found.kind)
            if plan.delay:
                hub.stopping.wait(plan.delay)  # interrupted by stop(), so a long delay never blocks shutdown
            if plan.cut is not None:
                body.read_prefix(plan.cut.after_bytes)
                record(None, 0)
                self._hang_up()
                return
            response = self._respond(hub, found, raw_path, query_string, body, authorization, plan.status)
            if not body.done and not body.drain(DRAIN_LIMIT):
                self.close_connection = True
            if plan.lose is not None:
                record(None, 0)
                self._hang_up()
                return
            record(response.status, 0 if self.command == "HEAD" else response.content_length)
            self._send(response)
        except (ConnectionError, TimeoutError) as err:
            # The client went away mid-request or mid-response: nothing left to answer.
            logger.info("connection lost during %s %s: %s", self.command, raw_path, err)
            self.close_connection = True
            if not recorded:
                record(None, 0)

    def _respond(
        self, hub, found, raw_path, query_string, body, authorization, status_fault: FaultRule | None
    ) -> Response:
        if status_fault is not None:
            return _fault_response(status_fault)
        if found.route is None:
            return error_response(HubError(404, f"No route for {self.command} {raw_path}"))
        request = Request(
            self.command,
            raw_path,
            query_string,
            self.headers,
            body,
            hub.tokens.access_for(authorization),
            hub,
            found.params,
        )
        try:
            return found.route.handler(request)
        except HubError as err:
            return error_response(err)
        except (ConnectionError, TimeoutError):
            raise
        except Exception:
            logger.exception("internal error in %s %s", self.command, raw_path)
            return error_response(HubError(500, "Internal server error"))

    def _hang_up(self) -> None:
        """Close without answering (the cut and lose faults)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, response: Response) -> None:
        """Write status, headers and (except for HEAD) the body."""
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(response.content_length))
        for name, value in response.headers.items():
            self.send_header(name, _header_value(value))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        if response.stream is None:
            self.wfile.write(response.body)
            return
        for chunk in response.stream:
            self.wfile.write(chunk)

    def log_request(self, code="-", size="-") -> None:
        """Replaced by the access log line in `_handle`, which redacts the Authorization header."""

    def log_message(self, format: str, *args) -> None:
        logger.info("%s %s", self.address_string(), format % args)


def _header_value(value: str) -> str:
    """Header-safe text: error messages (e.g. YAML parser output) may hold newlines or non-latin-1 characters."""
    return re.sub(r"\s+", " ", str(value)).encode("latin-1", "replace").decode("latin-1")


def _fault_response(rule: FaultRule) -> Response:
    headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else {}
    if rule.status == 429:
        # The Hub's rate-limit headers (IETF draft); the client waits t + 1 s and names them in its error (§7).
        reset = next((v for v in (rule.ratelimit_reset, rule.retry_after) if v is not None), 0)
        headers["RateLimit"] = f'"api";r=0;t={reset}'
        headers["RateLimit-Policy"] = '"fixed window";"api";q=500;w=300'
    response = json_response({"error": f"Injected fault: HTTP {rule.status}"}, rule.status, headers)
    response.headers["X-Error-Message"] = f"Injected fault: HTTP {rule.status}"
    return response
