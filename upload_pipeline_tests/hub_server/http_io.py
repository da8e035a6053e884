"""Request bodies in, responses out.

Keep-alive correctness (hub-protocol.md §2.4): every response has a Content-Length, HEAD responses have none of
the body, and a request body is always consumed (or the connection closed) before the next request is parsed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from .errors import HubError, bad_request

CHUNK = 1 << 20


@dataclass
class Response:
    """A response; `stream` with `length` serves large files without loading them in memory."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    stream: Iterable[bytes] | None = None
    length: int | None = None

    @property
    def content_length(self) -> int:
        return self.length if self.stream is not None else len(self.body)


def json_response(data, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(data).encode(), dict(headers or {}))


def error_response(error: HubError) -> Response:
    headers = dict(error.headers)
    if error.code:
        headers["X-Error-Code"] = error.code
    # The client appends X-Error-Message to exception messages (§2.3); default it to the body's message.
    headers.setdefault("X-Error-Message", error.message)
    return json_response(error.body, error.status, headers)


class BodyReader:
    """Reads a request body framed by Content-Length or chunked transfer-encoding, counting bytes as they arrive."""

    def __init__(self, rfile: BinaryIO, content_length: str | None, transfer_encoding: str | None) -> None:
        self._rfile = rfile
        self._chunked = (transfer_encoding or "").lower() == "chunked"
        try:
            self._remaining = 0 if self._chunked else int(content_length or 0)
        except ValueError:
            raise bad_request("Invalid Content-Length") from None
        self._chunk_left = 0
        self.done = not self._chunked and self._remaining == 0
        self.bytes_read = 0

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        """Yield the rest of the body; a truncated body (client hung up) raises `ConnectionError`."""
        while True:
            chunk = self.read(size)
            if not chunk:
                return
            yield chunk

    def read_all(self) -> bytes:
        return b"".join(self.chunks())

    def read(self, size: int) -> bytes:
        """Up to `size` bytes of the body; b"" once it is exhausted."""
        if self.done:
            return b""
        if self._chunked and self._chunk_left == 0 and not self._next_chunk():
            return b""
        limit = self._chunk_left if self._chunked else self._remaining
        data = self._rfile.read(min(size, limit))
        if not data:
            raise ConnectionError("client closed the connection before the end of the request body")
        self.bytes_read += len(data)
        if self._chunked:
            self._chunk_left -= len(data)
            if self._chunk_left == 0:
                self._rfile.readline()  # CRLF after each chunk
        else:
            self._remaining -= len(data)
            self.done = self._remaining == 0
        return data

    def read_prefix(self, count: int) -> None:
        """Read (and drop) at most `count` bytes: what a connection-cut fault lets through."""
        while count > 0 and (chunk := self.read(min(count, CHUNK))):
            count -= len(chunk)

    def drain(self, limit: int) -> bool:
        """Discard the unread body if it is at most `limit` bytes; False means: close the connection instead."""
        if not self._chunked and self._remaining > limit:
            return False
        return all(self.bytes_read <= limit for _ in self.chunks())

    def _next_chunk(self) -> bool:
        line = self._rfile.readline(1024)
        if not line:
            raise ConnectionError("client closed the connection inside a chunked body")
        self._chunk_left = int(line.split(b";", 1)[0].strip() or b"0", 16)
        if self._chunk_left == 0:
            while self._rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            self.done = True
            return False
        return True


def parse_json(data: bytes):
    try:
        return json.loads(data or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise bad_request(f"Invalid JSON body: {err}") from None
