"""HTTP/2 against a real server: TLS with ALPN and cleartext prior knowledge."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import ssl
import subprocess
import time

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings
import httpx
import pytest
import trustme
from processes import DaphneCommand

# slow: nghttp, h2load and curl against a real server (`pytest -m "not slow"` leaves it out).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
APP = "apps.functional:app"


@pytest.fixture(scope="module")
def cleartext():
    with DaphneCommand(["-p", "0", "--access-log", os.devnull, APP]).start(
        wait_for="Listening on"
    ) as daphne:
        daphne.base = f"http://127.0.0.1:{daphne.port}"
        yield daphne


@pytest.fixture(scope="module")
def cleartext_upgrade():
    """A cleartext server that opts in to Upgrade: h2c (--h2c-upgrade)."""
    with DaphneCommand(["-p", "0", "--h2c-upgrade", "--access-log", os.devnull, APP]).start(
        wait_for="Listening on"
    ) as daphne:
        daphne.base = f"http://127.0.0.1:{daphne.port}"
        yield daphne


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    folder = tmp_path_factory.mktemp("tls")
    key_path, cert_path = folder / "key.pem", folder / "cert.pem"
    cert.private_key_pem.write_to_path(str(key_path))
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    ca_path = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    endpoint = f"ssl:0:interface=127.0.0.1:privateKey={key_path}:certKey={cert_path}"
    with DaphneCommand(["-e", endpoint, "--access-log", os.devnull, APP]).start(
        wait_for="Listening on"
    ) as daphne:
        context = ssl.create_default_context(cafile=str(ca_path))
        daphne.base = f"https://127.0.0.1:{daphne.port}"
        daphne.ssl_context = context
        daphne.ca_path = str(ca_path)
        yield daphne


def test_prior_knowledge(cleartext) -> None:
    """A cleartext client speaking HTTP/2 from the first byte is served over HTTP/2."""
    with httpx.Client(http1=False, http2=True, base_url=cleartext.base, timeout=10) as client:
        response = client.get("/scope")
        assert response.http_version == "HTTP/2"
        scope = response.json()
        assert scope["http_version"] == "2"
        assert scope["scheme"] == "http"
        assert ["host", f"127.0.0.1:{cleartext.port}"] in scope["headers"]
        payload = os.urandom(1_000_000)  # far over the initial 64 KiB windows
        assert client.post("/echo", content=payload).content == payload


def test_alpn_h2_over_tls(tls) -> None:
    """TLS endpoints negotiate h2 by ALPN; HTTP/1.1 clients still get HTTP/1.1."""
    with httpx.Client(http2=True, verify=tls.ssl_context, base_url=tls.base, timeout=10) as client:
        response = client.get("/scope")
        assert response.http_version == "HTTP/2"
        assert response.json()["scheme"] == "https"
    with httpx.Client(http2=False, verify=tls.ssl_context, base_url=tls.base, timeout=10) as client:
        response = client.get("/scope")
        assert response.http_version == "HTTP/1.1"


def test_many_concurrent_streams(cleartext) -> None:
    """Many streams run concurrently on one connection, each its own app instance."""

    async def go():
        async with httpx.AsyncClient(
            http1=False, http2=True, base_url=cleartext.base, timeout=20
        ) as client:
            responses = await asyncio.gather(
                *(client.post("/echo", content=f"n{i}".encode()) for i in range(60))
            )
            slow = await asyncio.gather(*(client.get("/slow?0.3") for _ in range(10)))
            return [r.text for r in responses], [r.text for r in slow]

    texts, slow = asyncio.run(go())
    assert texts == [f"n{i}" for i in range(60)]
    assert slow == ["slow"] * 10


def test_head_and_streaming(cleartext) -> None:
    """HEAD carries no body; a streamed response arrives whole."""
    with httpx.Client(http1=False, http2=True, base_url=cleartext.base, timeout=30) as client:
        head = client.head("/")
        assert head.status_code == 200 and head.content == b""
        big = client.get("/big")
        assert len(big.content) == 800 * 65536


def raw_h2(port: int) -> tuple[socket.socket, h2.connection.H2Connection]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn = h2.connection.H2Connection()
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return sock, conn


def events_until(sock, conn, predicate, limit: int = 200) -> list:
    seen = []
    for _ in range(limit):
        data = sock.recv(65536)
        if not data:
            break
        events = conn.receive_data(data)
        try:
            sock.sendall(conn.data_to_send())
        except OSError:
            pass  # the server may already have closed after a GOAWAY
        seen += events
        if any(predicate(e) for e in events):
            break
    return seen


def test_client_reset_only_affects_its_stream(cleartext, tmp_path) -> None:
    """RST_STREAM ends one stream (its app is told); the connection serves the next one."""
    sock, conn = raw_h2(cleartext.port)
    marker = tmp_path / "cancelled"
    conn.send_headers(
        1,
        [
            (":method", "GET"),
            (":path", f"/linger?{marker}"),
            (":scheme", "http"),
            (":authority", "x"),
        ],
        end_stream=True,
    )
    conn.send_headers(
        3,
        [(":method", "GET"), (":path", "/slow?5"), (":scheme", "http"), (":authority", "x")],
        end_stream=True,
    )
    sock.sendall(conn.data_to_send())
    conn.reset_stream(3)
    conn.send_headers(
        5,
        [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "x")],
        end_stream=True,
    )
    sock.sendall(conn.data_to_send())
    seen = events_until(
        sock, conn, lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == 5
    )
    ended = {e.stream_id for e in seen if isinstance(e, h2.events.StreamEnded)}
    assert 5 in ended and 3 not in ended
    sock.close()


def test_bad_frames_get_goaway(cleartext) -> None:
    """A protocol violation is answered with GOAWAY and the connection closes."""
    sock, conn = raw_h2(cleartext.port)
    sock.sendall(
        b"\x00\x00\x04\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    )  # WINDOW_UPDATE of 0 on the connection
    seen = events_until(sock, conn, lambda e: isinstance(e, h2.events.ConnectionTerminated))
    assert any(isinstance(e, h2.events.ConnectionTerminated) for e in seen)
    sock.close()


def test_curl_http2(cleartext, tls) -> None:
    """curl speaks HTTP/2 with prior knowledge and over TLS."""
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    out = subprocess.run(
        ["curl", "-sS", "--http2-prior-knowledge", "-w", "%{http_version}", f"{cleartext.base}/"],
        capture_output=True, text=True, timeout=20,
    )  # fmt: skip
    assert out.stdout == "hello2"
    out = subprocess.run(
        ["curl", "-sS", "--http2", "--cacert", tls.ca_path, "-w", "%{http_version}", f"{tls.base}/"],
        capture_output=True, text=True, timeout=20,
    )  # fmt: skip
    assert out.stdout == "hello2", out.stderr


def test_h2c_upgrade(cleartext_upgrade) -> None:
    """--h2c-upgrade: Upgrade: h2c answers 101 and the request is answered on stream 1."""
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    out = subprocess.run(
        ["curl", "-sS", "-v", "--http2", "-w", "%{http_version}", f"{cleartext_upgrade.base}/"],
        capture_output=True, text=True, timeout=20,
    )  # fmt: skip
    assert "101 Switching Protocols" in out.stderr
    assert out.stdout == "hello2"


_UPGRADE_REQUEST = (
    b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings, close\r\n"
    b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n"
)


def _read_all(port: int, request: bytes) -> bytes:
    """Send ``request`` on a new connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_h2c_upgrade_is_off_by_default(cleartext) -> None:
    """Without --h2c-upgrade, Upgrade: h2c is ignored (smuggling through proxies): the
    request is served as HTTP/1.1; prior-knowledge HTTP/2 still works on the same server."""
    data = _read_all(cleartext.port, _UPGRADE_REQUEST)
    assert data.startswith(b"HTTP/1.1 200 OK"), data[:100]
    assert b"101" not in data.split(b"\r\n", 1)[0]
    assert data.endswith(b"hello")
    with httpx.Client(http1=False, http2=True, base_url=cleartext.base, timeout=10) as client:
        assert client.get("/").http_version == "HTTP/2"


@pytest.mark.parametrize("size", [5, 60_000, 70_000])
def test_h2c_upgrade_with_a_body(cleartext_upgrade, size) -> None:
    """A small body is read whole, then the upgrade happens; a big one stays HTTP/1.1."""
    client = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding=None)
    )
    # Already base64url; RFC 7540 §3.2.1 leaves out the "=" padding.
    settings = client.initiate_upgrade_connection().rstrip(b"=")
    body = os.urandom(size)
    head = (
        b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: %s\r\nContent-Length: %d\r\n\r\n" % (settings, size)
    )
    with socket.create_connection(("127.0.0.1", cleartext_upgrade.port), timeout=10) as sock:
        sock.sendall(head + body[: size // 2])
        time.sleep(0.05)  # the rest arrives later: not a race, both orders must work
        sock.sendall(body[size // 2 :])
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        if size > 64 * 1024:
            assert data.startswith(b"HTTP/1.1 200")
            return
        assert data.startswith(b"HTTP/1.1 101 Switching Protocols")
        sock.sendall(client.data_to_send())
        received = bytearray()
        rest = data.split(b"\r\n\r\n", 1)[1]
        ended = False
        while not ended:
            for event in client.receive_data(rest):
                if isinstance(event, h2.events.DataReceived) and event.stream_id == 1:
                    received += event.data
                    client.acknowledge_received_data(event.flow_controlled_length, 1)
                ended = ended or (isinstance(event, h2.events.StreamEnded) and event.stream_id == 1)
            sock.sendall(client.data_to_send())
            if not ended:
                rest = sock.recv(65536)
                assert rest, "connection closed before stream 1 ended"
        assert bytes(received) == body


@pytest.mark.parametrize("settings", [b"!!not-base64!!", b"AAMAAABkAAQ"])
def test_h2c_upgrade_with_bad_settings_stays_http1(cleartext_upgrade, settings) -> None:
    """An HTTP2-Settings value that is not base64url SETTINGS is no upgrade: plain HTTP/1.1."""
    with socket.create_connection(("127.0.0.1", cleartext_upgrade.port), timeout=10) as sock:
        sock.sendall(
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings, close\r\n"
            b"Upgrade: h2c\r\nHTTP2-Settings: %s\r\n\r\n" % settings
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK")
    assert data.endswith(b"hello")


def test_no_h2c() -> None:
    """--no-h2c: prior-knowledge clients are refused and Upgrade: h2c is served as HTTP/1.1,
    even with --h2c-upgrade (no cleartext HTTP/2 at all)."""
    options = ["-p", "0", "--no-h2c", "--h2c-upgrade", APP]
    with DaphneCommand(options).start(wait_for="Listening on") as daphne:
        with (
            httpx.Client(http1=False, http2=True, timeout=5) as client,
            pytest.raises(httpx.HTTPError),
        ):
            client.get(f"http://127.0.0.1:{daphne.port}/")
        with socket.create_connection(("127.0.0.1", daphne.port), timeout=5) as sock:
            sock.sendall(
                b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                b"HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\nConnection: close\r\n\r\n"
            )
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")


def goaway_code(sock, conn) -> int | None:
    seen = events_until(
        sock, conn, lambda e: isinstance(e, h2.events.ConnectionTerminated), limit=5000
    )
    codes = [e.error_code for e in seen if isinstance(e, h2.events.ConnectionTerminated)]
    return int(codes[0]) if codes else None


def test_rapid_reset_is_stopped(cleartext) -> None:
    """Opening and resetting streams in a loop (CVE-2023-44487) ends in GOAWAY ENHANCE_YOUR_CALM."""
    sock, conn = raw_h2(cleartext.port)
    conn.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1000})
    for index in range(400):
        stream_id = 1 + 2 * index
        conn.send_headers(
            stream_id,
            [(":method", "GET"), (":path", "/slow?5"), (":scheme", "http"), (":authority", "x")],
            end_stream=True,
        )
        conn.reset_stream(stream_id)
    sock.sendall(conn.data_to_send())
    assert goaway_code(sock, conn) == 11  # ENHANCE_YOUR_CALM
    sock.close()


def test_ping_flood_is_stopped(cleartext) -> None:
    """Thousands of PINGs (each owing an ACK) end in GOAWAY ENHANCE_YOUR_CALM."""
    sock, conn = raw_h2(cleartext.port)
    for index in range(3000):
        conn.ping(index.to_bytes(8, "big"))
    try:
        sock.sendall(conn.data_to_send())
    except OSError:
        pass
    assert goaway_code(sock, conn) == 11
    sock.close()


def test_graceful_shutdown_finishes_open_streams() -> None:
    """SIGTERM: GOAWAY names the last stream, which still completes; newer ones are refused."""
    from h2ws_client import H2WebSocket

    with DaphneCommand(["-p", "0", "--access-log", os.devnull, APP]).start() as daphne:
        client = H2WebSocket(daphne.port)
        try:
            request = [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"x")]
            client.conn.send_headers(1, [*request, (b":path", b"/slow?1.0")], end_stream=True)
            client.conn.ping(b"seen-it?")  # answered only after stream 1 was opened
            client.sock.sendall(client.conn.data_to_send())
            client.pump_until(
                lambda: any(isinstance(e, h2.events.PingAckReceived) for e in client.events)
            )
            daphne.process.send_signal(15)
            client.pump_until(lambda: bool(client.goaway))
            assert client.goaway == [(1, 0)]
            client.conn.send_headers(3, [*request, (b":path", b"/")], end_stream=True)
            client.sock.sendall(client.conn.data_to_send())
            client.pump_until(lambda: 1 in client.ended and 3 in client.resets)
            assert client.data[1] == b"slow"
            assert client.resets[3] == h2.errors.ErrorCodes.REFUSED_STREAM
            assert daphne.process.wait(timeout=15) == 0
        finally:
            client.close()


def test_nghttp_get_post_and_push(cleartext, tls, tmp_path) -> None:
    """nghttp (nghttp2's client): prior knowledge, TLS, a request body and a server push."""
    if shutil.which("nghttp") is None:
        pytest.skip("nghttp is not installed (Debian package nghttp2-client)")
    upload = tmp_path / "upload.bin"
    upload.write_bytes(os.urandom(200_000))
    out = subprocess.run(
        ["nghttp", "-d", str(upload), f"{cleartext.base}/echo"],
        capture_output=True, timeout=30,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout == upload.read_bytes()
    out = subprocess.run(["nghttp", f"{tls.base}/"], capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout == b"hello"
    with DaphneCommand(["-p", "0", "--access-log", os.devnull, "apps.ext_apps:app"]).start() as ext:
        out = subprocess.run(
            ["nghttp", "-v", f"http://127.0.0.1:{ext.port}/push"],
            capture_output=True, timeout=30,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert b"PUSH_PROMISE" in out.stdout
        assert b":path: /pushed.css" in out.stdout
        assert b"pushed 1" in out.stdout


def test_h2load_many_streams(cleartext) -> None:
    """h2load: 2,000 requests over 4 connections, 10 streams each at a time, none failing."""
    if shutil.which("h2load") is None:
        pytest.skip("h2load is not installed (Debian package nghttp2-client)")
    out = subprocess.run(
        ["h2load", "-n", "2000", "-c", "4", "-m", "10", f"{cleartext.base}/"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "2000 succeeded, 0 failed, 0 errored" in out.stdout, out.stdout


def _frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return (
        len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload
    )


def read_frames(sock: socket.socket, stop, limit: int = 1000) -> list[tuple[int, int, bytes]]:
    """Raw ``(type, stream, payload)`` frames the server sends, until ``stop`` or EOF."""
    frames, buffer = [], b""
    for _ in range(limit):
        try:
            chunk = sock.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        buffer += chunk
        while len(buffer) >= 9 and len(buffer) >= 9 + int.from_bytes(buffer[:3], "big"):
            length = int.from_bytes(buffer[:3], "big")
            kind, stream = buffer[3], int.from_bytes(buffer[5:9], "big") & 0x7FFFFFFF
            frames.append((kind, stream, buffer[9 : 9 + length]))
            buffer = buffer[9 + length :]
            if stop(kind, stream):
                return frames
    return frames


def test_continuation_flood_is_stopped(cleartext) -> None:
    """HEADERS then endless CONTINUATION frames: GOAWAY and close, memory stays bounded."""
    import hpack

    sock, conn = raw_h2(cleartext.port)
    block = hpack.Encoder().encode(
        [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "x")]
    )
    sock.sendall(_frame(0x1, 0x1, 1, block))  # END_STREAM, no END_HEADERS
    code = None
    try:
        for _ in range(1000):  # up to 16 MB of header fragments
            sock.sendall(_frame(0x9, 0, 1, b"x-a: " + b"b" * 16000))
    except OSError:
        pass  # the server closed on us: it stopped reading
    code = goaway_code(sock, conn)
    sock.close()
    assert code in (h2.errors.ErrorCodes.PROTOCOL_ERROR, h2.errors.ErrorCodes.ENHANCE_YOUR_CALM)


def test_hpack_bomb_is_stopped(cleartext) -> None:
    """A small header block that decodes to far more than the header list limit."""
    import hpack

    sock, _conn = raw_h2(cleartext.port)
    encoder = hpack.Encoder()
    base = [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "x")]
    # The first block puts a 4 KB header in the dynamic table; the second names it 100 times
    # with one byte each (about 400 KB decoded from a few hundred bytes).
    first = encoder.encode([*base, ("x-bomb", "b" * 4000)])
    sock.sendall(_frame(0x1, 0x5, 1, first))
    second = encoder.encode([*base] + [("x-bomb", "b" * 4000)] * 100)
    assert len(second) < 1000
    sock.sendall(_frame(0x1, 0x5, 3, second))
    frames = read_frames(sock, lambda kind, stream: kind == 0x7 or (kind == 0x3 and stream == 3))
    sock.close()
    # Refused: GOAWAY (ENHANCE_YOUR_CALM / COMPRESSION_ERROR) or RST_STREAM on stream 3.
    assert any(kind == 0x7 or (kind == 0x3 and stream == 3) for kind, stream, _ in frames)
    assert not any(kind == 0x1 and stream == 3 for kind, stream, _ in frames)


def test_http2_limits_are_announced() -> None:
    """--h2-max-* options become the server's SETTINGS (and are enforced by them)."""
    from h2ws_client import H2WebSocket

    args = ["--h2-max-concurrent-streams", "7", "--h2-max-header-list-size", "2000"]
    args += ["--h2-max-frame-size", "32768", "--access-log", os.devnull]
    with DaphneCommand(["-p", "0", *args, APP]).start() as daphne:
        client = H2WebSocket(daphne.port)
        try:
            remote = client.conn.remote_settings
            assert remote.max_concurrent_streams == 7
            assert remote.max_header_list_size == 2000
            assert remote.max_frame_size == 32768
            # A header list over the limit does not get an answer.
            client.conn.send_headers(
                1,
                [
                    (b":method", b"GET"),
                    (b":scheme", b"http"),
                    (b":path", b"/"),
                    (b":authority", b"x"),
                    (b"x-big", b"y" * 3000),
                ],
                end_stream=True,
            )
            client.sock.sendall(client.conn.data_to_send())
            client.pump_until(lambda: bool(client.goaway) or 1 in client.resets, limit=50)
            assert 1 not in client.responses
        finally:
            client.close()


def _get(path: str) -> list[tuple[str, str]]:
    return [(":method", "GET"), (":path", path), (":scheme", "http"), (":authority", "x")]


def test_streams_over_the_limit_are_refused_not_fatal() -> None:
    """RFC 9113 §5.1.2: a stream past SETTINGS_MAX_CONCURRENT_STREAMS gets RST_STREAM
    REFUSED_STREAM; the streams already open finish and the connection serves more."""
    args = ["-p", "0", "--h2-max-concurrent-streams", "2", "--access-log", os.devnull, APP]
    with DaphneCommand(args).start() as daphne:
        sock, conn = raw_h2(daphne.port)
        # Sent before the client has read the server's SETTINGS: its h2 does not hold them back.
        for stream_id, path in ((1, "/slow?0.3"), (3, "/slow?0.3"), (5, "/")):
            conn.send_headers(stream_id, _get(path), end_stream=True)
        sock.sendall(conn.data_to_send())
        ended: set[int] = set()
        refused: dict[int, int] = {}

        def note(event) -> bool:
            if isinstance(event, h2.events.StreamEnded):
                ended.add(event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                refused[event.stream_id] = event.error_code
            return {1, 3} <= ended

        seen = events_until(sock, conn, note)
        assert refused == {5: h2.errors.ErrorCodes.REFUSED_STREAM}
        assert not [e for e in seen if isinstance(e, h2.events.ConnectionTerminated)]
        conn.send_headers(7, _get("/"), end_stream=True)
        sock.sendall(conn.data_to_send())
        seen = events_until(sock, conn, lambda e: note(e) and 7 in ended)
        assert 7 in ended
        statuses = [
            dict(e.headers)[b":status"] for e in seen if isinstance(e, h2.events.ResponseReceived)
        ]
        assert statuses == [b"200"]
        sock.close()
        assert "Traceback" not in daphne.output()


def test_opening_streams_past_the_limit_in_a_loop_is_stopped() -> None:
    """Hundreds of streams refused for the limit end in GOAWAY ENHANCE_YOUR_CALM."""
    args = ["-p", "0", "--h2-max-concurrent-streams", "2", "--access-log", os.devnull, APP]
    with DaphneCommand(args).start() as daphne:
        sock, conn = raw_h2(daphne.port)
        for index in range(300):
            conn.send_headers(1 + 2 * index, _get("/slow?5"), end_stream=True)
        sock.sendall(conn.data_to_send())
        assert goaway_code(sock, conn) == 11  # ENHANCE_YOUR_CALM
        sock.close()


def _read_until_closed(sock: socket.socket, limit: float = 5.0) -> bytes:
    sock.settimeout(limit)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_client_goaway_lets_its_open_streams_finish(cleartext) -> None:
    """A client's GOAWAY(NO_ERROR) (a graceful client shutdown) still gets the responses to the
    requests it sent (RFC 9113 §6.8); then the server closes the connection."""
    import hyperframe.frame

    sock, conn = raw_h2(cleartext.port)
    conn.send_headers(1, _get("/slow?0.3"), end_stream=True)
    goaway = hyperframe.frame.GoAwayFrame(0, last_stream_id=0, error_code=0).serialize()
    sock.sendall(conn.data_to_send() + goaway)
    seen = events_until(
        sock, conn, lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == 1
    )
    (response,) = [e for e in seen if isinstance(e, h2.events.ResponseReceived)]
    assert dict(response.headers)[b":status"] == b"200"
    assert b"".join(e.data for e in seen if isinstance(e, h2.events.DataReceived)) == b"slow"
    _read_until_closed(sock)  # and then the connection ends
    sock.close()


def test_client_goaway_with_an_error_ends_the_connection(cleartext) -> None:
    """A GOAWAY carrying an error code ends the connection at once: nothing more is sent."""
    import hyperframe.frame

    sock, conn = raw_h2(cleartext.port)
    conn.send_headers(1, _get("/slow?30"), end_stream=True)
    goaway = hyperframe.frame.GoAwayFrame(0, last_stream_id=0, error_code=2).serialize()
    sock.sendall(conn.data_to_send() + goaway)
    rest = _read_until_closed(sock)  # a server that waited for the response would time out here
    events = conn.receive_data(rest)
    assert not [e for e in events if isinstance(e, h2.events.ResponseReceived)]
    sock.close()


def test_client_goaway_then_reset_of_the_last_stream_closes(cleartext) -> None:
    """After a graceful client GOAWAY, resetting its last open stream leaves nothing to wait
    for: the server closes the connection."""
    import hyperframe.frame

    sock, conn = raw_h2(cleartext.port)
    conn.send_headers(1, _get("/slow?30"), end_stream=True)
    goaway = hyperframe.frame.GoAwayFrame(0, last_stream_id=0, error_code=0).serialize()
    sock.sendall(conn.data_to_send() + goaway)
    conn.reset_stream(1)
    sock.sendall(conn.data_to_send())
    _read_until_closed(sock)  # a server still waiting would time out here
    sock.close()
