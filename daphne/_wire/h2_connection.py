"""h2's server connection, with a stream beyond the concurrency limit refused, not fatal.

RFC 9113 §5.1.2: a HEADERS frame that would exceed the advertised
``SETTINGS_MAX_CONCURRENT_STREAMS`` is a *stream* error (``REFUSED_STREAM`` or
``PROTOCOL_ERROR``).  The h2 library treats it as a connection error: every
other stream on the connection would be lost.  :class:`ServerConnection`
answers it with ``RST_STREAM(REFUSED_STREAM)`` instead, after decoding the
header block (HPACK state is per connection and must stay in step), and keeps
the connection.  ``REFUSED_STREAM`` tells the client the request was not
processed, so it may retry it safely.

A client that keeps opening streams past the limit is counted in
:attr:`ServerConnection.refused`; the protocol answers a flood of them with
``GOAWAY(ENHANCE_YOUR_CALM)``.

RFC 9113 §6.8: a client's ``GOAWAY(NO_ERROR)`` says it will not accept pushed
streams; the requests it already sent still want their responses (a client
shutting down gracefully waits for them).  h2 closes its state machine on any
``GOAWAY`` and drops what it had queued; :class:`ServerConnection` keeps the
connection open for a graceful one and only reports it (``ConnectionTerminated``
with ``NO_ERROR``), so the protocol can finish the open streams first.

Covered by ``tests/integration/test_http2_functional.py`` (refused stream, client
GOAWAY) and the h2spec cases 5.1.2 and 6.8 in ``tests/conformance``.
"""

from __future__ import annotations

from typing import Any

import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.stream
import hyperframe.frame

__all__ = ["ServerConnection"]


class ServerConnection(h2.connection.H2Connection):
    """:class:`h2.connection.H2Connection` refusing streams over the limit (see the module)."""

    #: Streams refused for going over the concurrency limit.
    refused = 0

    def _receive_headers_frame(self, frame: Any) -> Any:
        try:
            return super()._receive_headers_frame(frame)
        except h2.exceptions.TooManyStreamsError:
            stream_id = frame.stream_id
            # Only a well-formed new client stream is refused; anything else
            # stays the connection error h2 makes of it.
            if stream_id % 2 == 0 or stream_id <= self.highest_inbound_stream_id:
                raise
            closed_streams = getattr(self, "_closed_streams", None)
            closed_by = getattr(h2.stream, "StreamClosedBy", None)
            decode = getattr(h2.connection, "_decode_headers", None)
            if closed_streams is None or closed_by is None or decode is None:
                raise  # an h2 we do not know
            # h2's own decoding (and its errors): the HPACK state stays in step.
            decode(self.decoder, frame.data)
            self.highest_inbound_stream_id = stream_id
            # Later frames on it (DATA in flight) get RST_STREAM(STREAM_CLOSED), as for
            # any stream we reset.
            closed_streams[stream_id] = closed_by.SEND_RST_STREAM
            self.refused += 1
            reset = hyperframe.frame.RstStreamFrame(stream_id)
            reset.error_code = h2.errors.ErrorCodes.REFUSED_STREAM
            return [reset], []

    def _receive_goaway_frame(self, frame: Any) -> Any:
        if (
            frame.error_code != h2.errors.ErrorCodes.NO_ERROR
            or self.state_machine.state is not h2.connection.ConnectionState.SERVER_OPEN
        ):
            return super()._receive_goaway_frame(frame)
        event = h2.events.ConnectionTerminated()
        event.error_code = h2.errors.ErrorCodes.NO_ERROR
        event.last_stream_id = frame.last_stream_id
        event.additional_data = frame.additional_data or None
        return [], [event]
