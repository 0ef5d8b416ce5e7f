"""The request body of an HTTP/1.x connection: its framing, and what is left of it.

``RequestBody`` is mixed into :class:`~daphne._wire.http1.HTTP1Connection`.  A
request body is framed by ``Content-Length`` (bytes left to read) or chunked
transfer coding (a :class:`~daphne._wire.http1_parser.ChunkedDecoder`); what
follows it in the buffer is the next pipelined request.  A body the app did
not read before its response finished is read and dropped (state
``DISCARDING``) when small enough, else the connection is closed.

Covered by ``tests/unit/test_http1.py``, ``tests/unit/test_http1_framing.py``
and ``tests/property/test_http1_props.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .._errors import BadRequest
from .http1_parser import ChunkedDecoder
from .http1_state import CONN_BODY, CONN_DISCARDING, CONN_RESPONDING, ConnState

if TYPE_CHECKING:
    from .http1_wire import WebRequest

__all__ = ["RequestBody"]

#: Largest unread body remainder drained (rather than closing) after an early response.
_MAX_DISCARD = 256 * 1024


class RequestBody:
    """Request-body methods of :class:`~daphne._wire.http1.HTTP1Connection` (a mixin).

    The connection provides the attributes declared here; :meth:`_init_body`
    sets up this side's state (the connection sets the framing as each request starts).
    """

    state: ConnState
    _buffer: bytes
    _request: WebRequest | None
    _close: Callable[[], None]
    _enter_idle: Callable[[], None]
    _parse_requests: Callable[[], None]
    resume_reading: Callable[[], None]

    def _init_body(self) -> None:
        #: Bytes of a ``Content-Length`` body still to read.
        self._body_left = 0
        #: The decoder of a chunked body, else None.
        self._chunked: ChunkedDecoder | None = None

    def _discard_rest(self) -> bool:
        """The response is done before the body: drop the rest (True) or close (False)."""
        if self._chunked is not None or self._body_left > _MAX_DISCARD:
            self._close()
            return False
        self.state = CONN_DISCARDING
        self.resume_reading()
        return True

    def _body_received(self, data: bytes) -> None:
        request = self._request
        discarding = self.state is CONN_DISCARDING
        decoder = self._chunked
        if decoder is not None:
            try:
                pieces = decoder.feed(data)
            except BadRequest as error:
                stream = request.stream if request is not None else None
                if stream is not None and not stream.done:
                    stream.error(error.status, error.reason)  # closes the connection after
                else:
                    self._close()
                return
            done = decoder.done
            if not discarding and request is not None:
                body = b"".join(pieces)
                if body or done:
                    request.feed_body(body, not done)
            if done:
                self._buffer = decoder.unused
        else:
            left = self._body_left
            if len(data) >= left:
                body, rest = data[:left], data[left:]
                self._body_left = 0
                done = True
                self._buffer = rest
            else:
                body = data
                self._body_left = left - len(data)
                done = False
            if not discarding and request is not None:
                request.feed_body(body, not done)
        if done:
            self._chunked = None
            if discarding:
                self._request = None
                self._enter_idle()
                if self._buffer:
                    self._parse_requests()
            elif self.state is CONN_BODY:
                self.state = CONN_RESPONDING
