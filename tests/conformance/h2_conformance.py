"""An h2spec-equivalent HTTP/2 conformance runner, in Python.

h2spec (https://github.com/summerwind/h2spec) cannot be installed here, so this
module re-implements its 146 default cases (``generic/*``, ``http2/*`` for
RFC 7540 sections 3.5 to 8.2, ``hpack/*``) from their published definitions:
every case has the h2spec id, sends the same frames in the same order (one
write per frame, like h2spec's framer) and judges the answer with the same
rules.  The one strict case (``http2/5.4.1/2``) runs only with ``--strict``.

How h2spec judges, and so how this runner does:

* Every case opens its own connection.  Most start with h2spec's handshake:
  the preface, a SETTINGS frame (INITIAL_WINDOW_SIZE=65535), then frames are
  read until both the server's SETTINGS (which is acknowledged) and the ACK
  of ours arrived, everything else being dropped.
* Reading waits for each frame at most ``timeout`` seconds (h2spec's default
  is 2 s).  A timeout, end of stream or read error ends the connection for
  the verifier: nothing more is read.
* End of stream exactly at a frame boundary is "connection closed".  End of
  stream inside a frame (say an HTTP/1.1 ``400`` read as a frame header) is
  an error, and so is a TCP reset: h2spec's check for ECONNRESET never
  matches the wrapped error Go returns, so released h2spec binaries report
  "read: connection reset by peer" as a failure.  Over TLS an EOF without
  close_notify at a record boundary counts as closed, as in Go.
* ``connection error`` (VerifyConnectionError) passes on a GOAWAY with one of
  the expected codes or on the connection being closed; a GOAWAY with another
  code is noted and reading goes on (so GOAWAY(other) then close passes).
* ``stream error`` (VerifyStreamError) passes like a connection error, and also
  on a RST_STREAM (any stream) with one of the expected codes.
* ``stream close`` (VerifyStreamClose) passes on DATA or HEADERS with
  END_STREAM, or RST_STREAM(NO_ERROR).
* Waiting for a frame type (VerifyHeadersFrame, VerifySettingsFrameWithAck,
  VerifyPingFrameWithAck, ...) looks at the *first* frame of that type only.
* DATA received is answered with WINDOW_UPDATEs the way h2spec does (only
  once its own view of a 65535 window is used up).

Usage::

    python tests/conformance/h2_conformance.py --host 127.0.0.1 --port N [--tls]
        [--case PREFIX[,PREFIX...]] [--timeout 2] [--jobs 1] [--strict] [-v]
        [--strict-codes] [--list]

One line per case (PASS/FAIL/SKIP with the reason), then
``h2 conformance: passed=X failed=Y total=Z``; exit status 1 on any failure.
``-v`` logs every frame sent and received.  ``--strict-codes`` goes beyond
h2spec: a GOAWAY or RST_STREAM with the wrong error code fails the case even
when the connection is closed afterwards (h2spec passes such a close).
The server must answer GET/HEAD/POST on ``/`` with a non-empty body of at least
5 bytes (``apps.functional:app`` from ``tests/`` does).
"""

from __future__ import annotations

import argparse
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import hpack
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DEFAULT_WINDOW_SIZE = 65535
DEFAULT_FRAME_SIZE = 16384
MAX_HEADER_LEN = 4000  # h2spec's --max-header-length default

# Frame types.
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS = 0x0, 0x1, 0x2, 0x3, 0x4
PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0x5, 0x6, 0x7, 0x8, 0x9
FRAME_NAMES = {
    DATA: "DATA",
    HEADERS: "HEADERS",
    PRIORITY: "PRIORITY",
    RST_STREAM: "RST_STREAM",
    SETTINGS: "SETTINGS",
    PUSH_PROMISE: "PUSH_PROMISE",
    PING: "PING",
    GOAWAY: "GOAWAY",
    WINDOW_UPDATE: "WINDOW_UPDATE",
    CONTINUATION: "CONTINUATION",
}

# Flags.
END_STREAM = ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20

# Error codes.
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR = 0x0, 0x1, 0x2, 0x3
SETTINGS_TIMEOUT, STREAM_CLOSED, FRAME_SIZE_ERROR, REFUSED_STREAM = 0x4, 0x5, 0x6, 0x7
CANCEL, COMPRESSION_ERROR = 0x8, 0x9
ERROR_NAMES = {
    0x0: "NO_ERROR",
    0x1: "PROTOCOL_ERROR",
    0x2: "INTERNAL_ERROR",
    0x3: "FLOW_CONTROL_ERROR",
    0x4: "SETTINGS_TIMEOUT",
    0x5: "STREAM_CLOSED",
    0x6: "FRAME_SIZE_ERROR",
    0x7: "REFUSED_STREAM",
    0x8: "CANCEL",
    0x9: "COMPRESSION_ERROR",
    0xA: "CONNECT_ERROR",
    0xB: "ENHANCE_YOUR_CALM",
    0xC: "INADEQUATE_SECURITY",
    0xD: "HTTP_1_1_REQUIRED",
}

# Settings.
HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS = 0x1, 0x2, 0x3
INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE = 0x4, 0x5, 0x6

MAX_WINDOW = 2**31 - 1
USER_AGENT_INDEX = 58  # static table index of "user-agent"


def error_name(code: int) -> str:
    return ERROR_NAMES.get(code, f"0x{code:x}")


# -- results ---------------------------------------------------------------------


class CaseFailed(Exception):
    """The server's behaviour does not match what the case expects."""

    def __init__(self, expected: Iterable[str], actual: str) -> None:
        self.expected = list(expected)
        self.actual = actual
        super().__init__(f"expected {' or '.join(self.expected)}; actual: {actual}")


class CaseSkipped(Exception):
    """The case does not apply to this server (as h2spec's ErrSkipped)."""


class CaseError(Exception):
    """The case could not run (dial or handshake failed)."""


@dataclass
class Result:
    case_id: str
    description: str
    status: str  # "PASS", "FAIL" or "SKIP"
    detail: str = ""
    duration: float = 0.0

    def line(self) -> str:
        text = f"{self.status} {self.case_id}: {self.description}"
        return f"{text} -- {self.detail}" if self.detail else text


# -- events ----------------------------------------------------------------------


@dataclass
class Event:
    """Something read from the connection: a frame, or why reading stopped."""

    kind: str  # "frame", "closed", "timeout" or "error"
    frame_type: int = -1
    flags: int = 0
    stream_id: int = 0
    payload: bytes = b""
    message: str = ""

    @property
    def is_frame(self) -> bool:
        return self.kind == "frame"

    def is_type(self, frame_type: int) -> bool:
        return self.kind == "frame" and self.frame_type == frame_type

    @property
    def length(self) -> int:
        return len(self.payload)

    @property
    def error_code(self) -> int | None:
        if self.is_type(RST_STREAM) and len(self.payload) >= 4:
            return struct.unpack(">I", self.payload[:4])[0]
        if self.is_type(GOAWAY) and len(self.payload) >= 8:
            return struct.unpack(">I", self.payload[4:8])[0]
        return None

    @property
    def stream_ended(self) -> bool:
        return self.frame_type in (DATA, HEADERS) and bool(self.flags & END_STREAM)

    @property
    def ack(self) -> bool:
        return self.frame_type in (SETTINGS, PING) and bool(self.flags & ACK)

    def describe(self) -> str:
        if self.kind == "closed":
            return "Connection closed"
        if self.kind == "timeout":
            return "Timeout"
        if self.kind == "error":
            return f"Error: {self.message}"
        name = FRAME_NAMES.get(self.frame_type, f"UNKNOWN(0x{self.frame_type:x})")
        text = (
            f"{name} Frame (length:{self.length}, flags:0x{self.flags:02x}, "
            f"stream_id:{self.stream_id}"
        )
        if self.frame_type == GOAWAY and self.length >= 8:
            last = struct.unpack(">I", self.payload[:4])[0] & MAX_WINDOW
            text += f", last_stream_id:{last}, error_code:{error_name(self.error_code or 0)}"
            if self.length > 8:
                text += f", debug_data:{self.payload[8:]!r}"
        elif self.frame_type == RST_STREAM and self.error_code is not None:
            text += f", error_code:{error_name(self.error_code)}"
        elif self.frame_type == PING:
            text += f", opaque_data:{self.payload!r}"
        return text + ")"


# -- configuration and connection ---------------------------------------------------


@dataclass
class Config:
    host: str = "127.0.0.1"
    port: int = 80
    tls: bool = False
    timeout: float = 2.0
    path: str = "/"
    max_header_len: int = MAX_HEADER_LEN
    verbose: bool = False
    #: Not h2spec: a GOAWAY/RST_STREAM with a wrong error code fails the case even
    #: when the connection then closes (h2spec lets the close pass it).
    strict_codes: bool = False

    @property
    def authority(self) -> str:
        default = 443 if self.tls else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


def common_headers(config: Config) -> list[tuple[str, str]]:
    """The request h2spec sends in most cases: GET / with scheme and authority."""
    return [
        (":method", "GET"),
        (":scheme", "https" if config.tls else "http"),
        (":path", config.path),
        (":authority", config.authority),
    ]


def dummy_headers(config: Config, count: int) -> list[tuple[str, str]]:
    value = "x" * config.max_header_len
    return [(f"x-dummy{i}", value) for i in range(count)]


def with_method(headers: list[tuple[str, str]], method: str) -> list[tuple[str, str]]:
    return [(":method", method) if name == ":method" else (name, value) for name, value in headers]


def _describe_bytes(data: bytes) -> str:
    """A frame's header fields when ``data`` is one whole frame, else the raw bytes."""
    if len(data) >= 9 and int.from_bytes(data[:3], "big") == len(data) - 9:
        event = Event("frame", data[3], data[4], int.from_bytes(data[5:9], "big"), data[9:])
        return event.describe()
    return f"raw {data[:40]!r}{'...' if len(data) > 40 else ''} ({len(data)} bytes)"


def frame(frame_type: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    """One frame, exactly as given (no validation: invalid frames are the point)."""
    header = struct.pack(">I", len(payload))[1:] + struct.pack(">BBI", frame_type, flags, stream_id)
    return header + payload


class Conn:
    """One connection to the server, with h2spec's reading and writing behaviour."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.timeout = config.timeout
        self.closed = False
        self.settings: dict[int, int] = {}
        self.window: dict[int, int] = {0: DEFAULT_WINDOW_SIZE}
        self.encoder = hpack.Encoder()
        self._buffer = bytearray()
        self.label = ""  # the case id, for --verbose
        try:
            raw = socket.create_connection((config.host, config.port), timeout=config.timeout)
        except OSError as error:
            raise CaseError(f"dial: {error}") from None
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if config.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            context.set_alpn_protocols(["h2", "h2-16"])
            try:
                sock = context.wrap_socket(raw, server_hostname=config.host)
            except (OSError, ssl.SSLError) as error:
                raw.close()
                raise CaseError(f"TLS handshake: {error}") from None
            if sock.selected_alpn_protocol() not in ("h2", "h2-16"):
                sock.close()
                raise CaseError("Protocol negotiation failed (no h2 by ALPN)")
            self.sock: socket.socket = sock
        else:
            self.sock = raw

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    # -- writing (errors ignored, as h2spec does) --

    def log(self, text: str) -> None:
        if self.config.verbose:
            print(f"    [{self.label}] {text}", file=sys.stderr, flush=True)

    def send(self, data: bytes) -> None:
        if self.config.verbose:
            self.log(f"send {_describe_bytes(data)}")
        try:
            self.sock.sendall(data)
        except (OSError, ValueError):
            pass

    def write_frame(self, frame_type: int, flags: int, stream_id: int, payload: bytes) -> None:
        self.send(frame(frame_type, flags, stream_id, payload))

    def encode_headers(self, headers: list[tuple[str, str]]) -> bytes:
        """HPACK with this connection's encoder (its dynamic table carries over)."""
        return self.encoder.encode(headers)

    def write_data(
        self, stream_id: int, end_stream: bool, data: bytes, pad: bytes | None = None
    ) -> None:
        flags = END_STREAM if end_stream else 0
        if pad is not None:
            flags |= PADDED
            data = bytes([len(pad)]) + data + pad
        self.write_frame(DATA, flags, stream_id, data)

    def write_headers(
        self,
        stream_id: int,
        block: bytes,
        end_stream: bool = True,
        end_headers: bool = True,
        pad_length: int = 0,
        priority: tuple[int, bool, int] | None = None,
    ) -> None:
        flags = (END_STREAM if end_stream else 0) | (END_HEADERS if end_headers else 0)
        payload = b""
        if pad_length:
            flags |= PADDED
            payload += bytes([pad_length])
        if priority is not None:
            dependency, exclusive, weight = priority
            flags |= PRIORITY_FLAG
            payload += struct.pack(">IB", dependency | (0x80000000 if exclusive else 0), weight)
        payload += block + b"\x00" * pad_length
        self.write_frame(HEADERS, flags, stream_id, payload)

    def write_priority(
        self, stream_id: int, dependency: int = 0, exclusive: bool = False, weight: int = 255
    ) -> None:
        value = dependency | (0x80000000 if exclusive else 0)
        self.write_frame(PRIORITY, 0, stream_id, struct.pack(">IB", value, weight))

    def write_rst_stream(self, stream_id: int, code: int) -> None:
        self.write_frame(RST_STREAM, 0, stream_id, struct.pack(">I", code))

    def write_settings(self, *settings: tuple[int, int]) -> None:
        payload = b"".join(struct.pack(">HI", ident, value) for ident, value in settings)
        self.write_frame(SETTINGS, 0, 0, payload)

    def write_settings_ack(self) -> None:
        self.write_frame(SETTINGS, ACK, 0, b"")

    def write_push_promise(
        self, stream_id: int, promised: int, block: bytes, end_headers: bool = True
    ) -> None:
        flags = END_HEADERS if end_headers else 0
        self.write_frame(PUSH_PROMISE, flags, stream_id, struct.pack(">I", promised) + block)

    def write_ping(self, ack: bool, data: bytes) -> None:
        self.write_frame(PING, ACK if ack else 0, 0, data.ljust(8, b"\x00")[:8])

    def write_goaway(self, last_stream_id: int, code: int, debug: bytes = b"") -> None:
        payload = struct.pack(">II", last_stream_id & MAX_WINDOW, code) + debug
        self.write_frame(GOAWAY, 0, 0, payload)

    def write_window_update(self, stream_id: int, increment: int) -> None:
        self.write_frame(WINDOW_UPDATE, 0, stream_id, struct.pack(">I", increment))

    def write_continuation(self, stream_id: int, end_headers: bool, block: bytes) -> None:
        self.write_frame(CONTINUATION, END_HEADERS if end_headers else 0, stream_id, block)

    # -- reading --

    def _fill(self, needed: int, deadline: float) -> str | None:
        """Buffer ``needed`` bytes; None, or why not: "eof", "timeout" or an error text."""
        while len(self._buffer) < needed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            try:
                self.sock.settimeout(remaining)
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return "timeout"
            except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
                return "eof"  # Go's TLS reports io.EOF at a record boundary
            except ConnectionResetError:
                return "read: connection reset by peer"
            except (OSError, ValueError) as error:
                return f"read: {error}"
            if not chunk:
                return "eof"
            self._buffer += chunk
        return None

    def _read_frame(self, deadline: float) -> Event:
        at_boundary = not self._buffer
        problem = self._fill(9, deadline)
        if problem is None:
            length = int.from_bytes(self._buffer[:3], "big")
            problem = self._fill(9 + length, deadline)
            if problem == "eof":
                problem = "unexpected EOF"  # inside a frame
        if problem == "eof":
            return Event("closed") if at_boundary else Event("error", message="unexpected EOF")
        if problem == "timeout":
            return Event("timeout")
        if problem is not None:
            return Event("error", message=problem)
        length = int.from_bytes(self._buffer[:3], "big")
        frame_type, flags, stream_id = struct.unpack(">BBI", self._buffer[3:9])
        payload = bytes(self._buffer[9 : 9 + length])
        del self._buffer[: 9 + length]
        return Event("frame", frame_type, flags, stream_id & MAX_WINDOW, payload)

    def wait_event(self) -> Event:
        """The next frame, waiting at most ``timeout``; anything else ends reading."""
        if self.closed:
            return Event("closed")
        event = self._read_frame(time.monotonic() + self.timeout)
        self.log(f"recv {event.describe()}")
        if not event.is_frame:
            self.closed = True
            return event
        if event.frame_type == DATA:
            self._update_window(event)
        return event

    def _update_window(self, event: Event) -> None:
        # Like h2spec: only its own view of a default 65535 window decides.
        for stream_id in (event.stream_id, 0):
            window = self.window.setdefault(stream_id, DEFAULT_WINDOW_SIZE) - event.length
            if window <= 0:
                increment = DEFAULT_WINDOW_SIZE - window
                self.write_window_update(stream_id, increment)
                window += increment
            self.window[stream_id] = window

    def wait_event_by_type(self, frame_type: int) -> tuple[Event | None, bool]:
        """The first frame of ``frame_type``; else (the last event seen, False)."""
        last: Event | None = None
        while not self.closed:
            event = self.wait_event()
            if event.is_type(frame_type):
                return event, True
            if event.kind == "timeout" and last is not None:
                break
            last = event
        return last, False

    def handshake(self) -> None:
        """Preface and SETTINGS exchange; raises CaseError if it does not complete."""
        self.send(PREFACE)
        self.write_settings((INITIAL_WINDOW_SIZE, DEFAULT_WINDOW_SIZE))
        deadline = time.monotonic() + self.timeout
        local = remote = False
        while not (local and remote):
            event = self._read_frame(deadline)
            self.log(f"recv {event.describe()} (handshake)")
            if event.kind == "timeout":
                raise CaseError("handshake: Timeout")
            if not event.is_frame:
                raise CaseError(f"handshake: {event.describe()}")
            if event.frame_type != SETTINGS:
                continue
            if event.ack:
                local = True
            else:
                remote = True
                payload = event.payload
                for offset in range(0, len(payload) - len(payload) % 6, 6):
                    ident, value = struct.unpack(">HI", payload[offset : offset + 6])
                    self.settings[ident] = value
                self.write_settings_ack()

    def max_frame_size(self) -> int:
        return self.settings.get(MAX_FRAME_SIZE, DEFAULT_FRAME_SIZE)


# -- verifiers (h2spec's rules) -----------------------------------------------------


def _describe(event: Event | None) -> str:
    return event.describe() if event is not None else "nothing"


def verify_connection_close(conn: Conn) -> None:
    actual: Event | None = None
    while not conn.closed:
        event = conn.wait_event()
        if event.kind == "closed":
            return
        if event.kind != "timeout" or actual is None:
            actual = event
    raise CaseFailed(["Connection closed"], _describe(actual))


def _closed_passes(conn: Conn, wrong: Event | None) -> bool:
    """A close passes an error check, unless --strict-codes and a wrong code came first."""
    return wrong is None or not conn.config.strict_codes


def verify_connection_error(conn: Conn, *codes: int) -> None:
    actual: Event | None = None
    wrong: Event | None = None
    while not conn.closed:
        event = conn.wait_event()
        if event.kind == "closed" and _closed_passes(conn, wrong):
            return
        if event.is_type(GOAWAY):
            if event.error_code in codes:
                return
            wrong = wrong or event
        if event.kind != "timeout" or actual is None:
            actual = event
    if wrong is not None and actual is not wrong:
        actual = wrong
    expected = [f"GOAWAY Frame (Error Code: {error_name(code)})" for code in codes]
    raise CaseFailed([*expected, "Connection closed"], _describe(actual))


def verify_stream_error(conn: Conn, *codes: int) -> None:
    actual: Event | None = None
    wrong: Event | None = None
    while not conn.closed:
        event = conn.wait_event()
        if event.kind == "closed" and _closed_passes(conn, wrong):
            return
        if event.is_type(GOAWAY) or event.is_type(RST_STREAM):
            if event.error_code in codes:
                return
            wrong = wrong or event
        if event.kind != "timeout" or actual is None:
            actual = event
    if wrong is not None and actual is not wrong:
        actual = wrong
    expected = []
    for code in codes:
        expected += [
            f"GOAWAY Frame (Error Code: {error_name(code)})",
            f"RST_STREAM Frame (Error Code: {error_name(code)})",
        ]
    raise CaseFailed([*expected, "Connection closed"], _describe(actual))


def verify_stream_close(conn: Conn) -> None:
    actual: Event | None = None
    while not conn.closed:
        event = conn.wait_event()
        if event.is_frame and event.stream_ended:
            return
        if event.is_type(RST_STREAM) and event.error_code == NO_ERROR:
            return
        if event.kind != "timeout" or actual is None:
            actual = event
    raise CaseFailed(["Stream closed"], _describe(actual))


def verify_event_type(conn: Conn, frame_type: int) -> Event:
    event, passed = conn.wait_event_by_type(frame_type)
    if not passed or event is None:
        raise CaseFailed([f"{FRAME_NAMES[frame_type]} Frame"], _describe(event))
    return event


def verify_headers_frame(conn: Conn, stream_id: int) -> None:
    event, passed = conn.wait_event_by_type(HEADERS)
    if not passed or event is None or event.stream_id != stream_id:
        raise CaseFailed([f"HEADERS Frame (stream_id:{stream_id})"], _describe(event))


def verify_settings_ack(conn: Conn) -> None:
    event, passed = conn.wait_event_by_type(SETTINGS)
    if not passed or event is None or not event.ack:
        raise CaseFailed(["SETTINGS Frame (length:0, flags:0x01, stream_id:0)"], _describe(event))


def verify_ping_ack(conn: Conn, data: bytes) -> None:
    data = data.ljust(8, b"\x00")
    event, passed = conn.wait_event_by_type(PING)
    if not passed or event is None or not event.ack or event.payload != data:
        raise CaseFailed(
            [f"PING Frame (length:8, flags:0x01, stream_id:0, opaque_data:{data!r})"],
            _describe(event),
        )


def verify_ping_ack_or_close(conn: Conn, data: bytes) -> None:
    data = data.ljust(8, b"\x00")
    actual: Event | None = None
    while not conn.closed:
        event = conn.wait_event()
        if event.kind == "closed":
            return
        if event.is_type(PING) and event.ack and event.payload == data:
            return
        if event.kind != "timeout" or actual is None:
            actual = event
    raise CaseFailed(
        ["Connection closed", f"PING Frame (length:8, flags:0x01, opaque_data:{data!r})"],
        _describe(actual),
    )


def verify_data_length(conn: Conn, stream_id: int, length: int) -> None:
    """The first DATA frame must carry exactly ``length`` bytes."""
    event, passed = conn.wait_event_by_type(DATA)
    if not passed or event is None or event.length != length:
        raise CaseFailed(
            [f"DATA Frame (length:{length}, flags:0x00, stream_id:{stream_id})"], _describe(event)
        )


def server_data_length(config: Config) -> int:
    """Total DATA length of the response to GET / (h2spec's ServerDataLength)."""
    conn = Conn(config)
    conn.label = "server data length"
    try:
        conn.handshake()
        conn.write_headers(1, conn.encode_headers(common_headers(config)))
        total = 0
        while not conn.closed:
            event = conn.wait_event()
            if event.is_type(DATA):
                total += event.length
            if event.is_frame and event.stream_ended:
                return total
        raise CaseError("Unable to get server data length")
    finally:
        conn.close()


# -- HPACK pieces the cases send by hand -------------------------------------------


def hpack_integer(value: int, prefix_bits: int, first_byte: int) -> bytes:
    """An HPACK integer with ``first_byte``'s high bits as the representation pattern."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte | value])
    out = bytearray([first_byte | limit])
    value -= limit
    while value >= 128:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


def huffman_bits(symbols: Iterable[int]) -> tuple[int, int]:
    """Concatenated Huffman codes of ``symbols`` (256 is EOS): (bits, bit count)."""
    bits = count = 0
    for symbol in symbols:
        bits = (bits << REQUEST_CODES_LENGTH[symbol]) | REQUEST_CODES[symbol]
        count += REQUEST_CODES_LENGTH[symbol]
    return bits, count


def huffman_string(symbols: Iterable[int], pad_bit: int = 1, extra: bytes = b"") -> bytes:
    """A Huffman string literal, padded with ``pad_bit`` bits, plus ``extra`` bytes."""
    bits, count = huffman_bits(symbols)
    padding = -count % 8
    bits = (bits << padding) | (((1 << padding) - 1) if pad_bit else 0)
    data = bits.to_bytes((count + padding) // 8, "big") + extra
    return hpack_integer(len(data), 7, 0x80) + data


def string_literal(text: str, huffman: bool) -> bytes:
    raw = text.encode("ascii")
    if huffman:
        return huffman_string(raw)
    return hpack_integer(len(raw), 7, 0x00) + raw


def literal_field(
    kind: str, name: str | int, value: str, huffman: bool = False, index_bits: int = 4
) -> bytes:
    """A literal header field: ``kind`` is "incremental", "without" or "never" indexing;
    ``name`` is a static-table index or a new name."""
    pattern, prefix = {"incremental": (0x40, 6), "without": (0x00, 4), "never": (0x10, 4)}[kind]
    if isinstance(name, int):
        head = hpack_integer(name, prefix, pattern)
    else:
        head = bytes([pattern]) + string_literal(name, huffman)
    return head + string_literal(value, huffman)


def table_size_update(size: int) -> bytes:
    return hpack_integer(size, 5, 0x20)


# -- the cases ---------------------------------------------------------------------


@dataclass
class Case:
    case_id: str
    description: str
    run: Callable[[Config, Conn], None]
    strict: bool = False
    doc: str = field(default="", repr=False)


CASES: list[Case] = []


def case(strict: bool = False) -> Callable[[Callable[[Config, Conn], None]], Callable]:
    """Register a case; its docstring's first line is "<h2spec id>: <description>"."""

    def register(function: Callable[[Config, Conn], None]) -> Callable:
        first = (function.__doc__ or "").strip().splitlines()[0]
        case_id, _, description = first.partition(": ")
        CASES.append(Case(case_id, description.strip(), function, strict, function.__doc__ or ""))
        return function

    return register


def _get(
    conn: Conn,
    config: Config,
    stream_id: int = 1,
    *,
    end_stream: bool = True,
    end_headers: bool = True,
    pad_length: int = 0,
    priority: tuple[int, bool, int] | None = None,
) -> None:
    """HEADERS with h2spec's common GET request (END_STREAM and END_HEADERS by default)."""
    block = conn.encode_headers(common_headers(config))
    conn.write_headers(stream_id, block, end_stream, end_headers, pad_length, priority)


def _post(
    conn: Conn,
    config: Config,
    extra: Iterable[tuple[str, str]] = (),
    *,
    end_stream: bool = False,
    end_headers: bool = True,
) -> None:
    """HEADERS for POST / on stream 1 (END_STREAM not set by default)."""
    headers = with_method(common_headers(config), "POST") + list(extra)
    conn.write_headers(1, conn.encode_headers(headers), end_stream, end_headers)


def _dummy_block(conn: Conn, config: Config) -> bytes:
    return conn.encode_headers(dummy_headers(config, 1))


ZERO_PING = b"\x00" * 8
H2SPEC_PING = b"h2spec\x00\x00"
UNKNOWN_FRAME = (
    b"\x00\x00\x08\x16\x00\x00\x00\x00\x00",
    b"\x00" * 8,
)  # type 0x16, sent in 2 writes


# generic/1 -- Starting HTTP/2


def _client_preface_case(config: Config, conn: Conn) -> None:
    conn.send(PREFACE)
    conn.write_settings((INITIAL_WINDOW_SIZE, DEFAULT_WINDOW_SIZE))
    event = conn.wait_event()
    if not (event.is_type(SETTINGS) and not event.ack):
        raise CaseFailed(["SETTINGS Frame (flags:0x00)"], event.describe())


@case()
def generic_1_1(config: Config, conn: Conn) -> None:
    """generic/1/1: Sends a client connection preface

    The first frame the server sends must be its SETTINGS (not an ACK)."""
    _client_preface_case(config, conn)


# generic/2 -- Streams and Multiplexing


@case()
def generic_2_1(config: Config, conn: Conn) -> None:
    """generic/2/1: Sends a PRIORITY frame on idle stream

    PRIORITY on idle stream 1, then PING: the PING must be acknowledged."""
    conn.handshake()
    conn.write_priority(1, 0, False, 255)
    conn.write_ping(False, ZERO_PING)
    verify_ping_ack(conn, ZERO_PING)


@case()
def generic_2_2(config: Config, conn: Conn) -> None:
    """generic/2/2: Sends a WINDOW_UPDATE frame on half-closed (remote) stream

    INITIAL_WINDOW_SIZE=0, GET on stream 1, WINDOW_UPDATE(1, 1): a DATA frame must come."""
    conn.handshake()
    conn.write_settings((INITIAL_WINDOW_SIZE, 0))
    _get(conn, config)
    conn.write_window_update(1, 1)
    verify_event_type(conn, DATA)


@case()
def generic_2_3(config: Config, conn: Conn) -> None:
    """generic/2/3: Sends a PRIORITY frame on half-closed (remote) stream

    As generic/2/2 with a PRIORITY frame for stream 1 before the WINDOW_UPDATE."""
    conn.handshake()
    conn.write_settings((INITIAL_WINDOW_SIZE, 0))
    _get(conn, config)
    conn.write_priority(1, 0, False, 255)
    conn.write_window_update(1, 1)
    verify_event_type(conn, DATA)


@case()
def generic_2_4(config: Config, conn: Conn) -> None:
    """generic/2/4: Sends a RST_STREAM frame on half-closed (remote) stream

    GET on stream 1, RST_STREAM(CANCEL), PING: the PING must be acknowledged."""
    conn.handshake()
    _get(conn, config)
    conn.write_rst_stream(1, CANCEL)
    conn.write_ping(False, ZERO_PING)
    verify_ping_ack(conn, ZERO_PING)


@case()
def generic_2_5(config: Config, conn: Conn) -> None:
    """generic/2/5: Sends a PRIORITY frame on closed stream

    GET on stream 1, wait for the response to end, PRIORITY(1), PING: acknowledged."""
    conn.handshake()
    _get(conn, config)
    verify_stream_close(conn)
    conn.write_priority(1, 0, False, 255)
    conn.write_ping(False, ZERO_PING)
    verify_ping_ack(conn, ZERO_PING)


# generic/3.x -- Frame Definitions


@case()
def generic_3_1_1(config: Config, conn: Conn) -> None:
    """generic/3.1/1: Sends a DATA frame

    POST with one DATA frame: the response HEADERS must come on stream 1."""
    conn.handshake()
    _post(conn, config)
    conn.write_data(1, True, b"test")
    verify_headers_frame(conn, 1)


@case()
def generic_3_1_2(config: Config, conn: Conn) -> None:
    """generic/3.1/2: Sends multiple DATA frames

    POST with two DATA frames: the response HEADERS must come on stream 1."""
    conn.handshake()
    _post(conn, config)
    conn.write_data(1, False, b"test")
    conn.write_data(1, True, b"test")
    verify_headers_frame(conn, 1)


@case()
def generic_3_1_3(config: Config, conn: Conn) -> None:
    """generic/3.1/3: Sends a DATA frame with padding

    POST with a padded DATA frame (5 bytes of padding): response HEADERS on stream 1."""
    conn.handshake()
    _post(conn, config)
    conn.write_data(1, True, b"test", pad=b"\x00" * 5)
    verify_headers_frame(conn, 1)


@case()
def generic_3_2_1(config: Config, conn: Conn) -> None:
    """generic/3.2/1: Sends a HEADERS frame

    GET: the response HEADERS must come on stream 1."""
    conn.handshake()
    _get(conn, config)
    verify_headers_frame(conn, 1)


@case()
def generic_3_2_2(config: Config, conn: Conn) -> None:
    """generic/3.2/2: Sends a HEADERS frame with padding

    GET in a HEADERS frame with 8 bytes of padding: response HEADERS on stream 1."""
    conn.handshake()
    _get(conn, config, pad_length=8)
    verify_headers_frame(conn, 1)


@case()
def generic_3_2_3(config: Config, conn: Conn) -> None:
    """generic/3.2/3: Sends a HEADERS frame with priority

    GET in a HEADERS frame with priority (weight 255): response HEADERS on stream 1."""
    conn.handshake()
    _get(conn, config, priority=(0, False, 255))
    verify_headers_frame(conn, 1)


def _priority_then_get(conn: Conn, config: Config, target: int, dep: int, excl: bool, w: int):
    conn.handshake()
    conn.write_priority(target, dep, excl, w)
    _get(conn, config)
    verify_headers_frame(conn, 1)


@case()
def generic_3_3_1(config: Config, conn: Conn) -> None:
    """generic/3.3/1: Sends a PRIORITY frame with priority 1

    PRIORITY(1, weight 0), then GET on stream 1: response HEADERS on stream 1."""
    _priority_then_get(conn, config, 1, 0, False, 0)


@case()
def generic_3_3_2(config: Config, conn: Conn) -> None:
    """generic/3.3/2: Sends a PRIORITY frame with priority 256

    PRIORITY(1, weight 255), then GET on stream 1: response HEADERS on stream 1."""
    _priority_then_get(conn, config, 1, 0, False, 255)


@case()
def generic_3_3_3(config: Config, conn: Conn) -> None:
    """generic/3.3/3: Sends a PRIORITY frame with stream dependency

    PRIORITY(3 depends on 1), then GET on stream 1: response HEADERS on stream 1."""
    _priority_then_get(conn, config, 3, 1, False, 0)


@case()
def generic_3_3_4(config: Config, conn: Conn) -> None:
    """generic/3.3/4: Sends a PRIORITY frame with exclusive

    PRIORITY(1, exclusive), then GET on stream 1: response HEADERS on stream 1."""
    _priority_then_get(conn, config, 1, 0, True, 0)


@case()
def generic_3_3_5(config: Config, conn: Conn) -> None:
    """generic/3.3/5: Sends a PRIORITY frame for an idle stream, then send a HEADER frame for a lower stream ID

    PRIORITY(3), then GET on stream 1: response HEADERS on stream 1."""
    _priority_then_get(conn, config, 3, 0, False, 255)


@case()
def generic_3_4_1(config: Config, conn: Conn) -> None:
    """generic/3.4/1: Sends a RST_STREAM frame

    GET without END_STREAM, RST_STREAM(CANCEL), PING: acknowledged."""
    conn.handshake()
    _get(conn, config, end_stream=False)
    conn.write_rst_stream(1, CANCEL)
    conn.write_ping(False, ZERO_PING)
    verify_ping_ack(conn, ZERO_PING)


@case()
def generic_3_5_1(config: Config, conn: Conn) -> None:
    """generic/3.5/1: Sends a SETTINGS frame

    SETTINGS with all six defined parameters: a SETTINGS ACK must come."""
    conn.handshake()
    conn.write_settings(
        (HEADER_TABLE_SIZE, 4096),
        (ENABLE_PUSH, 1),
        (MAX_CONCURRENT_STREAMS, 100),
        (INITIAL_WINDOW_SIZE, 65535),
        (MAX_FRAME_SIZE, 16384),
        (MAX_HEADER_LIST_SIZE, 100),
    )
    verify_settings_ack(conn)


@case()
def generic_3_7_1(config: Config, conn: Conn) -> None:
    """generic/3.7/1: Sends a PING frame

    PING: a PING ACK with the same payload must come."""
    conn.handshake()
    conn.write_ping(False, H2SPEC_PING)
    verify_ping_ack(conn, H2SPEC_PING)


@case()
def generic_3_8_1(config: Config, conn: Conn) -> None:
    """generic/3.8/1: Sends a GOAWAY frame

    GOAWAY(NO_ERROR), then PING: a PING ACK, or the connection closed."""
    conn.handshake()
    conn.write_goaway(0, NO_ERROR, b"h2spec")
    conn.write_ping(False, H2SPEC_PING)
    verify_ping_ack_or_close(conn, H2SPEC_PING)


@case()
def generic_3_9_1(config: Config, conn: Conn) -> None:
    """generic/3.9/1: Sends a WINDOW_UPDATE frame with stream ID 0

    WINDOW_UPDATE(0, 1), PING: acknowledged."""
    conn.handshake()
    conn.write_window_update(0, 1)
    conn.write_ping(False, ZERO_PING)
    verify_ping_ack(conn, ZERO_PING)


@case()
def generic_3_9_2(config: Config, conn: Conn) -> None:
    """generic/3.9/2: Sends a WINDOW_UPDATE frame with stream ID 1

    GET on stream 1, WINDOW_UPDATE(1, 1): response HEADERS on stream 1."""
    conn.handshake()
    _get(conn, config)
    conn.write_window_update(1, 1)
    verify_headers_frame(conn, 1)


@case()
def generic_3_10_1(config: Config, conn: Conn) -> None:
    """generic/3.10/1: Sends a CONTINUATION frame

    GET split as HEADERS (5 bytes of the block) + CONTINUATION: response HEADERS."""
    conn.handshake()
    block = conn.encode_headers(common_headers(config))
    conn.write_headers(1, block[:5], end_stream=True, end_headers=False)
    conn.write_continuation(1, True, block[5:])
    verify_headers_frame(conn, 1)


@case()
def generic_3_10_2(config: Config, conn: Conn) -> None:
    """generic/3.10/2: Sends multiple CONTINUATION frames

    GET split as HEADERS + 2 CONTINUATION frames: response HEADERS on stream 1."""
    conn.handshake()
    block = conn.encode_headers(common_headers(config))
    conn.write_headers(1, block[:5], end_stream=True, end_headers=False)
    conn.write_continuation(1, False, block[5:10])
    conn.write_continuation(1, True, block[10:])
    verify_headers_frame(conn, 1)


# generic/4 -- HTTP Message Exchanges


@case()
def generic_4_1(config: Config, conn: Conn) -> None:
    """generic/4/1: Sends a GET request

    The response HEADERS must come on stream 1."""
    conn.handshake()
    _get(conn, config)
    verify_headers_frame(conn, 1)


@case()
def generic_4_2(config: Config, conn: Conn) -> None:
    """generic/4/2: Sends a HEAD request

    The response HEADERS must come on stream 1."""
    conn.handshake()
    headers = with_method(common_headers(config), "HEAD")
    conn.write_headers(1, conn.encode_headers(headers))
    verify_headers_frame(conn, 1)


@case()
def generic_4_3(config: Config, conn: Conn) -> None:
    """generic/4/3: Sends a POST request

    POST with a body: the response HEADERS must come on stream 1."""
    conn.handshake()
    _post(conn, config)
    conn.write_data(1, True, b"test")
    verify_headers_frame(conn, 1)


@case()
def generic_4_4(config: Config, conn: Conn) -> None:
    """generic/4/4: Sends a POST request with trailers

    POST (trailer: x-test), DATA, trailing HEADERS (x-test: ok): response HEADERS."""
    conn.handshake()
    _post(conn, config, [("trailer", "x-test")])
    conn.write_data(1, False, b"test")
    conn.write_headers(1, conn.encode_headers([("x-test", "ok")]))
    verify_headers_frame(conn, 1)


# generic/5 -- HPACK: each representation follows h2spec's common request.


def _get_with_representation(config: Config, conn: Conn, rep: bytes, before: bool = False):
    conn.handshake()
    block = conn.encode_headers(common_headers(config))
    conn.write_headers(1, rep + block if before else block + rep)
    verify_headers_frame(conn, 1)


@case()
def generic_5_1(config: Config, conn: Conn) -> None:
    """generic/5/1: Sends a indexed header field representation

    Indexed field 58 (user-agent, empty value) appended: response HEADERS on stream 1."""
    _get_with_representation(config, conn, hpack_integer(USER_AGENT_INDEX, 7, 0x80))


@case()
def generic_5_2(config: Config, conn: Conn) -> None:
    """generic/5/2: Sends a literal header field with incremental indexing - indexed name

    user-agent (static index) : h2spec, raw strings; response HEADERS on stream 1."""
    rep = literal_field("incremental", USER_AGENT_INDEX, "h2spec")
    _get_with_representation(config, conn, rep)


@case()
def generic_5_3(config: Config, conn: Conn) -> None:
    """generic/5/3: Sends a literal header field with incremental indexing - indexed name (with Huffman coding)

    user-agent (static index) : h2spec, Huffman value; response HEADERS on stream 1."""
    rep = literal_field("incremental", USER_AGENT_INDEX, "h2spec", huffman=True)
    _get_with_representation(config, conn, rep)


@case()
def generic_5_4(config: Config, conn: Conn) -> None:
    """generic/5/4: Sends a literal header field with incremental indexing - new name

    x-test: h2spec, raw strings; response HEADERS on stream 1."""
    _get_with_representation(config, conn, literal_field("incremental", "x-test", "h2spec"))


@case()
def generic_5_5(config: Config, conn: Conn) -> None:
    """generic/5/5: Sends a literal header field with incremental indexing - new name (with Huffman coding)

    x-test: h2spec, Huffman strings; response HEADERS on stream 1."""
    rep = literal_field("incremental", "x-test", "h2spec", huffman=True)
    _get_with_representation(config, conn, rep)


@case()
def generic_5_6(config: Config, conn: Conn) -> None:
    """generic/5/6: Sends a literal header field without indexing - indexed name

    user-agent (static index) : h2spec, raw; response HEADERS on stream 1."""
    _get_with_representation(config, conn, literal_field("without", USER_AGENT_INDEX, "h2spec"))


@case()
def generic_5_7(config: Config, conn: Conn) -> None:
    """generic/5/7: Sends a literal header field without indexing - indexed name (with Huffman coding)

    user-agent (static index) : h2spec, Huffman value; response HEADERS on stream 1."""
    rep = literal_field("without", USER_AGENT_INDEX, "h2spec", huffman=True)
    _get_with_representation(config, conn, rep)


@case()
def generic_5_8(config: Config, conn: Conn) -> None:
    """generic/5/8: Sends a literal header field without indexing - new name

    x-test: h2spec, raw strings; response HEADERS on stream 1."""
    _get_with_representation(config, conn, literal_field("without", "x-test", "h2spec"))


@case()
def generic_5_9(config: Config, conn: Conn) -> None:
    """generic/5/9: Sends a literal header field without indexing - new name (huffman encoded)

    x-test: h2spec, Huffman strings; response HEADERS on stream 1."""
    rep = literal_field("without", "x-test", "h2spec", huffman=True)
    _get_with_representation(config, conn, rep)


@case()
def generic_5_10(config: Config, conn: Conn) -> None:
    """generic/5/10: Sends a literal header field never indexed - indexed name

    user-agent (static index) : h2spec, raw; response HEADERS on stream 1."""
    _get_with_representation(config, conn, literal_field("never", USER_AGENT_INDEX, "h2spec"))


@case()
def generic_5_11(config: Config, conn: Conn) -> None:
    """generic/5/11: Sends a literal header field never indexed - indexed name (huffman encoded)

    user-agent (static index) : h2spec, Huffman value; response HEADERS on stream 1."""
    rep = literal_field("never", USER_AGENT_INDEX, "h2spec", huffman=True)
    _get_with_representation(config, conn, rep)


@case()
def generic_5_12(config: Config, conn: Conn) -> None:
    """generic/5/12: Sends a literal header field never indexed - new name

    x-test: h2spec, raw strings; response HEADERS on stream 1."""
    _get_with_representation(config, conn, literal_field("never", "x-test", "h2spec"))


@case()
def generic_5_13(config: Config, conn: Conn) -> None:
    """generic/5/13: Sends a literal header field never indexed - new name (huffman encoded)

    x-test: h2spec, Huffman strings; response HEADERS on stream 1."""
    rep = literal_field("never", "x-test", "h2spec", huffman=True)
    _get_with_representation(config, conn, rep)


@case()
def generic_5_14(config: Config, conn: Conn) -> None:
    """generic/5/14: Sends a dynamic table size update

    The encoder's table shrinks to 128 (a size update starts the block): response HEADERS."""
    conn.handshake()
    conn.encoder.header_table_size = 128
    conn.write_headers(1, conn.encode_headers(common_headers(config)))
    verify_headers_frame(conn, 1)


@case()
def generic_5_15(config: Config, conn: Conn) -> None:
    """generic/5/15: Sends multiple dynamic table size update

    Two size updates (128, then 4096) start the block: response HEADERS on stream 1."""
    rep = table_size_update(128) + table_size_update(4096)
    _get_with_representation(config, conn, rep, before=True)


# http2/3.5 -- HTTP/2 Connection Preface


@case()
def http2_3_5_1(config: Config, conn: Conn) -> None:
    """http2/3.5/1: Sends client connection preface

    The first frame the server sends must be its SETTINGS (not an ACK)."""
    _client_preface_case(config, conn)


@case()
def http2_3_5_2(config: Config, conn: Conn) -> None:
    """http2/3.5/2: Sends invalid connection preface

    Connection error PROTOCOL_ERROR (GOAWAY or a clean close).  Over cleartext an
    HTTP/1.1 response then close is read as a truncated frame: a failure in h2spec."""
    conn.send(b"INVALID CONNECTION PREFACE\r\n\r\n")
    verify_connection_error(conn, PROTOCOL_ERROR)


# http2/4.x -- HTTP Frames


@case()
def http2_4_1_1(config: Config, conn: Conn) -> None:
    """http2/4.1/1: Sends a frame with unknown type

    A frame of type 0x16 must be ignored: the following PING is acknowledged."""
    conn.handshake()
    for part in UNKNOWN_FRAME:
        conn.send(part)
    conn.write_ping(False, ZERO_PING)
    verify_ping_ack(conn, ZERO_PING)


@case()
def http2_4_1_2(config: Config, conn: Conn) -> None:
    """http2/4.1/2: Sends a frame with undefined flag

    PING with undefined flags 0x16: a PING frame must come back."""
    conn.handshake()
    conn.send(b"\x00\x00\x08\x06\x16\x00\x00\x00\x00")
    conn.send(ZERO_PING)
    verify_event_type(conn, PING)


@case()
def http2_4_1_3(config: Config, conn: Conn) -> None:
    """http2/4.1/3: Sends a frame with reserved field bit

    PING with the reserved stream-id bit set: a PING frame must come back."""
    conn.handshake()
    conn.send(b"\x00\x00\x08\x06\x16\x80\x00\x00\x00")
    conn.send(ZERO_PING)
    verify_event_type(conn, PING)


@case()
def http2_4_2_1(config: Config, conn: Conn) -> None:
    """http2/4.2/1: Sends a DATA frame with 2^14 octets in length

    POST with a DATA frame of SETTINGS_MAX_FRAME_SIZE bytes: response HEADERS."""
    conn.handshake()
    _post(conn, config)
    conn.write_data(1, True, b"x" * conn.max_frame_size())
    verify_headers_frame(conn, 1)


@case()
def http2_4_2_2(config: Config, conn: Conn) -> None:
    """http2/4.2/2: Sends a large size DATA frame that exceeds the SETTINGS_MAX_FRAME_SIZE

    Stream error FRAME_SIZE_ERROR."""
    conn.handshake()
    _post(conn, config)
    conn.write_data(1, True, b"x" * (conn.max_frame_size() + 1))
    verify_stream_error(conn, FRAME_SIZE_ERROR)


@case()
def http2_4_2_3(config: Config, conn: Conn) -> None:
    """http2/4.2/3: Sends a large size HEADERS frame that exceeds the SETTINGS_MAX_FRAME_SIZE

    GET plus five 4000-byte fields in one HEADERS frame: connection error FRAME_SIZE_ERROR."""
    conn.handshake()
    headers = common_headers(config) + dummy_headers(config, 5)
    conn.write_headers(1, conn.encode_headers(headers))
    verify_connection_error(conn, FRAME_SIZE_ERROR)


@case()
def http2_4_3_1(config: Config, conn: Conn) -> None:
    """http2/4.3/1: Sends invalid header block fragment

    A literal with incremental indexing cut after its first byte: COMPRESSION_ERROR."""
    conn.handshake()
    conn.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, b"\x40"))
    verify_connection_error(conn, COMPRESSION_ERROR)


@case()
def http2_4_3_2(config: Config, conn: Conn) -> None:
    """http2/4.3/2: Sends a PRIORITY frame while sending the header blocks

    HEADERS without END_HEADERS, PRIORITY, CONTINUATION: connection error PROTOCOL_ERROR."""
    conn.handshake()
    _get(conn, config, end_stream=False, end_headers=False)
    conn.write_priority(1, 0, False, 255)
    conn.write_continuation(1, True, _dummy_block(conn, config))
    verify_connection_error(conn, PROTOCOL_ERROR)


@case()
def http2_4_3_3(config: Config, conn: Conn) -> None:
    """http2/4.3/3: Sends a HEADERS frame to another stream while sending the header blocks

    HEADERS(1) without END_HEADERS, HEADERS(3), CONTINUATION(1): PROTOCOL_ERROR."""
    conn.handshake()
    _get(conn, config, end_stream=False, end_headers=False)
    _get(conn, config, stream_id=3)
    conn.write_continuation(1, True, _dummy_block(conn, config))
    verify_connection_error(conn, PROTOCOL_ERROR)


# http2/5.1 -- Stream States


@case()
def http2_5_1_1(config: Config, conn: Conn) -> None:
    """http2/5.1/1: idle: Sends a DATA frame

    Connection error PROTOCOL_ERROR."""
    conn.handshake()
    conn.write_data(1, True, b"test")
    verify_connection_error(conn, PROTOCOL_ERROR)


@case()
def http2_5_1_2(config: Config, conn: Conn) -> None:
    """http2/5.1/2: idle: Sends a RST_STREAM frame

    Connection error PROTOCOL_ERROR."""
    conn.handshake()
    conn.write_rst_stream(1, CANCEL)
    verify_connection_error(conn, PROTOCOL_ERROR)


@case()
def http2_5_1_3(config: Config, conn: Conn) -> None:
    """http2/5.1/3: idle: Sends a WINDOW_UPDATE frame

    Connection error PROTOCOL_ERROR."""
    conn.handshake()
    conn.write_window_update(1, 100)
    verify_connection_error(conn, PROTOCOL_ERROR)


@case()
def http2_5_1_4(config: Config, conn: Conn) -> None:
    """http2/5.1/4: idle: Sends a CONTINUATION frame

    Connection error PROTOCOL_ERROR."""
    conn.handshake()
    conn.write_continuation(1, True, conn.encode_headers(common_headers(config)))
    verify_connection_error(conn, PROTOCOL_ERROR)


@case()
def http2_5_1_5(config: Config, conn: Conn) -> None:
    """http2/5.1/5: half closed (remote): Sends a DATA frame

    GET (END_STREAM), then DATA on stream 1: stream error STREAM_CLOSED."""
    conn.handshake()
    _get(conn, config)
    conn.write_data(1, True, b"test")
    verify_stream_error(conn, STREAM_CLOSED)


@case()
def http2_5_1_6(config: Config, conn: Conn) -> None:
    """http2/5.1/6: half closed (remote): Sends a HEADERS frame

    GET (END_STREAM), then HEADERS again on stream 1: stream error STREAM_CLOSED."""
    conn.handshake()
    _get(conn, config)
    _get(conn, config)
    verify_stream_error(conn, STREAM_CLOSED)


@case()
def http2_5_1_7(config: Config, conn: Conn) -> None:
    """http2/5.1/7: half closed (remote): Sends a CONTINUATION frame

    GET (END_HEADERS), then CONTINUATION: stream error STREAM_CLOSED or PROTOCOL_ERROR."""
    conn.handshake()
    block = conn.encode_headers(common_headers(config))
    conn.write_headers(1, block)
    conn.write_continuation(1, True, block)
    verify_stream_error(conn, STREAM_CLOSED, PROTOCOL_ERROR)


@case()
def http2_5_1_8(config: Config, conn: Conn) -> None:
    """http2/5.1/8: closed: Sends a DATA frame after sending RST_STREAM frame

    Stream error STREAM_CLOSED."""
    conn.handshake()
    _get(conn, config, end_stream=False)
    conn.write_rst_stream(1, CANCEL)
    conn.write_data(1, True, b"test")
    verify_stream_error(conn, STREAM_CLOSED)


@case()
def http2_5_1_9(config: Config, conn: Conn) -> None:
    """http2/5.1/9: closed: Sends a HEADERS frame after sending RST_STREAM frame

    Stream error STREAM_CLOSED."""
    conn.handshake()
    _get(conn, config, end_stream=False)
    conn.write_rst_stream(1, CANCEL)
    _get(conn, config)
    verify_stream_error(conn, STREAM_CLOSED)


@case()
def http2_5_1_10(config: Config, conn: Conn) -> None:
    """http2/5.1/10: closed: Sends a CONTINUATION frame after sending RST_STREAM frame

    Stream error STREAM_CLOSED or PROTOCOL_ERROR."""
    conn.handshake()
    _get(conn, config, end_stream=False)
    conn.write_rst_stream(1, CANCEL)
    conn.write_continuation(1, True, _dummy_block(conn, config))
    verify_stream_error(conn, STREAM_CLOSED, PROTOCOL_ERROR)


@case()
def http2_5_1_11(config: Config, conn: Conn) -> None:
    """http2/5.1/11: closed: Sends a DATA frame

    After the response to GET ended, DATA on stream 1: stream error STREAM_CLOSED."""
    conn.handshake()
    _get(conn, config)
    verify_stream_close(conn)
    conn.write_data(1, True, b"test")
    verify_stream_error(conn, STREAM_CLOSED)


@case()
def http2_5_1_12(config: Config, conn: Conn) -> None:
    """http2/5.1/12: closed: Sends a HEADERS frame

    After the response ended, the same HEADERS again: connection error STREAM_CLOSED."""
    conn.handshake()
    block = conn.encode_headers(common_headers(config))
    conn.write_headers(1, block)
    verify_stream_close(conn)
    conn.write_headers(1, block)
    verify_connection_error(conn, STREAM_CLOSED)


@case()
def http2_5_1_13(config: Config, conn: Conn) -> None:
    """http2/5.1/13: closed: Sends a CONTINUATION frame

    After the response ended, CONTINUATION: connection error STREAM_CLOSED or PROTOCOL_ERROR."""
    conn.handshake()
    _get(conn, config)
    verify_stream_close(conn)
    conn.write_continuation(1, True, _dummy_block(conn, config))
    verify_connection_error(conn, STREAM_CLOSED, PROTOCOL_ERROR)


@case()
def http2_5_1_1_1(config: Config, conn: Conn) -> None:
    """http2/5.1.1/1: Sends even-numbered stream identifier

    HEADERS on stream 2: connection error PROTOCOL_ERROR."""
    conn.handshake()
    _get(conn, config, stream_id=2)
    verify_connection_error(conn, PROTOCOL_ERROR)


@case()
def http2_5_1_1_2(config: Config, conn: Conn) -> None:
    """http2/5.1.1/2: Sends stream identifier that is numerically smaller than previous

    HEADERS on stream 5, then on stream 3: connection error PROTOCOL_ERROR."""
    conn.handshake()
    _get(conn, config, stream_id=5)
    _get(conn, config, stream_id=3)
    verify_connection_error(conn, PROTOCOL_ERROR)


@case()
def http2_5_1_2_1(config: Config, conn: Conn) -> None:
    """http2/5.1.2/1: Sends HEADERS frames that causes their advertised concurrent stream limit to be exceeded

    With INITIAL_WINDOW_SIZE=0, MAX_CONCURRENT_STREAMS+1 GETs: stream error
    PROTOCOL_ERROR or REFUSED_STREAM.  Skipped when the server sets no limit."""
    conn.handshake()
    if MAX_CONCURRENT_STREAMS not in conn.settings:
        raise CaseSkipped("SETTINGS_MAX_CONCURRENT_STREAMS is unlimited")
    limit = conn.settings[MAX_CONCURRENT_STREAMS]
    conn.write_settings((INITIAL_WINDOW_SIZE, 0))
    block = conn.encode_headers(common_headers(config))
    for index in range(limit + 1):
        conn.write_headers(1 + 2 * index, block)
    verify_stream_error(conn, PROTOCOL_ERROR, REFUSED_STREAM)


# http2/5.3.1 -- Stream Dependencies


@case()
def http2_5_3_1_1(config: Config, conn: Conn) -> None:
    """http2/5.3.1/1: Sends HEADERS frame that depends on itself

    Stream error PROTOCOL_ERROR."""
    conn.handshake()
    _get(conn, config, priority=(1, False, 255))
    verify_stream_error(conn, PROTOCOL_ERROR)


@case()
def http2_5_3_1_2(config: Config, conn: Conn) -> None:
    """http2/5.3.1/2: Sends PRIORITY frame that depend on itself

    Stream error PROTOCOL_ERROR."""
    conn.handshake()
    conn.write_priority(1, 1, False, 255)
    verify_stream_error(conn, PROTOCOL_ERROR)


# http2/5.4.1 -- Connection Error Handling

INVALID_PING = (b"\x00\x00\x08\x06\x00\x00\x00\x00\x03", ZERO_PING)  # PING on stream 3


@case()
def http2_5_4_1_1(config: Config, conn: Conn) -> None:
    """http2/5.4.1/1: Sends an invalid PING frame for connection close

    PING on stream 3: the server must close the TCP connection (a GOAWAY alone is not enough)."""
    conn.handshake()
    for part in INVALID_PING:
        conn.send(part)
    verify_connection_close(conn)


@case(strict=True)
def http2_5_4_1_2(config: Config, conn: Conn) -> None:
    """http2/5.4.1/2: Sends an invalid PING frame to receive GOAWAY frame

    (strict) PING on stream 3: a GOAWAY frame must come before the close."""
    conn.handshake()
    for part in INVALID_PING:
        conn.send(part)
    event, passed = conn.wait_event_by_type(GOAWAY)
    if not passed:
        raise CaseFailed(
            [f"GOAWAY Frame (Error Code: {error_name(PROTOCOL_ERROR)})"], _describe(event)
        )


# http2/5.5 -- Extending HTTP/2


@case()
def http2_5_5_1(config: Config, conn: Conn) -> None:
    """http2/5.5/1: Sends an unknown extension frame

    The frame must be ignored: the following PING is acknowledged."""
    conn.handshake()
    for part in UNKNOWN_FRAME:
        conn.send(part)
    conn.write_ping(False, ZERO_PING)
    verify_ping_ack(conn, ZERO_PING)


@case()
def http2_5_5_2(config: Config, conn: Conn) -> None:
    """http2/5.5/2: Sends an unknown extension frame in the middle of a header block

    HEADERS without END_HEADERS, then an unknown frame: connection error PROTOCOL_ERROR."""
    conn.handshake()
    _get(conn, config, end_headers=False)
    for part in UNKNOWN_FRAME:
        conn.send(part)
    verify_connection_error(conn, PROTOCOL_ERROR)


# http2/6.1 -- DATA


@case()
def http2_6_1_1(config: Config, conn: Conn) -> None:
    """http2/6.1/1: Sends a DATA frame with 0x0 stream identifier

    Connection error PROTOCOL_ERROR."""
    conn.handshake()
    conn.write_data(0, True, b"test")
    verify_connection_error(conn, PROTOCOL_ERROR)


@case()
def http2_6_1_2(config: Config, conn: Conn) -> None:
    """http2/6.1/2: Sends a DATA frame on the stream that is not in "open" or "half-closed (local)" state

    POST with END_STREAM, then DATA: stream error STREAM_CLOSED."""
    conn.handshake()
    _post(conn, config, end_stream=True)
    conn.write_data(1, True, b"test")
    verify_stream_error(conn, STREAM_CLOSED)


@case()
def http2_6_1_3(config: Config, conn: Conn) -> None:
    """http2/6.1/3: Sends a DATA frame with invalid pad length

    DATA of 5 bytes whose pad length is 6: connection error PROTOCOL_ERROR."""
    conn.handshake()
    _post(conn, config, [("content-length", "4")])
    conn.send(b"\x00\x00\x05\x00\x09\x00\x00\x00\x01")
    conn.send(b"\x06Test")
    verify_connection_error(conn, PROTOCOL_ERROR)


# http2/6.2 -- HEADERS


@case()
def http2_6_2_1(config: Config, conn: Conn) -> None:
    """http2/6.2/1: Sends a HEADERS frame without the END_HEADERS flag, and a PRIORITY frame

    Connection error PROTOCOL_ERROR."""
    conn.handshake()
    _get(conn, config, end_stream=False, end_headers=False)
    conn.write_priority(1, 0, False, 255)
    conn.write_continuation(1, True, _dummy_block(conn, config))
    verify_connection_error(conn, PROTOCOL_ERROR)


@case()
def http2_6_2_2(config: Config, conn: Conn) -> None:
    """http2/6.2/2: Sends a HEADERS frame to another stream while sending a HEADERS frame

    Connection error PROTOCOL_ERROR."""
    conn.handshake()
    _get(conn, config, end_stream=False, end_headers=False)
    _get(conn, config, stream_id=3)
    conn.write_continuation(1, True, _dummy_block(conn, config))
    verify_connection_error(conn, PROTOCOL_ERROR)


@case()
def http2_6_2_3(config: Config, conn: Conn) -> None:
    """http2/6.2/3: Sends a HEADERS frame with 0x0 stream identifier

    Connection error PROTOCOL_ERROR."""
    conn.handshake()
    _get(conn, config, stream_id=0)
    verify_connection_error(conn, PROTOCOL_ERROR)


@case()
def http2_6_2_4(config: Config, conn: Conn) -> None:
    """http2/6.2/4: Sends a HEADERS frame with invalid pad length

    A padded HEADERS whose pad length exceeds the payload: stream error PROTOCOL_ERROR."""
    conn.handshake()
    block = conn.encode_headers(common_headers(config))
    header = frame(HEADERS, END_STREAM | END_HEADERS | PADDED, 1, b"\x00" * (len(block) + 1))[:9]
    conn.send(header)
    conn.send(bytes([len(block) + 2]))
    conn.send(block)
    verify_stream_error(conn, PROTOCOL_ERROR)


# http2/6.3 -- PRIORITY


@case()
def http2_6_3_1(config: Config, conn: Conn) -> None:
    """http2/6.3/1: Sends a PRIORITY frame with 0x0 stream identifier

    Connection error PROTOCOL_ERROR."""
    conn.handshake()
    conn.write_priority(0, 0, False, 255)
    verify_connection_error(conn, PROTOCOL_ERROR)


@case()
def http2_6_3_2(config: Config, conn: Conn) -> None:
    """http2/6.3/2: Sends a PRIORITY frame with a length other than 5 octets

    GET, then a 4-byte PRIORITY on stream 1: stream error FRAME_SIZE_ERROR."""
    conn.handshake()
    _get(conn, config)
    conn.send(b"\x00\x00\x04\x02\x00\x00\x00\x00\x01")
    conn.send(b"\x80\x00\x00\x01")
    verify_stream_error(conn, FRAME_SIZE_ERROR)


# http2/6.4 -- RST_STREAM


@case()
def http2_6_4_1(config: Config, conn: Conn) -> None:
    """http2/6.4/1: Sends a RST_STREAM frame with 0x0 stream identifier

    Connection error PROTOCOL_ERROR."""
    conn.handshake()
    conn.write_rst_stream(0, CANCEL)
    verify_connection_error(conn, PROTOCOL_ERROR)


@case()
def http2_6_4_2(config: Config, conn: Conn) -> None:
    """http2/6.4/2: Sends a RST_STREAM frame on a idle stream

    Connection error PROTOCOL_ERROR."""
    conn.handshake()
    conn.write_rst_stream(1, CANCEL)
    verify_connection_error(conn, PROTOCOL_ERROR)


@case()
def http2_6_4_3(config: Config, conn: Conn) -> None:
    """http2/6.4/3: Sends a RST_STREAM frame with a length other than 4 octets

    GET, then a 3-byte RST_STREAM on stream 1: (stream) error FRAME_SIZE_ERROR."""
    conn.handshake()
    _get(conn, config)
    conn.send(b"\x00\x00\x03\x03\x00\x00\x00\x00\x01")
    conn.send(b"\x00\x00\x00")
    verify_stream_error(conn, FRAME_SIZE_ERROR)


# http2/6.5 -- SETTINGS


@case()
def http2_6_5_1(config: Config, conn: Conn) -> None:
    """http2/6.5/1: Sends a SETTINGS frame with ACK flag and payload

    Connection error FRAME_SIZE_ERROR."""
    conn.handshake()
    conn.send(b"\x00\x00\x01\x04\x01\x00\x00\x00\x00")
    conn.send(b"\x00")
    verify_connection_error(conn, FRAME_SIZE_ERROR)


@case()
def http2_6_5_2(config: Config, conn: Conn) -> None:
    """http2/6.5/2: Sends a SETTINGS frame with a stream identifier other than 0x0

    Connection error PROTOCOL_ERROR."""
    conn.handshake()
    conn.send(b"\x00\x00\x06\x04\x00\x00\x00\x00\x01")
    conn.send(b"\x00\x03\x00\x00\x00\x64")
    verify_connection_error(conn, PROTOCOL_ERROR)


@case()
def http2_6_5_3(config: Config, conn: Conn) -> None:
    """http2/6.5/3: Sends a SETTINGS frame with a length other than a multiple of 6 octets

    (Stream) error PROTOCOL_ERROR or FRAME_SIZE_ERROR."""
    conn.handshake()
    conn.send(b"\x00\x00\x03\x04\x00\x00\x00\x00\x00")
    conn.send(b"\x00\x03\x00")
    verify_stream_error(conn, PROTOCOL_ERROR, FRAME_SIZE_ERROR)


@case()
def http2_6_5_2_1(config: Config, conn: Conn) -> None:
    """http2/6.5.2/1: SETTINGS_ENABLE_PUSH (0x2): Sends the value other than 0 or 1

    Connection error PROTOCOL_ERROR."""
    conn.handshake()
    conn.write_settings((ENABLE_PUSH, 2))
    verify_connection_error(conn, PROTOCOL_ERROR)


@case()
def http2_6_5_2_2(config: Config, conn: Conn) -> None:
    """http2/6.5.2/2: SETTINGS_INITIAL_WINDOW_SIZE (0x4): Sends the value above the maximum flow control window size

    Connection error FLOW_CONTROL_ERROR."""
    conn.handshake()
    conn.write_settings((INITIAL_WINDOW_SIZE, 2**31))
    verify_connection_error(conn, FLOW_CONTROL_ERROR)


@case()
def http2_6_5_2_3(config: Config, conn: Conn) -> None:
    """http2/6.5.2/3: SETTINGS_MAX_FRAME_SIZE (0x5): Sends the value below the initial value

    Connection error PROTOCOL_ERROR."""
    conn.handshake()
    conn.write_settings((MAX_FRAME_SIZE, 16383))
    verify_connection_error(conn, PROTOCOL_ERROR)


@case()
def http2_6_5_2_4(config: Config, conn: Conn) -> None:
    """http2/6.5.2/4: SETTINGS_MAX_FRAME_SIZE (0x5): Sends the value above the maximum allowed frame size

    Connection error PROTOCOL_ERROR."""
    conn.handshake()
    conn.write_settings((MAX_FRAME_SIZE, 2**24))
    verify_connection_error(conn, PROTOCOL_ERROR)


@case()
def http2_6_5_2_5(config: Config, conn: Conn) -> None:
    """http2/6.5.2/5: Sends a SETTINGS frame with unknown identifier

    The setting must be ignored: the following PING is acknowledged."""
    conn.handshake()
    conn.write_settings((0xFF, 1))
    conn.write_ping(False, ZERO_PING)
    verify_ping_ack(conn, ZERO_PING)


def _skip_unless_body(config: Config, minimum: int) -> None:
    if server_data_length(config) < minimum:
        raise CaseSkipped(f"the response to GET {config.path} has less than {minimum} bytes")


@case()
def http2_6_5_3_1(config: Config, conn: Conn) -> None:
    """http2/6.5.3/1: Sends multiple values of SETTINGS_INITIAL_WINDOW_SIZE

    INITIAL_WINDOW_SIZE 100 then 1 in one frame; after the ACK, GET: the first DATA has 1 byte."""
    _skip_unless_body(config, 1)
    conn.handshake()
    conn.write_settings((INITIAL_WINDOW_SIZE, 100), (INITIAL_WINDOW_SIZE, 1))
    verify_settings_ack(conn)
    _get(conn, config)
    verify_data_length(conn, 1, 1)


@case()
def http2_6_5_3_2(config: Config, conn: Conn) -> None:
    """http2/6.5.3/2: Sends a SETTINGS frame without ACK flag

    A SETTINGS ACK must come."""
    conn.handshake()
    conn.write_settings((ENABLE_PUSH, 0))
    verify_settings_ack(conn)


# http2/6.7 -- PING


@case()
def http2_6_7_1(config: Config, conn: Conn) -> None:
    """http2/6.7/1: Sends a PING frame

    A PING ACK with the same payload must come."""
    conn.handshake()
    conn.write_ping(False, H2SPEC_PING)
    verify_ping_ack(conn, H2SPEC_PING)


@case()
def http2_6_7_2(config: Config, conn: Conn) -> None:
    """http2/6.7/2: Sends a PING frame with ACK

    A PING ACK must not be answered: the first PING back is the ACK of the second PING."""
    conn.handshake()
    conn.write_ping(True, b"invalid\x00")
    conn.write_ping(False, H2SPEC_PING)
    verify_ping_ack(conn, H2SPEC_PING)


@case()
def http2_6_7_3(config: Config, conn: Conn) -> None:
    """http2/6.7/3: Sends a PING frame with a stream identifier field value other than 0x0

    Connection error PROTOCOL_ERROR."""
    conn.handshake()
    conn.send(b"\x00\x00\x08\x06\x00\x00\x00\x00\x01")
    conn.send(ZERO_PING)
    verify_connection_error(conn, PROTOCOL_ERROR)


@case()
def http2_6_7_4(config: Config, conn: Conn) -> None:
    """http2/6.7/4: Sends a PING frame with a length field value other than 8

    Connection error FRAME_SIZE_ERROR."""
    conn.handshake()
    conn.send(b"\x00\x00\x06\x06\x00\x00\x00\x00\x00")
    conn.send(b"\x00" * 6)
    verify_connection_error(conn, FRAME_SIZE_ERROR)


# http2/6.8 -- GOAWAY


@case()
def http2_6_8_1(config: Config, conn: Conn) -> None:
    """http2/6.8/1: Sends a GOAWAY frame with a stream identifier other than 0x0

    Connection error PROTOCOL_ERROR."""
    conn.handshake()
    conn.send(b"\x00\x00\x08\x07\x00\x00\x00\x00\x01")
    conn.send(b"\x00" * 8)
    verify_connection_error(conn, PROTOCOL_ERROR)


# http2/6.9 -- WINDOW_UPDATE


@case()
def http2_6_9_1(config: Config, conn: Conn) -> None:
    """http2/6.9/1: Sends a WINDOW_UPDATE frame with a flow control window increment of 0

    On the connection: connection error PROTOCOL_ERROR."""
    conn.handshake()
    conn.write_window_update(0, 0)
    verify_connection_error(conn, PROTOCOL_ERROR)


@case()
def http2_6_9_2(config: Config, conn: Conn) -> None:
    """http2/6.9/2: Sends a WINDOW_UPDATE frame with a flow control window increment of 0 on a stream

    Stream error PROTOCOL_ERROR."""
    conn.handshake()
    _get(conn, config, end_stream=False)
    conn.write_window_update(1, 0)
    verify_stream_error(conn, PROTOCOL_ERROR)


@case()
def http2_6_9_3(config: Config, conn: Conn) -> None:
    """http2/6.9/3: Sends a WINDOW_UPDATE frame with a length other than 4 octets

    Connection error FRAME_SIZE_ERROR."""
    conn.handshake()
    conn.send(b"\x00\x00\x03\x08\x00\x00\x00\x00\x00")
    conn.send(b"\x00\x00\x01")
    verify_connection_error(conn, FRAME_SIZE_ERROR)


@case()
def http2_6_9_1_1(config: Config, conn: Conn) -> None:
    """http2/6.9.1/1: Sends SETTINGS frame to set the initial window size to 1 and sends HEADERS frame

    After the SETTINGS ACK, GET: the first DATA frame has exactly 1 byte."""
    _skip_unless_body(config, 1)
    conn.handshake()
    conn.write_settings((INITIAL_WINDOW_SIZE, 1))
    verify_settings_ack(conn)
    _get(conn, config)
    verify_data_length(conn, 1, 1)


@case()
def http2_6_9_1_2(config: Config, conn: Conn) -> None:
    """http2/6.9.1/2: Sends multiple WINDOW_UPDATE frames increasing the flow control window to above 2^31-1

    On the connection: the first GOAWAY must carry FLOW_CONTROL_ERROR."""
    conn.handshake()
    conn.write_window_update(0, MAX_WINDOW)
    conn.write_window_update(0, MAX_WINDOW)
    event, passed = conn.wait_event_by_type(GOAWAY)
    if not passed or event is None or event.error_code != FLOW_CONTROL_ERROR:
        raise CaseFailed(
            [f"GOAWAY Frame (Error Code: {error_name(FLOW_CONTROL_ERROR)})"], _describe(event)
        )


@case()
def http2_6_9_1_3(config: Config, conn: Conn) -> None:
    """http2/6.9.1/3: Sends multiple WINDOW_UPDATE frames increasing the flow control window to above 2^31-1 on a stream

    The first RST_STREAM must be for stream 1 with FLOW_CONTROL_ERROR."""
    conn.handshake()
    _get(conn, config, end_stream=False)
    conn.write_window_update(1, MAX_WINDOW)
    conn.write_window_update(1, MAX_WINDOW)
    event, passed = conn.wait_event_by_type(RST_STREAM)
    if (
        not passed
        or event is None
        or (event.stream_id, event.error_code) != (1, FLOW_CONTROL_ERROR)
    ):
        raise CaseFailed(
            [f"RST_STREAM Frame (stream_id:1, Error Code: {error_name(FLOW_CONTROL_ERROR)})"],
            _describe(event),
        )


@case()
def http2_6_9_2_1(config: Config, conn: Conn) -> None:
    """http2/6.9.2/1: Changes SETTINGS_INITIAL_WINDOW_SIZE after sending HEADERS frame

    INITIAL_WINDOW_SIZE=0, GET, then INITIAL_WINDOW_SIZE=1: the first DATA has 1 byte."""
    _skip_unless_body(config, 1)
    conn.handshake()
    conn.write_settings((INITIAL_WINDOW_SIZE, 0))
    verify_settings_ack(conn)
    _get(conn, config)
    conn.write_settings((INITIAL_WINDOW_SIZE, 1))
    verify_data_length(conn, 1, 1)


@case()
def http2_6_9_2_2(config: Config, conn: Conn) -> None:
    """http2/6.9.2/2: Sends a SETTINGS frame for window size to be negative

    INITIAL_WINDOW_SIZE=3, GET, DATA comes; INITIAL_WINDOW_SIZE=2 (window -1), ACK;
    WINDOW_UPDATE(1, 2): the next DATA frame has exactly 1 byte."""
    _skip_unless_body(config, 5)
    conn.handshake()
    conn.write_settings((INITIAL_WINDOW_SIZE, 3))
    verify_settings_ack(conn)
    _get(conn, config)
    verify_event_type(conn, DATA)
    conn.write_settings((INITIAL_WINDOW_SIZE, 2))
    verify_settings_ack(conn)
    conn.write_window_update(1, 2)
    verify_data_length(conn, 1, 1)


@case()
def http2_6_9_2_3(config: Config, conn: Conn) -> None:
    """http2/6.9.2/3: Sends a SETTINGS_INITIAL_WINDOW_SIZE settings with an exceeded maximum window size value

    Connection error FLOW_CONTROL_ERROR."""
    conn.handshake()
    conn.send(b"\x00\x00\x06\x04\x00\x00\x00\x00\x00")
    conn.send(b"\x00\x04\x80\x00\x00\x00")
    verify_connection_error(conn, FLOW_CONTROL_ERROR)


# http2/6.10 -- CONTINUATION


@case()
def http2_6_10_1(config: Config, conn: Conn) -> None:
    """http2/6.10/1: Sends multiple CONTINUATION frames preceded by a HEADERS frame

    GET + two CONTINUATION frames with a 4000-byte field: response HEADERS on stream 1."""
    conn.handshake()
    _get(conn, config, end_headers=False)
    conn.write_continuation(1, False, _dummy_block(conn, config))
    conn.write_continuation(1, True, _dummy_block(conn, config))
    verify_headers_frame(conn, 1)


@case()
def http2_6_10_2(config: Config, conn: Conn) -> None:
    """http2/6.10/2: Sends a CONTINUATION frame followed by any frame other than CONTINUATION

    HEADERS, CONTINUATION (no END_HEADERS), DATA: connection error PROTOCOL_ERROR."""
    conn.handshake()
    _post(conn, config, end_headers=False)
    conn.write_continuation(1, False, _dummy_block(conn, config))
    conn.write_data(1, True, b"test")
    verify_connection_error(conn, PROTOCOL_ERROR)


@case()
def http2_6_10_3(config: Config, conn: Conn) -> None:
    """http2/6.10/3: Sends a CONTINUATION frame with 0x0 stream identifier

    Connection error PROTOCOL_ERROR."""
    conn.handshake()
    _get(conn, config, end_headers=False)
    conn.write_continuation(0, True, _dummy_block(conn, config))
    verify_connection_error(conn, PROTOCOL_ERROR)


@case()
def http2_6_10_4(config: Config, conn: Conn) -> None:
    """http2/6.10/4: Sends a CONTINUATION frame preceded by a HEADERS frame with END_HEADERS flag

    Connection error PROTOCOL_ERROR."""
    conn.handshake()
    _get(conn, config)
    conn.write_continuation(1, True, _dummy_block(conn, config))
    verify_connection_error(conn, PROTOCOL_ERROR)


@case()
def http2_6_10_5(config: Config, conn: Conn) -> None:
    """http2/6.10/5: Sends a CONTINUATION frame preceded by a CONTINUATION frame with END_HEADERS flag

    Connection error PROTOCOL_ERROR."""
    conn.handshake()
    _get(conn, config, end_headers=False)
    conn.write_continuation(1, True, _dummy_block(conn, config))
    conn.write_continuation(1, True, _dummy_block(conn, config))
    verify_connection_error(conn, PROTOCOL_ERROR)


@case()
def http2_6_10_6(config: Config, conn: Conn) -> None:
    """http2/6.10/6: Sends a CONTINUATION frame preceded by a DATA frame

    HEADERS (no END_HEADERS), DATA, CONTINUATION frames: connection error PROTOCOL_ERROR."""
    conn.handshake()
    _post(conn, config, end_headers=False)
    conn.write_data(1, True, b"test")
    conn.write_continuation(1, False, _dummy_block(conn, config))
    conn.write_continuation(0, True, _dummy_block(conn, config))
    verify_connection_error(conn, PROTOCOL_ERROR)


# http2/7 -- Error Codes


@case()
def http2_7_1(config: Config, conn: Conn) -> None:
    """http2/7/1: Sends a GOAWAY frame with unknown error code

    GOAWAY(0xff), PING: a PING ACK, or the connection closed."""
    conn.handshake()
    conn.write_goaway(0, 0xFF, b"")
    conn.write_ping(False, H2SPEC_PING)
    verify_ping_ack_or_close(conn, H2SPEC_PING)


@case()
def http2_7_2(config: Config, conn: Conn) -> None:
    """http2/7/2: Sends a RST_STREAM frame with unknown error code

    POST, RST_STREAM(0xff), PING: the PING must be acknowledged."""
    conn.handshake()
    _post(conn, config)
    conn.write_rst_stream(1, 0xFF)
    conn.write_ping(False, ZERO_PING)
    verify_ping_ack(conn, ZERO_PING)


# http2/8.1 -- HTTP Request/Response Exchange


@case()
def http2_8_1_1(config: Config, conn: Conn) -> None:
    """http2/8.1/1: Sends a second HEADERS frame without the END_STREAM flag

    POST, DATA, trailing HEADERS without END_STREAM: stream error PROTOCOL_ERROR."""
    conn.handshake()
    _post(conn, config)
    conn.write_data(1, False, b"test")
    conn.write_headers(1, conn.encode_headers([("x-test", "ok")]), end_stream=False)
    verify_stream_error(conn, PROTOCOL_ERROR)


def _get_with_fields(config: Config, conn: Conn, headers: list[tuple[str, str]]) -> None:
    conn.handshake()
    conn.write_headers(1, conn.encode_headers(headers))
    verify_stream_error(conn, PROTOCOL_ERROR)


@case()
def http2_8_1_2_1(config: Config, conn: Conn) -> None:
    """http2/8.1.2/1: Sends a HEADERS frame that contains the header field name in uppercase letters

    X-TEST: ok: stream error PROTOCOL_ERROR."""
    _get_with_fields(config, conn, [*common_headers(config), ("X-TEST", "ok")])


@case()
def http2_8_1_2_1_1(config: Config, conn: Conn) -> None:
    """http2/8.1.2.1/1: Sends a HEADERS frame that contains a unknown pseudo-header field

    :test: ok: stream error PROTOCOL_ERROR."""
    _get_with_fields(config, conn, [*common_headers(config), (":test", "ok")])


@case()
def http2_8_1_2_1_2(config: Config, conn: Conn) -> None:
    """http2/8.1.2.1/2: Sends a HEADERS frame that contains the pseudo-header field defined for response

    :status: 200 in a request: stream error PROTOCOL_ERROR."""
    _get_with_fields(config, conn, [*common_headers(config), (":status", "200")])


@case()
def http2_8_1_2_1_3(config: Config, conn: Conn) -> None:
    """http2/8.1.2.1/3: Sends a HEADERS frame that contains a pseudo-header field as trailers

    POST, DATA, trailers with :method (no END_STREAM): stream error PROTOCOL_ERROR."""
    conn.handshake()
    _post(conn, config)
    conn.write_data(1, False, b"test")
    conn.write_headers(1, conn.encode_headers([(":method", "POST")]), end_stream=False)
    verify_stream_error(conn, PROTOCOL_ERROR)


@case()
def http2_8_1_2_1_4(config: Config, conn: Conn) -> None:
    """http2/8.1.2.1/4: Sends a HEADERS frame that contains a pseudo-header field that appears in a header block after a regular header field

    x-test before the pseudo-header fields: stream error PROTOCOL_ERROR."""
    _get_with_fields(config, conn, [("x-test", "ok"), *common_headers(config)])


@case()
def http2_8_1_2_2_1(config: Config, conn: Conn) -> None:
    """http2/8.1.2.2/1: Sends a HEADERS frame that contains the connection-specific header field

    connection: keep-alive: stream error PROTOCOL_ERROR."""
    _get_with_fields(config, conn, [*common_headers(config), ("connection", "keep-alive")])


@case()
def http2_8_1_2_2_2(config: Config, conn: Conn) -> None:
    """http2/8.1.2.2/2: Sends a HEADERS frame that contains the TE header field with any value other than "trailers"

    te: trailers, deflate: stream error PROTOCOL_ERROR."""
    headers = [*common_headers(config), ("trailers", "test"), ("te", "trailers, deflate")]
    _get_with_fields(config, conn, headers)


@case()
def http2_8_1_2_3_1(config: Config, conn: Conn) -> None:
    """http2/8.1.2.3/1: Sends a HEADERS frame with empty ":path" pseudo-header field

    Stream error PROTOCOL_ERROR."""
    headers = [(n, "" if n == ":path" else v) for n, v in common_headers(config)]
    _get_with_fields(config, conn, headers)


@case()
def http2_8_1_2_3_2(config: Config, conn: Conn) -> None:
    """http2/8.1.2.3/2: Sends a HEADERS frame that omits ":method" pseudo-header field

    Stream error PROTOCOL_ERROR.  (Like h2spec, this sends only :path and :authority.)"""
    _get_with_fields(config, conn, common_headers(config)[2:])


@case()
def http2_8_1_2_3_3(config: Config, conn: Conn) -> None:
    """http2/8.1.2.3/3: Sends a HEADERS frame that omits ":scheme" pseudo-header field

    Stream error PROTOCOL_ERROR."""
    _get_with_fields(config, conn, [h for h in common_headers(config) if h[0] != ":scheme"])


@case()
def http2_8_1_2_3_4(config: Config, conn: Conn) -> None:
    """http2/8.1.2.3/4: Sends a HEADERS frame that omits ":path" pseudo-header field

    Stream error PROTOCOL_ERROR."""
    _get_with_fields(config, conn, [h for h in common_headers(config) if h[0] != ":path"])


def _duplicated(config: Config, name: str) -> list[tuple[str, str]]:
    headers = common_headers(config)
    return [*headers, (name, dict(headers)[name])]


@case()
def http2_8_1_2_3_5(config: Config, conn: Conn) -> None:
    """http2/8.1.2.3/5: Sends a HEADERS frame with duplicated ":method" pseudo-header field

    Stream error PROTOCOL_ERROR."""
    _get_with_fields(config, conn, _duplicated(config, ":method"))


@case()
def http2_8_1_2_3_6(config: Config, conn: Conn) -> None:
    """http2/8.1.2.3/6: Sends a HEADERS frame with duplicated ":scheme" pseudo-header field

    Stream error PROTOCOL_ERROR."""
    _get_with_fields(config, conn, _duplicated(config, ":scheme"))


@case()
def http2_8_1_2_3_7(config: Config, conn: Conn) -> None:
    """http2/8.1.2.3/7: Sends a HEADERS frame with duplicated ":path" pseudo-header field

    Stream error PROTOCOL_ERROR."""
    _get_with_fields(config, conn, _duplicated(config, ":path"))


@case()
def http2_8_1_2_6_1(config: Config, conn: Conn) -> None:
    """http2/8.1.2.6/1: Sends a HEADERS frame with the "content-length" header field which does not equal the DATA frame payload length

    content-length: 1 with 4 bytes of DATA: stream error PROTOCOL_ERROR."""
    conn.handshake()
    _post(conn, config, [("content-length", "1")])
    conn.write_data(1, True, b"test")
    verify_stream_error(conn, PROTOCOL_ERROR)


@case()
def http2_8_1_2_6_2(config: Config, conn: Conn) -> None:
    """http2/8.1.2.6/2: Sends a HEADERS frame with the "content-length" header field which does not equal the sum of the multiple DATA frames payload length

    content-length: 1 with two 4-byte DATA frames: stream error PROTOCOL_ERROR."""
    conn.handshake()
    _post(conn, config, [("content-length", "1")])
    conn.write_data(1, False, b"test")
    conn.write_data(1, True, b"test")
    verify_stream_error(conn, PROTOCOL_ERROR)


# http2/8.2 -- Server Push


@case()
def http2_8_2_1(config: Config, conn: Conn) -> None:
    """http2/8.2/1: Sends a PUSH_PROMISE frame

    A client cannot push: connection error PROTOCOL_ERROR."""
    conn.handshake()
    conn.write_push_promise(1, 3, conn.encode_headers(common_headers(config)))
    verify_connection_error(conn, PROTOCOL_ERROR)


# hpack/* -- each bad representation follows h2spec's common request.


def _compression_error_after(config: Config, conn: Conn, rep: bytes, before: bool = False):
    conn.handshake()
    block = conn.encode_headers(common_headers(config))
    conn.write_headers(1, rep + block if before else block + rep)
    verify_connection_error(conn, COMPRESSION_ERROR)


@case()
def hpack_2_3_3_1(config: Config, conn: Conn) -> None:
    """hpack/2.3.3/1: Sends a indexed header field representation with invalid index

    Indexed field 70 (past both tables): connection error COMPRESSION_ERROR."""
    _compression_error_after(config, conn, hpack_integer(70, 7, 0x80))


@case()
def hpack_2_3_3_2(config: Config, conn: Conn) -> None:
    """hpack/2.3.3/2: Sends a literal header field representation with invalid index

    Literal with incremental indexing, name index 70, empty value: COMPRESSION_ERROR."""
    _compression_error_after(config, conn, hpack_integer(70, 6, 0x40) + b"\x00")


@case()
def hpack_4_2_1(config: Config, conn: Conn) -> None:
    """hpack/4.2/1: Sends a dynamic table size update at the end of header block

    A size update (to 1) after the fields: connection error COMPRESSION_ERROR."""
    _compression_error_after(config, conn, table_size_update(1))


def _x_test_value(value: bytes) -> bytes:
    """Literal without indexing, new name x-test (Huffman), then ``value`` as is."""
    return b"\x00" + string_literal("x-test", huffman=True) + value


@case()
def hpack_5_2_1(config: Config, conn: Conn) -> None:
    """hpack/5.2/1: Sends a Huffman-encoded string literal representation with padding longer than 7 bits

    x-test: test, the Huffman value followed by a whole byte of padding: COMPRESSION_ERROR."""
    _compression_error_after(config, conn, _x_test_value(huffman_string(b"test", extra=b"\xff")))


@case()
def hpack_5_2_2(config: Config, conn: Conn) -> None:
    """hpack/5.2/2: Sends a Huffman-encoded string literal representation padded by zero

    x-test: test, the Huffman value padded with 0 bits instead of EOS bits: COMPRESSION_ERROR."""
    _compression_error_after(config, conn, _x_test_value(huffman_string(b"test", pad_bit=0)))


@case()
def hpack_5_2_3(config: Config, conn: Conn) -> None:
    """hpack/5.2/3: Sends a Huffman-encoded string literal representation containing the EOS symbol

    x-test: "tes" EOS "t" in Huffman: connection error COMPRESSION_ERROR."""
    symbols = [*b"tes", 256, *b"t"]
    _compression_error_after(config, conn, _x_test_value(huffman_string(symbols)))


@case()
def hpack_6_1_1(config: Config, conn: Conn) -> None:
    """hpack/6.1/1: Sends a indexed header field representation with index 0

    Connection error COMPRESSION_ERROR."""
    _compression_error_after(config, conn, hpack_integer(0, 7, 0x80))


@case()
def hpack_6_3_1(config: Config, conn: Conn) -> None:
    """hpack/6.3/1: Sends a dynamic table size update larger than the value of SETTINGS_HEADER_TABLE_SIZE

    A size update to the server's SETTINGS_HEADER_TABLE_SIZE + 1 first: COMPRESSION_ERROR."""
    conn.handshake()
    limit = conn.settings.get(HEADER_TABLE_SIZE, 4096)
    block = table_size_update(limit + 1) + conn.encode_headers(common_headers(config))
    conn.write_headers(1, block)
    verify_connection_error(conn, COMPRESSION_ERROR)


# -- running -----------------------------------------------------------------------


def select_cases(prefixes: Iterable[str] = (), strict: bool = False) -> list[Case]:
    """Cases whose id starts with one of ``prefixes`` (all when none); strict ones on request."""
    chosen = [c for c in CASES if strict or not c.strict]
    prefixes = [p for p in prefixes if p]
    if prefixes:
        chosen = [c for c in chosen if any(_matches(c.case_id, p) for p in prefixes)]
    return chosen


def _matches(case_id: str, prefix: str) -> bool:
    """``http2/6.5`` selects http2/6.5/* and (like h2spec) http2/6.5.2/*, not http2/6.50/*."""
    if case_id == prefix or prefix.endswith(("/", ".")):
        return case_id.startswith(prefix)
    return case_id.startswith(prefix + "/") or case_id.startswith(prefix + ".")


def run_case(test: Case, config: Config) -> Result:
    started = time.monotonic()
    conn: Conn | None = None
    try:
        conn = Conn(config)
        conn.label = test.case_id
        test.run(config, conn)
        status, detail = "PASS", ""
    except CaseFailed as failure:
        status = "FAIL"
        detail = f"expected: {' | '.join(failure.expected)}; actual: {failure.actual}"
    except CaseSkipped as skipped:
        status, detail = "SKIP", str(skipped)
    except CaseError as error:
        status, detail = "FAIL", f"error: {error}"
    except Exception as error:  # a bug in a case must not stop the run
        status, detail = "FAIL", f"runner exception: {error!r}"
    finally:
        if conn is not None:
            conn.close()
    return Result(test.case_id, test.description, status, detail, time.monotonic() - started)


def run_cases(
    config: Config,
    prefixes: Iterable[str] = (),
    strict: bool = False,
    jobs: int = 1,
    on_result: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Run the selected cases (``jobs`` at a time); results in case order."""
    cases = select_cases(prefixes, strict)
    lock = threading.Lock()

    def one(test: Case) -> Result:
        result = run_case(test, config)
        if on_result is not None:
            with lock:
                on_result(result)
        return result

    if jobs <= 1:
        return [one(test) for test in cases]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, cases))


def summary(results: list[Result]) -> str:
    passed = sum(r.status == "PASS" for r in results)
    failed = sum(r.status == "FAIL" for r in results)
    skipped = sum(r.status == "SKIP" for r in results)
    text = f"h2 conformance: passed={passed} failed={failed} total={len(results)}"
    return text + (f" skipped={skipped}" if skipped else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="h2spec-equivalent HTTP/2 conformance cases")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tls", action="store_true", help="TLS with ALPN h2 (no verification)")
    parser.add_argument(
        "--case",
        action="append",
        default=[],
        help="run the cases whose id starts with PREFIX (comma-separated or repeated)",
    )
    parser.add_argument("--timeout", type=float, default=2.0, help="wait per frame (h2spec: 2)")
    parser.add_argument("--jobs", type=int, default=1, help="cases run at once")
    parser.add_argument("--strict", action="store_true", help="also the strict cases")
    parser.add_argument("--path", default="/", help="request path (h2spec: /)")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="log frames to stderr")
    parser.add_argument(
        "--strict-codes",
        action="store_true",
        help="not h2spec: a wrong error code fails even if the connection then closes",
    )
    args = parser.parse_args(argv)
    prefixes = [p.strip() for value in args.case for p in value.split(",")]
    if args.list:
        for test in select_cases(prefixes, args.strict):
            print(f"{test.case_id}: {test.description}")
        return 0
    config = Config(
        args.host,
        args.port,
        args.tls,
        args.timeout,
        args.path,
        verbose=args.verbose,
        strict_codes=args.strict_codes,
    )

    def show(result: Result) -> None:
        print(result.line(), flush=True)

    results = run_cases(config, prefixes, args.strict, args.jobs, show if args.jobs <= 1 else None)
    if args.jobs > 1:
        for result in results:
            show(result)
    print(summary(results))
    return 1 if any(r.status == "FAIL" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
