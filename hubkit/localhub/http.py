"""HTTP plumbing of the local Hub: reading request bodies within a limit, answering, errors, byte ranges.

Why a module of its own: what the Hub's API means (routes, storage) is separate from how bytes move. Here a body is
read only up to a declared limit (from Content-Length before a byte is read; while streaming for a chunked body), a
malformed body or header becomes a 4xx with `X-Error-Message` (and `X-Error-Code` where the Hub sends one, so
`hf_raise_for_status` raises the client's own exception), and a connection whose body was not consumed is closed
rather than drained.
"""

from __future__ import annotations

import io
import json
import re
import socket
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

CHUNK = 1024 * 1024
#: An error answer drains at most this much unread body to keep the connection; a larger one closes it.
_DRAIN_LIMIT = 64 * 1024
#: After an early error answer on a connection that will close: discard at most this much, for at most this long.
_LINGER_BYTES = 8 * 1024 * 1024
_LINGER_S = 1.0


class HttpError(Exception):
    """An answer other than success: status, one-line message, and the Hub's `X-Error-Code` if it has one."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.headers = status, code, headers or {}


def declared_length(headers) -> int | None:
    """The Content-Length of a request (None if absent or chunked); 400 if it is not one non-negative integer."""
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        return None
    values = headers.get_all("Content-Length") or []
    if not values:
        return None
    if len(set(values)) != 1 or not values[0].strip().isdigit():
        raise HttpError(400, "Invalid Content-Length header: expected one non-negative integer")
    return int(values[0])


class BodyReader(io.RawIOBase):
    """The request body as a file (Content-Length or chunked), refusing to read past `limit` bytes.

    A malformed chunk raises HttpError 400 and a body longer than the limit HttpError 413; either leaves the stream
    unusable (`broken`), so the connection must be closed after the answer.
    """

    def __init__(self, rfile, headers, limit: int):
        self._rfile = rfile
        self.limit = limit
        self.bytes_read = 0
        self.broken = False
        self._chunked = "chunked" in headers.get("Transfer-Encoding", "").lower()
        self._remaining = 0 if self._chunked else (declared_length(headers) or 0)
        self._eof = not self._chunked and self._remaining == 0

    @property
    def finished(self) -> bool:
        return self._eof

    def readable(self) -> bool:
        return True

    def _fail(self, status: int, message: str) -> HttpError:
        self.broken = True
        return HttpError(status, message)

    def _next_chunk_size(self) -> int:
        line = self._rfile.readline(1026)
        if not line:
            raise ConnectionError("client closed the connection mid-body")
        size_text = line.split(b";")[0].strip()
        if not re.fullmatch(rb"[0-9a-fA-F]{1,16}", size_text) or not line.endswith(b"\n"):
            raise self._fail(400, "Malformed chunked request body: bad chunk size line")
        return int(size_text, 16)

    def readinto(self, buffer) -> int:
        if self._eof or self.broken:
            return 0
        if self._chunked and self._remaining == 0:
            size = self._next_chunk_size()
            if size == 0:
                for _ in range(100):  # trailers, then the empty line
                    if self._rfile.readline(65537) in (b"\r\n", b"\n", b""):
                        break
                else:
                    raise self._fail(400, "Malformed chunked request body: too many trailers")
                self._eof = True
                return 0
            if self.bytes_read + size > self.limit:
                raise self._fail(413, f"Request body is larger than this endpoint accepts ({self.limit} bytes)")
            self._remaining = size
        data = self._rfile.read(min(len(buffer), self._remaining))
        if not data:
            raise ConnectionError("client closed the connection mid-body")
        n = len(data)
        buffer[:n] = data
        self._remaining -= n
        self.bytes_read += n
        if self._remaining == 0:
            if self._chunked:
                if self._rfile.readline(3) not in (b"\r\n", b"\n"):
                    raise self._fail(400, "Malformed chunked request body: chunk not followed by CRLF")
            else:
                self._eof = True
        return n


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One `bytes=a-b`, `bytes=a-` or `bytes=-n` range, clipped to the file; None if unsatisfiable."""
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if not match or (not match.group(1) and not match.group(2)):
        return None
    if not match.group(1):
        length = int(match.group(2))
        if length == 0:
            return None
        return max(0, size - length), size - 1
    start = int(match.group(1))
    end = int(match.group(2)) if match.group(2) else size - 1
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)


class HttpHandler(BaseHTTPRequestHandler):
    """Request handler base: `open_body(limit)` then `body`; `send`, `send_json`, `send_error_answer`, `read_json`."""

    protocol_version = "HTTP/1.1"
    timeout = 120
    status_sent = 0
    raw_body: BodyReader | None = None

    def open_body(self, limit: int) -> None:
        """Check the declared length against `limit` before reading anything; then `self.body` reads the body."""
        length = declared_length(self.headers)
        if length is not None and length > limit:
            raise HttpError(413, f"Request body is larger than this endpoint accepts ({limit} bytes)")
        self.raw_body = BodyReader(self.rfile, self.headers, limit)
        self.body = io.BufferedReader(self.raw_body, buffer_size=CHUNK)

    @property
    def bytes_in(self) -> int:
        return self.raw_body.bytes_read if self.raw_body is not None else 0

    def drain(self) -> None:
        while self.body.read(CHUNK):
            pass

    def read_json(self) -> Any:
        """The body parsed as JSON (None if empty); 400 if it is not JSON."""
        raw = self.body.read()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise HttpError(400, "Request body is not valid JSON") from None

    def read_json_object(self) -> dict:
        """The body as a JSON object ({} if empty); 400 for anything else."""
        data = self.read_json()
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise HttpError(400, "Request body must be a JSON object")
        return data

    def _keep_or_close(self) -> None:
        """Before an error answer: drain a small unread body to keep the connection, else close it."""
        body = self.raw_body
        if body is None:
            try:
                length = declared_length(self.headers)
            except HttpError:
                self.close_connection = True
                return
            chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
            if chunked or (length or 0) > _DRAIN_LIMIT:
                self.close_connection = True
                return
            self.open_body(_DRAIN_LIMIT)
            body = self.raw_body
        if body is None or body.broken:
            self.close_connection = True
            return
        try:
            if not body.finished:
                if body.bytes_read + _DRAIN_LIMIT < body.limit:
                    body.limit = body.bytes_read + _DRAIN_LIMIT
                self.drain()
        except (HttpError, ConnectionError, TimeoutError, ValueError, OSError):
            self.close_connection = True

    def send_error_answer(self, exc: HttpError) -> None:
        message = " ".join(str(exc).split())
        headers = dict(exc.headers)
        if exc.code:
            headers["X-Error-Code"] = exc.code
        headers["X-Error-Message"] = message.encode("ascii", "replace").decode()
        self._keep_or_close()
        if self.close_connection:
            headers["Connection"] = "close"
        self.send_json({"error": message}, status=exc.status, headers=headers)
        if self.close_connection:
            self._linger()

    def _linger(self) -> None:
        """Closing with unread bytes makes the kernel send RST, which can destroy the answer before the client reads
        it. So: send the answer, shut our side, and discard what the client still sends, within a byte and time cap."""
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(_LINGER_S)
            deadline = time.monotonic() + _LINGER_S
            discarded = 0
            while discarded < _LINGER_BYTES and time.monotonic() < deadline:
                data = self.connection.recv(CHUNK)
                if not data:
                    break
                discarded += len(data)
        except OSError:
            pass

    def send(self, status: int, body: bytes = b"", headers: dict | None = None, content_type: str | None = None):
        self.send_response(status)
        self.status_sent = status
        if content_type:
            self.send_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            self.send_header(key, str(value))
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def send_json(self, data, status: int = 200, headers: dict | None = None, content_type="application/json"):
        self.send(status, json.dumps(data).encode(), headers, content_type)

    def send_file(self, stream, size: int, *, headers: dict) -> None:
        """Stream `stream` (an open binary file) with Range support: 200, 206, or 416."""
        start, end, status = 0, size - 1, 200
        headers = dict(headers)
        range_header = self.headers.get("Range")
        if range_header:
            parsed = parse_range(range_header, size)
            if parsed is None:
                raise HttpError(416, "Requested range not satisfiable", headers={"Content-Range": f"bytes */{size}"})
            start, end = parsed
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        length = max(0, end - start + 1)
        self.send_response(status)
        self.status_sent = status
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        for key, value in headers.items():
            self.send_header(key, str(value))
        self.end_headers()
        if self.command == "HEAD":
            return
        stream.seek(start)
        remaining = length
        while remaining > 0:
            chunk = stream.read(min(CHUNK, remaining))
            if not chunk:
                break
            self.wfile.write(chunk)
            remaining -= len(chunk)


_MISSING = object()


def field_str(payload: dict, key: str, default: Any = _MISSING) -> Any:
    """`payload[key]` as a string; 400 if it has another type, or is absent without a default."""
    value = payload.get(key, default)
    if value is _MISSING:
        raise HttpError(400, f'"{key}" is required')
    if value is not default and not isinstance(value, str):
        raise HttpError(400, f'"{key}" must be a string')
    return value


def field_bool(payload: dict, key: str, default: bool = False) -> bool:
    value = payload.get(key, default)
    if not isinstance(value, bool):
        raise HttpError(400, f'"{key}" must be a boolean')
    return value


def field_int(payload: dict, key: str, *, minimum: int = 0) -> int:
    """`payload[key]` as an integer >= minimum (a bool is not one); 400 otherwise."""
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise HttpError(400, f'"{key}" must be an integer >= {minimum}')
    return value


def field_list(payload: dict, key: str) -> list:
    value = payload.get(key, [])
    if not isinstance(value, list):
        raise HttpError(400, f'"{key}" must be an array')
    return value
