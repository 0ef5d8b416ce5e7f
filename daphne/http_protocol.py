"""HTTP/1.x requests as ASGI: ``WebRequest`` (one per request) and ``HTTPFactory``.

``WebRequest`` is the bridge for one request: it builds the scope (through
:mod:`daphne._scope`), runs the app (:class:`~daphne._application.ApplicationInstance`),
feeds it the body, and writes the response the
:class:`~daphne._http_cycle.HTTPResponseCycle` validated.  The connection
(:class:`daphne._http1.HTTP1Connection`) parses bytes and owns the transport.

Covered by ``tests/unit/test_http1.py`` and ``tests/integration/test_http_functional.py``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable
from html import escape
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from twisted.internet.interfaces import IProtocolNegotiationFactory
from twisted.internet.protocol import ServerFactory
from zope.interface import implementer

from ._application import ApplicationInstance
from ._http_cycle import CycleState, HTTPResponseCycle
from ._scope import RequestFacts, build_http_scope

if TYPE_CHECKING:
    from ._context import ServerContext

logger = logging.getLogger(__name__)

__all__ = ["HTTPFactory", "WebRequest", "error_page", "error_response", "status_line"]

_STATUS_LINES: dict[tuple[str, int], bytes] = {}
_HEADER_NAME_RE = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
_BAD_RESPONSE_VALUE_RE = re.compile(rb"[\x00\r\n]")
_NO_BODY_STATUSES = frozenset((204, 304))
_DISCONNECT = {"type": "http.disconnect"}


def status_line(http_version: str, status: int) -> bytes:
    """``HTTP/1.1 200 OK\\r\\n`` for a version and status, cached."""
    key = (http_version, status)
    line = _STATUS_LINES.get(key)
    if line is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        line = f"HTTP/{http_version} {status} {phrase}\r\n".encode("ascii")
        _STATUS_LINES[key] = line
    return line


def error_page(status: int, reason: str) -> bytes:
    """A small self-contained HTML page for errors the server answers itself."""
    try:
        title = f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        title = str(status)
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:3em;color:#333}"
        "footer{color:#999;font-size:small;margin-top:2em}</style></head>"
        f"<body><h1>{escape(title)}</h1><p>{escape(reason)}</p><footer>Daphne</footer></body></html>"
    ).encode()


def error_response(
    context: ServerContext, http_version: str, status: int, reason: str, extra_headers: bytes = b""
) -> tuple[bytes, int]:
    """A whole error response the server answers itself (then closes).

    :returns: the bytes to write and the length of the page in them.
    """
    page = error_page(status, reason)
    head = b"%sContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\nDate: %s\r\n" % (
        status_line(http_version, status),
        len(page),
        context.date_header(),
    )
    if context.server_name_bytes:
        head += b"Server: %s\r\n" % context.server_name_bytes
    return head + extra_headers + b"Connection: close\r\n\r\n" + page, len(page)


class WebRequest:
    """One HTTP/1.x request: scope, application instance and response writer.

    Keeps Daphne's class name.  Implements
    :class:`~daphne._http_cycle.ResponseWriter` for HTTP/1.x framing.

    :ivar channel: the connection the request arrived on.
    :ivar client_addr: ``[host, port]`` of the client (after proxy headers), or None.
    :ivar server_addr: ``[host, port]`` of the local end, or None.
    :ivar application_queue: the :class:`ApplicationInstance` (Daphne's name), or None.
    """

    def __init__(self, channel: Any, *args: Any, **kwargs: Any) -> None:
        self.channel = channel
        self.client_addr: list[Any] | None = None
        self.server_addr: list[Any] | None = None
        self.application_queue: ApplicationInstance | None = None
        self.cycle = HTTPResponseCycle(self)
        self.head: Any = None
        self.context: ServerContext | None = None
        self.started_at = 0.0
        self.body_done = False
        self.response_done = False
        self.keep_alive = False
        self.bytes_sent = 0
        self.head_written = False
        self.response_headers: list[tuple[bytes, bytes]] | tuple[()] = ()
        self.framing: str = "none"  # "length", "chunked", "close", "none"
        self.length_left = 0
        self.suppress_body = False
        self._timeout_call: Any = None
        self._queued_body = 0
        self._continue_pending = False

    # -- request side ----------------------------------------------------------

    def begin(self, head: Any, context: ServerContext, facts_kwargs: dict[str, Any]) -> None:
        """Build the scope and start the application for a parsed head."""
        self.head = head
        self.context = context
        self.keep_alive = head.keep_alive
        self.suppress_body = head.method == "HEAD"
        self.started_at = context.clock.seconds()
        facts = RequestFacts.from_head(head, facts_kwargs)
        scope = build_http_scope(
            facts, context.config, context.lifespan_state, self.channel.http_extensions(head)
        )
        self.cycle.extensions = frozenset(scope["extensions"])
        self.client_addr = scope["client"]
        self.server_addr = scope["server"]
        self._continue_pending = head.expect_continue
        instance = ApplicationInstance(
            scope,
            self.handle_reply,
            self._app_exited,
            context.clock,
            context.config.application_close_timeout,
            context.registry,
            on_receive=self._message_received,
            on_first_receive=self._send_continue if head.expect_continue else None,
        )
        self.application_queue = instance
        try:
            instance.start(context.application, context.loop)
        except Exception:
            # The app could not even be called (not an ASGI callable...).
            logger.exception("Exception when calling application")
            self.application_queue = None
            self.cycle.state = CycleState.ABORTED
            self.basic_error(500, b"Internal Server Error", "Exception inside application.")

    def feed_body(self, data: bytes, more_body: bool) -> None:
        """Queue body bytes for the app in ``request_buffer_size`` pieces."""
        instance = self.application_queue
        if instance is None or instance.closed:
            return
        size = self.context.config.request_buffer_size  # type: ignore[union-attr]
        if len(data) <= size:
            instance.put({"type": "http.request", "body": data, "more_body": more_body})
        else:
            last = len(data) - size
            for offset in range(0, len(data), size):
                instance.put(
                    {
                        "type": "http.request",
                        "body": data[offset : offset + size],
                        "more_body": more_body or offset < last,
                    }
                )
        self._queued_body += len(data)
        if not more_body:
            self.body_done = True
            self._continue_pending = False
            self._arm_timeout()
        if self._queued_body > self.context.config.read_high_water:  # type: ignore[union-attr]
            self.channel.pause_reading()

    def _message_received(self, message: dict[str, Any]) -> None:
        body = message.get("body")
        if body:
            self._queued_body -= len(body)
            if self._queued_body <= self.context.config.read_high_water // 2:  # type: ignore[union-attr]
                self.channel.resume_reading()

    def _send_continue(self) -> None:
        # RFC 9110 §10.1.1: answer "Expect: 100-continue" only once the app
        # actually wants the body, and never after a final response began.
        if self._continue_pending and not self.cycle.started and not self.body_done:
            self._continue_pending = False
            self.channel.write(b"HTTP/1.1 100 Continue\r\n\r\n", flush=True)

    def _arm_timeout(self) -> None:
        timeout = self.context.config.http_timeout  # type: ignore[union-attr]
        if timeout is not None and self._timeout_call is None and not self.response_done:
            self._timeout_call = self.context.clock.callLater(timeout, self._timed_out)  # type: ignore[union-attr]

    def _timed_out(self) -> None:
        self._timeout_call = None
        if self.response_done:
            return
        if not self.head_written:
            self.cycle.state = CycleState.ABORTED
            self.basic_error(
                503, b"Service Unavailable", "Application failed to respond within time limit."
            )
        else:
            logger.warning("Application timed out while sending response")
            self.cycle.state = CycleState.ABORTED
            self._abort()

    # -- ASGI side ---------------------------------------------------------------

    def handle_reply(self, message: dict[str, Any]) -> Awaitable[None] | None:
        """The app's ``send``: validate through the cycle, then write."""
        return self.cycle.handle(message)

    def _app_exited(self, exception: BaseException | None) -> None:
        state = self.cycle.state
        if state is CycleState.AWAITING_START or (
            state is CycleState.STREAMING and not self.head_written
        ):
            if not self.response_done and not self.channel.disconnected:
                if exception is None:
                    logger.error(
                        "Application returned without sending a response for %s", self.head.method
                    )
                self.cycle.state = CycleState.ABORTED
                self.basic_error(500, b"Internal Server Error", "Exception inside application.")
        elif (
            state is CycleState.STREAMING
            and not self.response_done
            and not self.channel.disconnected
        ):
            logger.error("Application ended before finishing its response; aborting the connection")
            self.cycle.state = CycleState.ABORTED
            self._abort()
        self.application_queue = None
        # The cycle points back at us; break the loop so a finished request is
        # freed by reference counting, not left for the cyclic collector.
        self.cycle.detach()

    # -- ResponseWriter --------------------------------------------------------

    def write_head(
        self, status: int, headers: list[tuple[bytes, bytes]], body: bytes, more_body: bool
    ) -> Awaitable[None] | None:
        """Write the status line and headers, plus the first body bytes."""
        context = self.context
        head = self.head
        version = head.http_version
        parts = [status_line(version, status)]
        content_length = None
        has_server = has_date = False
        for name, value in headers:
            if _HEADER_NAME_RE.fullmatch(name) is None or _BAD_RESPONSE_VALUE_RE.search(value):
                self.cycle.state = CycleState.ABORTED
                self.fail_response(False)
                raise ValueError(f"Invalid response header {name!r}: {value!r}")
            lower = name.lower()
            if lower == b"content-length":
                try:
                    content_length = int(value)
                except ValueError:
                    content_length = None
            elif lower == b"transfer-encoding":
                continue  # framing is the server's job
            elif lower == b"server":
                has_server = True
            elif lower == b"date":
                has_date = True
            elif lower == b"connection" and b"close" in value.lower():
                self.keep_alive = False
            parts.append(b"%s: %s\r\n" % (name, value))
        if not has_date:
            parts.append(b"Date: %s\r\n" % context.date_header())
        if not has_server and context.server_name_bytes:
            parts.append(b"Server: %s\r\n" % context.server_name_bytes)
        if status < 200 or status in _NO_BODY_STATUSES:
            self.suppress_body = True
        if content_length is not None:
            self.framing = "length"
            self.length_left = content_length
        elif self.suppress_body:
            self.framing = "none"
        elif version == "1.1":
            self.framing = "chunked"
            parts.append(b"Transfer-Encoding: chunked\r\n")
        else:
            self.framing = "close"
            self.keep_alive = False
        if not self.keep_alive:
            parts.append(b"Connection: close\r\n")
        elif version == "1.0":
            parts.append(b"Connection: keep-alive\r\n")
        parts.append(b"\r\n")
        self._status = status
        self.response_headers = headers
        self.head_written = True
        self._cancel_timeout_if_done(more_body)
        return self._write_framed(b"".join(parts), body, more_body)

    def write_body(self, body: bytes, more_body: bool) -> Awaitable[None] | None:
        """Write more body bytes; ``more_body`` false ends the response."""
        self._cancel_timeout_if_done(more_body)
        return self._write_framed(b"", body, more_body)

    def _cancel_timeout_if_done(self, more_body: bool) -> None:
        if not more_body and self._timeout_call is not None:
            if self._timeout_call.active():
                self._timeout_call.cancel()
            self._timeout_call = None

    def _write_framed(self, prefix: bytes, body: bytes, more_body: bool) -> Awaitable[None] | None:
        if self.suppress_body:
            body = b""
        framing = self.framing
        if framing == "chunked":
            if body:
                data = b"%s%x\r\n%s\r\n" % (prefix, len(body), body)
            else:
                data = prefix
            if not more_body:
                data += b"0\r\n\r\n"
        elif framing == "length":
            if len(body) > self.length_left:
                logger.warning("Application sent more body than its Content-Length; truncating")
                body = body[: self.length_left]
            self.length_left -= len(body)
            data = prefix + body if prefix else body
            if not more_body and self.length_left:
                # Fewer bytes than promised: the client must see a short read,
                # never a response that looks complete.
                self.keep_alive = False
        else:
            data = prefix + body if prefix else body
        self.bytes_sent += len(body)
        channel = self.channel
        if data:
            # The last write goes out at once, unless the app still has input queued: it
            # takes that before it next yields, so the write waits for the loop, and the
            # client sees the response only after the app saw what was queued (as Daphne).
            instance = self.application_queue
            channel.write(data, not more_body and (instance is None or not instance.pending))
        if not more_body:
            self._finish()
            return None
        return channel.drained()

    # -- extensions ------------------------------------------------------------

    def write_early_hint(self, links: list[bytes]) -> None:
        """``103 Early Hints`` with one ``Link`` per entry (HTTP/1.1 only, before the head)."""
        if self.head_written or self.response_done or self.channel.disconnected:
            return
        lines = [
            b"Link: %s\r\n" % link for link in links if not _BAD_RESPONSE_VALUE_RE.search(link)
        ]
        if lines:
            self.channel.write(b"HTTP/1.1 103 Early Hints\r\n%s\r\n" % b"".join(lines), True)

    def write_trailers(self, headers: list[tuple[bytes, bytes]]) -> Awaitable[None] | None:
        """End a chunked response with trailer fields (other framings: just end it)."""
        if self.framing != "chunked" or self.suppress_body:
            return self._write_framed(b"", b"", False)
        lines = []
        for name, value in headers:
            if _HEADER_NAME_RE.fullmatch(name) is None or _BAD_RESPONSE_VALUE_RE.search(value):
                self.cycle.state = CycleState.ABORTED
                self._abort()
                raise ValueError(f"Invalid trailer {name!r}: {value!r}")
            lines.append(b"%s: %s\r\n" % (name, value))
        self._cancel_timeout_if_done(False)
        self.channel.write(b"0\r\n%s\r\n" % b"".join(lines), True)
        self._finish()
        return None

    def write_file(self, fd: int, offset: int, count: int, more_body: bool) -> Awaitable[None]:
        """Send part of a file as body (``os.sendfile`` on plain sockets)."""
        self._cancel_timeout_if_done(more_body)
        if self.suppress_body:
            count = 0
        prefix = suffix = b""
        if self.framing == "chunked":
            if count:
                prefix, suffix = b"%x\r\n" % count, b"\r\n"
            if not more_body:
                suffix += b"0\r\n\r\n"
        elif self.framing == "length":
            if count > self.length_left:
                logger.warning("Application sent more body than its Content-Length; truncating")
                count = self.length_left
            self.length_left -= count
            if not more_body and self.length_left:
                self.keep_alive = False
        self.bytes_sent += count
        return self._send_file(prefix, fd, offset, count, suffix, more_body)

    async def _send_file(
        self, prefix: bytes, fd: int, offset: int, count: int, suffix: bytes, more_body: bool
    ) -> None:
        if await self.channel.send_file(prefix, fd, offset, count, suffix):
            if not more_body:
                self._finish()
            else:
                waiter = self.channel.drained()
                if waiter is not None:
                    await waiter

    def _finish(self) -> None:
        self.response_done = True
        context = self.context
        head = self.head
        if context.action_logger is not None:
            target = head.path + (b"?" + head.query_string if head.query_string else b"")
            client = self.client_addr
            context.log_action(
                "http",
                "complete",
                {
                    "path": target.decode("ascii", "replace"),
                    "status": self._status,
                    "method": head.method,
                    "client": f"{client[0]}:{client[1]}" if client else None,
                    "time_taken": context.clock.seconds() - self.started_at,
                    "size": self.bytes_sent,
                    # For --access-log-format / --log-json (daphne.access).
                    "http_version": head.http_version,
                    "request_headers": head.headers,
                    "response_headers": self.response_headers,
                },
            )
        instance = self.application_queue
        if instance is not None:
            instance.close(_DISCONNECT)
        self.channel.response_finished(self)

    def fail_response(self, started: bool) -> None:
        """The app misbehaved: 500 if nothing was written yet, else abort.

        Done on the next loop iteration, so that the app sees the error raised
        from its ``send`` (and can record it) before the client sees the 500.
        """
        if self.response_done:
            return
        self.response_done = True
        self.context.loop.call_soon(self._fail_now, started or self.head_written)

    def _fail_now(self, started: bool) -> None:
        self.response_done = False
        if started:
            self._abort()
        else:
            self.basic_error(500, b"Internal Server Error", "Server Error")

    def basic_error(self, status: int, status_text: bytes, body: str | bytes) -> None:
        """Answer with a small HTML error page (Daphne's public method name)."""
        if self.response_done or self.channel.disconnected:
            return
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        version = self.head.http_version if self.head else "1.1"
        data, page_length = error_response(self.context, version, status, body)
        self.keep_alive = False
        self._status = status
        self.head_written = True
        self.bytes_sent = page_length
        self._cancel_timeout_if_done(False)
        self.channel.write(data, True)
        self._finish()

    def _abort(self) -> None:
        self.response_done = True
        instance = self.application_queue
        if instance is not None:
            instance.close(_DISCONNECT)
        self.channel.abort()

    def connection_lost(self) -> None:
        """The client went away: tell the app, stop timers."""
        if self._timeout_call is not None:
            if self._timeout_call.active():
                self._timeout_call.cancel()
            self._timeout_call = None
        instance = self.application_queue
        if instance is not None:
            instance.close(_DISCONNECT)


@implementer(IProtocolNegotiationFactory)
class HTTPFactory(ServerFactory):
    """Builds one protocol per connection on every endpoint of a server.

    :ivar server: the :class:`daphne.server.Server` (kept for compatibility).
    :ivar context: the :class:`ServerContext` handed to every connection.
    """

    def __init__(self, server: Any, context: ServerContext | None = None) -> None:
        from ._http1 import HTTP1Connection

        self.server = server
        self.context = context
        self.protocol = HTTP1Connection
        #: Open connections (for a graceful shutdown).
        self.connections: set[Any] = set()

    def buildProtocol(self, addr: Any) -> Any:
        protocol = self.protocol(self.context)
        protocol.factory = self
        return protocol

    def acceptableProtocols(self) -> list[bytes]:
        """ALPN protocols offered on TLS endpoints."""
        return [b"h2", b"http/1.1"]

    def log_action(self, protocol: str, action: str, details: dict[str, Any]) -> None:
        """Daphne compatibility: forward to the server's action logger."""
        if self.context is not None:
            self.context.log_action(protocol, action, details)
