"""Worker processes: one supervisor, N workers serving the same listening sockets.

``daphne --workers N`` (and ``--max-requests``, ``--reload``) runs this module
instead of a server.  The supervisor opens every listening endpoint once,
then starts worker processes, each the same ``daphne`` command line with the
sockets inherited as file descriptors (``DAPHNE_WORKER_ENDPOINTS`` names them
as ``fd:`` endpoints).  Each worker runs its own reactor, application and
lifespan; the kernel spreads new connections over the workers accepting on
a socket, and the socket stays open in the supervisor the whole time, so
replacing a worker never refuses a connection.

Theory of operation:

* a worker reports readiness (listening) by writing a line to a pipe;
* a worker that dies unexpectedly is restarted, with a growing back-off while
  it keeps dying young; one that fails before it was ever ready at the very
  start (bad application path, lifespan startup failure) stops the supervisor
  with its status instead of crash-looping;
* ``SIGTERM``/``SIGINT``: every worker gets ``SIGTERM`` (its graceful
  shutdown); after ``graceful_timeout`` + 5 s stragglers are killed; a second
  ``SIGINT`` kills them at once;
* ``SIGHUP``: workers are replaced one by one: a new one is started and, once it
  is ready, an old one is told to drain;
* ``--max-requests``: a worker that has served its share (``N`` plus a random
  jitter) drains and exits 0; the supervisor starts a replacement;
* ``--reload``: a watcher (see :mod:`daphne._reload`) asks for a replacement
  when a watched file changes.

Covered by ``tests/integration/test_workers.py`` and ``tests/integration/test_reload.py``.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._listen import split_description

logger = logging.getLogger("daphne.supervisor")

__all__ = [
    "ENDPOINTS_ENV",
    "MAX_REQUESTS_ENV",
    "READY_FD_ENV",
    "Listener",
    "Supervisor",
    "UnsupportedEndpoint",
    "open_listeners",
    "split_description",
]

#: Environment of a worker: JSON list of the endpoint strings it serves.
ENDPOINTS_ENV = "DAPHNE_WORKER_ENDPOINTS"
#: Environment of a worker: the pipe it reports readiness on.
READY_FD_ENV = "DAPHNE_WORKER_READY_FD"
#: Environment of a worker: requests to serve before it recycles itself.
MAX_REQUESTS_ENV = "DAPHNE_WORKER_MAX_REQUESTS"

_TLS_KEYS = ("privateKey", "certKey", "extraCertChain", "sslmethod", "dhParameters")
#: A worker that dies younger than this counts as crashing (restart back-off grows).
_YOUNG = 5.0
_POLL = 0.05


class UnsupportedEndpoint(ValueError):
    """An endpoint the supervisor cannot open on the workers' behalf."""


@dataclass
class Listener:
    """A socket the supervisor holds for its workers.

    :ivar description: what the user asked for.
    :ivar fileno: the descriptor the workers inherit.
    :ivar worker_endpoint: how a worker listens on it (an ``fd:`` string).
    :ivar unlink: a unix socket path to remove when the supervisor ends.
    """

    description: str
    fileno: int
    worker_endpoint: str
    sock: socket.socket | None = None
    unlink: str | None = None

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        if self.unlink:
            try:
                os.unlink(self.unlink)
            except OSError:
                pass


def _bind_tcp(kind: str, args: list[str], kwargs: dict[str, str]) -> socket.socket:
    port = int(kwargs.get("port", args[0] if args else "0"))
    interface = kwargs.get("interface", "::" if kind == "tcp6" else "")
    family = socket.AF_INET6 if kind == "tcp6" or ":" in interface else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((interface or "0.0.0.0", port))
        sock.listen(int(kwargs.get("backlog", "50")))
    except BaseException:
        sock.close()
        raise
    return sock


def _bind_unix(args: list[str], kwargs: dict[str, str]) -> tuple[socket.socket, str]:
    path = kwargs.get("address", args[0] if args else "")
    if not path:
        raise UnsupportedEndpoint("unix endpoint without a path")
    try:
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.unlink(path)  # a stale socket from an earlier run
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        if "mode" in kwargs:
            os.chmod(path, int(kwargs["mode"], 8))
        sock.listen(int(kwargs.get("backlog", "50")))
    except BaseException:
        sock.close()
        raise
    return sock, path


def _systemd_fileno(kwargs: dict[str, str]) -> int:
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        raise UnsupportedEndpoint("no sockets passed by systemd (LISTEN_PID is not this process)")
    count = int(os.environ.get("LISTEN_FDS", "0"))
    if "name" in kwargs:
        names = os.environ.get("LISTEN_FDNAMES", "").split(":")
        if kwargs["name"] not in names:
            raise UnsupportedEndpoint(f"systemd passed no socket named {kwargs['name']!r}")
        index = names.index(kwargs["name"])
    else:
        index = int(kwargs.get("index", "0"))
    if not 0 <= index < count:
        raise UnsupportedEndpoint(f"systemd passed {count} sockets, no index {index}")
    return 3 + index


def open_listeners(descriptions: Sequence[str]) -> list[Listener]:
    """Open every endpoint once, for workers to inherit.

    ``tcp:``, ``tcp6:``, ``unix:`` and ``ssl:`` endpoints are bound here (the
    TLS options travel to the workers, which do the handshakes); ``fd:`` and
    ``systemd:`` sockets are already open and are passed on as they are.

    :raises UnsupportedEndpoint: for any other endpoint type.
    :raises OSError: when a socket cannot be bound.
    """
    listeners: list[Listener] = []
    try:
        for description in descriptions:
            listeners.append(_open_one(description))
    except BaseException:
        for listener in listeners:
            listener.close()
        raise
    return listeners


def _open_one(description: str) -> Listener:
    kind, args, kwargs = split_description(description)
    if kind in ("tcp", "tcp6", "ssl"):
        sock = _bind_tcp("tcp6" if ":" in kwargs.get("interface", "") else kind, args, kwargs)
        endpoint = f"fd:fileno={sock.fileno()}"
        if kind == "ssl":
            tls = {key: kwargs[key] for key in _TLS_KEYS if key in kwargs}
            endpoint += "".join(f":{key}={_escape(value)}" for key, value in tls.items())
        sock.set_inheritable(True)
        return Listener(description, sock.fileno(), endpoint, sock)
    if kind == "unix":
        sock, path = _bind_unix(args, kwargs)
        sock.set_inheritable(True)
        return Listener(description, sock.fileno(), f"fd:fileno={sock.fileno()}", sock, path)
    if kind == "fd":
        fileno = int(kwargs.get("fileno", args[0] if args else "-1"))
        os.set_inheritable(fileno, True)
        return Listener(description, fileno, description)
    if kind == "systemd":
        fileno = _systemd_fileno(kwargs)
        os.set_inheritable(fileno, True)
        return Listener(description, fileno, f"fd:fileno={fileno}")
    raise UnsupportedEndpoint(
        f"--workers cannot open endpoint {description!r} for its workers "
        "(tcp:, tcp6:, ssl:, unix:, fd: and systemd: can be shared)"
    )


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


def describe(listener: Listener) -> str:
    """The "Listening on ..." line for a socket the supervisor opened."""
    sock = listener.sock or socket.socket(fileno=os.dup(listener.fileno))
    try:
        address = sock.getsockname()
        if sock.family == socket.AF_UNIX:
            name = address.decode() if isinstance(address, bytes) else address
            return f"Listening on UNIX socket {name}"
        host, port = address[0], address[1]
        shown = f"[{host}]" if ":" in host else host
        return f"Listening on TCP address {shown}:{port}"
    finally:
        if listener.sock is None:
            sock.close()


@dataclass
class Worker:
    """One worker process and its readiness pipe."""

    process: subprocess.Popen[bytes]
    ready_fd: int
    started_at: float
    ready: bool = False
    retiring: bool = False
    pid: int = field(init=False)

    def __post_init__(self) -> None:
        self.pid = self.process.pid

    def check_ready(self) -> bool:
        if not self.ready:
            try:
                if os.read(self.ready_fd, 64):
                    self.ready = True
            except BlockingIOError:
                pass
            except OSError:
                pass
        return self.ready

    def close(self) -> None:
        try:
            os.close(self.ready_fd)
        except OSError:
            pass


class Supervisor:
    """Runs and keeps ``count`` workers on ``listeners`` until told to stop.

    :ivar argv: the worker command line (the same ``daphne`` arguments).
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

    def _on_stop(self, signum: int, frame: Any) -> None:
        self._stop_requested += 1
        if self._stop_requested > 1 and signum == signal.SIGINT:
            logger.warning("Second interrupt: killing the workers")
            for worker in self.workers:
                self._signal(worker, signal.SIGKILL)
            os._exit(1)

    def _on_hup(self, signum: int, frame: Any) -> None:
        self._replace_requested = True

    # -- workers -----------------------------------------------------------------

    def _spawn(self) -> Worker:
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        env = dict(os.environ)
        env[ENDPOINTS_ENV] = json.dumps([listener.worker_endpoint for listener in self.listeners])
        env[READY_FD_ENV] = str(write_fd)
        if self.max_requests:
            jitter = random.randint(0, self.max_requests_jitter) if self.max_requests_jitter else 0
            env[MAX_REQUESTS_ENV] = str(self.max_requests + jitter)
        try:
            process = subprocess.Popen(
                self.argv,
                env=env,
                pass_fds=[write_fd, *(listener.fileno for listener in self.listeners)],
            )
        finally:
            os.close(write_fd)
        worker = Worker(process, read_fd, self.clock())
        self.workers.append(worker)
        logger.info("Started worker %s", worker.pid)
        return worker

    @staticmethod
    def _signal(worker: Worker, signum: int) -> None:
        try:
            worker.process.send_signal(signum)
        except (ProcessLookupError, OSError):
            pass

    def _reap(self) -> list[tuple[Worker, int]]:
        """Remove and return the workers that exited, with their status."""
        gone = []
        for worker in list(self.workers):
            status = worker.process.poll()
            worker.check_ready()
            if status is not None:
                self.workers.remove(worker)
                worker.close()
                gone.append((worker, status))
        if any(worker.ready for worker in self.workers):
            self._ever_ready = True
        return gone

    def _handle_exits(self) -> None:
        for worker, status in self._reap():
            if worker.retiring:
                logger.info("Worker %s finished (status %s)", worker.pid, status)
                continue
            if status != 0 and not worker.ready and not self._ever_ready and self.changes is None:
                logger.critical(
                    "Worker %s failed to start (status %s); stopping", worker.pid, status
                )
                self._failed_status = status if status > 0 else 1
                return
            if status == 0:
                logger.info("Worker %s recycled itself; starting a new one", worker.pid)
                self._backoff = 0.0
                self._restart_at = self.clock()
            elif self.changes is not None:
                logger.error("Worker %s died (status %s); waiting for a change", worker.pid, status)
                continue
            else:
                young = self.clock() - worker.started_at < _YOUNG
                self._backoff = min(max(self._backoff * 2, 0.5), 10.0) if young else 0.0
                logger.error(
                    "Worker %s died (status %s); restarting%s",
                    worker.pid,
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

    def _replace_all(self, reason: str) -> None:
        """Replace every worker, one at a time, each old one draining once its successor is ready."""
        logger.info("Replacing workers (%s)", reason)
        for old in [worker for worker in self.workers if not worker.retiring]:
            new = self._spawn()
            while not new.check_ready():
                if self._stop_requested:
                    return
                if new.process.poll() is not None:
                    logger.error("Replacement worker %s failed; keeping %s", new.pid, old.pid)
                    self._handle_exits()
                    return
                time.sleep(_POLL)
            old.retiring = True
            self._signal(old, signal.SIGTERM)
            self._handle_exits()

    # -- main loop ---------------------------------------------------------------

    def run(self) -> int:
        """Supervise until stopped; the exit status for the command."""
        previous = {
            signal.SIGTERM: signal.signal(signal.SIGTERM, self._on_stop),
            signal.SIGINT: signal.signal(signal.SIGINT, self._on_stop),
            signal.SIGHUP: signal.signal(signal.SIGHUP, self._on_hup),
        }
        try:
            for listener in self.listeners:
                if listener.sock is not None:
                    logger.info("%s", describe(listener))
            for _ in range(self.count):
                self._spawn()
            while not self._stop_requested and self._failed_status is None:
                time.sleep(_POLL)
                self._handle_exits()
                if self._failed_status is not None or self._stop_requested:
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
        for worker in self.workers:
            worker.retiring = True
            self._signal(worker, signal.SIGTERM)
        deadline = self.clock() + self.graceful_timeout + 5
        statuses = []
        while self.workers and self.clock() < deadline:
            statuses += [status for _, status in self._reap()]
            time.sleep(_POLL)
        for worker in self.workers:
            logger.warning("Worker %s did not stop in time; killing it", worker.pid)
            self._signal(worker, signal.SIGKILL)
            worker.process.wait()
            statuses.append(1)
        if self._failed_status is not None:
            return self._failed_status
        return 0 if all(status == 0 for status in statuses) else 1


def worker_argv(args: Sequence[str]) -> list[str]:
    """The command line a worker runs: ``daphne`` with the same arguments."""
    return [sys.executable, "-m", "daphne", *args]


class RequestBudget:
    """An ``action_logger`` that counts what a worker served and recycles it at its budget.

    Finished HTTP requests and accepted WebSockets count; when the budget is
    spent ``on_spent`` runs once (the worker then drains and exits 0).
    """

    def __init__(
        self, inner: Callable[..., Any] | None, budget: int, on_spent: Callable[[], None]
    ) -> None:
        self.inner = inner
        self.budget = budget
        self.on_spent = on_spent
        self.count = 0

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


def worker_settings() -> tuple[list[str], int | None, int | None] | None:
    """In a worker: (endpoints, readiness pipe, request budget); None elsewhere."""
    endpoints = os.environ.pop(ENDPOINTS_ENV, None)
    if endpoints is None:
        return None
    ready = os.environ.pop(READY_FD_ENV, None)
    budget = os.environ.pop(MAX_REQUESTS_ENV, None)
    return json.loads(endpoints), int(ready) if ready else None, int(budget) if budget else None


def report_ready(fileno: int) -> None:
    """Tell the supervisor this worker listens (then let go of the pipe)."""
    try:
        os.write(fileno, b"ready\n")
        os.close(fileno)
    except OSError:
        pass


def recycle_self() -> None:
    """Start this worker's graceful shutdown, as the supervisor's SIGTERM would."""
    os.kill(os.getpid(), signal.SIGTERM)


def watch_supervisor(interval: float = 1.0) -> None:
    """In a worker: drain and stop if the supervisor goes away (killed, say)."""
    from twisted.internet import reactor, task

    parent = os.getppid()

    def check() -> None:
        if os.getppid() != parent:
            logger.warning("The supervisor is gone: stopping this worker")
            checker.stop()
            recycle_self()

    checker = task.LoopingCall(check)
    checker.clock = reactor
    reactor.callWhenRunning(checker.start, interval, False)
