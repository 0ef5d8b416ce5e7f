"""Flood clients for ``test_flood_fairness.py``, run as a child process::

    python flooders.py KIND PORT SOCKETS

It floods the server from SOCKETS connections at once until it is killed,
reconnecting whenever the server closes one (a GOAWAY after a flood is the
server defending itself; the flood goes on from a new connection), prints
``flooding`` once bytes went out on every connection, and reads and drops
whatever the server answers so that its own receive buffer never stops it.
Kinds: ``h2-ping``, ``h2-window-update``, ``h2-priority``, ``h2-tiny-data``,
``h1-pipeline``, ``ws-tiny``.
"""

from __future__ import annotations

import selectors
import socket
import sys

import h2.config
import h2.connection
import h2.events
from attack import frame, priority, window_update

BATCH = 64 * 1024


class Flood:
    """One flooding connection: what to send next, and what to do with answers."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setblocking(False)
        self.out = bytearray(self.opening())

    def opening(self) -> bytes:
        return b""

    def more(self) -> bytes:
        """Bytes to flood with next (b"" to wait for the server)."""
        raise NotImplementedError

    def received(self, data: bytes) -> None:
        """Answers from the server."""


class H2Frames(Flood):
    """Repeats one HTTP/2 frame after a client preface."""

    def __init__(self, port: int, unit: bytes) -> None:
        self.unit = unit * (BATCH // len(unit))
        super().__init__(port)

    def opening(self) -> bytes:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        conn.send_headers(1, [(":method", "GET"), (":path", "/hold"), (":scheme", "http"),
                              (":authority", "x")], end_stream=True)  # fmt: skip
        return conn.data_to_send()

    def more(self) -> bytes:
        return self.unit


class H2TinyData(Flood):
    """1-byte DATA frames, 20,000 per stream, on /echo streams (the app reads them at once)."""

    PER_STREAM = 20_000

    def opening(self) -> bytes:
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.conn.initiate_connection()
        self.sent = 0  # DATA bytes sent raw (h2 does not count them)
        self.stream = 0
        self.left = 0
        return self.conn.data_to_send()

    def more(self) -> bytes:
        window = self.conn.outbound_flow_control_window - self.sent
        if window <= 0:
            return b""
        out = b""
        if not self.left:
            if self.stream:
                self.conn.send_data(self.stream, b"", end_stream=True)
            self.stream = self.conn.get_next_available_stream_id()
            self.conn.send_headers(
                self.stream,
                [(b":method", b"POST"), (b":path", b"/echo"), (b":scheme", b"http"),
                 (b":authority", b"x")],
            )  # fmt: skip
            self.left = self.PER_STREAM
            out = self.conn.data_to_send()
        count = min(window, self.left, 4096)
        self.left -= count
        self.sent += count
        return out + frame(0x0, 0, self.stream, b"x") * count

    def received(self, data: bytes) -> None:
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.DataReceived):
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        self.out += self.conn.data_to_send()


class H1Pipeline(Flood):
    """Pipelined GET requests, as fast as the server reads them."""

    UNIT = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * (BATCH // 27)

    def more(self) -> bytes:
        return self.UNIT


class WSTiny(Flood):
    """1-byte WebSocket messages (masked binary frames) after an HTTP/1.1 handshake."""

    UNIT = b"\x82\x81\0\0\0\0x" * (BATCH // 7)

    def opening(self) -> bytes:
        self.open = False
        return (
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )

    def more(self) -> bytes:
        return self.UNIT if self.open else b""

    def received(self, data: bytes) -> None:
        self.open = self.open or data.startswith(b"HTTP/1.1 101")


KINDS = {
    "h2-ping": lambda port: H2Frames(port, frame(0x6, 0, 0, b"pingping")),
    "h2-window-update": lambda port: H2Frames(port, window_update(0, 1)),
    "h2-priority": lambda port: H2Frames(port, priority(1)),
    "h2-tiny-data": H2TinyData,
    "h1-pipeline": H1Pipeline,
    "ws-tiny": WSTiny,
}


def main(kind: str, port: int, count: int) -> None:
    make = KINDS[kind]
    selector = selectors.DefaultSelector()
    floods = []
    for _ in range(count):
        flood = make(port)
        floods.append(flood)
        selector.register(flood.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, flood)
    started: set[int] = set()
    printed = False
    while True:
        for key, mask in selector.select(1.0):
            flood = key.data
            closed = False
            if mask & selectors.EVENT_READ:
                try:
                    data = flood.sock.recv(1 << 20)
                except BlockingIOError:
                    data = None
                except OSError:
                    data = b""
                if data == b"":
                    closed = True
                elif data:
                    flood.received(data)
                    selector.modify(flood.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, flood)
            if not closed and mask & selectors.EVENT_WRITE:
                if not flood.out:
                    flood.out += flood.more()
                if flood.out:
                    try:
                        sent = flood.sock.send(flood.out)
                    except BlockingIOError:
                        sent = 0
                    except OSError:
                        closed = True
                        sent = 0
                    del flood.out[:sent]
                    if sent and not printed:
                        started.add(id(flood))
                        if len(started) >= count:
                            printed = True
                            print("flooding", flush=True)
                else:
                    # Nothing to send until the server answers: do not spin on writability.
                    selector.modify(flood.sock, selectors.EVENT_READ, flood)
            if closed:
                selector.unregister(flood.sock)
                flood.sock.close()
                index = floods.index(flood)
                floods[index] = replacement = make(port)
                selector.register(
                    replacement.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, replacement
                )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
