"""The worker side of ``--workers``: what a process started by the supervisor does differently.

A worker is the ordinary ``daphne`` command line run with three environment
variables set by :class:`daphne._process.supervisor.Supervisor`; :meth:`WorkerSettings.from_environment`
reads (and removes) them.  A worker then

* listens on the ``fd:`` endpoints it was handed instead of its own;
* tells the supervisor over a pipe when it listens (``ready``) and, with
  ``--max-requests``, when it has served its share and starts draining
  (``recycle``), so that the supervisor can start its successor at once;
* drains and stops by itself if the supervisor disappears.

Covered by ``tests/unit/test_worker_cli.py`` and ``tests/integration/test_workers.py``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._types import ActionLogger

logger = logging.getLogger("daphne.worker")

__all__ = [
    "ENDPOINTS_ENV",
    "MAX_REQUESTS_ENV",
    "READY",
    "READY_FD_ENV",
    "RECYCLE",
    "RequestBudget",
    "WorkerSettings",
]

#: Environment of a worker: JSON list of the endpoint strings it serves.
ENDPOINTS_ENV = "DAPHNE_WORKER_ENDPOINTS"
#: Environment of a worker: the write end of the pipe it reports to.
READY_FD_ENV = "DAPHNE_WORKER_READY_FD"
#: Environment of a worker: requests to serve before it recycles itself.
MAX_REQUESTS_ENV = "DAPHNE_WORKER_MAX_REQUESTS"

#: Pipe messages, one per line.
READY = b"ready"
RECYCLE = b"recycle"


class RequestBudget:
    """An ``action_logger`` that counts what a worker served and calls ``on_spent`` at its budget.

    Finished HTTP requests and accepted WebSockets count; ``on_spent`` runs
    once.  Every event is passed on to ``inner`` (the access log), if any.
    """

    def __init__(
        self, inner: ActionLogger | None, budget: int, on_spent: Callable[[], None]
    ) -> None:
        self.inner = inner
        self.budget = budget
        self.on_spent = on_spent
        self.count = 0

    # Any: the free-form action details (ActionLogger).
    def __call__(self, protocol: str, action: str, details: dict[str, Any]) -> None:
        if self.inner is not None:
            self.inner(protocol, action, details)
        if (protocol == "http" and action == "complete") or (
            protocol == "websocket" and action == "connected"
        ):
            self.count += 1
            if self.count == self.budget:
                logger.info("Served %s requests: recycling this worker", self.count)
                self.on_spent()


@dataclass(frozen=True)
class WorkerSettings:
    """What the supervisor told this worker.

    :ivar endpoints: ``fd:`` endpoints of the sockets the supervisor holds.
    :ivar pipe: where to report ``ready``/``recycle`` (None: nobody listens).
    :ivar budget: requests to serve before recycling (None: no limit).
    """

    endpoints: list[str]
    pipe: int | None = None
    budget: int | None = None

    @classmethod
    def from_environment(cls) -> WorkerSettings | None:
        """The settings if this process is a worker (None otherwise).

        The variables are removed, so the application's own child processes
        do not take themselves for workers.
        """
        endpoints = os.environ.pop(ENDPOINTS_ENV, None)
        pipe = os.environ.pop(READY_FD_ENV, None)
        budget = os.environ.pop(MAX_REQUESTS_ENV, None)
        if endpoints is None:
            return None
        settings = cls(
            json.loads(endpoints), int(pipe) if pipe else None, int(budget) if budget else None
        )
        if settings.pipe is not None:
            os.set_inheritable(settings.pipe, False)
        return settings

    def count_requests(self, action_logger: ActionLogger | None) -> ActionLogger | None:
        """``action_logger``, wrapped to recycle this worker after its budget."""
        if self.budget is None:
            return action_logger
        return RequestBudget(action_logger, self.budget, self.recycle)

    def report_ready(self) -> None:
        """The server's ``ready_callable``: tell the supervisor, and start watching it."""
        self._tell(READY)
        watch_supervisor()

    def recycle(self) -> None:
        """Tell the supervisor to start a successor, then drain as on ``SIGTERM``."""
        self._tell(RECYCLE)
        os.kill(os.getpid(), signal.SIGTERM)

    def _tell(self, message: bytes) -> None:
        if self.pipe is None:
            return
        try:
            os.write(self.pipe, message + b"\n")
        except OSError:  # the supervisor is gone: watch_supervisor deals with that
            pass


def watch_supervisor(interval: float = 1.0) -> None:
    """Drain and stop this worker if its supervisor goes away (killed, say)."""
    from twisted.internet import reactor, task

    parent = os.getppid()

    def check() -> None:
        if os.getppid() != parent:
            logger.warning("The supervisor is gone: stopping this worker")
            checker.stop()
            os.kill(os.getpid(), signal.SIGTERM)

    checker = task.LoopingCall(check)
    checker.clock = reactor
    reactor.callWhenRunning(checker.start, interval, False)
