"""One HTTP/2 stream's response side: flow-controlled DATA and the ASGI response cycle.

``H2Sender`` sends a stream's DATA within the client's flow-control windows
(write backpressure); ``H2Stream`` is one request stream, its application
instance and response writer, driven by the same
:class:`~daphne._http_cycle.HTTPResponseCycle` as HTTP/1.1.  The WebSocket
stream of RFC 8441 (:mod:`daphne._h2_websocket`) reuses ``H2Sender``.
:class:`~daphne._http2.H2Protocol` owns the connection and creates streams.

Covered by ``tests/integration/test_http2_functional.py`` and ``tests/unit/test_h2_fields.py``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

import h2.exceptions

from ._application import ApplicationInstance
from ._http_cycle import CycleState, HTTPResponseCycle
from .http_protocol import error_page

if TYPE_CHECKING:
    from ._http2 import H2Protocol

logger = logging.getLogger("daphne.http_protocol")

__all__ = ["H2Sender", "H2Stream", "response_fields"]

_CONNECTION_HEADERS = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade")
)
_DISCONNECT = {"type": "http.disconnect"}
#: Piece size for files sent with ``http.response.pathsend``.
_READ_PIECE = 64 * 1024


_TOKEN_RE = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-z]+")
_BAD_VALUE_RE = re.compile(rb"[\x00\r\n]|^[ \t]|[ \t]$")


def response_fields(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Application header fields as HTTP/2 wants them (RFC 9113 §8.2).

    Names are lower-cased and must be tokens; connection-specific fields are
    dropped; values must not hold NUL, CR or LF, nor start or end with
    whitespace.  Raises ``ValueError`` for a field that cannot be sent.
    """
    fields = []
    for name, value in headers:
        lower = name.lower()
        if lower in _CONNECTION_HEADERS:
            continue
        if _TOKEN_RE.fullmatch(lower) is None or _BAD_VALUE_RE.search(value) is not None:
            raise ValueError(f"Invalid response header {name!r}: {value!r}")
        fields.append((lower, value))
    return fields


class H2Sender:
    """Outbound DATA for one stream, sent within the client's flow-control windows.

    Bytes queue in ``_pending``; :meth:`pump` sends what the windows allow and
    :meth:`_queue` returns an awaitable while bytes are still held back (write
    backpressure).  Subclasses learn that the stream's end went out from
    :meth:`_all_sent`.
    """

    def __init__(self, protocol: H2Protocol, stream_id: int) -> None:
        self.protocol = protocol
        self.stream_id = stream_id
        self.response_done = False
        self._pending = b""
        self._pending_end = False
        self._ended = False
        self._trailers: list[tuple[bytes, bytes]] | None = None
        self._drain: asyncio.Future[None] | None = None

    def _queue(self, data: bytes, end: bool) -> Awaitable[None] | None:
        if self.response_done:
            return None
        self._pending += data
        self._pending_end = end
        self.pump()
        if self._pending or (self._pending_end and not self.response_done):
            if self._drain is None or self._drain.done():
                self._drain = self.protocol.context.loop.create_future()
            return self._drain
        return self.protocol.channel.drained()

    def pump(self) -> None:
        """Send as much pending data as the flow-control windows allow."""
        if self.response_done:
            return
        conn = self.protocol.conn
        while self._pending:
            window = min(
                conn.local_flow_control_window(self.stream_id), conn.max_outbound_frame_size
            )
            if window <= 0:
                break
            piece, self._pending = self._pending[:window], self._pending[window:]
            last = self._pending_end and not self._pending
            conn.send_data(self.stream_id, piece, end_stream=last)
            self._ended = self._ended or last
        if not self._pending and self._pending_end:
            if not self._ended:
                self._ended = True
                try:
                    if self._trailers is not None:
                        conn.send_headers(self.stream_id, self._trailers, end_stream=True)
                    else:
                        conn.end_stream(self.stream_id)
                except (h2.exceptions.ProtocolError, KeyError):
                    pass
            self._all_sent()
        self.protocol.flush()
        if not self._pending:
            self._wake()

    def _wake(self) -> None:
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    def _all_sent(self) -> None:
        """The stream's last DATA (END_STREAM) went out."""


class H2Stream(H2Sender):
    """One request stream: application instance and HTTP/2 response writer."""

    def __init__(self, protocol: H2Protocol, stream_id: int, scope: dict[str, Any]) -> None:
        super().__init__(protocol, stream_id)
        self.scope = scope
        self.cycle = HTTPResponseCycle(self, frozenset(scope["extensions"]))
        self.request_pseudo: list[tuple[bytes, bytes]] = []
        self.head_written = False
        self.suppress_body = scope["method"] == "HEAD"
        self.status = 0
        self.response_headers: list[tuple[bytes, bytes]] | tuple[()] = ()
        self.bytes_sent = 0
        self.started_at = protocol.context.clock.seconds()
        self._unacked: list[int] = []
        self._timeout_call: Any = None
        self.instance: ApplicationInstance | None = None

    def start(self) -> None:
        context = self.protocol.context
        self.instance = ApplicationInstance(
            self.scope,
            self.cycle.handle,
            self._app_exited,
            context.clock,
            context.config.application_close_timeout,
            context.registry,
            on_receive=self._message_received,
        )
        try:
            self.instance.start(context.application, context.loop)
        except Exception:
            logger.exception("Exception when calling application")
            self.instance = None
            self.cycle.state = CycleState.ABORTED
            self._error(500, "Exception inside application.")

    # -- request body ------------------------------------------------------------

    def feed_body(self, data: bytes, flow_length: int, more_body: bool) -> None:
        instance = self.instance
        if instance is None or instance.closed:
            if flow_length:
                self.protocol.acknowledge(self.stream_id, flow_length)
            return
        instance.put({"type": "http.request", "body": data, "more_body": more_body})
        self._unacked.append(flow_length)
        if not more_body:
            timeout = self.protocol.context.config.http_timeout
            if timeout is not None and not self.response_done:
                self._timeout_call = self.protocol.context.clock.callLater(timeout, self._timed_out)

    def _message_received(self, message: dict[str, Any]) -> None:
        # Opening the client's window only as the app reads is the read backpressure.
        if message["type"] == "http.request" and self._unacked:
            length = self._unacked.pop(0)
            if length:
                self.protocol.acknowledge(self.stream_id, length)

    def reset(self) -> None:
        """The client reset the stream: tell the app, stop writing."""
        self.response_done = True
        self._cancel_timeout()
        self._wake()
        if self.instance is not None:
            self.instance.close(_DISCONNECT)

    # -- ResponseWriter ----------------------------------------------------------

    def write_head(
        self, status: int, headers: list[tuple[bytes, bytes]], body: bytes, more_body: bool
    ) -> Awaitable[None] | None:
        context = self.protocol.context
        out = [(b":status", str(status).encode("ascii"))]
        has_server = has_date = False
        for name, value in response_fields(headers):
            if name == b"server":
                has_server = True
            elif name == b"date":
                has_date = True
            out.append((name, value))
        if not has_date:
            out.append((b"date", context.date_header()))
        if not has_server and context.server_name_bytes:
            out.append((b"server", context.server_name_bytes))
        if status < 200 or status in (204, 304):
            self.suppress_body = True
        self.status = status
        self.response_headers = headers
        self.head_written = True
        if not more_body:
            self._cancel_timeout()
        if self.suppress_body:
            body = b""
        try:
            self.protocol.conn.send_headers(
                self.stream_id, out, end_stream=not more_body and not body
            )
        except (h2.exceptions.ProtocolError, ValueError) as error:
            raise ValueError(f"Invalid response headers: {error}") from None
        if not more_body and not body:
            self.protocol.flush()
            self._finish()
            return None
        return self._send(body, more_body)

    def write_body(self, body: bytes, more_body: bool) -> Awaitable[None] | None:
        if not more_body:
            self._cancel_timeout()
        if self.suppress_body:
            body = b""
        return self._send(body, more_body)

    def _send(self, body: bytes, more_body: bool) -> Awaitable[None] | None:
        if self.response_done:
            return None
        self.bytes_sent += len(body)
        return self._queue(body, not more_body)

    def _all_sent(self) -> None:
        self._finish()

    # -- extensions ----------------------------------------------------------------

    def write_early_hint(self, links: list[bytes]) -> None:
        """A ``103`` informational HEADERS frame with one ``link`` field per entry."""
        if self.head_written or self.response_done:
            return
        try:
            headers = [(b":status", b"103"), *response_fields([(b"link", link) for link in links])]
            self.protocol.conn.send_headers(self.stream_id, headers)
        except (h2.exceptions.ProtocolError, ValueError):
            return
        self.protocol.flush()

    def write_trailers(self, headers: list[tuple[bytes, bytes]]) -> Awaitable[None] | None:
        """End the stream with a trailing HEADERS frame once the body is out."""
        self._trailers = response_fields(headers)
        self._cancel_timeout()
        return self._queue(b"", True)

    def write_file(self, fd: int, offset: int, count: int, more_body: bool) -> Awaitable[None]:
        """Send part of a file as DATA, read in pieces as the windows open."""
        return self._send_file(fd, offset, count, more_body)

    async def _send_file(self, fd: int, offset: int, count: int, more_body: bool) -> None:
        if self.suppress_body:
            count = 0
        while count > 0 and not self.response_done:
            data = os.pread(fd, min(count, _READ_PIECE), offset)
            if not data:
                logger.error("File shorter than the response promised; resetting the stream")
                self._abort()
                return
            offset += len(data)
            count -= len(data)
            waiter = self._send(data, True)
            if waiter is not None:
                await waiter
        if not more_body:
            self._cancel_timeout()
            waiter = self._send(b"", False)
            if waiter is not None:
                await waiter

    def push(self, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        """Server push (RFC 9113 §8.4): promise ``path`` and serve it as a new stream."""
        self.protocol.push(self, path, headers)

    def fail_response(self, started: bool) -> None:
        if self.response_done:
            return
        if started or self.head_written:
            self._abort()
        else:
            self.protocol.context.loop.call_soon(self._error, 500, "Server Error")

    # -- endings -----------------------------------------------------------------

    def _error(self, status: int, reason: str) -> None:
        if self.response_done or self.head_written:
            return
        page = error_page(status, reason)
        self.cycle.state = CycleState.ABORTED
        self.write_head(
            status,
            [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", b"%d" % len(page)),
            ],
            page,
            False,
        )

    def _abort(self) -> None:
        self.response_done = True
        self._cancel_timeout()
        self.protocol.reset_stream(self.stream_id)
        if self.instance is not None:
            self.instance.close(_DISCONNECT)

    def _timed_out(self) -> None:
        self._timeout_call = None
        if self.response_done:
            return
        self.cycle.state = CycleState.ABORTED
        if not self.head_written:
            self._error(503, "Application failed to respond within time limit.")
        else:
            logger.warning("Application timed out while sending response")
            self._abort()

    def _cancel_timeout(self) -> None:
        call, self._timeout_call = self._timeout_call, None
        if call is not None and call.active():
            call.cancel()

    def _finish(self) -> None:
        if self.response_done:
            return
        self.response_done = True
        context = self.protocol.context
        if context.action_logger is not None:
            scope = self.scope
            target = scope["raw_path"] + (
                b"?" + scope["query_string"] if scope["query_string"] else b""
            )
            client = scope["client"]
            context.log_action(
                "http",
                "complete",
                {
                    "path": target.decode("ascii", "replace"),
                    "status": self.status,
                    "method": scope["method"],
                    "client": f"{client[0]}:{client[1]}" if client else None,
                    "time_taken": context.clock.seconds() - self.started_at,
                    "size": self.bytes_sent,
                    # For --access-log-format / --log-json (daphne.access).
                    "http_version": "2",
                    "request_headers": scope["headers"],
                    "response_headers": self.response_headers,
                },
            )
        if self.instance is not None:
            self.instance.close(_DISCONNECT)
        self.protocol.stream_finished(self)

    def _app_exited(self, exception: BaseException | None) -> None:
        state = self.cycle.state
        if not self.response_done and not self.protocol.closed:
            if not self.head_written and state is not CycleState.ABORTED:
                if exception is None:
                    logger.error("Application returned without sending a response")
                self.cycle.state = CycleState.ABORTED
                self._error(500, "Exception inside application.")
            elif self.head_written:
                logger.error(
                    "Application ended before finishing its response; resetting the stream"
                )
                self._abort()
        self.instance = None
        self.cycle.detach()
