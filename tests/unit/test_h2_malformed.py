"""Malformed HTTP/2 requests and trailers, in memory: a stream error, not a connection error.

RFC 9113 §8.1.1: a malformed request is a stream error of type PROTOCOL_ERROR.
The server answers it with ``RST_STREAM(PROTOCOL_ERROR)`` on that stream only;
the connection and its other streams go on.  (The rules themselves are
``tests/unit/test_h2_fields.py``'s; the same over a real socket:
``tests/integration/test_h2_malformed_socket.py``.)
"""

from __future__ import annotations

import h2.config
import h2.connection
import h2.errors
import h2.events
import pytest
from harness import Harness
from test_h2_pipeline import Client, Recording

GET = [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"), (b":authority", b"x")]
POST = [(b":method", b"POST"), *GET[1:]]


@pytest.fixture
def make():
    harnesses: list[Harness] = []

    def build(app: Recording) -> Client:
        harness = Harness(app)
        harnesses.append(harness)
        client = Client(harness)
        # A client that sends what it is given: no normalizing, no checking.
        client.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(
                client_side=True,
                header_encoding=None,
                validate_outbound_headers=False,
                normalize_outbound_headers=False,
            )
        )
        client.conn.initiate_connection()
        return client

    yield build
    for harness in harnesses:
        harness.close()


def resets(client: Client) -> list[tuple[int, int]]:
    return [
        (e.stream_id, e.error_code) for e in client.events if isinstance(e, h2.events.StreamReset)
    ]


def connection_ended(client: Client) -> bool:
    return client.harness.closed or any(
        isinstance(e, h2.events.ConnectionTerminated) for e in client.events
    )


@pytest.mark.parametrize(
    "fields",
    [
        [*GET, (b"X-Upper", b"v")],
        [*GET, (b"connection", b"keep-alive")],
        [*GET, (b"te", b"gzip")],
        [*GET, (b"x", b" padded")],
        [(b"x", b"y"), *GET],
        [GET[0], *GET[2:]],
        [*GET, (b"host", b"elsewhere")],
        [*GET, (b":status", b"200")],
    ],
    ids=["uppercase", "connection", "te", "whitespace", "order", "no-scheme", "host", "status"],
)
def test_malformed_request_is_reset_and_the_connection_goes_on(make, fields) -> None:
    app = Recording()
    client = make(app)
    client.conn.send_headers(1, fields, end_stream=True)
    client.send()
    assert resets(client) == [(1, h2.errors.ErrorCodes.PROTOCOL_ERROR)]
    client.conn.send_headers(3, GET, end_stream=True)
    client.send()
    assert client.status(1) is None
    assert client.status(3) == 200
    assert app.calls == 1
    assert not connection_ended(client)


def test_grammar_problems_stay_400s(make) -> None:
    """Not HTTP/2's rules but the request grammar's (HTTP/1.1's too): a 400, as before."""
    app = Recording()
    client = make(app)
    client.conn.send_headers(1, [*GET, (b"x(y", b"v")], end_stream=True)
    client.send()
    assert client.status(1) == 400 and b"Invalid header name" in client.body(1)
    assert app.calls == 0


def test_malformed_trailers_reset_the_stream_and_tell_the_app(make) -> None:
    app = Recording()
    client = make(app)
    client.conn.send_headers(1, POST)
    client.conn.send_data(1, b"part")
    client.conn.send_headers(1, [(b":method", b"POST")], end_stream=True)
    client.send()
    assert resets(client) == [(1, h2.errors.ErrorCodes.PROTOCOL_ERROR)]
    assert app.messages[-1] == {"type": "http.disconnect"}
    client.conn.send_headers(3, GET, end_stream=True)
    client.send()
    assert client.status(3) == 200
    assert not connection_ended(client)


def test_well_formed_trailers_end_the_body(make) -> None:
    app = Recording()
    client = make(app)
    client.conn.send_headers(1, POST)
    client.conn.send_data(1, b"part")
    client.conn.send_headers(1, [(b"x-checksum", b"abc")], end_stream=True)
    client.send()
    assert client.status(1) == 200
    assert b"".join(m.get("body", b"") for m in app.messages) == b"part"
    assert app.messages[-2:] == [
        {"type": "http.request", "body": b"part", "more_body": False},
        {"type": "http.disconnect"},
    ]
    assert resets(client) == []


def test_a_flood_of_malformed_requests_is_told_to_calm_down(make) -> None:
    """Each costs a reset and no answer, like a rapid reset: beyond the allowance, GOAWAY."""
    client = make(Recording())
    for stream_id in range(1, 2 * 120, 2):
        client.conn.send_headers(stream_id, [*GET, (b"X-Upper", b"v")], end_stream=True)
        client.send()
        if connection_ended(client):
            break
    goaway = [e for e in client.events if isinstance(e, h2.events.ConnectionTerminated)]
    assert [e.error_code for e in goaway] == [h2.errors.ErrorCodes.ENHANCE_YOUR_CALM]
    assert len(resets(client)) == 101
