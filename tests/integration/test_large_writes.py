"""A large response body goes to the socket beside its head, not joined to it.

``SocketOutput.write_parts`` hands the head, the body and the chunk framing to one
``sendmsg`` on plain sockets; what the socket does not take goes to Twisted's
buffer, and later writes wait behind it.  Here a client with a small receive buffer
reads a multi-megabyte response (so the server's sends are partial), then a
pipelined second one, over TCP, a unix socket and TLS (which joins the parts):
every byte must arrive, in order.
"""

from __future__ import annotations

import os
import socket

import pytest
from apps.functional import pattern
from processes import DaphneCommand, TLSFiles

# slow: a real server (`pytest -m "not slow"` leaves it out).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]
APP = "apps.functional:app"
SIZE = 3 * 1024 * 1024 + 7


@pytest.fixture(scope="module", params=["tcp", "unix", "tls"])
def server(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("large")
    context = None
    address: object
    if request.param == "tcp":
        options = ["-p", "0"]
    elif request.param == "unix":
        address = str(folder / "daphne.sock")
        options = ["-u", address]
    else:
        files = TLSFiles(folder)
        options = ["-e", files.endpoint]
        context = files.client_context()
    with DaphneCommand([*options, "--access-log", os.devnull, APP]).start() as daphne:
        if request.param != "unix":
            address = ("127.0.0.1", daphne.port)
        daphne.address, daphne.tls_context = address, context
        yield daphne


def connect(server) -> socket.socket:
    family = socket.AF_UNIX if isinstance(server.address, str) else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # A small receive buffer: the server's sends of a large body are partial.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(20)
    sock.connect(server.address)
    if server.tls_context is not None:
        sock = server.tls_context.wrap_socket(sock, server_hostname="127.0.0.1")
    return sock


def read_response(sock: socket.socket, buffer: bytearray) -> tuple[bytes, bytes]:
    """One response from ``buffer`` + the socket: (head, decoded body); the rest stays."""

    def more() -> None:
        data = sock.recv(16384)
        assert data, "the server closed the connection mid-response"
        buffer.extend(data)

    while b"\r\n\r\n" not in buffer:
        more()
    end = buffer.index(b"\r\n\r\n") + 4
    head = bytes(buffer[:end])
    del buffer[:end]
    if b"transfer-encoding: chunked" in head.lower():
        body = bytearray()
        while True:
            while b"\r\n" not in buffer:
                more()
            line_end = buffer.index(b"\r\n")
            size = int(buffer[:line_end], 16)
            while len(buffer) < line_end + 2 + size + 2:
                more()
            body += buffer[line_end + 2 : line_end + 2 + size]
            assert buffer[line_end + 2 + size : line_end + 4 + size] == b"\r\n"
            del buffer[: line_end + 4 + size]
            if size == 0:
                return head, bytes(body)
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(buffer) < length:
        more()
    body = bytes(buffer[:length])
    del buffer[:length]
    return head, body


@pytest.mark.parametrize("flags", ["", ",chunked", ",pieces", ",chunked,pieces"])
def test_a_large_body_arrives_whole_and_in_order(server, flags) -> None:
    with connect(server) as sock:
        sock.sendall(
            b"GET /pattern?%d%s HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /pattern?5000%s HTTP/1.1\r\nHost: x\r\n\r\n"
            % (SIZE, flags.encode(), flags.encode())
        )
        buffer = bytearray()
        head, body = read_response(sock, buffer)
        assert head.startswith(b"HTTP/1.1 200 ")
        assert len(body) == SIZE and body == pattern(SIZE)
        head, body = read_response(sock, buffer)
        assert head.startswith(b"HTTP/1.1 200 ") and body == pattern(5000)
        assert not buffer
