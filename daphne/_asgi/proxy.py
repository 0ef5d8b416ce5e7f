"""Proxy headers, believed only from trusted peers and only from the configured source.

Theory of operation:

* Rule 1: the peer must be in ``--forwarded-allow-ips`` (IPs and CIDRs, ``*`` =
  any, Daphne's behaviour and the default); unix-socket peers are local and
  always trusted.
* Rule 2: one source is read, the one configured (``--proxy-headers-source``):
  ``xff`` reads ``X-Forwarded-For``/``-Port``/``-Proto`` (or the renamed
  headers), ``forwarded`` reads RFC 7239 ``Forwarded``.  The other family is
  ignored, so a client cannot slip one past a proxy that only manages the other.
* Rule 3: in a chain of hops (left = first hop) the client is the right-most
  hop that is not a trusted proxy; when every hop is trusted (always with
  ``*``), the left-most one.  A hop that is not an IP address (garbage,
  ``unknown``, an obfuscated ``_name``) is never trusted, so the walk stops
  there: if it decides, the client is unknown and the scope's ``client`` is
  None.  It is never the proxy's own address.
* Rule 4: a scheme is ``http``/``https`` (``ws``/``wss`` are read as their HTTP
  twins); a port is 1-65535 in decimal digits.  Anything else is ignored.

Nothing here raises for a request: bad values are ignored.  Covered by
``tests/unit/test_proxy.py``.
"""

from __future__ import annotations

import functools
import ipaddress
import re

__all__ = [
    "SOURCES",
    "TrustedProxies",
    "client_from_chain",
    "forwarded_port",
    "forwarded_scheme",
    "parse_forwarded",
    "resolve_forwarded",
    "trusted_proxies",
]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: The values of ``--proxy-headers-source``: X-Forwarded-* (Daphne's) or RFC 7239.
SOURCES = ("xff", "forwarded")


class TrustedProxies:
    """A set of trusted proxy addresses and networks (or everything)."""

    def __init__(self, spec: str) -> None:
        self.everything = False
        self.networks: list[IPNetwork] = []
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            if item == "*":
                self.everything = True
            else:
                # Raises ValueError for a bad entry: the configuration is wrong.
                self.networks.append(ipaddress.ip_network(item, strict=False))
        # Peers are mostly the same few proxies: remember the answers.
        self._lookup = functools.lru_cache(maxsize=1024)(self._match)

    def __contains__(self, address: object) -> bool:
        if self.everything:
            return True
        if not isinstance(address, str):
            return False
        return self._lookup(address)

    def _match(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)


@functools.lru_cache(maxsize=16)
def trusted_proxies(spec: str) -> TrustedProxies:
    """The parsed form of a ``--forwarded-allow-ips`` value (cached)."""
    return TrustedProxies(spec)


def _valid_ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


_PORT_RE = re.compile(r"[0-9]{1,5}")
_HTTP_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}


def forwarded_port(text: str) -> int | None:
    """A port number from a proxy header: 1-65535 in decimal digits, else None."""
    text = text.strip(" \t")
    if _PORT_RE.fullmatch(text) is None:
        return None
    port = int(text)
    return port if 1 <= port <= 65535 else None


def forwarded_scheme(text: str) -> str | None:
    """``http``/``https`` from a proxy's proto value (``ws``/``wss`` map to them), else None."""
    return _HTTP_SCHEMES.get(text.strip(" \t").lower())


def _deciding_hop(hosts: list[str | None], trusted: TrustedProxies) -> int:
    """Index of the hop that is the client (rule 3); ``hosts`` are valid IPs or None."""
    for index in range(len(hosts) - 1, -1, -1):
        host = hosts[index]
        if host is None or host not in trusted:
            return index
    return 0


def client_from_chain(addresses: list[str], trusted: TrustedProxies) -> str | None:
    """The client of an ``X-Forwarded-For``-style chain (left = first hop).

    Empty elements are skipped.  None when the chain is empty or when the hop
    that decides is not an IP address (rule 3).
    """
    hosts = [_valid_ip(address.strip(" \t")) for address in addresses if address.strip(" \t")]
    if not hosts:
        return None
    return hosts[_deciding_hop(hosts, trusted)]


# -- RFC 7239 -------------------------------------------------------------------------

_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_OWS = " \t"


def _qdtext_or_pair_char(char: str) -> bool:
    """HTAB, SP, VCHAR or obs-text (RFC 9110 §5.6.4), i.e. no other control."""
    code = ord(char)
    return code == 0x09 or 0x20 <= code <= 0x7E or 0x80 <= code <= 0xFF


class _Malformed(ValueError):
    pass


def _token(text: str, at: int) -> tuple[str, int]:
    end = at
    while end < len(text) and text[end] in _TCHAR:
        end += 1
    if end == at:
        raise _Malformed(at)
    return text[at:end], end


def _quoted(text: str, at: int) -> tuple[str, int]:
    """A quoted-string starting at ``text[at] == '"'``: its value, and the index after it."""
    value: list[str] = []
    index = at + 1
    while index < len(text):
        char = text[index]
        if char == '"':
            return "".join(value), index + 1
        if char == "\\":
            index += 1
            if index == len(text) or not _qdtext_or_pair_char(text[index]):
                raise _Malformed(index)
            value.append(text[index])
        elif _qdtext_or_pair_char(char):
            value.append(char)
        else:
            raise _Malformed(index)
        index += 1
    raise _Malformed(index)  # unterminated


def _skip_element(text: str, at: int) -> int:
    """Index of the ``,`` ending the element that holds ``at`` (quotes respected), or the end."""
    index = at
    quoted = False
    while index < len(text):
        char = text[index]
        if quoted and char == "\\":
            index += 1
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            return index
        index += 1
    return index


def _parse_line(text: str) -> list[dict[str, str] | None]:
    """One ``Forwarded`` field value: its elements; None for a malformed one."""
    elements: list[dict[str, str] | None] = []
    element: dict[str, str] | None = {}
    index = 0
    while True:
        while index < len(text) and text[index] in _OWS:
            index += 1
        if index == len(text) or text[index] == ",":
            if element is None or element:  # empty list elements are skipped (RFC 9110 §5.6.1)
                elements.append(element)
            if index == len(text):
                return elements
            element, index = {}, index + 1
            continue
        if text[index] == ";":
            index += 1
            continue
        try:
            if element is None:
                raise _Malformed(index)
            key, index = _token(text, index)
            if index == len(text) or text[index] != "=":
                raise _Malformed(index)
            if text[index + 1 : index + 2] == '"':
                value, index = _quoted(text, index + 1)
            else:
                value, index = _token(text, index + 1)
            key = key.lower()
            if key in element:  # RFC 7239 §4: a parameter at most once per element
                raise _Malformed(index)
            element[key] = value
            while index < len(text) and text[index] in _OWS:
                index += 1
            if index < len(text) and text[index] not in ";,":
                raise _Malformed(index)
        except _Malformed:
            element = None
            index = _skip_element(text, index)


def parse_forwarded(values: list[bytes]) -> list[dict[str, str] | None]:
    """The elements of RFC 7239 ``Forwarded`` fields, first hop first.

    Parameter names are lower-cased; quoted values are unquoted (quoted-pairs
    resolved, so ``,`` and ``;`` may appear inside quotes).  A malformed
    element (bad syntax, a repeated parameter) is None.
    """
    elements: list[dict[str, str] | None] = []
    for value in values:
        elements.extend(_parse_line(value.decode("latin-1")))
    return elements


def _node(node: str) -> tuple[str | None, int]:
    """``(ip, port)`` of a ``for=`` node (RFC 7239 §6); ip None for unknown/obfuscated/bad.

    ``1.2.3.4``, ``1.2.3.4:80``, ``[2001:db8::1]``, ``[2001:db8::1]:4711``;
    a bracketless IPv6 address without port is accepted too.
    """
    port = 0
    if node.startswith("["):
        host, bracket, rest = node[1:].partition("]")
        if not bracket or ":" not in host:
            return None, 0
        if rest:
            if not rest.startswith(":"):
                return None, 0
            port = forwarded_port(rest[1:]) or 0
    elif node.count(":") == 1:
        host, _, text = node.partition(":")
        if "." not in host:  # only an IPv4 address takes a port without brackets
            return None, 0
        port = forwarded_port(text) or 0
    else:
        host = node
    return _valid_ip(host), port


def resolve_forwarded(
    values: list[bytes], trusted: TrustedProxies
) -> tuple[list[str | int] | None, str | None] | None:
    """``(client, scheme)`` from ``Forwarded`` fields; None when they hold no element.

    ``client`` is ``[ip, port]``, or None when the deciding element names no IP
    address (rule 3); ``scheme`` is that element's ``proto`` (rule 4) or None.
    """
    elements = parse_forwarded(values)
    if not elements:
        return None
    nodes = [
        _node(element.get("for", "")) if element is not None else (None, 0) for element in elements
    ]
    index = _deciding_hop([host for host, _ in nodes], trusted)
    host, port = nodes[index]
    chosen = elements[index]
    scheme = forwarded_scheme(chosen.get("proto", "")) if chosen is not None else None
    return ([host, port] if host is not None else None), scheme
