"""Recipe: systemd socket activation (README "Deployment", systemd).

systemd opens the ``ListenStream=`` socket, and starts the service with it as fd 3 and
``LISTEN_FDS=1``, ``LISTEN_PID=<the service's pid>`` (and ``LISTEN_FDNAMES``) in the
environment.  The test plays systemd: it binds the socket and starts daphne through a small
``python -c`` shim that moves the socket to fd 3, sets the variables for its own pid and
``execv``s daphne (same pid).  ``tests/integration/test_cli_process.py`` covers ``--fd N``
for an arbitrary N; this covers what systemd adds: fd 3, the ``systemd:`` endpoint (by
index and by name), and the socket outliving a service restart.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from pathlib import Path

import pytest
from integration.processes import DaphneCommand
from recipe_support import (
    SYSTEMD_EXEC,
    json_body,
    listening_socket,
    read_until_closed,
    running,
)

# slow: socket activation, a daphne process per endpoint (`pytest -m "not slow"` leaves it out).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]
APP = "recipes.recipe_apps:pid_app"
ENDPOINTS = {
    "fd-3": ["--fd", "3"],
    "systemd-index": ["-e", "systemd:domain=INET:index=0"],
    "systemd-name": ["-e", "systemd:domain=INET:name=web"],
    "systemd-unix": ["-e", "systemd:domain=UNIX:index=0"],
}


def activated_daphne(listener: socket.socket, endpoint: list[str]) -> DaphneCommand:
    """``daphne <endpoint> APP`` started the way systemd starts a socket-activated service."""
    fd = listener.fileno()
    command = DaphneCommand([*endpoint, APP], pass_fds=[fd])
    command.args = [sys.executable, "-c", SYSTEMD_EXEC, str(fd), *command.args]
    return command


def send_get(listener: socket.socket, address: object) -> socket.socket:
    """Connect to the activated socket and send a GET (the response is read later)."""
    client = socket.socket(listener.family)
    client.settimeout(20)
    client.connect(address)
    client.sendall(b"GET /activated HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    return client


@pytest.mark.parametrize("how", ["fd-3", "systemd-index", "systemd-name"])
def test_socket_activation(how: str, tmp_path: Path) -> None:
    """daphne serves the socket systemd hands over as fd 3 (LISTEN_PID = its own pid)."""
    listener, address = listening_socket("inet", tmp_path)
    with listener, running(activated_daphne(listener, ENDPOINTS[how])) as daphne:
        with send_get(listener, address) as client:
            answer = json_body(read_until_closed(client))
        assert daphne.process is not None
        assert answer["pid"] == daphne.process.pid  # the shim exec'd daphne in place
        assert answer["server"] == list(address)
        assert "Traceback" not in daphne.output()


@pytest.mark.parametrize(
    ("how", "family"),
    [
        ("fd-3", "inet"),
        ("systemd-index", "inet"),
        ("fd-3", "unix"),
        ("systemd-unix", "unix"),
    ],
)
def test_socket_outlives_service_restart(how: str, family: str, tmp_path: Path) -> None:
    """``systemctl restart``: the first daphne stops, a client connects while no service
    runs (the kernel queues it on systemd's socket), and the next daphne answers it."""
    listener, address = listening_socket(family, tmp_path)
    with listener:
        with running(activated_daphne(listener, ENDPOINTS[how])) as first:
            with send_get(listener, address) as client:
                json_body(read_until_closed(client))
            assert first.stop(signal.SIGTERM) == 0, first.output()
        if family == "unix":
            assert os.path.exists(address), "the stopped daphne removed the socket file"
        with send_get(listener, address) as waiting:
            with running(activated_daphne(listener, ENDPOINTS[how])) as second:
                answer = json_body(read_until_closed(waiting))
                assert second.process is not None
                assert answer["pid"] == second.process.pid


def test_systemd_endpoint_without_activation(tmp_path: Path) -> None:
    """``-e systemd:...`` outside socket activation (LISTEN_PID of another process) ends
    with status 1 and a log line, instead of serving nothing."""
    listener, _address = listening_socket("inet", tmp_path)
    with listener:
        fd = listener.fileno()
        command = DaphneCommand(
            ["-e", "systemd:domain=INET:index=0", APP],
            pass_fds=[fd],
            env={"LISTEN_FDS": "1", "LISTEN_PID": "1"},
        )
        with command.start(wait_for="never logged", timeout=20) as daphne:
            assert daphne.process is not None
            assert daphne.process.wait(10) == 1, daphne.output()
            assert "Traceback" not in daphne.output()
