"""The supervisor's side of one worker process: starting it, reading its pipe, signalling it.

:class:`daphne._process.supervisor.Supervisor` decides when workers start and stop; this
module only knows how: a worker is the same ``daphne`` command line, started in its own
session with the listening sockets and the write end of a pipe inherited, and the
environment variables :mod:`daphne._process.worker` reads on the other side.

Covered by ``tests/unit/test_worker_cli.py`` and ``tests/integration/test_workers.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from .shared_sockets import Listener
from .worker import ENDPOINTS_ENV, MAX_REQUESTS_ENV, READY_FD_ENV

__all__ = ["Worker", "start_worker", "worker_argv"]


@dataclass
class Worker:
    """One worker process, as the supervisor sees it.

    :ivar pipe: read end of the pipe the worker reports on.
    :ivar ready: it listens.
    :ivar retiring: it was told to stop, or is recycling itself: not to be restarted.
    :ivar replacement: it replaces a live worker (SIGHUP, --reload): if it dies
        before it is ready, the old one stays and nothing is restarted.
    """

    process: subprocess.Popen[bytes]
    pipe: int
    started_at: float
    replacement: bool = False
    ready: bool = False
    retiring: bool = False
    pid: int = field(init=False)
    _partial: bytes = b""

    def __post_init__(self) -> None:
        self.pid = self.process.pid

    def read_messages(self) -> list[bytes]:
        """The complete lines the worker wrote since last time."""
        try:
            data = os.read(self.pipe, 4096)
        except OSError:  # BlockingIOError: nothing new
            return []
        *lines, self._partial = (self._partial + data).split(b"\n")
        return lines

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the worker (nothing if it is already gone)."""
        try:
            self.process.send_signal(signum)
        except OSError:
            pass

    def close(self) -> None:
        try:
            os.close(self.pipe)
        except OSError:
            pass


def worker_argv(args: Sequence[str]) -> list[str]:
    """The command line a worker runs: ``daphne`` with the same arguments."""
    return [sys.executable, "-m", "daphne", *args]


def start_worker(
    argv: Sequence[str],
    listeners: Sequence[Listener],
    started_at: float,
    budget: int | None = None,
    replacement: bool = False,
) -> Worker:
    """Start a worker running ``argv`` on ``listeners``.

    :param budget: requests it serves before recycling itself (None: no limit).
    """
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    env = dict(os.environ)
    env[ENDPOINTS_ENV] = json.dumps([listener.worker_endpoint for listener in listeners])
    env[READY_FD_ENV] = str(write_fd)
    if budget is not None:
        env[MAX_REQUESTS_ENV] = str(budget)
    try:
        process = subprocess.Popen(
            argv,
            env=env,
            pass_fds=[write_fd, *(listener.fileno for listener in listeners)],
            # Its own session: a terminal's Ctrl-C or hang-up reaches the
            # supervisor alone, which then signals each worker exactly once.
            start_new_session=True,
        )
    except BaseException:
        os.close(read_fd)  # no worker will ever write to it
        raise
    finally:
        os.close(write_fd)
    return Worker(process, read_fd, started_at, replacement=replacement)
