"""``WebSocketCycle``: the ASGI ``websocket.*`` state machine, library-neutral.

Theory of operation (states of :class:`WSState`):

* ``CONNECTING``: the app has been sent ``websocket.connect``; it may answer
  ``websocket.accept`` (→ ``OPEN``), ``websocket.close`` (→ ``CLOSED``, the
  handshake is refused with 403) or ``websocket.http.response.start`` (→
  ``DENYING``, the Denial Response extension).  ``websocket.send`` is an error.
* ``DENYING``: only ``websocket.http.response.body`` is valid; the last one
  (``more_body`` false) ends the response (→ ``CLOSED``).
* ``OPEN``: ``websocket.send`` sends a message; ``websocket.close`` starts the
  closing handshake (→ ``CLOSED`` from the app's point of view).
* ``CLOSED``: everything the app sends is ignored (the socket is gone or going).

An invalid ``websocket.accept`` or ``websocket.http.response.start`` (a bad
subprotocol, status or header) moves to ``CLOSED`` and tells the writer to
fail the handshake (a 500), besides raising into the app's ``send``.

Every invalid message raises :class:`ApplicationMessageError` into the app's
``send`` ("expected X, got Y").  Covered by ``tests/unit/test_ws_cycle.py`` and
``tests/unit/test_ws_protocol.py``.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from typing import Final

from .._errors import ApplicationMessageError
from .._types import Headers, Message
from .headers import check_response_headers
from .http_cycle import check_header_types
from .interfaces import WebSocketWriter
from .ws_frames import valid_close_code

__all__ = [
    "WS_CLOSED",
    "WS_CONNECTING",
    "WS_DENYING",
    "WS_OPEN",
    "WSState",
    "WebSocketCycle",
    "WebSocketWriter",
]


class WSState(enum.Enum):
    CONNECTING = "connecting"
    DENYING = "denying"
    OPEN = "open"
    CLOSED = "closed"


# The members as module globals, read per request or message (why: daphne/_wire/http1_state.py).
WS_CONNECTING: Final = WSState.CONNECTING
WS_DENYING: Final = WSState.DENYING
WS_OPEN: Final = WSState.OPEN
WS_CLOSED: Final = WSState.CLOSED


class _Detached:
    """The writer of a cycle whose connection is over: never called (every message is
    ignored then); it lets the stream go."""

    def accept(self, subprotocol: str | None, headers: Headers) -> None:
        return None

    def reject(self) -> None:
        return None

    def deny_start(self, status: int, headers: Headers) -> None:
        return None

    def deny_body(self, body: bytes, more_body: bool) -> Awaitable[None] | None:
        return None

    def send_message(self, data: str | bytes) -> Awaitable[None] | None:
        return None

    def close(self, code: int, reason: str) -> None:
        return None

    def fail_handshake(self) -> None:
        return None


_DETACHED = _Detached()


class WebSocketCycle:
    """Validates the app's WebSocket messages and drives a :class:`WebSocketWriter`."""

    __slots__ = ("_offered", "_writer", "state")

    def __init__(self, writer: WebSocketWriter, offered_subprotocols: list[str]) -> None:
        self._writer = writer
        self._offered = offered_subprotocols
        self.state = WS_CONNECTING

    def give_up(self) -> None:
        """The server ended the handshake itself (a timeout): ignore whatever comes next."""
        self.state = WS_CLOSED

    def detach(self) -> None:
        """The connection is over: ignore whatever comes next."""
        self.state = WS_CLOSED
        self._writer = _DETACHED

    def handle(self, message: Message) -> Awaitable[None] | None:
        state = self.state
        try:
            kind = message["type"]
        except (KeyError, TypeError):
            if state is WS_CLOSED:
                return None  # CLOSED ignores everything the app sends
            raise ApplicationMessageError("Message has no type defined") from None
        if state is WS_OPEN and kind == "websocket.send":
            return self._writer.send_message(self._payload(message))
        if state is WS_CLOSED:
            return None
        if kind == "websocket.accept" and state is WS_CONNECTING:
            self._answer(self._accept, message)
            return None
        if kind == "websocket.close" and state in (WS_CONNECTING, WS_OPEN):
            self._close(message)
            return None
        if kind == "websocket.http.response.start" and state is WS_CONNECTING:
            self._answer(self._deny, message)
            return None
        if kind == "websocket.http.response.body" and state is WS_DENYING:
            body = message.get("body", b"")
            if not isinstance(body, (bytes, bytearray, memoryview)):
                raise ApplicationMessageError(
                    f"expected 'body' to be bytes, got {type(body).__name__}"
                )
            more_body = bool(message.get("more_body", False))
            if not more_body:
                self.state = WS_CLOSED
            return self._writer.deny_body(bytes(body), more_body)
        if kind == "websocket.send" and state is WS_CONNECTING:
            raise ApplicationMessageError(
                "Socket has not been accepted, so cannot send over it: expected "
                "'websocket.accept', 'websocket.close' or 'websocket.http.response.start', "
                "got 'websocket.send'"
            )
        raise ApplicationMessageError(f"expected {self._expected()}, got {kind!r}")

    def _answer(self, method: Callable[[Message], None], message: Message) -> None:
        """Run ``_accept`` or ``_deny``; an invalid answer fails the handshake (Rule: 500).

        The app meant to answer the handshake and cannot be answered for: even
        if it catches the error, the client gets a 500 rather than a hang.
        """
        try:
            method(message)
        except ApplicationMessageError:
            self.state = WS_CLOSED
            self._writer.fail_handshake()
            raise

    def _expected(self) -> str:
        if self.state is WS_CONNECTING:
            return "'websocket.accept', 'websocket.close' or 'websocket.http.response.start'"
        if self.state is WS_DENYING:
            return "'websocket.http.response.body'"
        return "'websocket.send' or 'websocket.close'"

    @staticmethod
    def _payload(message: Message) -> str | bytes:
        text, data = message.get("text"), message.get("bytes")
        if text is not None and data is not None:
            raise ApplicationMessageError(
                "expected one of 'bytes' or 'text' in websocket.send, got both"
            )
        if text is not None:
            if not isinstance(text, str):
                raise ApplicationMessageError(
                    f"expected 'text' to be str, got {type(text).__name__}"
                )
            return text
        if data is not None:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise ApplicationMessageError(
                    f"expected 'bytes' to be bytes, got {type(data).__name__}"
                )
            return bytes(data)
        raise ApplicationMessageError("expected 'bytes' or 'text' in websocket.send, got neither")

    def _accept(self, message: Message) -> None:
        subprotocol = message.get("subprotocol")
        if subprotocol is not None and subprotocol not in self._offered:
            raise ApplicationMessageError(
                f"expected a subprotocol the client offered ({self._offered}), got {subprotocol!r}"
            )
        headers = check_header_types(message.get("headers", ()))
        check_response_headers(headers)
        for name, _ in headers:
            if name.lower() in (
                b"sec-websocket-protocol",
                b"sec-websocket-accept",
                b"upgrade",
                b"connection",
            ):
                raise ApplicationMessageError(
                    f"expected headers the server does not set itself, got {name!r} (use 'subprotocol')"
                )
        self.state = WS_OPEN
        self._writer.accept(subprotocol, headers)

    def _close(self, message: Message) -> None:
        code = message.get("code", 1000)
        reason = message.get("reason") or ""
        if not isinstance(code, int) or not valid_close_code(code):
            raise ApplicationMessageError(
                f"expected a close code of 1000-1003, 1007-1014 or 3000-4999, got {code!r}"
            )
        if not isinstance(reason, str):
            raise ApplicationMessageError(
                f"expected 'reason' to be str, got {type(reason).__name__}"
            )
        was_open = self.state is WS_OPEN
        self.state = WS_CLOSED
        if was_open:
            self._writer.close(code, reason)
        else:
            self._writer.reject()

    def _deny(self, message: Message) -> None:
        status = message.get("status")
        if not isinstance(status, int) or not 100 <= status <= 999:
            raise ApplicationMessageError(f"expected an integer status code, got {status!r}")
        headers = check_header_types(message.get("headers", ()))
        check_response_headers(headers)
        self.state = WS_DENYING
        self._writer.deny_start(status, headers)
