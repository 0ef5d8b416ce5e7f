#!/usr/bin/env python3
"""Benchmark this server against Daphne 4.2.3 (and uvicorn, granian) on one machine.

Each server runs alone, pinned to core 0 (taskset -c 0); wrk runs pinned to core 1.
Prints a Markdown table (req/s, p50/p99 latency, peak RSS, ratio to Daphne), writes
raw results to bench/results/ and a bar chart of req/s next to them (bench/chart.py,
matplotlib in its own venv). See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import venv
from typing import NoReturn

from startup import first_response, start_env, stop_server

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
#: The run published in the README (``--publish``): chart and raw numbers.
PUBLISHED = os.path.join(HERE, "published")

#: Reference servers: each in its own venv under bench/, every version pinned.
REFERENCE_VENVS: dict[str, tuple[str, list[str]]] = {
    # Twisted's http2 extra: Daphne only serves HTTP/2 (over TLS) with it installed.
    "daphne": (".venv-daphne423", ["daphne==4.2.3", "twisted[tls,http2]==26.10.0"]),
    "uvicorn": (
        ".venv-uvicorn",
        ["uvicorn[standard]==0.55.0", "httptools==0.9.0", "uvloop==0.23.0"],
    ),
    "granian": (".venv-granian", ["granian==2.8.9", "uvloop==0.23.0"]),
}
#: Only the chart needs matplotlib; it is no dependency of the package.
CHART_VENV = (".venv-chart", ["matplotlib==3.11.2"])
#: ``ours`` runs with --loop auto (uvloop when the repo's venv has it);
#: ``ours-asyncio`` is the same server on the standard library's loop.
SERVERS = ("ours", "ours-asyncio", "daphne", "uvicorn", "granian")

SCENARIOS = {
    "hello": {"path": "/", "lua": None, "desc": "GET hello world"},
    "post64k": {"path": "/echo", "lua": "post64k", "desc": "POST 64 KiB echo"},
    "stream": {"path": "/stream", "lua": None, "desc": "streamed 100 x 1 KiB"},
    "ws_echo": {"path": "/ws", "lua": None, "desc": "WebSocket 64-byte text echo, 50 connections"},
    "ws_idle": {"path": "/ws", "lua": None, "desc": "RSS per idle WebSocket (2000 sockets)"},
    "h2tls": {"path": "/", "lua": None, "desc": "HTTP/2 over TLS, h2load -c16 -m10, hello"},
    "h2c": {
        "path": "/",
        "lua": None,
        "desc": "HTTP/2 cleartext (prior knowledge), h2load -c16 -m10, hello",
    },
    "workers": {"path": "/", "lua": None, "desc": "GET hello: one process vs --workers 2 (ours)"},
}
H2_SCENARIOS = ("h2tls", "h2c")
WS_SCENARIOS = ("ws_echo", "ws_idle")

LUA = {
    "post64k": 'wrk.method = "POST"\nwrk.body = string.rep("a", 65536)\n'
    'wrk.headers["Content-Type"] = "application/octet-stream"\n',
}


def die(message: str) -> NoReturn:
    print(f"bench: {message}", file=sys.stderr)
    sys.exit(2)


def ensure_venv(path: str, requirements: list[str]) -> str:
    python = os.path.join(path, "bin", "python")
    marker = os.path.join(path, ".installed")
    wanted = " ".join(requirements)
    if os.path.exists(marker):
        with open(marker) as handle:
            if handle.read() == wanted:
                return python
    print(f"bench: creating {path} with {wanted}", file=sys.stderr)
    venv.create(path, with_pip=True, clear=True)
    subprocess.run([python, "-m", "pip", "install", "-q", *requirements], check=True)
    with open(marker, "w") as handle:
        handle.write(wanted)
    return python


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            die(f"server exited early with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    die(f"server did not listen on {port} within {timeout}s")


def proc_status(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tls_files(directory: str) -> tuple[str, str]:
    """A throwaway self-signed certificate for the TLS scenarios."""
    key, cert = os.path.join(directory, "key.pem"), os.path.join(directory, "cert.pem")
    if not os.path.exists(cert):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
             "-days", "2", "-subj", "/CN=127.0.0.1"],
            check=True, capture_output=True,
        )  # fmt: skip
    return key, cert


def server_command(
    name: str,
    pythons: dict[str, str],
    port: int,
    tls_port: int | None = None,
    tls: tuple[str, str] | None = None,
) -> list[str]:
    app = "apps:app"
    if name in ("ours", "ours-asyncio", "daphne"):
        python = pythons["ours" if name == "ours-asyncio" else name]
        command = [python, "-m", "daphne", "-v", "0", "-p", str(port)]
        if name == "ours-asyncio":
            command += ["--loop", "asyncio"]
        if tls_port is not None and tls is not None:
            command += [
                "-e",
                f"ssl:{tls_port}:interface=127.0.0.1:privateKey={tls[0]}:certKey={tls[1]}",
            ]
        return [*command, app]
    if name == "uvicorn":
        return [
            pythons["uvicorn"], "-m", "uvicorn", "--no-access-log", "--log-level", "warning",
            "--loop", "uvloop", "--http", "httptools", "--port", str(port), app,
        ]  # fmt: skip
    if name == "granian":
        # One worker, HTTP/1.1 and cleartext HTTP/2 (prior knowledge) on the same port.
        return [
            pythons["granian"], "-m", "granian", "--interface", "asgi", "--workers", "1",
            "--loop", "uvloop", "--http", "auto", "--no-access-log", "--log-level", "warning",
            "--host", "127.0.0.1", "--port", str(port), app,
        ]  # fmt: skip
    raise ValueError(name)


_LATENCY_RE = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(output: str) -> dict[str, float]:
    result: dict[str, float] = {}
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    result["rps"] = float(match.group(1)) if match else 0.0
    for percentile, value, unit in _LATENCY_RE.findall(output):
        result[f"p{percentile}_ms"] = float(value) * _UNITS[unit]
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    result["socket_errors"] = sum(int(x) for x in errors.groups()) if errors else 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result["non_2xx"] = int(non2xx.group(1)) if non2xx else 0
    return result


def run_wrk(
    port: int, scenario: str, duration: int, connections: int, lua_dir: str
) -> dict[str, float]:
    spec = SCENARIOS[scenario]
    command = [
        "taskset",
        "-c",
        "1",
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
    ]
    if spec["lua"]:
        script = os.path.join(lua_dir, spec["lua"] + ".lua")
        with open(script, "w") as handle:
            handle.write(LUA[spec["lua"]])
        command += ["-s", script]
    command.append(f"http://127.0.0.1:{port}{spec['path']}")
    output = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60).stdout
    return parse_wrk(output)


def run_h2load(port: int, scenario: str, duration: int) -> dict[str, float]:
    scheme = "https" if scenario == "h2tls" else "http"
    command = [
        "taskset",
        "-c",
        "1",
        "h2load",
        "-c16",
        "-m10",
        "-D",
        str(duration),
        f"{scheme}://127.0.0.1:{port}/",
    ]
    output = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60).stdout
    result: dict[str, float] = {"rps": 0.0, "socket_errors": 0, "non_2xx": 0}
    match = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", output)
    if match:
        result["rps"] = float(match.group(1))
    match = re.search(
        r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored",
        output,
    )
    if match:
        result["socket_errors"] = int(match.group(2)) + int(match.group(3))
    protocol = re.search(r"Application protocol: (\S+)", output)
    result["protocol"] = protocol.group(1) if protocol else "?"  # type: ignore[assignment]
    latency = re.search(
        r"time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)", output
    )
    if latency:
        result["p50_ms"] = (
            float(latency.group(5)) * _UNITS[latency.group(6)]
        )  # mean, h2load has no p50
    return result


def run_ws_echo(port: int, duration: int) -> dict[str, float]:
    command = [
        "taskset",
        "-c",
        "1",
        sys.executable,
        os.path.join(HERE, "wsload.py"),
        "echo",
        str(port),
        "50",
        str(duration),
    ]
    started = time.monotonic()
    client_before = os.times()
    output = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    if output.returncode != 0:
        die(f"wsload failed: {output.stderr[-500:]}")
    result = json.loads(output.stdout)
    client_after = os.times()
    elapsed = time.monotonic() - started
    cpu = (client_after.children_user - client_before.children_user) + (
        client_after.children_system - client_before.children_system
    )
    result["client_cpu_percent"] = 100 * cpu / elapsed
    return result


def run_ws_idle(port: int, pids: list[int], connections: int = 2000) -> dict[str, float]:
    before = sum(proc_status(pid, "VmRSS") for pid in pids)
    with tempfile.NamedTemporaryFile(delete=False) as hold:
        hold_path = hold.name
    client = subprocess.Popen(
        [
            "taskset",
            "-c",
            "1",
            sys.executable,
            os.path.join(HERE, "wsload.py"),
            "idle",
            str(port),
            str(connections),
            hold_path,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = client.stdout.readline()  # type: ignore[union-attr]
        if line.strip() != "ready":
            die("wsload idle did not get ready")
        time.sleep(1.0)
        after = sum(proc_status(pid, "VmRSS") for pid in pids)
    finally:
        os.unlink(hold_path)
        client.wait(30)
    return {"rps": 0.0, "per_connection_kib": (after - before) / connections / 1024}


def fresh_starts(name: str, pythons: dict[str, str], starts: int = 3) -> dict:
    """Start-up to the first 200 and idle RSS of ``starts`` fresh processes (best of each).

    The server listens on plain TCP only, as in the HTTP/1.1 scenarios: a TLS listener
    (for ``h2tls``) would make this server load its TLS stack, which a plain one does not.
    Bytecode is cached as in an installed package (``startup.start_env``).
    """
    env = start_env()
    times, memory = [], []
    for _ in range(starts):
        port = free_port()
        command = ["taskset", "-c", "0", *server_command(name, pythons, port)]
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=HERE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            first_response(port, process)
            times.append((time.perf_counter() - started) * 1000)
            time.sleep(0.5)
            memory.append(sum(proc_status(pid, "VmRSS") for pid in process_tree(process.pid)))
        finally:
            stop_server(process)
    return {"startup_ms": min(times), "idle_rss": min(memory)}


def bench_server(
    name: str, pythons: dict[str, str], scenarios: list[str], args: argparse.Namespace, lua_dir: str
) -> dict:
    fresh = fresh_starts(name, pythons)
    port = free_port()
    tls_port = free_port()
    wants_h2 = any(s in H2_SCENARIOS for s in scenarios) and name in (
        "ours",
        "ours-asyncio",
        "daphne",
    )
    tls = tls_files(RESULTS) if wants_h2 else None
    command = [
        "taskset",
        "-c",
        "0",
        *server_command(name, pythons, port, tls_port if wants_h2 else None, tls),
    ]
    env = {**os.environ, "PYTHONPATH": HERE}
    process = subprocess.Popen(
        command, cwd=HERE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for_port(port, process)
        time.sleep(0.5)
        # granian serves from a child process: count the whole tree.
        tree = process_tree(process.pid)

        def memory(field: str) -> int:
            return sum(proc_status(pid, field) for pid in tree)

        results: dict = {**fresh, "scenarios": {}}
        # Per-WebSocket memory is measured first, on a fresh process: after load, freed
        # heap is reused and per-connection growth would be under-counted.
        for scenario in sorted(scenarios, key=lambda name: name != "ws_idle"):
            if scenario == "ws_idle":
                results["scenarios"][scenario] = run_ws_idle(port, tree)
                continue
            if scenario in H2_SCENARIOS:
                if (
                    name == "uvicorn"
                    or (name == "daphne" and scenario == "h2c")
                    or (name == "granian" and scenario == "h2tls")
                ):
                    # No HTTP/2 (uvicorn), no cleartext HTTP/2 (Daphne); granian's
                    # TLS would need a second process (one listener each).
                    continue
                target = tls_port if scenario == "h2tls" else port
                run_h2load(target, scenario, max(1, args.duration // 5))  # warm-up
                cpu_before = tree_cpu_seconds(tree)
                started = time.monotonic()
                measured = run_h2load(target, scenario, args.duration)
                elapsed = time.monotonic() - started
                measured["cpu_percent"] = 100 * (tree_cpu_seconds(tree) - cpu_before) / elapsed
                measured["peak_rss"] = memory("VmHWM")
                results["scenarios"][scenario] = measured
                continue
            if scenario == "ws_echo":
                run_ws_echo(port, max(1, args.duration // 5))  # warm-up
                cpu_before = tree_cpu_seconds(tree)
                started = time.monotonic()
                measured = run_ws_echo(port, args.duration)
                elapsed = time.monotonic() - started
                measured["cpu_percent"] = 100 * (tree_cpu_seconds(tree) - cpu_before) / elapsed
                measured["peak_rss"] = memory("VmHWM")
                results["scenarios"][scenario] = measured
                continue
            run_wrk(
                port, scenario, max(1, args.duration // 5), args.connections, lua_dir
            )  # warm-up
            cpu_before = tree_cpu_seconds(tree)
            started = time.monotonic()
            measured = run_wrk(port, scenario, args.duration, args.connections, lua_dir)
            elapsed = time.monotonic() - started
            measured["cpu_percent"] = 100 * (tree_cpu_seconds(tree) - cpu_before) / elapsed
            measured["peak_rss"] = memory("VmHWM")
            if measured["socket_errors"] or measured["non_2xx"]:
                print(
                    f"bench: warning: {name}/{scenario}: {measured['socket_errors']} socket errors, {measured['non_2xx']} non-2xx",
                    file=sys.stderr,
                )
            results["scenarios"][scenario] = measured
        return results
    finally:
        if process.poll() is None:
            stop_server(process)


# -- workers: one process against a supervisor with two worker processes -----------

#: (label, --workers, cores the server may use); wrk stays on core 1 as everywhere else.
WORKER_SETUPS = (
    ("1 process, core 0", 1, "0"),
    ("--workers 2, core 0", 2, "0"),
    ("--workers 2, cores 0-1", 2, "0,1"),
)


def process_tree(pid: int) -> list[int]:
    """``pid`` and its children (a supervisor and its workers)."""
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if parent == pid:
                children.append(int(entry))
    return [pid, *children]


def tree_cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except OSError:
            pass
    return total


def wait_for_answer(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    """Wait for an HTTP answer: the supervisor's socket accepts before any worker serves."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            die(f"server exited early with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    die(f"server did not answer on {port} within {timeout}s")


def bench_workers(python: str, args: argparse.Namespace, lua_dir: str) -> list[dict]:
    """GET hello against each of :data:`WORKER_SETUPS`, wrk -t1 pinned to core 1."""
    rows = []
    for label, workers, cores in WORKER_SETUPS:
        port = free_port()
        command = ["taskset", "-c", cores, python, "-m", "daphne", "-v", "0", "-p", str(port)]
        if workers > 1:
            command += ["--workers", str(workers)]
        process = subprocess.Popen(
            [*command, "apps:app"],
            cwd=HERE,
            env={**os.environ, "PYTHONPATH": HERE},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for_port(port, process)
            wait_for_answer(port, process)
            time.sleep(0.5)  # every worker listens
            pids = process_tree(process.pid)
            run_wrk(port, "workers", max(1, args.duration // 5), args.connections, lua_dir)
            cpu_before, started = tree_cpu_seconds(pids), time.monotonic()
            measured = run_wrk(port, "workers", args.duration, args.connections, lua_dir)
            elapsed = time.monotonic() - started
            measured["cpu_percent"] = 100 * (tree_cpu_seconds(pids) - cpu_before) / elapsed
            measured["processes"] = len(pids)
            measured["label"] = label  # type: ignore[assignment]
            rows.append(measured)
        finally:
            stop_server(process, timeout=30)
    return rows


def workers_table(rows: list[dict]) -> str:
    lines = [
        "| workers scenario (ours) | req/s | p50 ms | p99 ms | server CPU % | vs 1 process |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    base = rows[0]["rps"] if rows else 0
    for row in rows:
        ratio = f"{row['rps'] / base:.2f}x" if base else "-"
        lines.append(
            f"| {row['label']} | {row['rps']:.0f} | {row.get('p50_ms', 0):.2f} | "
            f"{row.get('p99_ms', 0):.2f} | {row['cpu_percent']:.0f} | {ratio} |"
        )
    return "\n".join(lines)


def ours_loop(python: str) -> str:
    """The loop ``ours`` runs on with ``--loop auto``: uvloop if that venv has it."""
    found = subprocess.run([python, "-c", "import uvloop"], capture_output=True).returncode == 0
    return "uvloop" if found else "asyncio"


def table(all_results: dict, scenarios: list[str]) -> str:
    lines = [
        "| scenario | server | req/s | p50 ms | p99 ms | server CPU % | req per CPU-s | peak RSS MiB | vs Daphne 4.2.3 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario in [s for s in scenarios if s != "ws_idle"]:
        base = all_results.get("daphne", {}).get("scenarios", {}).get(scenario, {}).get("rps")
        if scenario == "h2c":
            base = all_results.get("daphne", {}).get("scenarios", {}).get("h2tls", {}).get("rps")
        for server, results in all_results.items():
            row = results["scenarios"].get(scenario)
            if row is None:
                continue
            ratio = f"{row['rps'] / base:.2f}x" if base else "-"
            # Requests per second of server CPU: steadier than req/s when other
            # processes share the server's core (its CPU % then stays below 100).
            cpu = row["cpu_percent"] / 100
            per_cpu = f"{row['rps'] / cpu:.0f}" if cpu > 0.05 else "-"
            lines.append(
                f"| {scenario} | {server} | {row['rps']:.0f} | {row.get('p50_ms', 0):.2f} | "
                f"{row.get('p99_ms', 0):.2f} | {row['cpu_percent']:.0f} | {per_cpu} | "
                f"{row['peak_rss'] / 2**20:.1f} | {ratio} |"
            )
    if "ws_echo" in scenarios:
        lines.append("")
        lines.append("ws_echo: req/s = 64-byte round trips per second; client CPU % (one core):")
        for server, results in all_results.items():
            row = results["scenarios"]["ws_echo"]
            lines.append(f"- {server}: {row['client_cpu_percent']:.0f} %")
    lines.append("")
    with_idle = "ws_idle" in scenarios
    lines.append(
        "| server | start-up ms | idle RSS MiB |"
        + (" KiB per idle WebSocket |" if with_idle else "")
    )
    lines.append("|---|---:|---:|" + ("---:|" if with_idle else ""))
    for server, results in all_results.items():
        extra = (
            f" {results['scenarios']['ws_idle']['per_connection_kib']:.1f} |" if with_idle else ""
        )
        lines.append(
            f"| {server} | {results['startup_ms']:.0f} | {results['idle_rss'] / 2**20:.1f} |{extra}"
        )
    return "\n".join(lines)


def best_of(rounds: list[dict]) -> dict:
    """Each server's best run per scenario over ``rounds`` (most req/s; for ``ws_idle``,
    the least memory per connection), and its least idle RSS and shortest start-up."""
    best: dict = {}
    for this_round in rounds:
        for server, results in this_round.items():
            kept = best.setdefault(
                server,
                {
                    "idle_rss": results["idle_rss"],
                    "startup_ms": results["startup_ms"],
                    "scenarios": {},
                },
            )
            kept["idle_rss"] = min(kept["idle_rss"], results["idle_rss"])
            kept["startup_ms"] = min(kept["startup_ms"], results["startup_ms"])
            for scenario, measured in results["scenarios"].items():
                previous = kept["scenarios"].get(scenario)
                if previous is None:
                    kept["scenarios"][scenario] = measured
                elif scenario == "ws_idle":
                    if measured["per_connection_kib"] < previous["per_connection_kib"]:
                        kept["scenarios"][scenario] = measured
                elif measured["rps"] > previous["rps"]:
                    kept["scenarios"][scenario] = measured
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--servers",
        default="ours,daphne",
        help="comma list of " + ", ".join(SERVERS) + ", or 'all'",
    )
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help="comma list of " + ", ".join(SCENARIOS)
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="3 s runs")
    parser.add_argument(
        "--publish",
        action="store_true",
        help="also copy the JSON and the chart to bench/published/ (shown by the README)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure every server this many times, round after round (each round "
        "starting with the next server), and keep each server's best run per scenario "
        "(the least disturbed on a shared machine)",
    )
    parser.add_argument("--no-chart", action="store_true", help="skip the PNG chart")
    parser.add_argument(
        "--ours",
        default=os.path.join(REPO, ".venv", "bin", "python"),
        help="Python with this repo's daphne installed",
    )
    args = parser.parse_args()
    if args.quick:
        args.duration = 3
    if args.rounds < 1:
        die("--rounds must be at least 1")
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            die(f"{tool} not found (apt-get install wrk util-linux)")
    if (os.cpu_count() or 1) < 2:
        die("needs at least 2 cores (server on core 0, wrk on core 1)")
    servers = list(SERVERS) if args.servers == "all" else [s for s in args.servers.split(",") if s]
    for server in servers:
        if server not in SERVERS:
            die(f"unknown server {server!r}")
    scenarios = [s for s in args.scenarios.split(",") if s]
    for scenario in scenarios:
        if scenario not in SCENARIOS:
            die(f"unknown scenario {scenario!r}")
    pythons = {"ours": args.ours}
    with_workers = "workers" in scenarios
    workers_rows: list[dict] = []
    scenarios = [s for s in scenarios if s != "workers"]
    if not scenarios:
        servers = []
    for server, (folder, requirements) in REFERENCE_VENVS.items():
        if server in servers:
            pythons[server] = ensure_venv(os.path.join(HERE, folder), requirements)
    os.makedirs(RESULTS, exist_ok=True)
    rounds: list[dict] = []
    with tempfile.TemporaryDirectory() as lua_dir:
        for number in range(1, args.rounds + 1):
            # Round after round (not server after server): a slow spell of a shared
            # machine then hits every server in some round, not one server in all.
            # Each round starts with the next server: the first one measured after a
            # pause ran measurably slower here (uvloop GET: 16k first, 25k second).
            shift = (number - 1) % len(servers)
            this_round: dict = {}
            for server in servers[shift:] + servers[:shift]:
                label = f" (round {number}/{args.rounds})" if args.rounds > 1 else ""
                print(f"bench: {server}{label} ...", file=sys.stderr)
                this_round[server] = bench_server(server, pythons, scenarios, args, lua_dir)
            rounds.append(this_round)
        if with_workers:
            print("bench: ours with worker processes ...", file=sys.stderr)
            workers_rows = bench_workers(pythons["ours"], args, lua_dir)
    all_results = best_of(rounds)
    if scenarios:
        if args.rounds > 1:
            print(
                f"best of {args.rounds} rounds per server and scenario (req/s of every round in the JSON)"
            )
        print(table(all_results, scenarios))
    if with_workers:
        print(("\n" if scenarios else "") + workers_table(workers_rows))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    json_path = os.path.join(RESULTS, f"http-{stamp}.json")
    with open(json_path, "w") as handle:
        saved = {"args": vars(args), "results": all_results, "ours_loop": ours_loop(args.ours)}
        if args.rounds > 1:
            saved["rounds"] = rounds
        if with_workers:
            saved["workers"] = workers_rows
        json.dump(saved, handle, indent=2)
    outputs = [json_path]
    if all_results and not args.no_chart:
        chart_python = ensure_venv(os.path.join(HERE, CHART_VENV[0]), CHART_VENV[1])
        png_path = json_path[: -len(".json")] + ".png"
        subprocess.run(
            [chart_python, os.path.join(HERE, "chart.py"), json_path, png_path], check=True
        )
        outputs.append(png_path)
    if args.publish:
        os.makedirs(PUBLISHED, exist_ok=True)
        for path in outputs:
            shutil.copyfile(path, os.path.join(PUBLISHED, "http" + os.path.splitext(path)[1]))
    print("bench: wrote " + ", ".join(outputs), file=sys.stderr)


if __name__ == "__main__":
    main()
