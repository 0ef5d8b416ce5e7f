"""``HTTPResponseCycle``: the ASGI ``http.response.*`` state machine.

Protocol-neutral: it validates the order and fields of the application's
messages and drives a :class:`ResponseWriter` (HTTP/1.1 today, HTTP/2 later).

Theory of operation:

* Rule 1: ``AWAITING_START`` accepts only ``http.response.start``; the status
  and headers are checked there and held until the first body message, so that
  head and first body bytes leave in one write.
* Rule 2: ``STREAMING`` accepts only ``http.response.body``; one with
  ``more_body`` false moves to ``COMPLETE``.
* Rule 3: in ``COMPLETE`` and ``ABORTED`` every message is ignored (the client
  is gone or the response is over; ``send`` must not fail then).
* Rule 4: any invalid message raises :class:`ApplicationMessageError`
  ("expected X, got Y") and moves to ``ABORTED`` after the writer has been told
  to fail the response (a 500 if nothing was sent yet, else an abort).

Covered by ``tests/unit/test_http_cycle.py``.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable
from typing import Any, Protocol

from ._errors import ApplicationMessageError

__all__ = ["CycleState", "HTTPResponseCycle", "ResponseWriter", "check_header_types"]


class CycleState(enum.Enum):
    AWAITING_START = "awaiting start"
    STREAMING = "streaming"
    COMPLETE = "complete"
    ABORTED = "aborted"


class ResponseWriter(Protocol):
    """What a protocol implements so that a cycle can write a response."""

    def write_head(
        self, status: int, headers: list[tuple[bytes, bytes]], body: bytes, more_body: bool
    ) -> Awaitable[None] | None:
        """Send the status line, headers and first body bytes."""

    def write_body(self, body: bytes, more_body: bool) -> Awaitable[None] | None:
        """Send more body bytes; ``more_body`` false ends the response.

        May return an awaitable that completes when the client has drained
        enough of what was written (write backpressure).
        """

    def fail_response(self, started: bool) -> None:
        """The app misbehaved: send a 500 if nothing was sent, else abort."""


def check_header_types(headers: Any) -> list[tuple[bytes, bytes]]:
    """Return ``headers`` as a list of byte pairs, or raise with Daphne's wording."""
    result = []
    for header in headers:
        try:
            name, value = header
        except (TypeError, ValueError):
            raise ApplicationMessageError(
                f"expected each header to be a [name, value] pair, got {header!r}"
            ) from None
        if type(name) is not bytes:
            raise ApplicationMessageError(
                f"Header name '{name}' expected to be `bytes`, but got `{type(name)}`"
            )
        if type(value) is not bytes:
            raise ApplicationMessageError(
                f"Header value '{value}' expected to be `bytes`, but got `{type(value)}`"
            )
        result.append((name, value))
    return result


class HTTPResponseCycle:
    """One response's worth of ASGI messages, validated and written.

    :ivar state: the current :class:`CycleState`.
    :ivar status: the status the app sent, once it did.
    """

    __slots__ = ("_headers", "_writer", "state", "status")

    def __init__(self, writer: ResponseWriter) -> None:
        self._writer = writer
        self.state = CycleState.AWAITING_START
        self.status: int | None = None
        self._headers: list[tuple[bytes, bytes]] = []

    @property
    def started(self) -> bool:
        """Whether the app has sent ``http.response.start``."""
        return self.status is not None

    def handle(self, message: Any) -> Awaitable[None] | None:
        """Process one message from the app's ``send``."""
        state = self.state
        try:
            message_type = message["type"]
        except (KeyError, TypeError):
            return self._fail("Message has no type defined")
        if state is CycleState.STREAMING and message_type == "http.response.body":
            return self._body(message)
        if state is CycleState.AWAITING_START and message_type == "http.response.start":
            return self._start(message)
        if state is CycleState.COMPLETE or state is CycleState.ABORTED:
            return None
        if message_type in ("http.response.start", "http.response.body"):
            expected = (
                "http.response.start"
                if state is CycleState.AWAITING_START
                else "http.response.body"
            )
            if message_type == "http.response.start":
                return self._fail(
                    f"HTTP response has already been started: expected '{expected}', "
                    f"got '{message_type}'"
                )
            return self._fail(
                f"HTTP response has not yet been started but got '{message_type}': "
                f"expected '{expected}', got '{message_type}'"
            )
        return self._fail(
            f"Cannot handle message type {message_type}!: expected "
            f"'http.response.start' or 'http.response.body', got '{message_type}'"
        )

    def detach(self) -> None:
        """Forget the writer (the response is over); later messages are ignored."""
        if self.state is CycleState.AWAITING_START or self.state is CycleState.STREAMING:
            self.state = CycleState.ABORTED
        self._writer = None  # type: ignore[assignment]

    def _fail(self, text: str) -> None:
        started = self.state is CycleState.STREAMING and self._headers is None
        self.state = CycleState.ABORTED
        self._writer.fail_response(started)
        raise ApplicationMessageError(text)

    def _start(self, message: Any) -> None:
        status = message.get("status")
        if status is None:
            self._fail("Specifying a status code is required for a Response message.")
        if type(status) is not int or not 100 <= status <= 999:
            self._fail(f"expected an integer status code between 100 and 999, got {status!r}")
        try:
            headers = check_header_types(message.get("headers", ()))
        except ApplicationMessageError:
            self.state = CycleState.ABORTED
            self._writer.fail_response(False)
            raise
        self.status = status
        self._headers = headers
        self.state = CycleState.STREAMING
        return None

    def _body(self, message: Any) -> Awaitable[None] | None:
        body = message.get("body", b"")
        if type(body) is not bytes:
            if isinstance(body, (bytearray, memoryview)):
                body = bytes(body)
            else:
                self._fail(f"expected 'body' to be bytes, got {type(body).__name__}")
        more_body = bool(message.get("more_body", False))
        if not more_body:
            self.state = CycleState.COMPLETE
        headers = self._headers
        if headers is not None:
            self._headers = None  # type: ignore[assignment]
            return self._writer.write_head(self.status, headers, body, more_body)  # type: ignore[arg-type]
        return self._writer.write_body(body, more_body)
