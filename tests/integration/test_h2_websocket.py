"""WebSocket over HTTP/2 (RFC 8441) against a real server, cleartext and TLS."""

from __future__ import annotations

import json
import os
import struct
import zlib

import h2.errors
import pytest
from h2ws_client import H2WebSocket
from processes import DaphneCommand, TLSFiles

pytestmark = pytest.mark.timeout(60)
APP = "apps.ws_apps:app"


@pytest.fixture(scope="module")
def server():
    with DaphneCommand(["-p", "0", "--access-log", os.devnull, APP]).start() as daphne:
        yield daphne


@pytest.fixture
def client(server):
    connection = H2WebSocket(server.port)
    yield connection
    connection.close()


def read_records(path) -> list[dict]:
    with open(path) as handle:
        return [json.loads(line) for line in handle]


def wait_for_record(server, path, predicate) -> list[dict]:
    """Bounded wait until the app has recorded a matching message."""
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if os.path.exists(path):
            records = read_records(path)
            if any(predicate(record) for record in records):
                return records
        time.sleep(0.02)
    raise AssertionError(f"no matching record in {path}")


def test_settings_enable_connect_protocol(client) -> None:
    assert client.conn.remote_settings.enable_connect_protocol == 1


def test_echo_subprotocol_and_scope(client, server) -> None:
    stream = client.open(
        "/scope?x=1", [(b"sec-websocket-protocol", b"chat, superchat"), (b"cookie", b"a=1")]
    )
    status, headers = client.response(stream)
    assert status == 200
    assert headers[b"sec-websocket-protocol"] == b"chat"
    assert headers[b"set-cookie"] == b"session=1"
    assert b"sec-websocket-accept" not in headers
    opcode, payload = client.frame(stream)
    assert opcode == 0x1
    scope = json.loads(payload)
    assert scope["type"] == "websocket"
    assert scope["http_version"] == "2"
    assert scope["scheme"] == "ws"
    assert scope["path"] == "/scope"
    assert scope["subprotocols"] == ["chat", "superchat"]
    assert ["host", f"127.0.0.1:{server.port}"] in scope["headers"]
    assert ["cookie", "a=1"] in scope["headers"]
    client.send_text(stream, "hello")
    assert client.frame(stream) == (0x1, b"hello")
    client.send_frame(stream, 0x2, b"\x00\xff")
    assert client.frame(stream) == (0x2, b"\x00\xff")
    client.send_frame(stream, 0x9, b"ping!")
    assert client.frame(stream) == (0xA, b"ping!")


def test_client_close_code_reaches_app(client, tmp_path, server) -> None:
    record = tmp_path / "r.jsonl"
    stream = client.open(f"/echo?record={record}")
    assert client.response(stream)[0] == 200
    client.send_close(stream, 3001, "bye")
    assert client.frame(stream) == (0x8, struct.pack("!H", 3001))
    client.end(stream)
    client.pump_until(lambda: stream in client.ended)
    records = wait_for_record(server, record, lambda r: r["type"] == "websocket.disconnect")
    assert records[-1] == {"type": "websocket.disconnect", "code": 3001, "reason": "bye"}


def test_server_close_code_and_reason(client) -> None:
    stream = client.open("/echo")
    assert client.response(stream)[0] == 200
    client.send_text(stream, "close:4321:done")
    assert client.frame(stream) == (0x8, struct.pack("!H", 4321) + b"done")
    client.send_close(stream, 4321)
    client.pump_until(lambda: stream in client.ended)


def test_reject_and_denial_response(client) -> None:
    stream = client.open("/reject")
    assert client.response(stream)[0] == 403
    client.pump_until(lambda: stream in client.ended)
    stream = client.open("/deny")
    status, headers = client.response(stream)
    assert status == 401
    assert headers[b"x-why"] == b"token"
    client.pump_until(lambda: stream in client.ended)
    assert client.data[stream] == b"go away"


def test_bad_extended_connects(client) -> None:
    stream = client.open("/echo", protocol=b"not-websocket")
    assert client.response(stream)[0] == 501
    stream = client.open("/echo", version=b"8")
    status, headers = client.response(stream)
    assert status == 426
    assert headers[b"sec-websocket-version"] == b"13"


def test_message_size_limit(client) -> None:
    stream = client.open("/echo")
    assert client.response(stream)[0] == 200
    # A frame header announcing more than the 1 MiB limit is refused at once.
    header = bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 1_100_000) + b"mask"
    client.conn.send_data(stream, header + b"x" * 1000)
    client.sock.sendall(client.conn.data_to_send())
    opcode, payload = client.frame(stream)
    assert opcode == 0x8
    assert struct.unpack("!H", payload[:2])[0] == 1009


def test_permessage_deflate(client) -> None:
    stream = client.open("/echo", [(b"sec-websocket-extensions", b"permessage-deflate")])
    status, headers = client.response(stream)
    assert status == 200
    assert headers[b"sec-websocket-extensions"].startswith(b"permessage-deflate")
    compressor = zlib.compressobj(wbits=-15)
    data = compressor.compress(b"squeeze " * 100) + compressor.flush(zlib.Z_SYNC_FLUSH)
    client.send_frame(stream, 0x1, data[:-4], rsv1=True)
    opcode, payload = client.frame(stream)
    assert opcode == 0x1
    assert zlib.decompressobj(wbits=-15).decompress(payload + b"\x00\x00\xff\xff") == (
        b"squeeze " * 100
    )


def test_reset_stream_only_affects_that_socket(client, tmp_path, server) -> None:
    record = tmp_path / "r.jsonl"
    first = client.open(f"/echo?record={record}")
    second = client.open("/echo")
    assert client.response(first)[0] == 200
    assert client.response(second)[0] == 200
    client.conn.reset_stream(first, h2.errors.ErrorCodes.CANCEL)
    client.sock.sendall(client.conn.data_to_send())
    records = wait_for_record(server, record, lambda r: r["type"] == "websocket.disconnect")
    assert records[-1]["code"] == 1006
    client.send_text(second, "still here")
    assert client.frame(second) == (0x1, b"still here")


def test_http_and_websocket_streams_share_a_connection(client) -> None:
    streams = [client.open(f"/echo?n={n}") for n in range(5)]
    for stream in streams:
        assert client.response(stream)[0] == 200
    for n, stream in enumerate(streams):
        client.send_text(stream, f"m{n}")
    for n, stream in enumerate(streams):
        assert client.frame(stream) == (0x1, f"m{n}".encode())
    http = client.conn.get_next_available_stream_id()
    client.conn.send_headers(
        http,
        [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"), (b":authority", b"x")],
        end_stream=True,
    )
    client.sock.sendall(client.conn.data_to_send())
    client.pump_until(lambda: http in client.ended)
    assert client.data[http] == b"http"


def test_wss_over_tls(tmp_path) -> None:
    tls = TLSFiles(tmp_path)
    with DaphneCommand(["-e", tls.endpoint, "--access-log", os.devnull, APP]).start() as daphne:
        context = tls.client_context()
        client = H2WebSocket(daphne.port, context)
        try:
            stream = client.open("/scope")
            assert client.response(stream)[0] == 200
            scope = json.loads(client.frame(stream)[1])
            assert scope["scheme"] == "wss"
            assert scope["http_version"] == "2"
            assert scope["extensions"]["tls"]["tls_version"] in (0x0303, 0x0304)
        finally:
            client.close()


def test_graceful_shutdown_closes_with_1001(tmp_path) -> None:
    with DaphneCommand(["-p", "0", "--access-log", os.devnull, APP]).start() as daphne:
        client = H2WebSocket(daphne.port)
        try:
            stream = client.open("/echo")
            assert client.response(stream)[0] == 200
            daphne.process.send_signal(2)
            opcode, payload = client.frame(stream)
            assert opcode == 0x8
            assert struct.unpack("!H", payload[:2])[0] == 1001
            assert client.goaway == [(stream, 0)]
            client.send_close(stream, 1001)
            client.pump_until(lambda: stream in client.ended)
            assert daphne.process.wait(timeout=15) == 0
        finally:
            client.close()
