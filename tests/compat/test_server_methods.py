"""Daphne 4.2's Server methods and WebSocketFactory, used the way Daphne-era code used them.

A real server (``apps/legacy_protocol.py``) runs a line protocol that calls
``protocol_connected``, ``create_application``, ``handle_reply`` (through the
app's ``send``) and ``protocol_disconnected``, and listens a second time with
``server.ws_factory``; the checks below talk to it over loopback sockets.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h11
import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request

TESTS_DIR = Path(__file__).resolve().parent.parent


class LegacyServer:
    def __init__(self, line_port: int, ws_port: int, checkers_quiet: bool, disconnects: Path):
        self.line_port = line_port
        self.ws_port = ws_port
        self.checkers_quiet = checkers_quiet
        self.disconnects = disconnects

    def exchange(self, line: bytes) -> list[str]:
        """Send one request line; return the lines received until the server closes."""
        with socket.create_connection(("127.0.0.1", self.line_port), timeout=10) as sock:
            sock.sendall(line + b"\n")
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
        return data.decode().splitlines()


@pytest.fixture(scope="module")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LegacyServer]:
    disconnects = tmp_path_factory.mktemp("legacy") / "disconnects"
    disconnects.touch()
    env = {**os.environ, "DISCONNECTS": str(disconnects)}
    process = subprocess.Popen(
        [sys.executable, "-m", "apps.legacy_protocol"],
        cwd=TESTS_DIR,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline().split()
        assert first[:1] == ["PORTS"], first
        yield LegacyServer(int(first[1]), int(first[2]), first[3] == "True", disconnects)
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def test_create_application_feeds_the_app_from_the_returned_queue(legacy: LegacyServer) -> None:
    """The queue create_application returns is the app's receive; send reaches protocol.handle_reply."""
    assert legacy.exchange(b"ok /hello") == ["status 200", "body /hello"]


def test_bad_header_type_gets_500_and_raises_in_the_app(legacy: LegacyServer) -> None:
    """A str header value: the protocol's basic_error(500), then the ValueError reaches the app.

    The app does not catch it, so it ends with it, and the still-connected
    protocol hears of it through handle_exception, as under Daphne.
    """
    assert legacy.exchange(b"strheaders /x") == [
        "error 500 Server Error",
        "exception ValueError",
    ]


def test_app_exception_reaches_protocol_handle_exception(legacy: LegacyServer) -> None:
    """An app that raises before answering: the protocol's handle_exception gets the exception."""
    assert legacy.exchange(b"raise /x") == ["exception RuntimeError"]


def test_protocol_disconnected_drops_sends(legacy: LegacyServer) -> None:
    """After protocol_disconnected the app reads the protocol's own disconnect; its send is dropped."""
    with socket.create_connection(("127.0.0.1", legacy.line_port), timeout=10) as sock:
        # Closing at once is enough: TCP delivers the line before the end of the stream,
        # so the protocol starts the app (lineReceived) before it hears of the disconnect.
        sock.sendall(b"wait /x\n")
    deadline = time.monotonic() + 10
    while not legacy.disconnects.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    # The asgi version was filled in by create_application; the app got
    # exactly the protocol's message, and its later send raised nothing.
    assert legacy.disconnects.read_text() == "http.disconnect 3.0\n"
    # The server carries on.
    assert legacy.exchange(b"ok /after") == ["status 200", "body /after"]


def test_checkers_are_quiet_hooks(legacy: LegacyServer) -> None:
    """application_checker() and timeout_checker() return None and schedule nothing."""
    assert legacy.checkers_quiet


def test_ws_factory_serves_websockets(legacy: LegacyServer) -> None:
    """Server.run() makes ws_factory; listening with it serves a WebSocket handshake."""
    client = WSConnection(ConnectionType.CLIENT)
    with socket.create_connection(("127.0.0.1", legacy.ws_port), timeout=10) as sock:
        sock.sendall(client.send(Request(host="localhost", target="/ws")))
        events: list[Any] = []
        while not events:
            data = sock.recv(4096)
            assert data, "connection closed during the handshake"
            client.receive_data(data)
            events = list(client.events())
    assert isinstance(events[0], AcceptConnection)


def test_ws_factory_protocols_speak_http_too(legacy: LegacyServer) -> None:
    """A WebSocket starts as an HTTP request, so the factory's connections answer plain HTTP."""
    client = h11.Connection(h11.CLIENT)
    with socket.create_connection(("127.0.0.1", legacy.ws_port), timeout=10) as sock:
        sock.sendall(client.send(h11.Request(method="GET", target="/p", headers=[("Host", "h")])))
        sock.sendall(client.send(h11.EndOfMessage()))
        response: Any = None
        body = b""
        while True:
            event = client.next_event()
            if event is h11.NEED_DATA:
                client.receive_data(sock.recv(4096))
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
    assert response.status_code == 200
    assert body == b"/p"


# -- without a running server ---------------------------------------------------


def make_server() -> Any:
    from daphne.server import Server

    return Server(application=None, endpoints=["tcp:port=0:interface=127.0.0.1"])


@pytest.mark.parametrize("how", ["class", "instance"])
def test_check_headers_type(how: str) -> None:
    """check_headers_type is a staticmethod that raises ValueError, with Daphne's wording."""
    from daphne.server import Server

    check = Server.check_headers_type if how == "class" else make_server().check_headers_type
    good = {"type": "http.response.start", "status": 200, "headers": [(b"a", b"b")]}
    assert check(good) is None
    with pytest.raises(ValueError, match="Header name 'a' expected to be `bytes`"):
        check({**good, "headers": [("a", b"b")]})
    with pytest.raises(ValueError, match="Header value 'b' expected to be `bytes`"):
        check({**good, "headers": [(b"a", "b")]})
    # Only the response start carries headers Daphne checked.
    assert check({"type": "http.response.body", "headers": [("a", "b")]}) is None


def test_protocol_connected_twice_is_an_error() -> None:
    """Registering one protocol twice raises RuntimeError, as in Daphne."""
    server = make_server()
    protocol = object()
    server.protocol_connected(protocol)
    with pytest.raises(RuntimeError, match="twice"):
        server.protocol_connected(protocol)
    server.protocol_disconnected(protocol)
    # A disconnected protocol without an app is forgotten and may come back.
    server.protocol_connected(protocol)


def test_create_application_needs_a_running_server() -> None:
    """Before run() there is no loop to run an app on: RuntimeError, not a silent None."""
    server = make_server()
    protocol = object()
    server.protocol_connected(protocol)
    with pytest.raises(RuntimeError, match="run"):
        server.create_application(protocol, {"type": "http"})


def test_ws_factory_takes_daphnes_arguments() -> None:
    """WebSocketFactory(server, server=name) as Daphne's run() built it; no protocol before run()."""
    from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol

    server = make_server()
    factory = WebSocketFactory(server, server="daphne", url=None)
    assert factory.server_class is server
    assert factory.protocol is WebSocketProtocol
    with pytest.raises(RuntimeError, match="run"):
        factory.buildProtocol(None)
