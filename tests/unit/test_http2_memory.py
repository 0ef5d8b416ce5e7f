"""HTTP/2 over an in-memory transport, driven by an ``h2`` client, whole and byte by byte."""

from __future__ import annotations

import h2.config
import h2.connection
import h2.events
import pytest
from harness import Harness
from memory_apps import Recorder

BYTEWISE = pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "bytewise"])


def client() -> h2.connection.H2Connection:
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding=None)
    )
    conn.initiate_connection()
    return conn


def exchange(harness: Harness, conn: h2.connection.H2Connection, bytewise: bool) -> list:
    harness.feed(conn.data_to_send(), bytewise)
    return conn.receive_data(harness.transport.value())


@BYTEWISE
def test_request_with_body_and_cookie_crumbs(bytewise: bool) -> None:
    app = Recorder()
    harness = Harness(app)
    try:
        conn = client()
        conn.send_headers(
            1,
            [
                (b":method", b"POST"),
                (b":scheme", b"http"),
                (b":path", b"/p?q=1"),
                (b":authority", b"example.com"),
                (b"cookie", b"a=1"),
                (b"cookie", b"b=2"),
            ],
        )
        conn.send_data(1, b"hello", end_stream=True)
        events = exchange(harness, conn, bytewise)
        (scope,) = app.scopes
        assert scope["http_version"] == "2"
        assert scope["method"] == "POST"
        assert scope["path"] == "/p"
        assert scope["query_string"] == b"q=1"
        assert (b"host", b"example.com") in scope["headers"]
        assert (b"cookie", b"a=1; b=2") in scope["headers"]
        assert app.body == b"hello"
        response = next(e for e in events if isinstance(e, h2.events.ResponseReceived))
        assert dict(response.headers)[b":status"] == b"200"
        data = b"".join(e.data for e in events if isinstance(e, h2.events.DataReceived))
        assert data == b"OK"
        assert any(isinstance(e, h2.events.StreamEnded) for e in events)
    finally:
        harness.close()


@BYTEWISE
def test_two_streams_are_two_instances(bytewise: bool) -> None:
    app = Recorder()
    harness = Harness(app)
    try:
        conn = client()
        for stream in (1, 3):
            conn.send_headers(
                stream,
                [
                    (b":method", b"GET"),
                    (b":scheme", b"https"),
                    (b":path", f"/{stream}".encode()),
                    (b":authority", b"x"),
                ],
                end_stream=True,
            )
        events = exchange(harness, conn, bytewise)
        assert [scope["path"] for scope in app.scopes] == ["/1", "/3"]
        ended = {e.stream_id for e in events if isinstance(e, h2.events.StreamEnded)}
        assert ended == {1, 3}
    finally:
        harness.close()
