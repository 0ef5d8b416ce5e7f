#!/usr/bin/env python3
"""Benchmark ``--workers 2`` against one process: GET hello world with wrk.

Unlike ``run.py``, nothing is pinned: the workers may use every core, and wrk
competes with them for the same cores on this machine. See bench/README.md.

    .venv/bin/python bench/workers.py [--duration 10] [--connections 64]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from run import free_port, parse_wrk, wait_for_port  # noqa: E402


def cpu_seconds_tree(pid: int) -> float:
    """User+system CPU seconds of a process and its children (the workers)."""
    total = 0.0
    pids = [pid]
    try:
        children = subprocess.run(
            ["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        pids += [int(child) for child in children]
    except FileNotFoundError:
        pass
    for each in pids:
        try:
            with open(f"/proc/{each}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass
    return total


def measure(python: str, workers: int, duration: int, connections: int) -> dict[str, float]:
    port = free_port()
    command = [python, "-m", "daphne", "-v", "0", "-p", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    process = subprocess.Popen(
        [*command, "apps:app"], cwd=HERE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port, process)
        url = f"http://127.0.0.1:{port}/"
        wrk = ["wrk", "-t2", f"-c{connections}", "--latency"]
        subprocess.run([*wrk, "-d2s", url], capture_output=True, check=True)  # warm-up
        before, started = cpu_seconds_tree(process.pid), time.monotonic()
        out = subprocess.run(
            [*wrk, f"-d{duration}s", url], capture_output=True, text=True, check=True
        ).stdout
        elapsed = time.monotonic() - started
        result = parse_wrk(out)
        result["server_cpu_percent"] = 100 * (cpu_seconds_tree(process.pid) - before) / elapsed
        return result
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--python", default=os.path.join(REPO, ".venv", "bin", "python"))
    args = parser.parse_args()
    rows = []
    for workers in (1, 2):
        result = measure(args.python, workers, args.duration, args.connections)
        rows.append((workers, result))
    base = rows[0][1]["rps"]
    print("| workers | req/s | p50 ms | p99 ms | server CPU % | vs 1 |")
    print("|---:|---:|---:|---:|---:|---:|")
    for workers, result in rows:
        print(
            f"| {workers} | {result['rps']:.0f} | {result['p50_ms']:.2f} | "
            f"{result['p99_ms']:.2f} | {result['server_cpu_percent']:.0f} | "
            f"{result['rps'] / base:.2f}x |"
        )


if __name__ == "__main__":
    main()
