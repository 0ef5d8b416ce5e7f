"""WebSocket frames (RFC 6455 §5): the events the engine yields, masking and framing.

The pure pieces under :class:`~daphne._asgi.ws_engine.WebSocketEngine`: the
event types, the protocol error the engine turns into :class:`Failed`, the
close-code registry, client-payload unmasking (native when autobahn's NVX
masker is built, for large payloads), server frame building and the close
frame's payload.  No state: the engine owns every connection's.

Covered by ``tests/unit/test_ws_engine.py`` and the Autobahn|Testsuite run
(``tests/conformance/test_autobahn_fast.py``).
"""

from __future__ import annotations

import codecs
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONTINUATION",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "Closed",
    "Event",
    "Failed",
    "Message",
    "Ping",
    "Pong",
    "ProtocolError",
    "build_frame",
    "close_payload",
    "parse_close",
    "refuse_held_surrogate",
    "unmask",
    "valid_close_code",
]

OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


@dataclass(frozen=True, slots=True)
class Message:
    """A complete data message: ``str`` for text, ``bytes`` for binary."""

    data: str | bytes


@dataclass(frozen=True, slots=True)
class Ping:
    payload: bytes


@dataclass(frozen=True, slots=True)
class Pong:
    payload: bytes


@dataclass(frozen=True, slots=True)
class Closed:
    """The peer sent a close frame (code 1005 when it carried none)."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Failed:
    """The peer broke the protocol; send a close with ``code`` and drop the connection."""

    code: int
    reason: str


Event = Message | Ping | Pong | Closed | Failed


class ProtocolError(Exception):
    """The peer broke the protocol: the engine fails the connection with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def valid_close_code(code: int) -> bool:
    """Codes that may appear in a close frame (RFC 6455 §7.4, IANA registry)."""
    return code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014) or (
        3000 <= code <= 4999
    )


def parse_close(payload: bytes) -> Closed:
    """The event of a close frame's (unmasked) payload (RFC 6455 §5.5.1, §7.1.5-6)."""
    if len(payload) == 1:
        raise ProtocolError(1002, "close frame with a one-byte payload")
    code, reason = 1005, ""
    if payload:
        (code,) = struct.unpack("!H", payload[:2])
        if not valid_close_code(code):
            raise ProtocolError(1002, f"invalid close code {code}")
        try:
            reason = payload[2:].decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError(1007, "close reason is not UTF-8") from None
    return Closed(code, reason)


def close_payload(code: int | None, reason: str) -> bytes:
    """A close frame's payload: none for ``code`` None or 1005, else the code and as
    much of ``reason`` as fits (control frames carry at most 125 bytes)."""
    if code is None or code == 1005:
        return b""
    encoded = reason.encode("utf-8")
    # 2 bytes for the code, 123 of reason, cut at a character boundary.
    while len(encoded) > 123:
        reason = reason[:-1]
        encoded = reason.encode("utf-8")
    return struct.pack("!H", code) + encoded


#: Payloads from this size up are unmasked by autobahn's native (NVX) masker:
#: it is ~3x faster at 4 KiB and ~5x at 1 MiB than the big-integer XOR below,
#: which wins under ~1 KiB (measured; see the notes of the change).
_NATIVE_MASK_FROM = 1024
#: The native unmasker, looked up on first use (``_masker_loaded``); None: not built.
_native_unmask: Callable[[bytes | bytearray, bytes], bytes] | None = None
_masker_loaded = False


def _load_native_masker() -> Callable[[bytes | bytearray, bytes], bytes] | None:
    """An unmasker on autobahn's compiled NVX masker if it is built, else None.

    autobahn builds it as the top-level CFFI module ``_nvx_xormasker``.  It is used
    directly: importing it takes about a millisecond, where ``autobahn.websocket``
    (autobahn's Python wrapper) takes about 0.1 s and loads pyOpenSSL and cryptography
    (13 MiB) in a server that started without them (``daphne._twisted_tls``).
    ``AUTOBAHN_USE_NVX=0`` turns it off, as it does in autobahn.
    """
    global _native_unmask, _masker_loaded
    if not _masker_loaded:
        _masker_loaded = True
        if os.environ.get("AUTOBAHN_USE_NVX", "").strip().lower() in ("0", "no", "false"):
            return None
        try:
            from _nvx_xormasker import ffi, lib
        except ImportError:
            return None

        def native_unmask(payload: bytes | bytearray, mask: bytes) -> bytes:
            data = bytearray(payload)
            masker = lib.nvx_xormask_new(mask)  # its best implementation (SSE2 where built)
            try:
                lib.nvx_xormask_process(masker, ffi.from_buffer(data), len(data))
            finally:
                lib.nvx_xormask_free(masker)
            return bytes(data)

        _native_unmask = native_unmask
    return _native_unmask


def unmask(payload: bytes | bytearray, mask: bytes | bytearray) -> bytes:
    """``payload`` XOR the repeated 4-byte ``mask`` (RFC 6455 §5.3)."""
    length = len(payload)
    if not length:
        return b""
    if length >= _NATIVE_MASK_FROM:
        native = _load_native_masker()
        if native is not None:
            # The native masker takes the key as bytes only (a bytearray slice raises).
            return native(payload, bytes(mask))
    key = int.from_bytes((mask * ((length >> 2) + 1))[:length], "little")
    return (int.from_bytes(payload, "little") ^ key).to_bytes(length, "little")


def build_frame(opcode: int, payload: bytes, rsv1: bool = False) -> bytes:
    """A whole unmasked (server) frame."""
    first = 0x80 | opcode | (0x40 if rsv1 else 0)
    length = len(payload)
    if length < 126:
        return struct.pack("!BB", first, length) + payload
    if length < 65536:
        return struct.pack("!BBH", first, 126, length) + payload
    return struct.pack("!BBQ", first, 127, length) + payload


def refuse_held_surrogate(decoder: codecs.IncrementalDecoder) -> None:
    """Fail on ED A0..ED BF now: CPython's decoder holds that surrogate prefix (never
    valid UTF-8) until a third byte comes, where it fails every other bad byte at once."""
    pending = decoder.getstate()[0]
    if len(pending) > 1 and pending[0] == 0xED and pending[1] >= 0xA0:
        raise ProtocolError(1007, "invalid UTF-8 in text message")
