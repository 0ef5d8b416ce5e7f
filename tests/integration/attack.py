"""Tools for attacking a real server from the tests: raw HTTP/2 frames and the server's
CPU time and memory read from ``/proc``.

Every wait here is bounded and waits on a condition: :meth:`H2Attacker.pump_until`
reads until the condition holds or a deadline passes.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` (``/proc/PID/stat``)."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    # Fields 14 and 15 (utime, stime), counted from 1 with "pid (comm)" as 1 and 2.
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_bytes(pid: int) -> int:
    """Resident set size of process ``pid`` (``VmRSS`` in ``/proc/PID/status``)."""
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def connection_queued_bytes(sock: socket.socket) -> int:
    """Bytes in flight on the loopback TCP connection ``sock``: what its peer has written
    that is not yet acknowledged (the peer's send queue) plus what arrived that ``sock``
    has not read (its receive queue), from ``/proc/net/tcp`` and ``/proc/net/tcp6``.
    """
    here, there = sock.getsockname()[1], sock.getpeername()[1]
    total = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as handle:
            next(handle)  # the column titles
            for line in handle:
                fields = line.split()
                local, remote = (
                    int(fields[1].rsplit(":", 1)[1], 16),
                    int(fields[2].rsplit(":", 1)[1], 16),
                )
                tx_queue, rx_queue = (int(part, 16) for part in fields[4].split(":"))
                if (local, remote) == (there, here):
                    total += tx_queue  # the peer's socket
                elif (local, remote) == (here, there):
                    total += rx_queue  # ours
    return total


def wait_until_stalled(
    pid: int, sock: socket.socket, quiet: float = 0.3, timeout: float = 20.0
) -> int:
    """Wait until the server ``pid`` has filled every buffer it is allowed to fill while
    ``sock`` does not read: the bytes queued on the connection have stopped changing
    (and are not zero) and the server's resident memory has stopped growing (by more
    than 1 MiB), both for ``quiet`` seconds. Return the server's RSS then.

    A server that buffered without bound would keep growing until it had buffered
    everything, and then settle: the caller's memory assertion sees it either way.
    """
    deadline = time.monotonic() + timeout
    since = time.monotonic()
    queued, memory = connection_queued_bytes(sock), rss_bytes(pid)
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now_queued, now_memory = connection_queued_bytes(sock), rss_bytes(pid)
        if now_queued != queued or now_queued == 0 or now_memory - memory > 1 << 20:
            since, queued, memory = time.monotonic(), now_queued, now_memory
        elif time.monotonic() - since >= quiet:
            return now_memory
    raise AssertionError(f"still moving after {timeout}s: {queued} bytes queued, RSS {memory}")


def frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    """One raw HTTP/2 frame (RFC 9113 §4.1)."""
    return (
        len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload
    )


def window_update(stream: int, increment: int) -> bytes:
    return frame(0x8, 0, stream, increment.to_bytes(4, "big"))


def priority(stream: int, depends_on: int = 0, weight: int = 15) -> bytes:
    return frame(0x2, 0, stream, depends_on.to_bytes(4, "big") + bytes([weight]))


def get(path: str, method: str = "GET") -> list[tuple[bytes, bytes]]:
    return [
        (b":method", method.encode()),
        (b":path", path.encode()),
        (b":scheme", b"http"),
        (b":authority", b"x"),
    ]


class H2Attacker:
    """A cleartext HTTP/2 client: ``h2`` for state, raw frames for the attack.

    :ivar events: every event ``h2`` reported, in order.
    :ivar data: DATA received per stream.
    :ivar goaway: the error code of the server's GOAWAY, once one arrived.
    :ivar closed: the server closed the connection.
    """

    def __init__(
        self, port: int, settings: dict[int, int] | None = None, auto_ack: bool = True
    ) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(settings)
        self.auto_ack = auto_ack
        self.events: list[Any] = []
        self.data: dict[int, bytearray] = {}
        self.ended: set[int] = set()
        self.goaway: int | None = None
        self.closed = False
        self.pings = 0
        self.flush()
        self.pump_until(
            lambda: any(isinstance(e, h2.events.SettingsAcknowledged) for e in self.events)
        )

    def flush(self, extra: bytes = b"") -> None:
        data = self.conn.data_to_send() + extra
        if data and not self.closed:
            try:
                self.sock.sendall(data)
            except OSError:
                self.closed = True

    def pump(self, timeout: float) -> None:
        """Read once (waiting at most ``timeout`` s) and process what arrived."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            chunk = self.sock.recv(1 << 20)
        except TimeoutError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self.closed = True
            return
        if self.goaway is not None:
            return  # h2 refuses to read past a GOAWAY
        for event in self.conn.receive_data(chunk):
            self.events.append(event)
            if isinstance(event, h2.events.DataReceived):
                self.data.setdefault(event.stream_id, bytearray()).extend(event.data)
                if self.auto_ack:
                    self.conn.acknowledge_received_data(
                        event.flow_controlled_length, event.stream_id
                    )
            elif isinstance(event, h2.events.StreamEnded):
                self.ended.add(event.stream_id)
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.goaway = int(event.error_code)
            elif isinstance(event, h2.events.PingAckReceived):
                self.pings += 1
        self.flush()

    def pump_until(self, condition: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            left = deadline - time.monotonic()
            assert left > 0, "condition not reached in time"
            if self.closed:
                assert condition(), "connection closed before the condition held"
            self.pump(left)

    def sync(self, timeout: float = 30.0) -> None:
        """Wait until the server has processed everything sent so far (a PING round trip)."""
        seen = self.pings
        self.conn.ping(b"syncsync")
        self.flush()
        self.pump_until(lambda: self.pings > seen or self.goaway is not None, timeout)

    def request(self, stream_id: int, path: str, end: bool = True, method: str = "GET") -> None:
        self.conn.send_headers(stream_id, get(path, method), end_stream=end)
        self.flush()

    def close(self) -> None:
        self.sock.close()
