"""The ASGI lifespan protocol through the real daphne command."""

from __future__ import annotations

import socket

import httpx
import pytest
from processes import DaphneCommand

# slow: a daphne process per test (`pytest -m "not slow"` leaves it out).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]
APP = "apps.lifespan_apps:app"


def test_state_reaches_every_scope_and_shutdown_runs(tmp_path) -> None:
    """Startup fills state; each request gets a shallow copy; SIGTERM runs shutdown, exit 0."""
    marker = tmp_path / "marker"
    daphne = DaphneCommand(["-p", "0", APP], env={"LIFESPAN_MARKER": str(marker)})
    with daphne.start(wait_for="Listening on"):
        assert "Application startup complete." in daphne.output()
        for _ in range(2):
            state = httpx.get(f"http://127.0.0.1:{daphne.port}/", timeout=5).json()["state"]
            assert state == {"db": "connected"}  # the previous request's change did not leak
        assert daphne.stop() == 0
    assert marker.read_text() == "shutdown"


def test_startup_failed_exits_without_listening() -> None:
    """lifespan.startup.failed: non-zero exit with the app's message; never listens."""
    daphne = DaphneCommand(["-p", "0", APP], env={"LIFESPAN_APP": "fail"})
    with daphne.start(wait_for="Listening on", timeout=20):
        code = daphne.process.wait(20)
        log = daphne.output()
    assert code == 1
    assert "database unreachable" in log
    assert "Listening on" not in log


def test_auto_tolerates_apps_without_lifespan() -> None:
    """--lifespan auto (default): an app that raises on the lifespan scope still gets served."""
    with DaphneCommand(["-p", "0", APP], env={"LIFESPAN_APP": "raise"}).start(
        wait_for="Listening on"
    ) as daphne:
        assert httpx.get(f"http://127.0.0.1:{daphne.port}/", timeout=5).json() == {"state": None}
        assert "Traceback" not in daphne.output()


def test_on_requires_lifespan() -> None:
    """--lifespan on: an app that raises on the lifespan scope stops the server."""
    daphne = DaphneCommand(["-p", "0", "--lifespan", "on", APP], env={"LIFESPAN_APP": "raise"})
    with daphne.start(wait_for="Listening on", timeout=20):
        assert daphne.process.wait(20) == 1
        assert "Application startup failed" in daphne.output()


def test_off_skips_lifespan() -> None:
    """--lifespan off: the app never sees a lifespan scope, and scopes carry no state."""
    with DaphneCommand(["-p", "0", "--lifespan", "off", APP], env={"LIFESPAN_APP": "fail"}).start(
        wait_for="Listening on"
    ) as daphne:
        assert httpx.get(f"http://127.0.0.1:{daphne.port}/", timeout=5).json() == {"state": None}


def test_listen_failure_after_startup_still_runs_shutdown(tmp_path) -> None:
    """The port is taken: the server exits 1, naming the address, and the app that
    completed its startup gets its lifespan shutdown first."""
    marker = tmp_path / "marker"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        daphne = DaphneCommand(["-p", str(port), APP], env={"LIFESPAN_MARKER": str(marker)})
        with daphne.start(wait_for="Listen failure", timeout=20):
            code = daphne.process.wait(20)
            log = daphne.output()
    assert code == 1, log
    assert f"127.0.0.1:{port}" in log and "Address already in use" in log, log
    assert marker.read_text() == "shutdown"
