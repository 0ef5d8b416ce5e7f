"""Recipe: nginx in front of daphne on a unix socket (README "Deployment", nginx).

daphne serves the Django + Channels test project on a unix socket with ``--proxy-headers``;
nginx listens on 127.0.0.1 (plain, and TLS with a throwaway certificate), serves
``collectstatic`` output itself and proxies everything else, WebSocket upgrades included.
Clients connect from 127.0.0.2 (also loopback), so the address the application reports
can only have come from nginx's ``X-Forwarded-For``.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from integration.processes import DaphneCommand
from recipe_support import (
    PROJECT_DIR,
    Nginx,
    daphne_log,
    project_daphne,
    recv_json,
    require_loopback_address,
    require_program,
    running,
    ws_connect,
)

httpx = pytest.importorskip("httpx")
pytest.importorskip("channels")
trustme = pytest.importorskip("trustme")
# slow: nginx in front of daphne processes (`pytest -m "not slow"` leaves it out).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

CLIENT_ADDRESS = "127.0.0.2"  # loopback, but not the address nginx itself uses


@dataclass
class Stack:
    nginx: Nginx
    daphne: DaphneCommand
    tls_context: ssl.SSLContext

    def client(self) -> httpx.Client:
        """An HTTP client connecting from :data:`CLIENT_ADDRESS`."""
        transport = httpx.HTTPTransport(local_address=CLIENT_ADDRESS, verify=self.tls_context)
        return httpx.Client(transport=transport, timeout=10, trust_env=False)


def collect_static(static_root: str) -> None:
    """``manage.py collectstatic`` into ``static_root`` (what nginx serves at /static/)."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=PROJECT_DIR,
        env={**os.environ, "DJPROJECT_STATIC_ROOT": static_root},
        check=True,
        timeout=30,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """nginx (plain + TLS) -> unix socket -> daphne serving the Django project."""
    require_program("nginx")
    require_loopback_address(CLIENT_ADDRESS)
    directory = tmp_path_factory.mktemp("nginx")
    static_root = str(directory / "static")
    collect_static(static_root)
    ca = trustme.CA()
    certificate = ca.issue_cert("127.0.0.1", "localhost")
    key_path, cert_path = directory / "key.pem", directory / "cert.pem"
    certificate.private_key_pem.write_to_path(str(key_path))
    certificate.cert_chain_pems[0].write_to_path(str(cert_path))
    tls_context = ssl.create_default_context()
    ca.configure_trust(tls_context)

    socket_path = str(directory / "daphne.sock")
    daphne = project_daphne(
        [
            *("-u", socket_path, "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1"),
            "djproject.asgi:application",
        ]
    )
    nginx = Nginx(
        directory,
        upstreams=[f"unix:{socket_path}"],
        static_root=static_root,
        tls=(str(key_path), str(cert_path)),
    )
    with running(daphne):
        nginx.start()
        try:
            yield Stack(nginx, daphne, tls_context)
        finally:
            nginx.stop()
    assert "Traceback" not in daphne_log(daphne), daphne_log(daphne)


def test_http_client_address_from_x_forwarded_for(stack: Stack) -> None:
    """The app sees the client's address as nginx appended it to X-Forwarded-For; an
    address the client put there itself is not believed."""
    with stack.client() as client:
        response = client.get(
            stack.nginx.url("/whoami"), headers={"X-Forwarded-For": "198.51.100.9"}
        )
    assert response.status_code == 200
    assert response.headers["server"].startswith("nginx")
    facts = response.json()
    assert facts["remote_addr"] == CLIENT_ADDRESS
    assert facts["scheme"] == "http" and facts["secure"] is False
    assert facts["host"] == f"127.0.0.1:{stack.nginx.port}"
    assert stack.daphne.process is not None and facts["pid"] == stack.daphne.process.pid


def test_https_terminated_by_nginx(stack: Stack) -> None:
    """Behind nginx's TLS listener the app sees https from X-Forwarded-Proto."""
    with stack.client() as client:
        facts = client.get(stack.nginx.url("/whoami", tls=True)).json()
    assert facts["scheme"] == "https" and facts["secure"] is True
    assert facts["remote_addr"] == CLIENT_ADDRESS


def test_static_files_and_admin(stack: Stack) -> None:
    """nginx serves collectstatic output (project and admin files); the admin is proxied."""
    with stack.client() as client:
        static = client.get(stack.nginx.url("/static/hello.txt"))
        admin_css = client.get(stack.nginx.url("/static/admin/css/base.css"))
        login = client.get(stack.nginx.url("/admin/login/"))
    assert static.text == "static file content\n"
    assert admin_css.status_code == 200 and admin_css.headers["content-type"] == "text/css"
    assert login.status_code == 200 and "Django administration" in login.text
    assert "/static/admin/css/base.css" in login.text


def test_websocket_echo_through_nginx(stack: Stack) -> None:
    """WebSocket upgrades pass through nginx: text and binary messages echo back."""
    with ws_connect(
        stack.nginx.ws_url("/ws/echo/"), source_address=(CLIENT_ADDRESS, 0)
    ) as connection:
        connection.send("hello through nginx")
        assert connection.recv(10) == "hello through nginx"
        connection.send(b"\x00\x01binary")
        assert connection.recv(10) == b"\x00\x01binary"


@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
def test_websocket_scope_from_proxy_headers(stack: Stack, tls: bool) -> None:
    """The consumer's scope has the client address from X-Forwarded-For and the scheme
    (ws or wss) from X-Forwarded-Proto."""
    with ws_connect(
        stack.nginx.ws_url("/ws/room/nginx/", tls=tls),
        source_address=(CLIENT_ADDRESS, 0),
        ssl=stack.tls_context if tls else None,
    ) as connection:
        hello = recv_json(connection)
    assert hello["type"] == "hello"
    assert hello["client"][0] == CLIENT_ADDRESS
    assert hello["scheme"] == ("wss" if tls else "ws")
    assert hello["user"] == "AnonymousUser"
