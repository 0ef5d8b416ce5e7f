#!/usr/bin/env python3
"""Start-up time and idle memory of ``python -m daphne`` (see bench/README.md).

Starts ``python -m daphne -p PORT apps:app`` from bench/, polls ``GET /`` until
the first 200 and reports the best of N runs (milliseconds from spawning the
process to that response; and the CPU time the server used until then, steadier
on a busy machine), then the process's VmRSS once it is idle.

    python3 bench/startup.py                     # this repo's .venv, best of 5
    python3 bench/startup.py --python bench/.venv-daphne423/bin/python
    python3 bench/startup.py -- --loop asyncio   # extra server options
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def first_response(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"startup: server exited with status {process.returncode}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.002)
        finally:
            connection.close()
    sys.exit(f"startup: no 200 within {timeout}s")


def start_env() -> dict[str, str]:
    """The environment a server is started with to time its start-up."""
    env = {**os.environ, "PYTHONPATH": HERE}
    # Measure what an installed server does: pip compiles a package's modules when it
    # installs it, and Python caches the bytecode of an editable one on its first start.
    # With PYTHONDONTWRITEBYTECODE set (some shells and CI images set it), this repo's
    # modules would be compiled at every start (about 55 ms here) and the reference
    # servers' would not.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def stop_server(process: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if the server has not exited within ``timeout`` seconds."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def vm_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_ms(pid: int) -> float:
    """CPU time ``pid`` has used so far (ns precision, from /proc/PID/schedstat)."""
    with open(f"/proc/{pid}/schedstat") as handle:
        return int(handle.read().split()[0]) / 1e6


def one_run(python: str, extra: list[str]) -> tuple[float, float, int]:
    port = free_port()
    command = [python, "-m", "daphne", "-v", "0", "-p", str(port), *extra, "apps:app"]
    env = start_env()
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=HERE, env=env, stdout=subprocess.DEVNULL)
    try:
        first_response(port, process)
        elapsed = (time.perf_counter() - started) * 1000
        cpu = cpu_ms(process.pid)
        time.sleep(0.3)
        return elapsed, cpu, vm_rss_kib(process.pid)
    finally:
        stop_server(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--python", default=os.path.join(REPO, ".venv", "bin", "python"), type=os.path.abspath
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("extra", nargs="*", help="more server options (after --)")
    args = parser.parse_args()
    one_run(args.python, args.extra)  # warm-up: writes bytecode caches, fills the page cache
    runs = [one_run(args.python, args.extra) for _ in range(args.runs)]
    times = sorted(ms for ms, _, _ in runs)
    cpu = min(ms for _, ms, _ in runs)
    rss = min(kib for _, _, kib in runs)
    print(
        f"start-up to first 200: best {times[0]:.0f} ms, median {times[len(times) // 2]:.0f} ms "
        f"({', '.join(f'{ms:.0f}' for ms, _, _ in runs)}); server CPU until then: best "
        f"{cpu:.0f} ms; idle VmRSS {rss / 1024:.1f} MiB"
    )


if __name__ == "__main__":
    main()
