"""Run Autobahn|Testsuite's fuzzing client against this checkout's server.

    python tests/conformance/wstest_runner.py                  # every case (1-10, 12, 13)
    python tests/conformance/wstest_runner.py '1.*,2.*' --exclude '9.7.*,9.8.*'

The last line printed is the tally::

    autobahn: OK=.. NON-STRICT=.. FAILED=.. UNIMPLEMENTED=.. INFORMATIONAL=.. MISSING=.. total=..

Exit status: 0 when nothing FAILED, is UNIMPLEMENTED or MISSING; 1 otherwise;
2 when the suite cannot be set up here.

autobahntestsuite (the fuzzing client) is Python 2 code: it is installed once
into its own virtualenv under ``$XDG_CACHE_HOME/daphne-autobahn`` (``~/.cache``
by default), made from a Python 2.7 found on the PATH, under pyenv, or named by
``WSTEST_PYTHON``; ``WSTEST`` names a ready ``wstest`` instead.  The server is
``python -m daphne`` from the interpreter running this script (or
``DAPHNE_PYTHON``), serving the benchmark's WebSocket echo (``bench/apps.py``,
``ws_echo``) with 32 MiB message and frame
limits, as the big-message cases need.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: Where ``apps.ws_echo`` lives (the benchmark's echo app, standard library only).
APPS = HERE.parent.parent / "bench"
SUITE_VERSION = "25.10.1"
ALL_CASES = "1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*,12.*,13.*"
FAST_CASES = "1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*"
FAST_EXCLUDE = "9.7.*,9.8.*"
BEHAVIOURS = ("OK", "NON-STRICT", "FAILED", "UNIMPLEMENTED", "INFORMATIONAL")


class SetupError(Exception):
    """The fuzzing client cannot be installed or started here."""


def _cache() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "daphne-autobahn"


def _python27() -> str:
    candidates = [os.environ.get("WSTEST_PYTHON", "")]
    pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates += sorted(glob.glob(os.path.join(pyenv, "versions", "2.7*", "bin", "python2.7")))
    candidates += [shutil.which("python2.7") or "", shutil.which("python2") or ""]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            probe = subprocess.run(
                [candidate, "-c", "import sys; print(sys.version_info[:2] == (2, 7))"],
                capture_output=True,
                text=True,
            )
            if probe.stdout.strip() == "True":
                return candidate
    raise SetupError("no Python 2.7 found (set WSTEST_PYTHON, e.g. after 'pyenv install 2.7.18')")


def wstest() -> str:
    """The path of a working ``wstest``, installing it on first use."""
    given = os.environ.get("WSTEST")
    if given:
        return given
    venv = _cache() / f"wstest-{SUITE_VERSION}"
    program = venv / "bin" / "wstest"
    if program.exists() and subprocess.run([program, "-a"], capture_output=True).returncode == 0:
        return str(program)
    python27 = _python27()
    tool = _cache() / "virtualenv-tool"
    steps = []
    if not (tool / "bin" / "virtualenv").exists():
        # virtualenv before 20.22 is the last to make Python 2.7 environments.
        steps += [
            [sys.executable, "-m", "venv", str(tool)],
            [str(tool / "bin" / "pip"), "install", "-q", "virtualenv<20.22"],
        ]
    shutil.rmtree(venv, ignore_errors=True)
    steps += [
        [str(tool / "bin" / "virtualenv"), "-q", "-p", python27, str(venv)],
        [str(venv / "bin" / "pip"), "install", "-q", f"autobahntestsuite=={SUITE_VERSION}"],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            raise SetupError(f"{' '.join(step[:3])}... failed: {done.stderr.strip()[-300:]}")
    return str(program)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_listening(port: int, server: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SetupError(f"the server exited with status {server.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SetupError("the server did not listen within 30 s")


def run(
    cases: str, exclude: str = "", timeout: float = 1800, keep: str | None = None
) -> tuple[Counter[str], list[str]]:
    """Run the cases; return the count of each behaviour and the cases not OK.

    ``keep``: a folder to copy the HTML/JSON reports into.
    """
    program = wstest()
    python = os.environ.get("DAPHNE_PYTHON", sys.executable)
    port = _free_port()
    limit = str(32 * 1024 * 1024)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(APPS), os.environ.get("PYTHONPATH", "")]),
    }
    with tempfile.TemporaryDirectory(prefix="autobahn-") as folder:
        log = open(os.path.join(folder, "server.log"), "wb")  # noqa: SIM115 - closed below
        server = subprocess.Popen(
            [python, "-m", "daphne", "-v", "0", "-b", "127.0.0.1", "-p", str(port),
             "--websocket-max-message-size", limit, "--websocket-max-frame-size", limit,
             "--lifespan", "off", "apps:ws_echo"],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=folder,
        )  # fmt: skip
        try:
            _wait_listening(port, server)
            spec = {
                "outdir": os.path.join(folder, "reports"),
                "servers": [{"agent": "daphne", "url": f"ws://127.0.0.1:{port}"}],
                "cases": [c.strip() for c in cases.split(",") if c.strip()],
                "exclude-cases": [c.strip() for c in exclude.split(",") if c.strip()],
                "exclude-agent-cases": {},
            }
            with open(os.path.join(folder, "spec.json"), "w") as handle:
                json.dump(spec, handle)
            subprocess.run(
                [program, "-m", "fuzzingclient", "-s", "spec.json"],
                cwd=folder,
                capture_output=True,
                timeout=timeout,
            )
            try:
                with open(os.path.join(folder, "reports", "index.json")) as handle:
                    results = json.load(handle).get("daphne", {})
            except (OSError, ValueError):
                results = {}
            if keep:
                shutil.copytree(os.path.join(folder, "reports"), keep, dirs_exist_ok=True)
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            log.close()
            if keep:
                os.makedirs(keep, exist_ok=True)
                shutil.copy(os.path.join(folder, "server.log"), keep)
    counts: Counter[str] = Counter(result.get("behavior", "FAILED") for result in results.values())
    flagged = sorted(
        (f"{case}={result.get('behavior')}" for case, result in results.items()
         if result.get("behavior") not in ("OK", "INFORMATIONAL")),
        key=lambda item: [int(part) for part in item.split("=")[0].split(".")],
    )  # fmt: skip
    if not results:
        counts["MISSING"] = 1
    return counts, flagged


def summary(counts: Counter[str]) -> str:
    parts = [f"{name}={counts.get(name, 0)}" for name in (*BEHAVIOURS, "MISSING")]
    return "autobahn: " + " ".join(parts) + f" total={sum(counts.values())}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="?", default=ALL_CASES, help="comma-separated patterns")
    parser.add_argument("--exclude", default="", help="comma-separated patterns to skip")
    parser.add_argument("--keep", metavar="DIR", help="copy the suite's reports into DIR")
    args = parser.parse_args(argv)
    try:
        counts, flagged = run(args.cases, args.exclude, keep=args.keep)
    except SetupError as error:
        print(f"autobahn: cannot run here: {error}", file=sys.stderr)
        return 2
    if flagged:
        print("not OK: " + " ".join(flagged))
    print(summary(counts))
    bad = counts.get("FAILED", 0) + counts.get("UNIMPLEMENTED", 0) + counts.get("MISSING", 0)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
