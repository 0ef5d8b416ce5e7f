"""The HTTP/1.x wire of one request: ``WebRequest`` (Daphne's class name).

It frames what the request's :class:`~daphne._asgi.http_stream.HTTPStream` decided
(status line, ``Content-Length`` or chunked framing, ``Connection``,
``100 Continue``, ``103 Early Hints``, trailers, ``sendfile``) and makes no
ASGI decision of its own.  The connection (:class:`daphne._wire.http1.HTTP1Connection`)
parses bytes, owns the transport and creates one ``WebRequest`` per request.

Covered by ``tests/unit/test_http1.py`` and ``tests/integration/test_protocol_matrix.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from .._asgi.http_stream import HTTPStream
from .._asgi.responses import error_headers, error_page, status_line
from .._asgi.scope import Address, RequestFacts, build_http_scope

if TYPE_CHECKING:
    from .._asgi.application import ApplicationInstance
    from .._context import ConnectionFacts, ServerContext
    from .http1 import HTTP1Connection
    from .http1_parser import RequestHead

logger = logging.getLogger("daphne.http_protocol")

#: A body at least this long is written beside its head (and chunk framing), not joined to it.
_SEPARATE_BODY = 4096

__all__ = ["WebRequest", "error_response"]


def error_response(
    context: ServerContext, http_version: str, status: int, reason: str, extra_headers: bytes = b""
) -> tuple[bytes, int]:
    """A whole HTTP/1.x error response the server answers itself (then closes).

    For requests refused before they have a stream (a malformed head, 408, 414,
    431); a stream's own errors go through :meth:`HTTPStream.error`.

    :returns: the bytes to write and the length of the page in them.
    """
    page = error_page(status, reason)
    head = [status_line(http_version, status)]
    head += [b"%s: %s\r\n" % field for field in error_headers(page)]
    head.append(b"Date: %s\r\n" % context.date_header())
    if context.server_name_bytes:
        head.append(b"Server: %s\r\n" % context.server_name_bytes)
    return b"".join(head) + extra_headers + b"Connection: close\r\n\r\n" + page, len(page)


def _extensions(channel: HTTP1Connection, head: RequestHead) -> dict[str, dict[str, object]]:
    """The ``extensions`` of an HTTP/1.x request's scope: what works on its connection."""
    extensions: dict[str, dict[str, object]] = {"http.response.pathsend": {}}
    if channel.zero_copy:
        extensions["http.response.zerocopysend"] = {}
    if head.http_version == "1.1":
        extensions["http.response.early_hint"] = {}
        for name, value in head.headers:
            if name == b"te" and b"trailers" in value.lower():
                extensions["http.response.trailers"] = {}
    tls = channel.tls_info()
    if tls is not None:
        extensions["tls"] = dict(tls)
    return extensions


class WebRequest:
    """One HTTP/1.x request's wire (see the module); implements ``HTTPWire``.

    :ivar channel: the connection the request arrived on.
    :ivar stream: the request's :class:`HTTPStream`, once :meth:`begin` ran.
    :ivar keep_alive: whether the connection may serve another request after this one.
    :ivar response_done: the response went out whole, or was aborted.
    """

    def __init__(self, channel: HTTP1Connection, *args: object, **kwargs: object) -> None:
        # ``*args``/``**kwargs``: Daphne's signature (Twisted's ``Request``); unused.
        self.channel = channel
        self.stream: HTTPStream | None = None
        self.head: RequestHead | None = None
        self._version = "1.1"
        self.keep_alive = False
        self.response_done = False
        self.framing: str = "none"  # "length", "chunked", "close", "none"
        self.length_left = 0
        self._continue_pending = False

    # -- Daphne's attributes ----------------------------------------------------

    @property
    def client_addr(self) -> Address:
        """``[host, port]`` of the client (after proxy headers), or None."""
        return self.stream.scope["client"] if self.stream is not None else None

    @property
    def server_addr(self) -> Address:
        """``[host, port]`` of the local end, or None."""
        return self.stream.scope["server"] if self.stream is not None else None

    @property
    def application_queue(self) -> ApplicationInstance | None:
        """The running application instance (Daphne's name), or None."""
        return self.stream.instance if self.stream is not None else None

    @property
    def head_written(self) -> bool:
        return self.stream is not None and self.stream.head_written

    def basic_error(self, status: int, status_text: bytes, body: str | bytes) -> None:
        """Answer with a small HTML error page (Daphne's public method name)."""
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        if self.stream is not None:
            self.stream.error(status, body)

    # -- request side (from the connection) ---------------------------------------

    def begin(self, head: RequestHead, context: ServerContext, connection: ConnectionFacts) -> None:
        """Build the scope and start the request's stream for a parsed head."""
        self.head = head
        self._version = head.http_version
        self.keep_alive = head.keep_alive
        facts = RequestFacts(
            method=head.method,
            path=head.path,
            query_string=head.query_string,
            http_version=head.http_version,
            headers=head.headers,
            **connection,
        )
        scope = build_http_scope(
            facts, context.config, context.lifespan_state, _extensions(self.channel, head)
        )
        self._continue_pending = head.expect_continue
        self.stream = HTTPStream(
            context,
            self,
            scope,
            head.content_length,
            on_first_receive=self._send_continue if head.expect_continue else None,
        )
        self.stream.start()
        if (head.chunked or head.content_length) and not head.expect_continue:
            self.stream.await_body()

    def feed_body(self, data: bytes, more_body: bool) -> None:
        """Body bytes from the parser; ``more_body`` false once the body is complete."""
        if not more_body:
            self._continue_pending = False
        stream = self.stream
        if stream is not None:
            stream.receive_body(data, not more_body)

    def connection_lost(self) -> None:
        """The client went away."""
        self.response_done = True
        if self.stream is not None:
            self.stream.connection_lost()

    def _send_continue(self) -> None:
        # RFC 9110 §10.1.1: answer "Expect: 100-continue" only once the app
        # actually wants the body, and never after a final response began.
        if self._continue_pending and not self.head_written:
            self._continue_pending = False
            self.channel.write(b"HTTP/1.1 100 Continue\r\n\r\n", flush=True)
            if self.stream is not None:
                self.stream.await_body()

    # -- HTTPWire --------------------------------------------------------------------

    def pause_reading(self) -> None:
        self.channel.pause_reading()

    def resume_reading(self) -> None:
        self.channel.resume_reading()

    def send_head(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        end: bool,
        bodyless: bool,
        close: bool,
    ) -> Awaitable[None] | None:
        """Write the status line and headers, plus the first body bytes."""
        version = self._version
        parts = [status_line(version, status)]
        content_length = None
        for name, value in headers:
            lower = name.lower()
            if lower == b"content-length":
                try:
                    content_length = int(value)
                except ValueError:
                    content_length = None
            elif lower == b"transfer-encoding":
                continue  # framing is the server's job
            elif lower == b"connection" and b"close" in value.lower():
                self.keep_alive = False
            parts.append(b"%s: %s\r\n" % (name, value))
        if close:
            self.keep_alive = False
        if bodyless:
            self.framing = "none"
        elif content_length is not None:
            self.framing = "length"
            self.length_left = content_length
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
        return self._write_framed(b"".join(parts), body, end)

    def send_body(self, body: bytes, end: bool) -> Awaitable[None] | None:
        """Write more body bytes; ``end`` finishes the response."""
        return self._write_framed(b"", body, end)

    def _write_framed(self, prefix: bytes, body: bytes, end: bool) -> Awaitable[None] | None:
        if self.response_done:
            return None
        framing = self.framing
        # A large body goes out as parts beside its head and framing (see
        # SocketOutput.write_parts): not copied once more into one bytes object.
        parts: list[bytes] | None = None
        if framing == "chunked":
            size = len(body)
            if size < _SEPARATE_BODY:
                data = b"%s%x\r\n%s\r\n" % (prefix, size, body) if size else prefix
                if end:
                    data += b"0\r\n\r\n"
            else:
                data = b"%s%x\r\n" % (prefix, size)
                parts = [data, body, b"\r\n0\r\n\r\n" if end else b"\r\n"]
        elif framing == "none":
            data = prefix
        else:
            if framing == "length":
                if len(body) > self.length_left:
                    logger.warning("Application sent more body than its Content-Length; truncating")
                    body = body[: self.length_left]
                self.length_left -= len(body)
                if end and self.length_left:
                    # Fewer bytes than promised: the client must see a short read,
                    # never a response that looks complete.
                    self.keep_alive = False
            if not prefix:
                data = body
            elif len(body) < _SEPARATE_BODY:
                data = prefix + body
            else:
                data = prefix
                parts = [prefix, body]
        channel = self.channel
        if data:
            # The last write goes out at once, unless the app still has input queued:
            # it takes that before it next yields, so the write waits for the loop, and
            # the client sees the response only after the app saw what was queued.
            stream = self.stream
            flush = end and stream is not None and not stream.input_pending
            if parts is None:
                channel.write(data, flush)
            else:
                channel.write_parts(parts, flush)
        if end:
            self._finish()
            return None
        return channel.drained()

    def send_early_hint(self, links: list[bytes]) -> None:
        """``103 Early Hints`` with one ``Link`` per entry (HTTP/1.1 only, before the head)."""
        if self.response_done or self.channel.disconnected:
            return
        lines = b"".join(b"Link: %s\r\n" % link for link in links)
        self.channel.write(b"HTTP/1.1 103 Early Hints\r\n%s\r\n" % lines, True)

    def send_trailers(self, headers: list[tuple[bytes, bytes]]) -> Awaitable[None] | None:
        """End a chunked response with trailer fields (other framings: just end it)."""
        if self.framing != "chunked":
            return self._write_framed(b"", b"", True)
        if self.response_done:
            return None
        lines = b"".join(b"%s: %s\r\n" % field for field in headers)
        self.channel.write(b"0\r\n%s\r\n" % lines, True)
        self._finish()
        return None

    def send_file(self, fd: int, offset: int, count: int, end: bool) -> Awaitable[None]:
        """Send part of a file as body (``os.sendfile`` on plain sockets)."""
        prefix = suffix = b""
        if self.framing == "chunked":
            if count:
                prefix, suffix = b"%x\r\n" % count, b"\r\n"
            if end:
                suffix += b"0\r\n\r\n"
        elif self.framing == "length":
            if count > self.length_left:
                logger.warning("Application sent more body than its Content-Length; truncating")
                count = self.length_left
            self.length_left -= count
            if end and self.length_left:
                self.keep_alive = False
        elif self.framing == "none":
            count = 0
        return self._send_file(prefix, fd, offset, count, suffix, end)

    async def _send_file(
        self, prefix: bytes, fd: int, offset: int, count: int, suffix: bytes, end: bool
    ) -> None:
        if await self.channel.send_file(prefix, fd, offset, count, suffix):
            if end:
                self._finish()
            else:
                waiter = self.channel.drained()
                if waiter is not None:
                    await waiter

    def abort(self) -> None:
        """Drop the connection at once (the response cannot be completed)."""
        self.response_done = True
        self.channel.abort()

    def _finish(self) -> None:
        self.response_done = True
        if self.stream is not None:
            self.stream.response_sent()
        self.channel.response_finished(self)
