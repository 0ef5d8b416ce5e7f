"""WebSocket over HTTP/2 (RFC 8441): extended CONNECT with ``:protocol websocket``.

The server announces ``SETTINGS_ENABLE_CONNECT_PROTOCOL``; a client then opens a
stream with ``:method CONNECT``, ``:protocol websocket``, ``:scheme`` and
``:path``.  That stream carries WebSocket frames in its DATA frames, so the same
:class:`~daphne._asgi.ws_stream.WebSocketStream` runs on it: this module only
supplies the stream as its "channel" (write, drained, pause/resume reading,
close = END_STREAM, abort = RST_STREAM) and answers the handshake with HTTP/2
HEADERS (``:status 200`` instead of ``101``; no ``Sec-WebSocket-Key`` dance).

Covered by ``tests/integration/test_h2_websocket.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import h2.errors
import h2.exceptions

from .._asgi.headers import h2_response_fields
from .._asgi.responses import error_page
from .._asgi.ws_stream import WebSocketStream
from .._errors import BadRequest
from .h2_stream import H2Sender

if TYPE_CHECKING:
    from .http2 import H2Protocol
    from .tls import TLSInfo

__all__ = [
    "ConnectHead",
    "H2WebSocketStream",
    "connect_problem",
    "open_websocket",
    "refuse_connect",
]


@dataclass(frozen=True, slots=True)
class ConnectHead:
    """An extended CONNECT request, shaped like a parsed HTTP/1.x head."""

    path: bytes
    query_string: bytes
    headers: list[tuple[bytes, bytes]]
    method: str = "CONNECT"
    http_version: str = "2"


def connect_problem(protocol: bytes, headers: list[tuple[bytes, bytes]]) -> BadRequest | None:
    """Why an extended CONNECT cannot become a WebSocket, or None (RFC 8441 §4, §5)."""
    if protocol.lower() != b"websocket":
        return BadRequest(f"Unsupported :protocol {protocol.decode('latin-1')!r}", 501)
    versions = [value for name, value in headers if name == b"sec-websocket-version"]
    if versions != [b"13"]:
        return BadRequest("Unsupported WebSocket version (only 13 is supported)", 426)
    return None


def _response_headers(status: int, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(b":status", b"%d" % status), *h2_response_fields(headers)]


class H2WebSocketStream(H2Sender):
    """One extended-CONNECT stream: the channel a :class:`WebSocketProtocol` runs on.

    :ivar ws: the WebSocket protocol bridged to the application.
    :ivar disconnected: the stream is gone (reset, connection lost, or both ends closed).
    """

    def __init__(self, protocol: H2Protocol, stream_id: int, head: ConnectHead) -> None:
        super().__init__(protocol, stream_id)
        self.disconnected = False
        self.request_ended = False
        # A plain dict: WebSocketStream takes the connection facts as ``dict[str, Any]``.
        self.ws = H2WebSocketProtocol(self, protocol.context, head, dict(protocol.facts))

    def start(self) -> None:
        self.ws.start()

    def send_head(self, status: int, headers: list[tuple[bytes, bytes]], end: bool) -> None:
        """Send the response HEADERS for the handshake (or its refusal)."""
        if self.disconnected or self.response_done:
            return
        try:
            self.protocol.conn.send_headers(
                self.stream_id, _response_headers(status, headers), end_stream=end
            )
        except (h2.exceptions.ProtocolError, ValueError) as error:
            raise ValueError(f"Invalid response headers: {error}") from None
        if end:
            self._ended = self._pending_end = True
            self._all_sent()
        self.protocol.flush()

    # -- the channel interface WebSocketProtocol uses ------------------------------

    def tls_info(self) -> TLSInfo | None:
        return self.protocol.channel.tls_info()

    def write(self, data: bytes, flush: bool = False) -> None:
        if not self.disconnected:
            self.queue(data, False)

    def drained(self) -> asyncio.Future[None] | None:
        if self._pending_size and not self.response_done:
            drain = self._drain
            if drain is None or drain.done():
                drain = self._drain = self.protocol.context.loop.create_future()
            return drain
        return self.protocol.channel.drained()

    def close(self) -> None:
        """End our half of the stream once pending frames are out."""
        if not self.disconnected and not self._pending_end:
            self.queue(b"", True)

    def abort(self) -> None:
        if self.disconnected:
            return
        self.disconnected = True
        self.response_done = True
        self._wake()
        self.protocol.reset_stream(self.stream_id, h2.errors.ErrorCodes.CANCEL)
        self.protocol.stream_finished(self)

    # -- events from H2Protocol --------------------------------------------------------

    def feed_body(self, data: bytes, flow_length: int, end: bool) -> None:
        if end:
            self.request_ended = True
        if data:
            self.ws.data_received(data)
        self._credit(flow_length)
        if end:
            # END_STREAM is the client's FIN: after a close handshake that is
            # normal, before one it is an abnormal closure (1006).
            self.ws.connection_lost()
            self.close()

    def reset(self) -> None:
        """The client reset the stream, or the connection is gone."""
        self.disconnected = True
        self.response_done = True
        self._wake()
        self.ws.connection_lost()

    def drain(self) -> None:
        self.ws.drain()

    def _all_sent(self) -> None:
        self.disconnected = True
        self.response_done = True
        self.protocol.stream_finished(self)


class H2WebSocketProtocol(WebSocketStream):
    """:class:`WebSocketStream` answering over HTTP/2 HEADERS instead of HTTP/1.1 bytes."""

    channel: H2WebSocketStream

    def _write_accept(self, headers: list[tuple[bytes, bytes]]) -> None:
        self.channel.send_head(200, headers, end=False)

    def _write_denial_head(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.channel.send_head(status, headers, end=False)

    def _write_denial_body(self, body: bytes, more_body: bool) -> Awaitable[None] | None:
        return self.channel.queue(body, not more_body)

    def _write_http_error(
        self, status: int, reason: str, extra: list[tuple[bytes, bytes]] | tuple[()] = ()
    ) -> None:
        page = error_page(status, reason)
        self.channel.send_head(status, self._error_headers(page, extra), end=False)
        self.channel.queue(page, True)


def open_websocket(
    protocol: H2Protocol,
    stream_id: int,
    connect_protocol: bytes,
    path: bytes,
    query: bytes,
    headers: list[tuple[bytes, bytes]],
    ended: bool,
    problem: BadRequest | None = None,
) -> None:
    """Extended CONNECT (RFC 8441): run a WebSocket on stream ``stream_id``, or refuse it.

    ``problem``: what the request grammar found wrong with the fields (a 400, as
    for an HTTP/1.1 upgrade request).
    """
    problem = problem or connect_problem(connect_protocol, headers)
    if problem is None and ended:
        problem = BadRequest("A WebSocket CONNECT stream cannot end at once")
    if problem is not None:
        refuse_connect(protocol, stream_id, problem)
        return
    stream = H2WebSocketStream(protocol, stream_id, ConnectHead(path, query, headers))
    protocol.streams[stream_id] = stream
    protocol.busy()
    stream.start()


def refuse_connect(protocol: H2Protocol, stream_id: int, problem: BadRequest) -> None:
    """Answer an extended CONNECT we cannot serve with an error response."""
    page = error_page(problem.status, str(problem))
    headers = [
        (b":status", b"%d" % problem.status),
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", b"%d" % len(page)),
    ]
    if problem.status == 426:
        headers.append((b"sec-websocket-version", b"13"))
    try:
        protocol.conn.send_headers(stream_id, headers)
        protocol.conn.send_data(stream_id, page, end_stream=True)
    except (h2.exceptions.ProtocolError, h2.exceptions.FlowControlError):
        protocol.reset_stream(stream_id)
        return
    protocol.flush()
