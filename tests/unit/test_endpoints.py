"""Endpoint description strings built from the CLI's address options, and fd: parsing."""

from __future__ import annotations

import socket

import pytest

from daphne._process.listen import _parse_fd_description, socket_family, split_description
from daphne.endpoints import build_endpoint_description_strings as build


def test_tcp() -> None:
    """Host and port give one tcp: string."""
    assert build(host="127.0.0.1", port=8000) == ["tcp:port=8000:interface=127.0.0.1"]


@pytest.mark.parametrize("host", ["::1", "[::1]"])
def test_ipv6_colons_escaped_brackets_removed(host: str) -> None:
    """IPv6 hosts work with or without brackets; colons are escaped for Twisted."""
    assert build(host=host, port=80) == [r"tcp:port=80:interface=\:\:1"]


def test_unix_and_fd() -> None:
    """unix and fd strings, in tcp, unix, fd order; fd 0 is honoured."""
    assert build(unix_socket="/tmp/x.sock") == ["unix:/tmp/x.sock"]
    assert build(file_descriptor=0) == ["fd:fileno=0"]
    assert build(host="h", port=1, unix_socket="/s", file_descriptor=5) == [
        "tcp:port=1:interface=h",
        "unix:/s",
        "fd:fileno=5",
    ]


@pytest.mark.parametrize("kwargs", [{"host": "127.0.0.1"}, {"port": 8000}])
def test_half_tcp_is_an_error(kwargs: dict) -> None:
    """Only one of host and port is a ValueError with Daphne's message."""
    with pytest.raises(ValueError, match=r"TCP binding requires both port and host kwargs\."):
        build(**kwargs)


def test_nothing() -> None:
    """No options, no endpoints."""
    assert build() == []


@pytest.mark.parametrize(
    ("family", "address"),
    [(socket.AF_INET, ("127.0.0.1", 0)), (socket.AF_UNIX, None)],
)
def test_socket_family_detected(family: int, address: object, tmp_path) -> None:
    """The family of an open socket is read without closing it."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind(address if address is not None else str(tmp_path / "s"))
        assert socket_family(sock.fileno()) == family
        sock.getsockname()  # still open
    finally:
        sock.close()


def test_socket_family_ipv6() -> None:
    """IPv6 sockets are recognised too (skipped without IPv6 support)."""
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        pytest.skip("no IPv6 support")
    with sock:
        assert socket_family(sock.fileno()) == socket.AF_INET6


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fd:fileno=3", (3, None, {})),
        ("fd:3", (3, None, {})),
        ("fd:fileno=4:domain=INET6", (4, socket.AF_INET6, {})),
        ("fd:fileno=4:domain=unix", (4, socket.AF_UNIX, {})),
        (
            "fd:fileno=5:privateKey=/k\\:1.pem:certKey=c.pem",
            (5, None, {"privateKey": "/k:1.pem", "certKey": "c.pem"}),
        ),
    ],
)
def test_fd_description(text: str, expected: tuple) -> None:
    """fd: descriptions accept fileno, an optional domain and TLS options (for workers)."""
    assert _parse_fd_description(text) == expected


@pytest.mark.parametrize(
    "text", ["fd:", "fd:fileno=x", "fd:fileno=3:domain=IPX", "fd:fileno=3:foo=1"]
)
def test_bad_fd_description(text: str) -> None:
    """Malformed fd: descriptions are ValueErrors."""
    with pytest.raises(ValueError):
        _parse_fd_description(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tcp:8000", ("tcp", ["8000"], {})),
        ("tcp:port=80:interface=\\:\\:1", ("tcp", [], {"port": "80", "interface": "::1"})),
        ("unix:/run/d.sock:mode=660", ("unix", ["/run/d.sock"], {"mode": "660"})),
        ("ssl:443:privateKey=k.pem", ("ssl", ["443"], {"privateKey": "k.pem"})),
    ],
)
def test_split_description(text: str, expected: tuple) -> None:
    """Endpoint strings split as Twisted reads them, backslash escaping colons."""
    assert split_description(text) == expected
