"""``HTTPStream``: one HTTP request as ASGI, the same for HTTP/1.x and HTTP/2.

A stream is one HTTP/1.x request or one HTTP/2 stream.  It alone decides the
ASGI side of a request; the protocol adapters below it only translate bytes
and frames (they implement :class:`HTTPWire`).  It owns:

* refusing a request before the app sees it: the server at capacity
  (``--limit-concurrency``: 503 with ``Retry-After``) or a declared body over
  ``--limit-request-body`` (413);
* starting the application (:class:`~daphne._asgi.application.ApplicationInstance`);
* delivering the body: ``http.request`` messages in ``request_buffer_size``
  pieces, exactly one of them final (``more_body`` false), however the wire
  signalled the end; a body that grows past ``--limit-request-body`` gets a 413;
  body bytes arriving while the app has not yet received the last message join
  that message (up to ``request_buffer_size``), so what waits for the app costs
  memory in proportion to its bytes, not to how many pieces the client cut it in;
* read backpressure: while the app has more than ``read_high_water`` bytes or
  :data:`MAX_QUEUED_MESSAGES` pieces (what the wire delivered: DATA frames,
  chunks, reads) unread, the wire stops reading
  (HTTP/1.1 pauses the socket, HTTP/2 withholds flow-control credit);
* ``--http-timeout`` (503 before the head, an abort after it);
* ``--body-read-timeout``: a body that stalls (nothing new from the client for
  that long while the server is reading) gets a 408 before the head, an abort
  after it; time spent paused by backpressure does not count;
* the response: the app's messages pass through
  :class:`~daphne._asgi.http_cycle.HTTPResponseCycle` (order and types) and then
  here: header grammar (:mod:`daphne._asgi.headers`), ``Date``/``Server``
  defaults, no body for HEAD, 1xx, 204 and 304;
* how the app ended: returned without a response → 500, ended in the middle of
  one → abort;
* the server's own error pages, and the access-log record.

Theory of operation:

* Rule 1: ``OPEN`` until the response was handed over whole
  (:meth:`response_sent`, called by the wire), aborted, or the client left
  (:meth:`connection_lost`); then ``DONE``, and the app's next ``receive``
  gets ``http.disconnect`` (once: see :mod:`daphne._asgi.application`).
* Rule 2: after the final body message, further body from the wire is ignored.
* Rule 3: an error response is possible only while no head was written; after
  that the only way to fail a response is :meth:`abort`.

Covered by ``tests/integration/test_protocol_matrix.py`` (every rule on
HTTP/1.1, HTTP/2 over TLS and h2c) and ``tests/unit/test_http1.py``.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from .._errors import ApplicationMessageError
from .application import ApplicationInstance
from .headers import check_response_headers, with_defaults
from .http_cycle import CycleState, HTTPResponseCycle
from .responses import error_headers, error_page
from .traffic_log import debug_event

if TYPE_CHECKING:
    from .._context import ServerContext

logger = logging.getLogger("daphne.http_protocol")

__all__ = ["INPUT_TURN", "MAX_QUEUED_MESSAGES", "HTTPStream", "HTTPWire", "StreamState"]

#: Unread body pieces (wire deliveries: DATA frames, chunks, reads) at which reading
#: pauses, besides ``read_high_water`` bytes: a client cutting its body into tiny pieces
#: is paused after as many pieces as one sending big ones.
MAX_QUEUED_MESSAGES = 64
#: Seconds of loop time one connection's input may take before it yields to the
#: others (a read's slices in ``_wire.http1``; WebSocket refills in ``ws_stream``).
INPUT_TURN = 0.005
_DISCONNECT = {"type": "http.disconnect"}
_NO_BODY_STATUSES = frozenset((204, 304))
Headers = list[tuple[bytes, bytes]]


class StreamState(enum.Enum):
    OPEN = "open"
    DONE = "done"


_DONE = StreamState.DONE


class _NoWire:
    """Stands in for the wire once the stream is over and its app has returned.

    The stream and its wire point at each other; dropping the wire then frees
    a finished request by reference counting instead of leaving the pair to
    the cyclic garbage collector (which cost a fifth of a small request's CPU).
    Every call on it does nothing.
    """

    def __getattr__(self, name: str) -> Any:
        return _ignore


def _ignore(*args: Any) -> None:
    return None


_NO_WIRE = _NoWire()


class HTTPWire(Protocol):
    """What a protocol implements to carry one stream's response.

    The wire calls back :meth:`HTTPStream.response_sent` once the last byte of
    the response was handed to the connection, and :meth:`HTTPStream.receive_body`
    / :meth:`HTTPStream.connection_lost` as the client's side progresses.
    Wires that advertise an ASGI extension also implement its method:
    ``send_file(fd, offset, count, end)``, ``send_trailers(headers)``,
    ``send_early_hint(links)``, ``push(path, headers)``.
    """

    def send_head(
        self, status: int, headers: Headers, body: bytes, end: bool, bodyless: bool, close: bool
    ) -> Awaitable[None] | None:
        """Send the status and (checked, defaulted) headers, plus the first body bytes.

        ``bodyless``: the response has no body whatever its headers say;
        ``close``: the connection should not be reused (HTTP/1.x).
        """

    def send_body(self, body: bytes, end: bool) -> Awaitable[None] | None:
        """Send body bytes; ``end`` finishes the response.  May return a drain waiter."""

    def abort(self) -> None:
        """The response cannot be completed: reset the stream or drop the connection."""

    def pause_reading(self) -> None:
        """Stop taking request body from the client."""

    def resume_reading(self) -> None:
        """Take request body again."""


class HTTPStream:
    """One request's ASGI side (see the module).

    :ivar scope: the ASGI ``http`` scope.
    :ivar cycle: the response message state machine.
    :ivar instance: the running application, or None.
    :ivar status: the response status once a head was written, else 0.
    """

    __slots__ = (
        "_body_done",
        "_body_received",
        "_body_seen_at",
        "_body_timer",
        "_bodyless",
        "_head_request",
        "_on_first_receive",
        "_paused",
        "_piece_counts",
        "_queued_bytes",
        "_queued_pieces",
        "_started_at",
        "_tail",
        "_tail_buffer",
        "_tail_size",
        "_timeout_call",
        "bytes_sent",
        "context",
        "cycle",
        "declared_length",
        "head_written",
        "instance",
        "response_headers",
        "scope",
        "state",
        "status",
        "wire",
    )

    def __init__(
        self,
        context: ServerContext,
        wire: Any,
        scope: dict[str, Any],
        declared_length: int | None = None,
        on_first_receive: Callable[[], None] | None = None,
    ) -> None:
        self.context = context
        self.wire = wire
        self.scope = scope
        self.declared_length = declared_length
        self.cycle = HTTPResponseCycle(self, frozenset(scope["extensions"]))
        self.instance: ApplicationInstance | None = None
        self.state = StreamState.OPEN
        self.status = 0
        self.head_written = False
        self.bytes_sent = 0
        self.response_headers: Headers | tuple[()] = ()
        self._head_request = scope["method"] == "HEAD"
        self._bodyless = self._head_request
        self._body_done = False
        self._body_received = 0
        self._queued_bytes = 0
        #: Unread pieces, in total and per queued ``http.request`` message (oldest first).
        self._queued_pieces = 0
        self._piece_counts: deque[int] = deque()
        self._paused = False
        #: The last queued ``http.request`` not yet received, while it may still grow,
        #: its size, and the bytearray it grows in (its body until received).
        self._tail: dict[str, Any] | None = None
        self._tail_size = 0
        self._tail_buffer: bytearray | None = None
        self._timeout_call: Any = None
        self._body_timer: Any = None
        self._body_seen_at = 0.0
        self._on_first_receive = on_first_receive
        self._started_at = context.clock.seconds()

    @property
    def done(self) -> bool:
        return self.state is _DONE

    @property
    def input_pending(self) -> bool:
        """Whether the app has request messages queued that it has not received."""
        instance = self.instance
        return instance is not None and instance.pending

    # -- start ---------------------------------------------------------------------

    def start(self) -> None:
        """Refuse the request, or run the application on it."""
        debug_event(logger, "HTTP", "request", self.scope)
        context = self.context
        config = context.config
        if config.limit_concurrency is not None and context.at_capacity():
            self.error(503, "The server is at capacity; retry shortly", [(b"Retry-After", b"1")])
            return
        limit = config.limit_request_body
        if limit is not None and self.declared_length is not None and self.declared_length > limit:
            self.error(413, f"Request body larger than {limit} bytes")
            return
        instance = ApplicationInstance(
            self.scope,
            self.cycle.handle,
            self._app_exited,
            context.clock,
            config.application_close_timeout,
            context.registry,
            on_receive=self._message_received,
            on_first_receive=self._on_first_receive,
        )
        self.instance = instance
        try:
            instance.start(context.application, context.loop)
        except Exception:
            # The app could not even be called (not an ASGI callable...).
            logger.exception("Exception when calling application")
            self.instance = None
            self.error(500, "Exception inside application.")

    # -- request body (from the wire) ------------------------------------------------

    def receive_body(self, data: bytes, end: bool) -> None:
        """Body bytes from the client; ``end`` when the request body is complete."""
        if self._body_done:
            return  # Rule 2
        if end:
            self._body_done = True
            if self._body_timer is not None:
                self._stop_body_timer()
        elif self._body_timer is not None:
            self._body_seen_at = self.context.clock.seconds()
        config = self.context.config
        limit = config.limit_request_body
        if limit is not None:
            self._body_received += len(data)
            if self._body_received > limit:
                self._body_done = True
                self.error(413, f"Request body larger than {limit} bytes")
                return
        instance = self.instance
        if instance is None or instance.closed:
            return
        self._queue_body(instance, data, end, config.request_buffer_size)
        self._queued_bytes += len(data)
        if end:
            self._arm_timeout()
        if not self._paused and (
            self._queued_bytes > config.read_high_water or self._queued_pieces > MAX_QUEUED_MESSAGES
        ):
            self._paused = True
            self.wire.pause_reading()

    def _queue_body(self, instance: ApplicationInstance, data: bytes, end: bool, size: int) -> None:
        """Queue ``data`` as ``http.request`` messages of at most ``size`` bytes.

        Bytes that fit into the last queued message the app has not received yet
        join it, so many small pieces (tiny HTTP/2 DATA frames, tiny chunks) cost
        one message, not one each.
        """
        tail = self._tail
        if tail is not None:
            if self._tail_size + len(data) <= size:
                if data:
                    buffer = self._tail_buffer
                    if buffer is None:
                        buffer = self._tail_buffer = bytearray(tail["body"])
                    buffer += data
                    self._tail_size += len(data)
                    self._piece_counts[-1] += 1
                    self._queued_pieces += 1
                if end:
                    tail["more_body"] = False
                return
            self._seal_tail()
        if len(data) <= size:
            message = {"type": "http.request", "body": data, "more_body": not end}
            instance.put(message)
            self._piece_counts.append(1)
            self._queued_pieces += 1
            if not end:
                self._tail = message
                self._tail_size = len(data)
            return
        last = len(data) - size
        for offset in range(0, len(data), size):
            instance.put(
                {
                    "type": "http.request",
                    "body": data[offset : offset + size],
                    "more_body": not end or offset < last,
                }
            )
            self._piece_counts.append(1)
            self._queued_pieces += 1

    def _seal_tail(self) -> None:
        """The last queued message takes no more bytes: give it its final ``bytes`` body."""
        tail, buffer = self._tail, self._tail_buffer
        self._tail = self._tail_buffer = None
        if tail is not None and buffer is not None:
            tail["body"] = bytes(buffer)

    def _message_received(self, message: dict[str, Any]) -> None:
        if message["type"] != "http.request":
            return
        if message is self._tail:
            self._seal_tail()
        self._queued_pieces -= self._piece_counts.popleft()
        self._queued_bytes -= len(message.get("body", b""))
        if (
            self._paused
            and self._queued_bytes <= self.context.config.read_high_water // 2
            and self._queued_pieces <= MAX_QUEUED_MESSAGES // 2
        ):
            self._paused = False
            if self._body_timer is not None:
                self._body_seen_at = self.context.clock.seconds()
            self.wire.resume_reading()

    def await_body(self) -> None:
        """(From the wire) the client should now be sending the body: watch for a stall.

        Called once the head is in and the body does not end with it (after
        ``100 Continue`` when the client asked for one).
        """
        timeout = self.context.config.body_read_timeout
        if timeout is None or self._body_done or self._body_timer is not None or self.done:
            return
        clock = self.context.clock
        self._body_seen_at = clock.seconds()
        self._body_timer = clock.callLater(timeout, self._body_check)

    def _stop_body_timer(self) -> None:
        call, self._body_timer = self._body_timer, None
        if call is not None and call.active():
            call.cancel()

    def _body_check(self) -> None:
        self._body_timer = None
        if self._body_done or self.done:
            return
        timeout = self.context.config.body_read_timeout
        assert timeout is not None
        clock = self.context.clock
        now = clock.seconds()
        if self._paused:
            # The app is behind, not the client: the stall clock restarts on resume.
            self._body_seen_at = now
        left = self._body_seen_at + timeout - now
        if left > 0:
            self._body_timer = clock.callLater(left, self._body_check)
            return
        self._body_done = True
        if self.head_written:
            logger.info("Request body stalled for %g s after the response began; aborting", timeout)
            self.abort()
        else:
            self.error(408, f"Request body not received within {timeout:g} seconds")

    @property
    def body_done(self) -> bool:
        """Whether the request body is complete (or no longer wanted)."""
        return self._body_done

    # -- the response (HTTPResponseCycle's ResponseWriter) ---------------------------

    def write_head(
        self, status: int, headers: Headers, body: bytes, more_body: bool
    ) -> Awaitable[None] | None:
        if self.state is _DONE:
            return None
        context = self.context
        try:
            fields = with_defaults(
                headers, context.date_header(), context.server_name_bytes, check=True
            )
        except ApplicationMessageError:
            self.cycle.abort()
            self.fail_response(False)
            raise
        if status < 200 or status in _NO_BODY_STATUSES:
            self._bodyless = True
        if self._bodyless:
            body = b""
        self.status = status
        self.response_headers = headers
        self.head_written = True
        if not more_body:
            self._cancel_timeout()
        self.bytes_sent += len(body)
        return self.wire.send_head(status, fields, body, not more_body, self._bodyless, False)

    def write_body(self, body: bytes, more_body: bool) -> Awaitable[None] | None:
        if self.state is _DONE:
            return None
        if not more_body:
            self._cancel_timeout()
        if self._bodyless:
            body = b""
        self.bytes_sent += len(body)
        return self.wire.send_body(body, not more_body)

    def write_file(
        self, fd: int, offset: int, count: int, more_body: bool
    ) -> Awaitable[None] | None:
        if self.done:
            return None
        if not more_body:
            self._cancel_timeout()
        if self._bodyless:
            count = 0
        self.bytes_sent += count
        return self.wire.send_file(fd, offset, count, not more_body)

    def write_trailers(self, headers: Headers) -> Awaitable[None] | None:
        if self.done:
            return None
        try:
            check_response_headers(headers)
        except ApplicationMessageError:
            self.abort()  # the body is out: too late for a 500
            raise
        self._cancel_timeout()
        return self.wire.send_trailers(headers)

    def write_early_hint(self, links: list[bytes]) -> None:
        if self.done or self.head_written:
            return
        try:
            check_response_headers([(b"link", link) for link in links])
        except ApplicationMessageError:
            return  # a hint: not worth failing the response over
        if links:
            self.wire.send_early_hint(links)

    def push(self, path: str, headers: Headers) -> None:
        if self.done:
            return
        check_response_headers(headers)
        self.wire.push(path, headers)

    def fail_response(self, started: bool) -> None:
        """The app sent something invalid: 500 if nothing was written yet, else abort.

        Done on the next loop iteration, so that the app sees the error raised
        from its ``send`` (and can record it) before the client sees the 500.
        """
        if not self.done:
            self.context.loop.call_soon(self._fail_now)

    def _fail_now(self) -> None:
        if self.head_written:
            self.abort()
        else:
            self.error(500, "Server Error")

    # -- endings ---------------------------------------------------------------------

    def error(self, status: int, reason: str, extra: Headers | tuple[()] = ()) -> None:
        """Answer with the server's own error page, then close (Rule 3)."""
        if self.done:
            return
        if self.head_written:
            self.abort()
            return
        self.cycle.abort()
        context = self.context
        page = error_page(status, reason)
        headers = with_defaults(
            [*error_headers(page), *extra], context.date_header(), context.server_name_bytes
        )
        self.status = status
        self.head_written = True
        self._cancel_timeout()
        body = b"" if self._head_request else page
        self.bytes_sent = len(body)
        self.wire.send_head(status, headers, body, True, self._head_request, True)

    def abort(self) -> None:
        """The response cannot be completed: stop the app's output, reset/drop the wire."""
        if self.done:
            return
        self.cycle.abort()
        wire = self.wire  # _end() may let go of it
        self._end()
        wire.abort()

    def response_sent(self) -> None:
        """(From the wire) the whole response went out: log it, tell the app (Rule 1)."""
        if self.done:
            return
        self._end()
        self._log_access()
        debug_event(logger, "HTTP", f"response {self.status} complete", self.scope)

    def connection_lost(self) -> None:
        """(From the wire) the client is gone or reset the stream."""
        if not self.done:
            self._end()

    def _end(self) -> None:
        self.state = StreamState.DONE
        self._body_done = True
        self._cancel_timeout()
        if self._body_timer is not None:
            self._stop_body_timer()
        instance = self.instance
        if instance is not None:
            instance.close(_DISCONNECT)
        if self._paused:
            # Nobody will read what is queued: let the wire take (and drop) the rest.
            self._paused = False
            self.wire.resume_reading()
        if instance is None:
            self.wire = _NO_WIRE  # the app has returned too: break the cycle

    def _app_exited(self, exception: BaseException | None) -> None:
        self.instance = None
        if not self.done:
            state = self.cycle.state
            if not self.head_written:
                if state is not CycleState.ABORTED:  # else a 500 is already on its way
                    if exception is None:
                        logger.error(
                            "Application returned without sending a response for %s %s",
                            self.scope["method"],
                            self.scope["path"],
                        )
                    self.error(500, "Exception inside application.")
            elif state is CycleState.STREAMING or state is CycleState.TRAILERS:
                logger.error("Application ended before finishing its response; aborting it")
                self.abort()
        # The cycle and the wire point back at us; break the loops so a finished
        # request is freed by reference counting, not left for the cyclic collector.
        self.cycle.detach()
        if self.done:
            self.wire = _NO_WIRE

    # -- http_timeout ------------------------------------------------------------------

    def _arm_timeout(self) -> None:
        timeout = self.context.config.http_timeout
        if timeout is not None and self._timeout_call is None and not self.done:
            self._timeout_call = self.context.clock.callLater(timeout, self._timed_out)

    def _cancel_timeout(self) -> None:
        call, self._timeout_call = self._timeout_call, None
        if call is not None and call.active():
            call.cancel()

    def _timed_out(self) -> None:
        self._timeout_call = None
        if self.done:
            return
        if not self.head_written:
            self.error(503, "Application failed to respond within time limit.")
        else:
            logger.warning("Application timed out while sending response")
            self.abort()

    # -- access log ----------------------------------------------------------------------

    def _log_access(self) -> None:
        context = self.context
        if context.action_logger is None:
            return
        scope = self.scope
        query = scope["query_string"]
        target = scope["raw_path"] + (b"?" + query if query else b"")
        client = scope["client"]
        context.log_action(
            "http",
            "complete",
            {
                "path": target.decode("ascii", "replace"),
                "status": self.status,
                "method": scope["method"],
                "client": f"{client[0]}:{client[1]}" if client else None,
                "time_taken": context.clock.seconds() - self._started_at,
                "size": self.bytes_sent,
                # For --access-log-format / --log-json (daphne.access).
                "http_version": scope["http_version"],
                "request_headers": scope["headers"],
                "response_headers": self.response_headers,
            },
        )
