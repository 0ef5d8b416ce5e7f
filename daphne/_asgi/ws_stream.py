"""``WebSocketStream``: one WebSocket as ASGI, the same over HTTP/1.1 and HTTP/2.

An HTTP/1.1 request asking for ``Upgrade: websocket`` is parsed and validated
once by the HTTP layer; :func:`handshake_problem` checks the WebSocket-specific
headers, and a :class:`WebSocketStream` then takes the connection over.  Over
HTTP/2 (RFC 8441) the same class runs on an extended-CONNECT stream
(:mod:`daphne._wire.h2_websocket` overrides only the four ``_write_*`` methods that
frame the handshake answer: ``101`` over HTTP/1.1, ``:status 200`` over HTTP/2).

It alone owns the WebSocket rules: refusing at capacity (``--limit-concurrency``),
the handshake's ``Server``/``Date`` defaults and header grammar (via the
cycle and :mod:`daphne._asgi.headers`), denial responses, error pages, the
connect/lifetime/ping/close timers, message size limits (the engine), read
backpressure and the access-log records.  It joins the sans-IO framing engine
(:mod:`daphne._asgi.ws_engine`), the ASGI state machine (:mod:`daphne._asgi.ws_cycle`)
and the application instance (:mod:`daphne._asgi.application`).  The channel it runs
on provides ``write``/``drained``/``pause_reading``/``resume_reading``/``close``/``abort``.

Read backpressure (the same over HTTP/1.1 and HTTP/2, whose channels pause
the socket or withhold stream credit):

* Rule 1: received bytes go into the engine raw; events are taken from it
  only while the app has at most ``read_high_water`` bytes and
  ``MAX_QUEUED_MESSAGES`` messages unread (the message being assembled counts,
  decompressed), and while no pong waits for the client to read (``drained()``).
* Rule 2: the channel is paused while more than ``read_high_water`` raw bytes
  wait in the engine, before the handshake answer as after it; so one
  connection holds at most about twice ``read_high_water`` plus one read (or
  one HTTP/2 window) of input, and one message over the mark.

Covered by ``tests/unit/test_ws_protocol.py``, ``tests/integration/test_websocket_functional.py``
and ``tests/integration/test_protocol_matrix.py``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from collections.abc import Awaitable
from typing import Any

from .._errors import BadRequest
from .application import ApplicationInstance
from .headers import with_defaults
from .http_stream import INPUT_TURN, MAX_QUEUED_MESSAGES
from .responses import error_headers, error_page, status_line
from .scope import RequestFacts, build_websocket_scope
from .traffic_log import debug_event
from .ws_cycle import WebSocketCycle, WSState
from .ws_engine import (
    Closed,
    Deflate,
    Event,
    Failed,
    Message,
    Ping,
    Pong,
    WebSocketEngine,
    negotiate_deflate,
)

logger = logging.getLogger("daphne.ws_protocol")

__all__ = ["WebSocketStream", "handshake_problem"]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _header_values(headers: list[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    return [value for key, value in headers if key == name]


def handshake_problem(head: Any) -> BadRequest | None:
    """Why an ``Upgrade: websocket`` request cannot be accepted, or None (RFC 6455 §4.2.1)."""
    if head.method != "GET" or head.http_version != "1.1":
        return BadRequest("WebSocket upgrades need a GET request over HTTP/1.1")
    connection = b",".join(_header_values(head.headers, b"connection")).lower()
    if b"upgrade" not in [token.strip() for token in connection.split(b",")]:
        return BadRequest("WebSocket upgrade without 'Connection: Upgrade'")
    versions = _header_values(head.headers, b"sec-websocket-version")
    if versions != [b"13"]:
        return BadRequest("Unsupported WebSocket version (only 13 is supported)", 426)
    keys = _header_values(head.headers, b"sec-websocket-key")
    try:
        if len(keys) != 1 or len(base64.b64decode(keys[0], validate=True)) != 16:
            raise ValueError
    except (ValueError, binascii.Error):
        return BadRequest("Missing or invalid Sec-WebSocket-Key")
    if head.content_length or head.chunked:
        return BadRequest("WebSocket upgrade requests carry no body")
    return None


class WebSocketStream:
    """One WebSocket bridged to one application instance (see the module).

    Public as :class:`daphne.ws_protocol.WebSocketProtocol` (Daphne's name).
    Implements :class:`~daphne._asgi.ws_cycle.WebSocketWriter`.

    :ivar scope: the ASGI websocket scope.
    :ivar engine: the framing engine (frames received before the answer wait in it).
    """

    def __init__(self, channel: Any, context: Any, head: Any, facts_kwargs: dict[str, Any]) -> None:
        self.channel = channel
        self.context = context
        self.config = context.config
        self.head = head
        facts = RequestFacts.from_head(head, facts_kwargs)
        self.scope = build_websocket_scope(
            facts, self.config, context.lifespan_state, channel.tls_info()
        )
        self.cycle = WebSocketCycle(self, self.scope["subprotocols"])
        self._deflate: Deflate | None = (
            negotiate_deflate(_header_values(head.headers, b"sec-websocket-extensions"))
            if self.config.websocket_per_message_deflate
            else None
        )
        # Created now so that frames sent before the answer (allowed) wait in
        # it, bounded like any unread input; events flow once ``_open``.
        self.engine = WebSocketEngine(
            self.config.websocket_max_message_size,
            self.config.websocket_max_frame_size,
            self._deflate,
        )
        self._open = False
        self._queued = 0
        self._queued_messages = 0
        self._stalled = False
        #: A protocol error found behind messages the app has not read yet: (code, reason).
        self._failure: tuple[int, str] | None = None
        #: When this connection's current share of the loop began (see _message_received).
        self._turn_started = 0.0
        self._refill_scheduled = False
        self._write_waiter: Awaitable[None] | None = None
        self._reading_paused = False
        self._last_inbound = self._opened_at = context.clock.seconds()
        self._ping_sent_at: float | None = None
        self._timers: dict[str, Any] = {}
        self._finished = False
        self.instance: ApplicationInstance | None = None

    # -- start ------------------------------------------------------------------

    def start(self) -> None:
        """Refuse at capacity, or run the application and send it ``websocket.connect``."""
        context = self.context
        if context.at_capacity():
            self._finished = True
            self._write_http_error(
                503, "The server is at capacity; retry shortly", [(b"Retry-After", b"1")]
            )
            return
        instance = ApplicationInstance(
            self.scope,
            self.handle_reply,
            self._app_exited,
            context.clock,
            self.config.application_close_timeout,
            context.registry,
            on_receive=self._message_received,
        )
        self.instance = instance
        instance.put({"type": "websocket.connect"})
        self._log("connecting")
        deadline = self.config.websocket_accept_deadline
        if deadline is not None:
            self._set_timer("connect", deadline, self._connect_timed_out)
        try:
            instance.start(context.application, context.loop)
        except Exception:
            logger.exception("Exception when calling application")
            self.instance = None
            self._http_error(500, "Exception inside application.")

    # -- bytes from the client ------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._finished:
            return
        if self._open:
            self.engine.feed(data)
            self._last_inbound = self._turn_started = self.context.clock.seconds()
            self._pump()
        elif self.cycle.state is WSState.CONNECTING:
            # Frames sent before our answer (allowed to be pipelined) wait for it.
            self.engine.feed(data)
            self._update_reading()

    def _pump(self) -> None:
        """Turn buffered bytes into events while the app and the client keep up.

        Stops while the app has more than ``read_high_water`` bytes or
        ``MAX_QUEUED_MESSAGES`` messages unread (the message being assembled,
        after decompression, counts too), or while our answers to pings wait
        for the client to read; then the input stays raw in the engine.
        """
        engine = self.engine
        high_water = self.config.read_high_water
        while (
            self._open
            and not self._finished
            and self._write_waiter is None
            and self._failure is None
        ):
            if self._queued > high_water or self._queued_messages > MAX_QUEUED_MESSAGES:
                self._stalled = True
                break
            event = engine.next_event(high_water - self._queued if self._queued_messages else -1)
            if event is None:
                self._stalled = engine.over_budget
                break
            self._handle_event(event)
        self._update_reading()

    def _refill(self) -> None:
        """A new loop turn: go on turning input into messages for the app."""
        self._refill_scheduled = False
        self._turn_started = self.context.clock.seconds()
        self._pump()

    def _handle_event(self, event: Event) -> None:
        if isinstance(event, Message):
            self._deliver(event.data)
        elif isinstance(event, Ping):
            self.channel.write(self.engine.send_pong(event.payload))
            self._watch_write_side()
        elif isinstance(event, Pong):
            self._ping_sent_at = None
        elif isinstance(event, Closed):
            self._peer_closed(event)
        elif isinstance(event, Failed):
            if self._queued_messages:
                # Messages that came before the error still reach the app (and it may
                # answer them, as RFC 6455 clients such as Autobahn expect); the
                # connection fails once it has read them, or after the close timeout.
                self._failure = (event.code, event.reason)
                self._set_timer("failure", self.config.websocket_close_timeout, self._fail_now)
            else:
                self._fail(event.code, event.reason)

    def _watch_write_side(self) -> None:
        """Read no further while what we owe the client is backed up (pongs)."""
        waiter = self.channel.drained()
        if waiter is not None:
            self._write_waiter = waiter
            waiter.add_done_callback(self._write_drained)  # type: ignore[attr-defined]

    def _write_drained(self, _: object) -> None:
        self._write_waiter = None
        self._pump()

    def _update_reading(self) -> None:
        """Pause the channel while more than ``read_high_water`` raw bytes wait in the engine."""
        if self._finished:
            return  # the connection is closing: leave it as it is
        pause = self.engine.buffered > self.config.read_high_water
        if pause != self._reading_paused:
            self._reading_paused = pause
            if pause:
                self.channel.pause_reading()
            else:
                self.channel.resume_reading()

    def _deliver(self, data: str | bytes) -> None:
        instance = self.instance
        if instance is None or instance.closed:
            return
        key = "text" if isinstance(data, str) else "bytes"
        instance.put({"type": "websocket.receive", key: data})
        self._queued += len(data)
        self._queued_messages += 1

    def _message_received(self, message: dict[str, Any]) -> None:
        if message["type"] != "websocket.receive":
            return
        self._queued -= len(message.get("text") or message.get("bytes") or "")
        self._queued_messages -= 1
        if self._failure is not None:
            if not self._queued_messages:
                # After the app's handling of this last message, up to its next receive().
                self.context.loop.call_soon(self._fail_now)
            return
        if (
            self._stalled
            and self._queued <= self.config.read_high_water // 2
            and self._queued_messages <= MAX_QUEUED_MESSAGES // 2
        ):
            # Called from the app's receive(): refill its queue at once (a loop
            # turn per refill would cost a fifth of the small-message rate), but
            # only within this turn's share of the loop: an app that never has to
            # wait would otherwise eat a whole flood without letting others run.
            self._stalled = False
            if self.context.clock.seconds() - self._turn_started < INPUT_TURN:
                self._pump()
            elif not self._refill_scheduled:
                self._refill_scheduled = True
                self.context.loop.call_soon(self._refill)

    def _peer_closed(self, event: Closed) -> None:
        engine = self.engine
        if not engine.close_sent:
            # Echo the peer's code (RFC 6455 §5.5.1), then end the connection.
            self.channel.write(engine.send_close(None if event.code == 1005 else event.code))
        self._finish(event.code, event.reason)
        self.channel.close()

    def _fail_now(self) -> None:
        failure, self._failure = self._failure, None
        if failure is not None and not self._finished:
            self._cancel_timer("failure")
            self._fail(*failure)

    def _fail(self, code: int, reason: str) -> None:
        engine = self.engine
        if not engine.close_sent:
            self.channel.write(engine.send_close(code, reason))
        self._finish(code, reason)
        self.channel.close()

    def drain(self) -> None:
        """The server is stopping: close an open socket with 1001 (going away)."""
        if self.cycle.state is WSState.OPEN:
            self.close(1001, "server shutting down")

    def connection_lost(self) -> None:
        """The TCP connection is gone (abnormal unless a close handshake finished)."""
        self._finish(1006, "")

    # -- ASGI side ----------------------------------------------------------------

    def handle_reply(self, message: dict[str, Any]) -> Awaitable[None] | None:
        """The app's ``send``."""
        return self.cycle.handle(message)

    def _app_exited(self, exception: BaseException | None) -> None:
        state = self.cycle.state
        self.instance = None
        if self._finished or self.channel.disconnected:
            self.cycle.detach()
            return
        if state is WSState.CONNECTING:
            if exception is not None:
                self._http_error(500, "Exception inside application.")
            else:
                self.reject()
        elif state is WSState.DENYING:
            self._finish(1006, "")
            self.channel.abort()
        elif state is WSState.OPEN:
            self.close(1011 if exception is not None else 1000, "")
        self.cycle.detach()

    # -- WebSocketWriter -------------------------------------------------------------

    def accept(self, subprotocol: str | None, headers: list[tuple[bytes, bytes]]) -> None:
        """Answer the handshake (101, or 200 over HTTP/2) and start framing."""
        self._cancel_timer("connect")
        response: list[tuple[bytes, bytes]] = []
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

    def deny_start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        """Begin an HTTP response instead of the handshake (Denial Response extension)."""
        self._cancel_timer("connect")
        self._log("rejected")
        context = self.context
        self._write_denial_head(
            status, with_defaults(headers, context.date_header(), context.server_name_bytes)
        )

    def fail_handshake(self) -> None:
        """The app's answer to the handshake was invalid: 500 on the next loop turn.

        Deferred so that the app sees the error raised from its ``send`` first.
        """
        self.context.loop.call_soon(self._fail_handshake_now)

    def _fail_handshake_now(self) -> None:
        if not self._finished:
            self._cancel_timer("connect")
            self._http_error(500, "Server Error")

    def deny_body(self, body: bytes, more_body: bool) -> Awaitable[None] | None:
        waiter = self._write_denial_body(body, more_body)
        if not more_body:
            self._finish(1006, "")
            return None
        return waiter

    # -- the wire: HTTP/1.1 (a subclass answers extended CONNECT over HTTP/2) ---------

    def _write_accept(self, headers: list[tuple[bytes, bytes]]) -> None:
        key = _header_values(self.head.headers, b"sec-websocket-key")[0]
        accept_key = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        parts = [
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
            b"Sec-WebSocket-Accept: %s\r\n" % accept_key,
        ]
        parts.extend(b"%s: %s\r\n" % (name, value) for name, value in headers)
        parts.append(b"\r\n")
        self.channel.write(b"".join(parts), flush=True)

    def _write_denial_head(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
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

    def _write_http_error(
        self, status: int, reason: str, extra: list[tuple[bytes, bytes]] | tuple[()] = ()
    ) -> None:
        page = error_page(status, reason)
        headers = self._error_headers(page, extra)
        parts = [status_line("1.1", status)]
        parts.extend(b"%s: %s\r\n" % field for field in headers)
        parts.append(b"Connection: close\r\n\r\n")
        self.channel.write(b"".join(parts) + page, flush=True)
        self.channel.close()

    def _error_headers(
        self, page: bytes, extra: list[tuple[bytes, bytes]] | tuple[()]
    ) -> list[tuple[bytes, bytes]]:
        """The fields of an error page the server answers a handshake with."""
        context = self.context
        return with_defaults(
            [*error_headers(page), *extra], context.date_header(), context.server_name_bytes
        )

    def send_message(self, data: str | bytes) -> Awaitable[None] | None:
        engine = self.engine
        if not self._open or engine.close_sent or self._finished:
            return None
        self.channel.write(engine.send_message(data))
        return self.channel.drained()

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake (server side)."""
        engine = self.engine
        if not self._open or engine.close_sent or self._finished:
            return
        self.channel.write(engine.send_close(code, reason), flush=True)
        self._set_timer("closing", self.config.websocket_close_timeout, self._close_timed_out)

    # -- timers -------------------------------------------------------------------

    def _set_timer(self, name: str, delay: float, callback: Any) -> None:
        self._cancel_timer(name)
        self._timers[name] = self.context.clock.callLater(delay, callback)

    def _cancel_timer(self, name: str) -> None:
        timer = self._timers.pop(name, None)
        if timer is not None and timer.active():
            timer.cancel()

    def _connect_timed_out(self) -> None:
        self._timers.pop("connect", None)
        if self.cycle.state is WSState.CONNECTING:
            logger.warning("WebSocket handshake for %s timed out; rejecting", self.scope["path"])
            self.cycle.give_up()
            self.reject()

    def _lifetime_over(self) -> None:
        self._timers.pop("lifetime", None)
        self.close(1000, "")

    def _ping_check(self) -> None:
        self._timers.pop("ping", None)
        engine = self.engine
        if not self._open or self._finished or engine.close_sent:
            return
        now = self.context.clock.seconds()
        if self._ping_sent_at is not None:
            if now - self._ping_sent_at >= self.config.ping_timeout:
                logger.info(
                    "WebSocket %s: no pong within %ss; dropping",
                    self.scope["path"],
                    self.config.ping_timeout,
                )
                self._finish(1006, "")
                self.channel.abort()
                return
            wait = self._ping_sent_at + self.config.ping_timeout - now
        else:
            idle = now - self._last_inbound
            if idle >= self.config.ping_interval:
                self._ping_sent_at = now
                self.channel.write(engine.send_ping(b"daphne"), flush=True)
                wait = min(self.config.ping_interval, self.config.ping_timeout)
            else:
                wait = self.config.ping_interval - idle
        self._set_timer("ping", wait, self._ping_check)

    def _close_timed_out(self) -> None:
        self._timers.pop("closing", None)
        if not self._finished:
            self._finish(1006, "")
            self.channel.abort()

    # -- endings --------------------------------------------------------------------

    def _http_error(self, status: int, reason: str) -> None:
        self._finish(1006, "")
        self._write_http_error(status, reason)

    def _finish(self, code: int, reason: str) -> None:
        if self._finished:
            return
        self._finished = True
        for name in list(self._timers):
            self._cancel_timer(name)
        instance = self.instance
        if instance is not None:
            instance.close({"type": "websocket.disconnect", "code": code, "reason": reason})
        self._log("disconnected")

    def _log(self, action: str) -> None:
        debug_event(logger, "WebSocket", action, self.scope)
        if self.context.action_logger is not None:
            client = self.scope["client"]
            self.context.log_action(
                "websocket",
                action,
                {
                    "path": self.scope["path"],
                    "client": f"{client[0]}:{client[1]}" if client else None,
                    # For --access-log-format / --log-json (daphne.access).
                    "query_string": self.scope["query_string"],
                    "http_version": self.scope["http_version"],
                    "request_headers": self.scope["headers"],
                    "time_taken": self.context.clock.seconds() - self._opened_at,
                },
            )
