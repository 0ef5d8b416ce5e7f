"""A malformed HTTP/2 request over a real socket: RST_STREAM on its stream, the others go on.

RFC 9113 §8.1.1: a malformed request is a stream error of type PROTOCOL_ERROR.
That holds for its fields (the rules are ``tests/unit/test_h2_fields.py``'s) and
for its body's framing (§8.1: a ``content-length`` that is not a number or does
not match the DATA, a trailer section that does not end the stream).  Each case
runs over h2c (prior knowledge) and HTTP/2 over TLS (ALPN).  The in-memory cases
are ``tests/unit/test_h2_malformed.py``'s.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

import h2.config
import h2.connection
import h2.errors
import h2.events
import hyperframe.frame
import pytest
from processes import DaphneCommand, TLSFiles

# slow: a real server (`pytest -m "not slow"` leaves it out).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]
APP = "apps.functional:app"


@pytest.fixture(scope="module", params=["h2c", "h2-tls"])
def server(request, tmp_path_factory):
    """A server spoken to over h2c (prior knowledge) or HTTP/2 over TLS (ALPN)."""
    options = ["-p", "0"]
    context = None
    if request.param == "h2-tls":
        files = TLSFiles(tmp_path_factory.mktemp("tls"))
        options = ["-e", files.endpoint]
        context = files.client_context()
        context.set_alpn_protocols(["h2"])
    with DaphneCommand([*options, "--access-log", os.devnull, APP]).start() as daphne:
        daphne.tls_context = context
        yield daphne


def connect(server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    if server.tls_context is None:
        return sock
    sock = server.tls_context.wrap_socket(sock, server_hostname="127.0.0.1")
    assert sock.selected_alpn_protocol() == "h2"
    return sock


def fields(path: str, *extra: tuple[str, str], method: str = "GET") -> list[tuple[str, str]]:
    return [(":method", method), (":scheme", "http"), (":path", path), (":authority", "x"), *extra]


def bad_fields(malformed: list[tuple[str, str]]) -> Callable[[h2.connection.H2Connection], None]:
    def send(conn: h2.connection.H2Connection) -> None:
        conn.send_headers(3, malformed, end_stream=True)

    return send


def posting(
    length: str, body: bytes, end: bool = True
) -> Callable[[h2.connection.H2Connection], None]:
    """Stream 3: a POST declaring ``length``, then ``body`` (ending the stream if ``end``)."""

    def send(conn: h2.connection.H2Connection) -> None:
        conn.send_headers(3, fields("/echo", ("content-length", length), method="POST"))
        pieces = [body[start : start + 15000] for start in range(0, len(body), 15000)] or [b""]
        for index, piece in enumerate(pieces):
            conn.send_data(3, piece, end_stream=end and index == len(pieces) - 1)

    return send


def declared_but_ended_by_headers(conn: h2.connection.H2Connection) -> None:
    conn.send_headers(3, fields("/echo", ("content-length", "10"), method="POST"), end_stream=True)


def ended_short_by_trailers(conn: h2.connection.H2Connection) -> None:
    posting("10", b"abc", end=False)(conn)
    conn.send_headers(3, [("x-checksum", "1")], end_stream=True)


def trailers_without_end_stream(conn: h2.connection.H2Connection) -> None:
    conn.send_headers(3, fields("/echo", method="POST"))
    conn.send_data(3, b"abc")
    # h2 refuses to send this; the frame is written by hand, its block by the
    # client's own encoder (so the HPACK state stays in step).
    frame = hyperframe.frame.HeadersFrame(3, flags=["END_HEADERS"])
    frame.data = conn.encoder.encode([(b"x-checksum", b"1")])
    conn._data_to_send += frame.serialize()


CASES = {
    "uppercase": bad_fields(fields("/", ("X-Upper", "case"))),
    "connection": bad_fields(fields("/", ("connection", "close"))),
    "order": bad_fields([("x-first", "1"), *fields("/")]),
    "empty-path": bad_fields(fields("")),
    # More DATA than declared, in four frames: the connection window is only open
    # for the neighbour's body if the server gives all those bytes back.
    "data-over-length": posting("3", b"x" * 60000),
    "data-under-length": posting("10", b"abc"),
    "length-not-a-number": posting("abc", b""),
    "length-then-end-stream": declared_but_ended_by_headers,
    "trailers-short-of-length": ended_short_by_trailers,
    "trailers-without-end-stream": trailers_without_end_stream,
}


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_stream_is_reset_and_its_neighbours_answered(server, case) -> None:
    # A client that sends what it is given: no normalizing, no checking.
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(
            client_side=True, validate_outbound_headers=False, normalize_outbound_headers=False
        )
    )
    conn.initiate_connection()
    neighbour_body = b"y" * 60000
    with connect(server) as sock:
        conn.send_headers(1, fields("/slow?0.2"), end_stream=True)
        CASES[case](conn)
        # After the malformed stream, a body that may need the connection window
        # back: sent once the window allows (the client waits for WINDOW_UPDATE).
        conn.send_headers(5, fields("/echo", ("content-length", "60000"), method="POST"))
        pending = True
        events: list[h2.events.Event] = []
        ended: set[int] = set()
        while not {1, 5} <= ended:
            if pending and conn.local_flow_control_window(5) >= len(neighbour_body):
                for start in range(0, len(neighbour_body), 15000):
                    piece = neighbour_body[start : start + 15000]
                    conn.send_data(5, piece, end_stream=start + 15000 >= len(neighbour_body))
                pending = False
            sock.sendall(conn.data_to_send())
            data = sock.recv(65536)
            assert data, "the server closed the connection"
            new = conn.receive_data(data)
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
    echoed = b"".join(
        e.data for e in events if isinstance(e, h2.events.DataReceived) and e.stream_id == 5
    )
    assert echoed == neighbour_body
    assert not any(isinstance(e, h2.events.ConnectionTerminated) for e in events)
