"""A small blocking WebSocket-over-HTTP/2 (RFC 8441) client for the tests.

It speaks HTTP/2 with the ``h2`` library and frames WebSocket messages itself
(masked, as a client must), so tests can see exactly what the server sends.
"""

from __future__ import annotations

import os
import socket
import ssl
import struct
from typing import Any

import h2.config
import h2.connection
import h2.events


def parse_frame(buffer: bytes) -> tuple[int, bytes, int] | None:
    """``(opcode, payload, bytes used)`` of the first whole (unmasked) server frame, or None."""
    if len(buffer) < 2:
        return None
    opcode, length, offset = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
    if length == 126:
        if len(buffer) < 4:
            return None
        (length,) = struct.unpack("!H", buffer[2:4])
        offset = 4
    elif length == 127:
        if len(buffer) < 10:
            return None
        (length,) = struct.unpack("!Q", buffer[2:10])
        offset = 10
    if len(buffer) < offset + length:
        return None
    return opcode, buffer[offset : offset + length], offset + length


class H2WebSocket:
    """One HTTP/2 connection carrying WebSocket streams opened by extended CONNECT."""

    def __init__(self, port: int, ssl_context: ssl.SSLContext | None = None) -> None:
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        if ssl_context is not None:
            ssl_context.set_alpn_protocols(["h2"])
            raw = ssl_context.wrap_socket(raw, server_hostname="127.0.0.1")
        self.sock = raw
        self.port = port
        self.scheme = b"https" if ssl_context is not None else b"http"
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.conn.initiate_connection()
        self.sock.sendall(self.conn.data_to_send())
        self.events: list[Any] = []
        self.data: dict[int, bytes] = {}
        self.ended: set[int] = set()
        self.resets: dict[int, int] = {}
        self.responses: dict[int, list[tuple[bytes, bytes]]] = {}
        self.settings_seen = False
        self.goaway: list[tuple[int, int]] = []
        self._inbound = b""
        self.pump_until(lambda: self.settings_seen)

    def pump(self) -> bool:
        """Read once from the socket and process the events; False at EOF."""
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        for event in self.conn.receive_data(self._without_goaway(chunk)):
            self.events.append(event)
            if isinstance(event, h2.events.RemoteSettingsChanged):
                self.settings_seen = True
            elif isinstance(event, h2.events.ResponseReceived):
                self.responses[event.stream_id] = event.headers
            elif isinstance(event, h2.events.DataReceived):
                self.data[event.stream_id] = self.data.get(event.stream_id, b"") + event.data
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self.ended.add(event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                self.resets[event.stream_id] = event.error_code
        pending = self.conn.data_to_send()
        if pending:
            self.sock.sendall(pending)
        return True

    def _without_goaway(self, chunk: bytes) -> bytes:
        """Take GOAWAY frames out of the byte stream (recorded in ``goaway``).

        The ``h2`` library refuses to process anything after a GOAWAY, but a
        server draining gracefully still finishes the streams it accepted.
        """
        self._inbound += chunk
        passed = b""
        while len(self._inbound) >= 9:
            length = int.from_bytes(self._inbound[:3], "big")
            if len(self._inbound) < 9 + length:
                break
            frame, self._inbound = self._inbound[: 9 + length], self._inbound[9 + length :]
            if frame[3] == 0x7:
                last, code = struct.unpack("!II", frame[9:17])
                self.goaway.append((last & 0x7FFFFFFF, code))
            else:
                passed += frame
        return passed

    def pump_until(self, condition: Any, limit: int = 500) -> None:
        for _ in range(limit):
            if condition():
                return
            if not self.pump():
                break
        assert condition(), "condition not reached"

    def open(
        self,
        path: str,
        headers: list[tuple[bytes, bytes]] = (),  # type: ignore[assignment]
        protocol: bytes = b"websocket",
        version: bytes = b"13",
    ) -> int:
        stream_id = self.conn.get_next_available_stream_id()
        request = [
            (b":method", b"CONNECT"),
            (b":protocol", protocol),
            (b":scheme", self.scheme),
            (b":path", path.encode()),
            (b":authority", b"127.0.0.1:%d" % self.port),
            (b"sec-websocket-version", version),
            *headers,
        ]
        self.conn.send_headers(stream_id, request)
        self.sock.sendall(self.conn.data_to_send())
        return stream_id

    def response(self, stream_id: int) -> tuple[int, dict[bytes, bytes]]:
        self.pump_until(lambda: stream_id in self.responses or stream_id in self.resets)
        headers = dict(self.responses[stream_id])
        return int(headers[b":status"]), headers

    def send_frame(
        self,
        stream_id: int,
        opcode: int,
        payload: bytes,
        fin: bool = True,
        end: bool = False,
        rsv1: bool = False,
    ) -> None:
        mask = os.urandom(4)
        length = len(payload)
        head = bytes([(0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode])
        if length < 126:
            head += bytes([0x80 | length])
        elif length < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", length)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.conn.send_data(stream_id, head + mask + masked, end_stream=end)
        self.sock.sendall(self.conn.data_to_send())

    def send_text(self, stream_id: int, text: str) -> None:
        self.send_frame(stream_id, 0x1, text.encode())

    def send_close(self, stream_id: int, code: int, reason: str = "") -> None:
        self.send_frame(stream_id, 0x8, struct.pack("!H", code) + reason.encode())

    def end(self, stream_id: int) -> None:
        self.conn.end_stream(stream_id)
        self.sock.sendall(self.conn.data_to_send())

    def frame(self, stream_id: int) -> tuple[int, bytes]:
        """The next complete (unmasked) frame the server sent on ``stream_id``."""

        def parsed() -> tuple[int, bytes, int] | None:
            return parse_frame(self.data.get(stream_id, b""))

        self.pump_until(lambda: parsed() is not None)
        opcode, payload, used = parsed()  # type: ignore[misc]
        self.data[stream_id] = self.data[stream_id][used:]
        return opcode, payload

    def close(self) -> None:
        self.sock.close()
