"""The timeouts of an HTTP/1.x connection: keep-alive and request-head read.

``HTTP1Timeouts`` is mixed into :class:`~daphne._wire.http1.HTTP1Connection`,
as Twisted's ``TimeoutMixin`` is into protocols.  One timer of each kind per
connection, re-armed from its own callback rather than cancelled and created
again per request:

* ``--keep-alive-timeout``: a connection idle between requests that long is
  closed; a request in progress (or a head arriving) defers the check;
* ``--header-read-timeout``: a request head (or an ``Upgrade: h2c`` request's
  small body) that takes longer than that to arrive gets a 408 (slowloris).

Covered by ``tests/unit/test_http1.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .._errors import BadRequest
from .http1_state import CONN_CLOSED, CONN_H2C_BODY, CONN_IDLE, ConnState

if TYPE_CHECKING:
    from twisted.internet.interfaces import IDelayedCall

    from .._context import ServerContext

__all__ = ["HTTP1Timeouts"]


class HTTP1Timeouts:
    """Timeout methods of :class:`~daphne._wire.http1.HTTP1Connection` (a mixin).

    The connection provides the attributes declared here; :meth:`_init_timers`
    sets up this side's state.
    """

    context: ServerContext
    disconnected: bool
    state: ConnState
    _buffer: bytes
    _close: Callable[[], None]
    _reject: Callable[[BadRequest, bytes], None]

    def _init_timers(self) -> None:
        self._idle_timer: IDelayedCall | None = None
        self._idle_since = 0.0
        #: When the request head now arriving began to (None while none is).
        self._head_started_at: float | None = None
        self._head_timer: IDelayedCall | None = None

    def _enter_idle(self) -> None:
        self.state = CONN_IDLE
        self._idle_since = self.context.clock.seconds()
        if self._idle_timer is None:
            self._idle_timer = self.context.clock.callLater(
                self.context.config.keep_alive_timeout, self._idle_check
            )

    def _idle_check(self) -> None:
        self._idle_timer = None
        if self.disconnected or self.state is CONN_CLOSED:
            return
        timeout = self.context.config.keep_alive_timeout
        if self.state is not CONN_IDLE or self._head_started_at is not None:
            # A request is in progress, or its head is arriving (--header-read-timeout
            # bounds that): idleness does not apply; look again later.
            self._idle_timer = self.context.clock.callLater(timeout, self._idle_check)
            return
        remaining = self._idle_since + timeout - self.context.clock.seconds()
        if remaining > 0:
            self._idle_timer = self.context.clock.callLater(remaining, self._idle_check)
        else:
            self._close()

    def _cancel_idle(self) -> None:
        timer, self._idle_timer = self._idle_timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def _start_head_timer(self) -> None:
        """Bound the time a client may take to send a request head (slowloris)."""
        if self._head_started_at is None:
            self._head_started_at = self.context.clock.seconds()
        if self._head_timer is None:
            self._head_timer = self.context.clock.callLater(
                self.context.config.header_read_timeout, self._head_check
            )

    def _head_check(self) -> None:
        self._head_timer = None
        started = self._head_started_at
        waiting = self.state is CONN_IDLE or self.state is CONN_H2C_BODY
        if started is None or self.disconnected or not waiting:
            return
        remaining = started + self.context.config.header_read_timeout - self.context.clock.seconds()
        if remaining > 0:
            self._head_timer = self.context.clock.callLater(remaining, self._head_check)
        else:
            self._reject(BadRequest("Request head not received in time", 408), self._buffer)
