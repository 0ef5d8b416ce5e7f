"""The only code that turns request facts into ASGI scopes.

HTTP/1.1, HTTP/2 and WebSocket upgrades all describe a request as a
:class:`RequestFacts` and get a finished scope dict back, so header rules
(underscored names dropped, ``Daphne-Root-Path``), address and scheme
resolution (proxy headers) cannot drift between protocols.

Covered by ``tests/unit/test_pure_layers.py`` and ``tests/unit/test_proxy.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from .._config import ServerConfig
from .._types import Headers, Scope, State
from .interfaces import ParsedHead
from .proxy import (
    TrustedProxies,
    client_from_chain,
    forwarded_port,
    forwarded_scheme,
    resolve_forwarded,
    trusted_proxies,
)

__all__ = [
    "ASGI_VERSION",
    "RequestFacts",
    "build_http_scope",
    "build_websocket_scope",
    "clean_headers",
    "resolve_client",
    "root_path_trusted",
]

#: The ``asgi`` scope entry: ASGI 3 and the version of the HTTP/WebSocket spec we follow.
ASGI_VERSION = {"version": "3.0", "spec_version": "2.5"}

_ROOT_PATH_HEADER = b"daphne-root-path"

#: ``[host, port]`` as ASGI has it (a list), or None (unix sockets, unknown client).
Address = list[Any] | None  # Any: a host str and a port int in one list


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What a protocol knows about one request, already parsed and validated.

    :ivar method: the request method, as sent.
    :ivar path: the request-target path, undecoded bytes (no query).
    :ivar query_string: the bytes after the first ``?`` (``b""`` if none).
    :ivar http_version: ``"1.0"``, ``"1.1"`` or ``"2"``.
    :ivar headers: ``(lower-cased name, value)`` pairs in arrival order.
    :ivar client: ``[host, port]`` of the peer, or None (unix sockets).
    :ivar server: ``[host, port]`` of the local end, or None.
    :ivar secure: whether the connection is TLS.
    """

    method: str
    path: bytes
    query_string: bytes
    http_version: str
    headers: Headers
    client: Address
    server: Address
    secure: bool

    @classmethod
    def from_head(
        cls,
        head: ParsedHead,
        connection: dict[str, Any],  # Any: the connection's client, server and secure values
    ) -> RequestFacts:
        """Facts of a parsed head plus the connection's ``client``/``server``/``secure``."""
        return cls(
            method=head.method,
            path=head.path,
            query_string=head.query_string,
            http_version=head.http_version,
            headers=head.headers,
            **connection,
        )


def clean_headers(
    headers: Headers, default_root_path: str, root_path_header: bool = True
) -> tuple[Headers, str]:
    """Apply the server's header rules; return ``(headers, root_path)``.

    * names containing ``_`` are dropped (CVE-2015-0219: they would be
      indistinguishable from ``-`` once turned into WSGI/CGI variables);
    * ``Daphne-Root-Path`` is removed and, when ``root_path_header`` (the
      peer may set it, see :func:`root_path_trusted`), its percent-decoded
      value (the last one) overrides the configured root path.
    """
    root_path = default_root_path
    cleaned = headers
    for name, _ in headers:
        # find(), not ``in``: on CPython 3.11 ``bytes in bytes`` first tries its operand as
        # an integer and formats the TypeError it then discards (about twice the cost).
        if name.find(b"_") != -1 or name == _ROOT_PATH_HEADER:
            break
    else:
        return cleaned, root_path
    cleaned = []
    for name, value in headers:
        if name == _ROOT_PATH_HEADER:
            if root_path_header:
                root_path = unquote(value.decode("latin-1"))
        elif name.find(b"_") == -1:
            cleaned.append((name, value))
    return cleaned, root_path


def _trusted(config: ServerConfig) -> TrustedProxies:
    return trusted_proxies(config.forwarded_allow_ips or "*")


def root_path_trusted(peer: Address, config: ServerConfig) -> bool:
    """Whether ``peer`` may set ``Daphne-Root-Path``.

    Anyone may, as in Daphne, unless ``forwarded_allow_ips`` was given: then
    only those proxies (and unix-socket peers, which are local).
    """
    if config.forwarded_allow_ips is None or peer is None:
        return True
    return peer[0] in _trusted(config)


def resolve_client(
    facts: RequestFacts, headers: Headers, config: ServerConfig
) -> tuple[Address, str]:
    """The client address and the HTTP scheme, after proxy headers if enabled and trusted.

    With proxy headers on and the peer in ``forwarded_allow_ips``, the one
    configured source is read (:mod:`daphne._asgi.proxy` has the rules):
    ``Forwarded``, or the address header's chain with the port and proto headers.
    """
    scheme = "https" if facts.secure else "http"
    client = facts.client
    if not config.proxy_forwarded_address_header:
        return client, scheme
    trusted = _trusted(config)
    if client is not None and client[0] not in trusted:
        return client, scheme
    if config.proxy_headers_source == "forwarded":
        forwarded = [value for name, value in headers if name == b"forwarded"]
        resolved = resolve_forwarded(forwarded, trusted) if forwarded else None
        if resolved is None:
            return client, scheme
        return resolved[0], resolved[1] or scheme
    return _resolve_x_forwarded(client, scheme, headers, config, trusted)


def _first(headers: Headers, name: str | None) -> str | None:
    """The first value of header ``name`` (any case), or None."""
    if not name:
        return None
    wanted = name.lower().encode("latin-1")
    for key, value in headers:
        if key == wanted:
            return value.decode("latin-1")
    return None


def _resolve_x_forwarded(
    client: Address,
    scheme: str,
    headers: Headers,
    config: ServerConfig,
    trusted: TrustedProxies,
) -> tuple[Address, str]:
    """``X-Forwarded-For`` (or its renamed header) and its port and proto headers."""
    name = (config.proxy_forwarded_address_header or "").lower().encode("latin-1")
    values = [value for key, value in headers if key == name]
    chain = [part for part in b",".join(values).decode("latin-1").split(",") if part.strip(" \t")]
    if not chain:
        return client, scheme  # no address header: nothing to believe
    proto = _first(headers, config.proxy_forwarded_proto_header)
    if proto is not None:
        scheme = forwarded_scheme(proto) or scheme
    address = client_from_chain(chain, trusted)
    if address is None:
        return None, scheme  # the deciding hop is no address: the client is unknown
    port_text = _first(headers, config.proxy_forwarded_port_header)
    port = forwarded_port(port_text) if port_text is not None else None
    return [address, port or 0], scheme


def _base_scope(kind: str, facts: RequestFacts, config: ServerConfig, state: State | None) -> Scope:
    """The keys HTTP and WebSocket scopes share (``scheme`` is the HTTP one)."""
    headers, root_path = clean_headers(
        facts.headers, config.root_path, root_path_trusted(facts.client, config)
    )
    client, scheme = resolve_client(facts, headers, config)
    path = facts.path.decode("ascii")
    if "%" in path:
        path = unquote(path)
    scope: Scope = {
        "type": kind,
        "asgi": ASGI_VERSION.copy(),
        "http_version": facts.http_version,
        "scheme": scheme,
        "path": path,
        "raw_path": facts.path,
        "query_string": facts.query_string,
        "root_path": root_path,
        "headers": headers,
        "client": client,
        "server": facts.server,
    }
    if state is not None:
        # Each scope gets its own shallow copy of the lifespan state.
        scope["state"] = state.copy()
    return scope


def build_http_scope(
    facts: RequestFacts,
    config: ServerConfig,
    state: State | None = None,
    extensions: Mapping[str, object] | None = None,
) -> Scope:
    """Build the ASGI ``http`` scope for a request.

    ``state`` is the lifespan state; ``extensions`` the ASGI extensions the
    protocol supports on this connection.
    """
    scope = _base_scope("http", facts, config, state)
    scope["method"] = facts.method
    scope["extensions"] = extensions if extensions is not None else {}
    return scope


_WS_SCHEMES = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}


def build_websocket_scope(
    facts: RequestFacts,
    config: ServerConfig,
    state: State | None = None,
    tls: Mapping[str, object] | None = None,
) -> Scope:
    """Build the ASGI ``websocket`` scope for an upgrade (or extended CONNECT) request.

    ``scheme`` is ``ws``/``wss`` from the connection, or from the proxy's proto
    header when proxy headers are on; ``subprotocols`` come from every
    ``Sec-WebSocket-Protocol`` header, in order.
    """
    scope = _base_scope("websocket", facts, config, state)
    scope["scheme"] = _WS_SCHEMES.get(scope["scheme"].lower(), "wss" if facts.secure else "ws")
    scope["subprotocols"] = [
        token.strip()
        for name, value in scope["headers"]
        if name == b"sec-websocket-protocol"
        for token in value.decode("latin-1").split(",")
        if token.strip()
    ]
    scope["extensions"] = {"websocket.http.response": {}}
    if tls is not None:
        scope["extensions"]["tls"] = dict(tls)
    return scope
