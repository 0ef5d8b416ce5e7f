"""``HTTP1Connection``: the Twisted protocol speaking HTTP/1.x on one connection.

It turns bytes into requests (parsing with :mod:`daphne._wire.http1_parser`), hands
each to a :class:`~daphne.http_protocol.WebRequest`, keeps responses in order
(pipelining), and maps backpressure both ways onto the transport.  Its parts,
each a mixin in its own module:

* the read side (:mod:`daphne._wire.http1_input`): each read handed on in fair
  slices; the socket stops being read when a request's queued, unread body
  passes ``read_high_water``, or while pipelined requests fill the buffer
  during a response;
* the write side (:mod:`daphne._wire.http1_output`): coalesced writes, direct
  socket sends, files; the connection is the transport's streaming producer,
  so when the transport's buffer passes its high-water mark ``drained()``
  hands the app's ``send`` an awaitable that completes once the client has
  read enough;
* the keep-alive and request-head timeouts (:mod:`daphne._wire.http1_timers`);
* the states and their theory of operation (:mod:`daphne._wire.http1_state`).

Which protocol the connection speaks (HTTP/2 by ALPN or preface, ``Upgrade:
h2c``, ``Upgrade: websocket``) is decided by :mod:`daphne._wire.switch`; once
handed over, this object stays the transport-facing side (reads, writes,
backpressure) of the protocol that took over.  Limits and every ASGI decision
are the request stream's (:mod:`daphne._asgi.http_stream`).

Covered by ``tests/unit/test_http1.py`` and ``tests/property/test_http1_props.py``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, cast

from twisted.internet.interfaces import IPushProducer, ISSLTransport
from twisted.internet.protocol import Protocol
from zope.interface import implementer

from .._errors import BadRequest
from .http1_body import RequestBody
from .http1_input import INPUT_SLICE, INPUT_TURN, IConnectionTransport, PacedInput
from .http1_output import SocketOutput
from .http1_parser import (
    ChunkedDecoder,
    RequestHead,
    find_head_end,
    has_bare_lf,
    parse_request_head,
)
from .http1_state import (
    CONN_BODY,
    CONN_CLOSED,
    CONN_DISCARDING,
    CONN_H2C_BODY,
    CONN_IDLE,
    CONN_RESPONDING,
    CONN_UPGRADED,
    ConnState,
)
from .http1_timers import HTTP1Timeouts
from .http1_wire import WebRequest, error_response
from .switch import (
    NOT_UPGRADED,
    Choice,
    Upgraded,
    first_bytes,
    h2c_upgradable,
    start_h2c,
    start_http2,
    start_websocket,
)
from .tls import TLSInfo, tls_extension

if TYPE_CHECKING:
    from twisted.python.failure import Failure

    from .._context import ConnectionFacts, ServerContext
    from ..http_protocol import HTTPFactory

logger = logging.getLogger("daphne.http_protocol")

#: Bytes asked of a plain TCP socket per read.  recv() allocates this much and shrinks
#: it to what came, so small reads cost no more (checked: no mmap per read).
READ_SIZE = 256 * 1024

__all__ = ["INPUT_SLICE", "INPUT_TURN", "ConnState", "HTTP1Connection"]


def _address(address: object) -> list[str | int] | None:
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    if host is None or port is None:
        return None
    return [str(host), port]


@implementer(IPushProducer)
class HTTP1Connection(PacedInput, SocketOutput, RequestBody, HTTP1Timeouts, Protocol):
    """One HTTP/1.x connection.

    :ivar context: the server's :class:`ServerContext`.
    :ivar disconnected: whether the transport is gone.
    :ivar facts: ``client``, ``server`` and ``secure`` of this connection, for request facts.
    :ivar factory: the :class:`~daphne.http_protocol.HTTPFactory` that built it (set by it).
    """

    factory: HTTPFactory

    # Slots for the connection's own state (the mixins' too): with over 30 attributes
    # in its __dict__, CPython 3.11 gives up sharing the keys and every attribute load
    # takes a slower path (-1.7 % instructions per GET, -4.4 % per streamed response).
    # Twisted's own (transport, connected, factory) stay in the __dict__.
    __slots__ = (
        "_backlog",
        "_backlog_call",
        "_body_left",
        "_buffer",
        "_chunked",
        "_closing",
        "_drain_waiters",
        "_draining",
        "_first_data",
        "_head_started_at",
        "_head_timer",
        "_idle_since",
        "_idle_timer",
        "_pending",
        "_pending_size",
        "_reading_paused",
        "_request",
        "_request_head",
        "_slice",
        "_socket",
        "_tcp",
        "_tls",
        "_tls_known",
        "_transport",
        "_upgraded",
        "_write_paused",
        "context",
        "disconnected",
        "facts",
        "state",
        "zero_copy",
    )

    def __init__(self, context: ServerContext) -> None:
        self.context = context
        self.state = CONN_IDLE
        self.disconnected = False
        self._buffer = b""
        self._request: WebRequest | None = None
        self._upgraded: Upgraded = NOT_UPGRADED
        self._first_data = True
        self._draining = False
        self._closing = False
        #: An ``Upgrade: h2c`` request waiting for its body (state ``H2C_BODY``).
        self._request_head: RequestHead | None = None
        self.facts: ConnectionFacts = {"client": None, "server": None, "secure": False}
        self._tls: TLSInfo | None = None
        self._tls_known = False
        #: Whether files can go out with ``os.sendfile`` (``http.response.zerocopysend``).
        self.zero_copy = False
        self._init_input()
        self._init_output()
        self._init_body()
        self._init_timers()

    # -- Twisted callbacks ---------------------------------------------------

    def connectionMade(self) -> None:
        # Twisted's Protocol declares its transport an ITransport; ours are TCP or TLS
        # transports, which provide more (see IConnectionTransport): said once, here.
        transport = self._transport = cast(IConnectionTransport, self.transport)
        self.facts = {
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
        self._use_socket(transport)
        if self._tcp is not None:
            # Read up to READ_SIZE bytes per recv (Twisted's default is 64 KiB): a 64 KiB
            # upload and its head then come in one read, not two.
            self._tcp.bufferSize = READ_SIZE
        self.zero_copy = self._socket is not None  # real sendfile: plain sockets only
        if self.factory is not None:
            self.factory.connections.add(self)
        self._enter_idle()

    def _data_received(self, data: bytes) -> None:
        """One slice of input (see :class:`PacedInput`)."""
        state = self.state
        if state is CONN_UPGRADED:
            self._upgraded.data_received(data)
            return
        if self._first_data:
            data = self._check_http2(data)
            if not data:
                return
        if state is CONN_BODY or state is CONN_DISCARDING:
            self._body_received(data)
            return
        if state is CONN_CLOSED:
            return
        self._buffer = self._buffer + data if self._buffer else data
        if state is CONN_H2C_BODY:
            if self._request_head is not None:
                self._start_h2c(self._request_head)
            return
        if state is CONN_IDLE:
            self._parse_requests()
        elif len(self._buffer) > self.context.config.max_header_bytes:
            # Pipelined requests are waiting for the current response: stop
            # reading until it is done rather than buffering without bound.
            self.pause_reading()

    def connectionLost(self, reason: Failure | None = None) -> None:
        if self.factory is not None:
            self.factory.connections.discard(self)
        self.disconnected = True
        self.state = CONN_CLOSED
        self._cancel_idle()
        self._stop_input()
        request, self._request = self._request, None
        if request is not None:
            request.connection_lost()
        upgraded, self._upgraded = self._upgraded, NOT_UPGRADED
        upgraded.connection_lost()
        self._wake_drain_waiters()

    # -- IPushProducer (with SocketOutput): the transport's write buffer ----------

    def resumeProducing(self) -> None:
        """The transport's write buffer drained (see :meth:`SocketOutput.pauseProducing`)."""
        self._write_paused = False
        self._wake_drain_waiters()
        if self.state is CONN_UPGRADED and self._reading_paused:
            # Imported here: the HTTP/2 stack loads with the first HTTP/2 connection.
            from .http2 import H2Protocol

            if isinstance(self._upgraded, H2Protocol):
                self.resume_reading()

    # -- services for WebRequest and the protocols handed over to ----------------

    def tls_info(self) -> TLSInfo | None:
        """The ASGI ``tls`` extension for this connection (None when not TLS)."""
        if not self._tls_known:
            self._tls_known = True
            self._tls = tls_extension(self._transport) if self.facts["secure"] else None
        return self._tls

    def abort(self) -> None:
        """Drop the connection at once (the response cannot be completed)."""
        self.state = CONN_CLOSED
        self._pending = None
        if not self.disconnected:
            self._transport.abortConnection()

    def close(self) -> None:
        """Send what is queued, then close the connection."""
        self._close()

    def drain(self) -> None:
        """The server is stopping: finish what is in flight, then close."""
        self._draining = True
        if self.state is CONN_UPGRADED:
            self._upgraded.drain()
        elif self.state is CONN_IDLE:
            self._close()

    def response_finished(self, request: WebRequest) -> None:
        """The current request's response is complete: move on."""
        if request is not self._request:
            return
        if not request.keep_alive or self._draining or self.state is CONN_CLOSED:
            self._close()
            return
        if self.state is CONN_BODY:
            self._discard_rest()  # the app answered without reading the whole body
            return
        self._request = None
        self._enter_idle()
        self.resume_reading()
        if self._buffer:
            self._parse_requests()

    # -- requests ------------------------------------------------------------

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

    def _start_request(self, head: RequestHead) -> None:
        # Limits (--limit-concurrency, --limit-request-body) are the stream's
        # decisions, the same on every protocol (daphne._asgi.http_stream).
        if head.upgrade == b"websocket":
            self._start_websocket(head)
            return
        config = self.context.config
        if head.upgrade == b"h2c" and h2c_upgradable(
            head, config.h2c and config.h2c_upgrade, self.facts["secure"]
        ):
            self._start_h2c(head)
            return
        request = WebRequest(self)
        self._request = request
        if head.chunked:
            self._chunked = ChunkedDecoder()
            self.state = CONN_BODY
        elif head.content_length:
            self._chunked = None
            self._body_left = head.content_length
            self.state = CONN_BODY
        else:
            self._chunked = None
            self.state = CONN_RESPONDING
        request.begin(head, self.context, self.facts)
        if self.state is CONN_CLOSED:
            return  # refused before the app saw it (503, 413...)
        if self.state is CONN_RESPONDING:
            request.feed_body(b"", False)
        elif self._buffer:
            data, self._buffer = self._buffer, b""
            self._body_received(data)

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

    def _close(self) -> None:
        self.state = CONN_CLOSED
        self._cancel_idle()
        self.flush()
        if not self.disconnected and not self._closing:
            self._closing = True
            self._transport.unregisterProducer()
            self._transport.loseConnection()

    # -- hand-over to HTTP/2 or WebSocket (decided by daphne._wire.switch) ------------

    def _check_http2(self, data: bytes) -> bytes:
        """Hand the connection to HTTP/2 if the first bytes (or ALPN) say so.

        :returns: the bytes still to be handled as HTTP/1.x (empty once switched
            or while a possible preface is incomplete).
        """
        pending = self._buffer + data
        negotiated = getattr(self._transport, "negotiatedProtocol", None)
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

    def _start_h2c(self, head: RequestHead) -> None:
        """Upgrade to HTTP/2 once the request's (small) body is all here (RFC 7540 §3.2)."""
        length = head.content_length or 0
        if len(self._buffer) < length:
            self.state = CONN_H2C_BODY
            self._request_head = head
            self._start_head_timer()  # the wait for the body is bounded like the head's
            return
        body, rest = self._buffer[:length], self._buffer[length:]
        self._buffer = b""
        self._request_head = None
        self._head_started_at = None
        start_h2c(self, head, body, rest)

    def _start_websocket(self, head: RequestHead) -> None:
        rest, self._buffer = self._buffer, b""
        problem = start_websocket(self, head, rest)
        if problem is not None:
            extra = b"Sec-WebSocket-Version: 13\r\n" if problem.status == 426 else b""
            self._reject(problem, b"", extra)

    def hand_over(self, protocol: Upgraded) -> None:
        """From now on bytes and connection loss go to ``protocol`` (HTTP/2, WebSocket)."""
        self._cancel_idle()
        self.state = CONN_UPGRADED
        self._upgraded = protocol
