"""HTTP/2 (RFC 9113) on one connection, with the ``h2`` library as the engine.

``H2Protocol`` takes a connection over from :class:`~daphne._wire.http1.HTTP1Connection`
when TLS negotiated ``h2`` by ALPN or a cleartext connection opened with the
HTTP/2 preface (prior knowledge).  Every stream is its own application
instance, scoped by the same :mod:`daphne._asgi.scope` builder as HTTP/1.1 and
driven by the same :class:`~daphne._asgi.http_stream.HTTPStream`.  This module
holds the hot path: h2 events in, the stream table, flow control; the
connection's settings and h2 amendments are :mod:`daphne._wire.h2_connection`'s,
its timeouts, abuse limits and endings :mod:`daphne._wire.h2_lifetime`'s.

Flow control both ways: request body bytes are acknowledged to the client
(opening its window) only as the app receives them; response bodies are sent
within the client's windows and ``send`` waits while a window is exhausted.
A stream stopped by the *connection* window waits in line (``_starved``) and
is pumped, oldest first, when that window opens.

Covered by ``tests/integration/test_http2_functional.py`` and ``tests/unit/test_h2_pipeline.py``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import h2.errors
import h2.events
import h2.exceptions
import h2.settings

from .._asgi.scope import RequestFacts, build_http_scope
from .h2_connection import FrameIgnored, StreamMalformed, new_connection
from .h2_fields import Malformed, check_trailers, request_fields
from .h2_lifetime import RESET_ALLOWANCE, H2Lifetime
from .h2_stream import H2Sender, H2Stream

if TYPE_CHECKING:
    from .._context import ConnectionFacts, ServerContext
    from .h2_websocket import H2WebSocketStream
    from .http1 import HTTP1Connection

logger = logging.getLogger("daphne.http_protocol")

__all__ = ["PREFACE", "H2Protocol"]

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#: The connection-level receive window we announce (streams keep the 64 KiB default).
CONNECTION_WINDOW = 1024 * 1024


class H2Protocol(H2Lifetime):
    """One HTTP/2 connection: the ``h2`` state machine and its streams.

    :ivar channel: the connection it speaks on (reads, writes, backpressure).
    :ivar facts: ``client``, ``server`` and ``secure`` of the connection.
    :ivar streams: the open streams by id.
    """

    def __init__(
        self, channel: HTTP1Connection, context: ServerContext, facts: ConnectionFacts
    ) -> None:
        self.channel = channel
        self.context = context
        self.facts = facts
        self.streams: dict[int, H2Stream | H2WebSocketStream] = {}
        #: DATA payload bytes sent on all streams (earns idle-frame allowance).
        self._data_sent = 0
        #: Streams with bytes to send stopped by the connection window, in arrival order.
        self._starved: dict[int, H2Sender] = {}
        #: The client sent GOAWAY(NO_ERROR): close once its open streams are answered.
        self._client_left = False
        self._init_lifetime()
        self.conn = new_connection(context.config)

    def start(self, data: bytes = b"") -> None:
        self.conn.initiate_connection()
        self.open_connection_window()
        self.flush()
        self._idle_from(self.context.clock.seconds())
        if data:
            self.data_received(data)

    def open_connection_window(self) -> None:
        """Widen the connection's receive window from 64 KiB to :data:`CONNECTION_WINDOW`.

        Read backpressure withholds a paused stream's credit, and that credit is
        the connection's too: with the default window one stream whose app reads
        late would stall every upload on the connection.  Each stream stays
        bounded by its own 64 KiB window; the wider connection window lets
        :data:`CONNECTION_WINDOW` / 64 KiB of them be paused at once.
        """
        self.conn.increment_flow_control_window(CONNECTION_WINDOW - 65535)

    # -- flow control -----------------------------------------------------------------

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

    def wait_for_connection_window(self, stream: H2Sender) -> None:
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

    # -- the stream table -------------------------------------------------------------

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

    def stream_finished(self, stream: H2Sender, reset_code: int | None = None) -> None:
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
        # Once closed, the channel is closed too and hands on no more bytes.
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError as error:
            self._protocol_error(error)
            return
        if self.conn.refused > RESET_ALLOWANCE + 2 * self._completed:
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

    def _dispatch(self, event: h2.events.Event) -> None:
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
                if not self._count_reset("too many streams reset before an answer (rapid reset)"):
                    return
            self._close_when_idle()
        elif isinstance(event, h2.events.TrailersReceived):
            try:
                check_trailers(event.headers)
            except Malformed as error:
                self._malformed(event.stream_id, error)
        elif isinstance(event, StreamMalformed):
            # Already reset by the connection (see daphne._wire.h2_connection).
            if event.flow_controlled_length:
                self.acknowledge(event.stream_id, event.flow_controlled_length)
            self._malformed(event.stream_id, Malformed(event.reason))
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
        elif isinstance(event, (FrameIgnored, h2.events.UnknownFrameReceived)):
            self._count_idle_frame()  # on a closed stream, or of a type we do not know
        elif isinstance(event, h2.events.ConnectionTerminated):
            if event.error_code == h2.errors.ErrorCodes.NO_ERROR and self.streams:
                # The client is leaving gracefully: answer what it asked first (§6.8).
                self._client_left = True
                return
            self._close_all()
            self.channel.close()

    def _count_reset(self, why: str) -> bool:
        """Count a stream that ended unanswered; False once the client overdid it."""
        self._resets += 1
        if self._resets > RESET_ALLOWANCE + 2 * self._completed:
            self._calm_down(why)
            return False
        return True

    def _malformed(self, stream_id: int, error: Malformed) -> None:
        """RFC 9113 §8.1.1: a malformed request or trailer section is a stream error.

        ``RST_STREAM(PROTOCOL_ERROR)`` on that stream; the others go on.  Such
        streams count as reset before an answer: a client sending them in a loop
        is told to calm down like a rapid-reset one.
        """
        logger.debug("HTTP/2 stream %d malformed: %s", stream_id, error)
        stream = self.streams.get(stream_id)
        self.reset_stream(stream_id, h2.errors.ErrorCodes.PROTOCOL_ERROR)
        if stream is not None:
            stream.reset()
        self._count_reset("too many malformed requests")

    # -- new streams ------------------------------------------------------------------

    def _request(self, event: h2.events.RequestReceived) -> None:
        self._opened += 1
        if self.draining and event.stream_id > self._last_stream_id:
            self.reset_stream(event.stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
            return
        self.open_stream(
            event.stream_id, event.headers, event.stream_ended is not None, header_block=True
        )

    def _extensions(self, pushed: bool) -> dict[str, dict[str, object]]:
        """The ``extensions`` of a stream's scope: what works on this connection."""
        extensions: dict[str, dict[str, object]] = {
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

    def open_stream(
        self,
        stream_id: int,
        raw_headers: list[tuple[bytes, bytes]],
        ended: bool,
        pushed: bool = False,
        header_block: bool = False,
    ) -> None:
        """Start a request stream from its fields (a request, an h2c upgrade or a push).

        ``header_block``: the fields came in a HEADERS frame, so RFC 9113's rules
        apply (see :mod:`daphne._wire.h2_fields`); those of an upgraded HTTP/1.1
        request or a push get the request grammar only.
        """
        try:
            pseudo, headers, target_problem, problem, declared_length = request_fields(
                raw_headers, header_block
            )
        except Malformed as error:
            self._malformed(stream_id, error)
            return
        target = pseudo.get(b":path", b"/")
        raw_method = pseudo[b":method"]
        if target_problem is not None:
            # Only for the 400's scope and access-log line (which escapes what it must).
            method = raw_method.decode("latin-1")
            path, _, query = (
                target.decode("latin-1").encode("ascii", "backslashreplace").partition(b"?")
            )
        else:
            method = raw_method.decode("ascii")
            path, _, query = target.partition(b"?")
        connect_protocol = pseudo.get(b":protocol")
        if connect_protocol is not None and method == "CONNECT" and target_problem is None:
            from .h2_websocket import open_websocket  # RFC 8441: rare, loaded when used

            open_websocket(self, stream_id, connect_protocol, path, query, headers, ended, problem)
            return
        problem = target_problem or problem
        if ended:
            declared_length = None  # no body follows, whatever the header says
        facts = RequestFacts(
            method=method,
            path=path,
            query_string=query,
            http_version="2",
            headers=headers,
            **self.facts,
        )
        scope = build_http_scope(
            facts, self.context.config, self.context.lifespan_state, self._extensions(pushed)
        )
        scheme = pseudo.get(b":scheme")
        if scheme in (b"http", b"https") and not self.context.config.proxy_forwarded_address_header:
            scope["scheme"] = scheme.decode("ascii")
        stream = H2Stream(self, stream_id, scope, declared_length, list(pseudo.items()))
        self.streams[stream_id] = stream
        self._idle_since = None  # busy
        if problem is not None:
            stream.stream.error(problem.status, problem.reason)
            return
        stream.start()
        if ended:
            stream.feed_body(b"", 0, True)
        else:
            stream.stream.await_body()
