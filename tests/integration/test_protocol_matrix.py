"""One functional ASGI suite, asserted on every wire the server speaks.

HTTP runs on ``h1`` (HTTP/1.1 on plain TCP), ``h2tls`` (HTTP/2 negotiated by
ALPN on a TLS endpoint) and ``h2c`` (HTTP/2 with prior knowledge on plain TCP);
WebSockets on ``ws-h1`` (HTTP/1.1 Upgrade), ``ws-h2tls`` and ``ws-h2c``
(RFC 8441 extended CONNECT).  Each test body is written once against a small
client interface (:class:`H1Connection`, :class:`H2Connection`, :class:`H1WebSocket`,
:class:`H2WebSocketClient`); the clients use raw sockets and the ``h2`` state
machine with validation off, so they can send what a polite client would
refuse (control bytes in header values, a HEADERS frame without END_HEADERS).

Servers (``python -m daphne`` on 127.0.0.1, port 0) are started lazily, one per
(plain or TLS, option set), and shared by the whole module; the whole module
runs once per event loop (``--loop asyncio``, and ``--loop uvloop`` when uvloop
is installed).  The app
(``tests/apps/matrix_apps.py``) records what it received per ``?id=``; tests
read it back with ``GET /__log?id=...``.  Every wait is bounded and polls a
condition.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.util
import json
import os
import re
import select
import socket
import ssl
import struct
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import h2.config
import h2.events
import h2.exceptions
import hpack
import pytest
from h2ws_client import H2WebSocket, parse_frame
from processes import DaphneCommand, TLSFiles

# slow: every behaviour on every wire and loop: a server per option set (`pytest -m "not slow"` leaves it out).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]
APP = "apps.matrix_apps:app"

#: Server options by name; a server is started per (plain/TLS, option set) when first used.
OPTION_SETS: dict[str, list[str]] = {
    # The WebSocket message limit is here too: no base test sends more than 1000 bytes.
    "base": ["--websocket-max-message-size", "1000"],
    "timeout": ["--http-timeout", "1"],
    "limits": ["--limit-request-body", "1000"],
    "concurrency": ["--limit-concurrency", "1"],
    "idle": ["--keep-alive-timeout", "1", "--header-read-timeout", "3"],
    "body": ["--body-read-timeout", "1"],
    "logformat": ["--access-log-format", '%(h)s "%(r)s" %(s)s %(a)s %({X-Test}i)s'],
    "logjson": ["--log-json"],
    # The test clients connect from 127.0.0.1: a trusted proxy, or not.
    "proxy": ["--proxy-headers", "--forwarded-allow-ips", "127.0.0.1"],
    "proxy-forwarded": [
        "--proxy-headers",
        "--proxy-headers-source",
        "forwarded",
        "--forwarded-allow-ips",
        "127.0.0.1",
    ],
    "untrusted": ["--proxy-headers", "--forwarded-allow-ips", "10.0.0.0/8"],
}


def uid() -> str:
    return uuid.uuid4().hex[:12]


# -- servers ----------------------------------------------------------------------------


class ServerPool:
    """Daphne processes started on first use and kept until the module ends.

    :ivar loop: the ``--loop`` every server of the pool runs on.
    """

    def __init__(self, folder: Any, loop: str) -> None:
        self.folder = folder
        self.loop = loop
        self.tls = TLSFiles(folder)
        self.ssl_context = self.tls.client_context()
        self.stack = contextlib.ExitStack()
        self.servers: dict[tuple[bool, str], DaphneCommand] = {}

    def get(self, secure: bool, options: str) -> DaphneCommand:
        key = (secure, options)
        if key not in self.servers:
            log = self.folder / f"access-{'tls' if secure else 'plain'}-{options}.log"
            listen = ["-e", self.tls.endpoint] if secure else ["-b", "127.0.0.1", "-p", "0"]
            options_given = ["--loop", self.loop, *OPTION_SETS[options]]
            daphne = DaphneCommand([*listen, "--access-log", str(log), *options_given, APP])
            self.stack.enter_context(daphne.start())
            assert daphne.port, daphne.output()
            daphne.access_log = log  # type: ignore[attr-defined]
            self.servers[key] = daphne
        return self.servers[key]


@pytest.fixture(
    scope="module",
    params=[
        "asyncio",
        pytest.param(
            "uvloop",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("uvloop") is None, reason="uvloop is not installed"
            ),
        ),
    ],
)
def pool(tmp_path_factory, request):
    """The servers, once per event loop (pytest runs all tests of one loop, then the next)."""
    servers = ServerPool(tmp_path_factory.mktemp(f"matrix-{request.param}"), request.param)
    with servers.stack:
        yield servers


# -- what a client saw ----------------------------------------------------------------


@dataclass
class Response:
    """One response (or the lack of one) as a client saw it."""

    status: int | None = None
    #: Lower-cased names, pseudo-headers left out.
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    #: The whole response arrived: HTTP/1.1 framing complete, or HTTP/2 END_STREAM.
    complete: bool = False
    #: HTTP/2: the RST_STREAM error code, if the server reset the stream.
    reset: int | None = None
    #: HTTP/1.1: the bytes as they came off the wire.
    raw: bytes = b""

    def get(self, name: bytes) -> bytes | None:
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: bytes) -> list[bytes]:
        return [value for key, value in self.headers if key == name]


@dataclass
class Stall:
    """What happened to a connection whose request head never completed."""

    status: int | None = None
    #: Seconds from the first byte sent to the response (or None).
    answered_after: float | None = None
    #: Seconds from the first byte sent to the server closing (or None).
    closed_after: float | None = None
    goaway: bool = False


def _deadline_left(deadline: float) -> float:
    return deadline - time.monotonic()


# -- HTTP/1.1 on a raw socket ---------------------------------------------------------


class H1Connection:
    """HTTP/1.1 over a plain socket, sending exactly the bytes it is given."""

    multiplexed = False

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        self.eof = False

    def __enter__(self) -> H1Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> bool:
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        return True

    def _fill(self, deadline: float) -> bool:
        """Read once more into the buffer; False at EOF, reset or the deadline."""
        if self.eof:
            return False
        left = _deadline_left(deadline)
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            return False
        except OSError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        return True

    def _head(self, method: str, path: str, headers: Any, body: bytes, body_chunks: Any) -> bytes:
        lines = [b"%s %s HTTP/1.1" % (method.encode(), path.encode()), b"Host: 127.0.0.1"]
        lines += [b"%s: %s" % (name, value) for name, value in headers]
        names = {name.lower() for name, _ in headers}
        if body_chunks is not None:
            lines.append(b"Transfer-Encoding: chunked")
            payload = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in body_chunks if c)
            payload += b"0\r\n\r\n"
        else:
            if body and b"content-length" not in names:
                lines.append(b"Content-Length: %d" % len(body))
            payload = body
        return b"\r\n".join(lines) + b"\r\n\r\n" + payload

    def request(
        self,
        method: str,
        path: str,
        headers: Any = (),
        body: bytes = b"",
        body_chunks: list[bytes] | None = None,
        timeout: float = 10,
    ) -> Response:
        """Send one request (head and body in one write) and read its response."""
        self.send(self._head(method, path, headers, body, body_chunks))
        return self.read_response(method, timeout)

    def read_response(self, method: str = "GET", timeout: float = 10) -> Response:
        deadline = time.monotonic() + timeout
        while (end := self.buffer.find(b"\r\n\r\n")) == -1:
            if not self._fill(deadline):
                return Response(raw=self.buffer)
        head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            return Response(raw=head)
        status = int(parts[1])
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers.append((name.strip().lower(), value.strip()))
        response = Response(status=status, headers=headers, raw=head + b"\r\n\r\n")
        if 100 <= status < 200 and status != 101:
            return self.read_response(method, _deadline_left(deadline))
        if method == "HEAD" or status in (101, 204, 304):
            response.complete = True
            return response
        if b"chunked" in (response.get(b"transfer-encoding") or b"").lower():
            self._read_chunked(response, deadline)
        elif response.get(b"content-length") is not None:
            length = int(response.get(b"content-length") or b"0")
            while len(self.buffer) < length and self._fill(deadline):
                pass
            response.body, self.buffer = self.buffer[:length], self.buffer[length:]
            response.complete = len(response.body) == length
        else:
            while self._fill(deadline):
                pass
            response.body, self.buffer = self.buffer, b""
            response.complete = self.eof
        response.raw += response.body
        return response

    def _read_chunked(self, response: Response, deadline: float) -> None:
        body = b""
        while True:
            while (line_end := self.buffer.find(b"\r\n")) == -1:
                if not self._fill(deadline):
                    response.body = body
                    return
            size = int(self.buffer[:line_end].split(b";")[0], 16)
            needed = line_end + 2 + size + 2
            while len(self.buffer) < needed:
                if not self._fill(deadline):
                    response.body = body + self.buffer[line_end + 2 : line_end + 2 + size]
                    return
            body += self.buffer[line_end + 2 : line_end + 2 + size]
            self.buffer = self.buffer[needed:]
            if size == 0:
                response.body = body
                response.complete = True
                return

    def hold(self, path: str, marker: bytes, timeout: float = 5) -> Response:
        """Start a streamed response and read until ``marker`` arrived (it keeps going)."""
        deadline = time.monotonic() + timeout
        self.send(self._head("GET", path, (), b"", None))
        while (end := self.buffer.find(b"\r\n\r\n")) == -1 or marker not in self.buffer[end:]:
            if not self._fill(deadline):
                break
        response = Response(raw=self.buffer)
        match = re.match(rb"HTTP/1\.1 (\d{3})", self.buffer)
        if match:
            response.status = int(match.group(1))
            response.body = self.buffer[self.buffer.find(b"\r\n\r\n") + 4 :]
        return response

    def wait_closed(self, timeout: float) -> float | None:
        """Seconds until the server closed the connection, None if it did not in time."""
        started = time.monotonic()
        deadline = started + timeout
        while self._fill(deadline):
            pass
        return time.monotonic() - started if self.eof else None

    def stall_head(self, timeout: float) -> Stall:
        """Trickle a request head one byte every 0.3 s until the server answers or closes."""
        head = b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"s" * 60 + b"\r\n\r\n"
        started = time.monotonic()
        deadline = started + timeout
        outcome = Stall()
        for byte in head:
            if time.monotonic() > deadline or not self.send(bytes([byte])):
                break
            readable, _, _ = select.select([self.sock], [], [], 0.3)
            if readable:
                break
        response = self.read_response("GET", max(_deadline_left(deadline), 0.1))
        if response.status is not None:
            outcome.status = response.status
            outcome.answered_after = time.monotonic() - started
        closed = self.wait_closed(max(_deadline_left(deadline), 0.1))
        if closed is not None:
            outcome.closed_after = time.monotonic() - started
        return outcome

    def dribble_body(
        self, path: str, declared: int, pieces: list[bytes], gap: float, timeout: float
    ) -> Response:
        """POST declaring ``declared`` bytes, send ``pieces`` ``gap`` s apart, then wait."""
        head = b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n"
        self.send(head % (path.encode(), declared))
        for index, piece in enumerate(pieces):
            if index and select.select([self.sock], [], [], gap)[0]:
                break  # answered already
            self.send(piece)
        return self.read_response("POST", timeout)


# -- HTTP/2 with the h2 state machine on a raw socket -----------------------------------


def _frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return (
        len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload
    )


class H2Connection(H2WebSocket):
    """HTTP/2 (TLS with ALPN h2, or cleartext prior knowledge) with header checks off.

    Built on :class:`h2ws_client.H2WebSocket` (its frame bookkeeping, GOAWAY
    capture and extended CONNECT); waits here are bounded by time, not by reads.
    """

    multiplexed = True

    def __init__(self, port: int, ssl_context: ssl.SSLContext | None = None) -> None:
        self.closed = False
        super().__init__(port, ssl_context)
        config = self.conn.config
        config.validate_outbound_headers = False
        config.normalize_outbound_headers = False
        config.validate_inbound_headers = False

    def __enter__(self) -> H2Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def pump(self) -> bool:
        if self.closed:
            return False
        try:
            alive = super().pump()
        except TimeoutError:
            raise
        except (OSError, h2.exceptions.ProtocolError):
            alive = False
        if not alive:
            self.closed = True
        return alive

    def wait(self, condition: Any, timeout: float = 5.0) -> bool:
        """Process frames until ``condition()`` holds, the connection ends or time is up."""
        deadline = time.monotonic() + timeout
        while not condition():
            left = _deadline_left(deadline)
            if left <= 0 or self.closed:
                break
            self.sock.settimeout(left)
            try:
                self.pump()
            except TimeoutError:
                break
        return bool(condition())

    def pump_until(self, condition: Any, limit: int = 0, timeout: float = 5.0) -> None:
        assert self.wait(condition, timeout), "condition not reached"

    def _flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            try:
                self.sock.sendall(data)
            except OSError:
                self.closed = True

    def _window(self, stream_id: int) -> int:
        try:
            return min(
                self.conn.local_flow_control_window(stream_id), self.conn.max_outbound_frame_size
            )
        except (h2.exceptions.ProtocolError, KeyError):
            return -1

    def send_body(self, stream_id: int, data: bytes, end: bool) -> None:
        """DATA within the flow-control windows: one frame when it fits."""
        while True:
            if stream_id in self.resets or self.closed:
                return
            window = self._window(stream_id)
            if window < 0:
                return
            if window == 0 and data:
                self.wait(lambda: self._window(stream_id) != 0 or stream_id in self.resets, 10)
                continue
            piece, data = data[:window], data[window:]
            try:
                self.conn.send_data(stream_id, piece, end_stream=end and not data)
            except (h2.exceptions.ProtocolError, KeyError):
                return
            self._flush()
            if not data:
                return

    def start_request(
        self, method: str, path: str, headers: Any = (), body_chunks: Any = ()
    ) -> int:
        stream_id = self.conn.get_next_available_stream_id()
        fields = [
            (b":method", method.encode()),
            (b":scheme", self.scheme),
            (b":path", path.encode()),
            (b":authority", b"127.0.0.1:%d" % self.port),
            *headers,
        ]
        chunks = list(body_chunks)
        self.conn.send_headers(stream_id, fields, end_stream=not chunks)
        self._flush()
        for index, chunk in enumerate(chunks):
            self.send_body(stream_id, chunk, end=index == len(chunks) - 1)
        return stream_id

    def request(
        self,
        method: str,
        path: str,
        headers: Any = (),
        body: bytes = b"",
        body_chunks: list[bytes] | None = None,
        timeout: float = 10,
    ) -> Response:
        """One request on a new stream (no body: END_STREAM on HEADERS)."""
        chunks = body_chunks if body_chunks is not None else ([body] if body else [])
        stream_id = self.start_request(method, path, headers, chunks)
        self.wait(lambda: stream_id in self.ended or stream_id in self.resets, timeout)
        return self.response_of(stream_id)

    def response_of(self, stream_id: int) -> Response:
        fields = self.responses.get(stream_id)
        response = Response(
            body=self.data.get(stream_id, b""),
            complete=stream_id in self.ended,
            reset=self.resets.get(stream_id),
        )
        if fields is not None:
            response.status = int(dict(fields)[b":status"])
            response.headers = [(n.lower(), v) for n, v in fields if not n.startswith(b":")]
        return response

    def hold(self, path: str, marker: bytes, timeout: float = 5) -> Response:
        stream_id = self.start_request("GET", path)
        self.wait(
            lambda: (
                marker in self.data.get(stream_id, b"")
                or stream_id in self.resets
                or stream_id in self.ended
            ),
            timeout,
        )
        return self.response_of(stream_id)

    def wait_closed(self, timeout: float) -> float | None:
        started = time.monotonic()
        return time.monotonic() - started if self.wait(lambda: self.closed, timeout) else None

    def dribble_body(
        self, path: str, declared: int, pieces: list[bytes], gap: float, timeout: float
    ) -> Response:
        """A request declaring ``declared`` bytes; ``pieces`` sent ``gap`` s apart, then wait
        (END_STREAM on the last piece if they add up to ``declared``)."""
        stream_id = self.conn.get_next_available_stream_id()
        fields = [
            (b":method", b"POST"),
            (b":scheme", self.scheme),
            (b":path", path.encode()),
            (b":authority", b"127.0.0.1:%d" % self.port),
            (b"content-length", b"%d" % declared),
        ]
        self.conn.send_headers(stream_id, fields, end_stream=False)
        self._flush()

        def answered() -> bool:
            return stream_id in self.responses or stream_id in self.resets or self.closed

        complete = sum(map(len, pieces)) == declared
        for index, piece in enumerate(pieces):
            if index and self.wait(answered, gap):
                break
            self.send_body(stream_id, piece, end=complete and index == len(pieces) - 1)
        self.wait(lambda: stream_id in self.ended or stream_id in self.resets, timeout)
        return self.response_of(stream_id)

    def stall_head(self, timeout: float) -> Stall:
        """A HEADERS frame without END_HEADERS, and no CONTINUATION after it."""
        block = hpack.Encoder().encode(
            [
                (b":method", b"GET"),
                (b":scheme", self.scheme),
                (b":path", b"/hello"),
                (b":authority", b"127.0.0.1"),
            ]
        )
        stream_id = self.conn.get_next_available_stream_id()
        started = time.monotonic()
        self.sock.sendall(_frame(0x1, 0x1, stream_id, block))  # END_STREAM, no END_HEADERS
        outcome = Stall()
        if self.wait(lambda: self.closed, timeout):
            outcome.closed_after = time.monotonic() - started
        outcome.goaway = bool(self.goaway)
        return outcome


# -- WebSocket clients ------------------------------------------------------------------


def _masked_frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    length = len(payload)
    head = bytes([0x80 | opcode])
    if length < 126:
        head += bytes([0x80 | length])
    elif length < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", length)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", length)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class H1WebSocket:
    """A WebSocket over an HTTP/1.1 Upgrade, on a raw socket."""

    def __init__(self, port: int) -> None:
        self.http = H1Connection(port)

    def close(self) -> None:
        self.http.close()

    def handshake(self, path: str, headers: Any = (), timeout: float = 3) -> Response:
        key = base64.b64encode(os.urandom(16))
        request = [
            (b"Upgrade", b"websocket"),
            (b"Connection", b"Upgrade"),
            (b"Sec-WebSocket-Key", key),
            (b"Sec-WebSocket-Version", b"13"),
            *headers,
        ]
        self.http.send(self.http._head("GET", path, request, b"", None))
        return self.http.read_response("GET", timeout)

    def send(self, opcode: int, payload: bytes) -> None:
        self.http.send(_masked_frame(opcode, payload))

    def receive(self, timeout: float = 5) -> tuple[int, bytes] | None:
        deadline = time.monotonic() + timeout
        while (parsed := parse_frame(self.http.buffer)) is None:
            if not self.http._fill(deadline):
                return None
        opcode, payload, used = parsed
        self.http.buffer = self.http.buffer[used:]
        return opcode, payload

    def finish(self) -> None:
        """After the closing handshake: the client closes its end."""
        self.http.close()


class H2WebSocketClient:
    """A WebSocket over HTTP/2 extended CONNECT (RFC 8441), one stream of its own connection."""

    def __init__(self, port: int, ssl_context: ssl.SSLContext | None = None) -> None:
        self.http = H2Connection(port, ssl_context)
        self.stream_id = 0

    def close(self) -> None:
        self.http.close()

    def handshake(self, path: str, headers: Any = (), timeout: float = 3) -> Response:
        http = self.http
        sid = self.stream_id = http.open(path, list(headers))
        http.wait(lambda: sid in http.responses or sid in http.resets, timeout)
        status = http.response_of(sid).status
        if status is not None and status != 200:
            http.wait(lambda: sid in http.ended or sid in http.resets, timeout)
        return http.response_of(sid)

    def send(self, opcode: int, payload: bytes) -> None:
        self.http.send_frame(self.stream_id, opcode, payload)

    def receive(self, timeout: float = 5) -> tuple[int, bytes] | None:
        try:
            return self.http.frame(self.stream_id)
        except AssertionError:
            return None

    def finish(self) -> None:
        """After the closing handshake: END_STREAM, then wait for the server's."""
        with contextlib.suppress(h2.exceptions.ProtocolError):
            self.http.end(self.stream_id)
        self.http.wait(lambda: self.stream_id in self.http.ended, 3)
        self.http.close()


# -- the protocols ----------------------------------------------------------------------


@dataclass(frozen=True)
class Wire:
    """One way of talking to the server."""

    name: str
    secure: bool
    http2: bool

    def server(self, pool: ServerPool, options: str) -> DaphneCommand:
        return pool.get(self.secure, options)

    def _context(self, pool: ServerPool) -> ssl.SSLContext | None:
        return pool.ssl_context if self.secure else None

    def connect(self, pool: ServerPool, server: DaphneCommand) -> Any:
        if self.http2:
            return H2Connection(server.port, self._context(pool))  # type: ignore[arg-type]
        return H1Connection(server.port)  # type: ignore[arg-type]

    def websocket(self, pool: ServerPool, server: DaphneCommand) -> Any:
        if self.http2:
            return H2WebSocketClient(server.port, self._context(pool))  # type: ignore[arg-type]
        return H1WebSocket(server.port)  # type: ignore[arg-type]

    def records(self, pool: ServerPool, server: DaphneCommand, key: str) -> list[dict]:
        """What the app recorded for ``?id=key`` (read back over this same wire)."""
        with contextlib.closing(self.connect(pool, server)) as connection:
            response = connection.request("GET", f"/__log?id={key}")
        assert response.status == 200, response
        return json.loads(response.body)

    def wait_records(
        self, pool: ServerPool, server: DaphneCommand, key: str, predicate: Any, timeout: float = 5
    ) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            records = self.records(pool, server, key)
            if predicate(records) or time.monotonic() > deadline:
                return records
            time.sleep(0.05)


HTTP_WIRES = [Wire("h1", False, False), Wire("h2tls", True, True), Wire("h2c", False, True)]
WS_WIRES = [Wire("ws-h1", False, False), Wire("ws-h2tls", True, True), Wire("ws-h2c", False, True)]


@pytest.fixture(params=HTTP_WIRES, ids=lambda wire: wire.name)
def http(request) -> Wire:
    return request.param


@pytest.fixture(params=WS_WIRES, ids=lambda wire: wire.name)
def ws(request) -> Wire:
    return request.param


def assert_error_page(response: Response, status: int) -> None:
    """The server's own error responses: an HTML page, its length, the phrase in <h1>."""
    assert response.status == status, response
    assert response.get(b"content-type") == b"text/html; charset=utf-8", response.headers
    assert response.get(b"content-length") == b"%d" % len(response.body), response
    phrase = HTTPStatus(status).phrase.encode()
    assert re.search(rb"<h1>[^<]*" + re.escape(phrase) + rb"[^<]*</h1>", response.body), response


def assert_no_injection(response: Response) -> None:
    assert not response.all(b"x-injected"), response.headers
    assert not any(b"\r" in v or b"\n" in v for _, v in response.headers), response.headers
    assert b"x-injected" not in response.raw.lower(), response.raw


def request_messages(records: list[dict]) -> list[dict]:
    """The http.request messages the app read as the request (before it answered)."""
    return [r for r in records if r.get("type") == "http.request" and "phase" not in r]


# -- 1. request message sequence --------------------------------------------------------

BODIES = {"get": None, "small-post": b"s" * 100, "1mib-post": os.urandom(1024 * 1024)}


@pytest.mark.parametrize("kind", list(BODIES))
def test_request_message_sequence(http, pool, kind) -> None:
    """GET: one http.request (b"", more_body False); a one-piece small POST: one message;
    1 MiB: intact, and only the last message has more_body False.  Then http.disconnect."""
    server = http.server(pool, "base")
    body = BODIES[kind]
    key = uid()
    with contextlib.closing(http.connect(pool, server)) as client:
        if body is None:
            response = client.request("GET", f"/record?id={key}")
        else:
            response = client.request("POST", f"/record?id={key}", body=body, timeout=30)
    assert response.status == 200, response
    summary = json.loads(response.body)
    expected = body or b""
    assert summary == {"size": len(expected), "sha256": hashlib.sha256(expected).hexdigest()}
    records = http.wait_records(
        pool, server, key, lambda records: any("phase" in r for r in records)
    )
    messages = request_messages(records)
    if kind == "1mib-post":
        assert sum(m["body"] for m in messages) == len(expected)
        assert [m.get("more_body", False) for m in messages].count(False) == 1, messages
        assert messages[-1].get("more_body", False) is False, messages
    else:
        assert messages == [{"type": "http.request", "body": len(expected), "more_body": False}]
    # The one receive() after the response: http.disconnect, not another http.request.
    after = [r for r in records if r.get("phase") == "after-response"]
    assert [r["type"] for r in after] == ["http.disconnect"], after


# -- 2. Date and Server -------------------------------------------------------------------


def test_date_and_server_headers(http, pool) -> None:
    server = http.server(pool, "base")
    with contextlib.closing(http.connect(pool, server)) as client:
        plain = client.request("GET", "/hello")
        own = client.request("GET", "/server-header")
    assert plain.status == 200 and own.status == 200
    assert plain.get(b"date") and own.get(b"date")
    assert plain.all(b"server") == [b"daphne"]
    assert own.all(b"server") == [b"custom-server"]


# -- 3. HEAD -------------------------------------------------------------------------------


def test_head_has_no_body(http, pool) -> None:
    """HEAD: the GET's headers, no body bytes.

    On h1 the bytes after the HEAD response's head are what shows a body: a GET
    follows on the same connection and its status line must come next (or,
    should the server close the connection, nothing at all may come before EOF).
    """
    server = http.server(pool, "base")
    with contextlib.closing(http.connect(pool, server)) as client:
        head = client.request("HEAD", "/hello")
        get = client.request("GET", "/hello")
        if get.status is None and not client.multiplexed:
            assert client.eof and get.raw == b"", f"bytes after the HEAD response: {get.raw!r}"
            with contextlib.closing(http.connect(pool, server)) as again:
                get = again.request("GET", "/hello")
    assert head.status == 200 and head.complete, head
    assert head.body == b""
    assert get.status == 200 and get.body == b"hello", get
    for name in (b"content-type", b"content-length", b"server"):
        assert head.get(name) == get.get(name), name


# -- 4. response header validation ---------------------------------------------------------


@pytest.mark.parametrize("path", ["/bad-header-value", "/bad-header-name"])
def test_invalid_response_header_is_500(http, pool, path) -> None:
    server = http.server(pool, "base")
    with contextlib.closing(http.connect(pool, server)) as client:
        response = client.request("GET", path)
    assert_no_injection(response)
    assert_error_page(response, 500)


# -- 5. request header validation (CVE-2026-44546) -----------------------------------------

BAD_VALUES = {"vt": b"a\x0bb", "fs": b"a\x1cb", "lone-nel": b"a\x85b"}


@pytest.mark.parametrize("name", list(BAD_VALUES))
def test_control_bytes_in_request_header_are_400(http, pool, name) -> None:
    server = http.server(pool, "base")
    key = uid()
    with contextlib.closing(http.connect(pool, server)) as client:
        response = client.request("GET", f"/hello?id={key}", [(b"x-test", BAD_VALUES[name])])
    assert_error_page(response, 400)
    assert http.records(pool, server, key) == [], "the app was called"


def test_utf8_request_header_value_is_accepted(http, pool) -> None:
    server = http.server(pool, "base")
    key = uid()
    with contextlib.closing(http.connect(pool, server)) as client:
        response = client.request("GET", f"/hello?id={key}", [(b"x-test", "Å".encode())])
    assert response.status == 200, response
    assert http.records(pool, server, key)[0]["type"] == "called"


# -- 6. app exits -------------------------------------------------------------------------


def test_app_returning_without_response_is_500(http, pool) -> None:
    server = http.server(pool, "base")
    with contextlib.closing(http.connect(pool, server)) as client:
        response = client.request("GET", "/empty")
    assert_error_page(response, 500)


def test_app_raising_after_start_aborts(http, pool) -> None:
    """h1: the connection is aborted mid-body; h2: RST_STREAM, the connection lives on."""
    server = http.server(pool, "base")
    with contextlib.closing(http.connect(pool, server)) as client:
        response = client.request("GET", "/crash-midway", timeout=5)
        assert not response.complete, response
        if client.multiplexed:
            assert response.reset is not None, response
            assert client.request("GET", "/hello").body == b"hello"
        else:
            assert client.eof, "the connection stayed open"


# -- 7. --http-timeout -------------------------------------------------------------------


def test_http_timeout_is_503(http, pool) -> None:
    server = http.server(pool, "timeout")
    with contextlib.closing(http.connect(pool, server)) as client:
        response = client.request("GET", "/never", timeout=6)
    assert_error_page(response, 503)
    assert b"Application failed to respond within time limit." in response.body


# -- 8. --limit-request-body ---------------------------------------------------------------


@pytest.mark.parametrize("framing", ["content-length", "no-length"])
def test_body_over_limit_is_413(http, pool, framing) -> None:
    """2000 bytes against a 1000-byte limit, declared up front or not (chunked / DATA)."""
    server = http.server(pool, "limits")
    key = uid()
    with contextlib.closing(http.connect(pool, server)) as client:
        if framing == "content-length":
            response = client.request(
                "POST", f"/record?id={key}", [(b"content-length", b"2000")], b"x" * 2000
            )
        else:
            response = client.request(
                "POST", f"/record?id={key}", body_chunks=[b"x" * 1000, b"x" * 1000]
            )
    assert response.status == 413, response
    assert b"larger than 1000 bytes" in response.body
    seen = sum(m["body"] for m in request_messages(http.records(pool, server, key)))
    assert seen <= 1000


# -- 9. --limit-concurrency ---------------------------------------------------------------


def _wait_served(attempt: Any, timeout: float = 10) -> Any:
    """Retry ``attempt()`` (bounded) until it returns a success; return the last result."""
    deadline = time.monotonic() + timeout
    while True:
        ok, result = attempt()
        if ok or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def test_limit_concurrency_503(http, pool) -> None:
    server = http.server(pool, "concurrency")

    def attempt() -> tuple[bool, Response]:
        with contextlib.closing(http.connect(pool, server)) as client:
            response = client.request("GET", "/hello", timeout=5)
        return response.status == 200, response

    def hold() -> tuple[bool, Any]:
        # Retried: the server may not have noticed an earlier connection's close yet.
        client = http.connect(pool, server)
        started = client.hold("/hold", b"held")
        if started.status == 200 and b"held" in started.body:
            return True, client
        client.close()
        return False, started

    held = _wait_served(hold)
    assert not isinstance(held, Response), held
    try:
        with contextlib.closing(http.connect(pool, server)) as other:
            shed = other.request("GET", "/hello", timeout=5)
        assert_error_page(shed, 503)
        assert shed.get(b"retry-after") == b"1", shed.headers
    finally:
        held.close()
    assert _wait_served(attempt).status == 200


# -- 10. --keep-alive-timeout -------------------------------------------------------------


def test_idle_connection_is_closed(http, pool) -> None:
    server = http.server(pool, "idle")
    with contextlib.closing(http.connect(pool, server)) as client:
        assert client.request("GET", "/hello").status == 200
        closed_after = client.wait_closed(6)
        assert closed_after is not None, "an idle connection stayed open for 6 s"
        if client.multiplexed:
            assert client.goaway, "closed without a GOAWAY"


# -- 11. --header-read-timeout -------------------------------------------------------------


def test_slow_request_head(http, pool) -> None:
    """h1: a head trickling in outlives the 1 s keep-alive timer and gets 408 after ~3 s.
    h2: a header block never finished (no END_HEADERS) ends in GOAWAY and close."""
    server = http.server(pool, "idle")
    with contextlib.closing(http.connect(pool, server)) as client:
        stall = client.stall_head(timeout=3 + 3)
    if client.multiplexed:
        assert stall.closed_after is not None, stall
        assert stall.goaway, stall
    else:
        assert stall.status == 408, stall
        assert stall.answered_after is not None and stall.answered_after >= 2.5, stall


# -- 11b. --body-read-timeout --------------------------------------------------------------


def test_stalled_body_is_408(http, pool) -> None:
    """A body that stops arriving gets 408 after --body-read-timeout (1 s) and the app
    reading it gets http.disconnect instead of a body that never completes."""
    server = http.server(pool, "body")
    key = uid()
    started = time.monotonic()
    with contextlib.closing(http.connect(pool, server)) as client:
        response = client.dribble_body(f"/record?id={key}", 100, [b"x" * 10], 0, timeout=6)
    waited = time.monotonic() - started
    assert_error_page(response, 408)
    assert b"Request body not received within 1 seconds" in response.body
    assert 0.9 <= waited < 5, waited
    records = http.wait_records(
        pool, server, key, lambda r: any(m["type"] == "http.disconnect" for m in r)
    )
    types = [m["type"] for m in records]
    assert "http.disconnect" in types, records
    assert not any(m.get("more_body") is False for m in records), records


def test_slow_but_steady_body_is_served(http, pool) -> None:
    """The timer is per wait, not per body: a piece every 0.4 s for ~2 s (twice the
    1 s timeout in all) is read to the end."""
    server = http.server(pool, "body")
    key = uid()
    pieces = [b"y" * 20] * 5
    with contextlib.closing(http.connect(pool, server)) as client:
        response = client.dribble_body(f"/record?id={key}", 100, pieces, 0.4, timeout=6)
    assert response.status == 200, response
    assert json.loads(response.body)["size"] == 100


# -- 12. the server's own error pages -----------------------------------------------------

ERROR_CASES = {
    400: ("base", "GET", "/hello", [(b"x-test", b"a\x0bb")], b""),
    413: ("limits", "POST", "/record", [(b"content-length", b"2000")], b"x" * 2000),
    500: ("base", "GET", "/empty", [], b""),
    503: ("timeout", "GET", "/never", [], b""),
}


@pytest.mark.parametrize("status", list(ERROR_CASES))
def test_error_pages(http, pool, status) -> None:
    options, method, path, headers, body = ERROR_CASES[status]
    server = http.server(pool, options)
    with contextlib.closing(http.connect(pool, server)) as client:
        response = client.request(method, path, headers, body, timeout=6)
    assert_error_page(response, status)


# -- 13. access log -----------------------------------------------------------------------

_ACCESS_RE = re.compile(r'^(\S+) - - \[[^\]]+\] "(\S+) (\S+)" (\S+) (\S+)$')


def test_access_log_line(http, pool) -> None:
    """One line per request, the same fields on every protocol (client and time aside)."""
    server = http.server(pool, "base")

    def lines() -> list[str]:
        if not os.path.exists(server.access_log):
            return []
        with open(server.access_log) as handle:
            return handle.read().splitlines()

    target = "/hello?x=1"
    before = [line for line in lines() if f'"GET {target}"' in line]
    sentinel = uid()
    with contextlib.closing(http.connect(pool, server)) as client:
        assert client.request("GET", target).status == 200
        assert client.request("GET", f"/hello?sentinel={sentinel}").status == 200
    deadline = time.monotonic() + 5
    while not any(sentinel in line for line in lines()) and time.monotonic() < deadline:
        time.sleep(0.05)
    after = [line for line in lines() if f'"GET {target}"' in line]
    assert len(after) - len(before) == 1, after
    match = _ACCESS_RE.match(after[-1])
    assert match, after[-1]
    assert match.group(1).startswith("127.0.0.1:")
    assert match.groups()[1:] == ("GET", target, "200", "5"), after[-1]


# -- WebSocket ------------------------------------------------------------------------------


def test_ws_accept_headers_echo_and_close(ws, pool) -> None:
    server = ws.server(pool, "base")
    key = uid()
    client = ws.websocket(pool, server)
    try:
        handshake = client.handshake(f"/ws/echo?id={key}")
        assert handshake.status == (200 if ws.http2 else 101), handshake
        assert handshake.get(b"x-extra") == b"ok", handshake.headers
        client.send(0x1, b"hello")
        assert client.receive() == (0x1, b"hello")
        client.send(0x2, b"\x00\xff")
        assert client.receive() == (0x2, b"\x00\xff")
        client.send(0x8, struct.pack("!H", 1000))
        opcode, payload = client.receive() or (None, b"")
        assert opcode == 0x8 and payload[:2] == struct.pack("!H", 1000)
        client.finish()
    finally:
        client.close()
    records = ws.wait_records(
        pool, server, key, lambda rs: any(r["type"] == "websocket.disconnect" for r in rs)
    )
    disconnects = [r for r in records if r["type"] == "websocket.disconnect"]
    assert [r["code"] for r in disconnects] == [1000], records


def test_ws_accept_header_injection_is_500(ws, pool) -> None:
    server = ws.server(pool, "base")
    client = ws.websocket(pool, server)
    try:
        handshake = client.handshake("/ws/inject")
        if not ws.http2:
            client.http.wait_closed(1)  # anything else the server wrote
            handshake.raw += client.http.buffer
    finally:
        client.close()
    assert_no_injection(handshake)
    assert handshake.status == 500, handshake


@pytest.mark.parametrize("name", list(BAD_VALUES))
def test_ws_control_bytes_in_handshake_header_are_400(ws, pool, name) -> None:
    """The request grammar (CVE-2026-44546) holds for a WebSocket handshake too."""
    server = ws.server(pool, "base")
    key = uid()
    client = ws.websocket(pool, server)
    try:
        response = client.handshake(f"/ws/echo?id={key}", [(b"x-test", BAD_VALUES[name])])
    finally:
        client.close()
    assert response.status == 400, response
    assert ws.records(pool, server, key) == [], "the app was called"


@pytest.mark.parametrize("variant", ["clean", "crlf"])
def test_ws_denial_response(ws, pool, variant) -> None:
    server = ws.server(pool, "base")
    client = ws.websocket(pool, server)
    try:
        response = client.handshake("/ws/deny" if variant == "clean" else "/ws/deny-inject")
    finally:
        client.close()
    assert_no_injection(response)
    if variant == "clean":
        assert response.status == 403, response
        assert response.get(b"x-denied") == b"yes"
        assert response.body == b"nope"
    else:
        assert response.status == 500, response


def test_ws_message_size_limit_closes_1009(ws, pool) -> None:
    server = ws.server(pool, "base")
    client = ws.websocket(pool, server)
    try:
        assert client.handshake("/ws/echo").status in (101, 200)
        client.send(0x2, b"m" * 2000)
        frame = client.receive()
    finally:
        client.close()
    assert frame is not None and frame[0] == 0x8, frame
    assert struct.unpack("!H", frame[1][:2])[0] == 1009


def test_ws_limit_concurrency_503(ws, pool) -> None:
    server = ws.server(pool, "concurrency")
    accepted = 200 if ws.http2 else 101

    def attempt() -> tuple[bool, Response]:
        client = ws.websocket(pool, server)
        try:
            response = client.handshake("/ws/echo")
        finally:
            client.close()
        return response.status == accepted, response

    def hold() -> tuple[bool, Any]:
        # Retried: the server may not have noticed an earlier connection's close yet.
        client = ws.websocket(pool, server)
        response = client.handshake("/ws/hold")
        if response.status == accepted:
            return True, client
        client.close()
        return False, response

    held = _wait_served(hold)
    assert not isinstance(held, Response), held
    try:
        second = ws.websocket(pool, server)
        try:
            shed = second.handshake("/ws/echo")
        finally:
            second.close()
        assert shed.status == 503, shed
        assert shed.get(b"retry-after") == b"1", shed.headers
    finally:
        held.close()
    assert _wait_served(attempt).status == accepted


# -- issue 11: the access log never carries raw control characters ------------------------

#: What no access-log line may carry raw (the line's own "\n" aside).
_UNSAFE_LOG_RE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")
LOG_FORMATS = ["base", "logformat", "logjson"]


def _log_lines_with(server: DaphneCommand, marker: str, count: int) -> list[str]:
    """The access-log lines holding ``marker``, once there are ``count`` of them (bounded)."""
    deadline = time.monotonic() + 5
    while True:
        text = ""
        if os.path.exists(server.access_log):  # type: ignore[attr-defined]
            # newline="": a raw CR must stay visible, not become a line end.
            with open(server.access_log, encoding="utf-8", newline="") as handle:  # type: ignore[attr-defined]
                text = handle.read()
        found = [line for line in text.split("\n") if marker in line]
        if len(found) >= count or time.monotonic() > deadline:
            return found


def _logged_text(line: str, log_format: str) -> str:
    """What a line says, JSON strings decoded (a JSON escape of a raw LF is still a raw LF)."""
    if log_format != "logjson":
        return line
    return " ".join(str(value) for value in json.loads(line).values())


@pytest.mark.parametrize("log_format", LOG_FORMATS)
def test_access_log_escapes_http_request_data(http, pool, log_format) -> None:
    """An HTTP/2 :path may carry ESC and DEL (refused with 400, as in an HTTP/1.1 request
    line, but still logged); a UTF-8 header value may hold U+0085 (NEL): every format writes
    them as \\xNN, one line per request."""
    server = http.server(pool, log_format)
    key = uid()
    path = f"/hello?id={key}" if not http.http2 else f"/hel\x1blo\x7f?id={key}"
    headers = [(b"user-agent", "ua\u0085x".encode()), (b"x-test", "t\u2028t".encode())]
    with contextlib.closing(http.connect(pool, server)) as client:
        assert client.request("GET", path, headers).status == (400 if http.http2 else 200)
    (line,) = _log_lines_with(server, key, 1)
    text = _logged_text(line, log_format)
    assert _UNSAFE_LOG_RE.search(text) is None, repr(line)
    if http.http2:
        assert "hel\\x1blo\\x7f" in text, line
    if log_format != "base":
        assert "ua\\x85x" in text, line


@pytest.mark.parametrize("log_format", LOG_FORMATS)
def test_access_log_escapes_websocket_path(ws, pool, log_format) -> None:
    """The WebSocket path is percent-decoded: /ws/K%0A%0D%1B%C2%85 holds LF, CR, ESC, NEL."""
    server = ws.server(pool, log_format)
    key = uid()
    client = ws.websocket(pool, server)
    try:
        handshake = client.handshake(f"/ws/{key}%0A%0D%1B%C2%85end?id={key}")
        assert handshake.status == (200 if ws.http2 else 101), handshake
    finally:
        client.close()
    lines = _log_lines_with(server, key, 2)  # WSCONNECTING, WSCONNECT
    assert len(lines) >= 2, lines
    for line in lines:
        text = _logged_text(line, log_format)
        assert _UNSAFE_LOG_RE.search(text) is None, repr(line)
        assert f"/ws/{key}\\x0a\\x0d\\x1b\\x85end" in text, repr(line)


# -- issue 11: proxy headers and Daphne-Root-Path, trusted only where configured -----------

PEER = "peer"  # the client is the socket's own peer (127.0.0.1 and its port)
CONNECTION = "connection"  # the scheme of the connection itself

#: name -> (option set, request headers, client, scheme, root_path)
TRUST_CASES: dict[str, tuple[str, list[tuple[bytes, bytes]], Any, str, str]] = {
    # Source xff (the default): a client's own Forwarded is not read.
    "forwarded-smuggled-past-xff": (
        "proxy", [(b"forwarded", b"for=6.6.6.6;proto=https")], PEER, CONNECTION, "",
    ),
    "xff-chain": (
        "proxy", [(b"x-forwarded-for", b"9.9.9.9, 127.0.0.1"), (b"x-forwarded-proto", b"https"),
                  (b"x-forwarded-port", b"8443")], ["9.9.9.9", 8443], "https", "",
    ),
    # The deciding hop is no address: the client is unknown, not the proxy.
    "xff-garbage": ("proxy", [(b"x-forwarded-for", b"1.2.3.4, garbage")], None, CONNECTION, ""),
    "xff-bad-proto-and-port": (
        "proxy", [(b"x-forwarded-for", b"1.2.3.4"), (b"x-forwarded-proto", b"javascript"),
                  (b"x-forwarded-port", b"99999")], ["1.2.3.4", 0], CONNECTION, "",
    ),
    # Source forwarded: RFC 7239 only, X-Forwarded-* ignored.
    "forwarded-source": (
        "proxy-forwarded", [(b"x-forwarded-for", b"1.2.3.4"), (b"x-forwarded-proto", b"http"),
                            (b"forwarded", b'for="[2001:db8::1]:4711";proto=https;host="a,b"')],
        ["2001:db8::1", 4711], "https", "",
    ),
    "forwarded-obfuscated": (
        "proxy-forwarded", [(b"forwarded", b'for=1.1.1.1, for="_hidden"')], None, CONNECTION, "",
    ),
    "xff-ignored-by-forwarded-source": (
        "proxy-forwarded", [(b"x-forwarded-for", b"1.2.3.4")], PEER, CONNECTION, "",
    ),
    # Daphne-Root-Path: anyone (Daphne) unless --forwarded-allow-ips says who.
    "root-path-no-allow-list": ("base", [(b"daphne-root-path", b"/mnt%20x")], PEER, CONNECTION, "/mnt x"),
    "root-path-trusted-peer": ("proxy", [(b"daphne-root-path", b"/mnt")], PEER, CONNECTION, "/mnt"),
    "root-path-untrusted-peer": (
        "untrusted", [(b"daphne-root-path", b"/evil"), (b"x-forwarded-for", b"1.2.3.4")],
        PEER, CONNECTION, "",
    ),
}  # fmt: skip


def _scope_over(wire: Wire, pool: ServerPool, server: DaphneCommand, headers: Any) -> dict:
    """What the app made of a request (HTTP) or handshake (WebSocket) with ``headers``."""
    if wire.name.startswith("ws"):
        client = wire.websocket(pool, server)
        try:
            handshake = client.handshake("/ws/scope", headers)
            assert handshake.status == (200 if wire.http2 else 101), handshake
            frame = client.receive()
        finally:
            client.close()
        assert frame is not None and frame[0] == 0x1, frame
        return json.loads(frame[1])
    with contextlib.closing(wire.connect(pool, server)) as connection:
        response = connection.request("GET", "/scope", headers)
    assert response.status == 200, response
    return json.loads(response.body)


def _check_trust_case(wire: Wire, pool: ServerPool, case: str) -> None:
    options, headers, client, scheme, root_path = TRUST_CASES[case]
    server = wire.server(pool, options)
    seen = _scope_over(wire, pool, server, headers)
    websocket = wire.name.startswith("ws")
    if scheme == CONNECTION:
        scheme = "https" if wire.secure else "http"
    if websocket:
        scheme = {"http": "ws", "https": "wss"}[scheme]
    if client == PEER:
        assert seen["client"][0] == "127.0.0.1" and seen["client"][1] > 0, seen
    else:
        assert seen["client"] == client, seen
    assert seen["scheme"] == scheme, seen
    assert seen["root_path"] == root_path, seen
    assert "daphne-root-path" not in seen["header_names"], seen


@pytest.mark.parametrize("case", list(TRUST_CASES))
def test_proxy_headers_trusted_only_where_configured(http, pool, case) -> None:
    """The same proxy-header and root-path rules on HTTP/1.1, h2 over TLS and h2c."""
    _check_trust_case(http, pool, case)


@pytest.mark.parametrize("case", list(TRUST_CASES))
def test_ws_proxy_headers_trusted_only_where_configured(ws, pool, case) -> None:
    """The same rules for WebSocket handshakes (scheme ws/wss) on every wire."""
    _check_trust_case(ws, pool, case)
