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
from typing import Any, Protocol

from .._asgi.ws_stream import WebSocketStream, handshake_problem
from .._context import ServerContext
from .._errors import BadRequest

logger = logging.getLogger("daphne.http_protocol")

__all__ = [
    "H2C_MAX_BODY",
    "Choice",
    "first_bytes",
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


class Connection(Protocol):
    """What the switcher needs from the connection it hands over."""

    context: ServerContext
    facts: dict[str, Any]

    def hand_over(self, protocol: Any) -> None: ...

    def write(self, data: bytes, flush: bool = False) -> None: ...

    def abort(self) -> None: ...


def first_bytes(pending: bytes, negotiated: bytes | None, h2c: bool) -> Choice:
    """Decide the protocol from the first bytes a client sent (and ALPN)."""
    if negotiated == b"h2":
        return Choice.HTTP2
    if not h2c or not PREFACE.startswith(pending[: len(PREFACE)]):
        return Choice.HTTP1
    return Choice.HTTP2 if len(pending) >= len(PREFACE) else Choice.UNDECIDED


def start_http2(conn: Connection, pending: bytes) -> None:
    """Speak HTTP/2 on ``conn`` from now on; ``pending``: the bytes read so far."""
    from .http2 import H2Protocol

    protocol = H2Protocol(conn, conn.context, conn.facts)
    conn.hand_over(protocol)
    protocol.start(pending)


def h2c_upgradable(head: Any, h2c: bool, secure: bool) -> bool:
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


def start_h2c(conn: Connection, head: Any, body: bytes, rest: bytes) -> None:
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
    try:
        protocol.start_upgraded(settings, head, body_done=not body)
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


def start_websocket(conn: Connection, head: Any, rest: bytes) -> BadRequest | None:
    """Run a WebSocket on ``conn`` for an upgrade request, or say why it cannot be one.

    ``rest``: bytes the client sent after the request (frames it did not wait to send).
    """
    problem = handshake_problem(head)
    if problem is not None:
        return problem
    stream = WebSocketStream(conn, conn.context, head, conn.facts)
    conn.hand_over(stream)
    stream.start()
    if rest:
        stream.data_received(rest)
    return None
