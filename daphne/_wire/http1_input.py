"""The read side of a client connection: fair slices of input, and read backpressure.

``PacedInput`` is mixed into :class:`~daphne._wire.http1.HTTP1Connection` (the
write side is :mod:`daphne._wire.http1_output`).  It holds whatever protocol
the connection speaks, before and after a hand-over to HTTP/2 or WebSocket:

* fairness: one read (up to 256 KiB on plain TCP, ``http1.READ_SIZE``) is handed on in slices of
  :data:`INPUT_SLICE` bytes; once a read has held the event loop for
  :data:`INPUT_TURN` seconds, the rest waits for the next loop iteration (the
  socket paused meanwhile), so a flood of cheap frames, pipelined requests or
  tiny WebSocket messages on one connection cannot starve the others;
* backpressure: :meth:`PacedInput.pause_reading` and
  :meth:`PacedInput.resume_reading` stop and restart the socket for the
  protocol (a request body the app does not read, pipelined requests waiting,
  an HTTP/2 client that does not read what it is sent).

Covered by ``tests/unit/test_input_fairness.py`` and ``tests/unit/test_http1.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from twisted.internet.interfaces import IConsumer, IPushProducer, ITCPTransport

from .._asgi.http_stream import INPUT_TURN
from .http1_state import CONN_BODY, CONN_CLOSED, CONN_IDLE, ConnState

if TYPE_CHECKING:
    from twisted.internet.interfaces import IDelayedCall

    from .._context import ServerContext
    from .http1_parser import ChunkedDecoder

logger = logging.getLogger("daphne.http_protocol")

__all__ = ["INPUT_SLICE", "INPUT_TURN", "IConnectionTransport", "PacedInput"]

#: Bytes of a read handed to the protocol at a time (see the module: fairness); the
#: most, for input that is cheap per byte.
INPUT_SLICE = 16 * 1024
#: The least, for input that is costly per byte (tiny HTTP/2 or WebSocket frames).
_MIN_SLICE = 2 * 1024


class IConnectionTransport(ITCPTransport, IConsumer, IPushProducer):
    """What a client connection's transport provides: Twisted's TCP transports and its
    TLS wrapper provide all three interfaces.  A name for the type checker (no class
    declares it): ``Protocol.transport`` is only an ``ITransport``."""


class PacedInput:
    """Input methods of :class:`~daphne._wire.http1.HTTP1Connection` (a mixin).

    The connection provides the attributes declared here and handles each
    slice in ``_data_received``; :meth:`_init_input` sets up this side's state.
    """

    context: ServerContext
    #: ``self.transport``, typed as what it provides (set in ``connectionMade``).
    _transport: IConnectionTransport
    disconnected: bool
    state: ConnState
    #: Input kept for the next request head (see ``HTTP1Connection``).
    _buffer: bytes
    #: The body framing of the request being read (see ``HTTP1Connection``).
    _body_left: int
    _chunked: ChunkedDecoder | None

    _data_received: Callable[[bytes], None]
    abort: Callable[[], None]

    def _init_input(self) -> None:
        self._reading_paused = False
        #: Bytes read but not yet handled (waiting for the next loop iteration), and its call.
        self._backlog = b""
        self._backlog_call: IDelayedCall | None = None
        #: This connection's current slice size (adapts between _MIN_SLICE and INPUT_SLICE).
        self._slice = INPUT_SLICE

    def _stop_input(self) -> None:
        """The connection is gone: drop what waits to be handled."""
        self._backlog = b""
        call, self._backlog_call = self._backlog_call, None
        if call is not None and call.active():
            call.cancel()

    def dataReceived(self, data: bytes) -> None:
        if self._backlog:
            # Bytes delivered while paused (TLS hands on what it already decrypted).
            self._backlog += data
            return
        if len(data) <= self._slice:
            # One slice (most reads): handled here, as _handle would, one call less.
            try:
                self._data_received(data)
            except Exception:
                self._internal_error()
            return
        self._consume(data)

    def _consume(self, data: bytes) -> None:
        """Handle ``data`` slice by slice; defer the rest once this read used its turn."""
        size = self._slice
        if len(data) <= size:
            self._handle(data)
            return
        clock = self.context.clock
        started = last = clock.seconds()
        offset = 0
        while offset < len(data):
            step = size
            state = self.state
            if state is CONN_BODY and self._chunked is None and self._body_left > step:
                # Plain body bytes cost little per byte and go to the app as they are:
                # hand them over whole; slices are for what has to be parsed.
                step = self._body_left
            elif state is CONN_IDLE and not self._buffer:
                # A request head starts this slice: end the slice with the head, so
                # that a body behind it goes on whole in the next step (above), not
                # partly with the head (a 64 KiB upload: 8 body messages, not 9).
                end = data.find(b"\r\n\r\n", offset, offset + step)
                if end != -1:
                    step = end + 4 - offset
            self._handle(data[offset : offset + step])
            offset += step
            if self.disconnected or self.state is CONN_CLOSED:
                return
            now = clock.seconds()
            # Input that is costly per byte (tiny frames) gets smaller slices, so that
            # one slice stays well within a turn; cheap input grows them back.
            if now - last > INPUT_TURN / 4 and size > _MIN_SLICE:
                size //= 2
            elif now - last < INPUT_TURN / 16 and size < INPUT_SLICE:
                size *= 2
            last = now
            self._slice = size
            if offset < len(data) and now - started >= INPUT_TURN:
                self._backlog = data[offset:]
                if not self._reading_paused:
                    self._transport.pauseProducing()
                self._backlog_call = clock.callLater(0, self._resume_backlog)
                return

    def _resume_backlog(self) -> None:
        self._backlog_call = None
        data, self._backlog = self._backlog, b""
        if self.disconnected or self.state is CONN_CLOSED or not data:
            return
        self._consume(data)
        if not self._backlog and not self._reading_paused and not self.disconnected:
            self._transport.resumeProducing()

    def _handle(self, data: bytes) -> None:
        try:
            self._data_received(data)
        except Exception:
            self._internal_error()

    def _internal_error(self) -> None:
        """(In an ``except`` block) a bug of ours must cost one connection, not the
        process or a hang."""
        logger.exception("Internal error while handling HTTP data; closing the connection")
        self.abort()

    def pause_reading(self) -> None:
        """Stop reading the socket (read backpressure)."""
        if not self._reading_paused and not self.disconnected:
            self._reading_paused = True
            if not self._backlog:  # else already paused until the backlog is handled
                self._transport.pauseProducing()

    def resume_reading(self) -> None:
        """Read the socket again."""
        if self._reading_paused and not self.disconnected and self.state is not CONN_CLOSED:
            self._reading_paused = False
            if not self._backlog:
                self._transport.resumeProducing()
