"""A sans-IO WebSocket engine (RFC 6455, with permessage-deflate from RFC 7692).

Bytes in, events out; messages in, bytes out.  No sockets, no clocks: the
protocol adapters (HTTP/1.1 upgrade today, HTTP/2 extended CONNECT later) feed
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
* Rule 3: text is validated as UTF-8 incrementally, frame by frame, so an
  invalid byte fails the connection (1007) as soon as it arrives.
* Rule 4: after a close frame was received no event but ``Closed`` follows;
  after a failure the engine ignores all further input.

Covered by ``tests/unit/test_ws_engine.py`` and the Autobahn|Testsuite run.
"""

from __future__ import annotations

import codecs
import struct
import zlib
from dataclasses import dataclass

__all__ = [
    "Closed",
    "Deflate",
    "Failed",
    "Message",
    "Ping",
    "Pong",
    "WebSocketEngine",
    "negotiate_deflate",
    "valid_close_code",
]

OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_DATA_OPCODES = (OP_TEXT, OP_BINARY)
_CONTROL_OPCODES = (OP_CLOSE, OP_PING, OP_PONG)
_DEFLATE_TAIL = b"\x00\x00\xff\xff"


@dataclass(frozen=True, slots=True)
class Message:
    """A complete data message: ``str`` for text, ``bytes`` for binary."""

    data: str | bytes


@dataclass(frozen=True, slots=True)
class Ping:
    payload: bytes


@dataclass(frozen=True, slots=True)
class Pong:
    payload: bytes


@dataclass(frozen=True, slots=True)
class Closed:
    """The peer sent a close frame (code 1005 when it carried none)."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Failed:
    """The peer broke the protocol; send a close with ``code`` and drop the connection."""

    code: int
    reason: str


def valid_close_code(code: int) -> bool:
    """Codes that may appear in a close frame (RFC 6455 §7.4, IANA registry)."""
    return code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014) or (
        3000 <= code <= 4999
    )


class _ProtocolError(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Deflate:
    """Negotiated permessage-deflate parameters (RFC 7692 §7)."""

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int = 15
    client_max_window_bits: int = 15

    def response_header(self) -> bytes:
        """The ``Sec-WebSocket-Extensions`` value accepting this configuration."""
        parts = ["permessage-deflate"]
        if self.server_no_context_takeover:
            parts.append("server_no_context_takeover")
        if self.client_no_context_takeover:
            parts.append("client_no_context_takeover")
        if self.server_max_window_bits != 15:
            parts.append(f"server_max_window_bits={self.server_max_window_bits}")
        if self.client_max_window_bits != 15:
            parts.append(f"client_max_window_bits={self.client_max_window_bits}")
        return "; ".join(parts).encode("ascii")


def _parse_offer(params: list[str]) -> Deflate | None:
    seen: set[str] = set()
    values: dict[str, object] = {}
    for param in params:
        name, _, value = param.partition("=")
        name, value = name.strip().lower(), value.strip().strip('"')
        if name in seen:
            return None
        seen.add(name)
        if name in ("server_no_context_takeover", "client_no_context_takeover"):
            if value:
                return None
            values[name] = True
        elif name == "server_max_window_bits":
            if not value.isdigit() or not 8 <= int(value) <= 15:
                return None
            values[name] = int(value)
        elif name == "client_max_window_bits":
            # Without a value the client merely says it supports the parameter.
            if value and (not value.isdigit() or not 8 <= int(value) <= 15):
                return None
            values[name] = int(value) if value else 15
        else:
            return None
    return Deflate(**values)  # type: ignore[arg-type]


def negotiate_deflate(header_values: list[bytes]) -> Deflate | None:
    """Accept the first valid permessage-deflate offer among the client's extensions."""
    for header in header_values:
        for offer in header.decode("latin-1").split(","):
            name, *params = [part.strip() for part in offer.split(";")]
            if name.lower() == "permessage-deflate":
                accepted = _parse_offer(params)
                if accepted is not None:
                    return accepted
    return None


def _unmask(payload: bytes, mask: bytes) -> bytes:
    length = len(payload)
    if not length:
        return payload
    key = int.from_bytes((mask * ((length >> 2) + 1))[:length], "little")
    return (int.from_bytes(payload, "little") ^ key).to_bytes(length, "little")


def _frame(opcode: int, payload: bytes, rsv1: bool = False) -> bytes:
    first = 0x80 | opcode | (0x40 if rsv1 else 0)
    length = len(payload)
    if length < 126:
        return struct.pack("!BB", first, length) + payload
    if length < 65536:
        return struct.pack("!BBH", first, 126, length) + payload
    return struct.pack("!BBQ", first, 127, length) + payload


class WebSocketEngine:
    """One server-side WebSocket connection's framing state.

    :ivar closed_by_peer: a close frame arrived.
    :ivar close_sent: we produced a close frame.
    """

    def __init__(
        self, max_message_size: int = 0, max_frame_size: int = 0, deflate: Deflate | None = None
    ) -> None:
        self.max_message_size = max_message_size
        self.max_frame_size = max_frame_size
        self.deflate = deflate
        self._buffer = b""
        self._message_opcode: int | None = None
        self._message_parts: list[bytes] = []
        self._message_size = 0
        self._message_compressed = False
        self._utf8: codecs.IncrementalDecoder | None = None
        self._text_parts: list[str] = []
        self._inflater = self._new_inflater() if deflate else None
        self._deflater = self._new_deflater() if deflate else None
        self.closed_by_peer = False
        self.close_sent = False
        self.failed = False

    # -- deflate state -----------------------------------------------------------

    def _new_inflater(self) -> zlib._Decompress:
        return zlib.decompressobj(-15)

    def _new_deflater(self) -> zlib._Compress:
        assert self.deflate is not None
        bits = max(9, self.deflate.server_max_window_bits)
        return zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -bits)

    # -- incoming ---------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Message | Ping | Pong | Closed | Failed]:
        """Consume bytes from the client; return the events they complete."""
        if self.failed or self.closed_by_peer:
            return []
        buffer = self._buffer + data if self._buffer else data
        events: list[Message | Ping | Pong | Closed | Failed] = []
        offset = 0
        try:
            while True:
                frame = self._parse_frame(buffer, offset)
                if frame is None:
                    break
                offset, fin, rsv1, opcode, payload = frame
                event = self._handle_frame(fin, rsv1, opcode, payload)
                if event is not None:
                    events.append(event)
                    if isinstance(event, Closed):
                        break
        except _ProtocolError as error:
            self.failed = True
            self._buffer = b""
            events.append(Failed(error.code, error.reason))
            return events
        self._buffer = buffer[offset:]
        return events

    def _parse_frame(self, buffer: bytes, offset: int) -> tuple[int, bool, bool, int, bytes] | None:
        available = len(buffer) - offset
        if available < 2:
            return None
        first, second = buffer[offset], buffer[offset + 1]
        if first & 0x30:
            raise _ProtocolError(1002, "reserved bits set")
        rsv1 = bool(first & 0x40)
        opcode = first & 0x0F
        fin = bool(first & 0x80)
        if not second & 0x80:
            raise _ProtocolError(1002, "client frames must be masked")
        length = second & 0x7F
        header = 2
        if opcode in _CONTROL_OPCODES:
            if length > 125:
                raise _ProtocolError(1002, "control frame too long")
            if not fin:
                raise _ProtocolError(1002, "fragmented control frame")
            if rsv1:
                raise _ProtocolError(1002, "compressed control frame")
        elif opcode not in (OP_CONTINUATION, OP_TEXT, OP_BINARY):
            raise _ProtocolError(1002, f"unknown opcode {opcode}")
        if length == 126:
            if available < 4:
                return None
            (length,) = struct.unpack_from("!H", buffer, offset + 2)
            header = 4
        elif length == 127:
            if available < 10:
                return None
            (length,) = struct.unpack_from("!Q", buffer, offset + 2)
            if length >> 63:
                raise _ProtocolError(1002, "invalid frame length")
            header = 10
        if self.max_frame_size and length > self.max_frame_size:
            raise _ProtocolError(1009, "frame too large")
        if (
            self.max_message_size
            and opcode not in _CONTROL_OPCODES
            and not (rsv1 or self._message_compressed)
            and self._message_size + length > self.max_message_size
        ):
            raise _ProtocolError(1009, "message too large")
        end = offset + header + 4 + length
        if len(buffer) < end:
            return None
        mask = buffer[offset + header : offset + header + 4]
        payload = _unmask(buffer[offset + header + 4 : end], mask)
        return end, fin, rsv1, opcode, payload

    def _handle_frame(
        self, fin: bool, rsv1: bool, opcode: int, payload: bytes
    ) -> Message | Ping | Pong | Closed | None:
        if opcode == OP_PING:
            return Ping(payload)
        if opcode == OP_PONG:
            return Pong(payload)
        if opcode == OP_CLOSE:
            return self._close_frame(payload)
        if opcode == OP_CONTINUATION:
            if self._message_opcode is None:
                raise _ProtocolError(1002, "continuation frame without a message")
            if rsv1:
                raise _ProtocolError(1002, "RSV1 on a continuation frame")
        else:
            if self._message_opcode is not None:
                raise _ProtocolError(1002, "new message before the previous one ended")
            if rsv1 and self.deflate is None:
                raise _ProtocolError(1002, "RSV1 set without permessage-deflate")
            self._message_opcode = opcode
            self._message_compressed = rsv1
            self._message_size = 0
            if opcode == OP_TEXT:
                self._utf8 = codecs.getincrementaldecoder("utf-8")()
        if self._message_compressed:
            payload = self._inflate(payload, fin)
        self._message_size += len(payload)
        if self.max_message_size and self._message_size > self.max_message_size:
            raise _ProtocolError(1009, "message too large")
        if self._message_opcode == OP_TEXT:
            try:
                self._text_parts.append(self._utf8.decode(payload, fin))  # type: ignore[union-attr]
            except UnicodeDecodeError:
                raise _ProtocolError(1007, "invalid UTF-8 in text message") from None
        else:
            self._message_parts.append(payload)
        if not fin:
            return None
        return self._finish_message()

    def _inflate(self, payload: bytes, fin: bool) -> bytes:
        assert self._inflater is not None
        limit = self.max_message_size - self._message_size + 1 if self.max_message_size else 0
        try:
            data = self._inflater.decompress(payload, limit)
            if fin and not (limit and len(data) >= limit):
                data += self._inflater.decompress(_DEFLATE_TAIL, limit - len(data) if limit else 0)
        except zlib.error:
            raise _ProtocolError(1007, "invalid compressed data") from None
        if limit and (len(data) >= limit or self._inflater.unconsumed_tail):
            raise _ProtocolError(1009, "message too large once decompressed")
        if fin and self.deflate is not None and self.deflate.client_no_context_takeover:
            self._inflater = self._new_inflater()
        return data

    def _finish_message(self) -> Message:
        if self._message_opcode == OP_TEXT:
            data: str | bytes = (
                "".join(self._text_parts) if len(self._text_parts) != 1 else self._text_parts[0]
            )
            self._text_parts = []
            self._utf8 = None
        else:
            data = (
                b"".join(self._message_parts)
                if len(self._message_parts) != 1
                else self._message_parts[0]
            )
            self._message_parts = []
        self._message_opcode = None
        self._message_compressed = False
        self._message_size = 0
        return Message(data)

    def _close_frame(self, payload: bytes) -> Closed:
        if len(payload) == 1:
            raise _ProtocolError(1002, "close frame with a one-byte payload")
        code, reason = 1005, ""
        if payload:
            (code,) = struct.unpack("!H", payload[:2])
            if not valid_close_code(code):
                raise _ProtocolError(1002, f"invalid close code {code}")
            try:
                reason = payload[2:].decode("utf-8")
            except UnicodeDecodeError:
                raise _ProtocolError(1007, "close reason is not UTF-8") from None
        self.closed_by_peer = True
        return Closed(code, reason)

    # -- outgoing ---------------------------------------------------------------

    def send_message(self, data: str | bytes) -> bytes:
        """Frame a text (``str``) or binary (``bytes``) message."""
        if isinstance(data, str):
            opcode, payload = OP_TEXT, data.encode("utf-8")
        else:
            opcode, payload = OP_BINARY, data
        if self._deflater is not None:
            compressed = self._deflater.compress(payload) + self._deflater.flush(zlib.Z_SYNC_FLUSH)
            if compressed.endswith(_DEFLATE_TAIL):
                compressed = compressed[:-4]
            if self.deflate is not None and self.deflate.server_no_context_takeover:
                self._deflater = self._new_deflater()
            return _frame(opcode, compressed or b"\x00", rsv1=True)
        return _frame(opcode, payload)

    def send_ping(self, payload: bytes = b"") -> bytes:
        return _frame(OP_PING, payload)

    def send_pong(self, payload: bytes) -> bytes:
        return _frame(OP_PONG, payload)

    def send_close(self, code: int | None = 1000, reason: str = "") -> bytes:
        """A close frame (no payload when ``code`` is None or 1005)."""
        self.close_sent = True
        if code is None or code == 1005:
            return _frame(OP_CLOSE, b"")
        encoded = reason.encode("utf-8")
        # Control frames carry at most 125 bytes: 2 for the code, 123 of reason.
        while len(encoded) > 123:
            reason = reason[:-1]
            encoded = reason.encode("utf-8")
        return _frame(OP_CLOSE, struct.pack("!H", code) + encoded)
