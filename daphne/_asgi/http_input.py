"""The request body's way to the application, under read backpressure.

:class:`RequestInput` is the input half of
:class:`~daphne._asgi.http_stream.HTTPStream` (its base class: one object per
request, so that the body's hot path costs no extra call or attribute hop).
It owns:

* delivering the body: ``http.request`` messages in ``request_buffer_size``
  pieces, exactly one of them final (``more_body`` false), however the wire
  signalled the end; a body that grows past ``--limit-request-body`` gets a 413;
  body bytes arriving while the app has not yet received the last message join
  that message (up to ``request_buffer_size``), so what waits for the app costs
  memory in proportion to its bytes, not to how many pieces the client cut it in;
* read backpressure: while the app has more than ``read_high_water`` bytes or
  :data:`MAX_QUEUED_MESSAGES` pieces (what the wire delivered: DATA frames,
  chunks, reads) unread, the wire stops reading (HTTP/1.1 pauses the socket,
  HTTP/2 withholds flow-control credit), and reads again once the app is down
  to half of both;
* ``--body-read-timeout``: a body that stalls (nothing new from the client for
  that long while the server is reading) gets a 408 before the head, an abort
  after it; time spent paused by backpressure does not count (the server's one
  :class:`~daphne._asgi.body_watch.BodyWatch` keeps the time of every body).

After the final body message, further body from the wire is ignored (the
stream's Rule 2).

Covered by ``tests/integration/test_protocol_matrix.py`` (every rule on
HTTP/1.1, HTTP/2 over TLS and h2c), ``tests/unit/test_http1.py``,
``tests/unit/test_h2_pipeline.py`` and ``tests/property/test_http1_props.py``.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING

from .._types import Headers, Message
from .application import ApplicationInstance

if TYPE_CHECKING:
    from .._context import ServerContext
    from .body_watch import BodyWatch
    from .interfaces import HTTPWire

logger = logging.getLogger("daphne.http_protocol")

__all__ = ["INPUT_TURN", "MAX_QUEUED_MESSAGES", "RequestInput"]

#: Unread body pieces (wire deliveries: DATA frames, chunks, reads) at which reading
#: pauses, besides ``read_high_water`` bytes: a client cutting its body into tiny pieces
#: is paused after as many pieces as one sending big ones.
MAX_QUEUED_MESSAGES = 64
#: Seconds of loop time one connection's input may take before it yields to the
#: others (a read's slices in ``_wire.http1``; WebSocket refills in ``ws_input``).
INPUT_TURN = 0.005


class RequestInput:
    """The request-body side of an ``HTTPStream`` (see the module).

    The stream provides the attributes and methods declared under
    ``TYPE_CHECKING`` below and calls :meth:`__init__` from its own.
    """

    __slots__ = (
        "_body_done",
        "_body_received",
        "_body_watch",
        "_paused",
        "_piece_counts",
        "_queued_bytes",
        "_queued_pieces",
        "_tail",
        "_tail_pieces",
        "_tail_size",
    )

    if TYPE_CHECKING:
        # Provided by HTTPStream.
        context: ServerContext
        wire: HTTPWire
        instance: ApplicationInstance | None
        head_written: bool

        @property
        def done(self) -> bool: ...

        def error(self, status: int, reason: str, extra: Headers | tuple[()] = ()) -> None: ...

        def abort(self) -> None: ...

        def _arm_timeout(self) -> None: ...

    def __init__(self) -> None:
        self._body_done = False
        self._body_received = 0
        self._queued_bytes = 0
        #: Unread pieces, in total and per queued ``http.request`` message (oldest first).
        self._queued_pieces = 0
        self._piece_counts: deque[int] = deque()
        self._paused = False
        #: The last queued ``http.request`` not yet received, while it may still grow,
        #: its size, and once a second piece joined it, all its pieces (joined into its
        #: body, one copy, when it is received or can grow no more).
        self._tail: Message | None = None
        self._tail_size = 0
        self._tail_pieces: list[bytes] | None = None
        #: The server's body watch while it watches this body (``--body-read-timeout``).
        self._body_watch: BodyWatch | None = None

    @property
    def body_done(self) -> bool:
        """Whether the request body is complete (or no longer wanted)."""
        return self._body_done

    def receive_body(self, data: bytes, end: bool) -> None:
        """(From the wire) body bytes from the client; ``end`` when the body is complete."""
        if self._body_done:
            return  # Rule 2
        watch = self._body_watch
        if end:
            self._body_done = True
            if watch is not None:
                self._unwatch_body()
        elif watch is not None:
            watch.progress(self)
        config = self.context.config
        limit = config.limit_request_body
        if limit is not None:
            self._body_received += len(data)
            if self._body_received > limit:
                self._body_done = True
                self.error(413, f"Request body larger than {limit} bytes")
                return
        instance = self.instance
        if instance is None or instance.closed:
            return
        self._queue_body(instance, data, end, config.request_buffer_size)
        self._queued_bytes += len(data)
        if end:
            self._arm_timeout()
        if not self._paused and (
            self._queued_bytes > config.read_high_water or self._queued_pieces > MAX_QUEUED_MESSAGES
        ):
            self._paused = True
            self.wire.pause_reading()

    def _queue_body(self, instance: ApplicationInstance, data: bytes, end: bool, size: int) -> None:
        """Queue ``data`` as ``http.request`` messages of at most ``size`` bytes.

        Bytes that fit into the last queued message the app has not received yet
        join it, so many small pieces (tiny HTTP/2 DATA frames, tiny chunks) cost
        one message, not one each.
        """
        tail = self._tail
        if tail is not None:
            if self._tail_size + len(data) <= size:
                if data:
                    pieces = self._tail_pieces
                    if pieces is None:
                        self._tail_pieces = [tail["body"], data]
                    else:
                        pieces.append(data)
                    self._tail_size += len(data)
                    self._piece_counts[-1] += 1
                    self._queued_pieces += 1
                if end:
                    tail["more_body"] = False
                return
            self._seal_tail()
        if len(data) <= size:
            message = {"type": "http.request", "body": data, "more_body": not end}
            instance.put(message)
            self._piece_counts.append(1)
            self._queued_pieces += 1
            if not end:
                self._tail = message
                self._tail_size = len(data)
            return
        messages: list[Message] = [
            {"type": "http.request", "body": data[offset : offset + size], "more_body": True}
            for offset in range(0, len(data), size)
        ]
        if end:
            messages[-1]["more_body"] = False
        instance.put_all(messages)
        self._piece_counts.extend([1] * len(messages))
        self._queued_pieces += len(messages)

    def _seal_tail(self) -> None:
        """The last queued message takes no more bytes: give it its final ``bytes`` body."""
        tail, pieces = self._tail, self._tail_pieces
        self._tail = self._tail_pieces = None
        if tail is not None and pieces is not None:
            tail["body"] = b"".join(pieces)

    def _message_received(self, message: Message) -> None:
        """(From the application instance) the app's ``receive`` took ``message``."""
        if message is self._tail:
            self._seal_tail()
        self._queued_pieces -= self._piece_counts.popleft()
        self._queued_bytes -= len(message["body"])
        if (
            self._paused
            and self._queued_bytes <= self.context.config.read_high_water // 2
            and self._queued_pieces <= MAX_QUEUED_MESSAGES // 2
        ):
            self._paused = False
            if self._body_watch is not None:
                self._body_watch.progress(self)  # the wait was the app's, not the client's
            self.wire.resume_reading()

    # -- --body-read-timeout (the server's BodyWatch keeps the time) -----------------

    def await_body(self) -> None:
        """(From the wire) the client should now be sending the body: watch for a stall.

        Called once the head is in and the body does not end with it (after
        ``100 Continue`` when the client asked for one).
        """
        watch = self.context.body_watch
        if watch is None or self._body_done or self._body_watch is not None or self.done:
            return
        self._body_watch = watch
        watch.watch(self)

    def _unwatch_body(self) -> None:
        watch, self._body_watch = self._body_watch, None
        if watch is not None:
            watch.forget(self)

    def body_stalled(self, now: float) -> bool:
        """(From the body watch) nothing new from the client for ``body_read_timeout`` seconds.

        Returns True while reading is paused by backpressure: the app is behind, not the
        client, and the wait restarts from ``now``.
        """
        watch, self._body_watch = self._body_watch, None
        if self._body_done or self.done:
            return False
        if self._paused:
            self._body_watch = watch
            return True
        self._body_done = True
        timeout = self.context.config.body_read_timeout
        if self.head_written:
            logger.info("Request body stalled for %g s after the response began; aborting", timeout)
            self.abort()
        else:
            self.error(408, f"Request body not received within {timeout:g} seconds")
        return False
