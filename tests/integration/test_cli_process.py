"""The real ``daphne`` command: startup, serving on every kind of listener, errors, signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys

import httpx
import pytest
import trustme
import websockets.sync.client
from processes import DaphneCommand, loads_pyopenssl, run_daphne

# slow: a daphne process per test (`pytest -m "not slow"` leaves it out).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]


def http_get(sock: socket.socket, path: str = "/", host: str = "x") -> bytes:
    """Send a GET with Connection: close on a connected socket; return the whole reply."""
    sock.settimeout(5)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def json_body(reply: bytes) -> dict:
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head
    return json.loads(body)


def ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_version_and_help() -> None:
    """--version prints the version; -h prints usage with the description; both exit 0."""
    result = run_daphne(["--version"])
    assert result.returncode == 0
    assert result.stdout.startswith("daphne ")
    result = run_daphne(["-h"])
    assert result.returncode == 0
    assert "HTTP/1.1, HTTP/2 and WebSocket server for ASGI applications" in result.stdout
    for option in ("--proxy-headers-source {xff,forwarded}", "--h2c-upgrade"):
        assert option in result.stdout


@pytest.mark.parametrize(
    ("args", "status", "text"),
    [
        (["nocolon"], 1, "module.path:attribute"),
        (["no_such_module_abc:app"], 1, "No module named 'no_such_module_abc'"),
        (["apps.basic:missing"], 1, "has no attribute 'missing'"),
        (["-v", "5", "apps.basic:scope_json"], 2, "verbosity"),
        (
            ["--access-log", "/nonexistent-dir/a.log", "apps.basic:scope_json"],
            1,
            "/nonexistent-dir/a.log",
        ),
        (["-e", "nosuchtype:1", "apps.basic:scope_json"], 1, "Unknown endpoint type"),
        (
            ["--proxy-headers", "--proxy-headers-source", "rfc7239", "apps.basic:scope_json"],
            2,
            "argument --proxy-headers-source: invalid choice: 'rfc7239'",
        ),
        (
            ["--proxy-headers-source", "forwarded", "apps.basic:scope_json"],
            2,
            "argument --proxy-headers-source: --proxy-headers has to be passed",
        ),
        (
            ["-e", "ssl:0:privateKey=missing.pem:certKey=missing.pem", "apps.basic:scope_json"],
            1,
            "missing.pem",
        ),
    ],
)
def test_mistakes_exit_with_a_clear_message(args: list[str], status: int, text: str) -> None:
    """User mistakes: non-zero exit, a message naming the problem, no traceback."""
    result = run_daphne(args)
    assert result.returncode == status, result.stderr
    assert text in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_port_in_use() -> None:
    """A port already in use: exit status 1 and a 'Listen failure' line."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_daphne(["-p", str(port), "apps.basic:scope_json"])
    assert result.returncode == 1
    assert "Listen failure" in result.stderr
    assert "Address already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_unix_socket_in_a_missing_directory(tmp_path) -> None:
    """-u into a directory that does not exist: status 1, a line naming the directory."""
    path = tmp_path / "missing" / "daphne.sock"
    result = run_daphne(["-u", str(path), "apps.basic:scope_json"])
    assert result.returncode == 1
    assert f"directory {path.parent} does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_unix_socket_path_that_is_taken_is_named_as_text(tmp_path) -> None:
    """-u onto a directory: the path as text (Twisted's message showed b'/path') and why."""
    path = tmp_path / "taken.sock"
    path.mkdir()
    result = run_daphne(["-u", str(path), "apps.basic:scope_json"])
    assert result.returncode == 1
    assert f"cannot listen on UNIX socket {path}: {path} is a directory" in result.stderr
    assert "b'" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serves_then_stops_cleanly_on_signal(sig: int) -> None:
    """`daphne -p 0` logs its real port, serves, and exits 0 on SIGTERM/SIGINT."""
    with DaphneCommand(["-p", "0", "apps.basic:scope_json"]) as daphne:
        assert daphne.port
        log = daphne.output()
        assert "Starting server at tcp:port=0:interface=127.0.0.1" in log
        assert "HTTP/2 support" in log and "WebSocket support" in log
        with socket.create_connection(("127.0.0.1", daphne.port)) as sock:
            scope = json_body(http_get(sock, "/a%20b?x=1"))
        assert scope["path"] == "/a b"
        assert scope["query_string"] == "x=1"
        assert scope["client"][0] == "127.0.0.1"
        assert daphne.stop(sig) == 0


def test_asgi2_application() -> None:
    """An ASGI 2 application runs from the command line."""
    with DaphneCommand(["-p", "0", "apps.basic:Asgi2App"]) as daphne:
        response = httpx.get(f"http://127.0.0.1:{daphne.port}/", timeout=5)
    assert response.status_code == 200
    assert response.content == b"asgi2"


def test_unix_socket(tmp_path) -> None:
    """-u serves on a unix socket; the scope has no client/server address."""
    path = str(tmp_path / "d.sock")
    with DaphneCommand(
        ["-u", path, "apps.basic:scope_json"],
    ) as daphne:
        assert daphne.port is None  # no TCP listener added
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(path)
            scope = json_body(http_get(sock))
    assert scope["client"] is None and scope["server"] is None


@pytest.mark.parametrize("family", ["inet", "inet6", "unix"])
def test_fd_listener(family: str, tmp_path) -> None:
    """--fd adopts a listening socket passed down by a parent (IPv4, IPv6, unix)."""
    if family == "inet6" and not ipv6_available():
        pytest.skip("no IPv6 loopback")
    if family == "unix":
        listener = socket.socket(socket.AF_UNIX)
        address: object = str(tmp_path / "fd.sock")
        listener.bind(address)
    else:
        af = socket.AF_INET if family == "inet" else socket.AF_INET6
        listener = socket.socket(af)
        listener.bind(("127.0.0.1" if family == "inet" else "::1", 0))
        address = listener.getsockname()[:2]
    listener.listen(16)
    with listener:
        fd = listener.fileno()
        with DaphneCommand(["--fd", str(fd), "apps.basic:scope_json"], pass_fds=[fd]).start(
            wait_for="Listening on"
        ) as daphne:
            client = socket.socket(listener.family)
            with client:
                client.connect(address)
                scope = json_body(http_get(client))
            assert daphne.stop() == 0
    if family == "unix":
        assert scope["client"] is None
    else:
        assert scope["server"][1] == address[1]


def test_ipv6_bind() -> None:
    """-b ::1 listens on the IPv6 loopback; the scope shows ::1 addresses."""
    if not ipv6_available():
        pytest.skip("no IPv6 loopback")
    with DaphneCommand(["-b", "::1", "-p", "0", "apps.basic:scope_json"]) as daphne:
        assert daphne.host == "::1"
        with socket.create_connection(("::1", daphne.port)) as sock:
            scope = json_body(http_get(sock, host="[::1]"))
    assert scope["client"][0] == "::1"
    assert scope["server"][0] == "::1"


def test_tls_endpoint(tmp_path) -> None:
    """An ssl: endpoint serves HTTPS with a throwaway certificate; scope scheme is https."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    key_path, cert_path = tmp_path / "key.pem", tmp_path / "cert.pem"
    cert.private_key_pem.write_to_path(str(key_path))
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    endpoint = f"ssl:0:interface=127.0.0.1:privateKey={key_path}:certKey={cert_path}"
    with DaphneCommand(["-e", endpoint, "apps.basic:scope_json"]) as daphne:
        context = ssl.create_default_context()
        ca.configure_trust(context)
        response = httpx.get(f"https://127.0.0.1:{daphne.port}/tls", verify=context, timeout=5)
        assert daphne.process is not None and loads_pyopenssl(daphne.process.pid)
    assert response.status_code == 200
    assert response.json()["scheme"] == "https"
    assert response.json()["path"] == "/tls"


@pytest.mark.parametrize("listener", [["-p", "0"], ["-u", "{tmp}/d.sock"]])
def test_plain_listeners_start_without_pyopenssl(tmp_path, listener: list[str]) -> None:
    """No ssl: listener: pyOpenSSL (and cryptography, ~13 MiB) is not loaded at all.

    Not by HTTP/1.1, h2c, nor a large compressed WebSocket message (unmasked natively).
    """
    args = [arg.format(tmp=tmp_path) for arg in listener]
    with DaphneCommand([*args, "apps.ws_apps:app"]) as daphne:
        if daphne.port is not None:
            transport = httpx.HTTPTransport()
            base, ws_url = f"http://127.0.0.1:{daphne.port}", f"ws://127.0.0.1:{daphne.port}/"
        else:
            transport = httpx.HTTPTransport(uds=f"{tmp_path}/d.sock")
            base, ws_url = "http://localhost", None
        with httpx.Client(transport=transport, base_url=base) as client:
            assert client.get("/").text == "http"
        if ws_url is not None:
            with httpx.Client(http1=False, http2=True, base_url=base) as client:
                response = client.get("/")
                assert (response.http_version, response.text) == ("HTTP/2", "http")
            message = os.urandom(32 * 1024)
            with websockets.sync.client.connect(ws_url, compression="deflate") as websocket:
                websocket.send(message)
                assert websocket.recv(timeout=10) == message
        assert daphne.process is not None and not loads_pyopenssl(daphne.process.pid)


def test_access_log_file(tmp_path) -> None:
    """--access-log writes Daphne's line format to a file."""
    log_path = tmp_path / "access.log"
    with DaphneCommand(
        ["-p", "0", "--access-log", str(log_path), "apps.basic:scope_json"]
    ) as daphne:
        with socket.create_connection(("127.0.0.1", daphne.port)) as sock:
            http_get(sock, "/logged?q=1")
        assert daphne.stop() == 0
    line = log_path.read_text().strip()
    assert line.startswith("127.0.0.1:")
    assert '"GET /logged?q=1" 200 ' in line


def test_proxy_headers_from_cli() -> None:
    """--proxy-headers makes X-Forwarded-* the client address and scheme."""
    with DaphneCommand(["-p", "0", "--proxy-headers", "apps.basic:scope_json"]) as daphne:
        with socket.create_connection(("127.0.0.1", daphne.port)) as sock:
            sock.sendall(
                b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.1.2.3\r\n"
                b"X-Forwarded-Port: 81\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n"
            )
            sock.settimeout(5)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
    scope = json_body(data)
    assert scope["client"] == ["10.1.2.3", 81]
    assert scope["scheme"] == "https"


def test_python_dash_m_matches_console_script() -> None:
    """The installed console script behaves like python -m daphne."""
    script = os.path.join(os.path.dirname(sys.executable), "daphne")
    if not os.path.exists(script):
        pytest.skip("no daphne console script next to this Python")
    result = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert result.stdout == run_daphne(["--version"]).stdout
