"""WebSocket abuse against a real server, over HTTP/1.1 and HTTP/2 (RFC 8441, h2c).

Each test is an attacking client on raw sockets (small socket buffers, as an
attacker would choose, so that the kernel does not absorb the flood) and
measures the server process itself: its resident memory (``VmRSS``) or its
CPU time (``utime + stime``).  Every wait is bounded and waits on a
condition: the server going quiet, a socket send making no progress, the
server having read what was sent.
"""

from __future__ import annotations

import base64
import os
import select
import socket
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import h2.config
import h2.connection
import h2.events
import pytest
from attack import cpu_seconds
from attack import rss_bytes as rss
from h2ws_client import parse_frame
from processes import DaphneCommand

# slow: floods and dribbled frames, measured in the server's CPU and memory (`pytest -m "not slow"` leaves it out).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

APP = "apps.ws_apps:app"
MIB = 1024 * 1024
#: Most a single attacking connection may grow the server by ("a few MiB"; the
#: deflate case, the largest, grows it by ~4.5 MiB: one 1 MiB message queued
#: plus zlib's state).
RSS_BOUND = 8 * MIB
_SMALL_BUFFER = 64 * 1024


# -- measuring the server --------------------------------------------------------------


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.01
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(poll)


def wait_quiet(pid: int, timeout: float = 20.0) -> None:
    """Wait until the server has used no CPU for 0.3 s (it has dealt with what it read)."""
    deadline = time.monotonic() + timeout
    last, since = cpu_seconds(pid), time.monotonic()
    while time.monotonic() - since < 0.3:
        if time.monotonic() > deadline:
            raise AssertionError(f"server still busy after {timeout}s")
        time.sleep(0.05)
        now = cpu_seconds(pid)
        if now != last:
            last, since = now, time.monotonic()


def unread_by_server(sock: socket.socket) -> int:
    """Bytes the server's end of ``sock`` has received but not read (/proc/net/tcp)."""
    client_port = sock.getsockname()[1]
    server_port = sock.getpeername()[1]
    local = f":{server_port:04X}"
    remote = f":{client_port:04X}"
    with open("/proc/net/tcp") as handle:
        for line in handle.readlines()[1:]:
            fields = line.split()
            if fields[1].endswith(local) and fields[2].endswith(remote):
                return int(fields[4].split(":")[1], 16)
    return 0


# -- frames --------------------------------------------------------------------------


def frame_head(opcode: int, length: int, fin: bool = True, rsv1: bool = False) -> bytes:
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    if length < 126:
        return struct.pack("!BB", first, 0x80 | length)
    if length < 65536:
        return struct.pack("!BBH", first, 0xFE, length)
    return struct.pack("!BBQ", first, 0xFF, length)


def client_frame(opcode: int, payload: bytes, fin: bool = True, rsv1: bool = False) -> bytes:
    """A client frame with an all-zero mask (the payload goes as is; the server still unmasks)."""
    return frame_head(opcode, len(payload), fin, rsv1) + b"\0\0\0\0" + payload


# -- attacking clients ----------------------------------------------------------------


def _attacking_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SMALL_BUFFER)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SMALL_BUFFER)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    return sock


class H1Attacker:
    """A WebSocket over HTTP/1.1 that sends what it likes and reads nothing unless asked."""

    def __init__(self, port: int, path: str, extensions: bytes = b"", answer: bool = True):
        self.sock = _attacking_socket(port)
        key = base64.b64encode(os.urandom(16))
        extra = b"Sec-WebSocket-Extensions: %s\r\n" % extensions if extensions else b""
        self.sock.sendall(
            b"GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n"
            % (path.encode(), key, extra)
        )
        self.head = b""
        self.inbound = b""
        if answer:
            while b"\r\n\r\n" not in self.head:
                chunk = self.sock.recv(65536)
                assert chunk, self.head
                self.head += chunk
            self.head, self.inbound = self.head.split(b"\r\n\r\n", 1)
            assert self.head.startswith(b"HTTP/1.1 101"), self.head

    def send(self, data: bytes, stall: float = 1.0) -> bool:
        """Send ``data``; False if the server stopped taking bytes for ``stall`` seconds."""
        self.sock.settimeout(stall)
        try:
            self.sock.sendall(data)
        except TimeoutError:
            return False
        return True

    def sent_all_read(self) -> bool:
        return unread_by_server(self.sock) == 0

    def next_frame(self, timeout: float = 10) -> tuple[int, bytes]:
        self.sock.settimeout(timeout)
        while (parsed := parse_frame(self.inbound)) is None:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed"
            self.inbound += chunk
        opcode, payload, used = parsed
        self.inbound = self.inbound[used:]
        return opcode, payload

    def close(self) -> None:
        self.sock.close()


class H2Attacker:
    """A WebSocket over an HTTP/2 stream (h2c prior knowledge).

    It reads the socket only to learn of flow-control credit, and never
    acknowledges the DATA the server sends (the HTTP/2 way of not reading).
    """

    def __init__(self, port: int, path: str, extensions: bytes = b"", answer: bool = True):
        self.sock = _attacking_socket(port)
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.conn.initiate_connection()
        self.sock.sendall(self.conn.data_to_send())
        self.settings = False
        self.status: int | None = None
        self.inbound = b""
        self._read_until(lambda: self.settings)
        self.stream = self.conn.get_next_available_stream_id()
        headers = [
            (b":method", b"CONNECT"),
            (b":protocol", b"websocket"),
            (b":scheme", b"http"),
            (b":path", path.encode()),
            (b":authority", b"127.0.0.1:%d" % port),
            (b"sec-websocket-version", b"13"),
        ]
        if extensions:
            headers.append((b"sec-websocket-extensions", extensions))
        self.conn.send_headers(self.stream, headers)
        self.sock.sendall(self.conn.data_to_send())
        if answer:
            self._read_until(lambda: self.status is not None)
            assert self.status == 200, self.status

    def _read(self, timeout: float) -> bool:
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            return False
        assert chunk, "connection closed"
        for event in self.conn.receive_data(chunk):
            if isinstance(event, h2.events.RemoteSettingsChanged):
                self.settings = True
            elif isinstance(event, h2.events.ResponseReceived):
                self.status = int(dict(event.headers)[b":status"])
            elif isinstance(event, h2.events.DataReceived):
                self.inbound += event.data  # deliberately not acknowledged
        pending = self.conn.data_to_send()
        if pending:
            self.sock.settimeout(10)
            self.sock.sendall(pending)
        return True

    def _read_until(self, condition: Callable[[], bool], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "condition not reached"
            self._read(deadline - time.monotonic())

    def send(self, data: bytes, stall: float = 1.0) -> bool:
        """Send ``data`` as DATA within the windows; False once no credit came for ``stall`` s."""
        view = memoryview(data)
        while view:
            window = min(
                self.conn.local_flow_control_window(self.stream), self.conn.max_outbound_frame_size
            )
            if window <= 0:
                if not self._read(stall):
                    return False
                continue
            piece, view = view[:window], view[window:]
            self.conn.send_data(self.stream, bytes(piece))
            self.sock.settimeout(stall)
            try:
                self.sock.sendall(self.conn.data_to_send())
            except TimeoutError:
                return False
            # Take in credit and whatever else the server sent as we go, so
            # that the server's socket never backs up (its DATA stays unacknowledged).
            while select.select([self.sock], [], [], 0)[0]:
                self._read(stall)
        return True

    def sent_all_read(self) -> bool:
        return unread_by_server(self.sock) == 0

    def next_frame(self, timeout: float = 10) -> tuple[int, bytes]:
        deadline = time.monotonic() + timeout
        while (parsed := parse_frame(self.inbound)) is None:
            assert time.monotonic() < deadline, "no frame"
            self._read(deadline - time.monotonic())
        opcode, payload, used = parsed
        self.inbound = self.inbound[used:]
        return opcode, payload

    def close(self) -> None:
        self.sock.close()


WIRES = {"ws-over-http1": H1Attacker, "ws-over-h2c": H2Attacker}


@pytest.fixture(params=list(WIRES))
def attacker(request: Any) -> type:
    return WIRES[request.param]


@pytest.fixture
def start_server() -> Iterator[Callable[..., DaphneCommand]]:
    """A fresh server per test (so memory freed by one attack cannot hide another's)."""
    started: list[DaphneCommand] = []

    def start(*args: str) -> DaphneCommand:
        daphne = DaphneCommand(["-p", "0", "--access-log", os.devnull, *args, APP]).start()
        started.append(daphne)
        return daphne

    yield start
    for daphne in started:
        daphne.__exit__()


def flood(client: Any, unit: bytes, total: int) -> int:
    """Send ``unit`` repeatedly, ``total`` bytes at most; stop once the server stops reading."""
    batch = unit * max(1, 256 * 1024 // len(unit))
    sent = 0
    while sent < total:
        if not client.send(batch):
            break
        sent += len(batch)
    return sent


# -- memory ----------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1])
def test_tiny_message_flood_to_an_app_not_reading(start_server, attacker, size) -> None:
    """Empty (or one-byte) messages to an app that never receives: reading pauses by count."""
    server = start_server()
    pid = server.process.pid
    client = attacker(server.port, "/no-receive")
    wait_quiet(pid)
    before = rss(pid)
    flood(client, client_frame(2, b"x" * size), 6 * MIB)  # a million messages
    wait_quiet(pid)
    grown = rss(pid) - before
    client.close()
    assert grown < RSS_BOUND, f"server grew {grown / MIB:.1f} MiB"


def test_ping_flood_from_a_client_that_never_reads(start_server, attacker) -> None:
    """Pings from a client that reads nothing: the server stops reading instead of piling pongs."""
    server = start_server()
    pid = server.process.pid
    client = attacker(server.port, "/echo")
    wait_quiet(pid)
    before_rss, before_cpu = rss(pid), cpu_seconds(pid)
    sent = flood(client, client_frame(9, b"p" * 125), 48 * MIB)
    wait_quiet(pid)
    grown, used = rss(pid) - before_rss, cpu_seconds(pid) - before_cpu
    client.close()
    assert grown < RSS_BOUND, f"server grew {grown / MIB:.1f} MiB"
    assert used < 5, f"server used {used:.1f} s of CPU"
    assert sent < 48 * MIB, "the server kept reading pings it could not answer"


def slow_reader_exchange(client: Any, outgoing: bytes, frames: int) -> list[tuple[int, bytes]]:
    """Send ``outgoing``, reading only when the server will take no more: ``frames`` replies."""
    sock = client.sock
    h2conn = client.conn if isinstance(client, H2Attacker) else None
    wire = b""
    received: list[tuple[int, bytes]] = []
    deadline = time.monotonic() + 60
    while len(received) < frames:
        assert time.monotonic() < deadline, f"{len(received)} of {frames} replies"
        if h2conn is not None and outgoing:
            window = min(h2conn.local_flow_control_window(client.stream), 16384)
            if window > 0:
                h2conn.send_data(client.stream, outgoing[:window])
                outgoing = outgoing[window:]
            wire += h2conn.data_to_send()
        elif h2conn is None and outgoing:
            wire, outgoing = wire + outgoing, b""
        if wire:
            _, writable, _ = select.select([], [sock], [], 0.05)
            if writable:
                sent = sock.send(wire)
                wire = wire[sent:]
                continue
        # The server takes no more (or we are done sending): now, late, read.
        readable, _, _ = select.select([sock], [], [], 1)
        if not readable:
            continue
        chunk = sock.recv(65536)
        assert chunk, "connection closed"
        if h2conn is not None:
            for event in h2conn.receive_data(chunk):
                if isinstance(event, h2.events.DataReceived):
                    client.inbound += event.data
                    h2conn.acknowledge_received_data(event.flow_controlled_length, client.stream)
            wire += h2conn.data_to_send()
        else:
            client.inbound += chunk
        while (parsed := parse_frame(client.inbound)) is not None:
            opcode, payload, used = parsed
            client.inbound = client.inbound[used:]
            received.append((opcode, payload))
    return received


def test_slow_reader_pinging_is_still_answered(start_server, attacker) -> None:
    """A well-behaved slow client (it reads, just late) gets every pong: pausing is not closing."""
    server = start_server()
    client = attacker(server.port, "/echo")
    client.sock.setblocking(False)
    count = 20000
    pings = b"".join(client_frame(9, b"%06d" % index + b"s" * 119) for index in range(count))
    received = slow_reader_exchange(client, pings, count)
    client.close()
    assert received == [(0xA, b"%06d" % index + b"s" * 119) for index in range(count)]


def test_compressed_flood_inflates_only_as_the_app_reads(start_server, attacker) -> None:
    """64 KiB of deflate frames that inflate to 60 MiB: inflation stops at the read budget."""
    server = start_server()
    pid = server.process.pid
    client = attacker(server.port, "/no-receive", extensions=b"permessage-deflate")
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    frames = b""
    for _ in range(60):
        data = deflater.compress(b"\0" * MIB) + deflater.flush(zlib.Z_SYNC_FLUSH)
        frames += client_frame(2, data[:-4], rsv1=True)
    assert len(frames) <= 64 * 1024
    wait_quiet(pid)
    before = rss(pid)
    assert client.send(frames)
    wait_until(client.sent_all_read, 10, "the server to read the frames")
    wait_quiet(pid)
    grown = rss(pid) - before
    client.close()
    assert grown < RSS_BOUND, f"server grew {grown / MIB:.1f} MiB"


def test_data_before_accept_is_bounded(start_server, attacker) -> None:
    """Frames sent while the app has not answered the handshake stay bounded."""
    server = start_server("--websocket-connect-timeout", "60")
    pid = server.process.pid
    client = attacker(server.port, "/never-accept", answer=False)
    wait_quiet(pid)
    before = rss(pid)
    sent = flood(client, client_frame(2, b"e" * 65000), 64 * MIB)
    wait_quiet(pid)
    grown = rss(pid) - before
    client.close()
    assert grown < RSS_BOUND, f"server grew {grown / MIB:.1f} MiB"
    assert sent < 64 * MIB, "the server kept reading for an app that has not accepted"


# -- CPU -------------------------------------------------------------------------------


def test_dribbled_large_frame_costs_linear_time(start_server, attacker) -> None:
    """An 8 MiB frame arriving 2 KiB per read: CPU per MiB stays at a linear bound."""
    size = 8 * MIB
    server = start_server(
        "--websocket-max-frame-size", str(16 * MIB), "--websocket-max-message-size", str(16 * MIB)
    )
    pid = server.process.pid
    client = attacker(server.port, "/no-receive")
    wait_quiet(pid)
    started = cpu_seconds(pid)
    data = frame_head(2, size) + b"\0\0\0\0" + b"d" * size
    for offset in range(0, len(data), 2048):
        assert client.send(data[offset : offset + 2048], stall=10)
        # One read per piece: wait until the server has read it.
        wait_until(client.sent_all_read, 10, "the server to read a piece", poll=0.0002)
    wait_quiet(pid)
    per_mib = (cpu_seconds(pid) - started) / (size / MIB)
    client.close()
    # Linear work is 512 reads per MiB: ~0.02 s/MiB over HTTP/1.1, ~0.1 s/MiB over
    # HTTP/2 (h2's per-frame cost); re-copying what is pending on every read
    # costs ~1.5 s/MiB at this size (and grows with it).
    assert per_mib < 0.5, f"{per_mib:.3f} s of CPU per MiB"


# -- conformance -------------------------------------------------------------------------


def test_invalid_utf8_fails_fast_mid_frame(start_server, attacker) -> None:
    """Invalid UTF-8 in a text frame is refused (1007) before the rest of the frame is sent."""
    server = start_server()
    client = attacker(server.port, "/echo")
    payload = "κόσμε".encode() + b"\xf4\x90\x80\x80" + b"x" * 10000
    client.send(frame_head(1, len(payload)) + b"\0\0\0\0" + payload[:20])
    opcode, close = client.next_frame()
    client.close()
    assert opcode == 0x8 and struct.unpack("!H", close[:2])[0] == 1007
