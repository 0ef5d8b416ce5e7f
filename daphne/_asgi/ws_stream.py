"""``WebSocketStream``: one WebSocket as ASGI, the same over HTTP/1.1 and HTTP/2.

An HTTP/1.1 request asking for ``Upgrade: websocket`` is parsed and validated
once by the HTTP layer; :func:`~daphne._asgi.ws_handshake.handshake_problem`
checks the WebSocket-specific headers, and a :class:`WebSocketStream` then takes
the connection over.  Over HTTP/2 (RFC 8441) the same class runs on an
extended-CONNECT stream (:mod:`daphne._wire.h2_websocket` overrides only the four
``_write_*`` methods that frame the handshake answer: ``101`` over HTTP/1.1,
``:status 200`` over HTTP/2).

It alone owns the WebSocket rules: refusing at capacity (``--limit-concurrency``),
the connect/lifetime/ping/close timers, message size limits (the engine), the
closing handshake and the access-log records.  It joins the sans-IO framing engine
(:mod:`daphne._asgi.ws_engine`), the ASGI state machine (:mod:`daphne._asgi.ws_cycle`)
and the application instance (:mod:`daphne._asgi.application`); its base classes
answer the opening handshake (:class:`~daphne._asgi.ws_handshake.WebSocketHandshake`:
``Server``/``Date`` defaults, denial responses, error pages) and turn input into
messages under read backpressure (:class:`~daphne._asgi.ws_input.WebSocketInput`).
The channel it runs on is a :class:`~daphne._asgi.interfaces.WebSocketChannel`.

Closing: the peer's close frame is echoed and the connection closed; the app's
``websocket.close`` (or the end of its lifetime, or shutdown's 1001) sends ours
and waits ``websocket_close_timeout`` for the peer's before dropping; a protocol
error sends a close with its code and closes.

Covered by ``tests/unit/test_ws_protocol.py``, ``tests/integration/test_websocket_functional.py``
and ``tests/integration/test_protocol_matrix.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .._types import Message, Timer
from .application import ApplicationInstance
from .scope import RequestFacts, build_websocket_scope
from .traffic_log import debug_event
from .ws_cycle import WS_CONNECTING, WS_DENYING, WS_OPEN, WebSocketCycle
from .ws_engine import Closed, WebSocketEngine, negotiate_deflate
from .ws_handshake import WebSocketHandshake, handshake_problem, header_values
from .ws_input import WebSocketInput

if TYPE_CHECKING:
    from .._context import ServerContext
    from .interfaces import ParsedHead, WebSocketChannel
    from .ws_deflate import Deflate

logger = logging.getLogger("daphne.ws_protocol")

__all__ = ["WebSocketStream", "handshake_problem"]


class WebSocketStream(WebSocketInput, WebSocketHandshake):
    """One WebSocket bridged to one application instance (see the module).

    Public as :class:`daphne.ws_protocol.WebSocketProtocol` (Daphne's name).
    Implements :class:`~daphne._asgi.interfaces.WebSocketWriter`.

    :ivar scope: the ASGI websocket scope.
    :ivar engine: the framing engine (frames received before the answer wait in it).
    """

    def __init__(
        self,
        channel: WebSocketChannel,
        context: ServerContext,
        head: ParsedHead,
        facts_kwargs: dict[str, Any],  # Any: the connection's client, server and secure values
    ) -> None:
        now = context.clock.seconds()
        WebSocketInput.__init__(self, now)
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
            negotiate_deflate(header_values(head.headers, b"sec-websocket-extensions"))
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
        self._opened_at = now
        self._ping_sent_at: float | None = None
        self._timers: dict[str, Timer] = {}
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

    # -- closing ----------------------------------------------------------------------

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
        if self.cycle.state is WS_OPEN:
            self.close(1001, "server shutting down")

    def connection_lost(self) -> None:
        """The TCP connection is gone (abnormal unless a close handshake finished)."""
        self._finish(1006, "")

    # -- ASGI side ----------------------------------------------------------------

    def handle_reply(self, message: Message) -> Awaitable[None] | None:
        """The app's ``send``."""
        return self.cycle.handle(message)

    def _app_exited(self, exception: BaseException | None) -> None:
        state = self.cycle.state
        self.instance = None
        if self._finished or self.channel.disconnected:
            self.cycle.detach()
            return
        if state is WS_CONNECTING:
            if exception is not None:
                self._http_error(500, "Exception inside application.")
            else:
                self.reject()
        elif state is WS_DENYING:
            self._finish(1006, "")
            self.channel.abort()
        elif state is WS_OPEN:
            self.close(1011 if exception is not None else 1000, "")
        self.cycle.detach()

    # -- WebSocketWriter: messages and our side of the closing handshake -------------

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

    def _set_timer(self, name: str, delay: float, callback: Callable[[], None]) -> None:
        self._cancel_timer(name)
        self._timers[name] = self.context.clock.callLater(delay, callback)

    def _cancel_timer(self, name: str) -> None:
        timer = self._timers.pop(name, None)
        if timer is not None and timer.active():
            timer.cancel()

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
