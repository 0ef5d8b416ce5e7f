"""--workers, --max-requests and the supervisor's signals, with real processes."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from processes import DaphneCommand, loads_pyopenssl, run_daphne

# slow: a supervisor and worker processes per test (`pytest -m "not slow"` leaves it out).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]
APP = "apps.worker_apps:app"


def pid_of(base: str, **kwargs: Any) -> int:
    with httpx.Client(base_url=base, timeout=10, **kwargs) as client:  # a fresh connection
        return int(client.get("/").text)


def pids_until(
    base: str, predicate: Callable[[set[int]], bool], deadline: float = 20.0, **kwargs: Any
) -> set[int]:
    """Ask on new connections until the set of answering pids satisfies ``predicate``."""
    seen: set[int] = set()
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        seen.add(pid_of(base, **kwargs))
        if predicate(seen):
            return seen
    raise AssertionError(f"only saw pids {seen}")


def worker_pids(daphne: DaphneCommand) -> list[int]:
    return [
        int(line.rsplit(" ", 1)[1])
        for line in daphne.output().splitlines()
        if "Started worker" in line
    ]


def test_workers_share_the_port_and_sigterm_drains() -> None:
    """Two workers answer on one port; SIGTERM lets a streaming response finish, exit 0."""
    with DaphneCommand(["--workers", "2", "-p", "0", APP]).start() as daphne:
        base = f"http://127.0.0.1:{daphne.port}"
        seen = pids_until(base, lambda pids: len(pids) >= 2)
        assert seen <= set(worker_pids(daphne))
        assert daphne.process.pid not in seen
        # No ssl: listener: neither the supervisor nor a worker loads pyOpenSSL.
        assert not any(loads_pyopenssl(pid) for pid in {daphne.process.pid, *seen})
        # A streaming response in flight when SIGTERM arrives still completes.
        result: dict[str, str] = {}
        started = threading.Event()

        def slow() -> None:
            with httpx.stream("GET", f"{base}/slow", timeout=20) as response:
                parts = []
                for chunk in response.iter_raw():
                    parts.append(chunk.decode())
                    started.set()
                result["body"] = "".join(parts)

        thread = threading.Thread(target=slow)
        thread.start()
        assert started.wait(20)  # the response is streaming (it lasts about a second)
        assert daphne.stop(signal.SIGTERM, timeout=30) == 0
        thread.join(20)
        assert result["body"] == "0123456789|done"
        for pid in seen:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)


def test_a_killed_worker_is_restarted() -> None:
    """A worker killed with SIGKILL is logged and replaced; requests keep being served."""
    with DaphneCommand(["--workers", "2", "-p", "0", APP]).start() as daphne:
        base = f"http://127.0.0.1:{daphne.port}"
        victim = pid_of(base)
        os.kill(victim, signal.SIGKILL)
        daphne.wait_for_log(f"Worker {victim} died")
        daphne.wait_for_log("Started worker", count=3)
        replacement = worker_pids(daphne)[2]
        seen = pids_until(base, lambda pids: replacement in pids)
        assert victim not in seen
        assert daphne.stop(signal.SIGTERM, timeout=30) == 0


def test_sighup_replaces_workers_without_failed_requests() -> None:
    """SIGHUP under a steady request loop: no request fails, and only new workers answer after."""
    with DaphneCommand(["--workers", "2", "-p", "0", APP]).start() as daphne:
        base = f"http://127.0.0.1:{daphne.port}"
        old = set(pids_until(base, lambda pids: len(pids) >= 2))
        failures: list[BaseException] = []
        answers: list[int] = []
        stop = threading.Event()

        def hammer() -> None:
            while not stop.is_set():
                try:
                    answers.append(pid_of(base))
                except Exception as error:  # every failure counts
                    failures.append(error)

        thread = threading.Thread(target=hammer)
        thread.start()
        try:
            wait_for_answers(answers, failures, 5)  # the loop is under way
            daphne.process.send_signal(signal.SIGHUP)
            daphne.wait_for_log("finished", count=2)
            wait_for_answers(answers, failures, len(answers) + 5)  # and goes on after
        finally:
            stop.set()
            thread.join(20)
        assert failures == []
        assert len(answers) > 10
        after = pids_until(base, lambda pids: len(pids) >= 2)
        assert not after & old
        assert daphne.stop(signal.SIGTERM, timeout=30) == 0


def wait_for_answers(
    answers: list[int], failures: list[BaseException], count: int, timeout: float = 20.0
) -> None:
    """Wait (bounded) until the request loop has ``count`` answers or a failure."""
    deadline = time.monotonic() + timeout
    while len(answers) < count and not failures:
        assert time.monotonic() < deadline, f"{len(answers)} answers in {timeout}s"
        time.sleep(0.01)


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie nobody reaped yet counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def test_workers_stop_when_the_supervisor_is_killed() -> None:
    """Workers whose supervisor vanished (SIGKILL) drain and exit by themselves."""
    with DaphneCommand(["--workers", "2", "-p", "0", APP]).start() as daphne:
        pids = pids_until(f"http://127.0.0.1:{daphne.port}", lambda pids: len(pids) >= 2)
        daphne.process.kill()
        daphne.process.wait(5)
        end = time.monotonic() + 15
        while any(alive(pid) for pid in pids) and time.monotonic() < end:
            time.sleep(0.1)
        assert not [pid for pid in pids if alive(pid)]


def test_max_requests_recycles_workers() -> None:
    """--max-requests 5 (+0..2): each worker serves 5 to 7 requests, then a successor takes over
    without a failed request."""
    args = ["--workers", "1", "--max-requests", "5", "--max-requests-jitter", "2", "-p", "0", APP]
    with DaphneCommand(args).start() as daphne:
        base = f"http://127.0.0.1:{daphne.port}"
        pids = [pid_of(base) for _ in range(20)]
        assert len(set(pids)) >= 3
        first = pids[0]
        assert 5 <= pids.count(first) <= 7
        assert "is recycling itself; starting its successor" in daphne.output()
        assert daphne.stop(signal.SIGTERM, timeout=30) == 0


def test_workers_on_a_unix_socket_and_an_inherited_fd(tmp_path: Path) -> None:
    """-u and --fd sockets are shared by the workers; the supervisor removes its unix socket."""
    path = str(tmp_path / "d.sock")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(50)
    port = listener.getsockname()[1]
    args = ["--workers", "2", "-u", path, "--fd", str(listener.fileno()), APP]
    with listener, DaphneCommand(args, pass_fds=[listener.fileno()]).start() as daphne:
        transport = httpx.HTTPTransport(uds=path)
        pids_until("http://localhost", lambda pids: len(pids) >= 2, transport=transport)
        pids_until(f"http://127.0.0.1:{port}", lambda pids: len(pids) >= 2)
        assert daphne.stop(signal.SIGTERM, timeout=30) == 0
        assert not os.path.exists(path)  # the supervisor made it, the supervisor removes it


def ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_available(), reason="no IPv6 loopback")
def test_workers_on_ipv6() -> None:
    """-b ::1 is bound once as an IPv6 socket and served by both workers."""
    with DaphneCommand(["--workers", "2", "-b", "::1", "-p", "0", APP]).start() as daphne:
        assert daphne.host == "::1"
        pids_until(f"http://[::1]:{daphne.port}", lambda pids: len(pids) >= 2)
        assert daphne.stop(signal.SIGTERM, timeout=30) == 0


def test_workers_with_tls(tmp_path: Path) -> None:
    """An ssl: endpoint is bound once; each worker does TLS (and ALPN h2) on it."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    key_path, cert_path, ca_path = tmp_path / "k.pem", tmp_path / "c.pem", tmp_path / "ca.pem"
    cert.private_key_pem.write_to_path(str(key_path))
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    ca.cert_pem.write_to_path(str(ca_path))
    endpoint = f"ssl:0:interface=127.0.0.1:privateKey={key_path}:certKey={cert_path}"
    with DaphneCommand(["--workers", "2", "-e", endpoint, APP]).start() as daphne:
        base = f"https://127.0.0.1:{daphne.port}"
        context = ssl.create_default_context(cafile=str(ca_path))
        with httpx.Client(verify=context, http2=True, base_url=base) as client:
            response = client.get("/")
            assert response.http_version == "HTTP/2"
        pids = pids_until(base, lambda pids: len(pids) >= 2, verify=context)
        assert all(loads_pyopenssl(pid) for pid in pids)
        assert daphne.stop(signal.SIGTERM, timeout=30) == 0


def test_supervisor_errors() -> None:
    """Bad combinations, unsharable endpoints and an app that cannot start end the real
    command with a one-line error and a non-zero status, never a traceback."""
    result = run_daphne(["--workers", "2", "--reload", APP])
    assert result.returncode == 1
    assert "--reload" in result.stderr and "Traceback" not in result.stderr
    result = run_daphne(["--workers", "2", "-e", "systemd:domain=INET:index=0", APP])
    assert result.returncode == 1
    assert "systemd" in result.stderr and "Traceback" not in result.stderr
    result = run_daphne(["--workers", "0", APP])
    assert result.returncode == 2
    assert "--workers" in result.stderr
    # A worker that cannot even start (bad application) stops the supervisor at once.
    result = run_daphne(["--workers", "2", "-p", "0", "apps.worker_apps:missing"])
    assert result.returncode == 1
    assert "failed to start" in result.stdout + result.stderr
