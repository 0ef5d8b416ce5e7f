"""The ASGI extensions against a real server: early hints, trailers, file sends, push, tls."""

from __future__ import annotations

import hashlib
import json
import os
import socket

import h2.events
import h2.settings
import h11
import pytest
from h2ws_client import H2WebSocket
from processes import DaphneCommand, TLSFiles

pytestmark = pytest.mark.timeout(60)
APP = "apps.ext_apps:app"


@pytest.fixture(scope="module")
def server():
    with DaphneCommand(["-p", "0", "--access-log", os.devnull, APP]).start() as daphne:
        yield daphne


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("files") / "big.bin"
    path.write_bytes(os.urandom(5 * 1024 * 1024 + 123))
    return path


def h1(port: int, target: str, headers: list = (), method: str = "GET"):  # type: ignore[assignment]
    """One HTTP/1.1 exchange with h11; returns (informational, response, body, trailers)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn = h11.Connection(h11.CLIENT)
    request = h11.Request(method=method, target=target, headers=[("Host", "127.0.0.1"), *headers])
    sock.sendall(conn.send(request) + conn.send(h11.EndOfMessage()))
    informational, response, body, trailers = [], None, bytearray(), []
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(sock.recv(65536))
            elif isinstance(event, h11.InformationalResponse):
                informational.append(event)
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                trailers = [(bytes(n), bytes(v)) for n, v in event.headers]
                break
    finally:
        sock.close()
    return informational, response, bytes(body), trailers


def extensions_h1(port: int, headers: list = ()) -> dict:  # type: ignore[assignment]
    return json.loads(h1(port, "/extensions", headers)[2])


def test_http1_advertises_what_works(server) -> None:
    extensions = extensions_h1(server.port)
    assert set(extensions) == {
        "http.response.early_hint",
        "http.response.pathsend",
        "http.response.zerocopysend",
    }
    with_te = extensions_h1(server.port, [("TE", "trailers")])
    assert "http.response.trailers" in with_te


def test_http1_early_hints(server) -> None:
    informational, response, body, _ = h1(server.port, "/hints")
    assert [hint.status_code for hint in informational] == [103, 103]
    assert informational[0].headers == [(b"link", b"</style.css>; rel=preload")]
    assert [v for _, v in informational[1].headers] == [
        b"</a.js>; rel=preload",
        b"</b.js>; rel=preload",
    ]
    assert response.status_code == 200
    assert body == b"hinted"


def test_http1_trailers_only_with_te(server) -> None:
    _, response, body, trailers = h1(server.port, "/trailers", [("TE", "trailers")])
    assert (b"transfer-encoding", b"chunked") in response.headers
    assert body == b"part one part two"
    assert trailers == [(b"x-checksum", b"abc123"), (b"x-more", b"yes")]
    # Without "TE: trailers" the extension is not offered: the app's flag is ignored.
    _, response, body, trailers = h1(server.port, "/trailers")
    assert body == b"part one part two"
    assert trailers == []


@pytest.mark.parametrize("length", [True, False])
def test_http1_pathsend(server, big_file, length) -> None:
    target = f"/pathsend?{big_file}" + ("&length" if length else "")
    _, response, body, _ = h1(server.port, target)
    assert response.status_code == 200
    framing = dict(response.headers)
    if length:
        assert framing[b"content-length"] == b"%d" % big_file.stat().st_size
    else:
        assert framing[b"transfer-encoding"] == b"chunked"
    assert hashlib.sha256(body).digest() == hashlib.sha256(big_file.read_bytes()).digest()
    _, response, body, _ = h1(server.port, target, method="HEAD")
    assert body == b""


def test_http1_zerocopysend(server, big_file) -> None:
    _, response, body, _ = h1(server.port, f"/zerocopy?{big_file}")
    assert response.status_code == 200
    data = big_file.read_bytes()
    assert body == data[10:20] + b"|" + data[100:]


def test_pathsend_of_missing_file_is_a_500(server) -> None:
    _, response, _, _ = h1(server.port, "/missing-file")
    assert response.status_code == 500


# -- HTTP/2 ----------------------------------------------------------------------------


def h2_get(client: H2WebSocket, path: str) -> int:
    stream = client.conn.get_next_available_stream_id()
    client.conn.send_headers(
        stream,
        [
            (b":method", b"GET"),
            (b":scheme", b"http"),
            (b":path", path.encode()),
            (b":authority", b"example.test"),
        ],
        end_stream=True,
    )
    client.sock.sendall(client.conn.data_to_send())
    client.pump_until(lambda: stream in client.ended)
    return stream


def test_http2_extensions_hints_and_trailers(server) -> None:
    client = H2WebSocket(server.port)
    try:
        stream = h2_get(client, "/extensions")
        extensions = json.loads(client.data[stream])
        assert {
            "http.response.early_hint",
            "http.response.trailers",
            "http.response.pathsend",
        } <= set(extensions)
        assert "tls" not in extensions
        assert "http.response.zerocopysend" not in extensions
        stream = h2_get(client, "/hints")
        hints = [
            e
            for e in client.events
            if isinstance(e, h2.events.InformationalResponseReceived) and e.stream_id == stream
        ]
        assert [dict(h.headers)[b":status"] for h in hints] == [b"103", b"103"]
        assert client.data[stream] == b"hinted"
        stream = h2_get(client, "/trailers")
        (trailers,) = [
            e
            for e in client.events
            if isinstance(e, h2.events.TrailersReceived) and e.stream_id == stream
        ]
        assert trailers.headers == [(b"x-checksum", b"abc123"), (b"x-more", b"yes")]
        assert client.data[stream] == b"part one part two"
    finally:
        client.close()


def test_http2_pathsend_respects_flow_control(server, big_file) -> None:
    client = H2WebSocket(server.port)
    try:
        stream = h2_get(client, f"/pathsend?{big_file}&length")
        assert client.data[stream] == big_file.read_bytes()
    finally:
        client.close()


def test_http2_server_push(server) -> None:
    client = H2WebSocket(server.port)
    try:
        client.conn.update_settings({h2.settings.SettingCodes.ENABLE_PUSH: 1})
        client.sock.sendall(client.conn.data_to_send())
        stream = h2_get(client, "/extensions")
        assert "http.response.push" in json.loads(client.data[stream])
        stream = h2_get(client, "/push")
        (promise,) = [e for e in client.events if isinstance(e, h2.events.PushedStreamReceived)]
        assert promise.parent_stream_id == stream
        assert (b":path", b"/pushed.css") in promise.headers
        assert (b":authority", b"example.test") in promise.headers
        client.pump_until(lambda: promise.pushed_stream_id in client.ended)
        assert client.data[promise.pushed_stream_id] == b"pushed 1 example.test"
        assert client.data[stream] == b"page"
    finally:
        client.close()


def test_http2_push_not_offered_when_disabled(server) -> None:
    client = H2WebSocket(server.port)
    try:
        client.conn.update_settings({h2.settings.SettingCodes.ENABLE_PUSH: 0})
        client.sock.sendall(client.conn.data_to_send())
        stream = h2_get(client, "/extensions")
        assert "http.response.push" not in json.loads(client.data[stream])
        stream = h2_get(client, "/push")
        assert client.data[stream] == b"page"
        assert not [e for e in client.events if isinstance(e, h2.events.PushedStreamReceived)]
    finally:
        client.close()


# -- TLS -----------------------------------------------------------------------------------


def test_tls_extension_over_http1_and_http2(tmp_path, big_file) -> None:
    files = TLSFiles(tmp_path)
    with DaphneCommand(["-e", files.endpoint, "--access-log", os.devnull, APP]).start() as daphne:
        context = files.client_context()
        context.set_alpn_protocols(["http/1.1"])
        with context.wrap_socket(
            socket.create_connection(("127.0.0.1", daphne.port), timeout=10),
            server_hostname="127.0.0.1",
        ) as sock:
            sock.sendall(b"GET /extensions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
            version, cipher = sock.version(), sock.cipher()
        extensions = json.loads(data.split(b"\r\n\r\n", 1)[1].split(b"\r\n")[1])
        tls = extensions["tls"]
        assert "http.response.zerocopysend" not in extensions  # no sendfile through TLS
        assert tls["tls_version"] == {"TLSv1.3": 0x0304, "TLSv1.2": 0x0303}[version]
        assert isinstance(tls["cipher_suite"], int)
        if cipher[0] == "TLS_AES_256_GCM_SHA384":
            assert tls["cipher_suite"] == 0x1302
        assert tls["server_cert"] == files.cert.cert_chain_pems[0].bytes().decode()
        assert tls["client_cert_chain"] == []
        assert tls["client_cert_name"] is None
        assert tls["client_cert_error"] is None
        # HTTP/2 over the same kind of endpoint, and pathsend without sendfile.
        h2_context = files.client_context()
        client = H2WebSocket(daphne.port, h2_context)
        try:
            client.scheme = b"https"
            stream = h2_get(client, "/extensions")
            assert json.loads(client.data[stream])["tls"] == tls
            stream = h2_get(client, f"/pathsend?{big_file}")
            assert client.data[stream] == big_file.read_bytes()
        finally:
            client.close()
