"""Pure layers: request-head parser, scope builder, response cycle, utils, access log."""

from __future__ import annotations

import datetime
import io
from typing import Any

import pytest
from twisted.web.http_headers import Headers

from daphne._asgi.http_cycle import CycleState, HTTPResponseCycle
from daphne._asgi.scope import RequestFacts, build_http_scope, clean_headers
from daphne._config import ServerConfig
from daphne._errors import ApplicationMessageError, BadRequest
from daphne._wire.http1_parser import parse_request_head
from daphne.access import AccessLogGenerator
from daphne.utils import header_value, import_by_path, parse_x_forwarded_for

# -- parser ---------------------------------------------------------------------


def test_head_fields() -> None:
    """The parser extracts method, target parts, version and framing facts."""
    head = parse_request_head(
        b"PUT /x?y=1 HTTP/1.1\r\nContent-Length: 5\r\nConnection: keep-alive, Close\r\n"
        b"Expect: 100-Continue\r\nUpgrade: WebSocket"
    )
    assert (head.method, head.path, head.query_string, head.http_version) == (
        "PUT",
        b"/x",
        b"y=1",
        "1.1",
    )
    assert head.content_length == 5 and not head.chunked
    assert head.keep_alive is False
    assert head.expect_continue is True
    assert head.upgrade == b"websocket"


def test_whitespace_and_name_case() -> None:
    """Values lose surrounding whitespace; case of names folds."""
    head = parse_request_head(b"GET / HTTP/1.0\r\nX-A: \t v \t\r\nTRANSFER-ENCODING-X: 1")
    assert head.headers == [(b"x-a", b"v"), (b"transfer-encoding-x", b"1")]
    assert head.keep_alive is False  # HTTP/1.0


@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.1\nHost: x",  # after the request line
        b"GET / HTTP/1.1\r\nDummy: x\nContent-Length: 23",  # inside a field value
        b"GET / HTTP/1.1\r\nHost: x\rY: 1",  # a bare CR
    ],
)
def test_bare_lf_or_cr_is_refused(head: bytes) -> None:
    """CRLF only (RFC 9112 §2.2 leniency refused: a proxy could read one field where we read two)."""
    with pytest.raises(BadRequest) as info:
        parse_request_head(head)
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("target", "path", "query"),
    [
        (b"*", b"*", b""),
        (b"http://h:80/a/b?c", b"/a/b", b"c"),
        (b"https://h", b"/", b""),
        (b"h:443", b"h:443", b""),
    ],
)
def test_target_forms(target: bytes, path: bytes, query: bytes) -> None:
    """Asterisk, absolute and authority forms."""
    head = parse_request_head(b"OPTIONS " + target + b" HTTP/1.1")
    assert (head.path, head.query_string) == (path, query)


def test_chunked_and_identical_content_lengths() -> None:
    """Chunked framing; repeated identical Content-Length values are one length."""
    assert parse_request_head(b"POST / HTTP/1.1\r\nTransfer-Encoding: Chunked").chunked
    assert (
        parse_request_head(
            b"POST / HTTP/1.1\r\nContent-Length: 7\r\nContent-Length: 7"
        ).content_length
        == 7
    )


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"GET / HTTP/0.9", 505),
        (b"GET / HTTX/1.1", 400),
        (b"GET  / HTTP/1.1", 400),
        (b"G@T / HTTP/1.1", 400),
    ],
)
def test_parser_errors(head: bytes, status: int) -> None:
    """Bad request lines raise BadRequest with a status hint."""
    with pytest.raises(BadRequest) as info:
        parse_request_head(head)
    assert info.value.status == status


# -- scope ------------------------------------------------------------------------


def facts(**overrides: Any) -> RequestFacts:
    values: dict[str, Any] = {
        "method": "GET",
        "path": b"/%E2%82%AC/x%2Fy",
        "query_string": b"a=%20",
        "http_version": "1.1",
        "headers": [(b"host", b"h")],
        "client": ["1.2.3.4", 5],
        "server": ["5.6.7.8", 80],
        "secure": False,
    }
    values.update(overrides)
    return RequestFacts(**values)


def test_scope_decoding_and_scheme() -> None:
    """path is percent-decoded UTF-8, raw_path and query_string are untouched; TLS gives https."""
    scope = build_http_scope(facts(secure=True), ServerConfig())
    assert scope["path"] == "/€/x/y"
    assert scope["raw_path"] == b"/%E2%82%AC/x%2Fy"
    assert scope["query_string"] == b"a=%20"
    assert scope["scheme"] == "https"
    assert build_http_scope(facts(path=b"/%ff"), ServerConfig())["path"] == "/\ufffd"


def test_clean_headers() -> None:
    """Underscore names are dropped; the last Daphne-Root-Path wins and is removed."""
    headers, root = clean_headers(
        [
            (b"a_b", b"1"),
            (b"daphne-root-path", b"/one"),
            (b"x", b"2"),
            (b"daphne-root-path", b"/t%C3%A9"),
        ],
        "/cfg",
    )
    assert headers == [(b"x", b"2")]
    assert root == "/té"
    same = [(b"x", b"1")]
    assert clean_headers(same, "/cfg") == (same, "/cfg")


def test_proxy_headers_in_scope() -> None:
    """Proxy headers replace client and scheme only when configured; an address that is not
    an IP (bad UTF-8 here) makes the client unknown, never the proxy's own address."""
    config = ServerConfig(
        proxy_forwarded_address_header="X-Real-IP", proxy_forwarded_proto_header="X-Forwarded-Proto"
    )
    scope = build_http_scope(
        facts(headers=[(b"x-real-ip", b"9.9.9.9"), (b"x-forwarded-proto", b"https")]), config
    )
    assert scope["client"] == ["9.9.9.9", 0] and scope["scheme"] == "https"
    scope = build_http_scope(facts(headers=[(b"x-real-ip", b"\xff")]), config)
    assert scope["client"] is None
    scope = build_http_scope(facts(headers=[]), config)
    assert scope["client"] == ["1.2.3.4", 5]


# -- response cycle ------------------------------------------------------------------


class RecordingWriter:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def write_head(self, status, headers, body, more_body):
        self.calls.append(("head", status, headers, body, more_body))

    def write_body(self, body, more_body):
        self.calls.append(("body", body, more_body))

    def fail_response(self, started):
        self.calls.append(("fail", started))


def test_cycle_happy_path() -> None:
    """start is held until the first body; the last body completes the cycle."""
    writer = RecordingWriter()
    cycle = HTTPResponseCycle(writer)
    cycle.handle({"type": "http.response.start", "status": 200, "headers": [(b"a", b"b")]})
    assert writer.calls == []
    cycle.handle({"type": "http.response.body", "body": b"1", "more_body": True})
    cycle.handle({"type": "http.response.body", "body": bytearray(b"2")})
    assert writer.calls == [("head", 200, [(b"a", b"b")], b"1", True), ("body", b"2", False)]
    assert cycle.state is CycleState.COMPLETE
    cycle.handle({"type": "http.response.body", "body": b"ignored"})
    assert len(writer.calls) == 2


@pytest.mark.parametrize(
    ("messages", "started"),
    [
        ([{"type": "http.response.body"}], False),
        (
            [
                {"type": "http.response.start", "status": 200},
                {"type": "http.response.start", "status": 200},
            ],
            False,
        ),
        ([{"type": "http.response.start", "status": "200"}], False),
        (
            [
                {"type": "http.response.start", "status": 200},
                {"type": "http.response.body", "body": "text"},
            ],
            False,
        ),
        (
            [
                {"type": "http.response.start", "status": 200},
                {"type": "http.response.body", "body": b"x", "more_body": True},
                {"type": "websocket.send"},
            ],
            True,
        ),
    ],
)
def test_cycle_rejects_invalid_messages(messages: list, started: bool) -> None:
    """Every invalid message raises ApplicationMessageError and fails the response once."""
    writer = RecordingWriter()
    cycle = HTTPResponseCycle(writer)
    with pytest.raises(ApplicationMessageError) as info:
        for message in messages:
            cycle.handle(message)
    assert "expected" in str(info.value) or "required" in str(info.value)
    assert writer.calls[-1] == ("fail", started)
    assert cycle.state is CycleState.ABORTED


# -- utils ----------------------------------------------------------------------------


def test_parse_x_forwarded_for_cases() -> None:
    """Daphne's documented cases for parse_x_forwarded_for."""
    headers = Headers(
        {
            b"X-Forwarded-For": [b"10.1.2.3"],
            b"X-Forwarded-Port": [b"1234"],
            b"X-Forwarded-Proto": [b"https"],
        }
    )
    assert parse_x_forwarded_for(headers) == (["10.1.2.3", 1234], "https")
    assert parse_x_forwarded_for({b"X-Forwarded-For": [b"10.1.2.3, 10.1.2.4"]}) == (
        ["10.1.2.3", 0],
        None,
    )
    assert parse_x_forwarded_for({b"X-Forwarded-For": [b"::1"], b"X-Forwarded-Port": [b"bad"]}) == (
        ["::1", 0],
        None,
    )
    assert parse_x_forwarded_for({b"X-Forwarded-Port": [b"80"]}, original_addr=["1.1.1.1", 1]) == (
        ["1.1.1.1", 1],
        None,
    )
    assert parse_x_forwarded_for(
        Headers({b"X-Real-IP": [b"1.2.3.4"]}), address_header_name="X-Real-IP"
    ) == (["1.2.3.4", 0], None)
    assert parse_x_forwarded_for({}, address_header_name=None, original_scheme="http") == (
        None,
        "http",
    )


def test_import_by_path_and_header_value() -> None:
    """import_by_path walks dotted attributes; header_value takes the first value."""
    assert import_by_path("daphne.utils:header_value.__name__") == "header_value"
    with pytest.raises(ValueError):
        import_by_path("no.colon")
    assert header_value({b"a": [b"x", b"y"]}, b"a") == "x"
    assert header_value({b"a": b"z"}, b"a") == "z"


# -- access log -------------------------------------------------------------------------


def test_access_log_date_follows_the_clock_to_the_second() -> None:
    """The formatted date is reused within a second and renewed when the second changes."""
    stream = io.StringIO()
    times = iter(
        [
            datetime.datetime(2026, 12, 1, 10, 0, 0, 1),
            datetime.datetime(2026, 12, 1, 10, 0, 0, 999999),
            datetime.datetime(2026, 12, 1, 10, 0, 1, 0),
            datetime.datetime(2026, 12, 2, 10, 0, 1, 0),
        ]
    )
    log = AccessLogGenerator(stream, now=lambda: next(times))
    details = {"path": "/", "status": 200, "method": "GET", "client": "c:1", "size": 1}
    for _ in range(4):
        log("http", "complete", details)
    dates = [line.split("[")[1].split("]")[0] for line in stream.getvalue().splitlines()]
    assert dates == [
        "01/Dec/2026:10:00:00",
        "01/Dec/2026:10:00:00",
        "01/Dec/2026:10:00:01",
        "02/Dec/2026:10:00:01",
    ]


def test_access_log_format() -> None:
    """HTTP and WebSocket lines in Daphne's format."""
    stream = io.StringIO()
    log = AccessLogGenerator(stream, now=lambda: datetime.datetime(2026, 11, 22, 10, 48, 48))
    log(
        "http",
        "complete",
        {
            "path": "/a?x=%ff+y",
            "status": 200,
            "method": "GET",
            "client": "127.0.0.1:50748",
            "time_taken": 0.1,
            "size": 33,
        },
    )
    log(
        "http",
        "complete",
        {
            "path": "/",
            "status": 204,
            "method": "HEAD",
            "client": None,
            "time_taken": 0.1,
            "size": 0,
        },
    )
    log("websocket", "connecting", {"path": "/ws/echo", "client": "127.0.0.1:50300"})
    log("websocket", "other", {"path": "/", "client": None})
    assert stream.getvalue().splitlines() == [
        '127.0.0.1:50748 - - [22/Nov/2026:10:48:48] "GET /a?x=%ff+y" 200 33',
        'None - - [22/Nov/2026:10:48:48] "HEAD /" 204 -',
        '127.0.0.1:50300 - - [22/Nov/2026:10:48:48] "WSCONNECTING /ws/echo" - -',
    ]
