"""The WebSocket opening handshake (RFC 6455 §4): checking the request, answering it.

:func:`handshake_problem` says why an HTTP/1.1 ``Upgrade: websocket`` request
cannot become a WebSocket.  :class:`WebSocketHandshake` is the answering half
of :class:`~daphne._asgi.ws_stream.WebSocketStream` (one of its base classes):
what the app's ``websocket.accept``, ``websocket.close`` before accept and
denial response (``websocket.http.response.*``) become, the server's own
refusals (500 for an invalid answer, 403 when the app did not answer within
``websocket_accept_deadline``) and their HTTP/1.1 framing.  Over HTTP/2
(RFC 8441) :mod:`daphne._wire.h2_websocket` overrides only the four
``_write_*`` methods (``:status 200`` HEADERS instead of ``101``).

Every answer gets the ``Server``/``Date`` defaults and goes through the header
grammar (:mod:`daphne._asgi.headers`, checked by the cycle).

Covered by ``tests/unit/test_ws_protocol.py``, ``tests/integration/test_websocket_functional.py``
and ``tests/integration/test_h2_websocket.py``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .._errors import BadRequest
from .._types import Headers, Scope, Timer
from .headers import with_defaults
from .responses import error_headers, error_page, status_line
from .ws_cycle import WS_CONNECTING, WebSocketCycle

if TYPE_CHECKING:
    from .._config import ServerConfig
    from .._context import ServerContext
    from .._wire.http1_parser import RequestHead
    from .interfaces import ParsedHead, WebSocketChannel
    from .ws_deflate import Deflate
    from .ws_engine import WebSocketEngine

logger = logging.getLogger("daphne.ws_protocol")

__all__ = ["WebSocketHandshake", "handshake_problem", "header_values"]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def header_values(headers: Headers, name: bytes) -> list[bytes]:
    """Every value of the (lower-cased) field ``name``, in order."""
    return [value for key, value in headers if key == name]


def handshake_problem(head: RequestHead) -> BadRequest | None:
    """Why an ``Upgrade: websocket`` request cannot be accepted, or None (RFC 6455 §4.2.1)."""
    if head.method != "GET" or head.http_version != "1.1":
        return BadRequest("WebSocket upgrades need a GET request over HTTP/1.1")
    connection = b",".join(header_values(head.headers, b"connection")).lower()
    if b"upgrade" not in [token.strip() for token in connection.split(b",")]:
        return BadRequest("WebSocket upgrade without 'Connection: Upgrade'")
    versions = header_values(head.headers, b"sec-websocket-version")
    if versions != [b"13"]:
        return BadRequest("Unsupported WebSocket version (only 13 is supported)", 426)
    keys = header_values(head.headers, b"sec-websocket-key")
    try:
        if len(keys) != 1 or len(base64.b64decode(keys[0], validate=True)) != 16:
            raise ValueError
    except (ValueError, binascii.Error):
        return BadRequest("Missing or invalid Sec-WebSocket-Key")
    if head.content_length or head.chunked:
        return BadRequest("WebSocket upgrade requests carry no body")
    return None


class WebSocketHandshake:
    """The answers to the opening handshake (see the module).

    The stream provides what is declared under ``TYPE_CHECKING`` below.
    """

    if TYPE_CHECKING:
        # Provided by WebSocketStream.
        channel: WebSocketChannel
        context: ServerContext
        config: ServerConfig
        head: ParsedHead
        scope: Scope
        cycle: WebSocketCycle
        engine: WebSocketEngine
        _deflate: Deflate | None
        _open: bool
        _finished: bool
        _timers: dict[str, Timer]

        def _set_timer(self, name: str, delay: float, callback: Callable[[], None]) -> None: ...

        def _cancel_timer(self, name: str) -> None: ...

        def _pump(self) -> None: ...

        def _finish(self, code: int, reason: str) -> None: ...

        def _log(self, action: str) -> None: ...

        def _lifetime_over(self) -> None: ...

        def _ping_check(self) -> None: ...

    # -- WebSocketWriter: the handshake's answers ---------------------------------------

    def accept(self, subprotocol: str | None, headers: Headers) -> None:
        """Answer the handshake (101, or 200 over HTTP/2) and start framing."""
        self._cancel_timer("connect")
        response: Headers = []
        if subprotocol is not None:
            response.append((b"Sec-WebSocket-Protocol", subprotocol.encode("latin-1")))
        if self._deflate is not None:
            response.append((b"Sec-WebSocket-Extensions", self._deflate.response_header()))
        response.extend(headers)
        context = self.context
        self._write_accept(
            with_defaults(response, context.date_header(), context.server_name_bytes)
        )
        self._open = True
        self._log("connected")
        if self.config.websocket_timeout >= 0:
            self._set_timer("lifetime", self.config.websocket_timeout, self._lifetime_over)
        if self.config.ping_interval > 0:
            self._set_timer("ping", self.config.ping_interval, self._ping_check)
        if self.engine.buffered:
            self._pump()

    def reject(self) -> None:
        """Refuse the handshake with 403 (``websocket.close`` before accept)."""
        self._cancel_timer("connect")
        self._log("rejected")
        self._http_error(403, "WebSocket connection refused by the application.")

    def deny_start(self, status: int, headers: Headers) -> None:
        """Begin an HTTP response instead of the handshake (Denial Response extension)."""
        self._cancel_timer("connect")
        self._log("rejected")
        context = self.context
        self._write_denial_head(
            status, with_defaults(headers, context.date_header(), context.server_name_bytes)
        )

    def deny_body(self, body: bytes, more_body: bool) -> Awaitable[None] | None:
        """Send denial-response body; the last one ends the connection."""
        waiter = self._write_denial_body(body, more_body)
        if not more_body:
            self._finish(1006, "")
            return None
        return waiter

    def fail_handshake(self) -> None:
        """The app's answer to the handshake was invalid: 500 on the next loop turn.

        Deferred so that the app sees the error raised from its ``send`` first.
        """
        self.context.loop.call_soon(self._fail_handshake_now)

    def _fail_handshake_now(self) -> None:
        if not self._finished:
            self._cancel_timer("connect")
            self._http_error(500, "Server Error")

    def _connect_timed_out(self) -> None:
        """``websocket_accept_deadline`` passed without an answer from the app: 403."""
        self._timers.pop("connect", None)
        if self.cycle.state is WS_CONNECTING:
            logger.warning("WebSocket handshake for %s timed out; rejecting", self.scope["path"])
            self.cycle.give_up()
            self.reject()

    def _http_error(self, status: int, reason: str) -> None:
        """End the connection with the server's own error page instead of the handshake."""
        self._finish(1006, "")
        self._write_http_error(status, reason)

    # -- the wire: HTTP/1.1 (a subclass answers extended CONNECT over HTTP/2) ---------

    def _write_accept(self, headers: Headers) -> None:
        key = header_values(self.head.headers, b"sec-websocket-key")[0]
        accept_key = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        parts = [
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
            b"Sec-WebSocket-Accept: %s\r\n" % accept_key,
        ]
        parts.extend(b"%s: %s\r\n" % (name, value) for name, value in headers)
        parts.append(b"\r\n")
        self.channel.write(b"".join(parts), flush=True)

    def _write_denial_head(self, status: int, headers: Headers) -> None:
        parts = [status_line("1.1", status)]
        parts.extend(b"%s: %s\r\n" % (name, value) for name, value in headers)
        parts.append(b"Connection: close\r\n\r\n")
        self.channel.write(b"".join(parts))

    def _write_denial_body(self, body: bytes, more_body: bool) -> Awaitable[None] | None:
        if body:
            self.channel.write(body, flush=not more_body)
        if not more_body:
            self.channel.close()
            return None
        return self.channel.drained()

    def _write_http_error(self, status: int, reason: str, extra: Headers | tuple[()] = ()) -> None:
        page = error_page(status, reason)
        headers = self._error_headers(page, extra)
        parts = [status_line("1.1", status)]
        parts.extend(b"%s: %s\r\n" % field for field in headers)
        parts.append(b"Connection: close\r\n\r\n")
        self.channel.write(b"".join(parts) + page, flush=True)
        self.channel.close()

    def _error_headers(self, page: bytes, extra: Headers | tuple[()]) -> Headers:
        """The fields of an error page the server answers a handshake with."""
        context = self.context
        return with_defaults(
            [*error_headers(page), *extra], context.date_header(), context.server_name_bytes
        )
