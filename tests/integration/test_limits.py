"""Limits through the real daphne command: slowloris, body size, header sizes."""

from __future__ import annotations

import socket
import time

import httpx
import pytest
from processes import DaphneCommand

pytestmark = pytest.mark.timeout(60)
APP = "apps.functional:app"


@pytest.mark.slow
def test_slowloris_does_not_starve_normal_requests() -> None:
    """200 connections trickling request heads: normal requests stay fast; the trickles get 408."""
    with DaphneCommand(
        ["-p", "0", "--header-read-timeout", "4", "--access-log", "/dev/null", APP]
    ).start(wait_for="Listening on") as daphne:
        trickles = []
        for _ in range(200):
            sock = socket.create_connection(("127.0.0.1", daphne.port), timeout=10)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            trickles.append(sock)
        for sock in trickles[:100]:
            sock.sendall(b"X-Slow: 1\r\n")
        with httpx.Client(base_url=f"http://127.0.0.1:{daphne.port}", timeout=5) as client:
            started = time.monotonic()
            for _ in range(20):
                assert client.get("/").text == "hello"
            # Served well before the trickles are cut off (4 s): nothing waited on them.
            assert time.monotonic() - started < 3.5
        answers = set()
        for sock in trickles:
            answers.add(sock.recv(100)[:12])
            sock.close()
        assert answers == {b"HTTP/1.1 408"}


def test_body_and_header_limits() -> None:
    """--limit-request-body gives 413; --limit-request-field-size gives 431."""
    with DaphneCommand(
        ["-p", "0", "--limit-request-body", "1000", "--limit-request-field-size", "200", APP]
    ).start(wait_for="Listening on") as daphne:
        base = f"http://127.0.0.1:{daphne.port}"
        assert httpx.post(f"{base}/echo", content=b"x" * 1000, timeout=5).status_code == 200
        assert httpx.post(f"{base}/echo", content=b"x" * 1001, timeout=5).status_code == 413
        chunked = httpx.post(f"{base}/echo", content=iter([b"x" * 600, b"x" * 600]), timeout=5)
        assert chunked.status_code == 413
        assert httpx.get(base, headers={"X-Big": "v" * 300}, timeout=5).status_code == 431


def _hold(port: int) -> socket.socket:
    """Open a connection whose app instance stays busy until the socket closes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
    seen = b""
    while b"held" not in seen:
        data = sock.recv(4096)
        assert data, f"connection closed before the held response started: {seen!r}"
        seen += data
    assert seen.startswith(b"HTTP/1.1 200"), seen
    return sock


def test_limit_concurrency_answers_503_with_retry_after() -> None:
    """Beyond --limit-concurrency busy instances, HTTP and WebSocket handshakes get 503."""
    args = ["-p", "0", "--limit-concurrency", "2", "--access-log", "/dev/null", APP]
    with DaphneCommand(args).start(wait_for="Listening on") as daphne:
        base = f"http://127.0.0.1:{daphne.port}"
        # Both held requests are confirmed running before anything else is sent.
        held = [_hold(daphne.port) for _ in range(2)]
        shed = httpx.get(f"{base}/", timeout=5)
        assert shed.status_code == 503
        assert shed.headers["retry-after"] == "1"
        with socket.create_connection(("127.0.0.1", daphne.port), timeout=5) as sock:
            sock.sendall(
                b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            )
            assert sock.recv(100).startswith(b"HTTP/1.1 503")
        for sock in held:
            sock.close()
        # The server notices the closed connections asynchronously: bounded wait for capacity.
        deadline = time.monotonic() + 10
        status = None
        while time.monotonic() < deadline:
            status = httpx.get(f"{base}/", timeout=5).status_code
            if status == 200:
                break
            time.sleep(0.05)
        assert status == 200
