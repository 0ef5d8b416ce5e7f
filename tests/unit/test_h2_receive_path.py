"""ServerConnection's direct paths for a new request stream and for DATA against h2's own.

Two server connections (a low concurrency limit, so refusals happen) get the
same client frames: requests on new, reused, lower and even stream ids, with and
without END_STREAM, PRIORITY, padding, valid and invalid ``content-length``,
``HEAD``, DATA, resets; and the server answers some streams in between.  One
takes our direct path, the other h2's handler (with our refusal of streams past
the limit), and all input through h2's ``receive_data``, frame buffer and frame
wrapper (ours reads a request's DATA frames itself).  Events, errors, bytes
queued and stream state must agree, also when the input is cut anywhere.
"""

from __future__ import annotations

import functools

import h2.connection
import h2.settings
import hpack
import hyperframe.frame
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from daphne._config import ServerConfig
from daphne._wire.h2_connection import FrameIgnored, ServerConnection, new_connection

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def _server(reference: bool, window: int | None = None) -> ServerConnection:
    # Header lists of up to 400 octets (RFC 9113's count): the "long" step goes over.
    conn = new_connection(ServerConfig(h2_max_concurrent_streams=3, h2_max_header_list_size=400))
    if window is not None:
        # A small stream window, so that DATA overruns it within a few frames.
        conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                **{code: conn.local_settings[code] for code in conn.local_settings},
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window,
            },
        )
    if reference:
        # Every byte through h2's own receive_data and frame buffer, every frame through
        # its wrapper and its frame table, whose HEADERS handler is ours with h2's steps
        # (ours takes DATA and new requests without them).
        conn.receive_data = functools.partial(  # type: ignore[method-assign]
            h2.connection.H2Connection.receive_data, conn
        )
        conn._receive_frame = functools.partial(  # type: ignore[method-assign]
            h2.connection.H2Connection._receive_frame, conn
        )
    conn.initiate_connection()
    conn.receive_data(PREFACE + hyperframe.frame.SettingsFrame(0).serialize())
    conn.data_to_send()
    return conn


def _state(conn: ServerConnection) -> object:
    return (
        conn.state_machine.state,
        conn.highest_inbound_stream_id,
        sorted(conn._closed_streams.items()),
        {
            sid: (
                s.state_machine.state,
                s.state_machine.headers_received,
                s._expected_content_length,
                s.inbound_flow_control_window,
                s.outbound_flow_control_window,
            )
            for sid, s in conn.streams.items()
        },
    )


fields = st.lists(
    st.sampled_from(
        [
            (b"content-length", b"5"),
            (b"content-length", b"abc"),
            (b"content-length", b"0"),
            (b"user-agent", b"t"),
            (b"cookie", b"a=1"),
            (b"x-long", b"l" * 300),  # over the header list limit
        ]
    ),
    max_size=3,
)
requests = st.tuples(
    st.just("request"),
    st.sampled_from(["next", "next", "next", "next", "same", "lower", "even"]),
    st.sampled_from([b"GET", b"HEAD", b"POST"]),
    fields,
    st.booleans(),  # END_STREAM
    st.booleans(),  # PRIORITY
    # padded (True), or the block cut in two: HEADERS then CONTINUATION ("continued")
    st.sampled_from([False, True, "continued"]),
)
others = st.one_of(
    st.tuples(
        st.just("data"),
        st.integers(0, 6),
        st.booleans(),  # END_STREAM
        st.booleans(),  # padded
        # The newest stream; the first one (closed and forgotten by h2 once later
        # streams opened); one not opened yet.
        st.sampled_from(["last", "last", "first", "idle"]),
    ),
    st.tuples(st.just("reset")),
    st.tuples(st.just("answer")),
    st.tuples(st.just("garbage")),  # a request whose header block does not decode
)
steps = st.lists(st.one_of(requests, requests, requests, others), min_size=1, max_size=15)


def _frames(step: tuple[object, ...], encoder: hpack.Encoder, last: int) -> tuple[bytes, int]:
    """The client's frame for ``step`` and the new highest stream id."""
    kind = step[0]
    if kind == "request":
        _, which, method, extra, end, priority, padded = step
        # Client stream ids are odd: 1, 3, 5...; ``last`` is the highest so far (0: none).
        choices = {"next": last + 2 if last else 1, "same": max(last, 1)}
        choices["lower"] = max(last - 2, 1)
        choices["even"] = last + 1 if last else 2
        stream_id = choices[which]  # type: ignore[index]
        block = encoder.encode(
            [
                (b":method", method),
                (b":scheme", b"http"),
                (b":authority", b"a"),
                (b":path", b"/"),
                *extra,
            ]  # type: ignore[misc]
        )
        continued = b""
        if padded == "continued":
            padded, half = False, len(block) // 2
            block, rest = block[:half], block[half:]
            tail = hyperframe.frame.ContinuationFrame(stream_id, data=rest)
            tail.flags.add("END_HEADERS")
            continued = tail.serialize()
        frame = hyperframe.frame.HeadersFrame(stream_id, data=block)
        if not continued:
            frame.flags.add("END_HEADERS")
        if end:
            frame.flags.add("END_STREAM")
        if priority:
            frame.flags.add("PRIORITY")
            frame.depends_on, frame.stream_weight = 0, 15
        if padded:
            frame.flags.add("PADDED")
            frame.pad_length = 3
        return frame.serialize() + continued, max(last, stream_id if stream_id % 2 else last)
    if kind == "garbage":
        # HPACK index 0x7f + 2**28: far past both tables (a COMPRESSION_ERROR).
        block = b"\xff\xff\xff\xff\x7f"
        stream_id = last + 2 if last else 1
        return hyperframe.frame.HeadersFrame(
            stream_id, data=block, flags=["END_HEADERS"]
        ).serialize(), stream_id
    if kind == "data":
        _, size, end, padded, target = step
        stream_id = {"last": max(last, 1), "first": 1, "idle": last + 2}[target]  # type: ignore[index]
        data = hyperframe.frame.DataFrame(stream_id, data=b"x" * size)  # type: ignore[operator]
        if end:
            data.flags.add("END_STREAM")
        if padded:
            data.flags.add("PADDED")
            data.pad_length = 2
        return data.serialize(), last
    reset = hyperframe.frame.RstStreamFrame(max(last, 1))
    reset.error_code = 8
    return reset.serialize(), last


def _feed(conn: ServerConnection, data: bytes) -> object:
    try:
        return [
            # (a RequestReceived's repr leaves out the StreamEnded it carries)
            (repr(event), repr(getattr(event, "stream_ended", None)))
            for event in conn.receive_data(data)
            if not isinstance(event, FrameIgnored)  # ours only: tested below
        ]
    except Exception as error:  # whatever h2 raises, ours must raise too
        return type(error).__name__


def _answer(conn: ServerConnection) -> object:
    for sid in sorted(conn.streams):
        try:
            conn.send_headers(sid, [(b":status", b"200")], end_stream=True)
        except Exception as error:
            return type(error).__name__
    return None


@settings(
    max_examples=2 * settings.default.max_examples, suppress_health_check=[HealthCheck.too_slow]
)
@given(steps)
def test_new_request_path_matches_h2(sequence: list[tuple[object, ...]]) -> None:
    ours, theirs = _server(False), _server(True)
    encoders = (hpack.Encoder(), hpack.Encoder())
    last = 0
    # The first request opens the connection (h2's IDLE -> SERVER_OPEN, h2's path);
    # the direct path serves new streams of an open connection.
    opening = ("request", "next", b"GET", [], True, False, False)
    for step in [opening, *sequence]:
        if step[0] == "answer":
            assert _answer(ours) == _answer(theirs)
        else:
            mine, last_ours = _frames(step, encoders[0], last)
            reference, _ = _frames(step, encoders[1], last)
            assert mine == reference
            last = last_ours
            verdict = _feed(ours, mine)
            assert verdict == _feed(theirs, reference)
            if isinstance(verdict, str):
                return  # a connection error: both ended the connection the same way
        assert ours.data_to_send() == theirs.data_to_send()
        assert _state(ours) == _state(theirs)


def _events(conn: ServerConnection, data: bytes) -> object:
    """``_feed``, with each DATA event's whole payload (its repr shows 20 bytes)."""
    try:
        return [
            (
                repr(event),
                repr(getattr(event, "stream_ended", None)),
                getattr(event, "data", None),
                getattr(event, "flow_controlled_length", None),
            )
            for event in conn.receive_data(data)
            if not isinstance(event, FrameIgnored)  # ours only: tested below
        ]
    except Exception as error:
        return type(error).__name__


others_cut = st.one_of(
    others,
    st.tuples(st.just("window")),
    st.tuples(st.just("ping")),
    st.tuples(st.just("big")),
    st.tuples(st.just("fifty")),
    st.tuples(st.just("unfinished")),  # HEADERS without END_HEADERS, no CONTINUATION after it
)


@settings(
    max_examples=2 * settings.default.max_examples, suppress_health_check=[HealthCheck.too_slow]
)
@example(  # DATA beyond the request's content-length: a stream error
    [
        ("request", "next", b"POST", [(b"content-length", b"5")], False, False, False),
        ("data", 6, False, False, "last"),
    ],
    [7, 1000],
)
@example([("fifty",)] * 3, [30])  # the stream window overrun: a connection error
@example([("unfinished",), ("data", 3, False, False, "first")], [1000])  # DATA in a header block
@given(
    st.lists(st.one_of(requests, others_cut, others_cut), min_size=1, max_size=15),
    st.lists(st.one_of(st.integers(1, 40), st.integers(1, 20000)), min_size=1, max_size=30),
)
def test_data_path_matches_h2_however_the_input_is_cut(
    sequence: list[tuple[object, ...]], cuts: list[int]
) -> None:
    """The client's frames (as above, and WINDOW_UPDATE, PING, DATA of 50 bytes, DATA
    larger than the largest frame allowed) in one byte string, fed in pieces of the drawn sizes; the
    stream window is 120 bytes, so DATA overruns it.  A frame longer than allowed ends
    the connection as soon as its header is in (h2: once it is whole)."""
    ours, theirs = _server(False, window=120), _server(True, window=120)
    encoder = hpack.Encoder()
    # The first request opens the connection (h2's IDLE -> SERVER_OPEN, h2's path).
    opening, last = _frames(("request", "next", b"POST", [], False, False, False), encoder, 0)
    assert _events(ours, opening) == _events(theirs, opening)
    stream = b""
    for step in sequence:
        if step[0] == "answer":
            continue
        if step[0] == "window":
            frame = hyperframe.frame.WindowUpdateFrame(0, window_increment=1000)
            stream += frame.serialize()
        elif step[0] == "ping":
            stream += hyperframe.frame.PingFrame(0, opaque_data=b"12345678").serialize()
        elif step[0] == "unfinished":  # what follows is a protocol error (RFC 9113 §6.10)
            last += 2
            block = encoder.encode([(b":method", b"GET"), (b":path", b"/")])
            stream += hyperframe.frame.HeadersFrame(last, data=block).serialize()
        elif step[0] == "fifty":  # three of them overrun the stream window
            stream += hyperframe.frame.DataFrame(max(last, 1), data=b"z" * 50).serialize()
        elif step[0] == "big":
            size = ours.max_inbound_frame_size + 1
            stream += hyperframe.frame.DataFrame(max(last, 1), data=b"y" * size).serialize()
        else:
            data, last = _frames(step, encoder, last)
            stream += data
    offset = 0
    for index in range(len(stream)):
        size = cuts[index % len(cuts)]
        piece, offset = stream[offset : offset + size], offset + size
        if not piece:
            break
        verdict = _events(ours, piece)
        expected = _events(theirs, piece)
        if verdict == "FrameTooLargeError" and expected != verdict:
            # Ours refuses a frame longer than allowed once its header is in, h2 once
            # all of it is: h2 must come to the same end with the rest of the input.
            assert _events(theirs, stream[offset:]) == verdict
            assert ours.data_to_send() == theirs.data_to_send()
            return
        assert verdict == expected
        assert ours.data_to_send() == theirs.data_to_send()
        if isinstance(verdict, str):
            return  # a connection error: both ended the connection the same way
        assert _state(ours) == _state(theirs)


def test_frames_h2_takes_without_a_word_are_reported() -> None:
    """DATA, WINDOW_UPDATE and RST_STREAM on a closed stream, and ALTSVC, make h2 report
    nothing: the connection reports FrameIgnored for each (the protocol counts them
    among the frames that make no work); frames h2 reports on are not."""
    conn = _server(False)
    encoder = hpack.Encoder()
    opening, _ = _frames(("request", "next", b"GET", [], True, False, False), encoder, 0)
    assert not any(isinstance(e, FrameIgnored) for e in conn.receive_data(opening))
    conn.send_headers(1, [(b":status", b"200")], end_stream=True)  # stream 1 closed
    window = hyperframe.frame.WindowUpdateFrame(1, window_increment=10)
    reset = hyperframe.frame.RstStreamFrame(1, error_code=8)
    altsvc = hyperframe.frame.AltSvcFrame(0, origin=b"a", field=b'h2=":1"')
    for frame in (hyperframe.frame.DataFrame(1, data=b"x"), window, reset, altsvc):
        events = conn.receive_data(frame.serialize())
        assert [repr(e) for e in events] == [f"<FrameIgnored stream_id:{frame.stream_id}>"]
    ping = hyperframe.frame.PingFrame(0, opaque_data=b"12345678")
    assert not any(isinstance(e, FrameIgnored) for e in conn.receive_data(ping.serialize()))
    window = hyperframe.frame.WindowUpdateFrame(0, window_increment=10)
    assert not any(isinstance(e, FrameIgnored) for e in conn.receive_data(window.serialize()))
