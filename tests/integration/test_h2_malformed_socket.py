"""A malformed HTTP/2 request over a real socket: RST_STREAM on its stream, the others go on.

RFC 9113 §8.1.1: a malformed request is a stream error of type PROTOCOL_ERROR.
The rules are ``tests/unit/test_h2_fields.py``'s, the in-memory cases
``tests/unit/test_h2_malformed.py``'s.
"""

from __future__ import annotations

import os
import socket

import h2.config
import h2.connection
import h2.errors
import h2.events
import pytest
from processes import DaphneCommand

# slow: a real server (`pytest -m "not slow"` leaves it out).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]
APP = "apps.functional:app"


@pytest.fixture(scope="module")
def server():
    with DaphneCommand(["-p", "0", "--access-log", os.devnull, APP]).start() as daphne:
        yield daphne


def fields(path: str, *extra: tuple[str, str]) -> list[tuple[str, str]]:
    return [(":method", "GET"), (":scheme", "http"), (":path", path), (":authority", "x"), *extra]


@pytest.mark.parametrize(
    "malformed",
    [
        fields("/", ("X-Upper", "case")),
        fields("/", ("connection", "close")),
        [("x-first", "1"), *fields("/")],
        fields(""),
    ],
    ids=["uppercase", "connection", "order", "empty-path"],
)
def test_malformed_stream_is_reset_and_its_neighbour_answered(server, malformed) -> None:
    # A client that sends what it is given: no normalizing, no checking.
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(
            client_side=True, validate_outbound_headers=False, normalize_outbound_headers=False
        )
    )
    conn.initiate_connection()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        conn.send_headers(1, fields("/slow?0.2"), end_stream=True)
        conn.send_headers(3, malformed, end_stream=True)
        conn.send_headers(5, fields("/"), end_stream=True)
        sock.sendall(conn.data_to_send())
        events: list[h2.events.Event] = []
        ended: set[int] = set()
        while not {1, 5} <= ended:
            data = sock.recv(65536)
            assert data, "the server closed the connection"
            new = conn.receive_data(data)
            sock.sendall(conn.data_to_send())
            events += new
            ended |= {e.stream_id for e in new if isinstance(e, h2.events.StreamEnded)}
    resets = [(e.stream_id, e.error_code) for e in events if isinstance(e, h2.events.StreamReset)]
    assert resets == [(3, h2.errors.ErrorCodes.PROTOCOL_ERROR)]
    statuses = {
        e.stream_id: dict(e.headers)[b":status"]
        for e in events
        if isinstance(e, h2.events.ResponseReceived)
    }
    assert statuses == {1: b"200", 5: b"200"}
    assert not any(isinstance(e, h2.events.ConnectionTerminated) for e in events)
