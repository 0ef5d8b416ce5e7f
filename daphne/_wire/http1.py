"""``HTTP1Connection``: the Twisted protocol speaking HTTP/1.x on one connection.

It turns bytes into requests (parsing with :mod:`daphne._wire.http1_parser`), hands
each to a :class:`~daphne.http_protocol.WebRequest`, keeps responses in order
(pipelining), and maps backpressure both ways onto the transport:

* read side: when a request's queued, unread body passes
  ``read_high_water`` the socket stops being read until the app catches up;
  pipelined requests wait in the buffer while a response is in progress, and
  the socket stops being read when that buffer is full;
* write side: the connection is the transport's streaming producer, so when
  the transport's buffer passes its high-water mark ``drained()`` hands the
  app's ``send`` an awaitable that completes once the client has read enough;
* fairness: one read (up to 64 KiB) is handed on in slices of
  :data:`INPUT_SLICE` bytes; once a read has held the event loop for
  :data:`INPUT_TURN` seconds, the rest waits for the next loop iteration (the
  socket paused meanwhile), so a flood of cheap frames, pipelined requests or
  tiny WebSocket messages on one connection cannot starve the others.  This
  holds for whatever protocol the connection was handed to.

Which protocol the connection speaks (HTTP/2 by ALPN or preface, ``Upgrade:
h2c``, ``Upgrade: websocket``) is decided by :mod:`daphne._wire.switch`; once
handed over, this object stays the transport-facing side (writes,
backpressure) of the protocol that took over.  Limits and every ASGI decision
are the request stream's (:mod:`daphne._asgi.http_stream`).

Theory of operation (``ConnState``):

* ``IDLE``: waiting for a request head (keep-alive timer running).
* ``BODY``: a request is in progress and its body is still arriving.
* ``RESPONDING``: the body is complete; waiting for the response to finish.
* ``DISCARDING``: the response finished before the body was read: the rest of
  the body is read and dropped, then the connection goes back to ``IDLE``.
* ``H2C_BODY``: an ``Upgrade: h2c`` request's small body is still arriving;
  the upgrade happens once it is whole.
* ``UPGRADED``: the connection was handed to a WebSocket or HTTP/2 protocol;
  bytes and connection loss are forwarded to it.
* ``CLOSED``: closing or closed; nothing more is parsed.

Covered by ``tests/unit/test_http1.py`` and ``tests/property/test_http1_props.py``.
"""

from __future__ import annotations

import enum
import logging
from typing import Any

from twisted.internet.interfaces import IPushProducer, ISSLTransport
from twisted.internet.protocol import Protocol
from zope.interface import implementer

from .._asgi.http_stream import INPUT_TURN
from .._context import ServerContext
from .._errors import BadRequest
from .http1_output import SocketOutput, plain_socket
from .http1_parser import ChunkedDecoder, find_head_end, has_bare_lf, parse_request_head
from .http1_wire import WebRequest, error_response
from .switch import Choice, first_bytes, h2c_upgradable, start_h2c, start_http2, start_websocket
from .tls import tls_extension

logger = logging.getLogger("daphne.http_protocol")

__all__ = ["INPUT_SLICE", "INPUT_TURN", "ConnState", "HTTP1Connection"]

#: Largest unread body remainder drained (rather than closing) after an early response.
_MAX_DISCARD = 256 * 1024
#: Bytes of a read handed to the protocol at a time (see the module: fairness); the
#: most, for input that is cheap per byte.
INPUT_SLICE = 16 * 1024
#: The least, for input that is costly per byte (tiny HTTP/2 or WebSocket frames).
_MIN_SLICE = 2 * 1024
_UNKNOWN = object()


class ConnState(enum.Enum):
    IDLE = "idle"
    BODY = "body"
    RESPONDING = "responding"
    DISCARDING = "discarding"
    H2C_BODY = "h2c body"
    UPGRADED = "upgraded"
    CLOSED = "closed"


def _address(address: Any) -> list[Any] | None:
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    if host is None or port is None:
        return None
    return [str(host), port]


@implementer(IPushProducer)
class HTTP1Connection(SocketOutput, Protocol):
    """One HTTP/1.x connection.

    :ivar context: the server's :class:`ServerContext`.
    :ivar disconnected: whether the transport is gone.
    """

    def __init__(self, context: ServerContext) -> None:
        self.context = context
        self.state = ConnState.IDLE
        self.disconnected = False
        self._buffer = b""
        self._request: WebRequest | None = None
        self._upgraded: Any = None
        self._first_data = True
        self._draining = False
        self._closing = False
        self.factory: Any = None
        self._head_started_at: float | None = None
        self._head_timer: Any = None
        self._body_left = 0
        self._chunked: ChunkedDecoder | None = None
        self._reading_paused = False
        #: Bytes read but not yet handled (waiting for the next loop iteration), and its call.
        self._backlog = b""
        #: This connection's current slice size (adapts between _MIN_SLICE and INPUT_SLICE).
        self._slice = INPUT_SLICE
        self._backlog_call: Any = None
        self._init_output()
        self._facts: dict[str, Any] = {}
        self._idle_timer: Any = None
        self._idle_since = 0.0
        self._tls: Any = _UNKNOWN
        self._request_head: Any = None

    # -- Twisted callbacks ---------------------------------------------------

    def connectionMade(self) -> None:
        transport = self.transport
        self._facts = {
            "client": _address(transport.getPeer()),
            "server": _address(transport.getHost()),
            "secure": ISSLTransport.providedBy(transport),
        }
        set_no_delay = getattr(transport, "setTcpNoDelay", None)
        if set_no_delay is not None:
            try:
                set_no_delay(True)
            except OSError:
                pass
        transport.registerProducer(self, True)
        self._socket = plain_socket(transport)
        if self.factory is not None:
            self.factory.connections.add(self)
        self._enter_idle()

    def dataReceived(self, data: bytes) -> None:
        if self._backlog:
            # Bytes delivered while paused (TLS hands on what it already decrypted).
            self._backlog += data
            return
        self._consume(data)

    def _consume(self, data: bytes) -> None:
        """Handle ``data`` slice by slice; defer the rest once this read used its turn."""
        size = self._slice
        if len(data) <= size:
            self._handle(data)
            return
        clock = self.context.clock
        started = last = clock.seconds()
        offset = 0
        while offset < len(data):
            step = size
            if self.state is ConnState.BODY and self._chunked is None and self._body_left > step:
                # Plain body bytes cost little per byte and go to the app as they are:
                # hand them over whole; slices are for what has to be parsed.
                step = self._body_left
            self._handle(data[offset : offset + step])
            offset += step
            if self.disconnected or self.state is ConnState.CLOSED:
                return
            now = clock.seconds()
            # Input that is costly per byte (tiny frames) gets smaller slices, so that
            # one slice stays well within a turn; cheap input grows them back.
            if now - last > INPUT_TURN / 4 and size > _MIN_SLICE:
                size //= 2
            elif now - last < INPUT_TURN / 16 and size < INPUT_SLICE:
                size *= 2
            last = now
            self._slice = size
            if offset < len(data) and now - started >= INPUT_TURN:
                self._backlog = data[offset:]
                if not self._reading_paused:
                    self.transport.pauseProducing()
                self._backlog_call = clock.callLater(0, self._resume_backlog)
                return

    def _resume_backlog(self) -> None:
        self._backlog_call = None
        data, self._backlog = self._backlog, b""
        if self.disconnected or self.state is ConnState.CLOSED or not data:
            return
        self._consume(data)
        if not self._backlog and not self._reading_paused and not self.disconnected:
            self.transport.resumeProducing()

    def _handle(self, data: bytes) -> None:
        try:
            self._data_received(data)
        except Exception:
            # A bug of ours must cost one connection, not the process or a hang.
            logger.exception("Internal error while handling HTTP data; closing the connection")
            self.abort()

    def _data_received(self, data: bytes) -> None:
        state = self.state
        if state is ConnState.UPGRADED:
            self._upgraded.data_received(data)
            return
        if self._first_data:
            data = self._check_http2(data)
            if not data:
                return
        if state is ConnState.BODY or state is ConnState.DISCARDING:
            self._body_received(data)
            return
        if state is ConnState.CLOSED:
            return
        self._buffer = self._buffer + data if self._buffer else data
        if state is ConnState.H2C_BODY:
            self._start_h2c(self._request_head)
            return
        if state is ConnState.IDLE:
            self._parse_requests()
        elif len(self._buffer) > self.context.config.max_header_bytes:
            # Pipelined requests are waiting for the current response: stop
            # reading until it is done rather than buffering without bound.
            self.pause_reading()

    def connectionLost(self, reason: Any = None) -> None:
        if self.factory is not None:
            self.factory.connections.discard(self)
        self.disconnected = True
        self.state = ConnState.CLOSED
        self._cancel_idle()
        self._backlog = b""
        call, self._backlog_call = self._backlog_call, None
        if call is not None and call.active():
            call.cancel()
        request, self._request = self._request, None
        if request is not None:
            request.connection_lost()
        upgraded, self._upgraded = self._upgraded, None
        if upgraded is not None:
            upgraded.connection_lost()
        self._wake_drain_waiters()

    # -- IPushProducer: the transport tells us about its write buffer ----------

    def pauseProducing(self) -> None:
        self._write_paused = True

    def resumeProducing(self) -> None:
        self._write_paused = False
        self._wake_drain_waiters()
        if self.state is ConnState.UPGRADED and self._reading_paused:
            # Imported here: the HTTP/2 stack loads with the first HTTP/2 connection.
            from .http2 import H2Protocol

            if isinstance(self._upgraded, H2Protocol):
                self.resume_reading()

    @property
    def write_paused(self) -> bool:
        """Whether the transport's send buffer is over its high-water mark."""
        return self._write_paused

    def stopProducing(self) -> None:
        self._write_paused = False
        self._wake_drain_waiters()

    # -- services for WebRequest -----------------------------------------------

    def tls_info(self) -> dict[str, Any] | None:
        """The ASGI ``tls`` extension for this connection (None when not TLS)."""
        if self._tls is _UNKNOWN:
            self._tls = tls_extension(self.transport) if self._facts.get("secure") else None
        return self._tls  # type: ignore[return-value]

    def http_extensions(self, head: Any) -> dict[str, Any]:
        """The ``extensions`` of an HTTP/1.x request's scope: what works on this connection."""
        extensions: dict[str, Any] = {"http.response.pathsend": {}}
        if self._socket is not None:
            extensions["http.response.zerocopysend"] = {}  # real sendfile: plain sockets only
        if head.http_version == "1.1":
            extensions["http.response.early_hint"] = {}
            for name, value in head.headers:
                if name == b"te" and b"trailers" in value.lower():
                    extensions["http.response.trailers"] = {}
        tls = self.tls_info()
        if tls is not None:
            extensions["tls"] = dict(tls)
        return extensions

    def pause_reading(self) -> None:
        if not self._reading_paused and not self.disconnected:
            self._reading_paused = True
            if not self._backlog:  # else already paused until the backlog is handled
                self.transport.pauseProducing()

    def resume_reading(self) -> None:
        if self._reading_paused and not self.disconnected and self.state is not ConnState.CLOSED:
            self._reading_paused = False
            if not self._backlog:
                self.transport.resumeProducing()

    def abort(self) -> None:
        """Drop the connection at once (the response cannot be completed)."""
        self.state = ConnState.CLOSED
        self._pending = None
        if not self.disconnected:
            self.transport.abortConnection()

    def drain(self) -> None:
        """The server is stopping: finish what is in flight, then close."""
        self._draining = True
        if self.state is ConnState.UPGRADED:
            self._upgraded.drain()
        elif self.state is ConnState.IDLE:
            self._close()

    def response_finished(self, request: WebRequest) -> None:
        """The current request's response is complete: move on."""
        if request is not self._request:
            return
        if not request.keep_alive or self._draining or self.state is ConnState.CLOSED:
            self._close()
            return
        if self.state is ConnState.BODY:
            # The app answered without reading the whole body.
            if self._chunked is not None or self._body_left > _MAX_DISCARD:
                self._close()
                return
            self.state = ConnState.DISCARDING
            self.resume_reading()
            return
        self._request = None
        self._enter_idle()
        self.resume_reading()
        if self._buffer:
            self._parse_requests()

    # -- parsing -------------------------------------------------------------

    def _parse_requests(self) -> None:
        config = self.context.config
        buffer = self._buffer
        if buffer[:1] in (b"\r", b"\n"):
            # RFC 9112 §2.2: ignore empty lines before a request line.
            buffer = self._buffer = buffer.lstrip(b"\r\n")
        head_end, body_start = find_head_end(buffer)
        if head_end == -1:
            if has_bare_lf(buffer):
                self._reject(BadRequest("Bare LF line ending (only CRLF is accepted)"), buffer)
                return
            self._start_head_timer()
            line_end = buffer.find(b"\n")
            if line_end == -1 and len(buffer) > config.limit_request_line:
                self._reject(BadRequest("Request line too long", 414), buffer)
            elif len(buffer) > config.limit_request_line + config.max_header_bytes:
                self._reject(BadRequest("Request header fields too large", 431), buffer)
            return
        line_end = buffer.find(b"\n", 0, head_end + 1)
        if line_end == -1:
            line_end = head_end
        if line_end > config.limit_request_line:
            self._reject(BadRequest("Request line too long", 414), buffer)
            return
        if head_end - line_end > config.max_header_bytes:
            self._reject(BadRequest("Request header fields too large", 431), buffer)
            return
        try:
            head = parse_request_head(
                buffer[:head_end], config.limit_request_fields, config.limit_request_field_size
            )
        except BadRequest as error:
            self._reject(error, buffer)
            return
        self._buffer = buffer[body_start:]
        self._head_started_at = None
        self._start_request(head)

    def _start_request(self, head: Any) -> None:
        # Limits (--limit-concurrency, --limit-request-body) are the stream's
        # decisions, the same on every protocol (daphne._asgi.http_stream).
        if head.upgrade == b"websocket":
            self._start_websocket(head)
            return
        config = self.context.config
        if head.upgrade == b"h2c" and h2c_upgradable(
            head, config.h2c and config.h2c_upgrade, self._facts["secure"]
        ):
            self._start_h2c(head)
            return
        request = WebRequest(self)
        self._request = request
        if head.chunked:
            self._chunked = ChunkedDecoder()
            self.state = ConnState.BODY
        elif head.content_length:
            self._chunked = None
            self._body_left = head.content_length
            self.state = ConnState.BODY
        else:
            self._chunked = None
            self.state = ConnState.RESPONDING
        request.begin(head, self.context, self._facts)
        if self.state is ConnState.CLOSED:
            return  # refused before the app saw it (503, 413...)
        if self.state is ConnState.RESPONDING:
            request.feed_body(b"", False)
        elif self._buffer:
            data, self._buffer = self._buffer, b""
            self._body_received(data)

    def _check_http2(self, data: bytes) -> bytes:
        """Hand the connection to HTTP/2 if the first bytes (or ALPN) say so.

        :returns: the bytes still to be handled as HTTP/1.x (empty once switched
            or while a possible preface is incomplete).
        """
        pending = self._buffer + data
        negotiated = getattr(self.transport, "negotiatedProtocol", None)
        choice = first_bytes(pending, negotiated, self.context.config.h2c)
        if choice is Choice.UNDECIDED:
            self._buffer = pending  # maybe the preface: wait for the rest
            return b""
        self._first_data = False
        self._buffer = b""
        if choice is Choice.HTTP1:
            return pending
        start_http2(self, pending)
        return b""

    def _start_h2c(self, head: Any) -> None:
        """Upgrade to HTTP/2 once the request's (small) body is all here (RFC 7540 §3.2)."""
        length = head.content_length or 0
        if len(self._buffer) < length:
            self.state = ConnState.H2C_BODY
            self._request_head = head
            self._start_head_timer()  # the wait for the body is bounded like the head's
            return
        body, rest = self._buffer[:length], self._buffer[length:]
        self._buffer = b""
        self._request_head = None
        self._head_started_at = None
        start_h2c(self, head, body, rest)

    def _start_websocket(self, head: Any) -> None:
        rest, self._buffer = self._buffer, b""
        problem = start_websocket(self, head, rest)
        if problem is not None:
            extra = b"Sec-WebSocket-Version: 13\r\n" if problem.status == 426 else b""
            self._reject(problem, b"", extra)

    def hand_over(self, protocol: Any) -> None:
        """From now on bytes and connection loss go to ``protocol`` (HTTP/2, WebSocket)."""
        self._cancel_idle()
        self.state = ConnState.UPGRADED
        self._upgraded = protocol

    @property
    def facts(self) -> dict[str, Any]:
        """``client``, ``server`` and ``secure`` of this connection, for request facts."""
        return self._facts

    def close(self) -> None:
        """Send what is queued, then close the connection."""
        self._close()

    def _body_received(self, data: bytes) -> None:
        request = self._request
        discarding = self.state is ConnState.DISCARDING
        decoder = self._chunked
        if decoder is not None:
            try:
                pieces = decoder.feed(data)
            except BadRequest as error:
                stream = request.stream if request is not None else None
                if stream is not None and not stream.done:
                    stream.error(error.status, error.reason)  # closes the connection after
                else:
                    self._close()
                return
            done = decoder.done
            if not discarding and request is not None:
                body = b"".join(pieces)
                if body or done:
                    request.feed_body(body, not done)
            if done:
                self._buffer = decoder.unused
        else:
            left = self._body_left
            if len(data) >= left:
                body, rest = data[:left], data[left:]
                self._body_left = 0
                done = True
                self._buffer = rest
            else:
                body = data
                self._body_left = left - len(data)
                done = False
            if not discarding and request is not None:
                request.feed_body(body, not done)
        if done:
            self._chunked = None
            if discarding:
                self._request = None
                self._enter_idle()
                if self._buffer:
                    self._parse_requests()
            elif self.state is ConnState.BODY:
                self.state = ConnState.RESPONDING

    def _reject(self, error: BadRequest, buffer: bytes, extra_headers: bytes = b"") -> None:
        """Answer a request the server refuses before it reaches the app, then close."""
        first_line = buffer.split(b"\n", 1)[0].rstrip(b"\r")
        tokens = first_line.split(b" ")
        if error.status == 400 and len(tokens) == 3 and not tokens[2].startswith(b"HTTP/"):
            # Not HTTP/1.x at all (a broken HTTP/2 preface, say): an HTTP/1.1 answer
            # would only be noise to the peer, so just close (h2spec 3.5/2).
            self._buffer = b""
            self._close()
            return
        version = "1.0" if first_line.endswith(b" HTTP/1.0") else "1.1"
        data, _ = error_response(self.context, version, error.status, error.reason, extra_headers)
        self.write(data, flush=True)
        self._buffer = b""
        self._close()

    # -- connection management -------------------------------------------------

    def _close(self) -> None:
        self.state = ConnState.CLOSED
        self._cancel_idle()
        self.flush()
        if not self.disconnected and not self._closing:
            self._closing = True
            self.transport.unregisterProducer()
            self.transport.loseConnection()

    def _enter_idle(self) -> None:
        self.state = ConnState.IDLE
        self._idle_since = self.context.clock.seconds()
        if self._idle_timer is None:
            self._idle_timer = self.context.clock.callLater(
                self.context.config.keep_alive_timeout, self._idle_check
            )

    def _idle_check(self) -> None:
        self._idle_timer = None
        if self.disconnected or self.state is ConnState.CLOSED:
            return
        timeout = self.context.config.keep_alive_timeout
        if self.state is not ConnState.IDLE or self._head_started_at is not None:
            # A request is in progress, or its head is arriving (--header-read-timeout
            # bounds that): idleness does not apply; look again later.
            self._idle_timer = self.context.clock.callLater(timeout, self._idle_check)
            return
        remaining = self._idle_since + timeout - self.context.clock.seconds()
        if remaining > 0:
            self._idle_timer = self.context.clock.callLater(remaining, self._idle_check)
        else:
            self._close()

    def _start_head_timer(self) -> None:
        """Bound the time a client may take to send a request head (slowloris)."""
        if self._head_started_at is None:
            self._head_started_at = self.context.clock.seconds()
        if self._head_timer is None:
            self._head_timer = self.context.clock.callLater(
                self.context.config.header_read_timeout, self._head_check
            )

    def _head_check(self) -> None:
        self._head_timer = None
        started = self._head_started_at
        waiting = self.state is ConnState.IDLE or self.state is ConnState.H2C_BODY
        if started is None or self.disconnected or not waiting:
            return
        remaining = started + self.context.config.header_read_timeout - self.context.clock.seconds()
        if remaining > 0:
            self._head_timer = self.context.clock.callLater(remaining, self._head_check)
        else:
            self._reject(BadRequest("Request head not received in time", 408), self._buffer)

    def _cancel_idle(self) -> None:
        timer, self._idle_timer = self._idle_timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def _wake_drain_waiters(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
