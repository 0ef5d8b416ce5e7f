"""A real server on 127.0.0.1 talked to by real clients: httpx, curl and raw sockets."""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import socket
import subprocess
import time

import httpx
import pytest
from attack import rss_bytes as rss
from attack import wait_until_stalled
from processes import DaphneCommand

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server():
    with DaphneCommand(
        [
            "-p",
            "0",
            "--access-log",
            os.devnull,
            "--application-close-timeout",
            "1",
            "apps.functional:app",
        ]
    ).start(wait_for="Listening on") as daphne:
        daphne.base = f"http://127.0.0.1:{daphne.port}"
        yield daphne


def raw_exchange(port: int, data: bytes, timeout: float = 5) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
        return out


def test_large_bodies_round_trip(server) -> None:
    """5 MiB uploaded (Content-Length and chunked) comes back byte for byte."""
    payload = os.urandom(5 * 1024 * 1024)
    with httpx.Client(base_url=server.base, timeout=30) as client:
        assert client.post("/echo", content=payload).content == payload

        def chunks():
            for offset in range(0, len(payload), 100_000):
                yield payload[offset : offset + 100_000]

        assert client.post("/echo", content=chunks()).content == payload


def test_keep_alive_reuses_one_connection(server) -> None:
    """Several requests on one httpx client share one TCP connection."""
    with httpx.Client(base_url=server.base, timeout=5) as client:
        ports = {client.get("/scope").json()["client"][1] for _ in range(5)}
    assert len(ports) == 1


def test_pipelining_on_the_wire(server) -> None:
    """Three pipelined requests in one send are answered in order."""
    data = raw_exchange(
        server.port,
        b"GET /slow?0.2 HTTP/1.1\r\nHost: x\r\n\r\nGET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    bodies = [part.split(b"\r\n\r\n", 1)[1][:5] for part in data.split(b"HTTP/1.1 200 OK")[1:]]
    assert bodies == [b"slow", b"abc", b"hello"]


def test_curl(server, tmp_path) -> None:
    """curl uploads a file, gets it back, and HEAD has headers but no body."""
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    upload = tmp_path / "upload.bin"
    upload.write_bytes(os.urandom(300_000))
    result = subprocess.run(
        ["curl", "-sS", "--max-time", "10", "--data-binary", f"@{upload}", f"{server.base}/echo"],
        capture_output=True,
        timeout=20,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == upload.read_bytes()
    head = subprocess.run(
        ["curl", "-sS", "-I", "--max-time", "10", f"{server.base}/"],
        capture_output=True,
        timeout=20,
    )
    assert head.returncode == 0
    assert head.stdout.startswith(b"HTTP/1.1 200 OK")
    assert b"\r\nDate: " in head.stdout and b"\r\nServer: daphne" in head.stdout


def test_write_backpressure_bounds_memory(server) -> None:
    """A client that stops reading a 50 MiB response does not make the server buffer it."""
    before = rss(server.process.pid)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        grown = wait_until_stalled(server.process.pid, sock) - before
        assert grown < 20 * 1024 * 1024, f"server grew by {grown} bytes"
        received = 0
        data = b""
        while chunk := sock.recv(1 << 20):
            received += len(chunk)
            if len(data) < 4096:
                data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK")
    assert received > 800 * 65536  # everything arrived (plus chunk framing)


@pytest.mark.slow
def test_read_backpressure_stops_the_upload(server, tmp_path) -> None:
    """While the app does not read, the server stops reading: the client cannot push 64 MiB."""
    flag = tmp_path / "go"
    before = rss(server.process.pid)
    body_size = 64 * 1024 * 1024
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            f"POST /ignore-body?{flag} HTTP/1.1\r\nHost: x\r\nContent-Length: {body_size}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        sock.setblocking(False)
        sent = 0
        piece = b"u" * 65536
        stalled_since = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and sent < body_size:
            try:
                sent += sock.send(piece)
                stalled_since = None
            except BlockingIOError:
                stalled_since = stalled_since or time.monotonic()
                if time.monotonic() - stalled_since > 1.0:
                    break
                time.sleep(0.01)
        assert sent < 16 * 1024 * 1024, f"client could push {sent} bytes into a non-reading app"
        assert rss(server.process.pid) - before < 20 * 1024 * 1024
        flag.write_text("go")  # now the app reads everything
        sock.setblocking(True)
        remaining = body_size - sent
        while remaining:
            chunk = piece[: min(remaining, len(piece))]
            sock.sendall(chunk)
            remaining -= len(chunk)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.endswith(str(body_size).encode())


def test_expect_100_continue(server) -> None:
    """The 100 Continue interim response arrives before the body is sent."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
        )
        assert sock.recv(1024) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"data")
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 200 OK") and reply.endswith(b"data")


def test_crash_mid_response_is_not_a_clean_end(server) -> None:
    """An app error after the response started aborts the connection (client sees an error)."""
    with httpx.Client(base_url=server.base, timeout=5) as client, pytest.raises(httpx.HTTPError):
        client.get("/crash-midway").read()
    assert httpx.get(f"{server.base}/", timeout=5).text == "hello"  # server still fine


@pytest.mark.slow
def test_application_close_timeout_cancels_lingering_app(server, tmp_path) -> None:
    """An app still running after its response is cancelled after --application-close-timeout."""
    marker = tmp_path / "cancelled"
    assert httpx.get(f"{server.base}/linger?{marker}", timeout=5).text == "done"
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.read_text() == "cancelled"


@pytest.mark.slow
def test_concurrent_clients(server) -> None:
    """50 concurrent connections, 4 requests each, all answered correctly."""

    def worker(index: int) -> list[str]:
        with httpx.Client(base_url=server.base, timeout=10) as client:
            return [client.post("/echo", content=f"{index}-{n}".encode()).text for n in range(4)]

    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        results = list(pool.map(worker, range(50)))
    assert results == [[f"{i}-{n}" for n in range(4)] for i in range(50)]


def test_abandoned_requests_do_not_break_the_server(server) -> None:
    """Clients that leave mid-head or mid-body leave the server serving everyone else."""
    for data in (b"GET / HT", b"POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc"):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(data)
    for _ in range(20):
        assert httpx.get(f"{server.base}/scope", timeout=5).json()["path"] == "/scope"


def test_scope_over_the_wire(server) -> None:
    """Duplicate headers stay separate, underscores are dropped, root path header applies."""
    response = raw_exchange(
        server.port,
        b"GET /scope HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\nCookie: b=2\r\nX_Bad: 1\r\n"
        b"Daphne-Root-Path: /mounted%20here\r\nConnection: close\r\n\r\n",
    )
    scope = json.loads(response.split(b"\r\n\r\n", 1)[1])
    assert ["cookie", "a=1"] in scope["headers"] and ["cookie", "b=2"] in scope["headers"]
    assert not any(name == "x_bad" for name, _ in scope["headers"])
    assert scope["root_path"] == "/mounted here"
