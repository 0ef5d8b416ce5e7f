"""Protocol selection (``daphne._wire.switch``): first bytes, ALPN and ``Upgrade: h2c``."""

from __future__ import annotations

import base64

import pytest
from harness import Harness
from memory_apps import Recorder

from daphne._wire.http1_parser import parse_request_head
from daphne._wire.http2 import PREFACE
from daphne._wire.switch import Choice, first_bytes, h2c_upgradable


@pytest.mark.parametrize(
    ("pending", "negotiated", "h2c", "expected"),
    [
        (b"GET / HTTP/1.1\r\n", None, True, Choice.HTTP1),
        (b"GET / HTTP/1.1\r\n", b"h2", True, Choice.HTTP2),  # ALPN decides, whatever follows
        (b"", b"h2", False, Choice.HTTP2),
        (PREFACE, None, True, Choice.HTTP2),
        (PREFACE + b"\x00\x00", None, True, Choice.HTTP2),
        (PREFACE[:5], None, True, Choice.UNDECIDED),
        (PREFACE, None, False, Choice.HTTP1),  # --no-h2c
        (PREFACE[:5] + b"X", None, True, Choice.HTTP1),
        (b"", None, True, Choice.UNDECIDED),
        (PREFACE, b"http/1.1", True, Choice.HTTP2),
    ],
)
def test_first_bytes(pending: bytes, negotiated: bytes | None, h2c: bool, expected: Choice) -> None:
    assert first_bytes(pending, negotiated, h2c) is expected


def _head(extra: bytes, version: bytes = b"1.1") -> object:
    return parse_request_head(b"GET / HTTP/" + version + b"\r\nHost: x\r\n" + extra)


SETTINGS = base64.urlsafe_b64encode(b"\x00\x03\x00\x00\x00\x64").rstrip(b"=")
GOOD = b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: " + SETTINGS


def test_h2c_upgradable_when_everything_is_there() -> None:
    assert h2c_upgradable(_head(GOOD), h2c=True, secure=False)


@pytest.mark.parametrize(
    ("extra", "h2c", "secure", "version"),
    [
        (GOOD, False, False, b"1.1"),  # --no-h2c
        (GOOD, True, True, b"1.1"),  # never over TLS (RFC 7540 §3.3 uses ALPN)
        (GOOD, True, False, b"1.0"),
        (GOOD.replace(b"Upgrade, HTTP2-Settings", b"Upgrade"), True, False, b"1.1"),
        (GOOD.replace(SETTINGS, b"!!!"), True, False, b"1.1"),
        (GOOD.replace(SETTINGS, base64.urlsafe_b64encode(b"12345")), True, False, b"1.1"),
        (GOOD + b"\r\nContent-Length: 70000", True, False, b"1.1"),  # body too big: stays 1.1
        (GOOD + b"\r\nTransfer-Encoding: chunked", True, False, b"1.1"),
    ],
)
def test_h2c_not_upgradable(extra: bytes, h2c: bool, secure: bool, version: bytes) -> None:
    assert not h2c_upgradable(_head(extra, version), h2c=h2c, secure=secure)


UPGRADE_REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n" + GOOD + b"\r\n\r\n"


@pytest.mark.parametrize(
    ("config", "upgraded"),
    [
        ({}, False),  # the default: Upgrade: h2c is a smuggling vector, so it is opt-in
        ({"h2c_upgrade": True}, True),
        ({"h2c_upgrade": True, "h2c": False}, False),  # --no-h2c: no cleartext HTTP/2 at all
    ],
)
def test_h2c_upgrade_is_opt_in(config: dict, upgraded: bool) -> None:
    """Without h2c_upgrade the request is served as plain HTTP/1.1, the Upgrade ignored."""
    app = Recorder()
    harness = Harness(app, **config)
    try:
        harness.feed(UPGRADE_REQUEST)
        if upgraded:
            assert harness.written.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
        else:
            (response,) = harness.responses()
            assert (response.status, response.body) == (200, b"OK")
            assert app.scopes[0]["http_version"] == "1.1"
    finally:
        harness.close()


def test_prior_knowledge_stays_on_by_default() -> None:
    """Only the Upgrade is opt-in: the HTTP/2 preface is still answered with HTTP/2 SETTINGS."""
    harness = Harness(Recorder())
    try:
        harness.feed(PREFACE + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        assert harness.written[3:4] == b"\x04"  # a SETTINGS frame, not an HTTP/1.1 status line
    finally:
        harness.close()
