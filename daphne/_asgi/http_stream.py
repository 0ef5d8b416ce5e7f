"""``HTTPStream``: one HTTP request as ASGI, the same for HTTP/1.x and HTTP/2.

A stream is one HTTP/1.x request or one HTTP/2 stream.  It alone decides the
ASGI side of a request; the protocol adapters below it only translate bytes
and frames (they implement :class:`~daphne._asgi.interfaces.HTTPWire`).  It owns:

* refusing a request before the app sees it: the server at capacity
  (``--limit-concurrency``: 503 with ``Retry-After``) or a declared body over
  ``--limit-request-body`` (413);
* starting the application (:class:`~daphne._asgi.application.ApplicationInstance`);
* the request body's way to the app: pieces, read backpressure and
  ``--body-read-timeout`` (its base class, :class:`~daphne._asgi.http_input.RequestInput`);
* ``--http-timeout`` (503 before the head, an abort after it);
* the response: the app's messages pass through
  :class:`~daphne._asgi.http_cycle.HTTPResponseCycle` (order and types) and then
  here: header grammar (:mod:`daphne._asgi.headers`), ``Date``/``Server``
  defaults, no body for HEAD, 1xx, 204 and 304;
* how the app ended: returned without a response → 500, ended in the middle of
  one → abort;
* the server's own error pages, and when the access-log record is made
  (:func:`~daphne._asgi.traffic_log.log_http_access`).

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
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final

from .._errors import ApplicationMessageError
from .._types import Headers, Scope, Timer
from .application import ApplicationInstance
from .headers import check_response_headers, with_defaults
from .http_cycle import (
    CYCLE_ABORTED,
    CYCLE_STREAMING,
    CYCLE_TRAILERS,
    HTTPResponseCycle,
)
from .http_input import INPUT_TURN, MAX_QUEUED_MESSAGES, RequestInput
from .interfaces import EarlyHintsWire, FileWire, HTTPWire, PushWire, TrailersWire
from .responses import error_headers, error_page
from .traffic_log import debug_event, log_http_access

if TYPE_CHECKING:
    from .._context import ServerContext

logger = logging.getLogger("daphne.http_protocol")

__all__ = [
    "INPUT_TURN",
    "MAX_QUEUED_MESSAGES",
    "STREAM_DONE",
    "STREAM_OPEN",
    "HTTPStream",
    "HTTPWire",
    "StreamState",
]

_DISCONNECT = {"type": "http.disconnect"}
_NO_BODY_STATUSES = frozenset((204, 304))


class StreamState(enum.Enum):
    OPEN = "open"
    DONE = "done"


# The members as module globals, read per request or message (why: daphne/_wire/http1_state.py).
STREAM_OPEN: Final = StreamState.OPEN
STREAM_DONE: Final = StreamState.DONE


class _NoWire:
    """Stands in for the wire once the stream is over and its app has returned.

    The stream and its wire point at each other; dropping the wire then frees
    a finished request by reference counting instead of leaving the pair to
    the cyclic garbage collector (which cost a fifth of a small request's CPU).
    Every call on it does nothing.
    """

    def send_head(
        self, status: int, headers: Headers, body: bytes, end: bool, bodyless: bool, close: bool
    ) -> Awaitable[None] | None:
        return None

    def send_body(self, body: bytes, end: bool) -> Awaitable[None] | None:
        return None

    def abort(self) -> None:
        return None

    def pause_reading(self) -> None:
        return None

    def resume_reading(self) -> None:
        return None


_NO_WIRE: HTTPWire = _NoWire()


class HTTPStream(RequestInput):
    """One request's ASGI side (see the module).

    :ivar scope: the ASGI ``http`` scope.
    :ivar cycle: the response message state machine.
    :ivar instance: the running application, or None.
    :ivar status: the response status once a head was written, else 0.
    :ivar bytes_sent: response body bytes handed to the wire.
    :ivar started_at: the clock's time when the request's stream began.
    """

    __slots__ = (
        "_bodyless",
        "_head_request",
        "_on_first_receive",
        "_timeout_call",
        "bytes_sent",
        "context",
        "cycle",
        "declared_length",
        "head_written",
        "instance",
        "response_headers",
        "scope",
        "started_at",
        "state",
        "status",
        "wire",
    )

    def __init__(
        self,
        context: ServerContext,
        wire: HTTPWire,
        scope: Scope,
        declared_length: int | None = None,
        on_first_receive: Callable[[], None] | None = None,
    ) -> None:
        RequestInput.__init__(self)
        self.context = context
        self.wire = wire
        self.scope = scope
        self.declared_length = declared_length
        self.cycle = HTTPResponseCycle(self, frozenset(scope["extensions"]))
        self.instance: ApplicationInstance | None = None
        self.state = STREAM_OPEN
        self.status = 0
        self.head_written = False
        self.bytes_sent = 0
        self.response_headers: Headers | tuple[()] = ()
        self._head_request = scope["method"] == "HEAD"
        self._bodyless = self._head_request
        self._timeout_call: Timer | None = None
        self._on_first_receive = on_first_receive
        self.started_at = context.clock.seconds()

    @property
    def done(self) -> bool:
        return self.state is STREAM_DONE

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

    # -- the response (HTTPResponseCycle's ResponseWriter) ---------------------------

    def write_head(
        self, status: int, headers: Headers, body: bytes, more_body: bool
    ) -> Awaitable[None] | None:
        if self.state is STREAM_DONE:
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
        if not more_body and self._timeout_call is not None:
            self._cancel_timeout()
        self.bytes_sent += len(body)
        return self.wire.send_head(status, fields, body, not more_body, self._bodyless, False)

    def write_body(self, body: bytes, more_body: bool) -> Awaitable[None] | None:
        if self.state is STREAM_DONE:
            return None
        if not more_body and self._timeout_call is not None:
            self._cancel_timeout()
        if self._bodyless:
            body = b""
        self.bytes_sent += len(body)
        return self.wire.send_body(body, not more_body)

    def write_file(
        self, fd: int, offset: int, count: int, more_body: bool
    ) -> Awaitable[None] | None:
        if self.state is STREAM_DONE:
            return None
        if not more_body and self._timeout_call is not None:
            self._cancel_timeout()
        if self._bodyless:
            count = 0
        wire = self.wire
        if not isinstance(wire, FileWire):
            raise TypeError(f"{type(wire).__name__} cannot send files")
        self.bytes_sent += count
        return wire.send_file(fd, offset, count, not more_body)

    def write_trailers(self, headers: Headers) -> Awaitable[None] | None:
        if self.state is STREAM_DONE:
            return None
        try:
            check_response_headers(headers)
        except ApplicationMessageError:
            self.abort()  # the body is out: too late for a 500
            raise
        self._cancel_timeout()
        wire = self.wire
        if not isinstance(wire, TrailersWire):
            raise TypeError(f"{type(wire).__name__} cannot send trailers")
        return wire.send_trailers(headers)

    def write_early_hint(self, links: list[bytes]) -> None:
        if self.state is STREAM_DONE or self.head_written:
            return
        try:
            check_response_headers([(b"link", link) for link in links])
        except ApplicationMessageError:
            return  # a hint: not worth failing the response over
        wire = self.wire
        if links and isinstance(wire, EarlyHintsWire):
            wire.send_early_hint(links)

    def push(self, path: str, headers: Headers) -> None:
        if self.state is STREAM_DONE:
            return
        check_response_headers(headers)
        wire = self.wire
        if isinstance(wire, PushWire):
            wire.push(path, headers)

    def fail_response(self, started: bool) -> None:
        """The app sent something invalid: 500 if nothing was written yet, else abort.

        Done on the next loop iteration, so that the app sees the error raised
        from its ``send`` (and can record it) before the client sees the 500.
        """
        if self.state is not STREAM_DONE:
            self.context.loop.call_soon(self.error, 500, "Server Error")

    # -- endings ---------------------------------------------------------------------

    def error(self, status: int, reason: str, extra: Headers | tuple[()] = ()) -> None:
        """Answer with the server's own error page, then close (Rule 3)."""
        if self.state is STREAM_DONE:
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
        if self.state is STREAM_DONE:
            return
        self.cycle.abort()
        wire = self.wire  # _end() may let go of it
        self._end()
        wire.abort()

    def response_sent(self) -> None:
        """(From the wire) the whole response went out: log it, tell the app (Rule 1)."""
        if self.state is STREAM_DONE:
            return
        self._end()
        if self.context.action_logger is not None:
            log_http_access(self)
        debug_event(logger, "HTTP", "response complete", self.scope, self.status)

    def connection_lost(self) -> None:
        """(From the wire) the client is gone or reset the stream."""
        if self.state is not STREAM_DONE:
            self._end()

    def _end(self) -> None:
        self.state = STREAM_DONE
        self._body_done = True
        if self._timeout_call is not None:
            self._cancel_timeout()
        if self._body_watch is not None:
            self._unwatch_body()
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
        if self.state is not STREAM_DONE:
            state = self.cycle.state
            if not self.head_written:
                if state is not CYCLE_ABORTED:  # else a 500 is already on its way
                    if exception is None:
                        logger.error(
                            "Application returned without sending a response for %s %s",
                            self.scope["method"],
                            self.scope["path"],
                        )
                    self.error(500, "Exception inside application.")
            elif state is CYCLE_STREAMING or state is CYCLE_TRAILERS:
                logger.error("Application ended before finishing its response; aborting it")
                self.abort()
        # The cycle and the wire point back at us; break the loops so a finished
        # request is freed by reference counting, not left for the cyclic collector.
        self.cycle.detach()
        if self.state is STREAM_DONE:
            self.wire = _NO_WIRE

    # -- http_timeout ------------------------------------------------------------------

    def _arm_timeout(self) -> None:
        timeout = self.context.config.http_timeout
        if timeout is not None and self._timeout_call is None and self.state is not STREAM_DONE:
            self._timeout_call = self.context.clock.callLater(timeout, self._timed_out)

    def _cancel_timeout(self) -> None:
        call, self._timeout_call = self._timeout_call, None
        if call is not None and call.active():
            call.cancel()

    def _timed_out(self) -> None:
        self._timeout_call = None
        if self.head_written and self.state is not STREAM_DONE:
            logger.warning("Application timed out while sending response")
        self.error(503, "Application failed to respond within time limit.")
