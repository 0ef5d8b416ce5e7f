"""--reload: the server restarts when a watched file changes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from processes import DaphneCommand

# slow: a supervisor restarting workers on file changes (`pytest -m "not slow"` leaves it out).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

APP_SOURCE = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": VERSION})

VERSION = b"%s"
"""


def write_app(path: Path, version: bytes, bump: float = 0.0) -> None:
    path.write_text(APP_SOURCE % version.decode())
    if bump:
        stamp = time.time() + bump
        os.utime(path, (stamp, stamp))  # a new mtime even on coarse file systems


def body_until(base: str, expected: str, deadline: float = 20.0) -> str:
    end = time.monotonic() + deadline
    last = ""
    while time.monotonic() < end:
        try:
            last = httpx.get(base, timeout=5).text
        except httpx.HTTPError:
            last = "(no answer)"
        if last == expected:
            return last
        time.sleep(0.05)
    raise AssertionError(f"still {last!r}, expected {expected!r}")


def test_reload_restarts_on_a_change(tmp_path: Path) -> None:
    """Changing a watched module brings the new code; a non-*.py file is ignored; a broken
    change keeps the old worker serving until a fixed one arrives."""
    module = tmp_path / "reloadable_app.py"
    write_app(module, b"v1")
    (tmp_path / "notes.txt").write_text("not watched")
    args = ["--reload", "--reload-dir", str(tmp_path), "-p", "0", "reloadable_app:app"]
    env = {"PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    with DaphneCommand(args, env=env).start() as daphne:
        base = f"http://127.0.0.1:{daphne.port}/"
        body_until(base, "v1")
        # A file that is not *.py changes: nothing happens.
        (tmp_path / "notes.txt").write_text("still not watched")
        write_app(module, b"v2", bump=2)
        body_until(base, "v2")
        # A broken change: the old worker is kept; fixing it brings the new code.
        module.write_text("this is not python(")
        os.utime(module, (time.time() + 4, time.time() + 4))
        daphne.wait_for_log("failed; keeping the old ones")
        assert httpx.get(base, timeout=5).text == "v2"
        write_app(module, b"v3", bump=6)
        body_until(base, "v3")
        status = daphne.stop(signal.SIGTERM, timeout=30)
        log = daphne.output()
        assert status == 0, log
    assert "notes.txt" not in log
    assert "files changed" in log
