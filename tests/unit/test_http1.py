"""HTTP1Connection + WebRequest over an in-memory transport: requests, responses, errors, timers.

Every request is fed whole and one byte at a time.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
import pytest
from harness import Harness
from memory_apps import Recorder, body, start

BYTEWISE = pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "bytewise"])


@pytest.fixture
def make():
    harnesses: list[Harness] = []

    def factory(app: Any, **kwargs: Any) -> Harness:
        harness = Harness(app, **kwargs)
        harnesses.append(harness)
        return harness

    yield factory
    for harness in harnesses:
        harness.close()


# -- scope -----------------------------------------------------------------------


@BYTEWISE
def test_scope_of_a_simple_get(make, bytewise: bool) -> None:
    """The scope carries every ASGI key with the request's facts."""
    app = Recorder()
    h = make(app)
    h.feed(
        b"GET /a%20b/c?x=1&y=%2F HTTP/1.1\r\nHost: example.com\r\nX-Thing: 1\r\nX-Thing: 2\r\n\r\n",
        bytewise,
    )
    (scope,) = app.scopes
    assert scope == {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.5"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/a b/c",
        "raw_path": b"/a%20b/c",
        "query_string": b"x=1&y=%2F",
        "root_path": "",
        "headers": [(b"host", b"example.com"), (b"x-thing", b"1"), (b"x-thing", b"2")],
        "client": ["127.0.0.1", 12345],
        "server": ["127.0.0.1", 8000],
        "extensions": {"http.response.pathsend": {}, "http.response.early_hint": {}},
    }
    assert app.messages == [{"type": "http.request", "body": b"", "more_body": False}]
    (response,) = h.responses()
    assert response.status == 200 and response.body == b"OK"


def test_unix_socket_scope_has_no_addresses(make) -> None:
    """Without host/port addresses (unix sockets), client and server are None."""
    app = Recorder()
    h = make(app, unix=True)
    h.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert app.scopes[0]["client"] is None and app.scopes[0]["server"] is None


def test_root_path_header_and_underscores(make) -> None:
    """Daphne-Root-Path sets root_path (decoded) and is removed; names with '_' are dropped."""
    app = Recorder()
    h = make(app, root_path="/default")
    h.feed(b"GET / HTTP/1.1\r\nDaphne-Root-Path: /pre%20fix\r\nX_Evil: 1\r\nX-Good: 2\r\n\r\n")
    scope = app.scopes[0]
    assert scope["root_path"] == "/pre fix"
    assert scope["headers"] == [(b"x-good", b"2")]
    app2 = Recorder()
    h2 = make(app2, root_path="/default")
    h2.feed(b"GET / HTTP/1.1\r\n\r\n")
    assert app2.scopes[0]["root_path"] == "/default"


def test_proxy_headers(make) -> None:
    """With proxy headers configured, X-Forwarded-* set client and scheme."""
    app = Recorder()
    h = make(
        app,
        proxy_forwarded_address_header="X-Forwarded-For",
        proxy_forwarded_port_header="X-Forwarded-Port",
        proxy_forwarded_proto_header="X-Forwarded-Proto",
    )
    h.feed(
        b"GET / HTTP/1.1\r\nX-Forwarded-For: 10.1.2.3, 10.0.0.1\r\nX-Forwarded-Port: 81\r\nX-Forwarded-Proto: https\r\n\r\n"
    )
    assert app.scopes[0]["client"] == ["10.1.2.3", 81]
    assert app.scopes[0]["scheme"] == "https"


def test_proxy_headers_ignored_when_off(make) -> None:
    """Without proxy configuration the headers are passed through untouched."""
    app = Recorder()
    h = make(app)
    h.feed(b"GET / HTTP/1.1\r\nX-Forwarded-For: 10.1.2.3\r\n\r\n")
    assert app.scopes[0]["client"] == ["127.0.0.1", 12345]
    assert (b"x-forwarded-for", b"10.1.2.3") in app.scopes[0]["headers"]


def test_absolute_form_target(make) -> None:
    """An absolute-form target gives the path and query of the URI."""
    app = Recorder()
    h = make(app)
    h.feed(b"GET http://example.com/p/q?z=1 HTTP/1.1\r\nHost: example.com\r\n\r\n")
    assert app.scopes[0]["path"] == "/p/q"
    assert app.scopes[0]["query_string"] == b"z=1"


# -- request bodies ------------------------------------------------------------


@BYTEWISE
def test_content_length_body_streamed_in_pieces(make, bytewise: bool) -> None:
    """A Content-Length body arrives in messages of at most request_buffer_size bytes."""
    app = Recorder()
    h = make(app, request_buffer_size=4)
    h.feed(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", bytewise)
    assert app.body == b"0123456789"
    assert all(len(m["body"]) <= 4 for m in app.messages)
    assert [m["more_body"] for m in app.messages][-1] is False
    assert all(m["more_body"] for m in app.messages[:-1])


@BYTEWISE
def test_chunked_body(make, bytewise: bool) -> None:
    """A chunked body is decoded, trailers dropped, and ends with more_body False."""
    app = Recorder()
    h = make(app)
    h.feed(
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nT: 1\r\n\r\n",
        bytewise,
    )
    assert app.body == b"hello world"
    assert app.messages[-1]["more_body"] is False
    assert h.responses()[0].status == 200


def test_body_before_app_reads_and_read_backpressure(make) -> None:
    """An app that does not read makes the server stop reading; reading resumes as it consumes."""
    gate = asyncio.Event()
    received: list[bytes] = []

    async def app(scope, receive, send):
        await gate.wait()
        while True:
            message = await receive()
            received.append(message["body"])
            if not message["more_body"]:
                break
        await send(start(200))
        await send(body(b"done"))

    h = make(app, read_high_water=1024)
    h.feed(b"POST / HTTP/1.1\r\nContent-Length: 4096\r\n\r\n" + b"a" * 2048)
    assert h.transport.producerState == "paused"
    h.loop.call_soon(gate.set)
    h.feed(b"a" * 2048)
    assert h.transport.producerState == "producing"
    assert b"".join(received) == b"a" * 4096


@pytest.mark.parametrize(
    ("buffer_size", "sizes"), [(1000, [1000]), (250, [200, 200, 200, 200, 200])]
)
def test_body_pieces_before_the_app_reads_join_its_unread_message(
    make, buffer_size: int, sizes: list[int]
) -> None:
    """Body pieces that arrive before the app reads join the last unread message while they
    fit in request_buffer_size: the app gets every byte, as ``bytes``, in that many messages,
    only the last one final."""
    gate = asyncio.Event()
    received: list[dict[str, Any]] = []

    async def app(scope, receive, send):
        await gate.wait()
        while True:
            message = await receive()
            received.append(message)
            if not message["more_body"]:
                break
        await send(start(200))
        await send(body(b"done"))

    h = make(app, request_buffer_size=buffer_size)
    h.feed(b"POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n")
    pieces = [b"%d" % index * 100 for index in range(10)]
    for piece in pieces:
        h.feed(piece)
    assert received == []
    h.loop.call_soon(gate.set)
    h.spin()
    assert [len(m["body"]) for m in received] == sizes
    assert all(type(m["body"]) is bytes for m in received)
    assert b"".join(m["body"] for m in received) == b"".join(pieces)
    assert [m["more_body"] for m in received] == [True] * (len(sizes) - 1) + [False]
    assert h.responses(["POST"])[0].status == 200


def test_expect_continue_sent_when_app_reads(make) -> None:
    """100 Continue goes out only once the app asks for the body."""
    gate = asyncio.Event()

    async def app(scope, receive, send):
        await gate.wait()
        message = await receive()
        while message.get("more_body"):
            message = await receive()
        await send(start(200, [(b"content-length", b"0")]))
        await send(body())

    h = make(app)
    h.feed(b"POST / HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
    assert h.written == b""
    h.loop.call_soon(gate.set)
    h.spin()
    assert h.written == b"HTTP/1.1 100 Continue\r\n\r\n"
    h.feed(b"abc")
    (response,) = h.responses(["POST"])
    assert response.informational == [100] and response.status == 200


def test_expect_continue_not_sent_when_app_answers_first(make) -> None:
    """An app that responds without reading never triggers 100 Continue."""
    h = make(Recorder(start(413, [(b"content-length", b"0")]), body(), read_body=False))
    h.feed(b"POST / HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
    assert b"100 Continue" not in h.written
    assert h.responses(["POST"])[0].status == 413


# -- responses -----------------------------------------------------------------------


def test_date_and_server_headers_and_names_as_sent(make) -> None:
    """Responses carry Date and Server; header names keep the app's spelling."""
    h = make(Recorder(start(200, [(b"X-CamelCase", b"v"), (b"content-length", b"0")]), body()))
    h.feed(b"GET / HTTP/1.1\r\n\r\n")
    assert b"\r\nX-CamelCase: v\r\n" in h.written
    response = h.responses()[0]
    assert response.header(b"date") and response.header(b"server") == b"daphne"


def test_app_server_header_wins_and_empty_server_name(make) -> None:
    """An app's own Server header is kept alone; server_name='' sends none."""
    h = make(Recorder(start(200, [(b"server", b"mine"), (b"content-length", b"0")]), body()))
    h.feed(b"GET / HTTP/1.1\r\n\r\n")
    assert [v for k, v in h.responses()[0].headers if k == b"server"] == [b"mine"]
    h2 = make(Recorder(start(200, [(b"content-length", b"0")]), body()), server_name="")
    h2.feed(b"GET / HTTP/1.1\r\n\r\n")
    assert h2.responses()[0].header(b"server") is None


def test_streamed_response_is_chunked(make) -> None:
    """Without Content-Length an HTTP/1.1 response is chunked and complete."""
    h = make(Recorder(start(200), body(b"a", True), body(b"", True), body(b"b", True), body()))
    h.feed(b"GET / HTTP/1.1\r\n\r\n")
    response = h.responses()[0]
    assert response.header(b"transfer-encoding") == b"chunked"
    assert response.body == b"ab"
    assert not h.closed


def test_http10_response_is_close_delimited(make) -> None:
    """HTTP/1.0: no chunking, the response ends with the connection."""
    h = make(Recorder(start(200), body(b"a", True), body(b"b")))
    h.feed(b"GET / HTTP/1.0\r\n\r\n")
    assert h.written.startswith(b"HTTP/1.0 200 OK\r\n")
    assert b"chunked" not in h.written.lower()
    assert h.written.endswith(b"\r\n\r\nab")
    assert h.closed


@pytest.mark.parametrize(
    ("method", "status"),
    [("HEAD", 200), ("GET", 204), ("GET", 304), ("HEAD", 204)],
)
def test_no_body_bytes_for_head_204_304(make, method: str, status: int) -> None:
    """HEAD, 204 and 304 never write body bytes, whatever the app sends."""
    h = make(Recorder(start(status), body(b"aaa", True), body(b"bbb", True), body(b"ccc")))
    h.feed(f"{method} / HTTP/1.1\r\n\r\n{method} / HTTP/1.1\r\n\r\n".encode())
    responses = h.responses([method, method])
    assert [r.status for r in responses] == [status, status]
    assert all(r.body == b"" for r in responses)
    assert b"aaa" not in h.written and b"ccc" not in h.written


def test_head_with_content_length_keeps_the_connection(make) -> None:
    """A HEAD answered with the GET's Content-Length is complete: the connection stays open.

    (It used to be taken for a short body and closed, without ``Connection: close``.)
    """
    h = make(Recorder(start(200, [(b"content-length", b"5")]), body(b"hello")))
    h.feed(b"HEAD / HTTP/1.1\r\n\r\nHEAD / HTTP/1.1\r\n\r\n")
    responses = h.responses(["HEAD", "HEAD"])
    assert [r.header(b"content-length") for r in responses] == [b"5", b"5"]
    assert all(r.body == b"" and r.header(b"connection") is None for r in responses)
    assert not h.closed


@BYTEWISE
def test_pipelined_requests_answered_in_order(make, bytewise: bool) -> None:
    """Two requests in one packet get two responses, in order."""

    async def app(scope, receive, send):
        await receive()
        if scope["path"] == "/slow":
            for _ in range(5):
                await asyncio.sleep(0)
        data = scope["path"].encode()
        await send(start(200, [(b"content-length", b"%d" % len(data))]))
        await send(body(data))

    h = make(app)
    h.feed(
        b"GET /slow HTTP/1.1\r\n\r\nGET /fast HTTP/1.1\r\n\r\nGET /third HTTP/1.1\r\n\r\n", bytewise
    )
    assert [r.body for r in h.responses()] == [b"/slow", b"/fast", b"/third"]


def test_the_connection_keeps_its_state_in_slots(make) -> None:
    """Only Twisted's own attributes live in the connection's __dict__ (see its
    ``__slots__``): an attribute a mixin adds without a slot makes CPython 3.11 stop
    sharing the dict's keys once there are over 30, and every load slower."""

    async def app(scope, receive, send):
        await receive()
        await send(start(200, [(b"content-length", b"2")]))
        await send(body(b"ok"))

    h = make(app)
    h.feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n")
    h.feed(b"GET / HTTP/1.1\r\n\r\n")
    assert [r.body for r in h.responses()] == [b"ok", b"ok"]
    assert set(vars(h.protocol)) <= {"transport", "connected", "factory"}


def test_connection_close_honoured(make) -> None:
    """Connection: close from the client closes after the response."""
    h = make(Recorder())
    h.feed(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert h.responses()[0].header(b"connection") == b"close"
    assert h.closed


def test_write_backpressure(make) -> None:
    """send() waits while the transport's buffer is over its high-water mark."""
    progress: list[int] = []

    async def app(scope, receive, send):
        await receive()
        await send(start(200))
        for index in range(3):
            await send(body(b"x" * 10, True))
            progress.append(index)
        await send(body())

    h = make(app)
    h.protocol.pauseProducing()  # what Twisted does when its buffer is full
    h.feed(b"GET / HTTP/1.1\r\n\r\n")
    assert progress == []
    h.protocol.resumeProducing()
    h.spin()
    assert progress == [0, 1, 2]
    assert h.responses()[0].body == b"x" * 30


def test_disconnect_after_response_and_send_after_close_is_noop(make) -> None:
    """receive() after the response gives http.disconnect once; later send() does nothing."""
    seen: list[Any] = []

    async def app(scope, receive, send):
        await receive()
        await send(start(200, [(b"content-length", b"0")]))
        await send(body())
        seen.append(await receive())
        await send(body(b"late"))  # ignored, no error
        seen.append("sent late")
        seen.append(await receive())  # waits: disconnect is delivered once

    h = make(app)
    h.feed(b"GET / HTTP/1.1\r\n\r\n")
    assert seen == [{"type": "http.disconnect"}, "sent late"]
    assert b"late" not in h.written


def test_client_disconnect_wakes_receive(make) -> None:
    """A client that leaves mid-request wakes the app with http.disconnect."""
    seen: list[Any] = []

    async def app(scope, receive, send):
        while True:
            message = await receive()
            seen.append(message["type"])
            if message["type"] == "http.disconnect":
                await send(start(200))  # no-op now
                return

    h = make(app)
    h.feed(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
    h.lose_connection()
    assert seen == ["http.request", "http.disconnect"]
    assert h.written == b""


# -- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET / HTTP/1.1 extra\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET / HTTP/3.0\r\n\r\n", 505),
        (b"GET /\xc3\xa4 HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n: x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: 1\r\n folded\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: a\x0bb\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: a\x0cb\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: a\x1cb\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: a\x1db\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: a\x1eb\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: a\x85b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", 400),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
    ],
)
def test_bad_requests_are_refused(make, request_bytes: bytes, status: int) -> None:
    """Malformed or ambiguous requests get a 4xx/5xx with a reason and the connection closes."""
    app = Recorder()
    h = make(app)
    h.feed(request_bytes + b"GET /smuggled HTTP/1.1\r\n\r\n")
    (response,) = h.responses()
    assert response.status == status
    assert b"<p>" in response.body  # a short reason in the page
    assert response.header(b"connection") == b"close"
    assert h.closed
    assert app.scopes == []  # neither request reached the app


def test_utf8_header_value_with_0x85_is_accepted(make) -> None:
    """'Å' (C3 85) is valid UTF-8 and not a line break: accepted."""
    app = Recorder()
    h = make(app)
    h.feed("GET / HTTP/1.1\r\nX-Name: Å\r\n\r\n".encode())
    assert app.scopes[0]["headers"] == [(b"x-name", "Å".encode())]


def test_http10_error_status_line(make) -> None:
    """A refused HTTP/1.0 request is answered with an HTTP/1.0 status line."""
    h = make(Recorder())
    h.feed(b"GET /\xc3\xa4\xc3\xb6 HTTP/1.0\r\n\r\n")
    assert h.written.startswith(b"HTTP/1.0 400 Bad Request")


def test_limits_414_and_431(make) -> None:
    """Over-long request lines get 414; too many or too large headers get 431."""
    h = make(Recorder(), limit_request_line=100)
    h.feed(b"GET /" + b"a" * 200 + b" HTTP/1.1\r\n\r\n")
    assert h.responses()[0].status == 414
    h = make(Recorder(), limit_request_line=100)
    h.feed(b"GET /" + b"a" * 200)  # no line end yet: refused as soon as it is too long
    assert h.responses()[0].status == 414
    h = make(Recorder(), limit_request_fields=3)
    h.feed(b"GET / HTTP/1.1\r\n" + b"X: 1\r\n" * 4 + b"\r\n")
    assert h.responses()[0].status == 431
    h = make(Recorder(), max_header_bytes=100)
    h.feed(b"GET / HTTP/1.1\r\nX: " + b"a" * 200 + b"\r\n\r\n")
    assert h.responses()[0].status == 431


@BYTEWISE
def test_bad_chunk_size(make, bytewise: bool) -> None:
    """A bad chunk size answers 400 and closes."""
    h = make(Recorder())
    h.feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", bytewise)
    assert h.responses(["POST"])[0].status == 400
    assert h.closed


def test_app_exception_before_start_is_500_logged_once(make, caplog) -> None:
    """An exception before the response starts gives a 500 and one logged traceback."""

    async def app(scope, receive, send):
        raise RuntimeError("boom")

    h = make(app)
    with caplog.at_level(logging.ERROR):
        h.feed(b"GET / HTTP/1.1\r\n\r\n")
    assert h.responses()[0].status == 500
    records = [r for r in caplog.records if "Exception inside application" in r.getMessage()]
    assert len(records) == 1 and records[0].exc_info is not None


def test_app_exception_after_start_aborts(make) -> None:
    """An exception mid-response aborts the connection; the client never sees a clean end."""

    async def app(scope, receive, send):
        await receive()
        await send(start(200))
        await send(body(b"partial", True))
        raise RuntimeError("boom")

    h = make(app)
    h.feed(b"GET / HTTP/1.1\r\n\r\n")
    assert h.aborted
    assert not h.written.endswith(b"0\r\n\r\n")
    with pytest.raises(h11.RemoteProtocolError):
        h.responses(eof=True)


def test_short_content_length_closes(make) -> None:
    """Fewer bytes than Content-Length promised: the connection closes so the client sees it."""
    h = make(Recorder(start(200, [(b"content-length", b"10")]), body(b"abc")))
    h.feed(b"GET / HTTP/1.1\r\n\r\n")
    assert h.closed
    with pytest.raises(h11.RemoteProtocolError):
        h.responses(eof=True)


def test_app_returning_without_response_is_500(make) -> None:
    """An app that returns without responding gets its client a 500, not a hang."""

    async def app(scope, receive, send):
        await receive()

    h = make(app)
    h.feed(b"GET / HTTP/1.1\r\n\r\n")
    assert h.responses()[0].status == 500


@pytest.mark.parametrize(
    ("messages", "text"),
    [
        ([body(b"x")], "expected 'http.response.start', got 'http.response.body'"),
        ([start(200), start(200)], "expected 'http.response.body', got 'http.response.start'"),
        ([{"type": "http.response.start"}], "Specifying a status code is required"),
        ([{"type": "nope"}], "got 'nope'"),
        ([{"status": 200}], "Message has no type defined"),
        (
            [start(200, [("foo", b"bar")])],
            "Header name 'foo' expected to be `bytes`, but got `<class 'str'>`",
        ),
        (
            [start(200, [(b"foo", True)])],
            "Header value 'True' expected to be `bytes`, but got `<class 'bool'>`",
        ),
    ],
)
def test_invalid_messages(make, messages: list, text: str) -> None:
    """Invalid messages raise ValueError from send (expected X, got Y) and the client gets a 500."""
    app = Recorder(*messages)
    h = make(app)
    h.feed(b"GET / HTTP/1.0\r\n\r\n")
    (error,) = app.send_errors
    assert text in str(error)
    assert h.written.startswith(b"HTTP/1.0 500 Internal Server Error")


def test_http_timeout_503(make) -> None:
    """No response within http_timeout: 503 with Daphne's text."""
    gate = asyncio.Event()

    async def app(scope, receive, send):
        await receive()
        await gate.wait()

    h = make(app, http_timeout=5)
    h.feed(b"GET / HTTP/1.1\r\n\r\n")
    h.advance(4.9)
    assert h.written == b""
    h.advance(0.2)
    response = h.responses()[0]
    assert response.status == 503
    assert b"Application failed to respond within time limit." in response.body


def test_http_timeout_after_start_aborts(make) -> None:
    """A response still streaming when http_timeout fires is aborted, not finished."""
    gate = asyncio.Event()

    async def app(scope, receive, send):
        await receive()
        await send(start(200))
        await send(body(b"x", True))
        await gate.wait()

    h = make(app, http_timeout=5)
    h.feed(b"GET / HTTP/1.1\r\n\r\n")
    h.advance(6)
    assert h.aborted
    assert not h.written.endswith(b"0\r\n\r\n")


def test_application_close_timeout_cancels(make) -> None:
    """An app still running application_close_timeout after its response is cancelled."""
    cancelled: list[bool] = []

    async def app(scope, receive, send):
        await receive()
        await send(start(200, [(b"content-length", b"0")]))
        await send(body())
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    h = make(app, application_close_timeout=3)
    h.feed(b"GET / HTTP/1.1\r\n\r\n")
    assert len(h.context.registry) == 1
    h.advance(2.9)
    assert cancelled == []
    h.advance(0.2)
    assert cancelled == [True]
    assert len(h.context.registry) == 0


def test_finished_instances_leave_the_registry(make) -> None:
    """A finished app instance is dropped from the registry."""
    h = make(Recorder())
    h.feed(b"GET / HTTP/1.1\r\n\r\n" * 3)
    assert len(h.responses()) == 3
    assert len(h.context.registry) == 0


def test_keep_alive_timeout(make) -> None:
    """An idle keep-alive connection is closed after keep_alive_timeout."""
    h = make(Recorder(), keep_alive_timeout=5)
    h.feed(b"GET / HTTP/1.1\r\n\r\n")
    h.advance(3)
    h.feed(b"GET / HTTP/1.1\r\n\r\n")
    h.advance(3)
    assert not h.closed
    h.advance(2.5)
    assert h.closed


def test_access_log_details(make) -> None:
    """A finished response emits ('http', 'complete', details) with Daphne's keys."""
    h = make(Recorder(start(201, [(b"content-length", b"5")]), body(b"hello")))
    h.feed(b"GET /p?q=1 HTTP/1.1\r\n\r\n")
    ((protocol, action, details),) = h.actions
    assert (protocol, action) == ("http", "complete")
    assert details["path"] == "/p?q=1"
    assert details["status"] == 201
    assert details["method"] == "GET"
    assert details["client"] == "127.0.0.1:12345"
    assert details["size"] == 5
    assert details["time_taken"] >= 0


def test_send_is_a_coroutine_function(make) -> None:
    """send and receive are real coroutine functions (async_to_sync(send) works)."""
    app = Recorder()
    h = make(app)
    h.feed(b"GET / HTTP/1.1\r\n\r\n")
    assert asyncio.iscoroutinefunction(app.send)
    assert asyncio.iscoroutinefunction(app.receive)


def test_request_body_limit(make) -> None:
    """Bodies over limit_request_body get 413: declared ones before the app runs, chunked ones as they pass it."""
    app = Recorder()
    h = make(app, limit_request_body=10)
    h.feed(b"POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n")
    assert h.responses(["POST"])[0].status == 413
    assert app.scopes == []
    app = Recorder()
    h = make(app, limit_request_body=10)
    h.feed(
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n"
    )
    assert h.responses(["POST"])[0].status == 413
    assert h.closed
    h = make(Recorder(), limit_request_body=10)
    h.feed(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789")
    assert h.responses(["POST"])[0].status == 200


def test_header_field_size_limit(make) -> None:
    """A single header line over limit_request_field_size gets 431."""
    h = make(Recorder(), limit_request_field_size=50)
    h.feed(b"GET / HTTP/1.1\r\nX: " + b"a" * 60 + b"\r\n\r\n")
    assert h.responses()[0].status == 431


@BYTEWISE
def test_slow_request_head_gets_408(make, bytewise: bool) -> None:
    """A client trickling its request head is cut off after header_read_timeout (slowloris)."""
    h = make(Recorder(), header_read_timeout=10, keep_alive_timeout=100)
    h.feed(b"GET / HTTP/1.1\r\nX-A: 1\r\n", bytewise)
    h.advance(5)
    h.feed(b"X-B: 2\r\n", bytewise)
    assert h.written == b""
    h.advance(5.5)
    assert h.responses()[0].status == 408
    assert h.closed


def test_complete_heads_are_not_timed_out(make) -> None:
    """Requests whose heads arrive in time are unaffected by the head timer."""
    h = make(Recorder(), header_read_timeout=10, keep_alive_timeout=100)
    h.feed(b"GET / HTTP/1.1\r\n")
    h.advance(3)
    h.feed(b"\r\n")
    h.advance(20)
    assert [r.status for r in h.responses()] == [200]
    assert not h.closed


def test_limit_concurrency_sheds_with_503(make) -> None:
    """Beyond limit_concurrency running app instances, new requests get 503 with Retry-After."""
    gate = asyncio.Event()

    async def app(scope, receive, send):
        await receive()
        await gate.wait()
        await send(start(200, [(b"content-length", b"0")]))
        await send(body())

    first = make(app, limit_concurrency=1)
    first.feed(b"GET / HTTP/1.1\r\n\r\n")
    second_transport = Harness.new_transport()
    second = first.factory.buildProtocol(None)
    second.makeConnection(second_transport)
    second.dataReceived(b"GET / HTTP/1.1\r\n\r\n")
    first.spin()
    assert second_transport.value().startswith(b"HTTP/1.1 503 ")
    assert b"\r\nRetry-After: 1\r\n" in second_transport.value()
    first.loop.call_soon(gate.set)
    first.spin()
    assert first.responses()[0].status == 200


def test_not_http_at_all_is_closed_without_an_answer(make) -> None:
    """A first line whose version is not HTTP/x (a broken HTTP/2 preface) gets no HTTP/1.1 400."""
    h = make(Recorder())
    h.feed(b"INVALID CONNECTION PREFACE\r\n\r\n")
    assert h.written == b""
    assert h.closed
    h = make(Recorder())
    h.feed(b"GET /\xc3\xa4 HTTP/1.0\r\n\r\n")
    assert h.written.startswith(b"HTTP/1.0 400 Bad Request")


# -- --body-read-timeout -----------------------------------------------------------------


def test_stalled_body_is_408(make) -> None:
    harness = make(Recorder(), body_read_timeout=2, keep_alive_timeout=100)
    harness.feed(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
    harness.advance(1.9)
    assert b"HTTP/1.1" not in harness.written
    harness.advance(0.2)
    assert harness.written.startswith(b"HTTP/1.1 408 ")
    assert harness.closed


def test_expect_continue_waits_for_the_app_before_the_body_timer(make) -> None:
    """The client waits for 100 Continue, which comes when the app first reads; until
    then the wait is the app's, and no 408 comes."""

    async def slow_to_read(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(5)
        await receive()

    harness = make(slow_to_read, body_read_timeout=2, keep_alive_timeout=100)
    harness.feed(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n"
    )
    harness.advance(4)
    assert harness.written == b""
    assert not harness.closed


def test_http_timeout_zero_is_no_limit(make) -> None:
    """``-t 0`` (Daphne 4.2: no timeout) must not answer 503 at once, nor later."""
    gate: dict[str, asyncio.Event] = {}

    async def slow(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        gate["open"] = asyncio.Event()
        await gate["open"].wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"late"})

    harness = make(slow, http_timeout=0, keep_alive_timeout=1000)
    harness.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    harness.advance(100)
    assert harness.written == b""
    gate["open"].set()
    harness.spin()
    assert harness.written.startswith(b"HTTP/1.1 200 ")
