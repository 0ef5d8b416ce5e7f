"""HTTP/2 attacked from raw sockets: costs that must not grow with what the attacker controls.

Each test runs the real ``daphne`` command on 127.0.0.1, attacks it with
hand-made frames (``h2`` keeps the client's state) and measures the server
process itself: CPU time (``utime + stime`` from ``/proc/PID/stat``, 10 ms
ticks, so every CPU figure is taken over enough work to dwarf a tick) and
memory (``VmRSS``).  Every wait is bounded and waits on a condition, usually a
PING round trip: the server answers frames in order, so its PING ACK means it
has handled everything sent before.
"""

from __future__ import annotations

import os
import struct

import h2.errors
import h2.events
import h2.settings
import pytest
from attack import H2Attacker, cpu_seconds, frame, priority, rss_bytes, window_update
from h2ws_client import parse_frame
from processes import DaphneCommand

# slow: attacks measured in the server's CPU and memory (`pytest -m "not slow"` leaves it out).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
APP = "apps.flood_apps:app"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def server():
    with DaphneCommand(["-p", "0", "--access-log", os.devnull, APP]).start() as daphne:
        yield daphne


def _hold_streams(port: int, count: int) -> H2Attacker:
    """A connection with ``count`` open streams whose responses started and have nothing queued."""
    client = H2Attacker(port)
    for index in range(count):
        client.request(1 + 2 * index, "/hold")
    client.pump_until(lambda: sum(len(v) for v in client.data.values()) == 4 * count)
    return client


def test_connection_window_update_cost_does_not_grow_with_open_streams(server) -> None:
    """A connection-level WINDOW_UPDATE wakes only streams with something to send: the same
    flood costs the same CPU with 1 or 100 idle open streams (5 connections x 900 frames each
    way, each connection under the idle-frame allowance)."""
    pid = server.process.pid
    spent = {}
    for streams in (1, 100):
        total = 0.0
        for _ in range(5):
            client = _hold_streams(server.port, streams)
            before = cpu_seconds(pid)
            client.flush(window_update(0, 1) * 900)
            client.sync()
            total += cpu_seconds(pid) - before
            assert client.goaway is None
            client.close()
        spent[streams] = total
    per_frame_extra = (spent[100] - spent[1]) / 4500
    print(f"CPU for 4,500 connection WINDOW_UPDATEs by open streams: {spent}")
    # Before: every open stream was pumped for each frame (~35 us a frame more with 100
    # streams); the margin covers the 10 ms ticks of the CPU clock.
    assert per_frame_extra < 12e-6, spent


@pytest.mark.parametrize(
    "flood",
    [
        pytest.param(lambda: window_update(0, 1), id="window-update-connection"),
        pytest.param(lambda: window_update(1, 1), id="window-update-stream"),
        pytest.param(lambda: priority(1), id="priority-open-stream"),
        pytest.param(lambda: priority(3, 1), id="priority-idle-stream"),
    ],
)
def test_frames_that_make_no_work_are_a_flood(server, flood) -> None:
    """WINDOW_UPDATE and PRIORITY frames that give the server nothing to do count as idle
    frames, like PING and SETTINGS: a flood of them ends in GOAWAY(ENHANCE_YOUR_CALM)."""
    client = _hold_streams(server.port, 1)
    chunk = flood() * 1000
    for _ in range(20):
        client.flush(chunk)
        if client.closed:
            break
    client.pump_until(lambda: client.goaway is not None or client.closed)
    assert client.goaway == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
    client.close()


@pytest.mark.parametrize(
    "flood",
    [
        pytest.param(lambda: frame(0xFA, 0, 0, b""), id="unknown-type"),
        pytest.param(lambda: frame(0x0, 0, 1, b"x"), id="data-on-closed-stream"),
        pytest.param(lambda: window_update(1, 1), id="window-update-on-closed-stream"),
        pytest.param(lambda: frame(0x3, 0, 1, (8).to_bytes(4, "big")), id="rst-on-closed-stream"),
    ],
)
def test_frames_h2_ignores_are_a_flood(server, flood) -> None:
    """Frames of an unknown type (which RFC 9113 §5.5 has us ignore) and frames on a stream
    that is over count as frames that make no work too: 200,000 of them got no answer but
    the server's CPU (about 10 us each) and, for DATA, a RST_STREAM each; now
    GOAWAY(ENHANCE_YOUR_CALM)."""
    client = H2Attacker(server.port)
    client.request(1, "/")
    client.pump_until(lambda: 1 in client.ended)
    chunk = flood() * 1000
    for _ in range(20):
        client.flush(chunk)
        client.pump(0)
        if client.closed or client.goaway is not None:
            break
    client.pump_until(lambda: client.goaway is not None or client.closed)
    assert client.goaway == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
    client.close()


def test_small_window_updates_during_a_download_are_not_a_flood(server) -> None:
    """A 10 MiB download whose client reopens the windows 1 KiB at a time (stream and
    connection, about 20,000 WINDOW_UPDATEs) completes: only useless frames count."""
    client = H2Attacker(server.port, auto_ack=False)
    client.request(1, "/big?160")
    received = 0
    while 1 not in client.ended:
        client.pump_until(lambda: len(client.data.get(1, b"")) > 0 or 1 in client.ended)
        got = len(client.data.pop(1, b""))
        received += got
        if 1 in client.ended:
            break
        for size in [1024] * (got // 1024) + ([got % 1024] if got % 1024 else []):
            client.conn.increment_flow_control_window(size, 1)
            client.conn.increment_flow_control_window(size)
        client.flush()
    assert client.goaway is None
    assert received == 160 * 65536
    client.close()


def _download_cpu(port: int, pid: int, mib: int) -> float:
    """Server CPU for a ``mib`` MiB response sent in one message to a client whose window
    starts at zero and then opens 64 KiB at a time."""
    client = H2Attacker(port, {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0}, auto_ack=False)
    before = cpu_seconds(pid)
    client.request(1, f"/blob?{mib}")
    client.pump_until(lambda: any(isinstance(e, h2.events.ResponseReceived) for e in client.events))
    client.sync()  # the app has handed over its body, which waits for the zero window
    received = 0
    while received < mib * MIB:
        client.conn.increment_flow_control_window(65536, 1)
        client.conn.increment_flow_control_window(65536)
        client.flush()
        client.pump_until(lambda: len(client.data.get(1, b"")) >= 65536 or 1 in client.ended)
        received += len(client.data.pop(1))
    spent = cpu_seconds(pid) - before
    assert received == mib * MIB
    client.close()
    return spent


def test_large_response_to_a_zero_window_costs_linear_cpu(server) -> None:
    """A response body queued whole behind a closed window is sent without copying what is
    still queued each time a piece goes out: 4x the bytes cost about 4x the CPU, not 16x."""
    pid = server.process.pid
    small = min(_download_cpu(server.port, pid, 4) for _ in range(2))
    large = _download_cpu(server.port, pid, 16)
    print(f"CPU for a 4 MiB / 16 MiB response: {small:.2f} s / {large:.2f} s")
    assert large < 7 * max(small, 0.03), (small, large)


def _ping_frames(count: int, payload: bytes) -> bytes:
    """``count`` masked WebSocket PING frames (the mask is zero: the payload goes as is)."""
    return (bytes([0x89, 0x80 | len(payload)]) + b"\0\0\0\0" + payload) * count


def test_websocket_pongs_to_a_client_that_does_not_read_stay_bounded(server) -> None:
    """RFC 8441: a WebSocket client that sends pings but opens no window for the pongs gets
    its own window closed once the server has write_high_water bytes of pongs queued;
    memory stays bounded, and every pong arrives once the client reads again."""
    pid = server.process.pid
    client = H2Attacker(
        server.port, {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0}, auto_ack=True
    )
    client.conn.send_headers(
        1,
        [
            (b":method", b"CONNECT"),
            (b":protocol", b"websocket"),
            (b":scheme", b"http"),
            (b":path", b"/ws"),
            (b":authority", b"x"),
            (b"sec-websocket-version", b"13"),
        ],
    )
    client.flush()
    client.pump_until(lambda: any(isinstance(e, h2.events.ResponseReceived) for e in client.events))
    rss_before = cpu_before = None
    rss_before, cpu_before = rss_bytes(pid), cpu_seconds(pid)
    payload = b"p" * 125
    pings = _ping_frames(125, payload)  # 16,375 bytes: one DATA frame of pings
    sent = 0
    while sent < 2 * MIB:
        window = client.conn.local_flow_control_window(1)
        if window < len(pings):
            client.sync()
            if client.conn.local_flow_control_window(1) < len(pings):
                break  # the server stopped reopening our window
            continue
        client.conn.send_data(1, pings)
        client.flush()
        sent += len(pings)
    client.sync()
    grown = rss_bytes(pid) - rss_before
    spent = cpu_seconds(pid) - cpu_before
    print(f"pings accepted {sent} B, RSS +{grown / MIB:.1f} MiB, CPU {spent:.2f} s")
    # Before: the window kept reopening, pongs piled up (2 MiB and more) and every pong
    # copied all those queued (quadratic CPU).
    assert sent <= 256 * 1024, sent
    assert grown < 4 * MIB, grown
    assert spent < 1.0, spent
    # Reading again: every pong arrives, in order, and the connection is still fine.
    client.conn.increment_flow_control_window(4 * MIB, 1)
    client.conn.increment_flow_control_window(4 * MIB)
    client.flush()
    pong_count = sent // (len(payload) + 6)
    expected = pong_count * (len(payload) + 2)
    client.pump_until(lambda: len(client.data.get(1, b"")) >= expected)
    buffer = bytes(client.data[1])
    pongs = 0
    while (parsed := parse_frame(buffer)) is not None:
        opcode, body, used = parsed
        assert (opcode, body) == (0xA, payload)
        buffer = buffer[used:]
        pongs += 1
    assert pongs == pong_count
    assert client.goaway is None
    client.close()


def test_tiny_data_frames_cost_memory_by_bytes_not_by_frame(server, tmp_path) -> None:
    """1-byte DATA frames on 4 streams of one connection, to an app that reads the body
    late: what waits for the app costs about its bytes (each stream's 64 KiB window, the
    credit withheld once reading paused), not an ASGI message per frame (~15 MiB before)."""
    pid = server.process.pid
    flag = tmp_path / "read-now"
    client = H2Attacker(server.port)
    streams = [1 + 2 * index for index in range(4)]
    for stream in streams:
        client.request(stream, f"/late?{flag}", end=False, method="POST")
    client.sync()
    rss_before = rss_bytes(pid)
    sent = dict.fromkeys(streams, 0)
    frames = {stream: frame(0x0, 0, stream, b"x") for stream in streams}
    stalled = False
    while not stalled:
        # Our own account of the windows (h2 does not see the raw frames we send).
        conn_window = client.conn.outbound_flow_control_window - sum(sent.values())
        batch = []
        for stream in streams:
            open_ = client.conn.local_flow_control_window(stream) - sent[stream]
            for _ in range(max(0, min(open_, conn_window - len(batch), 1024))):
                batch.append(frames[stream])
                sent[stream] += 1
        stalled = not batch
        client.flush(b"".join(batch))
        client.sync()
        assert sum(sent.values()) < 300_000, "the server kept reopening the windows"
    grown = rss_bytes(pid) - rss_before
    print(f"{sum(sent.values())} one-byte DATA frames, RSS +{grown / MIB:.1f} MiB")
    assert sum(sent.values()) >= 65535
    assert grown < 4 * MIB, grown
    # The app then reads every byte, once.
    flag.write_bytes(b"")
    for stream in streams:
        client.conn.send_data(stream, b"", end_stream=True)
    client.flush()
    client.pump_until(lambda: set(streams) <= client.ended)
    for stream in streams:
        assert bytes(client.data[stream]) == str(sent[stream]).encode()
    client.close()


@pytest.mark.parametrize("after_request", [False, True], ids=["first-frame", "in-a-request"])
def test_a_frame_longer_than_allowed_is_refused_at_its_header(server, after_request) -> None:
    """A frame header announcing 16 MiB - 1 bytes (far over SETTINGS_MAX_FRAME_SIZE), then
    8 MiB of its payload: GOAWAY(FRAME_SIZE_ERROR) once the header is in, and nothing of
    the rest held (h2 kept a frame's bytes until it was whole: up to 16 MiB per connection)."""
    pid = server.process.pid
    client = H2Attacker(server.port)
    if after_request:
        client.request(1, "/hold", end=False, method="POST")
        client.sync()
    rss_before = rss_bytes(pid)
    header = ((1 << 24) - 1).to_bytes(3, "big") + bytes([0x0, 0x0]) + (1).to_bytes(4, "big")
    client.flush(header)
    chunk, sent = b"x" * 65536, 0
    while sent < 8 * MIB and not client.closed and client.goaway is None:
        client.flush(chunk)
        sent += len(chunk)
        client.pump(0)
    client.pump_until(lambda: client.goaway is not None or client.closed, timeout=5)
    grown = rss_bytes(pid) - rss_before
    print(f"{sent} bytes of the frame sent, RSS +{grown / MIB:.1f} MiB")
    assert client.goaway == h2.errors.ErrorCodes.FRAME_SIZE_ERROR
    assert grown < 2 * MIB, grown
    client.close()


def test_pings_on_a_websocket_frame_layout() -> None:
    """The ping frames this module sends are what RFC 6455 §5.2 says (masked, zero key)."""
    data = _ping_frames(2, b"ab")
    assert data == b"\x89\x82\0\0\0\0ab" * 2
    assert struct.unpack("!BB", data[:2]) == (0x89, 0x82)
