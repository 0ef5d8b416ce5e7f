"""permessage-deflate (RFC 7692): negotiation and one connection's compression state.

:func:`negotiate_deflate` picks the first valid offer from the client's
``Sec-WebSocket-Extensions`` headers; :class:`Deflate` is what was agreed (and
the header that says so); :class:`DeflateCodec` inflates received messages and
compresses sent ones for :class:`~daphne._asgi.ws_engine.WebSocketEngine`.

* Rule 1: decompression stops as soon as a message passes the size limit
  (the engine's Rule 2), so a small compressed frame cannot inflate past it.
* Rule 2: with ``*_no_context_takeover`` the (de)compressor is reset after
  every message; otherwise the window carries over (RFC 7692 §7.1.1).

Covered by ``tests/unit/test_ws_engine.py`` and the Autobahn|Testsuite run
(``tests/conformance/test_autobahn_fast.py``).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from .ws_frames import ProtocolError

__all__ = ["Deflate", "DeflateCodec", "negotiate_deflate"]

#: What a sync flush ends with, left out of a message on the wire (RFC 7692 §7.2.1).
_DEFLATE_TAIL = b"\x00\x00\xff\xff"


@dataclass(frozen=True, slots=True)
class Deflate:
    """Negotiated permessage-deflate parameters (RFC 7692 §7)."""

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int = 15
    client_max_window_bits: int = 15

    def response_header(self) -> bytes:
        """The ``Sec-WebSocket-Extensions`` value accepting this configuration."""
        parts = ["permessage-deflate"]
        if self.server_no_context_takeover:
            parts.append("server_no_context_takeover")
        if self.client_no_context_takeover:
            parts.append("client_no_context_takeover")
        if self.server_max_window_bits != 15:
            parts.append(f"server_max_window_bits={self.server_max_window_bits}")
        if self.client_max_window_bits != 15:
            parts.append(f"client_max_window_bits={self.client_max_window_bits}")
        return "; ".join(parts).encode("ascii")


def _parse_offer(params: list[str]) -> Deflate | None:
    seen: set[str] = set()
    flags: set[str] = set()
    bits: dict[str, int] = {}
    for param in params:
        name, _, value = param.partition("=")
        name, value = name.strip().lower(), value.strip().strip('"')
        if name in seen:
            return None
        seen.add(name)
        if name in ("server_no_context_takeover", "client_no_context_takeover"):
            if value:
                return None
            flags.add(name)
        elif name == "server_max_window_bits":
            if not value.isdigit() or not 8 <= int(value) <= 15:
                return None
            bits[name] = int(value)
        elif name == "client_max_window_bits":
            # Without a value the client merely says it supports the parameter.
            if value and (not value.isdigit() or not 8 <= int(value) <= 15):
                return None
            bits[name] = int(value) if value else 15
        else:
            return None
    return Deflate(
        server_no_context_takeover="server_no_context_takeover" in flags,
        client_no_context_takeover="client_no_context_takeover" in flags,
        server_max_window_bits=bits.get("server_max_window_bits", 15),
        client_max_window_bits=bits.get("client_max_window_bits", 15),
    )


def negotiate_deflate(header_values: list[bytes]) -> Deflate | None:
    """Accept the first valid permessage-deflate offer among the client's extensions."""
    for header in header_values:
        for offer in header.decode("latin-1").split(","):
            name, *params = [part.strip() for part in offer.split(";")]
            if name.lower() == "permessage-deflate":
                accepted = _parse_offer(params)
                if accepted is not None:
                    return accepted
    return None


class DeflateCodec:
    """One connection's compressor and decompressor for a negotiated :class:`Deflate`."""

    __slots__ = ("_deflater", "_inflater", "params")

    def __init__(self, params: Deflate) -> None:
        self.params = params
        self._inflater = zlib.decompressobj(-15)
        self._deflater = self._new_deflater()

    def _new_deflater(self) -> zlib._Compress:
        bits = max(9, self.params.server_max_window_bits)
        return zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -bits)

    def inflate(self, payload: bytes, fin: bool, limit: int) -> bytes:
        """Decompress one frame's payload (``fin``: the message's last frame).

        :param limit: the most bytes the message may still grow by, plus one
            (0: unlimited); reaching it fails with 1009 (Rule 1).
        :raises ProtocolError: 1007 for corrupt data, 1009 past the limit.
        """
        inflater = self._inflater
        try:
            data = inflater.decompress(payload, limit)
            if fin and not (limit and len(data) >= limit):
                data += inflater.decompress(_DEFLATE_TAIL, limit - len(data) if limit else 0)
        except zlib.error:
            raise ProtocolError(1007, "invalid compressed data") from None
        if limit and (len(data) >= limit or inflater.unconsumed_tail):
            raise ProtocolError(1009, "message too large once decompressed")
        if fin and self.params.client_no_context_takeover:
            self._inflater = zlib.decompressobj(-15)
        return data

    def compress(self, payload: bytes) -> bytes:
        """One message's payload, compressed as RFC 7692 §7.2.1 sends it."""
        deflater = self._deflater
        compressed = deflater.compress(payload) + deflater.flush(zlib.Z_SYNC_FLUSH)
        if compressed.endswith(_DEFLATE_TAIL):
            compressed = compressed[:-4]
        if self.params.server_no_context_takeover:
            self._deflater = self._new_deflater()
        return compressed or b"\x00"
