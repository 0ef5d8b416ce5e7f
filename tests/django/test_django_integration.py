"""Django integration: the daphne app config, its system check, and ``manage.py runserver``."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

django = pytest.importorskip("django")
import httpx  # noqa: E402

PROJECT = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "django_project"
)
# slow: runserver and manage.py processes per test (`pytest -m "not slow"` leaves it out).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


def manage(
    *args: str, env: dict | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_check_passes_when_daphne_is_first() -> None:
    """daphne listed before staticfiles: no daphne.E001."""
    result = manage("check")
    assert result.returncode == 0, result.stderr
    assert "daphne.E001" not in result.stdout + result.stderr


def test_check_fails_when_staticfiles_is_first() -> None:
    """staticfiles listed before daphne: daphne.E001."""
    result = manage("check", env={"DJ_APPS_ORDER": "staticfiles-first"})
    assert result.returncode != 0
    assert "daphne.E001" in result.stderr
    assert (
        "Daphne must be listed before django.contrib.staticfiles in INSTALLED_APPS."
        in result.stderr
    )


def test_runserver_without_asgi_application() -> None:
    """A missing ASGI_APPLICATION is a clear CommandError."""
    result = manage("runserver", "--noreload", "127.0.0.1:0", env={"DJ_NO_ASGI": "1"})
    assert result.returncode != 0
    assert "You have not set ASGI_APPLICATION, which is needed to run the server." in result.stderr
    result = manage(
        "runserver", "--noreload", "127.0.0.1:0", env={"DJ_ASGI_APPLICATION": "djproject.nope.app"}
    )
    assert result.returncode != 0
    assert "Cannot import ASGI_APPLICATION module 'djproject.nope'" in result.stderr
    assert "Traceback" not in result.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_runserver_serves_asgi_and_static_files(tmp_path) -> None:
    """runserver prints the ASGI banner, serves views and static files, and logs requests."""
    port = free_port()
    out = tmp_path / "out.log"
    with open(out, "w") as handle:
        process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "runserver",
                "--noreload",
                "--skip-checks",
                f"127.0.0.1:{port}",
            ],
            cwd=PROJECT,
            stdout=handle,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        deadline = time.monotonic() + 30
        response = None
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert response is not None and response.text == "hello from django"
        assert (
            httpx.get(f"http://127.0.0.1:{port}/static/hello.txt", timeout=5).text
            == "static file content\n"
        )
        assert httpx.get(f"http://127.0.0.1:{port}/missing", timeout=5).status_code == 404
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    log = out.read_text()
    assert re.search(
        r"Starting ASGI/Daphne version \S+ development server at http://127\.0\.0\.1:\d+/", log
    )
    assert "Performing system checks" not in log  # --skip-checks honoured
    assert "HTTP GET / 200" in log
    assert "HTTP GET /missing 404" in log


@contextlib.contextmanager
def runserver(port: int, log_path: str, *extra: str) -> Iterator[None]:
    """``manage.py runserver`` on 127.0.0.1:``port`` until it answers; stopped with SIGINT."""
    with open(log_path, "w") as handle:
        process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "runserver",
                "--noreload",
                "--skip-checks",
                *extra,
                f"127.0.0.1:{port}",
            ],
            cwd=PROJECT,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, "no runserver"
                time.sleep(0.1)
        yield
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def test_runserver_serves_channels_consumers_and_admin(tmp_path: Path) -> None:
    """The project's Channels router under runserver: WebSocket consumers (behind
    AuthMiddlewareStack), the admin, and the admin's static files."""
    pytest.importorskip("channels")
    from websockets.sync.client import connect

    port = free_port()
    with runserver(port, str(tmp_path / "out.log")):
        with connect(f"ws://127.0.0.1:{port}/ws/echo/", proxy=None, open_timeout=10) as ws:
            ws.send("echo me")
            assert ws.recv(10) == "echo me"
        with connect(f"ws://127.0.0.1:{port}/ws/room/dev/", proxy=None, open_timeout=10) as ws:
            hello = json.loads(ws.recv(10))
            assert hello["type"] == "hello" and hello["user"] == "AnonymousUser"
            ws.send(json.dumps({"text": "to the room"}))
            assert json.loads(ws.recv(10))["text"] == "to the room"
        login = httpx.get(f"http://127.0.0.1:{port}/admin/login/", timeout=5)
        assert login.status_code == 200 and "Django administration" in login.text
        css = httpx.get(f"http://127.0.0.1:{port}/static/admin/css/base.css", timeout=5)
        assert css.status_code == 200
    assert "WebSocket CONNECT /ws/echo/" in (tmp_path / "out.log").read_text()


def test_runserver_noasgi_falls_back_to_djangos_wsgi_server(tmp_path: Path) -> None:
    """--noasgi: Django's own WSGI development server (it crashed with a TypeError)."""
    port = free_port()
    log = tmp_path / "out.log"
    with runserver(port, str(log), "--noasgi"):
        response = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert response.text == "hello from django"
        assert "daphne" not in response.headers.get("server", "").lower(), response.headers
    text = log.read_text()
    assert "Starting development server at" in text, text
    assert "Traceback" not in text, text


def test_runserver_says_how_it_serves_http2(tmp_path: Path) -> None:
    """runserver serves HTTP/2 (cleartext, prior knowledge) and says so."""
    port = free_port()
    log = tmp_path / "out.log"
    with runserver(port, str(log)):
        with httpx.Client(http1=False, http2=True) as client:
            response = client.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert response.http_version == "HTTP/2" and response.text == "hello from django"
    text = log.read_text()
    assert "HTTP/2 support enabled" in text, text
    assert "not implemented" not in text, text


def banner(tmp_path: Path, *args: str) -> str:
    """The start-up lines ``manage.py runserver ARGS`` prints (the server is then stopped)."""
    log = tmp_path / "banner.log"
    with open(log, "w") as handle:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks", *args],
            cwd=PROJECT,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while "Quit the server with" not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    return log.read_text()


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (("-6", "{port}"), "[::1]:{port}"),
        (("[::1]:{port}",), "[::1]:{port}"),
        (("-6", "localhost:{port}"), "localhost:{port}"),
    ],
)
def test_runserver_banner_brackets_ipv6_addresses(
    tmp_path: Path, args: tuple[str, ...], shown: str
) -> None:
    """The banner's URL: an IPv6 address in brackets (as in Django's own), a name as given."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    port = free_port()
    text = banner(tmp_path, *(arg.format(port=port) for arg in args))
    assert f"development server at http://{shown.format(port=port)}/" in text, text
