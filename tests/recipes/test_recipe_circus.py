"""Recipe: Circus-style socket sharing (README "Deployment", Circus).

Circus binds ``[socket:web]`` itself and starts each process of a watcher with the socket's
descriptor on its command line (``daphne --fd $(circus.sockets.web)``).  Here the test is
the arbiter: it binds the socket and starts two ``daphne --fd N`` processes on it.  Both
serve it, and when one stops (Circus restarting a process) the other keeps serving the same
socket: a stopping daphne must close only its own descriptor, never shut the socket down.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
from pathlib import Path

import pytest
from integration.processes import DaphneCommand
from recipe_support import http_get_raw, json_body, listening_socket, running, wait_until

# slow: a process manager and its workers (`pytest -m "not slow"` leaves it out).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]
APP = "recipes.recipe_apps:pid_app"


def answering_pids(family: str, address: object, requests: int) -> set[int]:
    """The pids that answered ``requests`` concurrent requests on fresh connections."""
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = pool.map(lambda _: json_body(http_get_raw(family, address)), range(requests))
        return {answer["pid"] for answer in answers}


@pytest.mark.parametrize("family", ["inet", "unix"])
def test_two_processes_share_one_socket(family: str, tmp_path: Path) -> None:
    """Two daphne processes adopt one socket with --fd; both answer; after one stops, the
    other still answers every request on that socket, none refused or reset."""
    listener, address = listening_socket(family, tmp_path)
    with listener:
        fd = listener.fileno()
        first = DaphneCommand(["--fd", str(fd), APP], pass_fds=[fd])
        second = DaphneCommand(["--fd", str(fd), APP], pass_fds=[fd])
        with running(first), running(second):
            assert first.process is not None and second.process is not None
            both = {first.process.pid, second.process.pid}
            # The kernel hands each connection to whichever process accepts first, so
            # keep asking (bounded) until both have answered.
            seen: set[int] = set()

            def both_answered() -> bool:
                seen.update(answering_pids(family, address, 16))
                return seen == both

            wait_until(both_answered, 15, f"answers from both pids {both}, got {seen}")

            # Circus restarts a process: the one that stays must carry on alone.
            assert first.stop(signal.SIGTERM) == 0, first.output()
            if family == "unix":
                assert os.path.exists(address), "the stopped daphne removed the shared socket file"
            assert answering_pids(family, address, 32) == {second.process.pid}
            assert "Traceback" not in first.output() + second.output()
