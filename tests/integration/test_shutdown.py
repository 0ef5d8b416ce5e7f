"""Graceful shutdown on SIGTERM/SIGINT with work in flight, against the real daphne command."""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
import time

import pytest
import websockets
from processes import DaphneCommand

# slow: a daphne process per test, drained by signals (`pytest -m "not slow"` leaves it out).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]
APP = "apps.shutdown_apps:app"


def read_all(sock: socket.socket) -> bytes:
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def test_sigterm_drains_streams_uploads_and_websockets(tmp_path) -> None:
    """SIGTERM: the stream and the upload complete, the WebSocket gets 1001, exit status 0."""
    marker = tmp_path / "ws-code"
    daphne = DaphneCommand(["-p", "0", APP], env={"WS_MARKER": str(marker)})
    with daphne.start(wait_for="Listening on"):
        port = daphne.port
        stream = socket.create_connection(("127.0.0.1", port), timeout=10)
        stream.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        assert stream.recv(100).startswith(b"HTTP/1.1 200 OK")
        upload = socket.create_connection(("127.0.0.1", port), timeout=10)
        upload.sendall(
            b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n" + b"u" * 1000
        )
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)
        idle.sendall(b"GET /upload HTTP/1.1\r\nHost: x\r\n\r\n")
        assert idle.recv(65536).endswith(b"0")

        ws_result: dict = {}

        async def websocket_client() -> None:
            async with websockets.connect(f"ws://127.0.0.1:{port}/ws") as ws:
                ws_result["open"] = True
                try:
                    while True:
                        await ws.recv()
                except websockets.ConnectionClosed as closed:
                    ws_result["code"] = closed.rcvd.code if closed.rcvd else None

        thread = threading.Thread(target=lambda: asyncio.run(websocket_client()))
        thread.start()
        deadline = time.monotonic() + 5
        while "open" not in ws_result and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "open" in ws_result, "the WebSocket did not open"

        daphne.process.send_signal(signal.SIGTERM)
        daphne.wait_for_log("Shutting down: draining")
        upload.sendall(b"u" * 199000)  # the upload finishes after the signal
        assert read_all(idle) == b""  # idle keep-alive connection closed
        streamed = read_all(stream)
        uploaded = read_all(upload)
        thread.join(10)
        assert daphne.process.wait(20) == 0
        log = daphne.output()
    assert streamed.endswith(b"end\r\n\r\n0\r\n\r\n") or b"end\n" in streamed
    assert uploaded.startswith(b"HTTP/1.1 200 OK") and uploaded.endswith(b"200000")
    assert ws_result.get("code") == 1001
    assert marker.read_text() == "1001"
    assert "Traceback" not in log and "KeyError" not in log


def test_graceful_timeout_cancels_and_names_what_is_left() -> None:
    """Work still running after --graceful-timeout is cancelled and named; exit status 0."""
    daphne = DaphneCommand(["-p", "0", "--graceful-timeout", "1", APP])
    with daphne.start(wait_for="Listening on"):
        sock = socket.create_connection(("127.0.0.1", daphne.port), timeout=10)
        sock.sendall(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 200 OK")
        started = time.monotonic()
        daphne.process.send_signal(signal.SIGTERM)
        assert daphne.process.wait(20) == 0
        assert time.monotonic() - started < 8
        data = read_all(sock)
        log = daphne.output()
    assert not data.endswith(b"0\r\n\r\n")  # cut, never made to look complete
    assert "still running after the graceful timeout" in log
    assert "/forever" in log


def test_second_sigint_exits_at_once() -> None:
    """A second SIGINT during the drain exits immediately."""
    daphne = DaphneCommand(["-p", "0", "--graceful-timeout", "30", APP])
    with daphne.start(wait_for="Listening on"):
        sock = socket.create_connection(("127.0.0.1", daphne.port), timeout=10)
        sock.sendall(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 200 OK")
        daphne.process.send_signal(signal.SIGINT)
        daphne.wait_for_log("Shutting down: draining")
        started = time.monotonic()
        daphne.process.send_signal(signal.SIGINT)
        code = daphne.process.wait(10)
        assert time.monotonic() - started < 5
        assert code != 0
        sock.close()
