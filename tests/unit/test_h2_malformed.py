"""Malformed HTTP/2 requests and trailers, in memory: a stream error, not a connection error.

RFC 9113 §8.1.1: a malformed request is a stream error of type PROTOCOL_ERROR.
The server answers it with ``RST_STREAM(PROTOCOL_ERROR)`` on that stream only;
the connection and its other streams go on.  (The rules themselves are
``tests/unit/test_h2_fields.py``'s; the same over a real socket:
``tests/integration/test_h2_malformed_socket.py``.)
"""

from __future__ import annotations

import h2.config
import h2.connection
import h2.errors
import h2.events
import hyperframe.frame
import pytest
from harness import Harness
from test_h2_pipeline import Client, Recording

GET = [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"), (b":authority", b"x")]
POST = [(b":method", b"POST"), *GET[1:]]


@pytest.fixture
def make():
    harnesses: list[Harness] = []

    def build(app: Recording) -> Client:
        harness = Harness(app)
        harnesses.append(harness)
        client = Client(harness)
        # A client that sends what it is given: no normalizing, no checking.
        client.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(
                client_side=True,
                header_encoding=None,
                validate_outbound_headers=False,
                normalize_outbound_headers=False,
            )
        )
        client.conn.initiate_connection()
        return client

    yield build
    for harness in harnesses:
        harness.close()


def resets(client: Client) -> list[tuple[int, int]]:
    return [
        (e.stream_id, e.error_code) for e in client.events if isinstance(e, h2.events.StreamReset)
    ]


def connection_ended(client: Client) -> bool:
    return client.harness.closed or any(
        isinstance(e, h2.events.ConnectionTerminated) for e in client.events
    )


@pytest.mark.parametrize(
    "fields",
    [
        [*GET, (b"X-Upper", b"v")],
        [*GET, (b"connection", b"keep-alive")],
        [*GET, (b"te", b"gzip")],
        [*GET, (b"x", b" padded")],
        [(b"x", b"y"), *GET],
        [GET[0], *GET[2:]],
        [*GET, (b"host", b"elsewhere")],
        [*GET, (b":status", b"200")],
    ],
    ids=["uppercase", "connection", "te", "whitespace", "order", "no-scheme", "host", "status"],
)
def test_malformed_request_is_reset_and_the_connection_goes_on(make, fields) -> None:
    app = Recording()
    client = make(app)
    client.conn.send_headers(1, fields, end_stream=True)
    client.send()
    assert resets(client) == [(1, h2.errors.ErrorCodes.PROTOCOL_ERROR)]
    client.conn.send_headers(3, GET, end_stream=True)
    client.send()
    assert client.status(1) is None
    assert client.status(3) == 200
    assert app.calls == 1
    assert not connection_ended(client)


def test_grammar_problems_stay_400s(make) -> None:
    """Not HTTP/2's rules but the request grammar's (HTTP/1.1's too): a 400, as before."""
    app = Recording()
    client = make(app)
    client.conn.send_headers(1, [*GET, (b"x(y", b"v")], end_stream=True)
    client.send()
    assert client.status(1) == 400 and b"Invalid header name" in client.body(1)
    assert app.calls == 0


def test_malformed_trailers_reset_the_stream_and_tell_the_app(make) -> None:
    app = Recording()
    client = make(app)
    client.conn.send_headers(1, POST)
    client.conn.send_data(1, b"part")
    client.conn.send_headers(1, [(b":method", b"POST")], end_stream=True)
    client.send()
    assert resets(client) == [(1, h2.errors.ErrorCodes.PROTOCOL_ERROR)]
    assert app.messages[-1] == {"type": "http.disconnect"}
    client.conn.send_headers(3, GET, end_stream=True)
    client.send()
    assert client.status(3) == 200
    assert not connection_ended(client)


def test_well_formed_trailers_end_the_body(make) -> None:
    app = Recording()
    client = make(app)
    client.conn.send_headers(1, POST)
    client.conn.send_data(1, b"part")
    client.conn.send_headers(1, [(b"x-checksum", b"abc")], end_stream=True)
    client.send()
    assert client.status(1) == 200
    assert b"".join(m.get("body", b"") for m in app.messages) == b"part"
    assert app.messages[-2:] == [
        {"type": "http.request", "body": b"part", "more_body": False},
        {"type": "http.disconnect"},
    ]
    assert resets(client) == []


def test_a_flood_of_malformed_requests_is_told_to_calm_down(make) -> None:
    """Each costs a reset and no answer, like a rapid reset: beyond the allowance, GOAWAY."""
    client = make(Recording())
    for stream_id in range(1, 2 * 120, 2):
        client.conn.send_headers(stream_id, [*GET, (b"X-Upper", b"v")], end_stream=True)
        client.send()
        if connection_ended(client):
            break
    goaway = [e for e in client.events if isinstance(e, h2.events.ConnectionTerminated)]
    assert [e.error_code for e in goaway] == [h2.errors.ErrorCodes.ENHANCE_YOUR_CALM]
    assert len(resets(client)) == 101


# -- the body's framing (RFC 9113 §8.1, §8.1.1) ------------------------------------------


def _declaring(length: bytes) -> list[tuple[bytes, bytes]]:
    return [*POST, (b"content-length", length)]


def _trailers_without_end_stream(client: Client, stream_id: int) -> None:
    # h2 refuses to send this; the frame is written by hand, its block by the
    # client's own encoder (so the HPACK state stays in step).
    frame = hyperframe.frame.HeadersFrame(stream_id, flags=["END_HEADERS"])
    frame.data = client.conn.encoder.encode([(b"x-checksum", b"1")])
    client.conn._data_to_send += frame.serialize()


FRAMING = {
    "data-over-length": [("headers", _declaring(b"3"), False), ("data", b"abcdef", True)],
    "data-over-length-before-end": [("headers", _declaring(b"3"), False), ("data", b"abcd", False)],
    "data-under-length": [("headers", _declaring(b"10"), False), ("data", b"abc", True)],
    "length-not-a-number": [("headers", _declaring(b"abc"), True)],
    "two-lengths": [("headers", [*_declaring(b"3"), (b"content-length", b"4")], False)],
    "length-then-end-stream": [("headers", _declaring(b"10"), True)],
    "trailers-short-of-length": [
        ("headers", _declaring(b"10"), False),
        ("data", b"abc", False),
        ("headers", [(b"x-checksum", b"1")], True),
    ],
    "trailers-without-end-stream": [
        ("headers", POST, False),
        ("data", b"abc", False),
        ("raw-trailers",),
    ],
    "second-headers-without-end-stream": [("headers", POST, False), ("raw-trailers",)],
    "trailers-with-a-bad-length": [
        ("headers", _declaring(b"3"), False),
        ("data", b"abc", False),
        ("headers", [(b"content-length", b"x")], True),
    ],
}


def _send(client: Client, stream_id: int, steps: list[tuple[object, ...]]) -> None:
    for step in steps:
        if step[0] == "headers":
            client.conn.send_headers(stream_id, step[1], end_stream=step[2])
        elif step[0] == "data":
            client.conn.send_data(stream_id, step[1], end_stream=step[2])
        else:
            _trailers_without_end_stream(client, stream_id)
        client.send()


@pytest.mark.parametrize("first", [True, False], ids=["first-stream", "later-stream"])
@pytest.mark.parametrize("case", list(FRAMING))
def test_body_framing_errors_reset_the_stream_only(make, case, first) -> None:
    """h2 made each of these a connection error (or, ended by HEADERS, let it through)."""
    app = Recording()
    client = make(app)
    stream_id = 1
    if not first:
        client.request(1)
        assert client.status(1) == 200
        stream_id = 3
    _send(client, stream_id, FRAMING[case])
    assert resets(client) == [(stream_id, h2.errors.ErrorCodes.PROTOCOL_ERROR)]
    assert client.status(stream_id) is None
    # The app never sees the body end as if it were whole.
    assert not any(
        m["type"] == "http.request" and not m.get("more_body") for m in app.messages[-1:]
    )
    client.request(stream_id + 2, b"POST", ((b"content-length", b"2"),), b"ok")
    assert client.status(stream_id + 2) == 200
    assert app.messages[-2] == {"type": "http.request", "body": b"ok", "more_body": False}
    assert not connection_ended(client)


def test_a_declared_length_that_matches_is_served(make) -> None:
    app = Recording()
    client = make(app)
    _send(
        client,
        1,
        [
            ("headers", _declaring(b"6"), False),
            ("data", b"abc", False),
            ("data", b"def", False),
            # A trailer section's content-length does not change the request's.
            ("headers", [(b"x-checksum", b"1"), (b"content-length", b"99")], True),
        ],
    )
    assert client.status(1) == 200
    assert b"".join(m.get("body", b"") for m in app.messages) == b"abcdef"
    assert resets(client) == []


def test_the_bytes_of_a_malformed_stream_go_back_to_the_connection_window(make) -> None:
    """A stream reset for its DATA still had those bytes counted against the connection.

    Seventy such streams send more than the 1 MiB connection window; the client can
    only go on sending if the server gives the window back each time.
    """
    client = make(Recording())
    frame = b"x" * 16000
    for index in range(70):
        stream_id = 1 + 2 * index
        _send(client, stream_id, [("headers", _declaring(b"1"), False), ("data", frame, False)])
        assert resets(client)[-1] == (stream_id, h2.errors.ErrorCodes.PROTOCOL_ERROR)
    # (h2 sends WINDOW_UPDATE in batches, so a little may still be on its way.)
    assert client.conn.outbound_flow_control_window > 1024 * 1024 // 2
    assert not connection_ended(client)


@pytest.mark.parametrize("first", [True, False], ids=["first-stream", "later-stream"])
def test_a_request_depending_on_itself_is_a_stream_error(make, first) -> None:
    """RFC 9113 §5.3.1: a stream error of type PROTOCOL_ERROR (h2 made it a connection one)."""
    app = Recording()
    client = make(app)
    stream_id = 1
    if not first:
        client.request(1)
        stream_id = 3
    client.send()
    client.send()  # (the acknowledgement of the server's SETTINGS)
    # h2 will not send it: its own HEADERS frame, with the dependency changed afterwards.
    client.conn.send_headers(stream_id, GET, end_stream=True, priority_depends_on=0)
    sent = client.conn.data_to_send()
    frame, length = hyperframe.frame.Frame.parse_frame_header(memoryview(sent[:9]))
    frame.parse_body(memoryview(sent[9 : 9 + length]))
    assert isinstance(frame, hyperframe.frame.HeadersFrame) and len(sent) == 9 + length
    frame.depends_on = stream_id
    client.send(frame.serialize())
    assert resets(client) == [(stream_id, h2.errors.ErrorCodes.PROTOCOL_ERROR)]
    client.request(stream_id + 2)
    assert client.status(stream_id + 2) == 200
    assert not connection_ended(client)
