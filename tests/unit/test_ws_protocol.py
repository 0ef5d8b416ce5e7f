"""WebSocketProtocol and WebSocketCycle over an in-memory transport with an injected clock."""

from __future__ import annotations

import asyncio
import struct
import zlib
from typing import Any

import pytest
from harness import Harness
from test_ws_engine import client_frame, server_frames

from daphne._asgi.http_stream import MAX_QUEUED_MESSAGES
from daphne._asgi.ws_cycle import WebSocketCycle, WSState

HANDSHAKE = (
    b"GET /chat?x=1 HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Protocol: a, b\r\n\r\n"
)


class WSApp:
    """Accepts (optionally), echoes, and records everything it receives."""

    def __init__(
        self, accept: dict[str, Any] | None = None, after_accept: list | None = None
    ) -> None:
        self.accept = accept if accept is not None else {"type": "websocket.accept"}
        self.after_accept = after_accept or []
        self.received: list[dict[str, Any]] = []
        self.scope: dict[str, Any] = {}
        self.errors: list[BaseException] = []

    async def __call__(self, scope, receive, send):
        self.scope = scope
        self.received.append(await receive())
        try:
            await send(self.accept)
            for message in self.after_accept:
                await send(message)
        except ValueError as error:
            self.errors.append(error)
            return
        while True:
            message = await receive()
            self.received.append(message)
            if message["type"] == "websocket.disconnect":
                return
            await send(
                {
                    "type": "websocket.send",
                    **{k: v for k, v in message.items() if k in ("text", "bytes")},
                }
            )


@pytest.fixture
def make():
    made: list[Harness] = []

    def factory(app: Any, **config: Any) -> Harness:
        harness = Harness(app, **config)
        made.append(harness)
        return harness

    yield factory
    for harness in made:
        harness.close()


def after_head(data: bytes) -> bytes:
    return data.split(b"\r\n\r\n", 1)[1]


def test_handshake_scope_and_echo(make) -> None:
    """The 101 carries the accept key; the scope is a websocket scope; messages echo."""
    app = WSApp({"type": "websocket.accept", "subprotocol": "b"})
    h = make(app)
    h.feed(HANDSHAKE)
    head = h.written.split(b"\r\n\r\n")[0]
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols")
    assert b"\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head
    assert b"\r\nSec-WebSocket-Protocol: b" in head
    assert app.scope["type"] == "websocket" and app.scope["subprotocols"] == ["a", "b"]
    assert app.scope["query_string"] == b"x=1" and app.scope["scheme"] == "ws"
    h.feed(client_frame(1, b"hi") + client_frame(2, b""))
    assert server_frames(after_head(h.written)) == [(0x81, 1, b"hi"), (0x82, 2, b"")]
    assert app.received[1:] == [
        {"type": "websocket.receive", "text": "hi"},
        {"type": "websocket.receive", "bytes": b""},
    ]


def test_frames_pipelined_with_the_handshake(make) -> None:
    """Frames sent right behind the handshake are processed after accept."""
    app = WSApp()
    h = make(app)
    h.feed(HANDSHAKE + client_frame(1, b"early"))
    assert server_frames(after_head(h.written)) == [(0x81, 1, b"early")]


def test_client_close_is_echoed_and_reported(make) -> None:
    """A client close is answered with the same code and the app gets code and reason."""
    app = WSApp()
    h = make(app)
    h.feed(HANDSHAKE)
    h.feed(client_frame(8, struct.pack("!H", 4000) + b"bye"))
    assert server_frames(after_head(h.written))[-1] == (0x88, 8, struct.pack("!H", 4000))
    assert app.received[-1] == {"type": "websocket.disconnect", "code": 4000, "reason": "bye"}
    assert h.closed


def test_connection_loss_is_1006(make) -> None:
    """Losing the TCP connection gives the app 1006."""
    app = WSApp()
    h = make(app)
    h.feed(HANDSHAKE)
    h.lose_connection()
    assert app.received[-1]["code"] == 1006


def test_ping_answered_and_keepalive(make) -> None:
    """Client pings get pongs; silence brings a server ping; no pong drops the connection."""
    app = WSApp()
    h = make(app, ping_interval=10, ping_timeout=5)
    h.feed(HANDSHAKE)
    h.feed(client_frame(9, b"p"))
    assert server_frames(after_head(h.written))[-1] == (0x8A, 10, b"p")
    h.advance(9)
    assert len(server_frames(after_head(h.written))) == 1
    h.advance(1.5)
    assert server_frames(after_head(h.written))[-1][1] == 9  # our ping
    h.advance(5.5)
    assert h.aborted
    assert app.received[-1]["code"] == 1006


def test_pong_keeps_the_connection(make) -> None:
    """A pong in time keeps the connection open."""
    h = make(WSApp(), ping_interval=10, ping_timeout=5)
    h.feed(HANDSHAKE)
    h.advance(10.5)
    h.feed(client_frame(10, b"daphne"))
    h.advance(6)
    assert not h.closed


def test_connect_timeout_rejects_with_403(make) -> None:
    """An app that never answers the handshake gets its client a 403 after the connect timeout."""

    async def app(scope, receive, send):
        await receive()
        await asyncio.Event().wait()

    h = make(app, websocket_connect_timeout=3)
    h.feed(HANDSHAKE)
    h.advance(2.9)
    assert h.written == b""
    h.advance(0.2)
    assert h.written.startswith(b"HTTP/1.1 403 ")
    assert [a[1] for a in h.actions] == ["connecting", "rejected", "disconnected"]


@pytest.mark.parametrize(
    ("connect", "handshake", "deadline"),
    [(20, 2, 2), (2, 20, 2), (20, 0, 20), (0, 3, 3), (-1, 3, 3)],
)
def test_handshake_timeout_bounds_the_answer_too(make, connect, handshake, deadline) -> None:
    """websocket_handshake_timeout limits the wait for the app's answer, as the connect timeout does.

    The sooner of the two applies; 0 or a negative value leaves that one out.
    """

    async def app(scope, receive, send):
        await receive()
        await asyncio.Event().wait()

    h = make(app, websocket_connect_timeout=connect, websocket_handshake_timeout=handshake)
    h.feed(HANDSHAKE)
    h.advance(deadline - 0.1)
    assert h.written == b""
    h.advance(0.2)
    assert h.written.startswith(b"HTTP/1.1 403 ")


def test_no_handshake_limit_when_both_are_off(make) -> None:
    """With both timeouts at 0 the server waits for the app's answer indefinitely."""

    async def app(scope, receive, send):
        await receive()
        await asyncio.Event().wait()

    h = make(app, websocket_connect_timeout=0, websocket_handshake_timeout=0)
    h.feed(HANDSHAKE)
    h.advance(1000)
    assert h.written == b""
    assert not h.closed


def test_lifetime_closes_1000_and_waits_for_peer(make) -> None:
    """websocket_timeout sends close 1000; the peer's close completes it."""
    app = WSApp()
    h = make(app, websocket_timeout=30, ping_interval=0)
    h.feed(HANDSHAKE)
    h.advance(30.5)
    assert server_frames(after_head(h.written))[-1] == (0x88, 8, struct.pack("!H", 1000))
    assert not h.closed
    h.feed(client_frame(8, struct.pack("!H", 1000)))
    assert h.closed
    assert app.received[-1]["code"] == 1000


def test_app_close_then_peer_silence_drops(make) -> None:
    """After the server's close, a peer that never answers is dropped after the close timeout."""
    app = WSApp(after_accept=[{"type": "websocket.close", "code": 1001, "reason": "bye"}])
    h = make(app, websocket_close_timeout=5, ping_interval=0)
    h.feed(HANDSHAKE)
    assert server_frames(after_head(h.written))[-1] == (0x88, 8, struct.pack("!H", 1001) + b"bye")
    h.advance(5.5)
    assert h.aborted


def test_protocol_error_closes_1002_and_tells_app(make) -> None:
    """A framing error closes with 1002 and the app hears 1002."""
    app = WSApp()
    h = make(app)
    h.feed(HANDSHAKE)
    h.feed(b"\x81\x05hello")  # unmasked
    assert server_frames(after_head(h.written))[-1][:2] == (0x88, 8)
    assert app.received[-1]["code"] == 1002


def _idle_app(accept: bool = True):
    """An app that accepts (or not) and then never calls receive()."""

    async def app(scope, receive, send):
        await receive()
        if accept:
            await send({"type": "websocket.accept"})
        await asyncio.Event().wait()

    return app


def _queued(h: Harness) -> tuple[int, int]:
    """(messages, bytes) queued for the app and not yet received."""
    stream = h.protocol._upgraded
    return stream._queued_messages, stream._queued


def test_read_backpressure(make) -> None:
    """An app that does not receive makes the server stop reading the socket."""
    h = make(_idle_app(), read_high_water=1000)
    h.feed(HANDSHAKE)
    h.feed(client_frame(2, b"x" * 1500) + client_frame(2, b"y" * 500))
    # One message over the mark is queued; the next stays raw in the engine...
    assert _queued(h) == (1, 1500)
    assert h.transport.producerState == "producing"
    # ...and once more than the mark waits there, the transport is paused.
    h.feed(client_frame(2, b"z" * 500))
    assert h.transport.producerState == "paused"
    assert _queued(h) == (1, 1500)


def test_read_backpressure_counts_messages(make) -> None:
    """A flood of empty messages is held back by count, as large ones are by bytes."""
    h = make(_idle_app())
    h.feed(HANDSHAKE)
    h.feed(client_frame(2, b"", mask=b"abcd") * 20000)  # 120 kB of empty messages
    assert _queued(h) == (MAX_QUEUED_MESSAGES + 1, 0)
    assert h.transport.producerState == "paused"


def test_reading_resumes_when_the_app_catches_up(make) -> None:
    """Held-back messages all arrive, in order, once the app reads (and reading resumes)."""
    got: list[bytes] = []

    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        await gate.wait()
        while len(got) < 12000:
            got.append((await receive())["bytes"])

    gate = asyncio.Event()
    h = make(app)
    frames = [client_frame(2, b"%d" % index, mask=b"abcd") for index in range(12000)]
    h.feed(HANDSHAKE)
    h.feed(b"".join(frames))
    assert h.transport.producerState == "paused"
    h.loop.call_soon(gate.set)
    h.spin(400)
    assert got == [b"%d" % index for index in range(12000)]
    assert h.transport.producerState == "producing"


def test_pings_stop_reading_while_the_client_does_not_read(make) -> None:
    """With the write side backed up, pings are not answered until it drains: reading stops."""
    h = make(WSApp(), read_high_water=1000)
    h.feed(HANDSHAKE)
    before = len(h.written)
    h.protocol.pauseProducing()  # the transport's send buffer is over its high-water mark
    h.feed(client_frame(9, b"p" * 100, mask=b"abcd") * 100)
    pongs = server_frames(h.written[before:])
    assert len(pongs) == 1  # answered once, then waits for the client to read
    assert h.transport.producerState == "paused"
    h.protocol.resumeProducing()
    h.spin()
    assert len(server_frames(h.written[before:])) == 100
    assert h.transport.producerState == "producing"


def test_deflate_inflation_is_budgeted(make) -> None:
    """Small compressed frames that inflate hugely are inflated only as the app reads."""
    h = make(
        _idle_app(),
        websocket_max_message_size=16 * 1024 * 1024,
        websocket_max_frame_size=16 * 1024 * 1024,
    )
    h.feed(
        HANDSHAKE.replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
    )
    assert b"permessage-deflate" in h.written
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    frames = b""
    for _ in range(60):
        data = deflater.compress(b"\0" * 1024 * 1024) + deflater.flush(zlib.Z_SYNC_FLUSH)
        frames += client_frame(2, data[:-4], rsv=0x40)
    assert len(frames) < 64 * 1024  # 60 MiB inflated, in one socket read
    h.feed(frames)
    messages, size = _queued(h)
    assert messages == 1 and size == 1024 * 1024  # one message over the mark, then stop
    stream = h.protocol._upgraded
    assert stream.engine.buffered > len(frames) - 2000


def test_frames_before_accept_are_bounded(make) -> None:
    """Frames sent before the app answers the handshake are held, and reading pauses."""
    h = make(_idle_app(accept=False), read_high_water=1000)
    h.feed(HANDSHAKE)
    h.feed(client_frame(2, b"x" * 600))
    assert h.transport.producerState == "producing"
    h.feed(client_frame(2, b"x" * 600))
    assert h.transport.producerState == "paused"


@pytest.mark.parametrize(
    ("messages", "state", "text"),
    [
        ([{"type": "websocket.send", "text": "x"}], WSState.CONNECTING, "not been accepted"),
        # An invalid answer to the handshake fails it (the writer sends a 500).
        ([{"type": "websocket.accept", "subprotocol": "z"}], WSState.CLOSED, "offered"),
        (
            [{"type": "websocket.accept", "headers": [(b"x", b"a\r\nb: 1")]}],
            WSState.CLOSED,
            "Invalid",
        ),
        ([{"type": "websocket.http.response.start", "status": 2}], WSState.CLOSED, "status"),
        (
            [{"type": "websocket.accept"}, {"type": "websocket.send", "text": "a", "bytes": b"b"}],
            WSState.OPEN,
            "both",
        ),
        ([{"type": "websocket.accept"}, {"type": "websocket.send"}], WSState.OPEN, "neither"),
        (
            [{"type": "websocket.accept"}, {"type": "websocket.close", "code": 1005}],
            WSState.OPEN,
            "close code",
        ),
        ([{"type": "websocket.accept"}, {"type": "websocket.accept"}], WSState.OPEN, "expected"),
        ([{"type": "websocket.http.response.body"}], WSState.CONNECTING, "expected"),
    ],
)
def test_cycle_rejects_invalid_messages(messages: list, state: WSState, text: str) -> None:
    """Invalid messages raise with 'expected' wording; only an invalid handshake answer ends it."""

    class Writer:
        def __getattr__(self, name):
            return lambda *args: None

    cycle = WebSocketCycle(Writer(), ["a"])
    with pytest.raises(ValueError, match=text):
        for message in messages:
            cycle.handle(message)
    assert cycle.state is state


def test_deflate_negotiated_unless_disabled(make) -> None:
    """permessage-deflate is accepted when offered, and not when turned off."""
    offer = HANDSHAKE.replace(
        b"\r\n\r\n",
        b"\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
    )
    h = make(WSApp())
    h.feed(offer)
    assert b"\r\nSec-WebSocket-Extensions: permessage-deflate\r\n" in h.written
    h = make(WSApp(), websocket_per_message_deflate=False)
    h.feed(offer)
    assert h.written.startswith(b"HTTP/1.1 101") and b"Sec-WebSocket-Extensions" not in h.written


def test_messages_before_a_protocol_error_are_answered_first(make) -> None:
    """Autobahn 4.1.x/4.2.x: a message, then a frame with a reserved opcode, in one read.
    The app reads (and answers) the message; then the connection fails with 1002."""
    app = WSApp()
    h = make(app)
    h.feed(HANDSHAKE)
    h.feed(client_frame(1, b"first") + client_frame(7, b"") + client_frame(9, b"ping"))
    frames = server_frames(after_head(h.written))
    assert frames[0] == (0x81, 1, b"first"), frames
    assert frames[-1][0] == 0x88 and frames[-1][2][:2] == struct.pack("!H", 1002), frames
    assert (0x8A, 10, b"ping") not in frames  # nothing after the bad frame is processed
    assert h.closed
    assert app.received[-1]["type"] == "websocket.disconnect"
    assert app.received[-1]["code"] == 1002


def test_a_protocol_error_behind_unread_messages_fails_after_the_close_timeout(make) -> None:
    """An app that never reads what came before the error does not keep the socket."""

    async def silent(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await asyncio.get_running_loop().create_future()

    h = make(silent, websocket_close_timeout=2)
    h.feed(HANDSHAKE)
    h.feed(client_frame(1, b"unread") + client_frame(7, b""))
    assert not h.closed
    h.advance(2.1)
    assert h.closed
    frames = server_frames(after_head(h.written))
    assert frames[-1][0] == 0x88 and frames[-1][2][:2] == struct.pack("!H", 1002), frames
