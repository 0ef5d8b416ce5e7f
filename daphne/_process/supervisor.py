"""Worker processes: one supervisor, N workers serving the same listening sockets.

``daphne --workers N`` (and ``--max-requests``, ``--reload``) runs
:func:`supervise` instead of a server.  The supervisor opens every listening
endpoint once (:mod:`daphne._process.shared_sockets`), then starts worker processes
(:mod:`daphne._process.worker_process`), each the same ``daphne`` command line with the
sockets inherited as file descriptors (see :mod:`daphne._process.worker` for the worker's side).  Each worker runs its own
reactor, application and lifespan; the kernel spreads new connections over
the workers accepting on a socket.

Theory of operation:

* the listening sockets stay open in the supervisor from start to end, so
  while a worker is being replaced connections wait in the backlog: none is
  refused;
* a worker writes ``ready`` on its pipe once it listens; only then does the
  supervisor retire the worker it replaces (``SIGHUP``, ``--reload``);
* a worker that dies unexpectedly is restarted, with a growing back-off while
  workers keep dying young; one that fails before any worker was ever ready
  (bad application path, lifespan startup failure) stops the supervisor with
  its status instead of crash-looping;
* ``SIGTERM``/``SIGINT``: every worker gets ``SIGTERM`` (its graceful
  shutdown); after ``graceful_timeout`` + 5 s stragglers are killed; a second
  ``SIGINT`` kills them at once;
* ``SIGHUP``: workers are replaced one at a time, old ones draining while the
  rest serve;
* ``--max-requests``: a worker that has served its share (``N`` plus a random
  jitter, so that workers do not all recycle together) writes ``recycle``,
  then drains and exits 0; the supervisor starts its successor straight away;
* ``--reload``: a watcher (see :mod:`daphne._process.reload`) asks for a replacement
  when a watched file changes; a replacement that fails leaves the old worker
  serving until the next change.

Covered by ``tests/unit/test_worker_cli.py``, ``tests/integration/test_workers.py``
and ``tests/integration/test_reload.py``.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .shared_sockets import Listener, UnsupportedEndpoint, open_listeners
from .worker import READY, RECYCLE
from .worker_process import Worker, start_worker, worker_argv

if TYPE_CHECKING:
    from types import FrameType

logger = logging.getLogger("daphne.supervisor")

__all__ = [
    "Supervisor",
    "SupervisorError",
    "several_processes",
    "supervise",
    "supervisor_requested",
]

#: A worker that dies younger than this (seconds) counts as crashing: the restart back-off grows.
_YOUNG = 5.0
#: Longest restart back-off, seconds.
_MAX_BACKOFF = 10.0
#: How long a replacement may take to listen before it is given up, seconds.
_READY_TIMEOUT = 60.0
#: Main loop period, seconds.
_POLL = 0.05


class SupervisorError(ValueError):
    """Options the supervisor cannot work with (reported as a one-line CLI error)."""


class Supervisor:
    """Runs and keeps ``count`` workers on ``listeners`` until told to stop.

    :ivar argv: the worker command line (the same ``daphne`` arguments).
    :ivar changes: with ``--reload``, answers whether watched files changed.
    :ivar clock: monotonic seconds (injectable).
    """

    def __init__(
        self,
        argv: Sequence[str],
        listeners: Sequence[Listener],
        count: int,
        graceful_timeout: float,
        max_requests: int | None = None,
        max_requests_jitter: int = 0,
        changes: Callable[[], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.argv = list(argv)
        self.listeners = list(listeners)
        self.count = count
        self.graceful_timeout = graceful_timeout
        self.max_requests = max_requests
        self.max_requests_jitter = max_requests_jitter
        self.changes = changes
        self.clock = clock
        self.workers: list[Worker] = []
        self._stop_requested = 0
        self._replace_requested = False
        self._ever_ready = False
        self._backoff = 0.0
        self._restart_at = 0.0
        self._pending = 0
        self._failed_status: int | None = None

    # -- signals -----------------------------------------------------------------

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self._stop_requested += 1
        if self._stop_requested > 1 and signum == signal.SIGINT:
            logger.warning("Second interrupt: killing the workers")
            for worker in self.workers:
                worker.signal(signal.SIGKILL)
            os._exit(1)

    def _on_hup(self, signum: int, frame: FrameType | None) -> None:
        self._replace_requested = True

    # -- workers -----------------------------------------------------------------

    def _spawn(self, replacement: bool = False) -> Worker:
        budget = None
        if self.max_requests:
            budget = self.max_requests + random.randint(0, self.max_requests_jitter)
        worker = start_worker(self.argv, self.listeners, self.clock(), budget, replacement)
        self.workers.append(worker)
        logger.info("Started worker %s", worker.pid)
        return worker

    def _finished(self) -> bool:
        """Whether to stop supervising: asked to, or the first worker failed to start."""
        return bool(self._stop_requested) or self._failed_status is not None

    def _read_messages(self, worker: Worker) -> None:
        for message in worker.read_messages():
            if message == READY:
                worker.ready = self._ever_ready = True
            elif message == RECYCLE and not worker.retiring and not self._stop_requested:
                worker.retiring = True
                logger.info("Worker %s is recycling itself; starting its successor", worker.pid)
                self._spawn()

    def _reap(self) -> list[tuple[Worker, int]]:
        """Read what workers reported; remove and return the ones that exited, with their status."""
        gone = []
        for worker in list(self.workers):
            status = worker.process.poll()
            self._read_messages(worker)  # after poll(): sees everything an exited worker wrote
            if status is not None:
                self.workers.remove(worker)
                worker.close()
                gone.append((worker, status))
        return gone

    def _handle_exits(self) -> None:
        for worker, status in self._reap():
            if worker.retiring or (worker.replacement and not worker.ready):
                logger.info("Worker %s finished (status %s)", worker.pid, status)
            elif status != 0 and not self._ever_ready and self.changes is None:
                logger.critical(
                    "Worker %s failed to start (status %s); stopping", worker.pid, status
                )
                self._failed_status = status if status > 0 else 1
            elif self.changes is not None and status != 0:
                logger.error("Worker %s died (status %s); waiting for a change", worker.pid, status)
            else:
                self._schedule_restart(worker, status)

    def _schedule_restart(self, worker: Worker, status: int) -> None:
        if status == 0:  # stopped by someone else's SIGTERM, say: it drained
            self._backoff = 0.0
        elif self.clock() - worker.started_at < _YOUNG:
            self._backoff = min(max(self._backoff * 2, 0.5), _MAX_BACKOFF)
        else:
            self._backoff = 0.0
        logger.error(
            "Worker %s %s (status %s); restarting%s",
            worker.pid,
            "exited" if status == 0 else "died",
            status,
            f" in {self._backoff:.1f}s" if self._backoff else "",
        )
        self._restart_at = self.clock() + self._backoff
        self._pending += 1

    def _top_up(self) -> None:
        if self._pending and self.clock() >= self._restart_at:
            pending, self._pending = self._pending, 0
            for _ in range(pending):
                self._spawn()

    def _wait_ready(self, new: Worker) -> bool:
        """Wait until ``new`` listens (other workers keep being looked after meanwhile)."""
        deadline = self.clock() + _READY_TIMEOUT
        while not new.ready:
            if self._finished():
                return False
            if new not in self.workers:
                logger.error("Replacement worker %s failed; keeping the old ones", new.pid)
                return False
            if self.clock() > deadline:
                logger.error("Replacement worker %s did not listen in time; killing it", new.pid)
                new.retiring = True
                new.signal(signal.SIGKILL)
                return False
            time.sleep(_POLL)
            self._handle_exits()
        return True

    def _replace_all(self, reason: str) -> None:
        """Replace every worker, one at a time, each old one draining once its successor is ready."""
        logger.info("Replacing workers (%s)", reason)
        for old in [worker for worker in self.workers if not worker.retiring]:
            if old not in self.workers:
                continue  # died meanwhile: restarted with the new code anyway
            if not self._wait_ready(self._spawn(replacement=True)):
                return
            old.retiring = True
            old.signal(signal.SIGTERM)

    # -- main loop ---------------------------------------------------------------

    def run(self) -> int:
        """Supervise until stopped; the exit status for the command."""
        previous = {
            signum: signal.signal(signum, handler)
            for signum, handler in (
                (signal.SIGTERM, self._on_stop),
                (signal.SIGINT, self._on_stop),
                (signal.SIGHUP, self._on_hup),
            )
        }
        try:
            for listener in self.listeners:
                try:
                    logger.info("%s", listener.describe())
                except OSError:
                    pass
            for _ in range(self.count):
                self._spawn()
            while not self._finished():
                time.sleep(_POLL)
                self._handle_exits()
                if self._finished():
                    break
                if self._replace_requested:
                    self._replace_requested = False
                    self._replace_all("SIGHUP")
                elif self.changes is not None and self.changes():
                    if any(not worker.retiring for worker in self.workers):
                        self._replace_all("files changed")
                    else:
                        logger.info("Files changed; starting a worker")
                        self._spawn()
                self._top_up()
            return self._shutdown()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            for listener in self.listeners:
                listener.close()

    def _shutdown(self) -> int:
        # Only once per worker: a retiring one is draining already, and a second
        # SIGTERM reaching it after its reactor stopped would kill it outright.
        for worker in self.workers:
            if not worker.retiring:
                worker.retiring = True
                worker.signal(signal.SIGTERM)
        deadline = self.clock() + self.graceful_timeout + 5
        statuses = []
        while self.workers and self.clock() < deadline:
            for worker, status in self._reap():
                if status != 0:
                    logger.warning("Worker %s exited with status %s", worker.pid, status)
                statuses.append(status)
            time.sleep(_POLL)
        for worker in self.workers:
            logger.warning("Worker %s did not stop in time; killing it", worker.pid)
            worker.signal(signal.SIGKILL)
            worker.process.wait()
            statuses.append(1)
        if self._failed_status is not None:
            return self._failed_status
        return 0 if all(status == 0 for status in statuses) else 1


# -- the command ------------------------------------------------------------------


def supervisor_requested(args: argparse.Namespace) -> bool:
    """Whether the parsed options ask for a supervisor.

    :raises SupervisorError: for options that contradict each other.
    """
    if args.reload and args.workers > 1:
        raise SupervisorError("--reload runs a single worker: it cannot be combined with --workers")
    if args.reload:
        for directory in args.reload_dir:
            if not os.path.isdir(directory):
                raise SupervisorError(f"--reload-dir {directory!r} is not a directory")
    elif args.reload_dir or args.reload_include or args.reload_exclude:
        logger.warning("--reload-dir, --reload-include and --reload-exclude need --reload")
    return several_processes(args)


def several_processes(args: argparse.Namespace) -> bool:
    """Whether the options run the server as more than one process (a supervisor and workers)."""
    return args.workers > 1 or args.max_requests is not None or bool(args.reload)


def supervise(args: argparse.Namespace, argv: Sequence[str], endpoints: Sequence[str]) -> int:
    """Open ``endpoints`` and supervise workers running ``daphne argv``; the exit status.

    :raises SupervisorError: an endpoint that cannot be shared or opened.
    """
    changes = None
    if args.reload:
        from .reload import watcher

        changes = watcher(
            args.reload_dir or ["."], args.reload_include or ["*.py"], args.reload_exclude
        )
    try:
        listeners = open_listeners(endpoints)
    except UnsupportedEndpoint as error:
        raise SupervisorError(str(error)) from None
    except OSError as error:
        raise SupervisorError(f"cannot listen on {error.strerror or error}") from None
    logger.info(
        "Starting %s worker%s for %s",
        args.workers,
        "s" if args.workers > 1 else "",
        ", ".join(endpoints),
    )
    supervisor = Supervisor(
        worker_argv(argv),
        listeners,
        args.workers,
        graceful_timeout=args.graceful_timeout,  # the parser's default is ServerConfig's
        max_requests=args.max_requests,
        max_requests_jitter=args.max_requests_jitter,
        changes=changes,
    )
    return supervisor.run()
