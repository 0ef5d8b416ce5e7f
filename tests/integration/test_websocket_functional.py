"""WebSockets against a real server: the websockets and autobahn clients, and raw sockets."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time

import pytest
import websockets
from attack import rss_bytes, wait_until_stalled
from processes import DaphneCommand
from websockets.exceptions import ConnectionClosed, InvalidStatus

pytestmark = pytest.mark.timeout(120)

APP = "apps.ws_apps:app"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("ws") / "access.log"
    with DaphneCommand(
        [
            "-p",
            "0",
            "--access-log",
            str(log),
            "--proxy-headers",
            "--websocket-max-message-size",
            "100000",
            APP,
        ]
    ).start(wait_for="Listening on") as daphne:
        daphne.url = f"ws://127.0.0.1:{daphne.port}"
        daphne.access_log = log
        yield daphne


def read_records(path) -> list[dict]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as handle:
                lines = handle.read().splitlines()
            if lines and any('"websocket.disconnect"' in line or "error" in line for line in lines):
                return [json.loads(line) for line in lines]
        time.sleep(0.02)
    return (
        [json.loads(line) for line in open(path).read().splitlines()]
        if os.path.exists(path)
        else []
    )


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


@pytest.mark.parametrize("compression", ["deflate", None])
def test_echo_text_binary_empty_and_large(server, compression) -> None:
    """Messages of every kind and size come back, with and without permessage-deflate."""

    async def go():
        async with websockets.connect(
            f"{server.url}/echo", compression=compression, max_size=None
        ) as ws:
            assert (ws.response.headers.get("Sec-WebSocket-Extensions") is not None) == (
                compression is not None
            )
            for message in ["hello", "", b"", b"\x00\xff", "ü" * 5000, os.urandom(90000)]:
                await ws.send(message)
                assert await ws.recv() == message

    run(go())


def test_subprotocol_and_accept_headers(server) -> None:
    """The chosen subprotocol and the accept message's headers reach the client."""

    async def go():
        async with websockets.connect(f"{server.url}/echo", subprotocols=["chat", "other"]) as ws:
            assert ws.subprotocol == "chat"
            assert ws.response.headers["Set-Cookie"] == "session=1"
            assert ws.response.headers["Server"] == "daphne"

    run(go())


def test_scope(server) -> None:
    """The websocket scope: scheme from X-Forwarded-Proto, headers kept separate, extensions."""

    async def go():
        headers = [
            ("Cookie", "a=1"),
            ("Cookie", "b=2"),
            ("X-Forwarded-For", "10.0.0.9"),
            ("X-Forwarded-Proto", "https"),
        ]
        async with websockets.connect(
            f"{server.url}/sc%20ope?q=1".replace("sc%20ope", "scope"), additional_headers=headers
        ) as ws:
            return json.loads(await ws.recv())

    scope = run(go())
    assert scope["type"] == "websocket"
    assert scope["scheme"] == "wss"
    assert scope["http_version"] == "1.1"
    assert scope["path"] == "/scope"
    assert scope["client"] == ["10.0.0.9", 0]
    assert ["cookie", "a=1"] in scope["headers"] and ["cookie", "b=2"] in scope["headers"]
    assert scope["extensions"] == {"websocket.http.response": {}}
    assert scope["asgi"]["version"] == "3.0"
    assert scope["subprotocols"] == []


@pytest.mark.parametrize(
    ("code", "reason"),
    [(1000, ""), (1001, "going"), (1008, "policy"), (1011, "oops"), (4321, "custom")],
)
def test_app_close_codes_and_reasons(server, code, reason, tmp_path) -> None:
    """Any valid close code and its reason reach the client; the app hears the echoed code."""
    record = tmp_path / "record"

    async def go():
        async with websockets.connect(f"{server.url}/echo?record={record}") as ws:
            await ws.send(f"close:{code}:{reason}")
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
            return info.value.rcvd

    received = run(go())
    assert (received.code, received.reason) == (code, reason)
    assert read_records(record)[-1] == {
        "type": "websocket.disconnect",
        "code": code,
        "reason": reason,
    }


def test_client_close_codes_reach_app(server, tmp_path) -> None:
    """A client close with code and reason is reported to the app as websocket.disconnect."""
    record = tmp_path / "record"

    async def go():
        ws = await websockets.connect(f"{server.url}/echo?record={record}")
        await ws.close(4000, "client leaving")

    run(go())
    assert read_records(record)[-1] == {
        "type": "websocket.disconnect",
        "code": 4000,
        "reason": "client leaving",
    }


def raw_handshake(
    port: int,
    path: str = "/echo",
    extra: bytes = b"",
    version: bytes = b"13",
    key: bytes | None = None,
) -> tuple[socket.socket, bytes]:
    key = key if key is not None else base64.b64encode(os.urandom(16))
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(
        b"GET "
        + path.encode()
        + b" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: "
        + key
        + b"\r\nSec-WebSocket-Version: "
        + version
        + b"\r\n"
        + extra
        + b"\r\n"
    )
    reply = b""
    while b"\r\n\r\n" not in reply:
        chunk = sock.recv(65536)
        if not chunk:
            break
        reply += chunk
    return sock, reply


def test_abnormal_close_and_no_code_close(server, tmp_path) -> None:
    """TCP loss gives the app 1006; a close frame without a code gives 1005."""
    record = tmp_path / "lost"
    sock, reply = raw_handshake(server.port, f"/echo?record={record}")
    assert reply.startswith(b"HTTP/1.1 101 ")
    sock.close()
    assert read_records(record)[-1]["code"] == 1006
    record2 = tmp_path / "nocode"
    sock, reply = raw_handshake(server.port, f"/echo?record={record2}")
    sock.sendall(b"\x88\x80abcd")  # masked close, empty payload
    assert sock.recv(100) == b"\x88\x00"
    sock.close()
    assert read_records(record2)[-1]["code"] == 1005


@pytest.mark.parametrize(
    ("path", "version", "key", "status"),
    [
        ("/echo", b"12", None, b"426"),
        ("/echo", b"13", b"not-base64!", b"400"),
        ("/echo", b"13", b"", b"400"),
    ],
)
def test_bad_handshakes(server, path, version, key, status) -> None:
    """Bad handshakes get a 4xx with a reason (426 names the supported version)."""
    sock, reply = raw_handshake(server.port, path, version=version, key=key)
    sock.close()
    assert reply.startswith(b"HTTP/1.1 " + status)
    if status == b"426":
        assert b"\r\nSec-WebSocket-Version: 13\r\n" in reply


def test_missing_connection_upgrade_is_400(server) -> None:
    """Upgrade: websocket without Connection: Upgrade is refused."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        assert sock.recv(65536).startswith(b"HTTP/1.1 400 ")


def test_reject_is_403_and_app_told(server, tmp_path) -> None:
    """websocket.close before accept answers 403; the app then gets websocket.disconnect."""
    record = tmp_path / "r"

    async def go():
        with pytest.raises(InvalidStatus) as info:
            await websockets.connect(f"{server.url}/reject?record={record}")
        return info.value.response.status_code

    assert run(go()) == 403
    assert read_records(record)[-1]["type"] == "websocket.disconnect"


def test_denial_response(server) -> None:
    """The Denial Response extension sends the app's own HTTP response."""
    sock, reply = raw_handshake(server.port, "/deny")
    while chunk := sock.recv(65536):
        reply += chunk
    sock.close()
    assert reply.startswith(b"HTTP/1.1 401 Unauthorized\r\n")
    assert b"\r\nx-why: token\r\n" in reply
    assert reply.endswith(b"\r\n\r\ngo away")


def test_exception_before_accept_is_500(server) -> None:
    """An app error before accept answers the handshake with 500."""
    sock, reply = raw_handshake(server.port, "/raise-before")
    sock.close()
    assert reply.startswith(b"HTTP/1.1 500 ")


def test_exception_after_accept_is_1011_and_return_is_1000(server) -> None:
    """An app error after accept closes with 1011; an app that returns closes with 1000."""

    async def closed_code(path):
        async with websockets.connect(f"{server.url}{path}") as ws:
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
            return info.value.rcvd.code

    assert run(closed_code("/raise-after")) == 1011
    assert run(closed_code("/return-after-accept")) == 1000


def test_send_before_accept_and_bad_subprotocol_raise(server, tmp_path) -> None:
    """websocket.send before accept and an unoffered subprotocol raise from send().

    An app that catches the first and returns has refused the handshake (403); an
    invalid accept fails the handshake, whatever the app does next (500).
    """
    for path, status in (("/send-before-accept", b"403"), ("/bad-subprotocol", b"500")):
        record = tmp_path / path.strip("/")
        sock, reply = raw_handshake(server.port, f"{path}?record={record}")
        sock.close()
        assert reply.startswith(b"HTTP/1.1 %s " % status), reply[:40]
        errors = [r["error"] for r in read_records(record) if "error" in r]
        assert errors and "expected" in errors[0]


def test_message_too_big_closes_1009(server, tmp_path) -> None:
    """A message over --websocket-max-message-size closes with 1009 and the app is told."""
    record = tmp_path / "big"

    async def go():
        async with websockets.connect(
            f"{server.url}/echo?record={record}", compression=None, max_size=None
        ) as ws:
            await ws.send(b"x" * 100001)
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
            return info.value.rcvd.code

    assert run(go()) == 1009
    assert read_records(record)[-1]["code"] == 1009


def test_write_backpressure(server) -> None:
    """A client that does not read a 125 MiB flood leaves the server's memory flat."""
    before = rss_bytes(server.process.pid)
    sock, reply = raw_handshake(server.port, "/flood")
    assert reply.startswith(b"HTTP/1.1 101 ")
    grown = wait_until_stalled(server.process.pid, sock) - before
    assert grown < 25 * 1024 * 1024, f"server grew by {grown} bytes"
    total = len(reply)
    sock.settimeout(10)
    while chunk := sock.recv(1 << 20):
        total += len(chunk)
        if total > 2000 * 65536:
            break
    sock.close()
    assert total > 2000 * 65536


def test_access_log_lines(server) -> None:
    """WSCONNECTING/WSCONNECT/WSDISCONNECT and WSREJECT lines as Daphne writes them."""
    text = server.access_log.read_text()
    assert '"WSCONNECTING /echo" - -' in text
    assert '"WSCONNECT /echo" - -' in text
    assert '"WSDISCONNECT /echo" - -' in text
    assert '"WSREJECT /reject" - -' in text


def test_http_still_served_on_the_same_port(server) -> None:
    """Plain HTTP requests share the port."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert sock.recv(65536).endswith(b"http")


@pytest.mark.slow
def test_timeouts() -> None:
    """connect timeout → 403; websocket_timeout → close 1000."""
    with DaphneCommand(
        ["-p", "0", "-v", "1", "--websocket_connect_timeout", "1", "--websocket_timeout", "2", APP]
    ).start(wait_for="Listening on") as daphne:  # fmt: skip
        started = time.monotonic()
        sock, reply = raw_handshake(daphne.port, "/never-accept")
        sock.close()
        assert reply.startswith(b"HTTP/1.1 403 ")
        assert time.monotonic() - started < 4

        async def lifetime():
            async with websockets.connect(
                f"ws://127.0.0.1:{daphne.port}/echo", ping_interval=None
            ) as ws:
                with pytest.raises(ConnectionClosed) as info:
                    while True:
                        await ws.recv()
                return info.value.rcvd.code

        assert run(lifetime()) == 1000


@pytest.mark.slow
def test_unanswered_pings_drop_the_connection() -> None:
    """A client that never answers pings is pinged after --ping-interval, then dropped."""
    with DaphneCommand(["-p", "0", "--ping-interval", "1", "--ping-timeout", "1", APP]).start(
        wait_for="Listening on"
    ) as daphne:
        sock, _reply = raw_handshake(daphne.port, "/echo")
        sock.settimeout(6)
        frame = sock.recv(100)
        assert frame[0] == 0x89  # ping
        started = time.monotonic()
        try:
            while sock.recv(100):
                pass
        except ConnectionResetError:
            pass  # dropped, as it should be
        assert time.monotonic() - started < 4
        sock.close()


def test_negative_or_zero_connect_timeout_means_no_limit() -> None:
    """--websocket_connect_timeout -1 or 0 accepts handshakes (Daphne rejected them all)."""
    for value in ("-1", "0"):
        with DaphneCommand(["-p", "0", "--websocket_connect_timeout", value, APP]).start(
            wait_for="Listening on"
        ) as daphne:

            async def go():
                async with websockets.connect(f"ws://127.0.0.1:{daphne.port}/echo") as ws:
                    await ws.send("hi")
                    return await ws.recv()

            assert run(go()) == "hi"


def test_autobahn_client(server) -> None:
    """autobahn's own Twisted client completes a handshake and an echo."""
    script = f"""
import sys
from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet import reactor
result = []
class Client(WebSocketClientProtocol):
    def onOpen(self):
        self.sendMessage("hi autobahn".encode(), isBinary=False)
    def onMessage(self, payload, isBinary):
        result.append(payload.decode())
        self.sendClose(1000)
    def onClose(self, wasClean, code, reason):
        reactor.stop()
factory = WebSocketClientFactory("{server.url}/echo")
factory.protocol = Client
from autobahn.websocket.compress import PerMessageDeflateOffer, PerMessageDeflateResponse, PerMessageDeflateResponseAccept
def accept(response):
    if isinstance(response, PerMessageDeflateResponse):
        return PerMessageDeflateResponseAccept(response)
factory.setProtocolOptions(perMessageCompressionOffers=[PerMessageDeflateOffer()], perMessageCompressionAccept=accept)
reactor.connectTCP("127.0.0.1", {server.port}, factory)
reactor.callLater(10, reactor.stop)
reactor.run()
print(result)
sys.exit(0 if result == ["hi autobahn"] else 1)
"""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stdout + result.stderr
