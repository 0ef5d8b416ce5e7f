"""Request-smuggling refusals on a real socket (the full table: ``tests/unit/test_http1_framing.py``)."""

from __future__ import annotations

import socket

import pytest
from processes import DaphneCommand
from unit.test_http1_framing import CASES, SMUGGLED

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def server():
    with DaphneCommand(["-p", "0", "apps.functional:app"]).start() as daphne:
        yield daphne


@pytest.mark.parametrize(
    "case", ["bare-lf-inside-a-field", "chunk-last-with-bare-lf", "te-not-final-chunked"]
)
def test_http1_framing_socket(server, case: str) -> None:
    """The same refusals on a real socket: one 400, then the connection closes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(CASES[case] + SMUGGLED)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 400 "), received[:80]
    assert received.count(b"HTTP/1.1 ") == 1
