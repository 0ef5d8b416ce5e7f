"""Property tests: random HTTP/2 frame sequences end in responses or a GOAWAY.

A client is simulated frame by frame (hyperframe + hpack): valid and broken
HEADERS (with CONTINUATION), DATA, RST_STREAM, WINDOW_UPDATE, SETTINGS, PING,
PRIORITY, GOAWAY and extended CONNECT, on streams of its choosing.  Whatever
the sequence, the server must never raise, must only write well-formed frames,
and every request stream the client finished must be answered (HEADERS or
RST_STREAM) unless the connection was ended with a GOAWAY.
"""

from __future__ import annotations

import logging
from typing import Any

import hpack
from harness import Harness
from hyperframe.frame import Frame, GoAwayFrame, HeadersFrame, RstStreamFrame, SettingsFrame
from hypothesis import event, given, settings
from hypothesis import strategies as st

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "Internal error" in record.getMessage():
            self.records.append(record)


ERRORS = _Errors()
logging.getLogger("daphne.http_protocol").addHandler(ERRORS)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        while (await receive())["type"] != "websocket.disconnect":
            pass
        return
    while True:
        message = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok" * 10})


STREAMS = st.sampled_from([1, 3, 5, 7, 2, 0, 9, 2**31 - 1])
GOOD = [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "x")]
HEADER_SETS = st.sampled_from(
    [
        GOOD,
        [(":method", "POST"), (":scheme", "http"), (":path", "/p"), ("content-length", "4")],
        [*GOOD, ("cookie", "a=1"), ("cookie", "b=2")],
        [(":method", "GET"), (":path", "/")],  # no :scheme
        [("x", "y"), *GOOD],  # pseudo-header after a regular one
        [*GOOD, ("Upper", "case")],
        [*GOOD, ("connection", "keep-alive")],
        [*GOOD, ("te", "gzip")],
        [
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "http"),
            (":path", "/ws"),
            (":authority", "x"),
            ("sec-websocket-version", "13"),
        ],
        [(":method", "CONNECT"), (":authority", "x:443")],
        [(":status", "200")],
    ]
)


def raw(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    """One frame, serialised by hand so it may break the rules (any type, flags, stream)."""
    return (
        len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload
    )


END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1


KINDS = ["headers"] * 4 + ["data"] * 3 + ["rst", "window", "settings", "ping", "priority", "goaway"]


def frames(draw: Any, encoder: hpack.Encoder, state: dict[str, Any]) -> tuple[bytes, int, str]:
    """``(bytes, stream id, what)``: what is "end" when the frame ends the client's stream.

    Mostly well-behaved (new streams in order, frames on open streams, windows
    respected), sometimes not: each frame may pick any stream id instead.
    """
    kind = draw(st.sampled_from(KINDS))
    misbehave = draw(st.integers(0, 9)) == 0
    if kind == "goaway" and not misbehave:
        kind = "ping"  # a client that says goodbye is a rare case
    if not state["open"] and not misbehave and kind in ("data", "rst", "priority"):
        kind = "headers"  # a well-behaved client opens a stream first
    if misbehave:
        stream = draw(STREAMS)
    elif kind == "headers":
        stream = state["next"]
        state["next"] += 2
        state["open"].append(stream)
    else:
        stream = draw(st.sampled_from(state["open"] or [1]))
    if kind == "headers":
        block = encoder.encode(draw(HEADER_SETS) if misbehave else GOOD)
        end = END_STREAM if draw(st.booleans()) else 0
        what = "end" if end else "headers"
        if draw(st.booleans()) and len(block) > 1:
            cut = draw(st.integers(1, len(block) - 1))
            return (
                (raw(0x1, end, stream, block[:cut]) + raw(0x9, END_HEADERS, stream, block[cut:])),
                stream,
                what,
            )
        return raw(0x1, end | END_HEADERS, stream, block), stream, what
    if kind == "data":
        end = END_STREAM if draw(st.booleans()) else 0
        payload = b"d" * draw(st.integers(0, 70000) if misbehave else st.integers(0, 16384))
        return raw(0x0, end, stream, payload), stream, "end" if end else "data"
    if kind == "rst":
        code = draw(st.integers(0, 13)).to_bytes(4, "big")
        return raw(0x3, 0, stream, code), stream, "rst"
    if kind == "window":
        increment = draw(
            st.integers(0, 2**31 - 1) if misbehave else st.integers(1, 65535)
        ).to_bytes(4, "big")
        return raw(0x8, 0, stream, increment), stream, "window"
    if kind == "settings":
        values = draw(
            st.dictionaries(st.integers(1, 8), st.integers(0, 2**32 - 1), max_size=3)
            if misbehave
            else st.dictionaries(st.sampled_from([1, 3, 4, 6]), st.integers(0, 65535), max_size=3)
        )
        payload = b"".join(k.to_bytes(2, "big") + v.to_bytes(4, "big") for k, v in values.items())
        return raw(0x4, 0, stream if misbehave else 0, payload), 0, "settings"
    if kind == "ping":
        return raw(0x6, 0, stream if misbehave else 0, b"12345678"), 0, "ping"
    if kind == "priority":
        payload = draw(STREAMS).to_bytes(4, "big") + b"\x10"
        return raw(0x2, 0, stream, payload), stream, "priority"
    payload = draw(STREAMS).to_bytes(4, "big") + bytes(4)
    return raw(0x7, 0, 0, payload), 0, "goaway"


def server_frames(data: bytes) -> list[Frame]:
    """Parse everything the server wrote as HTTP/2 frames (fails if malformed)."""
    parsed = []
    while data:
        frame, length = Frame.parse_frame_header(memoryview(data[:9]))
        assert len(data) >= 9 + length, "truncated frame"
        frame.parse_body(memoryview(data[9 : 9 + length]))
        parsed.append(frame)
        data = data[9 + length :]
    return parsed


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_random_frame_sequences_end_in_answers_or_goaway(data: Any) -> None:
    encoder = hpack.Encoder()
    state: dict[str, Any] = {"next": 1, "open": []}
    count = data.draw(st.integers(1, 12))
    sequence = [frames(data.draw, encoder, state) for _ in range(count)]
    ERRORS.records.clear()
    harness = Harness(app)
    try:
        harness.feed(PREFACE + raw(0x4, 0, 0, b""))
        finished: set[int] = set()
        reset: set[int] = set()
        for frame, stream, what in sequence:
            harness.feed(frame)
            if what == "end":
                finished.add(stream)
            elif what == "rst":
                reset.add(stream)
        harness.spin(60)
        assert harness.errors == []
        assert ERRORS.records == []
        written = server_frames(harness.written)
        assert isinstance(written[0], SettingsFrame)
        if any(isinstance(frame, GoAwayFrame) for frame in written) or harness.closed:
            event("ended with GOAWAY")
            return
        event(f"answered streams checked: {len({s for s in finished - reset if s % 2})}")
        answered = {
            frame.stream_id
            for frame in written
            if isinstance(frame, (HeadersFrame, RstStreamFrame))
        }
        # Streams the client finished are answered (a reset by the client may pre-empt it).
        for stream_id in finished - reset:
            if stream_id and stream_id % 2:
                assert stream_id in answered, f"stream {stream_id} never answered"
    finally:
        harness.close()
