"""--workers/--max-requests/--reload option checks, the worker's side of the CLI, and the
supervisor's pure bookkeeping (no sockets, no processes)."""

from __future__ import annotations

import json
import logging
import os
import socket
from typing import Any

import pytest
from cli_fakes import FakeServer, RecordingCLI, keep_logging, run_cli  # noqa: F401 - keep_logging is an autouse fixture

from daphne._process import worker as _worker
from daphne._process.supervisor import Supervisor
from daphne._process.worker import ENDPOINTS_ENV, MAX_REQUESTS_ENV, READY_FD_ENV, RequestBudget
from daphne._process.worker_process import Worker
from daphne.cli import CLIError


@pytest.fixture(autouse=True)
def _no_supervisor(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that wrongly reached the supervisor fails instead of starting processes."""

    def refuse(*args: Any) -> int:
        raise AssertionError("the supervisor was started")

    monkeypatch.setattr("daphne.cli.supervise", refuse)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "--workers: must be at least 1, got 0"),
        (["--workers", "two"], "--workers: expected a whole number, got 'two'"),
        (["--max-requests", "0"], "--max-requests: must be at least 1, got 0"),
        (["--max-requests-jitter", "x"], "--max-requests-jitter: expected a whole number, got 'x'"),
        (["--max-requests-jitter", "-1"], "--max-requests-jitter: must not be negative, got -1"),
        (["-t", "-5"], "--http-timeout: must not be negative, got -5"),
        (["-p", "70000"], "--port: must be a port number, 0-65535, got 70000"),
        (["--websocket-max-message-size", "-1"], "--websocket-max-message-size: must not be"),
        (["--websocket-max-frame-size", "-1"], "--websocket-max-frame-size: must not be negative"),
        (["--ping-interval", "-1"], "--ping-interval: must not be negative, got -1"),
        (["--ping-timeout", "0"], "--ping-timeout: must be more than 0, got 0"),
        (["--graceful-timeout", "-1"], "--graceful-timeout: must not be negative, got -1"),
        (["--application-close-timeout", "-1"], "--application-close-timeout: must not be"),
        (["--keep-alive-timeout", "-5"], "--keep-alive-timeout: must not be negative, got -5"),
        (["--keep-alive-timeout", "nan"], "--keep-alive-timeout: must not be negative, got nan"),
        (["--header-read-timeout", "0"], "--header-read-timeout: must be more than 0, got 0"),
        (["--body-read-timeout", "-1"], "--body-read-timeout: must be more than 0, got -1"),
        (["--limit-request-body", "-1"], "--limit-request-body: must not be negative, got -1"),
        (["--limit-request-body", "1k"], "--limit-request-body: expected a whole number, got '1k'"),
        (["--limit-request-line", "0"], "--limit-request-line: must be at least 1, got 0"),
        (["--limit-request-fields", "-2"], "--limit-request-fields: must be at least 1, got -2"),
        (["--limit-request-field-size", "0"], "--limit-request-field-size: must be at least 1"),
    ],
)
def test_bad_numbers_are_usage_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Malformed counts are argparse errors: exit status 2 and one line naming the option."""
    with pytest.raises(SystemExit) as exit_info:
        run_cli(*args)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert message in error
    assert len(error.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--workers", "2", "--reload"],
            "--reload runs a single worker: it cannot be combined with --workers",
        ),
        (
            ["--reload", "--reload-dir", "/nonexistent/daphne-dir"],
            "--reload-dir '/nonexistent/daphne-dir' is not a directory",
        ),
    ],
)
def test_contradictory_options_are_cli_errors(args: list[str], message: str) -> None:
    """Option combinations that make no sense are one-line CLI errors, before anything starts."""
    with pytest.raises(CLIError, match="^" + message + "$"):
        run_cli(*args)


def test_an_endpoint_the_supervisor_cannot_open_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """An -e endpoint type that cannot be pre-opened for workers is a CLI error naming it."""
    from daphne._process import supervisor as _supervisor

    monkeypatch.setattr("daphne.cli.supervise", _supervisor.supervise)
    with pytest.raises(
        CLIError, match=r"--workers cannot open endpoint 'onion:80' for its workers"
    ):
        run_cli("--workers", "2", "-e", "onion:80")


def test_a_taken_address_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """The supervisor's listen error names the address, not only "Address already in use"."""
    from daphne._process import supervisor as _supervisor

    monkeypatch.setattr("daphne.cli.supervise", _supervisor.supervise)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CLIError, match=rf"^cannot listen on 127\.0\.0\.1:{port}: Address"):
            run_cli("--workers", "2", "-p", str(port))


def test_reload_options_without_reload_only_warn(caplog: pytest.LogCaptureFixture) -> None:
    """--reload-dir and friends alone change nothing: a warning, and the plain server runs."""
    with caplog.at_level(logging.WARNING, "daphne.supervisor"):
        server = run_cli("--reload-dir", ".", "--reload-exclude", "*.tmp")
    assert "need --reload" in caplog.text
    assert server.init_kwargs["endpoints"] == ["tcp:port=8000:interface=127.0.0.1"]


def test_one_worker_is_the_plain_server() -> None:
    """The default --workers 1 builds the server in this process, exactly as before."""
    server = run_cli("-p", "8123", "-v", "0")
    assert server.init_kwargs["endpoints"] == ["tcp:port=8123:interface=127.0.0.1"]
    assert server.init_kwargs["ready_callable"] is None
    assert server.init_kwargs["action_logger"] is None


@pytest.mark.parametrize(
    "args",
    [["--workers", "2"], ["--max-requests", "10"], ["--reload"], ["--reload", "--workers", "1"]],
)
def test_these_options_start_the_supervisor(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--workers > 1, --max-requests and --reload hand the endpoints to the supervisor."""
    calls: list[tuple[Any, ...]] = []

    def record(parsed: Any, argv: list[str], endpoints: list[str]) -> int:
        calls.append((argv, endpoints))
        return 3

    monkeypatch.setattr("daphne.cli.supervise", record)
    with pytest.raises(SystemExit) as exit_info:
        run_cli(*args, "-p", "8124")
    assert exit_info.value.code == 3
    assert calls == [
        ([*args, "-p", "8124", "apps.basic:scope_json"], ["tcp:port=8124:interface=127.0.0.1"])
    ]


def test_a_worker_serves_the_supervisors_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a worker, the inherited fd: endpoints replace the command line's, readiness goes
    to the pipe, requests are counted, and the variables do not leak to the app's children."""
    read_fd, write_fd = os.pipe()
    monkeypatch.setenv(ENDPOINTS_ENV, json.dumps(["fd:fileno=7"]))
    monkeypatch.setenv(READY_FD_ENV, str(write_fd))
    monkeypatch.setenv(MAX_REQUESTS_ENV, "2")
    watched: list[bool] = []
    monkeypatch.setattr(_worker, "watch_supervisor", lambda: watched.append(True))
    try:
        server = run_cli("--workers", "2", "-p", "0", "-v", "0")
        kwargs = server.init_kwargs
        assert kwargs["endpoints"] == ["fd:fileno=7"]
        assert isinstance(kwargs["action_logger"], RequestBudget)
        assert kwargs["action_logger"].budget == 2
        assert not {ENDPOINTS_ENV, READY_FD_ENV, MAX_REQUESTS_ENV} & set(os.environ)
        kwargs["ready_callable"]()
        assert os.read(read_fd, 100) == b"ready\n"
        assert watched == [True]
        assert not os.get_inheritable(write_fd)
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_request_budget_counts_requests_and_websockets_once() -> None:
    """Finished HTTP requests and accepted WebSockets count; the budget is spent exactly once;
    every event still reaches the access log."""
    logged: list[tuple[str, str]] = []
    spent: list[int] = []
    budget = RequestBudget(
        lambda protocol, action, details: logged.append((protocol, action)),
        3,
        lambda: spent.append(1),
    )
    events = [
        ("http", "complete"),
        ("websocket", "connecting"),
        ("websocket", "connected"),
        ("websocket", "disconnected"),
        ("http", "complete"),
        ("http", "complete"),
    ]
    for protocol, action in events:
        budget(protocol, action, {})
    assert logged == events
    assert budget.count == 4
    assert spent == [1]


class FakeProcess:
    def __init__(self, pid: int) -> None:
        self.pid = pid


def test_worker_pipe_messages_are_read_line_by_line() -> None:
    """Messages may arrive split or together; only whole lines count."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    worker = Worker(FakeProcess(1), read_fd, 0.0)  # type: ignore[arg-type]
    try:
        assert worker.read_messages() == []
        os.write(write_fd, b"rea")
        assert worker.read_messages() == []
        os.write(write_fd, b"dy\nrecycle\n")
        assert worker.read_messages() == [b"ready", b"recycle"]
    finally:
        worker.close()
        os.close(write_fd)


def test_restart_back_off_grows_while_workers_die_young() -> None:
    """Crash-looping workers are restarted ever more slowly (0.5 s doubling up to 10 s);
    one that lived a while, or exited cleanly, is restarted at once."""
    now = [100.0]
    supervisor = Supervisor([], [], 1, graceful_timeout=1, clock=lambda: now[0])
    delays = []
    for _ in range(7):
        supervisor._schedule_restart(Worker(FakeProcess(1), -1, now[0] - 1), 1)  # type: ignore[arg-type]
        delays.append(supervisor._restart_at - now[0])
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    supervisor._schedule_restart(Worker(FakeProcess(1), -1, now[0] - 60), 1)  # type: ignore[arg-type]
    assert supervisor._restart_at == now[0]
    supervisor._backoff = 4.0
    supervisor._schedule_restart(Worker(FakeProcess(1), -1, now[0] - 1), 0)  # type: ignore[arg-type]
    assert supervisor._restart_at == now[0]
    assert supervisor._pending == 9


def test_a_worker_that_cannot_start_leaks_no_descriptor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ends of the ready pipe are closed when the process cannot be started (EMFILE,
    ENOMEM...): a supervisor short of descriptors must not lose more of them."""
    from daphne._process import worker_process

    def fail(*args: Any, **kwargs: Any) -> None:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(worker_process.subprocess, "Popen", fail)
    before = set(os.listdir("/proc/self/fd"))
    with pytest.raises(OSError):
        worker_process.start_worker(["true"], [], 0.0)
    assert set(os.listdir("/proc/self/fd")) == before
