"""The Django + Channels test project served over HTTP/2 by the real ``daphne`` command.

Each protocol gets one server for the module: TLS with ALPN ``h2`` and cleartext HTTP/2 with
prior knowledge (h2c).  Through it: Django views, the admin login (sessions and CSRF), static
files (``DJPROJECT_SERVE_STATIC=1`` wraps the project in ``ASGIStaticFilesHandler``, as
``runserver`` does) and Channels consumers over WebSockets on HTTP/2 streams (RFC 8441).  Then
``manage.py runserver`` over h2c, and headless Chromium over TLS when it is installed.

A request without a body must reach Django as exactly one ``http.request`` message: a second
one makes Django's ASGI handler fail ("Invalid ASGI message after request body"), which the
client sees as a 500.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

django = pytest.importorskip("django")
pytest.importorskip("channels")
import httpx  # noqa: E402
from h2ws_client import H2WebSocket  # noqa: E402
from integration.processes import DaphneCommand, TLSFiles  # noqa: E402
from recipes.recipe_support import (  # noqa: E402
    PROJECT_DIR,
    free_port,
    headless_chromium,
    project_daphne,
    require_program,
    running,
    wait_until,
)

# slow: a Django project served to Chromium (`pytest -m "not slow"` leaves it out).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]
APP = "djproject.asgi:application"
USERNAME = "h2admin"
PASSWORD = "h2-secret-Passw0rd"
WAIT = 20  # seconds any one wait may take
HELLO_TXT = Path(PROJECT_DIR, "static", "hello.txt").read_bytes()
ADMIN_CSS = Path(django.__file__).parent / "contrib" / "admin" / "static" / "admin" / "css"


def manage(*args: str, env: dict[str, str]) -> None:
    """Run ``manage.py`` in the project; fail with its output if it fails."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}{result.stderr}"


@pytest.fixture(scope="module")
def project_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of every server: a migrated SQLite database with a superuser."""
    env = {"DJPROJECT_DB": str(tmp_path_factory.mktemp("db") / "db.sqlite3")}
    manage("migrate", "--noinput", "-v", "0", env=env)
    manage(
        "createsuperuser",
        "--noinput",
        f"--username={USERNAME}",
        "--email=h2admin@example.com",
        env={**env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD},
    )
    return env


@dataclass
class Served:
    """A running daphne serving the project, and how to talk HTTP/2 to it."""

    daphne: DaphneCommand
    tls: TLSFiles | None
    base: str = field(init=False)

    def __post_init__(self) -> None:
        scheme = "https" if self.tls else "http"
        self.base = f"{scheme}://127.0.0.1:{self.daphne.port}"

    def client(self) -> httpx.Client:
        """An HTTP/2-only client: ALPN ``h2`` over TLS, prior knowledge in cleartext."""
        if self.tls is not None:
            return httpx.Client(
                http1=False,
                http2=True,
                verify=self.tls.client_context(),
                base_url=self.base,
                timeout=WAIT,
            )
        return httpx.Client(http1=False, http2=True, base_url=self.base, timeout=WAIT)

    def websocket(self) -> H2WebSocket:
        """An HTTP/2 connection for extended CONNECT WebSockets."""
        assert self.daphne.port is not None
        context = self.tls.client_context() if self.tls is not None else None
        return H2WebSocket(self.daphne.port, context)

    def log(self) -> str:
        return self.daphne.output()


@pytest.fixture(scope="module", params=["tls", "h2c"])
def served(
    request: pytest.FixtureRequest,
    project_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Served]:
    """``daphne djproject.asgi:application`` on 127.0.0.1, TLS or cleartext, once per module."""
    tls = TLSFiles(tmp_path_factory.mktemp("tls")) if request.param == "tls" else None
    listen = ["-e", tls.endpoint] if tls is not None else ["-b", "127.0.0.1", "-p", "0"]
    command = project_daphne([*listen, APP], env={**project_env, "DJPROJECT_SERVE_STATIC": "1"})
    with running(command) as daphne:
        yield Served(daphne, tls)


def test_pages(served: Served) -> None:
    """Django views answer over HTTP/2, each request a body-less stream."""
    with served.client() as client:
        response = client.get("/")
        assert response.http_version == "HTTP/2"
        assert response.status_code == 200, served.log()
        assert response.text == "hello from django"

        response = client.get("/info", params={"q": "1"})
        assert response.http_version == "HTTP/2"
        assert response.status_code == 200, served.log()
        assert response.json() == {"script_name": "", "path": "/info"}

        whoami = client.get("/whoami")
        assert whoami.status_code == 200, served.log()
        secure = served.tls is not None
        assert whoami.json()["scheme"] == ("https" if secure else "http")
        assert whoami.json()["secure"] is secure
        assert whoami.json()["host"] == f"127.0.0.1:{served.daphne.port}"

        missing = client.get("/no-such-page")
        assert missing.status_code == 404, served.log()  # Django's 404, not a 500

        head = client.head("/")
        assert head.status_code == 200 and head.content == b"", served.log()

        # A request with a body: one DATA frame ending the stream, and an empty POST.
        posted = client.post("/broadcast/nobody", content=b"over HTTP/2")
        assert posted.http_version == "HTTP/2"
        assert posted.status_code == 200, served.log()
        assert "pid" in posted.json()
        assert client.post("/broadcast/nobody").status_code == 200, served.log()
    assert "Invalid ASGI message" not in served.log()


@pytest.mark.parametrize("version", ["HTTP/2", "HTTP/1.1"])
def test_file_upload(served: Served, version: str) -> None:
    """A multipart upload of 1.5 MiB and a form field, to the same server over HTTP/2 (many
    DATA frames, well past the 64 KiB stream window, so the client waits on WINDOW_UPDATEs)
    and over HTTP/1.1: Django sees every byte."""
    data = os.urandom(1536 * 1024 + 123)
    if version == "HTTP/2":
        client = served.client()
    else:
        verify = served.tls.client_context() if served.tls is not None else True
        client = httpx.Client(base_url=served.base, verify=verify, timeout=WAIT)
    with client:
        response = client.post(
            "/upload",
            files={"document": ("report.bin", data, "application/octet-stream")},
            data={"title": "quarterly"},
        )
        assert response.http_version == version
        assert response.status_code == 200, served.log()
        assert response.json() == {
            "files": {
                "document": {
                    "name": "report.bin",
                    "size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
            },
            "fields": {"title": "quarterly"},
        }


def csrf_form_token(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match is not None, html[:2000]
    return match.group(1)


def test_admin_login_with_csrf(served: Served) -> None:
    """The admin login form round trip: CSRF cookie and token, session, redirect."""
    with served.client() as client:
        form = client.get("/admin/login/", params={"next": "/admin/"})
        assert form.http_version == "HTTP/2"
        assert form.status_code == 200, served.log()
        assert "Django administration" in form.text
        assert client.cookies.get("csrftoken"), form.headers
        token = csrf_form_token(form.text)

        login = client.post(
            "/admin/login/?next=/admin/",
            data={
                "username": USERNAME,
                "password": PASSWORD,
                "csrfmiddlewaretoken": token,
                "next": "/admin/",
            },
            # Django checks the Referer of secure (https) unsafe requests.
            headers={"referer": f"{served.base}/admin/login/?next=/admin/"},
        )
        assert login.http_version == "HTTP/2"
        assert login.status_code == 302, (login.text[:2000], served.log())
        assert login.headers["location"] == "/admin/"
        assert client.cookies.get("sessionid")

        admin = client.get("/admin/")
        assert admin.http_version == "HTTP/2"
        assert admin.status_code == 200, served.log()
        assert "Site administration" in admin.text
        assert f"<strong>{USERNAME}</strong>" in admin.text
        session = client.cookies["sessionid"]

    # Channels' AuthMiddlewareStack finds the same session on a WebSocket over HTTP/2.
    connection = served.websocket()
    try:
        stream = connection.open("/ws/room/admins/", [(b"cookie", f"sessionid={session}".encode())])
        status, _ = connection.response(stream)
        assert status == 200, served.log()
        hello = json.loads(connection.frame(stream)[1])
        assert hello["type"] == "hello" and hello["user"] == USERNAME
        close_cleanly(connection, stream)
    finally:
        connection.close()


def test_static_files(served: Served) -> None:
    """Project and admin static files, byte for byte, over HTTP/2."""
    with served.client() as client:
        hello = client.get("/static/hello.txt")
        assert hello.http_version == "HTTP/2"
        assert hello.status_code == 200, served.log()
        assert hello.content == HELLO_TXT
        assert hello.headers["content-type"].startswith("text/plain")

        css = client.get("/static/admin/css/base.css")  # several DATA frames
        assert css.http_version == "HTTP/2"
        assert css.status_code == 200, served.log()
        assert css.content == (ADMIN_CSS / "base.css").read_bytes()

        missing = client.get("/static/no-such-file.txt")
        assert missing.status_code == 404, served.log()


def close_cleanly(connection: H2WebSocket, stream: int) -> None:
    """Close handshake 1000 from the client, the server's answer, both ends of the stream."""
    connection.send_close(stream, 1000)
    assert connection.frame(stream) == (0x8, struct.pack("!H", 1000))
    connection.end(stream)
    connection.pump_until(lambda: stream in connection.ended)
    assert stream not in connection.resets


def test_websocket_consumers(served: Served) -> None:
    """The echo and room consumers over RFC 8441 extended CONNECT, on one connection."""
    connection = served.websocket()
    try:
        assert connection.conn.remote_settings.enable_connect_protocol == 1
        echo = connection.open("/ws/echo/")
        status, _ = connection.response(echo)
        assert status == 200, served.log()
        connection.send_text(echo, "echo over HTTP/2")
        assert connection.frame(echo) == (0x1, b"echo over HTTP/2")

        room = connection.open("/ws/room/h2/")
        assert connection.response(room)[0] == 200, served.log()
        hello = json.loads(connection.frame(room)[1])
        assert hello["type"] == "hello"
        assert hello["user"] == "AnonymousUser"
        assert hello["scheme"] == ("wss" if served.tls is not None else "ws")
        connection.send_text(room, json.dumps({"text": "to the room"}))
        message = json.loads(connection.frame(room)[1])
        assert message["type"] == "broadcast" and message["text"] == "to the room"

        close_cleanly(connection, echo)
        close_cleanly(connection, room)
    finally:
        connection.close()
    assert "WSCONNECT /ws/echo/" in served.log()
    served.daphne.wait_for_log("WSDISCONNECT /ws/room/h2/", timeout=WAIT)


@contextlib.contextmanager
def runserver(port: int, env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen]:
    """``manage.py runserver 127.0.0.1:port --noreload`` until it accepts connections.

    runserver prints the port it was given, so a port of 0 would not tell the real one: the
    caller picks a free port.
    """
    with open(log_path, "wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=PROJECT_DIR,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
        )
    try:

        def accepting() -> bool:
            assert process.poll() is None, log_path.read_text(errors="replace")
            with contextlib.suppress(OSError):
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return True
            return False

        wait_until(accepting, WAIT, "runserver to listen")
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def test_runserver_over_h2c(project_env: dict[str, str], tmp_path: Path) -> None:
    """``manage.py runserver`` (daphne's, as ``daphne`` is in INSTALLED_APPS) answers a
    prior-knowledge HTTP/2 client: a view and a static file."""
    port = free_port()
    log_path = tmp_path / "runserver.log"
    with runserver(port, project_env, log_path):
        with httpx.Client(
            http1=False, http2=True, base_url=f"http://127.0.0.1:{port}", timeout=WAIT
        ) as client:
            page = client.get("/")
            static = client.get("/static/hello.txt")
    log = log_path.read_text(errors="replace")
    assert "Starting ASGI/Daphne version" in log
    assert page.http_version == "HTTP/2"
    assert page.status_code == 200, log
    assert page.text == "hello from django"
    assert static.http_version == "HTTP/2"
    assert static.status_code == 200, log
    assert static.content == HELLO_TXT
    assert "HTTP GET / 200" in log


def test_chromium_loads_project_page_over_h2(project_env: dict[str, str], tmp_path: Path) -> None:
    """Headless Chromium loads the project's WebSocket page from the TLS endpoint by ALPN
    ``h2``: the page, its script (a static file) and its WebSockets to the consumers work."""
    pytest.importorskip("selenium.webdriver")
    require_program("chromium"), require_program("chromedriver")
    tls = TLSFiles(tmp_path)
    command = project_daphne(
        ["-e", tls.endpoint, APP], env={**project_env, "DJPROJECT_SERVE_STATIC": "1"}
    )
    with running(command) as daphne:
        # --ignore-certificate-errors: the throwaway CA is not in Chromium's store.
        driver = headless_chromium(
            tmp_path / "profile",
            "--ignore-certificate-errors",
            log=tmp_path / "chromedriver.log",
        )
        try:
            driver.set_page_load_timeout(WAIT)
            driver.get(f"https://127.0.0.1:{daphne.port}/websocket-page/")

            def page_state() -> dict[str, Any] | None:
                state = driver.execute_script(
                    """
                    const nav = performance.getEntriesByType('navigation')[0];
                    const status = document.getElementById('status');
                    return {
                      protocol: nav ? nav.nextHopProtocol : null,
                      code: nav ? nav.responseStatus : null,
                      status: status ? status.textContent : null,
                      echo: Array.from(document.querySelectorAll('#echo li'),
                                       e => e.textContent),
                      scripts: performance.getEntriesByType('resource')
                        .map(e => [e.name, e.nextHopProtocol]),
                      body: document.body ? document.body.innerText.slice(0, 500) : '',
                    };
                    """
                )
                done = state["status"] not in (None, "connecting") and state["echo"]
                return state if done or state["status"] is None else None

            state = wait_until(page_state, WAIT, "the page's WebSockets")
        finally:
            driver.quit()
        log = daphne.output()
    assert state["protocol"] == "h2", state
    assert state["code"] in (200, None), (state, log)  # responseStatus: Chromium 109+
    assert state["status"] == "joined live as AnonymousUser", (state, log)
    assert state["echo"] == ["ping from the browser"], (state, log)
    script = [entry for entry in state["scripts"] if entry[0].endswith("websocket_page.js")]
    assert script and script[0][1] == "h2", state
    assert "Invalid ASGI message" not in log
