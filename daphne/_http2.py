"""HTTP/2 (RFC 9113) on one connection, with the ``h2`` library as the engine.

``H2Protocol`` takes a connection over from :class:`~daphne._http1.HTTP1Connection`
when TLS negotiated ``h2`` by ALPN or a cleartext connection opened with the
HTTP/2 preface (prior knowledge).  Every stream is its own application
instance, scoped by the same :mod:`daphne._scope` builder as HTTP/1.1 and
driven by the same :class:`~daphne._http_cycle.HTTPResponseCycle`.

Flow control both ways: request body bytes are acknowledged to the client
(opening its window) only as the app receives them; response bodies are sent
within the client's windows and ``send`` waits while a window is exhausted.

Covered by ``tests/integration/test_http2_functional.py``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Awaitable
from typing import Any
from urllib.parse import quote

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import hpack.exceptions
import hyperframe.exceptions
import hyperframe.frame

from ._application import ApplicationInstance
from ._errors import BadRequest
from ._h2_connection import ServerConnection
from ._http_cycle import CycleState, HTTPResponseCycle
from ._scope import RequestFacts, build_http_scope
from .http_protocol import error_page

logger = logging.getLogger("daphne.http_protocol")

__all__ = ["PREFACE", "H2Protocol"]

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_CONNECTION_HEADERS = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade")
)
_DISCONNECT = {"type": "http.disconnect"}
#: Streams a client may reset before we answer them, beyond twice those it let finish
#: (rapid reset, CVE-2023-44487).
_RESET_ALLOWANCE = 100
#: Frames that carry nothing (empty DATA without END_STREAM, PING, SETTINGS) a client may
#: send per stream it opened, beyond a fixed allowance, before it is told to calm down.
_IDLE_FRAME_ALLOWANCE = 1000
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


class H2Protocol:
    """One HTTP/2 connection: the ``h2`` state machine and its streams.

    :ivar closed: the connection is over.
    """

    def __init__(self, channel: Any, context: Any, facts_kwargs: dict[str, Any]) -> None:
        self.channel = channel
        self.context = context
        self.facts_kwargs = facts_kwargs
        self.closed = False
        self.streams: dict[int, H2Stream] = {}
        self._resets = 0
        self._completed = 0
        self._opened = 0
        self._idle_frames = 0
        self.draining = False
        self._last_stream_id = 0
        config = context.config
        self.conn = ServerConnection(
            config=h2.config.H2Configuration(
                client_side=False,
                header_encoding=None,
                validate_inbound_headers=True,
                # response_fields() checks what the app sends, much faster.
                validate_outbound_headers=False,
                normalize_outbound_headers=False,
            )
        )
        self.conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: config.h2_max_concurrent_streams,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: config.h2_max_header_list_size,
                h2.settings.SettingCodes.MAX_FRAME_SIZE: config.h2_max_frame_size,
                # RFC 8441: extended CONNECT, for WebSockets over HTTP/2.
                h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL: 1,
            },
        )
        # h2 reads these two limits when the connection is built, not from the
        # settings object replaced above.
        self.conn.decoder.max_header_list_size = config.h2_max_header_list_size
        self.conn.max_inbound_frame_size = config.h2_max_frame_size

    def start(self, data: bytes = b"") -> None:
        self.conn.initiate_connection()
        self.flush()
        if data:
            self.data_received(data)

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.channel.write(data)

    def acknowledge(self, stream_id: int, length: int) -> None:
        try:
            self.conn.acknowledge_received_data(length, stream_id)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, KeyError):
            return
        self.flush()

    def reset_stream(self, stream_id: int, code: int = h2.errors.ErrorCodes.INTERNAL_ERROR) -> None:
        try:
            self.conn.reset_stream(stream_id, code)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, KeyError):
            pass
        self.streams.pop(stream_id, None)
        self.flush()

    def stream_finished(self, stream: Any) -> None:
        if self.streams.pop(stream.stream_id, None) is not None:
            self._completed += 1
        if self.draining and not self.streams:
            self._goodbye()

    # -- bytes from the client ------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError as error:
            logger.debug("HTTP/2 protocol error: %s", error)
            self._goaway_after(error)
            self._close_all()
            self.channel.close()
            return
        if self.conn.refused > _RESET_ALLOWANCE + 2 * self._completed:
            self._calm_down("too many streams opened beyond the concurrency limit")
            return
        for event in events:
            self._dispatch(event)
            if self.closed:
                return
        self.flush()
        if self.channel.write_paused:
            # The client is not reading what we owe it (e.g. PING/SETTINGS acks):
            # stop reading it too until it does.
            self.channel.pause_reading()

    def _goaway_after(self, error: h2.exceptions.ProtocolError) -> None:
        """Send what h2 queued, its GOAWAY corrected where h2 picks too general a code.

        h2 reports every HPACK decoding failure, and a SETTINGS ACK carrying a
        payload, as PROTOCOL_ERROR; RFC 9113 asks for COMPRESSION_ERROR (§4.3)
        and FRAME_SIZE_ERROR (§6.5).
        """
        data = self.conn.data_to_send()
        cause = error.__cause__
        code = None
        if isinstance(cause, hpack.exceptions.HPACKError) and not isinstance(
            cause, hpack.exceptions.OversizedHeaderListError
        ):
            code = h2.errors.ErrorCodes.COMPRESSION_ERROR
        elif isinstance(cause, hyperframe.exceptions.InvalidDataError) and "ack" in str(cause):
            code = h2.errors.ErrorCodes.FRAME_SIZE_ERROR
        if code is not None:
            last = self.conn.highest_inbound_stream_id
            queued = hyperframe.frame.GoAwayFrame(
                0, last_stream_id=last, error_code=error.error_code
            ).serialize()
            if data.endswith(queued):
                data = (
                    data[: -len(queued)]
                    + hyperframe.frame.GoAwayFrame(
                        0, last_stream_id=last, error_code=code
                    ).serialize()
                )
        if data:
            self.channel.write(data)

    def _count_idle_frame(self) -> bool:
        """Count a frame that carries nothing; False once the client overdid it."""
        self._idle_frames += 1
        if self._idle_frames > _IDLE_FRAME_ALLOWANCE + 10 * self._opened:
            self._calm_down(
                "too many frames that carry nothing (PING, SETTINGS or empty DATA flood)"
            )
            return False
        return True

    def _calm_down(self, why: str) -> None:
        """Answer abuse with GOAWAY(ENHANCE_YOUR_CALM) and close (RFC 9113 §5.4.1)."""
        logger.warning(
            "HTTP/2 client %s: %s; closing the connection", self.facts_kwargs.get("client"), why
        )
        self.conn.close_connection(h2.errors.ErrorCodes.ENHANCE_YOUR_CALM)
        self.flush()
        self._close_all()
        self.channel.close()

    def _dispatch(self, event: Any) -> None:
        if isinstance(event, h2.events.DataReceived):
            if not event.data and event.stream_ended is None and not self._count_idle_frame():
                return
            stream = self.streams.get(event.stream_id)
            if stream is None:
                self.acknowledge(event.stream_id, event.flow_controlled_length)
            elif event.data or event.flow_controlled_length:
                stream.feed_body(event.data, event.flow_controlled_length, True)
        elif isinstance(event, h2.events.RequestReceived):
            self._request(event)
        elif isinstance(event, h2.events.StreamEnded):
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                stream.feed_body(b"", 0, False)
        elif isinstance(event, h2.events.StreamReset):
            stream = self.streams.pop(event.stream_id, None)
            if stream is not None:
                stream.reset()
                self._resets += 1
                if self._resets > _RESET_ALLOWANCE + 2 * self._completed:
                    self._calm_down("too many streams reset before an answer (rapid reset)")
        elif isinstance(event, h2.events.PingReceived):
            self._count_idle_frame()
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            if self._count_idle_frame():
                for stream in list(self.streams.values()):
                    stream.pump()
        elif isinstance(event, h2.events.WindowUpdated):
            targets = (
                list(self.streams.values())
                if event.stream_id == 0
                else [self.streams.get(event.stream_id)]
            )
            for stream in targets:
                if stream is not None:
                    stream.pump()
        elif isinstance(event, h2.events.ConnectionTerminated):
            self._close_all()
            self.channel.close()

    def _extensions(self, pushed: bool) -> dict[str, Any]:
        """The ``extensions`` of a stream's scope: what works on this connection."""
        extensions: dict[str, Any] = {
            "http.response.early_hint": {},
            "http.response.trailers": {},
            "http.response.pathsend": {},
        }
        if not pushed and self.conn.remote_settings.enable_push:
            extensions["http.response.push"] = {}
        tls = self.channel.tls_info()
        if tls is not None:
            extensions["tls"] = dict(tls)
        return extensions

    def _request(self, event: Any) -> None:
        self._opened += 1
        if self.draining and event.stream_id > self._last_stream_id:
            self.reset_stream(event.stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
            return
        self._open_stream(event.stream_id, event.headers, event.stream_ended is not None)

    def start_upgraded(self, settings_header: bytes, head: Any, body_done: bool = True) -> None:
        """Continue an HTTP/1.1 ``Upgrade: h2c`` request as stream 1 (RFC 7540 §3.2)."""
        settings_header = settings_header.strip()
        # h2 wants the padding RFC 7540 §3.2.1 tells clients to leave out.
        self.conn.initiate_upgrade_connection(settings_header + b"=" * (-len(settings_header) % 4))
        self.flush()
        host = next((value for name, value in head.headers if name == b"host"), b"")
        target = head.path + (b"?" + head.query_string if head.query_string else b"")
        headers = [
            (b":method", head.method.encode("ascii")),
            (b":path", target),
            (b":scheme", b"http"),
            (b":authority", host),
        ]
        skip = {
            b"host",
            b"connection",
            b"upgrade",
            b"http2-settings",
            b"keep-alive",
            b"transfer-encoding",
        }
        headers += [(name, value) for name, value in head.headers if name not in skip]
        self._open_stream(1, headers, body_done)

    def _open_stream(
        self,
        stream_id: int,
        raw_headers: list[tuple[bytes, bytes]],
        ended: bool,
        pushed: bool = False,
    ) -> None:
        pseudo: dict[bytes, bytes] = {}
        headers: list[tuple[bytes, bytes]] = []
        cookies: list[bytes] = []
        for name, value in raw_headers:
            if name[:1] == b":":
                pseudo[name] = value
            elif name == b"cookie":
                cookies.append(value)
            else:
                headers.append((name, value))
        if cookies:
            # RFC 9113 §8.2.3: cookie crumbs are joined with "; " for HTTP/1.1-minded apps.
            headers.append((b"cookie", b"; ".join(cookies)))
        authority = pseudo.get(b":authority")
        if authority and not any(name == b"host" for name, _ in headers):
            headers.insert(0, (b"host", authority))
        target = pseudo.get(b":path", b"/")
        path, _, query = target.partition(b"?")
        try:
            method = pseudo[b":method"].decode("ascii")
            path.decode("ascii")
        except (KeyError, UnicodeDecodeError):
            self.conn.reset_stream(stream_id, h2.errors.ErrorCodes.PROTOCOL_ERROR)
            return
        connect_protocol = pseudo.get(b":protocol")
        if connect_protocol is not None and method == "CONNECT":
            self._open_websocket(stream_id, connect_protocol, path, query, headers, ended)
            return
        facts = RequestFacts(
            method=method,
            path=path,
            query_string=query,
            http_version="2",
            headers=headers,
            **self.facts_kwargs,
        )
        scope = build_http_scope(
            facts, self.context.config, self.context.lifespan_state, self._extensions(pushed)
        )
        scheme = pseudo.get(b":scheme")
        if scheme in (b"http", b"https") and not self.context.config.proxy_forwarded_address_header:
            scope["scheme"] = scheme.decode("ascii")
        stream = H2Stream(self, stream_id, scope)
        stream.request_pseudo = list(pseudo.items())
        self.streams[stream_id] = stream
        stream.start()
        if ended:
            stream.feed_body(b"", 0, False)

    def push(self, parent: H2Stream, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        conn = self.conn
        if (
            not conn.remote_settings.enable_push
            or parent.response_done
            or parent.stream_id % 2 == 0
            or self.draining
        ):
            return
        authority = dict(parent.request_pseudo).get(b":authority", b"")
        request = [
            (b":method", b"GET"),
            (b":path", quote(path, safe="/%;:@&=+$,!~*'()?").encode("ascii")),
            (b":scheme", parent.scope["scheme"].encode("ascii")),
            (b":authority", authority),
            *response_fields(headers),
        ]
        try:
            promised = conn.get_next_available_stream_id()
            conn.push_stream(parent.stream_id, promised, request)
        except (h2.exceptions.ProtocolError, ValueError) as error:
            logger.debug("Server push of %s not sent: %s", path, error)
            return
        self.flush()
        self._open_stream(promised, request, True, pushed=True)

    def _open_websocket(
        self,
        stream_id: int,
        connect_protocol: bytes,
        path: bytes,
        query: bytes,
        headers: list[tuple[bytes, bytes]],
        ended: bool,
    ) -> None:
        """Extended CONNECT (RFC 8441): a WebSocket on this stream."""
        from ._h2_websocket import ConnectHead, H2WebSocketStream, connect_problem, refuse_connect

        problem = connect_problem(connect_protocol, headers)
        if problem is None and ended:
            problem = BadRequest("A WebSocket CONNECT stream cannot end at once")
        if problem is not None:
            refuse_connect(self, stream_id, problem)
            return
        stream = H2WebSocketStream(self, stream_id, ConnectHead(path, query, headers))
        self.streams[stream_id] = stream
        stream.start()

    # -- endings --------------------------------------------------------------------

    def _close_all(self) -> None:
        self.closed = True
        for stream in list(self.streams.values()):
            stream.reset()
        self.streams.clear()

    def drain(self) -> None:
        """The server is stopping: GOAWAY with the last stream id; open streams may finish.

        The GOAWAY frame is written by hand: ``h2`` refuses to send anything
        more once it has sent one itself, and open streams still need to.  Streams
        the client opens afterwards are refused (RFC 9113 §6.8).
        """
        if self.draining or self.closed:
            return
        self.draining = True
        self._last_stream_id = self.conn.highest_inbound_stream_id
        self.flush()
        frame = hyperframe.frame.GoAwayFrame(
            0, last_stream_id=self._last_stream_id, error_code=h2.errors.ErrorCodes.NO_ERROR
        )
        self.channel.write(frame.serialize())
        for stream in list(self.streams.values()):
            drain = getattr(stream, "drain", None)
            if drain is not None:
                drain()
        self.flush()
        if not self.streams:
            self._goodbye()

    def _goodbye(self) -> None:
        # Our GOAWAY already went out: flush what is left and close.
        self.flush()
        self.channel.close()

    def connection_lost(self) -> None:
        self._close_all()
