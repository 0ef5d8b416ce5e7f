"""The sans-IO WebSocket engine: framing rules, limits, UTF-8, permessage-deflate."""

from __future__ import annotations

import os
import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daphne._asgi.ws_engine import (
    Closed,
    Deflate,
    Failed,
    Message,
    Ping,
    Pong,
    WebSocketEngine,
    negotiate_deflate,
)


def client_frame(
    opcode: int, payload: bytes, fin: bool = True, rsv: int = 0, mask: bytes | None = None
) -> bytes:
    """A masked client frame."""
    mask = os.urandom(4) if mask is None else mask
    first = (0x80 if fin else 0) | rsv | opcode
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", first, 0x80 | length)
    elif length < 65536:
        header = struct.pack("!BBH", first, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, length)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + masked


def server_frames(data: bytes) -> list[tuple[int, int, bytes]]:
    """Parse unmasked server frames into (first byte, opcode, payload)."""
    frames, offset = [], 0
    while offset < len(data):
        first, second = data[offset], data[offset + 1]
        assert not second & 0x80, "server frames are never masked"
        length, header = second & 0x7F, 2
        if length == 126:
            (length,) = struct.unpack_from("!H", data, offset + 2)
            header = 4
        elif length == 127:
            (length,) = struct.unpack_from("!Q", data, offset + 2)
            header = 10
        frames.append((first, first & 0x0F, data[offset + header : offset + header + length]))
        offset += header + length
    return frames


def test_text_binary_and_empty_messages() -> None:
    """Text gives str, binary gives bytes, empty messages are messages too."""
    engine = WebSocketEngine()
    events = engine.receive_data(
        client_frame(1, "héllo".encode())
        + client_frame(2, b"\x00\xff")
        + client_frame(1, b"")
        + client_frame(2, b"")
    )
    assert events == [Message("héllo"), Message(b"\x00\xff"), Message(""), Message(b"")]


def test_fragments_with_interleaved_ping_and_bytewise_feeding() -> None:
    """Fragmented messages are reassembled; a ping may come between fragments."""
    data = (
        client_frame(1, b"ab", fin=False)
        + client_frame(9, b"p")
        + client_frame(0, b"cd", fin=False)
        + client_frame(0, b"e")
    )
    engine = WebSocketEngine()
    events = []
    for index in range(len(data)):
        events += engine.receive_data(data[index : index + 1])
    assert events == [Ping(b"p"), Message("abcde")]


def test_large_frames_and_pong() -> None:
    """16- and 64-bit lengths; pongs are reported."""
    big = os.urandom(70000)
    engine = WebSocketEngine()
    assert engine.receive_data(
        client_frame(2, big[:300]) + client_frame(2, big) + client_frame(10, b"x")
    ) == [
        Message(big[:300]),
        Message(big),
        Pong(b"x"),
    ]


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (client_frame(1, b"x", rsv=0x20), 1002),  # RSV2
        (client_frame(1, b"x", rsv=0x40), 1002),  # RSV1 without deflate
        (client_frame(3, b"x"), 1002),  # reserved data opcode
        (client_frame(11, b"x"), 1002),  # reserved control opcode
        (client_frame(9, b"x" * 126), 1002),  # control frame too long
        (client_frame(9, b"x", fin=False), 1002),  # fragmented control frame
        (client_frame(0, b"x"), 1002),  # continuation without a message
        (client_frame(1, b"a", fin=False) + client_frame(1, b"b"), 1002),  # new message mid-message
        (b"\x81\x01x", 1002),  # unmasked
        (client_frame(1, b"\xff\xfe"), 1007),  # invalid UTF-8
        (client_frame(8, b"\x03"), 1002),  # one-byte close payload
        (client_frame(8, struct.pack("!H", 1005)), 1002),  # reserved close code
        (client_frame(8, struct.pack("!H", 999)), 1002),
        (client_frame(8, struct.pack("!H", 1000) + b"\xff"), 1007),  # bad reason
    ],
)
def test_protocol_errors_fail_the_connection(frame: bytes, code: int) -> None:
    """Every framing violation ends in Failed with the right close code; input after it is ignored."""
    engine = WebSocketEngine()
    events = engine.receive_data(frame)
    assert isinstance(events[-1], Failed) and events[-1].code == code
    assert engine.receive_data(client_frame(1, b"more")) == []


def test_invalid_utf8_fails_fast_in_fragments() -> None:
    """An invalid byte in the first fragment fails before the message ends."""
    engine = WebSocketEngine()
    events = engine.receive_data(client_frame(1, b"ok\xc0\xaf", fin=False))
    assert isinstance(events[0], Failed) and events[0].code == 1007


def test_utf8_split_across_fragments_is_fine() -> None:
    """A character split between fragments is valid."""
    data = "€".encode()
    engine = WebSocketEngine()
    assert engine.receive_data(
        client_frame(1, data[:1], fin=False) + client_frame(0, data[1:])
    ) == [Message("€")]


def test_close_frames() -> None:
    """Close with code and reason; without code it is 1005; nothing follows a close."""
    engine = WebSocketEngine()
    assert engine.receive_data(
        client_frame(8, struct.pack("!H", 4000) + b"bye") + client_frame(1, b"x")
    ) == [Closed(4000, "bye")]
    assert WebSocketEngine().receive_data(client_frame(8, b"")) == [Closed(1005, "")]


def test_size_limits() -> None:
    """Frames over max_frame_size and messages over max_message_size fail with 1009."""
    engine = WebSocketEngine(max_frame_size=10)
    assert engine.receive_data(client_frame(2, b"x" * 11))[-1] == Failed(1009, "frame too large")
    engine = WebSocketEngine(max_message_size=10)
    events = engine.receive_data(client_frame(2, b"x" * 6, fin=False) + client_frame(0, b"x" * 6))
    assert isinstance(events[-1], Failed) and events[-1].code == 1009
    # Exactly at the limit is fine.
    assert WebSocketEngine(max_message_size=10, max_frame_size=10).receive_data(
        client_frame(2, b"x" * 10)
    ) == [Message(b"x" * 10)]


def compress(data: bytes, bits: int = 15) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -bits)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4]


def test_deflate_round_trip_and_context_takeover() -> None:
    """Compressed messages (RSV1) are inflated; the server compresses what it sends."""
    engine = WebSocketEngine(deflate=Deflate())
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    messages = [b"hello hello hello", b"hello again hello"]
    events = []
    for payload in messages:
        data = (compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
        events += engine.receive_data(client_frame(1, data, rsv=0x40))
    assert events == [Message("hello hello hello"), Message("hello again hello")]
    out = engine.send_message("x" * 1000)
    ((first, opcode, payload),) = server_frames(out)
    assert first & 0x40 and opcode == 1
    assert zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff") == b"x" * 1000


def test_decompression_bomb_is_stopped() -> None:
    """A small compressed frame that inflates past max_message_size fails with 1009."""
    bomb = compress(b"\x00" * (50 * 1024 * 1024))
    assert len(bomb) < 100_000
    engine = WebSocketEngine(max_message_size=1024 * 1024, deflate=Deflate())
    events = engine.receive_data(client_frame(2, bomb, rsv=0x40))
    assert events == [Failed(1009, "message too large once decompressed")]


def test_negotiation() -> None:
    """The first acceptable permessage-deflate offer is accepted with its parameters."""
    assert negotiate_deflate([]) is None
    assert negotiate_deflate([b"x-webkit-deflate-frame"]) is None
    accepted = negotiate_deflate([b"permessage-deflate; client_max_window_bits"])
    assert accepted == Deflate()
    assert accepted.response_header() == b"permessage-deflate"
    accepted = negotiate_deflate(
        [
            b"permessage-deflate; foo, permessage-deflate; server_no_context_takeover; server_max_window_bits=10"
        ]
    )
    assert accepted == Deflate(server_no_context_takeover=True, server_max_window_bits=10)
    assert (
        accepted.response_header()
        == b"permessage-deflate; server_no_context_takeover; server_max_window_bits=10"
    )
    assert negotiate_deflate([b"permessage-deflate; server_max_window_bits=16"]) is None


def test_outgoing_frames() -> None:
    """Server frames: unmasked, lengths of every size, close with code and truncated reason."""
    engine = WebSocketEngine()
    for size in (0, 125, 126, 65535, 65536):
        ((first, opcode, payload),) = server_frames(engine.send_message(b"a" * size))
        assert (first, opcode, payload) == (0x82, 2, b"a" * size)
    ((_, opcode, payload),) = server_frames(engine.send_close(1001, "é" * 100))
    assert opcode == 8 and payload[:2] == struct.pack("!H", 1001) and len(payload) <= 125
    payload[2:].decode("utf-8")
    assert server_frames(engine.send_close(None)) == [(0x88, 8, b"")]


@given(st.binary(max_size=500))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    """Any input gives events or Failed, never an exception."""
    for engine in (WebSocketEngine(max_message_size=100), WebSocketEngine(deflate=Deflate())):
        engine.receive_data(data)


@given(st.lists(st.binary(max_size=300), max_size=5), st.lists(st.integers(1, 40), max_size=10))
def test_split_invariance(messages: list[bytes], cuts: list[int]) -> None:
    """Messages fed in arbitrary slices arrive whole and in order."""
    data = b"".join(client_frame(2, m, mask=b"abcd") for m in messages)
    engine = WebSocketEngine()
    events, offset = [], 0
    for cut in [*cuts, len(data)]:
        events += engine.receive_data(data[offset : offset + cut])
        offset += cut
    assert events == [Message(m) for m in messages]


@pytest.mark.parametrize("bad", [b"\xf4\x90", b"\xed\xa0", b"\xc0", b"\xe1\x28"])
def test_invalid_utf8_fails_fast_inside_a_frame(bad: bytes) -> None:
    """Invalid UTF-8 fails (1007) on its first invalid byte, before the rest of the frame."""
    payload = "κόσμε".encode() + bad + b"\x80\x80edited" + b"x" * 1000
    frame = client_frame(1, payload)
    cut = len(frame) - len(payload) + payload.index(bad) + len(bad)  # the rest never arrives
    engine = WebSocketEngine()
    events: list = []
    for index in range(cut):
        events += engine.receive_data(frame[index : index + 1])
    assert events == [Failed(1007, "invalid UTF-8 in text message")]


def test_invalid_utf8_fails_fast_in_a_later_fragment_split_across_reads() -> None:
    """The validator's state spans fragments: an invalid continuation in fragment 2 fails early."""
    first = client_frame(1, b"ok\xf0\x90", fin=False)  # a 4-byte sequence, half sent
    second = client_frame(0, b"\x28" + b"y" * 500)  # not a continuation byte
    engine = WebSocketEngine()
    assert engine.receive_data(first) == []
    events = engine.receive_data(second[:20])
    assert events == [Failed(1007, "invalid UTF-8 in text message")]


def test_dribbled_frame_is_consumed_as_it_arrives() -> None:
    """A large frame fed in tiny pieces never leaves its payload pending in the buffer."""
    payload = os.urandom(200_000)
    frame = client_frame(2, payload)
    engine = WebSocketEngine()
    events: list = []
    for index in range(0, len(frame), 7):
        events += engine.receive_data(frame[index : index + 7])
        assert engine.buffered < 14  # at most a frame header waits
    assert events == [Message(payload)]


def test_native_and_python_unmasking_agree() -> None:
    """Payloads above and below the native masker's threshold unmask alike, at any offset."""
    for size in (1, 5, 1023, 1024, 5000, 70000):
        payload = os.urandom(size)
        frame = client_frame(2, payload, fin=False) + client_frame(0, payload)
        for piece in (len(frame), 3, 1500):
            engine = WebSocketEngine()
            events: list = []
            for index in range(0, len(frame), piece):
                events += engine.receive_data(frame[index : index + piece])
            assert events == [Message(payload + payload)]


def test_a_whole_frame_after_a_split_header_unmasks_natively() -> None:
    """Autobahn 9.3.3 dropped the connection now and then: a frame header split across
    reads left the frame in a bytearray, whose mask slice the native masker refused."""
    payload = os.urandom(2000)
    frame = client_frame(2, payload)
    for split in (1, 2, 5, 7):
        engine = WebSocketEngine()
        events = engine.receive_data(frame[:split]) + engine.receive_data(frame[split:])
        assert events == [Message(payload)]


def test_next_event_stops_at_the_budget() -> None:
    """next_event leaves frames raw once the message being assembled is over the budget."""
    first = client_frame(2, b"a" * 100, fin=False)
    third = client_frame(0, b"c")
    frames = first + client_frame(0, b"b" * 100, fin=False) + third
    engine = WebSocketEngine()
    engine.feed(frames)
    assert engine.next_event(50) is None and engine.over_budget
    assert engine.buffered == len(frames) - len(first)  # 100 > 50 after the first frame
    assert engine.next_event(150) is None and engine.over_budget
    assert engine.buffered == len(third)  # 200 > 150 after the second
    assert engine.next_event() == Message(b"a" * 100 + b"b" * 100 + b"c")
    assert not engine.over_budget and engine.buffered == 0


def test_compressed_frames_inflate_only_within_the_budget() -> None:
    """Small compressed fragments that inflate hugely stop being inflated at the budget."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    frames = b""
    for index in range(20):
        data = deflater.compress(b"\0" * 1_000_000) + deflater.flush(zlib.Z_SYNC_FLUSH)
        frames += client_frame(0 if index else 2, data[:-4], fin=False, rsv=0 if index else 0x40)
    engine = WebSocketEngine(deflate=Deflate())
    engine.feed(frames)
    assert engine.next_event(65536) is None and engine.over_budget
    assert engine._message_size == 1_000_000  # one frame's worth inflated, not 20 MB
