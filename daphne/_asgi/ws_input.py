"""A WebSocket's input: client bytes to ASGI messages, under read backpressure.

:class:`WebSocketInput` is the inbound half of
:class:`~daphne._asgi.ws_stream.WebSocketStream` (one of its base classes: one
object per connection, so that the per-message path costs no extra call or
attribute hop).  Bytes go into the sans-IO engine (:mod:`daphne._asgi.ws_engine`)
raw; events are taken out of it as the application keeps up, pings are
answered, and the messages are queued for the app's ``receive``.

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
* Rule 3: refills from the app's ``receive`` happen at once, but only within
  :data:`~daphne._asgi.http_input.INPUT_TURN` of the loop per turn; then the
  next refill waits for the next loop iteration, so one connection's flood
  cannot starve the others.
* Rule 4: a protocol error behind messages the app has not read yet waits for
  the app to read them (or for ``websocket_close_timeout``) before the
  connection fails.

Covered by ``tests/unit/test_ws_protocol.py`` and ``tests/integration/test_websocket_limits.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .._types import Message
from .http_input import INPUT_TURN, MAX_QUEUED_MESSAGES
from .ws_cycle import WS_CONNECTING, WebSocketCycle
from .ws_engine import Closed, Event, Failed, Ping, Pong
from .ws_engine import Message as DataMessage

if TYPE_CHECKING:
    from .._config import ServerConfig
    from .._context import ServerContext
    from .application import ApplicationInstance
    from .interfaces import WebSocketChannel
    from .ws_engine import WebSocketEngine

__all__ = ["WebSocketInput"]


class WebSocketInput:
    """The inbound side of a ``WebSocketStream`` (see the module).

    The stream provides what is declared under ``TYPE_CHECKING`` below and
    calls :meth:`__init__` from its own.
    """

    if TYPE_CHECKING:
        # Provided by WebSocketStream.
        channel: WebSocketChannel
        context: ServerContext
        config: ServerConfig
        cycle: WebSocketCycle
        engine: WebSocketEngine
        instance: ApplicationInstance | None
        _open: bool
        _finished: bool
        _ping_sent_at: float | None

        def _set_timer(self, name: str, delay: float, callback: Callable[[], None]) -> None: ...

        def _peer_closed(self, event: Closed) -> None: ...

        def _fail(self, code: int, reason: str) -> None: ...

        def _fail_now(self) -> None: ...

    def __init__(self, now: float) -> None:
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
        self._last_inbound = now

    def data_received(self, data: bytes) -> None:
        """(From the channel) bytes from the client."""
        if self._finished:
            return
        if self._open:
            self.engine.feed(data)
            self._last_inbound = self._turn_started = self.context.clock.seconds()
            self._pump()
        elif self.cycle.state is WS_CONNECTING:
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
        if isinstance(event, DataMessage):
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
            # Both channels hand out an asyncio.Future (returned as it is).
            future = asyncio.ensure_future(waiter)
            self._write_waiter = future
            future.add_done_callback(self._write_drained)

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

    def _message_received(self, message: Message) -> None:
        """(From the application instance) the app's ``receive`` took ``message``."""
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
