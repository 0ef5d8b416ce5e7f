"""The typed interfaces between the ASGI layer and what drives it or carries it.

The ASGI layer (this package) makes every ASGI decision; the wire layer
(:mod:`daphne._wire`) only turns them into bytes and frames.  Each point where
one calls the other is a :class:`typing.Protocol` here, so that ``mypy`` checks
both sides against one description:

* :class:`HTTPWire`: what an :class:`~daphne._asgi.http_stream.HTTPStream`
  writes its response through (HTTP/1.x ``WebRequest``, HTTP/2 ``H2Stream``).
  ASGI extensions that not every wire supports are one small protocol each
  (:class:`FileWire`, :class:`TrailersWire`, :class:`EarlyHintsWire`,
  :class:`PushWire`), checked with ``isinstance`` where the stream uses them;
  the stream only gets such a call when the scope advertised the extension.
* :class:`ResponseWriter` and :class:`ResponseExtensions`: what an
  :class:`~daphne._asgi.http_cycle.HTTPResponseCycle` drives (the request's
  ``HTTPStream``; unit tests drive it with small recorders).
* :class:`WebSocketWriter`: what a :class:`~daphne._asgi.ws_cycle.WebSocketCycle`
  drives (the ``WebSocketStream``).
* :class:`WebSocketChannel`: the transport-like object a ``WebSocketStream``
  writes frames to (the HTTP/1.1 connection after the upgrade, or one HTTP/2
  extended-CONNECT stream).
* :class:`ParsedHead`: what the ASGI layer reads from a parsed request head
  (HTTP/1.x ``RequestHead``, HTTP/2 ``ConnectHead``).

The clock and the application are typed in :mod:`daphne._types` (``Clock``,
``Timer``, ``KeywordASGIApp``): every layer shares those.  Covered by
``mypy`` (``setup.cfg``) and, at run time, by the tests of the streams
(``tests/unit/test_http1.py``, ``tests/unit/test_ws_protocol.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Protocol, runtime_checkable

from .._types import Headers

__all__ = [
    "EarlyHintsWire",
    "FileWire",
    "HTTPWire",
    "ParsedHead",
    "PushWire",
    "ResponseExtensions",
    "ResponseWriter",
    "TrailersWire",
    "WebSocketChannel",
    "WebSocketWriter",
]


# -- a parsed request head (wire -> ASGI) ------------------------------------------------


class ParsedHead(Protocol):
    """The request facts the ASGI layer reads from a parsed head (see ``RequestFacts``)."""

    @property
    def method(self) -> str:
        """The request method, as sent (``CONNECT`` for HTTP/2 WebSockets)."""

    @property
    def path(self) -> bytes:
        """The request-target path, undecoded (no query)."""

    @property
    def query_string(self) -> bytes:
        """The bytes after the first ``?`` (``b""`` if none)."""

    @property
    def http_version(self) -> str:
        """``"1.0"``, ``"1.1"`` or ``"2"``."""

    @property
    def headers(self) -> Headers:
        """``(lower-cased name, value)`` pairs in arrival order."""


# -- HTTP: the stream writes through a wire ------------------------------------------------


class HTTPWire(Protocol):
    """What a protocol implements to carry one stream's response.

    The wire calls back :meth:`HTTPStream.response_sent` once the last byte of
    the response was handed to the connection, and :meth:`HTTPStream.receive_body`
    / :meth:`HTTPStream.connection_lost` as the client's side progresses.
    """

    def send_head(
        self, status: int, headers: Headers, body: bytes, end: bool, bodyless: bool, close: bool
    ) -> Awaitable[None] | None:
        """Send the status and (checked, defaulted) headers, plus the first body bytes.

        ``bodyless``: the response has no body whatever its headers say;
        ``close``: the connection should not be reused (HTTP/1.x).  May return
        an awaitable that completes once the client has drained enough.
        """

    def send_body(self, body: bytes, end: bool) -> Awaitable[None] | None:
        """Send body bytes; ``end`` finishes the response.  May return a drain waiter."""

    def abort(self) -> None:
        """The response cannot be completed: reset the stream or drop the connection."""

    def pause_reading(self) -> None:
        """Stop taking request body from the client."""

    def resume_reading(self) -> None:
        """Take request body again."""


@runtime_checkable
class FileWire(Protocol):
    """A wire that sends file contents as body (``http.response.pathsend``/``zerocopysend``)."""

    def send_file(self, fd: int, offset: int, count: int, end: bool) -> Awaitable[None]:
        """Send ``count`` bytes of ``fd`` from ``offset``; ``end`` finishes the response."""


@runtime_checkable
class TrailersWire(Protocol):
    """A wire that ends a response with trailer fields (``http.response.trailers``)."""

    def send_trailers(self, headers: Headers) -> Awaitable[None] | None:
        """Send the (checked) trailer fields and finish the response."""


@runtime_checkable
class EarlyHintsWire(Protocol):
    """A wire that sends ``103 Early Hints`` (``http.response.early_hint``)."""

    def send_early_hint(self, links: list[bytes]) -> None:
        """Send a ``103`` with one ``Link`` field per entry (before the final head)."""


@runtime_checkable
class PushWire(Protocol):
    """A wire that can push a response (HTTP/2 server push, ``http.response.push``)."""

    def push(self, path: str, headers: Headers) -> None:
        """Promise ``path`` with the (checked) request ``headers`` and serve it."""


# -- HTTP: the response cycle drives a writer ------------------------------------------------


class ResponseWriter(Protocol):
    """What an ``HTTPResponseCycle`` writes a response through."""

    def write_head(
        self, status: int, headers: Headers, body: bytes, more_body: bool
    ) -> Awaitable[None] | None:
        """Send the status line, headers and first body bytes."""

    def write_body(self, body: bytes, more_body: bool) -> Awaitable[None] | None:
        """Send more body bytes; ``more_body`` false ends the response.

        May return an awaitable that completes when the client has drained
        enough of what was written (write backpressure).
        """

    def fail_response(self, started: bool) -> None:
        """The app misbehaved: send a 500 if nothing was sent, else abort."""


@runtime_checkable
class ResponseExtensions(Protocol):
    """The extension messages' side of a :class:`ResponseWriter`.

    The cycle calls these only for extensions the scope advertises, and checks
    with ``isinstance`` that its writer has them.
    """

    def write_early_hint(self, links: list[bytes]) -> None:
        """``http.response.early_hint``: hint ``Link`` values before the head."""

    def push(self, path: str, headers: Headers) -> None:
        """``http.response.push``: push a resource (ignored where push is off)."""

    def write_trailers(self, headers: Headers) -> Awaitable[None] | None:
        """``http.response.trailers``: the trailer fields that end the response."""

    def write_file(
        self, fd: int, offset: int, count: int, more_body: bool
    ) -> Awaitable[None] | None:
        """``http.response.pathsend``/``zerocopysend``: ``count`` bytes of ``fd`` as body."""


# -- WebSocket ----------------------------------------------------------------------------------


class WebSocketWriter(Protocol):
    """What a ``WebSocketCycle`` drives: the handshake answer, then messages."""

    def accept(self, subprotocol: str | None, headers: Headers) -> None:
        """Answer the handshake (101, or 200 over HTTP/2) and start framing."""

    def reject(self) -> None:
        """Refuse the handshake with 403."""

    def deny_start(self, status: int, headers: Headers) -> None:
        """Begin an HTTP response instead of the handshake (Denial Response extension)."""

    def deny_body(self, body: bytes, more_body: bool) -> Awaitable[None] | None:
        """Send denial-response body; ``more_body`` false ends it."""

    def send_message(self, data: str | bytes) -> Awaitable[None] | None:
        """Send a text (``str``) or binary (``bytes``) message; may return a drain waiter."""

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake."""

    def fail_handshake(self) -> None:
        """The app's answer to the handshake was invalid: answer 500."""


class WebSocketChannel(Protocol):
    """The transport-like object a ``WebSocketStream`` runs on.

    :ivar disconnected: whether the underlying connection or stream is gone.
    """

    disconnected: bool

    def write(self, data: bytes, flush: bool = False) -> None:
        """Queue bytes for the client; ``flush`` sends them without waiting for the loop."""

    def drained(self) -> Awaitable[None] | None:
        """A waiter while more than the write high-water mark is queued, else None.

        Both channels return an :class:`asyncio.Future`, which the stream may
        add a done-callback to.
        """

    def pause_reading(self) -> None:
        """Stop reading from the client (the socket, or HTTP/2 stream credit)."""

    def resume_reading(self) -> None:
        """Read from the client again."""

    def close(self) -> None:
        """Close once what is queued went out (FIN, or END_STREAM)."""

    def abort(self) -> None:
        """Drop the connection (or reset the stream) at once."""

    def tls_info(self) -> Mapping[str, object] | None:
        """The ASGI ``tls`` extension's values, or None when not over TLS."""
