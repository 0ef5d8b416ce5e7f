"""A sans-IO WebSocket engine (RFC 6455, with permessage-deflate from RFC 7692).

Bytes in, events out; messages in, bytes out.  No sockets, no clocks: the
protocol adapters (the HTTP/1.1 upgrade, HTTP/2 extended CONNECT) feed
it and write what it returns.

Theory of operation:

* Rule 1: client frames must be masked, use no reserved bits (RSV1 only as
  the first frame of a compressed message when deflate was negotiated), known
  opcodes, and control frames of at most 125 bytes that are never fragmented;
  anything else fails the connection with 1002.
* Rule 2: a frame payload over ``max_frame_size`` or a message (after
  decompression) over ``max_message_size`` fails the connection with 1009;
  decompression stops as soon as the limit is passed, so a small compressed
  frame cannot inflate past it.
* Rule 3: text is validated as UTF-8 incrementally, as its bytes arrive (even
  in the middle of a frame split across reads, and across fragments), so an
  invalid byte fails the connection (1007) as soon as it arrives.
* Rule 4: after a close frame was received no event but ``Closed`` follows;
  after a failure the engine ignores all further input.
* Rule 5: every received byte is copied a bounded number of times: a data
  frame's payload is unmasked and moved into its message as it arrives, so a
  large frame dribbled in small reads costs linear, not quadratic, time.
* Rule 6: bytes in, events out *on demand*: :meth:`WebSocketEngine.feed` only
  buffers; :meth:`WebSocketEngine.next_event` turns buffered bytes into at most
  one event, and stops before the next frame once the message being assembled
  (counted after decompression) is over the caller's ``budget``.  The caller
  (the stream) stops asking while its application is behind, so what an
  unread client sends stays raw, compressed bytes, whose amount the caller
  bounds by pausing the transport.

Covered by ``tests/unit/test_ws_engine.py`` and the Autobahn|Testsuite run
(``tests/conformance/test_autobahn_fast.py``).
"""

from __future__ import annotations

import codecs
import struct

from .ws_deflate import Deflate, DeflateCodec, negotiate_deflate
from .ws_frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    Closed,
    Event,
    Failed,
    Message,
    Ping,
    Pong,
    ProtocolError,
    build_frame,
    close_payload,
    parse_close,
    refuse_held_surrogate,
    unmask,
    valid_close_code,
)

__all__ = [
    "Closed",
    "Deflate",
    "Event",
    "Failed",
    "Message",
    "Ping",
    "Pong",
    "WebSocketEngine",
    "negotiate_deflate",
    "valid_close_code",
]

_DATA_OPCODES = (OP_TEXT, OP_BINARY)
_CONTROL_OPCODES = (OP_CLOSE, OP_PING, OP_PONG)
_utf8_decoder = codecs.getincrementaldecoder("utf-8")


class WebSocketEngine:
    """One server-side WebSocket connection's framing state.

    :ivar closed_by_peer: a close frame arrived.
    :ivar close_sent: we produced a close frame.
    :ivar failed: the peer broke the protocol; input is ignored from now on.
    :ivar over_budget: the last :meth:`next_event` stopped because the message
        being assembled is over the caller's budget (not for want of bytes).
    """

    def __init__(
        self, max_message_size: int = 0, max_frame_size: int = 0, deflate: Deflate | None = None
    ) -> None:
        self.max_message_size = max_message_size
        self.max_frame_size = max_frame_size
        self.deflate = deflate
        # Unprocessed input: ``_buffer[_offset:]`` (bytes while untouched, else a bytearray).
        self._buffer: bytes | bytearray = b""
        self._offset = 0
        # The data frame whose payload is arriving (``_frame_left`` bytes still to come).
        self._in_frame = False
        self._frame_fin = False
        self._frame_mask = b""
        self._frame_left = 0
        self._frame_seen = 0
        self._frame_data = bytearray()  # a compressed frame's payload, inflated at its end
        # The message being assembled.
        self._message_opcode: int | None = None
        self._message_size = 0
        self._message_compressed = False
        self._message = bytearray()
        self._utf8: codecs.IncrementalDecoder | None = None
        self._codec = DeflateCodec(deflate) if deflate else None
        self.closed_by_peer = False
        self.close_sent = False
        self.failed = False
        self.over_budget = False

    # -- incoming ---------------------------------------------------------------

    @property
    def buffered(self) -> int:
        """Received bytes not yet turned into events (raw, still compressed)."""
        return len(self._buffer) - self._offset

    def feed(self, data: bytes) -> None:
        """Buffer bytes from the client (no parsing: see :meth:`next_event`)."""
        if self.failed or self.closed_by_peer or not data:
            return
        buffer = self._buffer
        if self._offset >= len(buffer):
            self._buffer, self._offset = data, 0
            return
        if isinstance(buffer, bytes):
            self._buffer = bytearray(buffer[self._offset :])
        elif self._offset:
            del buffer[: self._offset]
        self._offset = 0
        self._buffer += data

    def receive_data(self, data: bytes) -> list[Event]:
        """Consume bytes from the client; return every event they complete."""
        self.feed(data)
        events: list[Event] = []
        while (event := self.next_event()) is not None:
            events.append(event)
        return events

    def next_event(self, budget: int = -1) -> Event | None:
        """The next event the buffered bytes complete, or None.

        :param budget: when not negative, stop before another frame while the
            message being assembled holds more than ``budget`` bytes (then
            :attr:`over_budget` is set); the bytes stay buffered.
        """
        self.over_budget = False
        if self.failed or self.closed_by_peer:
            return None
        try:
            while True:
                if self._in_frame:
                    message = self._frame_payload()
                    if message is not None or self._in_frame:
                        return message
                if 0 <= budget < self._message_size:
                    self.over_budget = True
                    return None
                offset = self._offset
                event = self._next_frame()
                if event is not None or self._offset == offset:
                    return event  # an event, or too few bytes for a header
        except ProtocolError as error:
            self.failed = True
            self._buffer, self._offset = b"", 0
            self._message = bytearray()
            return Failed(error.code, error.reason)

    def _next_frame(self) -> Event | None:
        """Parse a frame header: a whole frame is handled at once, else its payload follows."""
        buffer, offset = self._buffer, self._offset
        available = len(buffer) - offset
        if available < 2:
            return None
        first, second = buffer[offset], buffer[offset + 1]
        if first & 0x30:
            raise ProtocolError(1002, "reserved bits set")
        rsv1 = bool(first & 0x40)
        opcode = first & 0x0F
        fin = bool(first & 0x80)
        if not second & 0x80:
            raise ProtocolError(1002, "client frames must be masked")
        length = second & 0x7F
        header = 6
        if opcode in _CONTROL_OPCODES:
            if length > 125:
                raise ProtocolError(1002, "control frame too long")
            if not fin:
                raise ProtocolError(1002, "fragmented control frame")
            if rsv1:
                raise ProtocolError(1002, "compressed control frame")
            if available < header + length:
                return None
            payload = unmask(
                buffer[offset + 6 : offset + 6 + length], buffer[offset + 2 : offset + 6]
            )
            self._offset = offset + 6 + length
            if opcode == OP_PING:
                return Ping(payload)
            if opcode == OP_PONG:
                return Pong(payload)
            closed = parse_close(payload)
            self.closed_by_peer = True
            return closed
        if length == 126:
            if available < 8:
                return None
            (length,) = struct.unpack_from("!H", buffer, offset + 2)
            header = 8
        elif length == 127:
            if available < 14:
                return None
            (length,) = struct.unpack_from("!Q", buffer, offset + 2)
            if length >> 63:
                raise ProtocolError(1002, "invalid frame length")
            header = 14
        elif available < 6:
            return None
        self._start_frame(opcode, rsv1, length)
        start = offset + header
        end = start + length
        if end <= len(buffer):
            # The whole frame is here (the common case): no per-frame state.
            self._offset = end
            return self._frame_done(unmask(buffer[start:end], buffer[start - 4 : start]), fin)
        self._frame_mask = bytes(buffer[start - 4 : start])
        self._offset = start
        self._frame_fin = fin
        self._frame_left = length
        self._frame_seen = 0
        self._in_frame = True
        return None

    def _start_frame(self, opcode: int, rsv1: bool, length: int) -> None:
        """Check a data frame's header against the limits and the message in progress."""
        if opcode == OP_CONTINUATION:
            if self._message_opcode is None:
                raise ProtocolError(1002, "continuation frame without a message")
            if rsv1:
                raise ProtocolError(1002, "RSV1 on a continuation frame")
        elif opcode in _DATA_OPCODES:
            if self._message_opcode is not None:
                raise ProtocolError(1002, "new message before the previous one ended")
            if rsv1 and self.deflate is None:
                raise ProtocolError(1002, "RSV1 set without permessage-deflate")
        else:
            raise ProtocolError(1002, f"unknown opcode {opcode}")
        if self.max_frame_size and length > self.max_frame_size:
            raise ProtocolError(1009, "frame too large")
        compressed = rsv1 or (opcode == OP_CONTINUATION and self._message_compressed)
        if (
            self.max_message_size
            and not compressed
            and self._message_size + length > self.max_message_size
        ):
            raise ProtocolError(1009, "message too large")
        if opcode != OP_CONTINUATION:
            self._message_opcode = opcode
            self._message_compressed = rsv1
            self._message_size = 0

    def _frame_payload(self) -> Message | None:
        """Move the data frame's payload that has arrived into its message (unmasked)."""
        buffer, offset = self._buffer, self._offset
        left = self._frame_left
        take = min(left, len(buffer) - offset)
        if take == 0 and left:
            return None
        end = offset + take
        mask = self._frame_mask
        shift = self._frame_seen & 3
        if shift:
            mask = mask[shift:] + mask[:shift]
        chunk = unmask(buffer[offset:end], mask)
        self._offset = end
        self._frame_seen += take
        self._frame_left = left = left - take
        if left:
            if self._message_compressed:
                self._frame_data += chunk
            else:
                self._add(chunk, last=False)
            return None
        self._in_frame = False
        if self._frame_data:
            self._frame_data += chunk
            chunk = bytes(self._frame_data)
            self._frame_data = bytearray()
        return self._frame_done(chunk, self._frame_fin)

    def _frame_done(self, chunk: bytes, fin: bool) -> Message | None:
        """A data frame's (unmasked) payload is complete."""
        if self._message_compressed:
            codec = self._codec
            assert codec is not None  # RSV1 is refused without permessage-deflate
            limit = self.max_message_size
            chunk = codec.inflate(chunk, fin, limit - self._message_size + 1 if limit else 0)
            self._message_size += len(chunk)
            if self.max_message_size and self._message_size > self.max_message_size:
                raise ProtocolError(1009, "message too large")
            return self._add(chunk, fin, counted=True)
        return self._add(chunk, fin)

    def _add(self, data: bytes, last: bool, counted: bool = False) -> Message | None:
        """Append message bytes (validating text as it comes); the Message once ``last``."""
        if not counted:
            self._message_size += len(data)
        text = self._message_opcode == OP_TEXT
        if last and not self._message:
            # The whole message in one piece (the common case): no copy.
            self._end_message()
            if not text:
                return Message(data)
            decoder = self._utf8
            self._utf8 = None
            try:
                if decoder is not None:
                    decoder.decode(data, True)  # raises on a truncated code point
                return Message(data.decode("utf-8"))
            except UnicodeDecodeError:
                raise ProtocolError(1007, "invalid UTF-8 in text message") from None
        if text:
            decoder = self._utf8
            if decoder is None:
                decoder = self._utf8 = _utf8_decoder()
            try:
                decoder.decode(data, last)
            except UnicodeDecodeError:
                raise ProtocolError(1007, "invalid UTF-8 in text message") from None
            if not last and data and data[-1] >= 0x80:
                refuse_held_surrogate(decoder)
        self._message += data
        if not last:
            return None
        whole, self._message = self._message, bytearray()
        self._utf8 = None
        self._end_message()
        return Message(whole.decode("utf-8") if text else bytes(whole))

    def _end_message(self) -> None:
        self._message_opcode = None
        self._message_compressed = False
        self._message_size = 0

    # -- outgoing ---------------------------------------------------------------

    def send_message(self, data: str | bytes) -> bytes:
        """Frame a text (``str``) or binary (``bytes``) message."""
        if isinstance(data, str):
            opcode, payload = OP_TEXT, data.encode("utf-8")
        else:
            opcode, payload = OP_BINARY, data
        codec = self._codec
        if codec is not None:
            return build_frame(opcode, codec.compress(payload), rsv1=True)
        return build_frame(opcode, payload)

    def send_ping(self, payload: bytes = b"") -> bytes:
        return build_frame(OP_PING, payload)

    def send_pong(self, payload: bytes) -> bytes:
        return build_frame(OP_PONG, payload)

    def send_close(self, code: int | None = 1000, reason: str = "") -> bytes:
        """A close frame (no payload when ``code`` is None or 1005)."""
        self.close_sent = True
        return build_frame(OP_CLOSE, close_payload(code, reason))
