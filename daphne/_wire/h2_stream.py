"""One HTTP/2 stream's wire: flow-controlled DATA, HEADERS, trailers, push, reset.

``H2Sender`` sends a stream's DATA within the client's flow-control windows
(write backpressure); ``H2Stream`` is the HTTP/2 wire of one request: it
carries what the request's :class:`~daphne._asgi.http_stream.HTTPStream` decided
(the same stream class HTTP/1.1 uses) as HTTP/2 frames, and makes no ASGI
decision of its own.  Read backpressure is flow control: while the stream is
paused, the DATA it received is not acknowledged, so the client's window
closes.  The WebSocket stream of RFC 8441 (:mod:`daphne._wire.h2_websocket`)
reuses ``H2Sender``.  :class:`~daphne._wire.http2.H2Protocol` owns the connection
and creates streams.

Covered by ``tests/integration/test_http2_functional.py`` and
``tests/integration/test_protocol_matrix.py``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from collections.abc import Awaitable
from typing import TYPE_CHECKING
from urllib.parse import quote

import h2.errors
import h2.exceptions

from .._asgi.headers import h2_response_fields
from .._asgi.http_stream import HTTPStream

if TYPE_CHECKING:
    from .._types import Scope
    from .http2 import H2Protocol

logger = logging.getLogger("daphne.http_protocol")

__all__ = ["H2Sender", "H2Stream"]

#: Piece size for files sent with ``http.response.pathsend``.
_READ_PIECE = 64 * 1024


class H2Sender:
    """Flow control of one stream, both ways.

    Outbound: bytes queue as a list of pieces (appending never copies what is
    already queued, and sending copies each byte once); :meth:`pump` sends what
    the client's windows allow and :meth:`queue` returns an awaitable while
    bytes are still held back (write backpressure).  A stream stopped by the
    *connection* window asks the protocol to wake it when that window opens
    (:meth:`H2Protocol.wait_for_connection_window`); one stopped by its own
    window is woken by its own ``WINDOW_UPDATE``.  Subclasses learn that the
    stream's end went out from :meth:`_all_sent`.

    Inbound: :meth:`_credit` acknowledges received DATA (opening the client's
    window again) unless reading is paused, or more than ``write_high_water``
    bytes wait to be sent on the stream (a client that does not read must not
    make us queue without bound what its own frames cause us to send, such as
    WebSocket pongs); :meth:`resume_reading` and the send buffer draining
    acknowledge what was withheld (read backpressure).
    """

    def __init__(self, protocol: H2Protocol, stream_id: int) -> None:
        self.protocol = protocol
        self.stream_id = stream_id
        self.response_done = False
        self._chunks: deque[bytes] = deque()
        #: Bytes of ``_chunks[0]`` already sent.
        self._offset = 0
        self._pending_size = 0
        self._pending_end = False
        self._ended = False
        self._trailers: list[tuple[bytes, bytes]] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._paused = False
        #: More than ``write_high_water`` bytes are waiting: credit is withheld.
        self._backlogged = False
        self._unacked = 0

    def _credit(self, flow_length: int) -> None:
        """Acknowledge ``flow_length`` received bytes now, or when reading resumes."""
        if flow_length:
            if self._paused or self._backlogged:
                self._unacked += flow_length
            else:
                self.protocol.acknowledge(self.stream_id, flow_length)

    def pause_reading(self) -> None:
        self._paused = True

    def resume_reading(self) -> None:
        self._paused = False
        self._release_credit()

    def _release_credit(self) -> None:
        if self._unacked and not self._paused and not self._backlogged:
            length, self._unacked = self._unacked, 0
            self.protocol.acknowledge(self.stream_id, length)

    def queue(self, data: bytes, end: bool) -> Awaitable[None] | None:
        """Queue ``data`` (``end``: and the stream's end) and send what the windows allow.

        Returns an awaitable while bytes are held back (write backpressure).
        """
        if self.response_done:
            return None
        if data:
            self._chunks.append(data)
            self._pending_size += len(data)
        self._pending_end = end
        self.pump()
        pending = self._pending_size
        if pending and pending > self.protocol.context.config.write_high_water:
            self._backlogged = True
        if self._pending_size or (self._pending_end and not self.response_done):
            drain = self._drain
            if drain is None or drain.done():
                drain = self._drain = self.protocol.context.loop.create_future()
            return drain
        return self.protocol.channel.drained()

    def _take(self, size: int) -> bytes:
        """Remove and return the first ``size`` pending bytes (``size`` <= pending)."""
        chunks = self._chunks
        first = chunks[0]
        offset = self._offset
        left = len(first) - offset
        if left > size:
            self._offset = offset + size
            piece = first[offset : offset + size]
        elif left == size:
            chunks.popleft()
            self._offset = 0
            piece = first[offset:] if offset else first
        else:
            parts = [first[offset:] if offset else first]
            chunks.popleft()
            self._offset = 0
            wanted = size - left
            while wanted:
                chunk = chunks[0]
                if len(chunk) > wanted:
                    parts.append(chunk[:wanted])
                    self._offset = wanted
                    break
                parts.append(chunks.popleft())
                wanted -= len(chunk)
            piece = b"".join(parts)
        self._pending_size -= size
        return piece

    def pump(self) -> None:
        """Send as much pending data as the flow-control windows allow."""
        if self.response_done:
            return
        protocol = self.protocol
        conn = protocol.conn
        chunks = self._chunks
        sent = 0
        # h2's stream, for its window (h2's local_flow_control_window looks it up on
        # every call; it raises, as before, for a stream h2 no longer has).
        h2_stream = conn.streams.get(self.stream_id)
        while self._pending_size:
            if h2_stream is None:
                window = conn.local_flow_control_window(self.stream_id)
            else:
                window = min(
                    conn.outbound_flow_control_window, h2_stream.outbound_flow_control_window
                )
            window = min(window, conn.max_outbound_frame_size)
            if window <= 0:
                if conn.outbound_flow_control_window <= 0:
                    protocol.wait_for_connection_window(self)
                break
            size = self._pending_size
            if size <= window and len(chunks) == 1 and not self._offset:
                piece = chunks.popleft()  # the common case: one whole piece fits
                self._pending_size = 0
            else:
                size = min(size, window)
                piece = self._take(size)
            sent += size
            last = self._pending_end and not self._pending_size
            conn.send_data(self.stream_id, piece, end_stream=last)
            self._ended = self._ended or last
        if sent:
            protocol.data_sent(sent)
        if not self._pending_size and self._pending_end:
            if not self._ended:
                self._ended = True
                try:
                    if self._trailers is not None:
                        conn.send_headers(self.stream_id, self._trailers, end_stream=True)
                    else:
                        conn.end_stream(self.stream_id)
                except (h2.exceptions.ProtocolError, KeyError):
                    pass
            self._all_sent()
        protocol.flush()
        if self._backlogged and self._pending_size <= protocol.context.config.write_high_water // 2:
            self._backlogged = False
            self._release_credit()
        if not self._pending_size:
            self._wake()

    def _wake(self) -> None:
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    def _all_sent(self) -> None:
        """The stream's last DATA (END_STREAM) went out."""


class H2Stream(H2Sender):
    """One request stream: the HTTP/2 wire of an :class:`HTTPStream` (``HTTPWire``).

    :ivar stream: the request's :class:`HTTPStream`.
    :ivar request_ended: the client's side of the stream is over (END_STREAM).
    """

    def __init__(
        self,
        protocol: H2Protocol,
        stream_id: int,
        scope: Scope,
        declared_length: int | None = None,
        request_pseudo: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        super().__init__(protocol, stream_id)
        self.stream = HTTPStream(protocol.context, self, scope, declared_length)
        #: The request's pseudo-header fields (``:authority`` is reused for pushes).
        self.request_pseudo = request_pseudo or []
        self.request_ended = False

    @property
    def scope(self) -> Scope:
        return self.stream.scope

    def start(self) -> None:
        self.stream.start()

    # -- the client's side (from H2Protocol) ----------------------------------------

    def feed_body(self, data: bytes, flow_length: int, end: bool) -> None:
        """DATA (or END_STREAM) from the client; ``flow_length`` counts padding too."""
        if end:
            self.request_ended = True
        self.stream.receive_body(data, end)
        self._credit(flow_length)

    def reset(self) -> None:
        """The client reset the stream, or the connection is gone."""
        self.response_done = True
        self._wake()
        self.stream.connection_lost()

    # -- HTTPWire (pause_reading/resume_reading: H2Sender) -----------------------------

    def send_head(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        end: bool,
        bodyless: bool,
        close: bool,
    ) -> Awaitable[None] | None:
        if self.response_done:
            return None
        fields = [(b":status", b"%d" % status), *h2_response_fields(headers)]
        try:
            self.protocol.conn.send_headers(self.stream_id, fields, end_stream=end and not body)
        except (h2.exceptions.ProtocolError, ValueError) as error:
            raise ValueError(f"Invalid response headers: {error}") from None
        if end and not body:
            self._ended = self._pending_end = True
            self.protocol.flush()
            self._all_sent()
            return None
        return self.queue(body, end)

    def send_body(self, body: bytes, end: bool) -> Awaitable[None] | None:
        if self.response_done:
            return None
        return self.queue(body, end)

    def send_early_hint(self, links: list[bytes]) -> None:
        """A ``103`` informational HEADERS frame with one ``link`` field per entry."""
        if self.response_done:
            return
        try:
            headers = [(b":status", b"103"), *((b"link", link) for link in links)]
            self.protocol.conn.send_headers(self.stream_id, headers)
        except (h2.exceptions.ProtocolError, ValueError):
            return
        self.protocol.flush()

    def send_trailers(self, headers: list[tuple[bytes, bytes]]) -> Awaitable[None] | None:
        """End the stream with a trailing HEADERS frame once the body is out."""
        self._trailers = h2_response_fields(headers)
        return self.queue(b"", True)

    def send_file(self, fd: int, offset: int, count: int, end: bool) -> Awaitable[None]:
        """Send part of a file as DATA, read in pieces as the windows open."""
        return self._send_file(fd, offset, count, end)

    async def _send_file(self, fd: int, offset: int, count: int, end: bool) -> None:
        while count > 0 and not self.response_done:
            data = os.pread(fd, min(count, _READ_PIECE), offset)
            if not data:
                logger.error("File shorter than the response promised; resetting the stream")
                self.stream.abort()
                return
            offset += len(data)
            count -= len(data)
            waiter = self.send_body(data, False)
            if waiter is not None:
                await waiter
        if end:
            waiter = self.send_body(b"", True)
            if waiter is not None:
                await waiter

    def push(self, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        """Server push (RFC 9113 §8.4): promise ``path`` and serve it as a new stream."""
        protocol = self.protocol
        conn = protocol.conn
        if (
            not conn.remote_settings.enable_push
            or self.response_done
            or self.stream_id % 2 == 0
            or protocol.draining
        ):
            return
        authority = dict(self.request_pseudo).get(b":authority", b"")
        request = [
            (b":method", b"GET"),
            (b":path", quote(path, safe="/%;:@&=+$,!~*'()?").encode("ascii")),
            (b":scheme", self.scope["scheme"].encode("ascii")),
            (b":authority", authority),
            *h2_response_fields(headers),
        ]
        try:
            promised = conn.get_next_available_stream_id()
            conn.push_stream(self.stream_id, promised, request)
        except (h2.exceptions.ProtocolError, ValueError) as error:
            logger.debug("Server push of %s not sent: %s", path, error)
            return
        protocol.flush()
        protocol.open_stream(promised, request, True, pushed=True)

    def abort(self) -> None:
        if self.response_done:
            return
        self.response_done = True
        self._wake()
        self.protocol.reset_stream(self.stream_id)

    def _all_sent(self) -> None:
        if self.response_done:
            return
        self.response_done = True
        self.stream.response_sent()
        # RFC 9113 §8.1: a complete response before the whole request: ask the
        # client to stop sending the rest, without error.
        self.protocol.stream_finished(
            self, None if self.request_ended else h2.errors.ErrorCodes.NO_ERROR
        )
