"""HTTP/1.1 relay machinery of FaultProxy: one thread per client connection (standard library only).

Request headers are relayed unchanged, Host included: boto3 signs the Host it connects to
(the proxy's), so the upstream must see that same Host for a SigV4 check to pass.
"""

from __future__ import annotations

import http.client
import http.server
import socket
import struct
import time
import uuid
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from .s3_ops import s3_operation

if TYPE_CHECKING:
    from .fault_proxy import FaultProxy

CHUNK = 64 * 1024
HOP_BY_HOP = frozenset(
    "connection keep-alive proxy-connection proxy-authenticate proxy-authorization te trailer "
    "transfer-encoding upgrade".split()
)
# Also dropped upstream: the proxy already answered the client's 100-continue. Not signed by SigV4.
NOT_FORWARDED = HOP_BY_HOP | {"expect"}


class ProxyServer(http.server.ThreadingHTTPServer):
    daemon_threads = True  # kill() runs on a handler thread, so the server must not join them
    proxy: FaultProxy

    def handle_error(self, request, client_address) -> None:
        pass  # dropped connections are the point of this server, not news


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response below carries a Content-Length
    server: ProxyServer
    timeout = 120  # an idle keep-alive client must not pin a thread forever

    def setup(self) -> None:
        super().setup()
        self._upstream: http.client.HTTPConnection | None = None
        if not self.server.proxy._register(self.server, self.connection):
            self._reset()  # accepted just as the proxy was killed: die with it

    def finish(self) -> None:
        self.server.proxy._unregister(self.connection)
        if self._upstream is not None:
            self._upstream.close()
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format, *args) -> None:
        pass

    def do_request(self) -> None:
        op = s3_operation(self.command, self.path, self.headers)
        rule = self.server.proxy._on_request(self.command, self.path, op)
        action = rule.action if rule else None
        if action == "delay":
            time.sleep(rule.seconds)
        elif action == "kill":
            self.server.proxy.kill()
            return
        elif action == "reset":
            self._read_body(limit=rule.after_bytes)
            self._reset()
            return
        elif action == "error":
            self._read_body()  # drain the body so the connection stays usable for keep-alive
            self._send_error(rule.status, rule.code, rule.message)
            return
        self._forward(op, self.server.proxy._stripped(self.command, self.path, op))

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_request

    def _reset(self) -> None:
        """Close with SO_LINGER 0, so the client gets a TCP RST instead of a clean FIN."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            # The fd is only released once rfile (a makefile() reference) is closed too.
            self.rfile.close()
            self.wfile.close()
            self.connection.close()
        except OSError:
            pass

    def _body(self):
        """Yield the request body as it arrives: Content-Length or chunked framing."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while size := int(self.rfile.readline().split(b";")[0], 16):
                yield self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailer fields
            return
        remaining = int(self.headers.get("Content-Length") or 0)
        while remaining:
            data = self.rfile.read(min(CHUNK, remaining))
            if not data:
                raise ConnectionError("client closed mid-body")
            remaining -= len(data)
            yield data

    def _read_body(self, limit: int | None = None) -> None:
        seen = 0
        for data in self._body():
            seen += len(data)
            if limit is not None and seen >= limit:
                return

    def _send_error(self, status: int, code: str, message: str, close: bool = False) -> None:
        request_id = uuid.uuid4().hex[:16].upper()
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"<Resource>{escape(urlsplit(self.path).path)}</Resource>"
            f"<RequestId>{request_id}</RequestId><HostId>{uuid.uuid4().hex}</HostId></Error>"
        ).encode()
        if self.command == "HEAD":
            body = b""  # S3 sends error status and headers only for HEAD
        self.send_response_only(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("x-amz-request-id", request_id)
        self.send_header("Date", self.date_time_string())
        self.send_header("Server", "AmazonS3")
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")  # also sets self.close_connection
        self.end_headers()
        self.wfile.write(body)

    def _upstream_conn(self) -> http.client.HTTPConnection:
        conn = self._upstream
        # An idle upstream connection that has become readable was closed by the server.
        if conn is not None and conn.sock is not None:
            conn.sock.settimeout(0)  # a socket with a timeout would wait in recv even with PEEK
            try:
                conn.sock.recv(1, socket.MSG_PEEK)
                conn.close()  # EOF or unsolicited bytes: either way unusable
            except BlockingIOError:
                conn.sock.settimeout(conn.timeout)
            except OSError:
                conn.close()
        if conn is None:
            host, port = self.server.proxy.upstream
            conn = self._upstream = http.client.HTTPConnection(host, port, timeout=120)
        return conn

    def _forward(self, op: str, strip: frozenset[str] = frozenset()) -> None:
        proxy = self.server.proxy
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        try:
            conn = self._upstream_conn()
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in NOT_FORWARDED:
                    conn.putheader(name, value)
            if chunked:
                conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            for data in self._body():
                conn.send(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
                proxy._count_bytes(op, len(data))
            if chunked:
                conn.send(b"0\r\n\r\n")
            response = conn.getresponse()
        except (OSError, http.client.HTTPException):
            # Upstream unreachable or dropped us; part of the body may be unread, so close.
            self._upstream.close()
            self._send_error(502, "BadGateway", "The upstream S3 server failed.", close=True)
            return
        self._relay(response, strip)
        if response.will_close:
            conn.close()

    def _relay(self, response: http.client.HTTPResponse, strip: frozenset[str] = frozenset()) -> None:
        """Send `response` on to the client, without the headers in `strip` (lower case; see FaultProxy)."""
        headers = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP | strip]
        bodiless = self.command == "HEAD" or response.status in (204, 304)
        self.send_response_only(response.status, response.reason)
        if bodiless or response.getheader("Content-Length") is not None:
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            while data := response.read(CHUNK):
                self.wfile.write(data)
            return
        body = response.read()  # chunked or close-delimited upstream: re-frame with a length
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
