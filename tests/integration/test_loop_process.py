"""The real ``daphne`` command on each event loop (``--loop``): HTTP, a WebSocket, workers.

uvloop cases are skipped when uvloop is not installed; the option's parsing and
errors are in ``tests/unit/test_loop.py``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from processes import TESTS_DIR, DaphneCommand
from websockets.sync.client import connect

# slow: a daphne process per test and loop (`pytest -m "not slow"` leaves it out).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

HAS_UVLOOP = importlib.util.find_spec("uvloop") is not None
LOOPS = [
    pytest.param("asyncio", "asyncio", id="asyncio"),
    pytest.param(
        "uvloop",
        "uvloop",
        id="uvloop",
        marks=pytest.mark.skipif(not HAS_UVLOOP, reason="uvloop is not installed"),
    ),
    pytest.param("auto", "uvloop" if HAS_UVLOOP else "asyncio", id="auto"),
]


@pytest.mark.parametrize(("option", "expected"), LOOPS)
def test_serves_http_and_websocket_on_the_loop(option: str, expected: str) -> None:
    """The startup log names the loop in use; requests and a WebSocket work on it."""
    with DaphneCommand(["-p", "0", "--loop", option, "apps.ws_apps:app"]).start() as daphne:
        assert f"Event loop: {expected}" in daphne.output()
        base = f"http://127.0.0.1:{daphne.port}"
        with httpx.Client(base_url=base, timeout=5) as client:
            for _ in range(3):  # one keep-alive connection
                response = client.get("/")
                assert (response.status_code, response.text) == (200, "http")
            assert client.post("/", content=b"x" * 100_000).status_code == 200
        with connect(f"ws://127.0.0.1:{daphne.port}/echo", open_timeout=5) as websocket:
            for text in ("one", "two" * 1000):
                websocket.send(text)
                assert websocket.recv(timeout=5) == text
            websocket.send(b"\x00\x01")
            assert websocket.recv(timeout=5) == b"\x00\x01"


@pytest.mark.skipif(not HAS_UVLOOP, reason="uvloop is not installed")
@pytest.mark.parametrize("option", ["asyncio", "uvloop"])
def test_workers_get_the_same_loop(option: str) -> None:
    """Each worker process of ``--workers 2`` runs on the loop the command line chose."""
    args = ["-p", "0", "--workers", "2", "--loop", option, "apps.ws_apps:app"]
    with DaphneCommand(args).start(wait_for="Listening on") as daphne:
        daphne.wait_for_log(f"Event loop: {option}", count=2)
        other = "asyncio" if option == "uvloop" else "uvloop"
        assert f"Event loop: {other}" not in daphne.output()
        response = httpx.get(f"http://127.0.0.1:{daphne.port}/", timeout=5)
        assert response.text == "http"


def test_uvloop_missing_is_a_one_line_error(tmp_path: Path) -> None:
    """``--loop uvloop`` without uvloop: one line naming the option, status 1.

    A ``uvloop`` module that fails to import stands in for a missing one.
    """
    (tmp_path / "uvloop.py").write_text("raise ImportError(\"No module named 'uvloop'\")\n")
    result = subprocess.run(
        [sys.executable, "-m", "daphne", "--loop", "uvloop", "apps.ws_apps:app"],
        capture_output=True,
        text=True,
        cwd=TESTS_DIR,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), TESTS_DIR])},
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "daphne: error: --loop uvloop: uvloop is not installed (No module named 'uvloop'); "
        "install it with 'pip install daphne[uvloop]'"
    ]


@pytest.mark.parametrize(
    ("variable", "args", "expected"),
    [
        pytest.param("asyncio", [], "asyncio", id="env-alone"),
        pytest.param(
            "asyncio",
            ["--loop", "uvloop"],
            "uvloop",
            id="option-wins",
            marks=pytest.mark.skipif(not HAS_UVLOOP, reason="uvloop is not installed"),
        ),
    ],
)
def test_daphne_loop_environment_variable(variable: str, args: list[str], expected: str) -> None:
    """Without ``--loop``, ``DAPHNE_LOOP`` chooses; the option wins over it."""
    command = DaphneCommand(["-p", "0", *args, "apps.ws_apps:app"], env={"DAPHNE_LOOP": variable})
    with command.start() as daphne:
        assert f"Event loop: {expected}" in daphne.output()
