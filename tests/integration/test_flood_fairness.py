"""A flood on one connection, at any layer, must not starve the server's other connections.

A flooder (``flooders.py``, a child process) attacks the real server from two
connections while a canary on its own HTTP/1.1 connection makes 20 sequential
requests.  The server runs one event loop, so a connection whose 64 KiB read
takes long to handle delays everyone; the server bounds the work one read may
cost before other connections get their turn.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time

import pytest
from attack import cpu_seconds
from processes import DaphneCommand

# slow: floods against a real server (`pytest -m "not slow"` leaves it out).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
APP = "apps.flood_apps:app"
HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def server():
    args = ["-p", "0", "--access-log", os.devnull, APP]
    with DaphneCommand(args).start() as daphne:
        yield daphne


def _canary(port: int, count: int = 20) -> list[float]:
    """Seconds each of ``count`` sequential keep-alive GETs took to be answered."""
    latencies = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for _ in range(count):
            started = time.monotonic()
            sock.sendall(b"GET / HTTP/1.1\r\nHost: canary\r\n\r\n")
            answer = b""
            while not answer.endswith(b"\r\n\r\nhello"):
                data = sock.recv(4096)
                assert data, f"the canary's connection closed: {answer!r}"
                answer += data
            latencies.append(time.monotonic() - started)
    return latencies


@pytest.mark.parametrize(
    "kind",
    ["h2-ping", "h2-window-update", "h2-priority", "h2-tiny-data", "h1-pipeline", "ws-tiny"],
)
def test_a_flood_does_not_starve_other_connections(server, kind) -> None:
    """While two connections flood the server, a canary's requests are answered with a median
    latency of at most 100 ms and none slower than 1 s (the median, not each request: the test
    machine is shared and has 2 cores; one slow answer is noise, a slow median is starvation).
    The server must really be busy meanwhile (at least 30% of a core), or the test proves
    nothing."""
    flooder = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "flooders.py"), kind, str(server.port), "2"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=HERE,
        env={**os.environ, "PYTHONPATH": HERE},
    )
    try:
        assert flooder.stdout is not None
        # Bounded: the flooder prints its line as soon as both connections sent bytes.
        assert flooder.stdout.readline().strip() == "flooding"
        pid = server.process.pid
        cpu_before, started = cpu_seconds(pid), time.monotonic()
        latencies = _canary(server.port)
        busy = (cpu_seconds(pid) - cpu_before) / (time.monotonic() - started)
    finally:
        flooder.kill()
        flooder.wait(10)
    median = statistics.median(latencies)
    print(f"{kind}: canary median {median * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms,"
          f" server busy {busy:.0%}")  # fmt: skip
    assert busy > 0.3, busy
    assert median <= 0.1, latencies
    assert max(latencies) <= 1.0, latencies
