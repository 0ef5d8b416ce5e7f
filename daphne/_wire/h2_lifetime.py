"""How an HTTP/2 connection ends: timeouts, abuse limits, errors, graceful drain.

``H2Lifetime`` is mixed into :class:`~daphne._wire.http2.H2Protocol`:

* ``--keep-alive-timeout``: a connection with no open stream that long gets
  ``GOAWAY(NO_ERROR)`` and is closed; ``--header-read-timeout``: a header
  block (HEADERS waiting for CONTINUATION) that takes longer is closed too.
  One timer of each per connection, re-armed from its own callback;
* abuse (RFC 9113 §10.5): frames that make the server do no useful work
  (PING, SETTINGS, PRIORITY, empty DATA, a WINDOW_UPDATE that lets nothing be
  sent, a frame of an unknown type or one on a closed stream) beyond an allowance that grows with useful work, streams reset before
  an answer (rapid reset, CVE-2023-44487) and streams opened past the
  concurrency limit are answered with ``GOAWAY(ENHANCE_YOUR_CALM)``;
* a connection error: h2's ``GOAWAY`` (with the error code corrected, see
  :meth:`~daphne._wire.h2_connection.ServerConnection.error_data`), then close;
* the server stopping: ``GOAWAY`` with the last stream id, the open streams
  may finish, new ones are refused (RFC 9113 §6.8).

Covered by ``tests/integration/test_h2_hardening.py``,
``tests/integration/test_http2_functional.py`` and ``tests/unit/test_h2_pipeline.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import h2.errors

from .h2_connection import goaway
from .h2_stream import H2Stream

if TYPE_CHECKING:
    import h2.exceptions
    from twisted.internet.interfaces import IDelayedCall

    from .._context import ConnectionFacts, ServerContext
    from .h2_connection import ServerConnection
    from .h2_stream import H2Sender
    from .h2_websocket import H2WebSocketStream
    from .http1 import HTTP1Connection

logger = logging.getLogger("daphne.http_protocol")

__all__ = ["RESET_ALLOWANCE", "H2Lifetime"]

#: Streams a client may reset before we answer them (or open beyond the concurrency
#: limit), beyond twice those it let finish (rapid reset, CVE-2023-44487).
RESET_ALLOWANCE = 100
#: Frames that make the server do nothing useful (empty DATA without END_STREAM, PING,
#: SETTINGS, PRIORITY, a WINDOW_UPDATE that lets nothing be sent, a frame of an unknown
#: type or on a closed stream) a client may send
#: beyond this allowance, 10 per stream it opened and one per ``_BYTES_PER_IDLE_FRAME``
#: bytes of DATA the server sent, before it is told to calm down.
_IDLE_FRAME_ALLOWANCE = 1000
#: DATA bytes sent that earn the client one more idle frame: a client acknowledging a
#: download in small WINDOW_UPDATEs stays within it, and a flood costs the client
#: this much download per frame.
_BYTES_PER_IDLE_FRAME = 256


class H2Lifetime:
    """Ending methods of :class:`~daphne._wire.http2.H2Protocol` (a mixin).

    The protocol provides the attributes declared here; :meth:`_init_lifetime`
    sets up this side's state.

    :ivar closed: the connection is over.
    :ivar draining: our GOAWAY went out; the open streams may finish.
    """

    channel: HTTP1Connection
    context: ServerContext
    facts: ConnectionFacts
    conn: ServerConnection
    streams: dict[int, H2Stream | H2WebSocketStream]
    _starved: dict[int, H2Sender]
    _data_sent: int
    flush: Callable[[], None]

    def _init_lifetime(self) -> None:
        self.closed = False
        self.draining = False
        #: The last stream id in our GOAWAY (streams above it are refused).
        self._last_stream_id = 0
        self._resets = 0
        self._completed = 0
        self._opened = 0
        self._idle_frames = 0
        #: When the connection last had no open stream (None while one is open).
        self._idle_since: float | None = None
        self._idle_timer: IDelayedCall | None = None
        #: When an unfinished header block started arriving, and its timer.
        self._head_since: float | None = None
        self._head_timer: IDelayedCall | None = None

    # -- --keep-alive-timeout and --header-read-timeout -------------------------------

    def busy(self) -> None:
        """A stream opened: the connection is not idle."""
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
        # h2 keeps the frames of a header block in its frame buffer until END_HEADERS
        # and has no public way to ask whether one is pending: read its buffer (checked
        # by tests/unit/test_dependency_privates.py; setup.cfg bounds h2).
        if not self.conn.incoming_buffer._headers_buffer:
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
            self.facts["client"],
            self.context.config.header_read_timeout,
        )
        self.conn.close_connection(h2.errors.ErrorCodes.NO_ERROR)
        self.flush()
        self._close_all()
        self.channel.close()

    # -- abuse ----------------------------------------------------------------------

    def _count_idle_frame(self) -> bool:
        """Count a frame that made us do nothing useful; False once the client overdid it."""
        self._idle_frames += 1
        allowance = (
            _IDLE_FRAME_ALLOWANCE + 10 * self._opened + self._data_sent // _BYTES_PER_IDLE_FRAME
        )
        if self._idle_frames > allowance:
            self._calm_down(
                "too many frames that make no work (PING, SETTINGS, PRIORITY, WINDOW_UPDATE,"
                " empty DATA, unknown or closed-stream frame flood)"
            )
            return False
        return True

    def _calm_down(self, why: str) -> None:
        """Answer abuse with GOAWAY(ENHANCE_YOUR_CALM) and close (RFC 9113 §5.4.1)."""
        logger.warning("HTTP/2 client %s: %s; closing the connection", self.facts["client"], why)
        self.conn.close_connection(h2.errors.ErrorCodes.ENHANCE_YOUR_CALM)
        self.flush()
        self._close_all()
        self.channel.close()

    def _protocol_error(self, error: h2.exceptions.ProtocolError) -> None:
        """The client broke the protocol: send h2's GOAWAY (corrected) and close."""
        logger.debug("HTTP/2 protocol error: %s", error)
        data = self.conn.error_data(error)
        if data:
            self.channel.write(data)
        self._close_all()
        self.channel.close()

    # -- endings --------------------------------------------------------------------

    def _close_all(self) -> None:
        self.closed = True
        for timer in (self._idle_timer, self._head_timer):
            if timer is not None and timer.active():
                timer.cancel()
        self._idle_timer = self._head_timer = None
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
        self.channel.write(goaway(self._last_stream_id, h2.errors.ErrorCodes.NO_ERROR))
        for stream in list(self.streams.values()):
            if not isinstance(stream, H2Stream):
                stream.drain()  # a WebSocket closes with 1001
        self.flush()
        if not self.streams:
            self._goodbye()

    def _goodbye(self) -> None:
        # Our GOAWAY already went out: flush what is left and close.
        self.flush()
        self.channel.close()

    def connection_lost(self) -> None:
        self._close_all()
