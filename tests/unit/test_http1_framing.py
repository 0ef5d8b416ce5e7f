"""HTTP/1.1 framing exactly as RFC 9112 says, tested as a smuggler would.

Every case sends a request whose framing a lenient parser (or a proxy in front)
could read differently, with a second, pipelined request behind it.  The
server must refuse the first with a 4xx and close, so that the second never
reaches the application: where two parsers disagree on where a request ends,
that second request is the one smuggled past the proxy.

Covered through :class:`harness.Harness` (the real ``HTTP1Connection`` on an
in-memory transport); ``tests/integration/test_http1_framing_socket.py``
repeats key cases on a real socket.
"""

from __future__ import annotations

import pytest
from harness import Harness
from memory_apps import Recorder

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

CASES = {
    # Line endings in the head: CRLF only.
    "bare-lf-after-request-line": b"GET / HTTP/1.1\nHost: x\r\n\r\n",
    "bare-lf-inside-a-field": (
        b"POST / HTTP/1.1\r\nHost: x\r\nDummy: x\nContent-Length: 35\r\n\r\n"
    ),
    "bare-lf-only-request": b"GET / HTTP/1.1\nHost: x\n\n",
    "bare-cr-inside-a-field": b"GET / HTTP/1.1\r\nHost: x\rContent-Length: 35\r\n\r\n",
    # Field syntax.
    "space-before-colon": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length : 35\r\n\r\n",
    "obs-fold": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  continued\r\n\r\n",
    "nul-in-value": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    # Body framing.
    "cl-and-te": (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
    "te-not-final-chunked": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"
    ),
    "te-chunked-twice": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
    "conflicting-cl": (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 35\r\n\r\n"
    ),
    "cl-not-digits": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +35\r\n\r\n",
    # Chunked lines: CRLF only, and the chunk-ext grammar.
    "chunk-last-with-bare-lf": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0;\n\n"
    ),
    "chunk-size-bare-lf": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n"
    ),
    "chunk-data-end-bare-lf": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n"
    ),
    "chunk-size-trailing-space": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n"
    ),
    "chunk-size-leading-space": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n 3\r\nabc\r\n0\r\n\r\n"
    ),
    "chunk-ext-bad-name": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a b\r\nabc\r\n0\r\n\r\n"
    ),
    "chunk-ext-control-byte": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;a=\x01\r\nabc\r\n0\r\n\r\n"
    ),
    "chunk-ext-unterminated-quote": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'3;a="b\r\nabc\r\n0\r\n\r\n'
    ),
    "chunk-size-0x-prefix": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n"
    ),
    "chunk-trailer-bare-lf": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\n\r\n"
    ),
    "chunk-trailer-bad-name": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX T: 1\r\n\r\n"
    ),
    # Request line.
    "double-space": b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
    "absolute-form-userinfo": b"GET http://user@x/ HTTP/1.1\r\nHost: x\r\n\r\n",
    "absolute-form-other-scheme": b"GET ftp://x/ HTTP/1.1\r\nHost: x\r\n\r\n",
}


@pytest.mark.parametrize("data", CASES.values(), ids=CASES.keys())
def test_ambiguous_framing_is_refused_and_nothing_behind_it_is_served(data: bytes) -> None:
    app = Recorder()
    harness = Harness(app)
    try:
        harness.feed(data + SMUGGLED)
        written = harness.written
        assert written.startswith(b"HTTP/1.1 400 "), written[:80]
        assert written.count(b"HTTP/1.1 ") == 1, written
        assert harness.closed
        assert all(scope["path"] != "/smuggled" for scope in app.scopes)
    finally:
        harness.close()


ACCEPTED = {
    # Leniency the RFC allows where no desync is possible: kept.
    "chunk-ext-token": b"3;name=value\r\nabc\r\n0\r\n\r\n",
    "chunk-ext-quoted": b'3 ; name = "a \\" b"\r\nabc\r\n0\r\n\r\n',
    "chunk-ext-several": b'3;a;b=1\r\nabc\r\n0;c=""\r\n\r\n',
    "chunk-size-upper-hex": b"A\r\n0123456789\r\n0\r\n\r\n",
    "trailer-fields": b"3\r\nabc\r\n0\r\nX-Trailer: 1\r\nX-Other:2\r\n\r\n",
}


@pytest.mark.parametrize("body", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_valid_chunked_bodies_are_read_and_the_next_request_served(body: bytes) -> None:
    app = Recorder()
    harness = Harness(app)
    try:
        harness.feed(
            b"POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + body
            + SMUGGLED
        )
        assert [scope["path"] for scope in app.scopes] == ["/first", "/smuggled"]
        assert [r.status for r in harness.responses(["POST", "GET"])] == [200, 200]
        assert not harness.closed
    finally:
        harness.close()


def test_absolute_form_target_replaces_host() -> None:
    """RFC 9112 §3.2.2: the authority of an absolute-form target wins over Host."""
    app = Recorder()
    harness = Harness(app)
    try:
        harness.feed(b"GET http://real.example:8080/p?q=1 HTTP/1.1\r\nHost: other\r\n\r\n")
        scope = app.scopes[0]
        assert scope["path"] == "/p" and scope["query_string"] == b"q=1"
        hosts = [value for name, value in scope["headers"] if name == b"host"]
        assert hosts == [b"real.example:8080"]
    finally:
        harness.close()


def test_leading_empty_lines_are_ignored() -> None:
    """RFC 9112 §2.2: empty lines before a request line are skipped, not an error."""
    app = Recorder()
    harness = Harness(app)
    try:
        harness.feed(b"\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        assert [scope["path"] for scope in app.scopes] == ["/a"]
    finally:
        harness.close()


def test_a_1xx_final_status_is_a_500() -> None:
    """An app that answers 1xx as its final response gets an error, not a hung client."""
    app = Recorder(
        {"type": "http.response.start", "status": 101, "headers": []},
        {"type": "http.response.body", "body": b""},
    )
    harness = Harness(app)
    try:
        harness.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert harness.written.startswith(b"HTTP/1.1 500 ")
        assert b"101" not in harness.written.split(b"\r\n", 1)[0]
        assert app.send_errors and "final status" in str(app.send_errors[0])
    finally:
        harness.close()
