"""HTTP/2 (RFC 9113) on one connection, with the ``h2`` library as the engine.

``H2Protocol`` takes a connection over from :class:`~daphne._wire.http1.HTTP1Connection`
when TLS negotiated ``h2`` by ALPN or a cleartext connection opened with the
HTTP/2 preface (prior knowledge).  Every stream is its own application
instance, scoped by the same :mod:`daphne._asgi.scope` builder as HTTP/1.1 and
driven by the same :class:`~daphne._asgi.http_cycle.HTTPResponseCycle`.

Flow control both ways: request body bytes are acknowledged to the client
(opening its window) only as the app receives them; response bodies are sent
within the client's windows and ``send`` waits while a window is exhausted.

Covered by ``tests/integration/test_http2_functional.py``.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import h2.config
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import hpack.exceptions
import hyperframe.exceptions
import hyperframe.frame

from .._asgi.headers import check_request_field, check_request_target, h2_response_fields
from .._asgi.scope import RequestFacts, build_http_scope
from .._errors import BadRequest
from .h2_connection import ServerConnection
from .h2_stream import H2Stream

logger = logging.getLogger("daphne.http_protocol")

__all__ = ["PREFACE", "H2Protocol"]

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#: The connection-level receive window we announce (streams keep the 64 KiB default).
CONNECTION_WINDOW = 1024 * 1024
#: Streams a client may reset before we answer them, beyond twice those it let finish
#: (rapid reset, CVE-2023-44487).
_RESET_ALLOWANCE = 100
#: Frames that make the server do nothing useful (empty DATA without END_STREAM, PING,
#: SETTINGS, PRIORITY, a WINDOW_UPDATE that lets nothing be sent) a client may send
#: beyond this allowance, 10 per stream it opened and one per ``_BYTES_PER_IDLE_FRAME``
#: bytes of DATA the server sent, before it is told to calm down.
_IDLE_FRAME_ALLOWANCE = 1000
#: DATA bytes sent that earn the client one more idle frame: a client acknowledging a
#: download in small WINDOW_UPDATEs stays within it, and a flood costs the client
#: this much download per frame.
_BYTES_PER_IDLE_FRAME = 256


def _check_request_fields(
    headers: list[tuple[bytes, bytes]],
) -> tuple[BadRequest | None, int | None]:
    """The request fields' grammar problem (or None) and the declared body length.

    The same rules as HTTP/1.1 (:mod:`daphne._asgi.headers`), CVE-2026-44546 included.
    """
    declared = None
    for name, value in headers:
        try:
            check_request_field(name, value)
        except BadRequest as error:
            return error, None
        if name == b"content-length" and value.isdigit() and len(value) <= 18:
            declared = int(value)
    return None, declared


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
        #: DATA payload bytes sent on all streams (earns idle-frame allowance).
        self._data_sent = 0
        #: Streams with bytes to send stopped by the connection window, in arrival order.
        self._starved: dict[int, Any] = {}
        self.draining = False
        #: The client sent GOAWAY(NO_ERROR): close once its open streams are answered.
        self._client_left = False
        self._last_stream_id = 0
        #: When the connection last had no open stream (None while one is open).
        self._idle_since: float | None = None
        self._idle_timer: Any = None
        #: When an unfinished header block started arriving, and its timer.
        self._head_since: float | None = None
        self._head_timer: Any = None
        config = context.config
        self.conn = ServerConnection(
            config=h2.config.H2Configuration(
                client_side=False,
                header_encoding=None,
                validate_inbound_headers=True,
                # daphne._asgi.headers checks what the app sends, much faster.
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
        self._open_connection_window()
        self.flush()
        self._idle_from(self.context.clock.seconds())
        if data:
            self.data_received(data)

    def _open_connection_window(self) -> None:
        """Widen the connection's receive window from 64 KiB to :data:`CONNECTION_WINDOW`.

        Read backpressure withholds a paused stream's credit, and that credit is
        the connection's too: with the default window one stream whose app reads
        late would stall every upload on the connection.  Each stream stays
        bounded by its own 64 KiB window; the wider connection window lets
        :data:`CONNECTION_WINDOW` / 64 KiB of them be paused at once.
        """
        self.conn.increment_flow_control_window(CONNECTION_WINDOW - 65535)

    # -- timers: --keep-alive-timeout and --header-read-timeout ---------------------------

    def _busy(self) -> None:
        """A stream opened: the connection is no longer idle."""
        self._idle_since = None

    def _idle_from(self, now: float) -> None:
        """No stream is open: the keep-alive timeout runs from ``now``."""
        self._idle_since = now
        if self._idle_timer is None and not self.closed:
            self._idle_timer = self.context.clock.callLater(
                self.context.config.keep_alive_timeout, self._idle_check
            )

    def _idle_check(self) -> None:
        """Close a connection with no open stream for ``keep_alive_timeout`` seconds.

        The timer runs as long as the connection does (one per connection); a
        busy connection just looks again a timeout later.
        """
        self._idle_timer = None
        if self.closed or self.draining:
            return
        timeout = self.context.config.keep_alive_timeout
        now = self.context.clock.seconds()
        if self.streams or self._head_since is not None:
            self._idle_since = None  # busy, or --header-read-timeout decides
        elif self._idle_since is None:
            self._idle_since = now
        since = self._idle_since
        if since is None or since + timeout > now:
            delay = timeout if since is None else since + timeout - now
            self._idle_timer = self.context.clock.callLater(delay, self._idle_check)
            return
        # RFC 9113 §6.8: GOAWAY(NO_ERROR) with the last stream we processed, then close.
        self.conn.close_connection(h2.errors.ErrorCodes.NO_ERROR)
        self._close_all()
        self._goodbye()

    def _track_header_block(self) -> None:
        """Time an unfinished header block (HEADERS waiting for CONTINUATION)."""
        # h2 keeps the frames of a header block in its frame buffer until
        # END_HEADERS; it has no public way to ask whether one is pending.
        pending = bool(getattr(self.conn.incoming_buffer, "_headers_buffer", None))
        if not pending:
            self._head_since = None
            return
        if self._head_since is None:
            self._head_since = self.context.clock.seconds()
        if self._head_timer is None:
            self._head_timer = self.context.clock.callLater(
                self.context.config.header_read_timeout, self._head_check
            )

    def _head_check(self) -> None:
        self._head_timer = None
        started = self._head_since
        if started is None or self.closed:
            return
        remaining = started + self.context.config.header_read_timeout
        remaining -= self.context.clock.seconds()
        if remaining > 0:
            self._head_timer = self.context.clock.callLater(remaining, self._head_check)
            return
        logger.info(
            "HTTP/2 client %s: header block not finished in %ss; closing the connection",
            self.facts_kwargs.get("client"),
            self.context.config.header_read_timeout,
        )
        self.conn.close_connection(h2.errors.ErrorCodes.NO_ERROR)
        self.flush()
        self._close_all()
        self.channel.close()

    def _cancel_timers(self) -> None:
        for name in ("_idle_timer", "_head_timer"):
            timer = getattr(self, name)
            setattr(self, name, None)
            if timer is not None and timer.active():
                timer.cancel()

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

    def data_sent(self, length: int) -> None:
        """A stream sent ``length`` bytes of DATA."""
        self._data_sent += length

    def wait_for_connection_window(self, stream: Any) -> None:
        """``stream`` has bytes to send: pump it when the connection window opens."""
        self._starved[stream.stream_id] = stream

    def _connection_window_opened(self) -> None:
        """Pump the streams waiting for the connection window, oldest first, while it lasts.

        Only those streams are touched, so a connection-level WINDOW_UPDATE costs
        the same however many idle streams are open.  A stream that uses the window
        up puts itself back at the end of the line.
        """
        starved = self._starved
        conn = self.conn
        while starved and conn.outbound_flow_control_window > 0:
            stream_id = next(iter(starved))
            stream = starved.pop(stream_id)
            if self.streams.get(stream_id) is stream:
                stream.pump()

    def reset_stream(self, stream_id: int, code: int = h2.errors.ErrorCodes.INTERNAL_ERROR) -> None:
        try:
            self.conn.reset_stream(stream_id, code)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, KeyError):
            pass
        self.flush()
        self._starved.pop(stream_id, None)
        if self.streams.pop(stream_id, None) is not None:
            # The last stream of a draining connection may end this way too.
            self._close_when_idle()

    def stream_finished(self, stream: Any, reset_code: int | None = None) -> None:
        """A stream's response is complete; ``reset_code``: reset it too (its request is not)."""
        self._starved.pop(stream.stream_id, None)
        if self.streams.pop(stream.stream_id, None) is not None:
            self._completed += 1
        if reset_code is not None:
            self.reset_stream(stream.stream_id, reset_code)
        if not self.streams:
            self._idle_from(self.context.clock.seconds())
        self._close_when_idle()

    def _close_when_idle(self) -> None:
        """After our GOAWAY or the client's, close once no stream is left."""
        if not self.streams:
            if self.draining:
                self._goodbye()
            elif self._client_left:
                self.flush()
                self.channel.close()

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
        self._track_header_block()
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
        """Count a frame that made us do nothing useful; False once the client overdid it."""
        self._idle_frames += 1
        allowance = (
            _IDLE_FRAME_ALLOWANCE + 10 * self._opened + self._data_sent // _BYTES_PER_IDLE_FRAME
        )
        if self._idle_frames > allowance:
            self._calm_down(
                "too many frames that make no work (PING, SETTINGS, PRIORITY, WINDOW_UPDATE"
                " or empty DATA flood)"
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
            ended = event.stream_ended is not None
            if not event.data and not ended and not self._count_idle_frame():
                return
            stream = self.streams.get(event.stream_id)
            if stream is None:
                self.acknowledge(event.stream_id, event.flow_controlled_length)
            else:
                # A DATA frame with END_STREAM ends the body in the same message;
                # the StreamEnded event h2 adds for it then finds the body done.
                stream.feed_body(event.data, event.flow_controlled_length, ended)
        elif isinstance(event, h2.events.RequestReceived):
            self._request(event)
        elif isinstance(event, h2.events.StreamEnded):
            stream = self.streams.get(event.stream_id)
            if stream is not None and not stream.request_ended:
                stream.feed_body(b"", 0, True)
        elif isinstance(event, h2.events.StreamReset):
            stream = self.streams.pop(event.stream_id, None)
            self._starved.pop(event.stream_id, None)
            if stream is not None:
                stream.reset()
                self._resets += 1
                if self._resets > _RESET_ALLOWANCE + 2 * self._completed:
                    self._calm_down("too many streams reset before an answer (rapid reset)")
                    return
            self._close_when_idle()
        elif isinstance(event, h2.events.PingReceived):
            self._count_idle_frame()
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            if (
                self._count_idle_frame()
                and h2.settings.SettingCodes.INITIAL_WINDOW_SIZE in event.changed_settings
            ):
                # Every stream's window moved (RFC 9113 §6.9.2).
                for stream in list(self.streams.values()):
                    stream.pump()
        elif isinstance(event, h2.events.WindowUpdated):
            sent = self._data_sent
            if event.stream_id == 0:
                self._connection_window_opened()
            else:
                stream = self.streams.get(event.stream_id)
                if stream is not None:
                    stream.pump()
            if self._data_sent == sent:
                self._count_idle_frame()  # nothing was waiting for that window
        elif isinstance(event, h2.events.PriorityUpdated):
            self._count_idle_frame()  # priorities are advisory; we do not act on them
        elif isinstance(event, h2.events.ConnectionTerminated):
            if event.error_code == h2.errors.ErrorCodes.NO_ERROR and self.streams:
                # The client is leaving gracefully: answer what it asked first (§6.8).
                self._client_left = True
                return
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
        self._open_connection_window()
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
        raw_method = pseudo.get(b":method")
        if raw_method is None:
            self.conn.reset_stream(stream_id, h2.errors.ErrorCodes.PROTOCOL_ERROR)
            return
        try:
            # The same grammar as HTTP/1.1's request line: a control byte in :path or a
            # method that is not a token is a 400, not something for the app to see.
            check_request_target(raw_method, target)
        except BadRequest as error:
            target_problem: BadRequest | None = error
            # Only for the 400's scope and access-log line (which escapes what it must).
            method = raw_method.decode("latin-1")
            path, _, query = (
                target.decode("latin-1").encode("ascii", "backslashreplace").partition(b"?")
            )
        else:
            target_problem = None
            method = raw_method.decode("ascii")
            path, _, query = target.partition(b"?")
        connect_protocol = pseudo.get(b":protocol")
        if connect_protocol is not None and method == "CONNECT" and target_problem is None:
            self._open_websocket(stream_id, connect_protocol, path, query, headers, ended)
            return
        problem, declared_length = _check_request_fields(headers)
        problem = target_problem or problem
        if ended:
            declared_length = None  # no body follows, whatever the header says
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
        stream = H2Stream(self, stream_id, scope, declared_length, list(pseudo.items()))
        self.streams[stream_id] = stream
        self._busy()
        if problem is not None:
            stream.stream.error(problem.status, problem.reason)
            return
        stream.start()
        if ended:
            stream.feed_body(b"", 0, True)
        else:
            stream.stream.await_body()

    def push(self, parent: H2Stream, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        """Promise ``path`` on ``parent`` and serve it as a new stream (RFC 9113 §8.4)."""
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
            *h2_response_fields(headers),
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
        from .h2_websocket import ConnectHead, H2WebSocketStream, connect_problem, refuse_connect

        problem = connect_problem(connect_protocol, headers)
        if problem is None and ended:
            problem = BadRequest("A WebSocket CONNECT stream cannot end at once")
        if problem is not None:
            refuse_connect(self, stream_id, problem)
            return
        stream = H2WebSocketStream(self, stream_id, ConnectHead(path, query, headers))
        self.streams[stream_id] = stream
        self._busy()
        stream.start()

    # -- endings --------------------------------------------------------------------

    def _close_all(self) -> None:
        self.closed = True
        self._cancel_timers()
        self._starved.clear()
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
