"""--access-log-format and --log-json access lines (daphne.access), and the details they read."""

from __future__ import annotations

import datetime
import io
import json
import logging
import os
from typing import Any

import pytest
from harness import Harness
from hypothesis import given
from hypothesis import strategies as st
from memory_apps import Recorder

from daphne.access import _ATOMS, _DEFAULT_FORMAT, AccessLogGenerator, _compile_format, log_safe

NOW = datetime.datetime(2026, 11, 22, 18, 44, 35)

HTTP = {
    "path": "/a/b?x=1&y=2",
    "status": 200,
    "method": "POST",
    "client": "10.0.0.1:5000",
    "time_taken": 0.0123456,
    "size": 1234,
    "http_version": "1.1",
    "request_headers": [
        (b"host", b"example.com"),
        (b"user-agent", b"curl/8.0"),
        (b"referer", b"https://r.example/"),
        (b"x-multi", b"1"),
        (b"x-multi", b"2"),
    ],
    "response_headers": [(b"Content-Type", b"text/plain"), (b"X-Id", b"42")],
}

WS = {
    "path": "/ws/chat",
    "client": "10.0.0.2:6000",
    "query_string": b"room=1",
    "http_version": "1.1",
    "request_headers": [(b"user-agent", b"ws-client")],
    "time_taken": 2.5,
}


def log_lines(*calls: tuple[str, str, dict[str, Any]], **options: Any) -> list[str]:
    stream = io.StringIO()
    log = AccessLogGenerator(stream, now=lambda: NOW, **options)
    for call in calls:
        log(*call)
    return stream.getvalue().splitlines()


# -- the default stays Daphne 4.2's line ------------------------------------------------


def test_default_line_is_unchanged_by_the_extra_details() -> None:
    """New detail keys do not change the default output, byte for byte."""
    assert log_lines(
        ("http", "complete", HTTP),
        ("http", "complete", {**HTTP, "client": None, "size": 0}),
        ("websocket", "connected", WS),
        ("websocket", "other", WS),
    ) == [
        '10.0.0.1:5000 - - [22/Nov/2026:18:44:35] "POST /a/b?x=1&y=2" 200 1234',
        'None - - [22/Nov/2026:18:44:35] "POST /a/b?x=1&y=2" 200 -',
        '10.0.0.2:6000 - - [22/Nov/2026:18:44:35] "WSCONNECT /ws/chat" - -',
    ]


def test_default_format_string_matches_the_default_line() -> None:
    """The documented equivalent format gives the same line (when the client is known)."""
    calls = [("http", "complete", HTTP)] + [
        ("websocket", action, WS)
        for action in ("connecting", "connected", "rejected", "disconnected")
    ]
    assert log_lines(*calls, format=_DEFAULT_FORMAT) == log_lines(*calls)


def test_write_entry_overrides_still_see_default_lines() -> None:
    """Subclasses overriding write_entry (Daphne's hook) keep working."""
    seen: list[dict[str, Any]] = []

    class Mine(AccessLogGenerator):
        def write_entry(self, **kwargs: Any) -> None:  # type: ignore[override]
            seen.append(kwargs)

    Mine(io.StringIO(), now=lambda: NOW)("http", "complete", HTTP)
    assert seen == [
        {
            "host": "10.0.0.1:5000",
            "date": NOW,
            "request": "POST /a/b?x=1&y=2",
            "status": 200,
            "length": 1234,
        }
    ]


# -- atoms ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("atom", "http", "websocket"),
    [
        ("h", "10.0.0.1:5000", "10.0.0.2:6000"),
        ("l", "-", "-"),
        ("u", "-", "-"),
        ("t", "[22/Nov/2026:18:44:35]", "[22/Nov/2026:18:44:35]"),
        ("r", "POST /a/b?x=1&y=2", "WSDISCONNECT /ws/chat"),
        ("m", "POST", "WSDISCONNECT"),
        ("U", "/a/b", "/ws/chat"),
        ("q", "x=1&y=2", "room=1"),
        ("H", "HTTP/1.1", "HTTP/1.1"),
        ("s", "200", "-"),
        ("b", "1234", "-"),
        ("B", "1234", "0"),
        ("D", "12345", "2500000"),
        ("M", "12", "2500"),
        ("T", "0", "2"),
        ("f", "https://r.example/", "-"),
        ("a", "curl/8.0", "ws-client"),
        ("p", str(os.getpid()), str(os.getpid())),
    ],
)
def test_atoms(atom: str, http: str, websocket: str) -> None:
    """Every documented atom, for an HTTP response and a WebSocket action."""
    assert atom in _ATOMS
    lines = log_lines(
        ("http", "complete", HTTP), ("websocket", "disconnected", WS), format=f"%({atom})s"
    )
    assert lines == [http, websocket]


def test_every_atom_is_tested() -> None:
    assert set(_ATOMS) == set("hlutrmUqHsbBDMTfap")


def test_header_atoms() -> None:
    """{Name}i / {Name}o: any case, repeated fields joined, '-' when absent."""
    line = log_lines(
        ("http", "complete", HTTP),
        format="%({X-Multi}i)s|%({HOST}i)s|%({content-type}o)s|%({x-id}o)s|%({X-None}i)s|%({Host}o)s",
    )
    assert line == ["1, 2|example.com|text/plain|42|-|-"]


def test_missing_details_give_dashes() -> None:
    """An action_logger caller with only Daphne's keys still gets a line."""
    minimal = {"path": "/", "status": 204, "method": "GET", "client": None, "size": 0}
    (line,) = log_lines(
        ("http", "complete", minimal), format="%(h)s %(H)s %(D)s %(a)s %(b)s %(q)s|"
    )
    assert line == "- - - - - |"


def test_literal_text_and_percent() -> None:
    (line,) = log_lines(("http", "complete", HTTP), format='100%% "%(s)s" done')
    assert line == '100% "200" done'


def test_control_characters_are_escaped() -> None:
    """A header value or a decoded WebSocket path cannot break the line."""
    details = {**WS, "path": "/a\nb", "request_headers": [(b"user-agent", b"x\x1by\x7f")]}
    (line,) = log_lines(("websocket", "connected", details), format="%(r)s %(a)s")
    assert line == "WSCONNECT /a\\x0ab x\\x1by\\x7f"


_ALL_ATOMS_AND_HEADERS = " ".join(f"%({name})s" for name in _ATOMS) + " %({User-Agent}i)s"
#: What no log line may carry raw: C0, DEL, C1 (U+0085 NEL) and U+2028/U+2029.
_UNSAFE = "".join(chr(code) for code in [*range(0x20), *range(0x7F, 0xA0)]) + "\u2028\u2029"
_LOG_FORMATS = {"default": {}, "format": {"format": _ALL_ATOMS_AND_HEADERS}, "json": {"json": True}}


def assert_log_safe(text: str) -> None:
    """One line, ending in its newline, and nothing unsafe before it."""
    assert text.endswith("\n") and text.count("\n") == 1, repr(text)
    assert not any(char in _UNSAFE for char in text[:-1]), repr(text)


@pytest.mark.parametrize("kind", list(_LOG_FORMATS))
def test_no_raw_control_characters_in_any_format(kind: str) -> None:
    """Daphne's default line too: a decoded WebSocket path, an HTTP/2 :path or :method."""
    hostile = "/a\nb\r\x1b[31m\x00\x7f\x85\u2028\u2029c"
    calls = [
        ("http", "complete", {**HTTP, "path": hostile, "method": "G\x01T"}),
        ("websocket", "connecting", {**WS, "path": hostile}),
        ("http", "complete", {**HTTP, "client": "1.2.3.4\n:5"}),
        (
            "http",
            "complete",
            {**HTTP, "request_headers": [(b"user-agent", "x\u0085y\u2028".encode())]},
        ),
    ]
    for call in calls:
        stream = io.StringIO()
        AccessLogGenerator(stream, now=lambda: NOW, **_LOG_FORMATS[kind])(*call)
        assert_log_safe(stream.getvalue())


def test_default_line_escapes_as_xnn() -> None:
    """The escapes are readable: \\xNN (\\uNNNN for the two Unicode separators)."""
    assert log_lines(
        ("websocket", "connecting", {**WS, "path": "/a\nb\x1b\x85\u2028"}),
        ("http", "complete", {**HTTP, "path": "/p\x7f", "method": "G\x01T"}),
    ) == [
        '10.0.0.2:6000 - - [22/Nov/2026:18:44:35] "WSCONNECTING /a\\x0ab\\x1b\\x85\\u2028" - -',
        '10.0.0.1:5000 - - [22/Nov/2026:18:44:35] "G\\x01T /p\\x7f" 200 1234',
    ]


def test_write_entry_escapes_every_text_field() -> None:
    """write_entry (Daphne's public formatting method) escapes what its callers pass."""
    stream = io.StringIO()
    AccessLogGenerator(stream).write_entry(
        host="h\n", date=NOW, request="GET /\r\n", ident="i\t", user="u\x1b"
    )
    assert (
        stream.getvalue() == 'h\\x0a i\\x09 u\\x1b [22/Nov/2026:18:44:35] "GET /\\x0d\\x0a" - -\n'
    )


def test_utf8_header_values_stay_readable() -> None:
    """UTF-8 header bytes are logged as text ("Å" is C3 85: not an escaped NEL)."""
    (line,) = log_lines(
        ("http", "complete", {**HTTP, "request_headers": [(b"user-agent", "Å".encode())]}),
        format="%(a)s",
    )
    assert line == "Å"
    (line,) = log_lines(
        ("http", "complete", {**HTTP, "request_headers": [(b"user-agent", b"a\x85b")]}),
        format="%(a)s",
    )
    assert line == "a\\x85b"  # not UTF-8: latin-1, and the lone NEL escaped


@given(text=st.text(max_size=60))
def test_log_safe_law(text: str) -> None:
    """Whatever the text: nothing unsafe remains, and safe text comes back unchanged."""
    escaped = log_safe(text)
    assert not any(char in _UNSAFE for char in escaped)
    if not any(char in _UNSAFE for char in text):
        assert escaped is text
    assert log_safe(escaped) == escaped


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("%(zz)s", "unknown atom %(zz)s"),
        ("%(h)d", "bad '%' at position 0"),
        ("50% off", "bad '%' at position 2"),
        ("%({}i)s", "unknown atom"),
        ("%({X}x)s", "unknown atom"),
    ],
)
def test_bad_formats(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        AccessLogGenerator(io.StringIO(), format=text)


def test_format_and_json_exclude_each_other() -> None:
    with pytest.raises(ValueError):
        AccessLogGenerator(io.StringIO(), format="%(h)s", json=True)


# -- JSON -------------------------------------------------------------------------------


def test_json_lines() -> None:
    """One object per line, fields named after the atoms."""
    http, ws = (
        json.loads(line)
        for line in log_lines(("http", "complete", HTTP), ("websocket", "rejected", WS), json=True)
    )
    assert http.pop("time") == NOW.astimezone().isoformat(timespec="milliseconds")
    assert http == {
        "client": "10.0.0.1:5000",
        "request": "POST /a/b?x=1&y=2",
        "method": "POST",
        "path": "/a/b",
        "query": "x=1&y=2",
        "protocol": "HTTP/1.1",
        "status": 200,
        "size": 1234,
        "duration_ms": 12.346,
        "referer": "https://r.example/",
        "user_agent": "curl/8.0",
    }
    ws.pop("time")
    assert ws == {
        "client": "10.0.0.2:6000",
        "request": "WSREJECT /ws/chat",
        "method": "WSREJECT",
        "path": "/ws/chat",
        "query": "room=1",
        "protocol": "HTTP/1.1",
        "status": None,
        "size": None,
        "duration_ms": 2500.0,
        "referer": None,
        "user_agent": "ws-client",
    }


# -- never raises -----------------------------------------------------------------------

_ALL_ATOMS = " ".join(f"%({name})s" for name in _ATOMS) + " %({X-A}i)s %({X-B}o)s"
_bytes = st.binary(max_size=40)
_text = st.text(max_size=40)


@given(
    path=_text,
    client=st.one_of(st.none(), _text),
    method=_text,
    status=st.one_of(st.none(), st.integers(0, 999)),
    size=st.one_of(st.none(), st.integers(0, 2**40)),
    taken=st.one_of(st.none(), st.floats(0, 1e6)),
    request_headers=st.lists(st.tuples(_bytes, _bytes), max_size=5),
    response_headers=st.lists(st.tuples(_bytes, _bytes), max_size=5),
    websocket=st.booleans(),
)
def test_formatter_never_raises(
    path: str,
    client: str | None,
    method: str,
    status: int | None,
    size: int | None,
    taken: float | None,
    request_headers: list[tuple[bytes, bytes]],
    response_headers: list[tuple[bytes, bytes]],
    websocket: bool,
) -> None:
    """Arbitrary details give exactly one line per action, in both formats."""
    details = {
        "path": path,
        "client": client,
        "method": method,
        "status": status,
        "size": size,
        "time_taken": taken,
        "http_version": "1.1",
        "request_headers": request_headers,
        "response_headers": response_headers,
    }
    call = ("websocket", "connected", details) if websocket else ("http", "complete", details)
    for options in ({"format": _ALL_ATOMS}, {"json": True}):
        stream = io.StringIO()
        AccessLogGenerator(stream, now=lambda: NOW, **options)(*call)
        text = stream.getvalue()
        assert text.endswith("\n") and text.count("\n") == 1
        if "json" in options:
            assert isinstance(json.loads(text), dict)


@given(st.text(max_size=30))
def test_compile_never_raises_anything_but_value_error(text: str) -> None:
    try:
        parts = _compile_format(text)
    except ValueError:
        return
    assert all(isinstance(part, str) or callable(part) for part in parts)


# -- the details the protocols pass --------------------------------------------------


def test_http1_details_feed_the_formatter() -> None:
    """HTTP/1.1 'complete' carries the version and both header lists, keeping Daphne's keys."""
    app = Recorder(
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [(b"content-length", b"2"), (b"X-Id", b"7")],
        },
        {"type": "http.response.body", "body": b"OK"},
    )
    harness = Harness(app)
    try:
        harness.feed(b"GET /p?q=1 HTTP/1.1\r\nHost: h\r\nUser-Agent: ua/1\r\n\r\n")
        ((protocol, action, details),) = harness.actions
    finally:
        harness.close()
    assert (protocol, action) == ("http", "complete")
    assert {"client", "path", "status", "size", "method", "time_taken"} <= set(details)
    assert details["http_version"] == "1.1"
    (line,) = log_lines(
        (protocol, action, details), format="%(r)s %(H)s %(s)s %(b)s %(a)s %({x-id}o)s %(D)s"
    )
    assert line == "GET /p?q=1 HTTP/1.1 201 2 ua/1 7 0"


def test_http1_error_page_details() -> None:
    """A server-made error page (no app headers) still logs cleanly."""

    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    harness = Harness(broken)
    try:
        harness.feed(b"GET / HTTP/1.0\r\n\r\n")
        ((_, _, details),) = harness.actions
    finally:
        harness.close()
    (line,) = log_lines(("http", "complete", details), format="%(s)s %(H)s %({content-type}o)s")
    assert line == "500 HTTP/1.0 -"


def test_websocket_details_feed_the_formatter() -> None:
    """WebSocket actions carry the query, version, headers and time since the handshake."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()

    harness = Harness(app)
    try:
        harness.feed(
            b"GET /chat?x=1 HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            b"User-Agent: wsc\r\n\r\n"
        )
        harness.advance(3)
        harness.lose_connection()
        actions = list(harness.actions)
    finally:
        harness.close()
    lines = log_lines(*actions, format="%(r)s %(q)s %(H)s %(a)s %(T)s")
    assert lines == [
        "WSCONNECTING /chat x=1 HTTP/1.1 wsc 0",
        "WSCONNECT /chat x=1 HTTP/1.1 wsc 0",
        "WSDISCONNECT /chat x=1 HTTP/1.1 wsc 3",
    ]


def test_printable_text_is_safe_text() -> None:
    """The fast path's premise: every character the log escapes is not printable."""
    assert not any(char.isprintable() for char in _UNSAFE)


def test_runserver_log_uses_the_same_rule(caplog: pytest.LogCaptureFixture) -> None:
    """manage.py runserver's request log (Django style) escapes the same characters."""
    pytest.importorskip("django")
    from daphne.management.commands.runserver import Command

    command = Command()
    with caplog.at_level(logging.DEBUG, logger="django.channels.server"):
        command.log_action("websocket", "connected", {"path": "/a\nb\x1b", "client": "1.2.3.4:5"})
        command.log_action("http", "complete", {**HTTP, "path": "/p\r\nq"})
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2, messages
    assert "/a\\x0ab\\x1b" in messages[0] and "/p\\x0d\\x0aq" in messages[1], messages
    assert not any(char in _UNSAFE for message in messages for char in message)
