"""Proxy headers, trusted only from trusted peers: X-Forwarded-* and RFC 7239 ``Forwarded``.

* The peer must be in ``--forwarded-allow-ips`` (IPs and CIDRs, ``*`` = any,
  Daphne's behaviour); unix-socket peers are local and always trusted.
* In an address chain the client is the right-most address that is not a
  trusted proxy (with ``*`` every hop is trusted, so it is the left-most one).
* Invalid values are ignored, never an error.

Covered by ``tests/unit/test_proxy.py``.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Any

__all__ = ["TrustedProxies", "client_from_chain", "parse_forwarded", "trusted_proxies"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


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

    def __contains__(self, address: Any) -> bool:
        if self.everything:
            return True
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


def client_from_chain(addresses: list[str], trusted: TrustedProxies) -> str | None:
    """The client in an ``X-Forwarded-For``-style chain (left = first hop), or None."""
    valid = [_valid_ip(address.strip()) for address in addresses if address.strip()]
    if not valid or any(address is None for address in valid):
        return None
    for address in reversed(valid):
        if address not in trusted:
            return address
    return valid[0]


def _split_host_port(node: str) -> tuple[str | None, int]:
    """``for=`` node values: ``1.2.3.4``, ``1.2.3.4:80``, ``[2001:db8::1]:4711``, ``unknown``."""
    port = 0
    if node.startswith("["):
        host, _, rest = node[1:].partition("]")
        if rest.startswith(":") and rest[1:].isdigit():
            port = int(rest[1:])
    elif node.count(":") == 1:
        host, _, text = node.partition(":")
        if text.isdigit():
            port = int(text)
    else:
        host = node
    return _valid_ip(host), port


def parse_forwarded(values: list[bytes]) -> list[dict[str, str]]:
    """The elements of RFC 7239 ``Forwarded`` headers, first hop first (lower-cased keys)."""
    elements: list[dict[str, str]] = []
    for value in values:
        text = value.decode("latin-1")
        for element in text.split(","):
            pairs: dict[str, str] = {}
            for pair in element.split(";"):
                key, sep, item = pair.partition("=")
                if sep:
                    pairs[key.strip().lower()] = item.strip().strip('"')
            if pairs:
                elements.append(pairs)
    return elements


def resolve_forwarded(
    values: list[bytes], trusted: TrustedProxies
) -> tuple[list[Any] | None, str | None, str | None]:
    """``(client, proto, host)`` from ``Forwarded`` headers (Nones where absent or invalid)."""
    elements = parse_forwarded(values)
    chosen = None
    for element in reversed(elements):
        host, _ = _split_host_port(element.get("for", ""))
        chosen = element
        if host is None or host not in trusted:
            break
    if chosen is None:
        return None, None, None
    host, port = _split_host_port(chosen.get("for", ""))
    client = [host, port] if host is not None else None
    proto = chosen.get("proto", "").lower() or None
    if proto not in (None, "http", "https", "ws", "wss"):
        proto = None
    return client, proto, chosen.get("host") or None
