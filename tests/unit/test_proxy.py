"""Trusted proxies, X-Forwarded-For chains and RFC 7239 Forwarded."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daphne._asgi.proxy import TrustedProxies, client_from_chain, parse_forwarded
from daphne._asgi.scope import RequestFacts, build_http_scope, build_websocket_scope
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
    """The client is the right-most hop that is not a trusted proxy; a hop that is no
    address is never trusted, so it decides (None) only when the walk reaches it."""
    trusted = TrustedProxies("10.0.0.0/8")
    assert client_from_chain(["1.1.1.1", "2.2.2.2", "10.0.0.5"], trusted) == "2.2.2.2"
    assert client_from_chain(["10.0.0.7", "10.0.0.5"], trusted) == "10.0.0.7"
    assert client_from_chain(["1.1.1.1", "2.2.2.2"], TrustedProxies("*")) == "1.1.1.1"
    assert client_from_chain(["bogus", "2.2.2.2"], trusted) == "2.2.2.2"
    assert client_from_chain(["1.1.1.1", "bogus", "10.0.0.5"], trusted) is None
    assert client_from_chain(["bogus", "2.2.2.2"], TrustedProxies("*")) is None
    assert client_from_chain(["", " 1.1.1.1 ", " "], trusted) == "1.1.1.1"
    assert client_from_chain([" ", ""], trusted) is None


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


FORWARDED = {"proxy_headers_source": "forwarded"}


def test_forwarded_header() -> None:
    """RFC 7239: for= (quoted IPv6 with port), proto=; the last untrusted element wins."""
    scope = scope_for(
        [(b"forwarded", b'for="[2001:db8::1]:4711";proto=https;host=example.com')], **FORWARDED
    )
    assert scope["client"] == ["2001:db8::1", 4711] and scope["scheme"] == "https"
    scope = scope_for(
        [(b"forwarded", b"for=1.1.1.1, for=2.2.2.2;proto=http"), (b"forwarded", b"for=10.0.0.9")],
        forwarded_allow_ips="10.0.0.0/8",
        **FORWARDED,
    )
    assert scope["client"] == ["2.2.2.2", 0] and scope["scheme"] == "http"


def test_forwarded_is_ignored_unless_it_is_the_source() -> None:
    """Default source xff: a client-sent Forwarded changes nothing (it used to win)."""
    smuggled = [(b"forwarded", b"for=6.6.6.6;proto=https")]
    scope = scope_for(smuggled)
    assert scope["client"] == ["10.0.0.2", 5555] and scope["scheme"] == "http"
    scope = scope_for([*smuggled, (b"x-forwarded-for", b"1.2.3.4")])
    assert scope["client"] == ["1.2.3.4", 0] and scope["scheme"] == "http"


def test_x_forwarded_is_ignored_with_the_forwarded_source() -> None:
    """Source forwarded: X-Forwarded-For/-Proto/-Port are not read at all."""
    headers = [
        (b"x-forwarded-for", b"1.2.3.4"),
        (b"x-forwarded-proto", b"https"),
        (b"x-forwarded-port", b"443"),
    ]
    scope = scope_for(headers, **FORWARDED)
    assert scope["client"] == ["10.0.0.2", 5555] and scope["scheme"] == "http"
    scope = scope_for([*headers, (b"forwarded", b"for=5.5.5.5")], **FORWARDED)
    assert scope["client"] == ["5.5.5.5", 0] and scope["scheme"] == "http"


@pytest.mark.parametrize(
    ("value", "client"),
    [
        (b"for=unknown", None),
        (b"for=_hidden", None),
        (b'for="_hidden:_port"', None),
        (b"by=10.0.0.1", None),  # no for=: nobody named
        (b'for="1.2.3.4', None),  # unterminated quote
        (b"for=1.2.3.4;for=5.6.7.8", None),  # a parameter twice
        (b"for=1.2.3.4 junk", None),
        (b"for=9.9.9.9, for=unknown", None),  # the deciding (right-most) element
        (b"for=unknown, for=9.9.9.9", ["9.9.9.9", 0]),
        (b'for="1.2.3.4:_obf"', ["1.2.3.4", 0]),
        (b'for="[2001:db8::1]"', ["2001:db8::1", 0]),
        (b'for="2001:db8::1"', ["2001:db8::1", 0]),  # lenient: bracketless, no port
        (b'for="[2001:db8::1]:99999"', ["2001:db8::1", 0]),
        (b"for=1.2.3.4:8080", None),  # ":" is no token character: must be quoted
        (b'for="1.2.3.4:8080"', ["1.2.3.4", 8080]),
        (b'FOR="1.2.3.4" ; Proto=HTTPS', ["1.2.3.4", 0]),
    ],
)
def test_forwarded_deciding_element(value: bytes, client: list | None) -> None:
    """An element naming no IP address decides 'unknown' (None), never the proxy's address."""
    scope = scope_for([(b"forwarded", value)], forwarded_allow_ips="10.0.0.0/8", **FORWARDED)
    assert scope["client"] == client


def test_forwarded_without_elements_keeps_the_peer() -> None:
    """A Forwarded field with nothing in it (empty list elements) says nothing."""
    scope = scope_for([(b"forwarded", b" , ,")], **FORWARDED)
    assert scope["client"] == ["10.0.0.2", 5555]


@pytest.mark.parametrize(
    ("headers", "client"),
    [
        ([(b"x-forwarded-for", b"garbage")], None),
        ([(b"x-forwarded-for", b"1.2.3.4, garbage")], None),
        ([(b"x-forwarded-for", b"garbage, 1.2.3.4")], ["1.2.3.4", 0]),
        ([(b"x-forwarded-for", b"1.2.3.4:5678")], None),
        ([(b"x-forwarded-for", b"1.2.3.4"), (b"x-forwarded-for", b"garbage")], None),
        ([(b"x-forwarded-for", b" , ")], ["10.0.0.2", 5555]),  # says nothing
        ([(b"x-forwarded-for", b"2001:db8::1")], ["2001:db8::1", 0]),
    ],
)
def test_x_forwarded_for_invalid_element(headers: list, client: list | None) -> None:
    """If the deciding hop is not an IP, the client is unknown (None): not the proxy."""
    assert scope_for(headers, forwarded_allow_ips="10.0.0.0/8")["client"] == client


@pytest.mark.parametrize(
    ("proto", "http", "websocket"),
    [
        (b"https", "https", "wss"),
        (b"HTTPS", "https", "wss"),
        (b" http ", "http", "ws"),
        (b"wss", "https", "wss"),
        (b"ws", "http", "ws"),
        (b"ftp", "http", "ws"),
        (b"https, http", "http", "ws"),
        (b"javascript", "http", "ws"),
        (b"", "http", "ws"),
    ],
)
def test_x_forwarded_proto_values(proto: bytes, http: str, websocket: str) -> None:
    """Only http/https (and ws/wss, mapped per scope type); anything else is ignored."""
    headers = [(b"x-forwarded-for", b"1.2.3.4"), (b"x-forwarded-proto", proto)]
    assert scope_for(headers)["scheme"] == http
    facts = RequestFacts("GET", b"/", b"", "1.1", headers, ["10.0.0.2", 5555], None, False)
    config = ServerConfig(
        proxy_forwarded_address_header="X-Forwarded-For",
        proxy_forwarded_proto_header="X-Forwarded-Proto",
    )
    assert build_websocket_scope(facts, config)["scheme"] == websocket


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        (b"443", 443),
        (b" 8080 ", 8080),
        (b"00080", 80),
        (b"65535", 65535),
        (b"65536", 0),
        (b"0", 0),
        (b"-1", 0),
        (b"+80", 0),
        (b"1e3", 0),
        (b"80, 443", 0),
        ("\u0663".encode(), 0),  # ARABIC-INDIC DIGIT THREE
        (b"", 0),
    ],
)
def test_x_forwarded_port_values(port: bytes, expected: int) -> None:
    """A port is 1-65535 in decimal digits; anything else leaves it 0."""
    headers = [(b"x-forwarded-for", b"1.2.3.4"), (b"x-forwarded-port", port)]
    assert scope_for(headers)["client"] == ["1.2.3.4", expected]


def test_proxy_headers_source_is_validated() -> None:
    with pytest.raises(ValueError, match="proxy_headers_source must be one of xff, forwarded"):
        ServerConfig(proxy_forwarded_address_header="X-Forwarded-For", proxy_headers_source="x")
    with pytest.raises(ValueError, match="needs proxy headers on"):
        ServerConfig(proxy_headers_source="forwarded")


@pytest.mark.parametrize(
    ("allow", "peer", "honoured"),
    [
        (None, "192.168.1.1", True),  # not given: anyone, as in Daphne
        ("*", "192.168.1.1", True),
        ("10.0.0.0/8", "10.0.0.2", True),
        ("10.0.0.0/8", "192.168.1.1", False),
        ("10.0.0.0/8", None, True),  # unix socket: local
    ],
)
def test_daphne_root_path_trust(allow: str | None, peer: str | None, honoured: bool) -> None:
    """Daphne-Root-Path: from anyone unless --forwarded-allow-ips is given; always removed."""
    headers = [(b"daphne-root-path", b"/mount%20point"), (b"x-other", b"1")]
    client = [peer, 5555] if peer is not None else None
    facts = RequestFacts("GET", b"/", b"", "1.1", headers, client, None, False)
    config = ServerConfig(root_path="/configured", forwarded_allow_ips=allow)
    for scope in (build_http_scope(facts, config), build_websocket_scope(facts, config)):
        assert scope["root_path"] == ("/mount point" if honoured else "/configured")
        assert scope["headers"] == [(b"x-other", b"1")]


def test_parse_forwarded_elements() -> None:
    """Elements split on commas, pairs on semicolons, keys case-insensitive, quotes removed."""
    assert parse_forwarded([b'For=1.2.3.4;Proto=https, for="[::1]"']) == [
        {"for": "1.2.3.4", "proto": "https"},
        {"for": "[::1]"},
    ]


@pytest.mark.parametrize(
    ("value", "elements"),
    [
        # commas and semicolons inside quotes belong to the value
        (
            b'for=1.1.1.1;host="a,b;c", for=2.2.2.2',
            [{"for": "1.1.1.1", "host": "a,b;c"}, {"for": "2.2.2.2"}],
        ),
        # quoted-pair: \" and \\ stand for the character
        (b'for="x\\"y\\\\z"', [{"for": 'x"y\\z'}]),
        # OWS around separators, empty list elements and empty pairs
        (
            b" for=1.1.1.1 ;; proto=http ,, ,for=2.2.2.2 ",
            [{"for": "1.1.1.1", "proto": "http"}, {"for": "2.2.2.2"}],
        ),
        # malformed elements are None, and the next element still parses
        (b'for="1.1.1.1, for=2.2.2.2', [None]),
        (b"for=1.1.1.1;for=3.3.3.3, for=2.2.2.2", [None, {"for": "2.2.2.2"}]),
        (b'for=a b, for="c,d" x, for=e', [None, None, {"for": "e"}]),
        (b"for=, for=e", [None, {"for": "e"}]),
        (b"for = 1.1.1.1", [None]),
        (b'for="a\x01"', [None]),
    ],
)
def test_parse_forwarded_quoting(value: bytes, elements: list) -> None:
    """RFC 7239 §4 with RFC 9110 quoted-strings, not a naive split on ',' and ';'."""
    assert parse_forwarded([value]) == elements


@given(
    st.binary(max_size=80),
    st.binary(max_size=80),
    st.binary(max_size=8),
    st.binary(max_size=8),
    st.sampled_from(["xff", "forwarded"]),
)
def test_any_header_values_are_safe(
    forwarded: bytes, xff: bytes, port: bytes, proto: bytes, source: str
) -> None:
    """Arbitrary header values never raise; the client is None or an IP address with a
    port in range; the scheme is http or https."""
    headers = [
        (b"forwarded", forwarded),
        (b"x-forwarded-for", xff),
        (b"x-forwarded-port", port),
        (b"x-forwarded-proto", proto),
    ]
    scope = scope_for(headers, proxy_headers_source=source)
    assert scope["scheme"] in ("http", "https")
    client = scope["client"]
    if client is None:
        return
    host, number = client
    assert ipaddress.ip_address(host) and 0 <= number <= 65535
