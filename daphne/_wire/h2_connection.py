"""h2's server connection as we configure and amend it: the one place that leans on h2 internals.

Settings (:func:`new_connection`): what we announce, and the two limits h2
reads only when a connection is built.

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

RFC 9113 §8.1 and §8.1.1: a request whose ``content-length`` is not a number
or does not match the DATA it sends, or whose trailer section does not end the
stream, is malformed: a *stream* error (``RST_STREAM(PROTOCOL_ERROR)``).  h2
checks the first two but makes every one a connection error, and lets a stream
end by HEADERS (the request's or its trailers') short of its ``content-length``.
:class:`ServerConnection` reports these as :class:`StreamMalformed` events
instead, as it does a new request stream that h2 opens and then finds malformed
(a dependency on itself: §5.3.1); it resets the stream
at once, and the protocol treats it like any other malformed request.

After a connection error, :meth:`ServerConnection.error_data` corrects the
error code of the ``GOAWAY`` h2 queued where h2 picks too general a one.

Speed: a request on a new stream (:meth:`ServerConnection._new_request`), a
request's DATA, and a response's HEADERS and DATA (``send_headers``/``send_data``)
go through h2's own state machines and windows, but skip h2's generic steps that
cannot apply to them.  On receipt, :meth:`ServerConnection.receive_data` reads
whole DATA frames and whole request header blocks from the input itself, without
h2's frame buffer (which copies every byte twice or more) and hyperframe objects,
and without h2's frame wrapper (which formats every frame for a trace log that
goes nowhere: a hex dump of each DATA payload).  The connection encodes and
decodes header blocks with :mod:`daphne._wire.h2_hpack`.  Together well over half
of an HTTP/2 request's instructions; anything unusual (the first request,
PRIORITY, CONTINUATION, 1xx, trailers, padding, unknown streams) still takes h2's
own path.  Each is compared with h2's own path by a hypothesis test
(``tests/unit/test_h2_send_paths.py``, ``tests/unit/test_h2_receive_path.py``,
``tests/unit/test_h2_hpack.py``).

Each h2 internal used here (and ``FrameBuffer._headers_buffer``, read by
:mod:`daphne._wire.h2_lifetime`) is checked against the installed h2 by
``tests/unit/test_dependency_privates.py``; setup.cfg bounds h2's version.

Covered by ``tests/unit/test_dependency_privates.py``,
``tests/integration/test_http2_functional.py`` (refused stream, client GOAWAY) and
the h2spec cases 4.3, 5.1.2, 6.5 and 6.8 in ``tests/conformance/test_h2_conformance.py``.
"""

from __future__ import annotations

import struct
from collections.abc import Container, Sequence
from typing import TYPE_CHECKING, Protocol

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import h2.stream
import hpack.exceptions
import hyperframe.exceptions
import hyperframe.frame

from .h2_hpack import Decoder, Encoder

if TYPE_CHECKING:
    from .._config import ServerConfig

__all__ = ["FrameIgnored", "ServerConnection", "StreamMalformed", "goaway", "new_connection"]

#: RFC 9113 §4.1: length (24 bits, as 16 + 8), type, flags, stream id.
_FRAME_HEAD = struct.Struct(">HBBBL")
_DATA, _HEADERS, _CONTINUATION = 0x0, 0x1, 0x9
_END_STREAM, _END_HEADERS, _PADDED, _PRIORITY = 0x1, 0x4, 0x8, 0x20
_SEND_HEADERS = h2.connection.ConnectionInputs.SEND_HEADERS
_SEND_DATA = h2.connection.ConnectionInputs.SEND_DATA
#: In this state h2's connection state machine takes SEND_HEADERS and SEND_DATA
#: without a callback or a change, so the direct paths skip the call there
#: (tests/unit/test_dependency_privates.py checks h2's table says so).
_SERVER_OPEN = h2.connection.ConnectionState.SERVER_OPEN
_CLOSED = h2.connection.ConnectionState.CLOSED
_STREAM_RECV_HEADERS = h2.stream.StreamInputs.RECV_HEADERS
_STREAM_RECV_END = h2.stream.StreamInputs.RECV_END_STREAM
_CLIENT_STREAMS = h2.connection.AllowedStreamIDs.ODD
_STREAM_SEND_HEADERS = h2.stream.StreamInputs.SEND_HEADERS
_STREAM_SEND_DATA = h2.stream.StreamInputs.SEND_DATA
_STREAM_SEND_END = h2.stream.StreamInputs.SEND_END_STREAM
_STREAM_IDLE = h2.stream.StreamState.IDLE
_STREAM_OPEN = h2.stream.StreamState.OPEN
#: Stream states in which a DATA frame from the client is expected.
_RECEIVING = (_STREAM_OPEN, h2.stream.StreamState.HALF_CLOSED_LOCAL)
#: Stream states in which h2's stream state machine takes SEND_DATA without a callback
#: or a change: the direct send path skips the call there (checked like _SERVER_OPEN).
_SENDING = (_STREAM_OPEN, h2.stream.StreamState.HALF_CLOSED_REMOTE)
_PROTOCOL_ERROR = h2.errors.ErrorCodes.PROTOCOL_ERROR


def new_connection(config: ServerConfig) -> ServerConnection:
    """A server connection announcing our settings (not yet initiated)."""
    conn = ServerConnection(
        config=h2.config.H2Configuration(
            client_side=False,
            header_encoding=None,
            # daphne._wire.h2_fields checks received header blocks in one pass (a
            # malformed one is a stream error there) and joins cookie crumbs.
            validate_inbound_headers=False,
            normalize_inbound_headers=False,
            # daphne._asgi.headers checks what the app sends, much faster.
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
        )
    )
    conn.local_settings = h2.settings.Settings(
        client=False,
        initial_values={
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: config.h2_max_concurrent_streams,
            h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: config.h2_max_header_list_size,
            h2.settings.SettingCodes.MAX_FRAME_SIZE: config.h2_max_frame_size,
            # RFC 8441: extended CONNECT, for WebSockets over HTTP/2.
            h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL: 1,
        },
    )
    # Our HPACK (daphne._wire.h2_hpack), much cheaper per header block than hpack's.
    conn.encoder = Encoder()  # type: ignore[assignment]
    conn.decoder = Decoder()  # type: ignore[assignment]
    # h2 reads these two limits when the connection is built, not from the
    # settings object replaced above.
    conn.decoder.max_header_list_size = config.h2_max_header_list_size
    conn.max_inbound_frame_size = config.h2_max_frame_size
    return conn


def goaway(last_stream_id: int, code: int) -> bytes:
    """A serialized GOAWAY frame."""
    frame = hyperframe.frame.GoAwayFrame(0, last_stream_id=last_stream_id, error_code=code)
    return frame.serialize()


class HeadersFrameLike(Protocol):
    """What the new-request path reads of a HEADERS frame: hyperframe's, or a :class:`_Block`."""

    @property
    def stream_id(self) -> int: ...

    @property
    def data(self) -> bytes: ...

    @property
    def flags(self) -> Container[str]: ...


class _Block:
    """A whole header block read from the input (END_HEADERS, no padding or priority),
    without a hyperframe ``HeadersFrame``: its stream, its bytes and its flags by name."""

    __slots__ = ("data", "flags", "stream_id")

    def __init__(self, stream_id: int, data: bytes, end_stream: int) -> None:
        self.stream_id = stream_id
        self.data = data
        self.flags = _ENDED_BLOCK if end_stream else _OPEN_BLOCK


_OPEN_BLOCK = frozenset({"END_HEADERS"})
_ENDED_BLOCK = frozenset({"END_HEADERS", "END_STREAM"})


class FrameIgnored(h2.events.Event):
    """h2 took a frame and had nothing to report (on a closed stream, say): the protocol
    counts it among the frames that make no work (a flood of them is abuse)."""

    def __init__(self, stream_id: int) -> None:
        self.stream_id = stream_id

    def __repr__(self) -> str:
        return f"<FrameIgnored stream_id:{self.stream_id}>"


class StreamMalformed(h2.events.Event):
    """A request stream broke RFC 9113's message rules; the connection reset it.

    :ivar stream_id: the stream, already reset with ``PROTOCOL_ERROR``.
    :ivar reason: what was wrong (for the debug log).
    :ivar flow_controlled_length: bytes of the DATA frame that revealed it, which
        still count against the connection's window until acknowledged.
    """

    def __init__(self, stream_id: int, reason: str, flow_controlled_length: int = 0) -> None:
        self.stream_id = stream_id
        self.reason = reason
        self.flow_controlled_length = flow_controlled_length

    def __repr__(self) -> str:
        return f"<StreamMalformed stream_id:{self.stream_id}, reason:{self.reason}>"


class ServerConnection(h2.connection.H2Connection):
    """:class:`h2.connection.H2Connection` refusing streams over the limit (see the module)."""

    #: Streams refused for going over the concurrency limit.
    refused = 0

    def _opens_request(self, frame: HeadersFrameLike) -> bool:
        """Whether ``frame`` is a request on a new client stream of an open connection,
        within the limit and without priority: :meth:`_new_request` serves it (it can
        meet none of the stream errors h2's frame wrapper handles)."""
        stream_id = frame.stream_id
        return bool(
            stream_id % 2
            and stream_id > self.highest_inbound_stream_id
            and self.state_machine.state is _SERVER_OPEN
            and "PRIORITY" not in frame.flags
            and self.open_inbound_streams < self.local_settings.max_concurrent_streams
        )

    def _receive_frame(self, frame: hyperframe.frame.Frame) -> list[h2.events.Event]:
        # h2 formats ``repr(frame)`` for a trace line before it dispatches any frame, for
        # its logger, a no-op here; a DATA frame's repr is a hex dump of the whole
        # payload, a fifth of what an upload costs.  DATA goes to the same handler
        # without it: the handler answers DATA on a closed or forgotten stream itself,
        # so none of the errors h2's wrapper catches come out of it.  So does a new
        # request (see _opens_request).  Every other frame takes h2's own path.
        if type(frame) is hyperframe.frame.DataFrame:
            frames, events = self._receive_data_frame(frame)
            self._prepare_for_sending(frames)
        elif type(frame) is hyperframe.frame.HeadersFrame:
            if self._opens_request(frame):
                return self._new_request(frame)[1]  # (it queues no frame)
            return super()._receive_frame(frame)
        else:
            events = super()._receive_frame(frame)
        # DATA, WINDOW_UPDATE or RST_STREAM on a closed stream, ALTSVC...: h2 took the
        # frame without a word.  (A refused HEADERS is counted as a refusal instead.)
        return events or [FrameIgnored(frame.stream_id)]

    def receive_data(self, data: bytes) -> list[h2.events.Event]:  # type: ignore[override]
        """h2's ``receive_data``, with a request's DATA and header block read here (see
        :meth:`_receive`), and a frame longer than ``SETTINGS_MAX_FRAME_SIZE`` refused as
        soon as its header is in.

        h2 checks a frame's length only once the whole frame arrived, and keeps its
        bytes until then: a client announcing a 16 MiB frame could make every
        connection hold 16 MiB.  Its header is enough to know (RFC 9113 §4.2:
        ``FRAME_SIZE_ERROR``, a connection error here as in h2).
        """
        try:
            events = self._receive(data)
            pending = self.incoming_buffer._data
            if len(pending) >= 9:
                length = int.from_bytes(pending[:3], "big")
                if length > self.max_inbound_frame_size:
                    raise h2.exceptions.FrameTooLargeError(
                        f"Frame of {length} bytes announced, "
                        f"the most allowed is {self.max_inbound_frame_size}"
                    )
        except h2.exceptions.ProtocolError as error:
            # A connection error ends the connection with a GOAWAY, as h2's receive_data
            # does; h2's own already did (its GOAWAY closed the state machine).
            if self.state_machine.state is not _CLOSED:
                self._terminate_connection(error.error_code)
            raise
        return events

    def _receive(self, data: bytes) -> list[h2.events.Event]:
        """Complete, unpadded DATA frames on a stream open for receiving, on an open
        connection, are taken from ``data`` as they are and given to the stream's
        ``receive_data`` (h2's own: state machine, window, content length); a whole
        header block that opens a request goes to :meth:`_new_request` the same way
        (neither while a header block waits for its CONTINUATION).  The frames between
        them go to h2 in runs, in order, and an unfinished one waits in h2's buffer.
        """
        buffer = self.incoming_buffer
        if (
            buffer._preamble_len
            or buffer._headers_buffer
            or self.state_machine.state is not _SERVER_OPEN
        ):
            return super().receive_data(data)
        pending = buffer._data
        if pending:
            # An unfinished frame h2 kept from the last call: this input goes on from it.
            pending += data
            if len(pending) < 9 or len(pending) < 9 + int.from_bytes(pending[:3], "big"):
                return []  # still unfinished, as h2 would find it
            data = bytes(pending)
            pending.clear()
        events: list[h2.events.Event] = []
        limit = self.max_inbound_frame_size
        offset, end = 0, len(data)
        #: Where the run of frames for h2 that have not been handed to it yet starts.
        run = 0
        while end - offset >= 9:
            high, low, kind, flags, stream_id = _FRAME_HEAD.unpack_from(data, offset)
            stop = offset + 9 + (high << 8 | low)
            if stop > end:
                break
            if kind == _DATA and not flags & _PADDED and stop - offset - 9 <= limit:
                if run < offset:
                    # The frames before it first: they may open, end or reset its stream,
                    # or start a header block (which only CONTINUATION may follow).
                    events += super().receive_data(data[run:offset])
                stream = self.streams.get(stream_id & 0x7FFFFFFF)
                if (
                    stream is not None
                    and stream.state_machine.state in _RECEIVING
                    and self.state_machine.state is _SERVER_OPEN
                    and not buffer._headers_buffer
                ):
                    events += self._data(stream, data[offset + 9 : stop], flags & _END_STREAM)
                    run = stop
                else:
                    run = offset
            elif (
                kind == _HEADERS
                and flags & _END_HEADERS
                and not flags & (_PADDED | _PRIORITY)
                and stop - offset - 9 <= limit
            ):
                # A whole header block: a new request is read here (see _opens_request).
                if run < offset:
                    events += super().receive_data(data[run:offset])
                block = _Block(stream_id & 0x7FFFFFFF, data[offset + 9 : stop], flags & _END_STREAM)
                if not buffer._headers_buffer and self._opens_request(block):
                    events += self._new_request(block)[1]  # (it queues no frame)
                    run = stop
                else:
                    run = offset
            offset = stop
        if run < offset:
            events += super().receive_data(data if run == 0 and offset == end else data[run:offset])
        if offset < end:
            pending += memoryview(data)[offset:]  # unfinished: kept (by h2) until it is whole
        return events

    def _data(self, stream: h2.stream.H2Stream, payload: bytes, end: int) -> list[h2.events.Event]:
        """A DATA frame's ``payload`` for ``stream``: h2's steps for it, as h2 takes them."""
        size = len(payload)
        self._inbound_flow_control_window_manager.window_consumed(size)
        try:
            return stream.receive_data(payload, bool(end), size)[1]
        except h2.exceptions.InvalidBodyLengthError as error:
            # Raised once h2 counted the frame against both windows.
            return self._malformed(stream.stream_id, str(error), size)[1]

    def _receive_data_frame(
        self, frame: hyperframe.frame.DataFrame
    ) -> tuple[list[hyperframe.frame.Frame], list[h2.events.Event]]:
        try:
            return super()._receive_data_frame(frame)
        except h2.exceptions.InvalidBodyLengthError as error:
            # Raised by the stream once h2 counted the frame against both windows.
            return self._malformed(frame.stream_id, str(error), frame.flow_controlled_length)

    def _malformed(
        self, stream_id: int, reason: str, flow_controlled_length: int = 0
    ) -> tuple[list[hyperframe.frame.Frame], list[h2.events.Event]]:
        """Reset a malformed stream now (later frames on it meet a closed stream) and report it."""
        self.reset_stream(stream_id, _PROTOCOL_ERROR)
        return [], [StreamMalformed(stream_id, reason, flow_controlled_length)]

    def _ended(
        self,
        stream_id: int,
        result: tuple[list[hyperframe.frame.Frame], list[h2.events.Event]],
    ) -> tuple[list[hyperframe.frame.Frame], list[h2.events.Event]]:
        """``result`` of a HEADERS frame that ended stream ``stream_id``, unless the
        stream's DATA do not add up to its ``content-length``: then a stream error."""
        stream = self.streams.get(stream_id)
        if stream is None:
            return result
        declared, received = stream._expected_content_length, stream._actual_content_length
        if declared is None or declared == received:
            return result
        return self._malformed(
            stream_id, f"content-length {declared}, but {received} bytes of DATA"
        )

    def _new_request(
        self, frame: HeadersFrameLike
    ) -> tuple[list[hyperframe.frame.Frame], list[h2.events.Event]]:
        """A request on a new stream within the limit: h2's steps for it, without its generic ones.

        The same decoding, stream, state-machine inputs and content-length check as
        h2's HEADERS handler, skipping what cannot apply to a new request stream
        (the connection state machine takes RECV_HEADERS in ``SERVER_OPEN`` without
        a change; trailers; response and priority handling; the header pipeline,
        which is off).  A request carrying ``:status`` is malformed and gets its
        stream reset by :mod:`daphne._wire.h2_fields` (h2 would end the connection).
        ``tests/unit/test_h2_receive_path.py`` compares it with h2's own handler.
        """
        headers = h2.connection._decode_headers(self.decoder, frame.data)
        stream = self._begin_new_stream(frame.stream_id, _CLIENT_STREAMS)
        machine = stream.state_machine
        events: list[h2.events.Event] = machine.process_input(_STREAM_RECV_HEADERS)
        event = events[0]
        assert isinstance(event, h2.events.RequestReceived)
        if "END_STREAM" in frame.flags:
            ended = machine.process_input(_STREAM_RECV_END)
            event.stream_ended = ended[0]  # type: ignore[assignment]
            events += ended
        try:
            stream._initialize_content_length(headers)
        except h2.exceptions.ProtocolError as error:  # not a number, or two different ones
            return self._malformed(frame.stream_id, str(error))
        event.headers = list(headers)
        if "END_STREAM" in frame.flags:
            return self._ended(frame.stream_id, ([], events))
        return [], events

    # h2 has no hook for a stream over the concurrency limit (it raises a connection
    # error from inside its frame dispatch), so we override its HEADERS handler.  This
    # and the privates it uses are checked by tests/unit/test_dependency_privates.py.
    def _receive_headers_frame(
        self, frame: hyperframe.frame.HeadersFrame
    ) -> tuple[list[hyperframe.frame.Frame], list[h2.events.Event]]:
        """h2's HEADERS handler, with a stream past the limit refused and a malformed
        request a stream error (see the module), not fatal.  (A new request within the
        limit takes :meth:`_new_request` from :meth:`_receive_frame`.)"""
        stream_id = frame.stream_id
        stream = self.streams.get(stream_id)
        if (
            stream is not None
            and stream.state_machine.state is _STREAM_OPEN
            and self.state_machine.state is _SERVER_OPEN
        ):
            return self._trailers(stream, frame)
        try:
            frames, events = super()._receive_headers_frame(frame)
        except h2.exceptions.TooManyStreamsError:
            # Only a well-formed new client stream is refused; anything else
            # stays the connection error h2 makes of it.
            if stream_id % 2 == 0 or stream_id <= self.highest_inbound_stream_id:
                raise
            # h2's own decoding (and its errors): the HPACK state stays in step.  h2
            # raised before decoding, so the block is decoded exactly once.
            h2.connection._decode_headers(self.decoder, frame.data)
            self.highest_inbound_stream_id = stream_id
            # Later frames on it (DATA in flight) get RST_STREAM(STREAM_CLOSED), as for
            # any stream we reset: h2 looks a closed stream up in _closed_streams (there
            # is no public way to close a stream h2 never opened).
            self._closed_streams[stream_id] = h2.stream.StreamClosedBy.SEND_RST_STREAM
            self.refused += 1
            reset = hyperframe.frame.RstStreamFrame(stream_id)
            reset.error_code = h2.errors.ErrorCodes.REFUSED_STREAM
            return [reset], []
        except h2.exceptions.ProtocolError as error:
            # h2 opened the stream (its block decoded, so HPACK is in step), then found
            # the request malformed: its content-length, a dependency on itself.  Any
            # other error, or one of h2's more specific ones, stays fatal.
            opened = self.streams.get(stream_id)
            if (
                type(error) is not h2.exceptions.ProtocolError
                or stream is not None
                or opened is None
                or opened.state_machine.state is _STREAM_IDLE
            ):
                raise
            return self._malformed(stream_id, str(error))
        if "END_STREAM" in frame.flags:
            return self._ended(stream_id, (frames, events))
        return frames, events

    def _trailers(
        self, stream: h2.stream.H2Stream, frame: hyperframe.frame.HeadersFrame
    ) -> tuple[list[hyperframe.frame.Frame], list[h2.events.Event]]:
        """A HEADERS frame on a request stream that is still sending: its trailer section.

        It must end the stream (RFC 9113 §8.1), with the DATA adding up to the
        request's ``content-length`` (a ``content-length`` among the trailers
        declares nothing: h2 would take it as the new length).
        """
        if "END_STREAM" not in frame.flags:
            h2.connection._decode_headers(self.decoder, frame.data)  # HPACK stays in step
            return self._malformed(frame.stream_id, "trailers without END_STREAM")
        declared = stream._expected_content_length
        try:
            frames, events = super()._receive_headers_frame(frame)
        except h2.exceptions.ProtocolError as error:
            # The block is decoded and the stream still open: a content-length among the
            # trailers that is not a number, say.  h2's more specific errors stay fatal.
            if type(error) is not h2.exceptions.ProtocolError:
                raise
            return self._malformed(frame.stream_id, str(error))
        stream._expected_content_length = declared
        return self._ended(frame.stream_id, (frames, events))

    # h2 has no option to keep a connection open after a GOAWAY(NO_ERROR) from the
    # client, so we override its GOAWAY handler for that one case (checked by
    # tests/unit/test_dependency_privates.py).
    def _receive_goaway_frame(
        self, frame: hyperframe.frame.GoAwayFrame
    ) -> tuple[list[hyperframe.frame.Frame], list[h2.events.Event]]:
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

    # -- sending: h2's own steps, without its generic ones ---------------------------
    #
    # A response's HEADERS and DATA go through h2's connection and stream state
    # machines exactly as h2's send_headers/send_data put them there (the same
    # inputs, windows and errors), but the frames are written directly instead of
    # through hyperframe objects, and the header pipeline h2 runs for clients,
    # pushes and outbound validation (all off or not ours) is skipped.  What this
    # does not cover (a stream h2 has not seen, informational headers, priority,
    # padding) goes to h2's own methods.  tests/unit/test_h2_send_paths.py checks
    # byte for byte and state for state that both ways agree.

    def send_headers(  # type: ignore[override]
        self,
        stream_id: int,
        headers: Sequence[tuple[bytes, bytes]],
        end_stream: bool = False,
        priority_weight: int | None = None,
        priority_depends_on: int | None = None,
        priority_exclusive: bool | None = None,
    ) -> None:
        stream = self.streams.get(stream_id)
        if (
            stream is None
            or priority_weight is not None
            or priority_depends_on is not None
            or priority_exclusive is not None
            or not headers
            or headers[0][0] != b":status"
            or headers[0][1][:1] == b"1"
        ):
            super().send_headers(
                stream_id,
                headers,
                end_stream,
                priority_weight=priority_weight,
                priority_depends_on=priority_depends_on,
                priority_exclusive=priority_exclusive,
            )
            return
        if self.state_machine.state is not _SERVER_OPEN:
            self.state_machine.process_input(_SEND_HEADERS)
        machine = stream.state_machine
        machine.process_input(_STREAM_SEND_HEADERS)
        block = self.encoder.encode(headers)
        flags = 0
        if end_stream:
            machine.process_input(_STREAM_SEND_END)
            flags = _END_STREAM
        elif machine.trailers_sent:
            raise h2.exceptions.ProtocolError("Trailers must have END_STREAM set.")
        stream.request_method = None  # as h2 (it reads :method from what it sends)
        size = stream.max_outbound_frame_size or self.max_outbound_frame_size
        out = self._data_to_send
        if len(block) <= size:
            out += _FRAME_HEAD.pack(
                len(block) >> 8, len(block) & 0xFF, _HEADERS, flags | _END_HEADERS, stream_id
            )
            out += block
            return
        for start in range(0, len(block), size):
            piece = block[start : start + size]
            kind = _CONTINUATION if start else _HEADERS
            piece_flags = 0 if start else flags
            if start + size >= len(block):
                piece_flags |= _END_HEADERS
            out += _FRAME_HEAD.pack(
                len(piece) >> 8, len(piece) & 0xFF, kind, piece_flags, stream_id
            )
            out += piece

    def send_data(
        self,
        stream_id: int,
        data: bytes | memoryview,
        end_stream: bool = False,
        pad_length: int | None = None,
    ) -> None:
        stream = self.streams.get(stream_id)
        if stream is None or pad_length is not None:
            super().send_data(stream_id, data, end_stream, pad_length=pad_length)
            return
        size = len(data)
        if size:
            window = min(self.outbound_flow_control_window, stream.outbound_flow_control_window)
            if size > window:
                raise h2.exceptions.FlowControlError(
                    f"Cannot send {size} bytes, flow control window is {window}"
                )
            if size > self.max_outbound_frame_size:
                raise h2.exceptions.FrameTooLargeError(
                    f"Cannot send frame size {size}, "
                    f"max frame size is {self.max_outbound_frame_size}"
                )
        if self.state_machine.state is not _SERVER_OPEN:
            self.state_machine.process_input(_SEND_DATA)
        machine = stream.state_machine
        if machine.state not in _SENDING:
            machine.process_input(_STREAM_SEND_DATA)
        flags = 0
        if end_stream:
            machine.process_input(_STREAM_SEND_END)
            flags = _END_STREAM
        stream.outbound_flow_control_window -= size
        self.outbound_flow_control_window -= size
        out = self._data_to_send
        out += _FRAME_HEAD.pack(size >> 8, size & 0xFF, _DATA, flags, stream_id)
        out += data

    def error_data(self, error: h2.exceptions.ProtocolError) -> bytes:
        """What h2 queued after ``error``, its GOAWAY corrected where h2 picks too general a code.

        h2 reports every HPACK decoding failure, and a SETTINGS ACK carrying a
        payload, as PROTOCOL_ERROR; RFC 9113 asks for COMPRESSION_ERROR (§4.3)
        and FRAME_SIZE_ERROR (§6.5).  h2 takes no error code from us here: it
        queues its GOAWAY itself before raising, so its serialized frame, the
        last thing queued, is replaced by ours (that h2 queues it so, and raises
        from the cause, is checked by ``tests/unit/test_dependency_privates.py``).
        """
        data = self.data_to_send()
        cause = error.__cause__
        code = None
        if isinstance(cause, hpack.exceptions.HPACKError) and not isinstance(
            cause, hpack.exceptions.OversizedHeaderListError
        ):
            code = h2.errors.ErrorCodes.COMPRESSION_ERROR
        elif isinstance(cause, hyperframe.exceptions.InvalidDataError) and "ack" in str(cause):
            code = h2.errors.ErrorCodes.FRAME_SIZE_ERROR
        if code is not None:
            last = self.highest_inbound_stream_id
            queued = goaway(last, error.error_code)
            if data.endswith(queued):
                data = data[: -len(queued)] + goaway(last, code)
        return data
