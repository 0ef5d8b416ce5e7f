"""``ServerConfig``: every limit, timeout and switch of the server, in one place.

Its field defaults are the only place a default is written: the command line
(``daphne._cli_options``) reads them with :func:`config_default`, and the
literals of ``Server.__init__`` (Daphne 4.2's signature) are checked against
them.  Covered by ``tests/unit/test_config.py``.
"""

from __future__ import annotations

import dataclasses

from ._asgi.proxy import SOURCES as _PROXY_SOURCES
from ._asgi.proxy import TrustedProxies as _TrustedProxies

__all__ = ["SECONDS", "ServerConfig", "config_default"]

#: Unit marker: the field is in seconds.
SECONDS = 1.0
KIB = 1024
MIB = 1024 * KIB


def trusted_proxies_check(spec: str) -> None:
    """Raise ValueError naming the bad entry of a ``forwarded_allow_ips`` value."""
    try:
        _TrustedProxies(spec)
    except ValueError as error:
        raise ValueError(f"forwarded_allow_ips: {error}") from None


@dataclasses.dataclass(frozen=True)
class ServerConfig:
    """Frozen server settings; :class:`daphne.server.Server` builds one from its keywords.

    Timeouts of ``None`` mean "no limit".
    """

    #: Seconds the app has to *start* an HTTP response before a 503 (None or 0: no limit,
    #: as in Daphne 4.2).
    http_timeout: float | None = None
    #: Largest ``body`` of one ``http.request`` message, in bytes.
    request_buffer_size: int = 8192
    #: Maximum WebSocket lifetime in seconds (negative: unlimited).
    websocket_timeout: float = 86400 * SECONDS
    #: Seconds the app has to accept or reject a WebSocket handshake.
    websocket_connect_timeout: float = 20 * SECONDS
    #: Seconds of WebSocket silence before a keepalive ping.
    ping_interval: float = 20 * SECONDS
    #: Seconds to wait for the pong before dropping the socket.
    ping_timeout: float = 30 * SECONDS
    #: Default ``root_path`` of every scope.
    root_path: str = ""
    #: Header giving the client address when behind a proxy (None: proxy headers off).
    proxy_forwarded_address_header: str | None = None
    #: Header giving the client port (only read with the address header).
    proxy_forwarded_port_header: str | None = None
    #: Header giving the scheme (only read with the address header).
    proxy_forwarded_proto_header: str | None = None
    #: Which proxy headers are read: "xff" (the three headers above) or "forwarded" (RFC 7239).
    proxy_headers_source: str = "xff"
    #: Peers whose proxy headers are believed: comma-separated IPs/CIDRs, "*" = any.
    #: None (not given) trusts any peer, as Daphne does, and lets any peer set
    #: ``Daphne-Root-Path``; when given, only these peers may set it.
    forwarded_allow_ips: str | None = None
    #: 0..3: log level, and Twisted log routing at 2+.
    verbosity: int = 1
    #: Seconds from a WebSocket upgrade request to the server's answer (101, or 200 on
    #: HTTP/2); the sooner of this and ``websocket_connect_timeout`` applies (0 or less: none).
    websocket_handshake_timeout: float = 5 * SECONDS
    #: Largest reassembled inbound WebSocket message (0: unlimited).
    websocket_max_message_size: int = 1 * MIB
    #: Largest inbound WebSocket frame payload (0: unlimited).
    websocket_max_frame_size: int = 1 * MIB
    #: Serve HTTP/2 over cleartext (prior knowledge, and ``Upgrade: h2c`` if ``h2c_upgrade``).
    h2c: bool = True
    #: Honour ``Upgrade: h2c`` on HTTP/1.1 (a request-smuggling vector through proxies).
    h2c_upgrade: bool = False
    #: HTTP/2: most streams a client may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS).
    h2_max_concurrent_streams: int = 100
    #: HTTP/2: largest decoded request header list, in bytes (SETTINGS_MAX_HEADER_LIST_SIZE).
    h2_max_header_list_size: int = 64 * KIB
    #: HTTP/2: largest frame payload the client may send (SETTINGS_MAX_FRAME_SIZE, 16 KiB-16 MiB).
    h2_max_frame_size: int = 16 * KIB
    #: Negotiate permessage-deflate (RFC 7692) with WebSocket clients that offer it.
    websocket_per_message_deflate: bool = True
    #: Seconds to wait for the client's close frame after the server sent one.
    websocket_close_timeout: float = 5 * SECONDS
    #: Seconds an app instance may run on after its connection ended before it is cancelled.
    application_close_timeout: float = 10 * SECONDS
    #: ``Server`` response header value; empty string: no header.
    server_name: str = "daphne"

    #: Seconds in-flight requests and WebSockets get to finish when the server stops.
    graceful_timeout: float = 10 * SECONDS
    #: Longest request line (method, target, version), in bytes; longer gets 414.
    limit_request_line: int = 16 * KIB
    #: Largest request header section, in bytes; larger gets 431.
    max_header_bytes: int = 64 * KIB
    #: Most header field lines in one request; more gets 431.
    limit_request_fields: int = 500
    #: Most open connections or running app instances before new requests get 503 (None: no cap).
    limit_concurrency: int | None = None
    #: Largest single header field line, in bytes; larger gets 431.
    limit_request_field_size: int = 16 * KIB
    #: Largest request body in bytes (None: unlimited); larger gets 413.
    limit_request_body: int | None = None
    #: Seconds a client has to send a complete request head once it started one (slowloris).
    header_read_timeout: float = 30 * SECONDS
    #: Longest wait, in seconds, for the next piece of a request body the server is reading
    #: (None: no limit); a stall gets 408 (or an abort once the response began).
    body_read_timeout: float | None = 30 * SECONDS
    #: Seconds an idle keep-alive connection is kept open.
    keep_alive_timeout: float = 5 * SECONDS
    #: Unread request-body bytes queued for the app before the socket stops being read.
    read_high_water: int = 64 * KIB
    #: Unsent response bytes buffered for a client before ``send`` starts waiting.
    write_high_water: int = 64 * KIB

    @property
    def websocket_accept_deadline(self) -> float | None:
        """Seconds an app has to answer a WebSocket handshake (None: no limit).

        The smaller of ``websocket_connect_timeout`` and ``websocket_handshake_timeout``,
        leaving out either when it is 0 or negative.  The client's own part of the
        handshake, its request head, is bounded by ``header_read_timeout``.
        """
        limits = [
            limit
            for limit in (self.websocket_connect_timeout, self.websocket_handshake_timeout)
            if limit > 0
        ]
        return min(limits) if limits else None

    def __post_init__(self) -> None:
        if self.request_buffer_size < 1:
            raise ValueError(
                f"request_buffer_size must be positive, got {self.request_buffer_size}"
            )
        if (
            self.proxy_forwarded_port_header or self.proxy_forwarded_proto_header
        ) and not self.proxy_forwarded_address_header:
            raise ValueError(
                "proxy_forwarded_port_header/proxy_forwarded_proto_header need "
                "proxy_forwarded_address_header"
            )
        if self.proxy_headers_source not in _PROXY_SOURCES:
            raise ValueError(
                f"proxy_headers_source must be one of {', '.join(_PROXY_SOURCES)}, "
                f"got {self.proxy_headers_source!r}"
            )
        if self.proxy_headers_source != "xff" and not self.proxy_forwarded_address_header:
            raise ValueError(
                "proxy_headers_source needs proxy headers on (proxy_forwarded_address_header)"
            )
        if self.forwarded_allow_ips is not None:
            trusted_proxies_check(self.forwarded_allow_ips)
        if not 2**14 <= self.h2_max_frame_size <= 2**24 - 1:
            raise ValueError(
                f"h2_max_frame_size must be between 16384 and 16777215, got {self.h2_max_frame_size}"
            )
        for name in ("h2_max_concurrent_streams", "h2_max_header_list_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.http_timeout == 0:
            object.__setattr__(self, "http_timeout", None)  # Daphne 4.2: 0 is "no timeout"
        for name in (
            "http_timeout",
            "websocket_max_message_size",
            "websocket_max_frame_size",
            "ping_interval",
            "application_close_timeout",
            "graceful_timeout",
            "keep_alive_timeout",
        ):
            value = getattr(self, name)
            if value is not None and not value >= 0:  # also refuses nan
                raise ValueError(f"{name} must not be negative, got {value}")
        for name in ("ping_timeout", "header_read_timeout"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if self.body_read_timeout is not None and self.body_read_timeout <= 0:
            raise ValueError(f"body_read_timeout must be positive, got {self.body_read_timeout}")


#: Field name -> default (every field has a plain default).
_DEFAULTS: dict[str, object] = {
    field.name: field.default for field in dataclasses.fields(ServerConfig)
}


def config_default(name: str) -> object:
    """The default of the :class:`ServerConfig` field ``name``.

    :raises KeyError: there is no such field.
    """
    try:
        return _DEFAULTS[name]
    except KeyError:
        raise KeyError(f"ServerConfig has no field {name!r}") from None
