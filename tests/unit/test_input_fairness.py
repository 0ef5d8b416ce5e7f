"""Fairness in memory: one read is handled in slices, and a slow one yields the loop.

Covers the input slicing of ``daphne._wire.http1.HTTP1Connection`` with an
injected clock that moves on by more than ``INPUT_TURN`` whenever it is read,
so every slice "takes too long" and the rest of the read must wait for the
next loop iteration (``callLater(0)``), the socket paused meanwhile.
"""

from __future__ import annotations

from typing import Any

import h2.config
import h2.connection
import h2.events
from harness import Harness

from daphne._wire.http1 import INPUT_SLICE, INPUT_TURN

#: PINGs in one read: more than one slice, fewer than the idle-frame allowance.
PINGS = 990


async def hello(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


def _acks(client: h2.connection.H2Connection, data: bytes) -> list[bytes]:
    events = client.receive_data(data)
    return [e.ping_data for e in events if isinstance(e, h2.events.PingAckReceived)]


def _slow_clock(harness: Harness) -> None:
    clock = harness.clock
    real = clock.seconds

    def seconds() -> float:
        clock.rightNow += INPUT_TURN * 1.2
        return real()

    clock.seconds = seconds  # type: ignore[method-assign]


def test_a_slow_read_yields_between_slices_and_finishes_later() -> None:
    """990 PINGs (over one slice) in one read: one slice is answered now, the rest on later loop turns, with
    reading paused until the backlog is gone; every PING is answered once, in order."""
    harness = Harness(hello)
    try:
        client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        client.initiate_connection()
        harness.feed(client.data_to_send())
        for index in range(PINGS):
            client.ping(index.to_bytes(8, "big"))
        data = client.data_to_send()
        assert len(data) > INPUT_SLICE
        _slow_clock(harness)
        harness.protocol.dataReceived(data)
        harness.spin()
        first = _acks(client, harness.written)
        assert 0 < len(first) < PINGS
        # Slices that take too long shrink, so that one stays well within a turn.
        assert harness.protocol._slice < INPUT_SLICE
        assert harness.transport.producerState == "paused"
        for _ in range(10):
            harness.clock.advance(0)
            harness.spin()
        assert _acks(client, harness.written[len(harness.written) :]) == []
        every = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        every.initiate_connection()
        assert _acks(every, harness.written) == [index.to_bytes(8, "big") for index in range(PINGS)]
        assert harness.transport.producerState == "producing"
    finally:
        harness.close()


def test_a_fast_read_is_handled_at_once() -> None:
    """With a clock that does not move, a large read is handled whole (no deferral)."""
    harness = Harness(hello)
    try:
        client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        client.initiate_connection()
        for index in range(PINGS):
            client.ping(index.to_bytes(8, "big"))
        harness.protocol.dataReceived(client.data_to_send())
        harness.spin()
        assert len(_acks(client, harness.written)) == PINGS
        assert harness.transport.producerState == "producing"
    finally:
        harness.close()


def test_a_head_and_its_body_in_one_read_give_whole_body_messages() -> None:
    """A 64 KiB upload whose head and body come in one read (larger than a slice): the
    slice ends with the head, so the body reaches the app as 8 messages of 8192 bytes, the
    last one final (not a short one cut where the first slice ended); a pipelined request
    behind it is answered too."""
    messages: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            messages.append(message)
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    harness = Harness(app)
    try:
        body = bytes(range(256)) * 256
        upload = b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 65536\r\n\r\n" + body
        harness.protocol.dataReceived(upload + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        harness.spin()
        assert len(upload) > INPUT_SLICE
        first = [message for message in messages if message["type"] == "http.request"][:8]
        assert [len(message["body"]) for message in first] == [8192] * 8
        assert [message["more_body"] for message in first] == [True] * 7 + [False]
        assert b"".join(message["body"] for message in first) == body
        assert [r.status for r in harness.responses(["POST", "GET"])] == [200, 200]
    finally:
        harness.close()
