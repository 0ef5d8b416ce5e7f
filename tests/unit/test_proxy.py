"""Trusted proxies, X-Forwarded-For chains and RFC 7239 Forwarded."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daphne._asgi.proxy import TrustedProxies, client_from_chain, parse_forwarded
from daphne._asgi.scope import RequestFacts, build_http_scope
from daphne._config import ServerConfig


def scope_for(headers: list[tuple[bytes, bytes]], peer: str = "10.0.0.2", **config: Any) -> dict:
    facts = RequestFacts("GET", b"/", b"", "1.1", headers, [peer, 5555], ["10.0.0.1", 80], False)
    options = {
        "proxy_forwarded_address_header": "X-Forwarded-For",
        "proxy_forwarded_port_header": "X-Forwarded-Port",
        "proxy_forwarded_proto_header": "X-Forwarded-Proto",
        **config,
    }
    return build_http_scope(facts, ServerConfig(**options))


def test_trusted_set() -> None:
    """IPs and CIDRs, IPv4 and IPv6; '*' trusts everyone; junk is never trusted."""
    trusted = TrustedProxies("10.0.0.0/8, 192.168.1.1, ::1")
    assert "10.9.9.9" in trusted and "192.168.1.1" in trusted and "::1" in trusted
    assert "192.168.1.2" not in trusted and "not-an-ip" not in trusted
    assert "8.8.8.8" in TrustedProxies("*")
    with pytest.raises(ValueError):
        TrustedProxies("10.0.0.0/33")
    with pytest.raises(ValueError, match="forwarded_allow_ips"):
        ServerConfig(forwarded_allow_ips="nonsense")


def test_chain_right_most_untrusted() -> None:
    """The client is the right-most hop that is not a trusted proxy."""
    trusted = TrustedProxies("10.0.0.0/8")
    assert client_from_chain(["1.1.1.1", "2.2.2.2", "10.0.0.5"], trusted) == "2.2.2.2"
    assert client_from_chain(["10.0.0.7", "10.0.0.5"], trusted) == "10.0.0.7"
    assert client_from_chain(["1.1.1.1", "2.2.2.2"], TrustedProxies("*")) == "1.1.1.1"
    assert client_from_chain(["bogus", "2.2.2.2"], trusted) is None


def test_untrusted_peer_headers_ignored() -> None:
    """Proxy headers from a peer outside forwarded_allow_ips change nothing."""
    scope = scope_for(
        [(b"x-forwarded-for", b"1.2.3.4"), (b"x-forwarded-proto", b"https")],
        forwarded_allow_ips="127.0.0.1",
    )
    assert scope["client"] == ["10.0.0.2", 5555] and scope["scheme"] == "http"
    scope = scope_for(
        [(b"x-forwarded-for", b"1.2.3.4"), (b"x-forwarded-proto", b"https")],
        forwarded_allow_ips="10.0.0.0/24",
    )
    assert scope["client"] == ["1.2.3.4", 0] and scope["scheme"] == "https"


def test_forwarded_header() -> None:
    """RFC 7239: for= (quoted IPv6 with port), proto=; the last untrusted element wins."""
    scope = scope_for([(b"forwarded", b'for="[2001:db8::1]:4711";proto=https;host=example.com')])
    assert scope["client"] == ["2001:db8::1", 4711] and scope["scheme"] == "https"
    scope = scope_for(
        [(b"forwarded", b"for=1.1.1.1, for=2.2.2.2;proto=http"), (b"forwarded", b"for=10.0.0.9")],
        forwarded_allow_ips="10.0.0.0/8",
    )
    assert scope["client"] == ["2.2.2.2", 0] and scope["scheme"] == "http"
    scope = scope_for([(b"forwarded", b"for=unknown"), (b"x-forwarded-for", b"3.3.3.3")])
    assert scope["client"] == ["3.3.3.3", 0]


def test_parse_forwarded_elements() -> None:
    """Elements split on commas, pairs on semicolons, keys case-insensitive, quotes removed."""
    assert parse_forwarded([b'For=1.2.3.4;Proto=https, for="[::1]"']) == [
        {"for": "1.2.3.4", "proto": "https"},
        {"for": "[::1]"},
    ]


@given(st.binary(max_size=80), st.binary(max_size=80))
def test_any_header_values_are_safe(forwarded: bytes, xff: bytes) -> None:
    """Arbitrary header values never raise; the client is either an IP pair or the peer."""
    scope = scope_for([(b"forwarded", forwarded), (b"x-forwarded-for", xff)])
    host, port = scope["client"]
    assert isinstance(host, str) and isinstance(port, int)
