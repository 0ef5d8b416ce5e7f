"""The one request pipeline over HTTP/2, in memory: message sequences, limits and timers.

An ``h2`` client drives the server through :class:`harness.Harness` (cleartext
prior knowledge) with an injected clock, so timeouts are exact and instant.
The same rules are asserted over real sockets on every protocol by
``tests/integration/test_protocol_matrix.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import hpack
import hyperframe.frame
import pytest
from harness import Harness


class Client:
    """An h2 client on a harness; reads only what the server wrote since last time."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(
                client_side=True, header_encoding=None, validate_outbound_headers=False
            )
        )
        self.conn.initiate_connection()
        self.read = 0
        self.events: list[Any] = []

    def send(self, data: bytes = b"") -> list[Any]:
        self.harness.feed(self.conn.data_to_send() + data)
        return self.receive()

    def receive(self) -> list[Any]:
        written = self.harness.written
        new, self.read = written[self.read :], len(written)
        events = self.conn.receive_data(new) if new else []
        self.events += events
        return events

    def request(
        self,
        stream_id: int,
        method: bytes = b"GET",
        headers: tuple[tuple[bytes, bytes], ...] = (),
        body: bytes | None = None,
    ) -> list[Any]:
        fields = [
            (b":method", method),
            (b":scheme", b"http"),
            (b":path", b"/"),
            (b":authority", b"x"),
            *headers,
        ]
        self.conn.send_headers(stream_id, fields, end_stream=body is None)
        if body is not None:
            self.conn.send_data(stream_id, body, end_stream=True)
        return self.send()

    def status(self, stream_id: int) -> int | None:
        for event in self.events:
            if isinstance(event, h2.events.ResponseReceived) and event.stream_id == stream_id:
                return int(dict(event.headers)[b":status"])
        return None

    def body(self, stream_id: int) -> bytes:
        return b"".join(
            e.data
            for e in self.events
            if isinstance(e, h2.events.DataReceived) and e.stream_id == stream_id
        )


class Recording:
    """Reads the body, records every message, answers, then records one more receive."""

    def __init__(self, respond: bool = True) -> None:
        self.messages: list[dict[str, Any]] = []
        self.calls = 0
        self.respond = respond

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.calls += 1
        while True:
            message = await receive()
            self.messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        if not self.respond:
            self.messages.append(await receive())
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        self.messages.append(await receive())


@pytest.fixture
def make():
    harnesses: list[Harness] = []

    def build(app: Any, **config: Any) -> tuple[Harness, Client]:
        harness = Harness(app, **config)
        harnesses.append(harness)
        return harness, Client(harness)

    yield build
    for harness in harnesses:
        harness.close()


def test_get_gets_one_final_message_then_disconnect(make) -> None:
    """HEADERS with END_STREAM: one empty final http.request, then http.disconnect (once)."""
    app = Recording()
    _, client = make(app)
    client.request(1)
    assert client.status(1) == 200
    assert app.messages == [
        {"type": "http.request", "body": b"", "more_body": False},
        {"type": "http.disconnect"},
    ]


def test_data_frame_with_end_stream_is_one_message(make) -> None:
    app = Recording()
    _, client = make(app)
    client.request(1, b"POST", body=b"x" * 100)
    assert client.status(1) == 200
    assert app.messages[0] == {"type": "http.request", "body": b"x" * 100, "more_body": False}
    assert app.messages[1:] == [{"type": "http.disconnect"}]


@pytest.mark.parametrize("value", [b"a\x0bb", b"a\x1cb", b"a\x85b"])
def test_control_bytes_in_a_field_value_are_400(make, value: bytes) -> None:
    app = Recording()
    _, client = make(app)
    client.request(1, headers=((b"x-test", value),))
    assert client.status(1) == 400
    assert b"Invalid header value" in client.body(1)
    assert app.calls == 0


@pytest.mark.parametrize(
    ("method", "path", "reason"),
    [
        (b"GET", b"/a\x01b", b"Invalid characters in request target"),
        (b"GET", b"/a b", b"Invalid characters in request target"),
        (b"GET", b"/\xc3\xa5", b"Invalid characters in request target"),
        (b"G(T", b"/", b"Invalid request method"),
    ],
)
def test_request_target_grammar_is_http1s(make, method: bytes, path: bytes, reason: bytes) -> None:
    """:method must be a token and :path visible ASCII, as in an HTTP/1.1 request line."""
    app = Recording()
    _, client = make(app)
    fields = [(b":method", method), (b":scheme", b"http"), (b":path", path), (b":authority", b"x")]
    client.conn.send_headers(1, fields, end_stream=True)
    client.send()
    assert client.status(1) == 400
    assert reason in client.body(1)
    assert app.calls == 0


def test_declared_body_over_the_limit_is_413_then_reset(make) -> None:
    app = Recording()
    _, client = make(app, limit_request_body=10)
    fields = [
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":path", b"/"),
        (b":authority", b"x"),
        (b"content-length", b"20"),
    ]
    client.conn.send_headers(1, fields)
    client.send()
    assert client.status(1) == 413
    assert b"larger than 10 bytes" in client.body(1)
    resets = [e for e in client.events if isinstance(e, h2.events.StreamReset)]
    assert [(e.stream_id, e.error_code) for e in resets] == [(1, h2.errors.ErrorCodes.NO_ERROR)]
    assert app.calls == 0


def test_streamed_body_over_the_limit_is_413(make) -> None:
    app = Recording(respond=False)
    _, client = make(app, limit_request_body=10)
    client.conn.send_headers(
        1, [(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/"), (b":authority", b"x")]
    )
    client.conn.send_data(1, b"x" * 8)
    client.send()
    client.conn.send_data(1, b"x" * 8)
    client.send()
    assert client.status(1) == 413
    assert sum(len(m.get("body", b"")) for m in app.messages) <= 10


def test_at_capacity_a_second_stream_gets_503(make) -> None:
    app = Recording(respond=False)
    _, client = make(app, limit_concurrency=1)
    client.conn.send_headers(
        1, [(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/"), (b":authority", b"x")]
    )
    client.send()
    client.request(3)
    assert client.status(3) == 503
    response = next(e for e in client.events if isinstance(e, h2.events.ResponseReceived))
    assert (b"retry-after", b"1") in response.headers
    assert app.calls == 1


def test_http_timeout_is_503(make) -> None:
    async def silent(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await asyncio.get_running_loop().create_future()

    harness, client = make(silent, http_timeout=2)
    client.request(1)
    assert client.status(1) is None
    harness.advance(2.1)
    client.receive()
    assert client.status(1) == 503


def test_idle_connection_gets_goaway_after_keep_alive_timeout(make) -> None:
    harness, client = make(Recording(), keep_alive_timeout=5)
    client.request(1)
    harness.advance(4)
    assert not harness.closed
    harness.advance(1.5)
    client.receive()
    goaway = [e for e in client.events if isinstance(e, h2.events.ConnectionTerminated)]
    assert [e.error_code for e in goaway] == [h2.errors.ErrorCodes.NO_ERROR]
    assert harness.closed


def test_open_stream_keeps_the_connection(make) -> None:
    harness, client = make(Recording(respond=False), keep_alive_timeout=1)
    client.conn.send_headers(
        1, [(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/"), (b":authority", b"x")]
    )
    client.send()
    harness.advance(3.5)
    assert not harness.closed


def test_unfinished_header_block_is_closed_after_header_read_timeout(make) -> None:
    harness, client = make(Recording(), header_read_timeout=3, keep_alive_timeout=1)
    client.send()
    block = hpack.Encoder().encode(
        [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"), (b":authority", b"x")]
    )
    frame = hyperframe.frame.HeadersFrame(1, block[:5])  # no END_HEADERS, no CONTINUATION
    frame.flags.add("END_STREAM")
    harness.feed(frame.serialize())
    harness.advance(1.5)  # past the keep-alive timeout: not idle, a head is arriving
    assert not harness.closed
    harness.advance(2)
    assert harness.closed
    client.receive()
    assert any(isinstance(e, h2.events.ConnectionTerminated) for e in client.events)


def test_tiny_data_frames_pause_reading_by_message_count(make) -> None:
    """An app that does not read: 200 one-byte DATA frames get at most 64 + 1 acknowledged."""

    async def not_reading(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.get_running_loop().create_future()

    _, client = make(not_reading)
    client.conn.send_headers(
        1, [(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/"), (b":authority", b"x")]
    )
    for _ in range(200):
        client.conn.send_data(1, b"x")
    client.send()
    credit = sum(
        e.delta
        for e in client.events
        if isinstance(e, h2.events.WindowUpdated) and e.stream_id == 1
    )
    assert credit <= 65


def _post_head(client: Client, stream_id: int) -> None:
    client.conn.send_headers(
        stream_id,
        [(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/"), (b":authority", b"x")],
    )


def test_stalled_body_is_408_after_body_read_timeout(make) -> None:
    """No DATA for --body-read-timeout: 408; each DATA frame restarts the wait."""
    app = Recording()
    harness, client = make(app, body_read_timeout=2, keep_alive_timeout=100)
    _post_head(client, 1)
    client.conn.send_data(1, b"a")
    client.send()
    harness.advance(1.5)
    client.conn.send_data(1, b"b")
    client.send()
    harness.advance(1.5)  # 3 s since the head, 1.5 s since the last DATA
    assert client.status(1) is None
    harness.advance(0.6)
    client.receive()
    assert client.status(1) == 408
    assert b"Request body not received within 2 seconds" in client.body(1)
    assert app.messages[-1] == {"type": "http.disconnect"}


def test_body_paused_by_backpressure_does_not_time_out(make) -> None:
    """An app that does not read makes the server stop reading: that wait is not the client's."""

    async def late_reader(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.get_running_loop().create_future()

    harness, client = make(late_reader, body_read_timeout=2, keep_alive_timeout=100)
    _post_head(client, 1)
    for _ in range(100):
        client.conn.send_data(1, b"x")  # past the 64-message mark: reading pauses
    client.send()
    harness.advance(10)
    client.receive()
    assert client.status(1) is None
    assert not harness.closed


def test_tiny_data_frames_join_the_unread_message(make) -> None:
    """Body pieces arriving before the app reads join the last unread message: the app gets
    the same bytes (as ``bytes``) in few messages, exactly one of them final."""
    release = asyncio.Event()
    app = Recording()

    async def late(scope: Any, receive: Any, send: Any) -> None:
        await release.wait()
        await app(scope, receive, send)

    harness, client = make(late, request_buffer_size=16)
    client.conn.send_headers(
        1, [(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/"), (b":authority", b"x")]
    )
    for index in range(40):
        client.conn.send_data(1, b"%d" % (index % 10), end_stream=index == 39)
    client.send()
    harness.loop.call_soon(release.set)
    harness.spin()
    client.receive()
    requests = [m for m in app.messages if m["type"] == "http.request"]
    assert [len(m["body"]) for m in requests] == [16, 16, 8]
    assert all(type(m["body"]) is bytes for m in requests)
    assert b"".join(m["body"] for m in requests) == b"0123456789" * 4
    assert [m["more_body"] for m in requests] == [True, True, False]
    assert client.status(1) == 200


def test_a_paused_stream_does_not_stall_uploads_on_other_streams(make) -> None:
    """Stream 1's app never reads: its 64 KiB window stays withheld.  Stream 3 still
    uploads 200 KiB, because the connection window is wider than one stream's."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/late":
            await asyncio.get_running_loop().create_future()
        size = 0
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"%d" % size})

    _, client = make(app, keep_alive_timeout=100)
    client.send()
    fields = [(b":method", b"POST"), (b":scheme", b"http"), (b":authority", b"x")]
    client.conn.send_headers(1, [*fields[:2], (b":path", b"/late"), fields[2]])
    for _ in range(70):  # past the 64 unread pieces: stream 1's reading pauses
        client.conn.send_data(1, b"x" * 10)
    rest = 65535 - 700
    for offset in range(0, rest, 16384):  # and the rest of its window, withheld
        client.conn.send_data(1, b"x" * min(16384, rest - offset))
    client.conn.send_headers(3, [*fields[:2], (b":path", b"/upload"), fields[2]])
    client.send()
    left = 200 * 1024
    for _ in range(100):
        window = min(client.conn.local_flow_control_window(3), left, 16384)
        if window:
            left -= window
            client.conn.send_data(3, b"y" * window, end_stream=not left)
        client.send()
        if not left:
            break
    assert left == 0, "stream 3 stalled behind stream 1's withheld credit"
    assert client.status(3) == 200
    assert client.body(3) == b"%d" % (200 * 1024)
