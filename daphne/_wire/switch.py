"""Protocol selection: which protocol a connection speaks, decided in one place.

* TLS negotiated ``h2`` by ALPN, or a cleartext client opened with the HTTP/2
  connection preface (prior knowledge): HTTP/2 from the first byte
  (:func:`first_bytes`, :func:`start_http2`);
* an HTTP/1.1 request with ``Upgrade: h2c`` that we can honour (RFC 7540 §3.2),
  only with ``--h2c-upgrade``: ``101``, then HTTP/2 with that request as stream 1
  (:func:`h2c_upgradable`, :func:`start_h2c`).  Off by default: a proxy that
  forwards the Upgrade and then relays the connection blindly lets a client
  talk HTTP/2 to us past the proxy's own request rules (h2c smuggling);
  without it the request is served as HTTP/1.1 and the Upgrade ignored;
* ``Upgrade: websocket``: a WebSocket stream (RFC 6455 §4, :func:`start_websocket`).

Everything else stays HTTP/1.x.  The HTTP/1.1 connection
(:class:`~daphne._wire.http1.HTTP1Connection`) reads the first bytes and the request
heads, asks here, and is handed over with its ``hand_over`` method; it stays
the transport-facing object (writes, backpressure) for the protocol that
takes over.

Covered by ``tests/unit/test_switch.py`` and ``tests/integration/test_http2_functional.py``.
"""

from __future__ import annotations

import base64
import binascii
import enum
import logging
import re
from typing import TYPE_CHECKING, Protocol

from .._asgi.ws_stream import WebSocketStream, handshake_problem
from .._errors import BadRequest

if TYPE_CHECKING:
    from .http1 import HTTP1Connection
    from .http1_parser import RequestHead

logger = logging.getLogger("daphne.http_protocol")

__all__ = [
    "H2C_MAX_BODY",
    "NOT_UPGRADED",
    "Choice",
    "Upgraded",
    "first_bytes",
    "h2c_request_fields",
    "h2c_upgradable",
    "start_h2c",
    "start_http2",
    "start_websocket",
]

#: Largest request body an ``Upgrade: h2c`` request may carry and still be upgraded
#: (it is read whole first); bigger ones are served over HTTP/1.1.
H2C_MAX_BODY = 64 * 1024
_BASE64URL_RE = re.compile(rb"[A-Za-z0-9_-]*={0,2}")


#: The HTTP/2 client connection preface (RFC 9113 §3.4).  Kept here, not
#: imported from ``_wire.http2``: the HTTP/2 stack (h2, hpack, hyperframe) is
#: imported when the first connection speaks HTTP/2, not at start-up.
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class Choice(enum.Enum):
    HTTP1 = "http/1.x"
    HTTP2 = "h2"
    UNDECIDED = "undecided"  # could still be the HTTP/2 preface: wait for more bytes


class Upgraded(Protocol):
    """What a connection is handed over to: :class:`~daphne._wire.http2.H2Protocol`
    or :class:`~daphne._asgi.ws_stream.WebSocketStream`."""

    def data_received(self, data: bytes) -> None:
        """Bytes from the client."""

    def connection_lost(self) -> None:
        """The client went away."""

    def drain(self) -> None:
        """The server is stopping: finish what is in flight, then close."""


class _NotUpgraded:
    """Stands in for the protocol taken over to, before a hand-over and after the end."""

    def data_received(self, data: bytes) -> None:
        pass

    def connection_lost(self) -> None:
        pass

    def drain(self) -> None:
        pass


NOT_UPGRADED: Upgraded = _NotUpgraded()


def first_bytes(pending: bytes, negotiated: bytes | None, h2c: bool) -> Choice:
    """Decide the protocol from the first bytes a client sent (and ALPN)."""
    if negotiated == b"h2":
        return Choice.HTTP2
    if not h2c or not PREFACE.startswith(pending[: len(PREFACE)]):
        return Choice.HTTP1
    return Choice.HTTP2 if len(pending) >= len(PREFACE) else Choice.UNDECIDED


def start_http2(conn: HTTP1Connection, pending: bytes) -> None:
    """Speak HTTP/2 on ``conn`` from now on; ``pending``: the bytes read so far."""
    from .http2 import H2Protocol

    protocol = H2Protocol(conn, conn.context, conn.facts)
    conn.hand_over(protocol)
    protocol.start(pending)


def h2c_upgradable(head: RequestHead, h2c: bool, secure: bool) -> bool:
    """An ``Upgrade: h2c`` we can honour (RFC 7540 §3.2); otherwise it is ignored.

    ``h2c``: whether upgrades are on at all (``--h2c-upgrade`` and not ``--no-h2c``).
    """
    if not h2c or secure or head.http_version != "1.1":
        return False
    if head.chunked or (head.content_length or 0) > H2C_MAX_BODY:
        return False  # such requests simply stay HTTP/1.1
    settings = [value for name, value in head.headers if name == b"http2-settings"]
    connection = b",".join(value for name, value in head.headers if name == b"connection").lower()
    tokens = {token.strip() for token in connection.split(b",")}
    if len(settings) != 1 or not {b"upgrade", b"http2-settings"} <= tokens:
        return False
    # RFC 7540 §3.2.1: base64url SETTINGS payload, trailing "=" left out.
    value = settings[0].strip()
    if _BASE64URL_RE.fullmatch(value) is None:
        return False
    try:
        payload = base64.urlsafe_b64decode(value + b"=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return False
    return len(payload) % 6 == 0


#: HTTP/1.1 fields an ``Upgrade: h2c`` request's stream 1 leaves out: the
#: connection-specific ones (RFC 9113 §8.2.2) and ``Host``, which becomes ``:authority``.
_H2C_SKIPPED = frozenset(
    (b"host", b"connection", b"upgrade", b"http2-settings", b"keep-alive", b"transfer-encoding")
)


def h2c_request_fields(head: RequestHead) -> list[tuple[bytes, bytes]]:
    """``head`` as the fields of an HTTP/2 request (stream 1 of an h2c upgrade)."""
    host = next((value for name, value in head.headers if name == b"host"), b"")
    target = head.path + (b"?" + head.query_string if head.query_string else b"")
    fields = [
        (b":method", head.method.encode("ascii")),
        (b":path", target),
        (b":scheme", b"http"),
        (b":authority", host),
    ]
    fields += [(name, value) for name, value in head.headers if name not in _H2C_SKIPPED]
    return fields


def start_h2c(conn: HTTP1Connection, head: RequestHead, body: bytes, rest: bytes) -> None:
    """Answer ``101`` and continue ``head`` (with its whole ``body``) as HTTP/2 stream 1.

    ``rest``: bytes the client sent after the request (its HTTP/2 preface...).
    """
    from .http2 import H2Protocol

    settings = next(value for name, value in head.headers if name == b"http2-settings")
    conn.write(
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
        flush=True,
    )
    protocol = H2Protocol(conn, conn.context, conn.facts)
    conn.hand_over(protocol)
    settings = settings.strip()
    try:
        # h2 wants the padding RFC 7540 §3.2.1 tells clients to leave out.
        protocol.conn.initiate_upgrade_connection(settings + b"=" * (-len(settings) % 4))
        protocol.open_connection_window()
        protocol.flush()
        protocol.open_stream(1, h2c_request_fields(head), ended=not body)
    except Exception:
        logger.debug("Bad HTTP2-Settings in an h2c upgrade", exc_info=True)
        conn.abort()
        return
    if body:
        stream = protocol.streams.get(1)
        if stream is not None:
            stream.feed_body(body, 0, True)
    if rest:
        protocol.data_received(rest)


def start_websocket(conn: HTTP1Connection, head: RequestHead, rest: bytes) -> BadRequest | None:
    """Run a WebSocket on ``conn`` for an upgrade request, or say why it cannot be one.

    ``rest``: bytes the client sent after the request (frames it did not wait to send).
    """
    problem = handshake_problem(head)
    if problem is not None:
        return problem
    # A plain dict: WebSocketStream takes the connection facts as ``dict[str, Any]``.
    stream = WebSocketStream(conn, conn.context, head, dict(conn.facts))
    conn.hand_over(stream)
    stream.start()
    if rest:
        stream.data_received(rest)
    return None
