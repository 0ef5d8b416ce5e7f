"""``HTTPResponseCycle``: the ASGI ``http.response.*`` state machine.

Protocol-neutral: it validates the order and fields of the application's
messages and drives a :class:`ResponseWriter`, which is always the request's
:class:`~daphne._asgi.http_stream.HTTPStream` (the same for HTTP/1.x and HTTP/2).

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
* Rule 5: the ASGI extensions the scope advertises add messages: early hints
  (before the head is written), server push, path send and zero-copy send
  (``STREAMING``, like a body), and trailers: a final body after
  ``http.response.start`` with ``trailers`` true moves to ``TRAILERS``, where
  ``http.response.trailers`` messages end the response.  Push and early-hint
  messages are hints: where the scope does not advertise them (HTTP/1.0, a
  client that disabled push) they are ignored; a message of another extension
  the scope does not advertise is invalid.

Covered by ``tests/unit/test_http_cycle.py`` and ``tests/unit/test_cycle_extensions.py``.
"""

from __future__ import annotations

import enum
import os
import stat
from collections.abc import Awaitable, Callable, Collection
from typing import Any, Final, NoReturn

from .._errors import ApplicationMessageError
from .._types import Headers, Message
from .interfaces import ResponseExtensions, ResponseWriter

__all__ = [
    "CYCLE_ABORTED",
    "CYCLE_AWAITING_START",
    "CYCLE_COMPLETE",
    "CYCLE_STREAMING",
    "CYCLE_TRAILERS",
    "CycleState",
    "HTTPResponseCycle",
    "ResponseWriter",
    "check_header_types",
]


class CycleState(enum.Enum):
    AWAITING_START = "awaiting start"
    STREAMING = "streaming"
    TRAILERS = "trailers"
    COMPLETE = "complete"
    ABORTED = "aborted"


# The members as module globals, read per request or message (why: daphne/_wire/http1_state.py).
CYCLE_AWAITING_START: Final = CycleState.AWAITING_START
CYCLE_STREAMING: Final = CycleState.STREAMING
CYCLE_TRAILERS: Final = CycleState.TRAILERS
CYCLE_COMPLETE: Final = CycleState.COMPLETE
CYCLE_ABORTED: Final = CycleState.ABORTED


def check_header_types(headers: Any) -> Headers:  # Any: whatever the app sent, checked here
    """Return ``headers`` as a list of byte pairs, or raise with Daphne's wording."""
    result = []
    try:
        pairs = iter(headers)
    except TypeError:
        raise ApplicationMessageError(
            f"expected 'headers' to be an iterable of [name, value] pairs, got {headers!r}"
        ) from None
    for header in pairs:
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


EARLY_HINT = "http.response.early_hint"
PATHSEND = "http.response.pathsend"
PUSH = "http.response.push"
TRAILERS = "http.response.trailers"
ZEROCOPYSEND = "http.response.zerocopysend"
_HINTS = frozenset((EARLY_HINT, PUSH))
#: :meth:`ResponseExtensions.write_file`'s shape.
_FileWriter = Callable[[int, int, int, bool], "Awaitable[None] | None"]


class _Detached:
    """The writer of a cycle whose response is over (see :meth:`HTTPResponseCycle.detach`).

    Never called (a detached cycle ignores every message); it lets the stream go.
    """

    def write_head(
        self, status: int, headers: Headers, body: bytes, more_body: bool
    ) -> Awaitable[None] | None:
        return None

    def write_body(self, body: bytes, more_body: bool) -> Awaitable[None] | None:
        return None

    def fail_response(self, started: bool) -> None:
        return None


_DETACHED = _Detached()


class HTTPResponseCycle:
    """One response's worth of ASGI messages, validated and written.

    :ivar state: the current :class:`CycleState`.
    :ivar status: the status the app sent, once it did.
    :ivar extensions: the names of the extensions the scope advertises.
    """

    __slots__ = ("_head", "_trailers", "_writer", "extensions", "state", "status")

    def __init__(self, writer: ResponseWriter, extensions: Collection[str] = ()) -> None:
        self._writer = writer
        self.state = CYCLE_AWAITING_START
        self.status: int | None = None
        #: The checked status and headers, held from ``http.response.start`` until
        #: the first body (Rule 1); None before the start and once written.
        self._head: tuple[int, Headers] | None = None
        self._trailers: Headers | None = None
        self.extensions = extensions

    @property
    def started(self) -> bool:
        """Whether the app has sent ``http.response.start``."""
        return self.status is not None

    def handle(self, message: Message) -> Awaitable[None] | None:
        """Process one message from the app's ``send``."""
        state = self.state
        try:
            message_type = message["type"]
        except (KeyError, TypeError):
            if state is CYCLE_COMPLETE or state is CYCLE_ABORTED:
                return None  # Rule 3
            self._fail("Message has no type defined")
        if state is CYCLE_STREAMING and message_type == "http.response.body":
            return self._body(message)
        if state is CYCLE_AWAITING_START and message_type == "http.response.start":
            self._start(message)
            return None
        if state is CYCLE_COMPLETE or state is CYCLE_ABORTED:
            return None
        if type(message_type) is not str:
            self._fail(f"expected the message 'type' to be a string, got {message_type!r}")
        if message_type in self.extensions:
            return self._extension(message_type, message)
        if message_type in _HINTS:
            return None
        if message_type in ("http.response.start", "http.response.body"):
            expected = (
                "http.response.start" if state is CYCLE_AWAITING_START else "http.response.body"
            )
            if message_type == "http.response.start":
                self._fail(
                    f"HTTP response has already been started: expected '{expected}', "
                    f"got '{message_type}'"
                )
            self._fail(
                f"HTTP response has not yet been started but got '{message_type}': "
                f"expected '{expected}', got '{message_type}'"
            )
        self._fail(
            f"Cannot handle message type {message_type}!: expected "
            f"'http.response.start' or 'http.response.body', got '{message_type}'"
        )

    def abort(self) -> None:
        """The response is being failed or cut short: ignore every later message."""
        if self.state is not CYCLE_COMPLETE:
            self.state = CYCLE_ABORTED

    def detach(self) -> None:
        """Forget the writer (the response is over); later messages are ignored."""
        if self.state in (CYCLE_AWAITING_START, CYCLE_STREAMING, CYCLE_TRAILERS):
            self.state = CYCLE_ABORTED
        self._writer = _DETACHED

    def _fail(self, text: str) -> NoReturn:
        # The head is out once a status was accepted and is no longer held (STREAMING
        # after the first body, or TRAILERS).
        started = self.status is not None and self._head is None
        self.state = CYCLE_ABORTED
        self._writer.fail_response(started)
        raise ApplicationMessageError(text)

    def _checked_headers(self, headers: Any) -> Headers:  # Any: as the app sent them
        """``check_header_types``, failing the response (Rule 4) when they are invalid."""
        try:
            return check_header_types(headers)
        except ApplicationMessageError as error:
            self._fail(str(error))

    def _start(self, message: Message) -> None:
        status = message.get("status")
        if status is None:
            self._fail("Specifying a status code is required for a Response message.")
        if type(status) is not int or not 200 <= status <= 999:
            # A 1xx is never a final response: sent as one, the client would wait
            # for the real one forever (103 has its own extension message).
            self._fail(f"expected an integer final status code (200-999), got {status!r}")
        headers = self._checked_headers(message.get("headers", ()))
        self.status = status
        self._head = (status, headers)
        if message.get("trailers") and TRAILERS in self.extensions:
            self._trailers = []
        self.state = CYCLE_STREAMING

    def _body(self, message: Message) -> Awaitable[None] | None:
        body = message.get("body", b"")
        if type(body) is not bytes:
            if isinstance(body, (bytearray, memoryview)):
                body = bytes(body)
            else:
                self._fail(f"expected 'body' to be bytes, got {type(body).__name__}")
        more_body = bool(message.get("more_body", False))
        if not more_body:
            if self._trailers is not None:
                # The response ends with the trailers, not with this body.
                self.state = CYCLE_TRAILERS
                more_body = True
            else:
                self.state = CYCLE_COMPLETE
        head = self._head
        if head is not None:
            self._head = None
            return self._writer.write_head(head[0], head[1], body, more_body)
        return self._writer.write_body(body, more_body)

    # -- extensions (Rule 5) --------------------------------------------------

    def _extension(self, message_type: str, message: Message) -> Awaitable[None] | None:
        state = self.state
        writer = self._writer
        if not isinstance(writer, ResponseExtensions):
            raise TypeError(f"{type(writer).__name__} implements no ASGI extension messages")
        if message_type == EARLY_HINT:
            if state is CYCLE_TRAILERS or (self.status is not None and self._head is None):
                return None  # the final head is out: too late for hints, not an error
            links = message.get("links", ())
            if (
                isinstance(links, (bytes, str))
                or not hasattr(links, "__iter__")
                or not all(type(link) is bytes for link in links)
            ):
                self._fail("expected 'links' to be an iterable of byte strings")
            writer.write_early_hint(list(links))
            return None
        if message_type == TRAILERS:
            trailers = self._trailers
            if state is not CYCLE_TRAILERS or trailers is None:
                self._fail(
                    "Cannot send trailers before the final body of a response started "
                    "with 'trailers': True"
                )
            trailers.extend(self._checked_headers(message.get("headers", ())))
            if message.get("more_trailers", False):
                return None
            self.state = CYCLE_COMPLETE
            return writer.write_trailers(trailers)
        if state is not CYCLE_STREAMING:
            self._fail(
                f"HTTP response has not yet been started but got '{message_type}': "
                f"expected 'http.response.start', got '{message_type}'"
            )
        if message_type == PUSH:
            path = message.get("path")
            if type(path) is not str:
                self._fail(f"expected 'path' to be a string, got {type(path).__name__}")
            writer.push(path, self._checked_headers(message.get("headers", ())))
            return None
        if message_type == PATHSEND:
            return self._pathsend(message, writer.write_file)
        return self._zerocopysend(message, writer.write_file)

    def _pathsend(self, message: Message, write_file: _FileWriter) -> Awaitable[None]:
        path = message.get("path")
        if type(path) is not str or not os.path.isabs(path):
            self._fail(f"expected 'path' to be an absolute path string, got {path!r}")
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as error:
            self._fail(f"cannot open {path!r} for http.response.pathsend: {error.strerror}")
        try:
            status = os.fstat(fd)
        except OSError:
            os.close(fd)
            raise
        if not stat.S_ISREG(status.st_mode):
            os.close(fd)
            self._fail(
                f"expected 'path' to name a regular file for http.response.pathsend: {path!r}"
            )
        return self._send_file(write_file, fd, 0, status.st_size, False, close=True)

    def _zerocopysend(self, message: Message, write_file: _FileWriter) -> Awaitable[None]:
        try:
            fd = message["file"].fileno()
            offset = message.get("offset")
            position = os.lseek(fd, 0, os.SEEK_CUR) if offset is None else offset
            size = os.fstat(fd).st_size
        except (KeyError, AttributeError, OSError, ValueError) as error:
            self._fail(f"expected 'file' to be a file object with a file descriptor: {error}")
        count = message.get("count")
        if count is None and type(position) is int:
            count = max(size - position, 0)
        if type(position) is not int or type(count) is not int or position < 0 or count < 0:
            self._fail("expected 'offset' and 'count' to be non-negative integers")
        more_body = bool(message.get("more_body", False))
        if offset is None:
            # Sent "from the current position": move it on as a read would.
            os.lseek(fd, position + count, os.SEEK_SET)
        return self._send_file(write_file, fd, position, count, more_body, close=False)

    def _send_file(
        self,
        write_file: _FileWriter,
        fd: int,
        offset: int,
        count: int,
        more_body: bool,
        close: bool,
    ) -> Awaitable[None]:
        if not more_body:
            if self._trailers is not None:
                self.state = CYCLE_TRAILERS
            else:
                self.state = CYCLE_COMPLETE
        ends = not more_body and self._trailers is None
        head = self._head
        if head is not None:
            self._head = None
            head_waiter = self._writer.write_head(head[0], head[1], b"", True)
        else:
            head_waiter = None

        async def send() -> None:
            try:
                if head_waiter is not None:
                    await head_waiter
                waiter = write_file(fd, offset, count, not ends)
                if waiter is not None:
                    await waiter
            finally:
                if close:
                    os.close(fd)

        return send()
