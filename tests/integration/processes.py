"""Start the real ``daphne`` command in a child process and wait for it to listen."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LISTENING_RE = re.compile(r"Listening on TCP address (?:\[([^\]]+)\]|([^\s:]+)):(\d+)")
_UNIX_RE = re.compile(r"Listening on UNIX socket (\S+)")


class DaphneCommand:
    """A ``python -m daphne ...`` child process with its log captured.

    :ivar port: the TCP port from the startup log, if it listened on TCP.
    """

    def __init__(
        self, args: Sequence[str], pass_fds: Sequence[int] = (), env: dict | None = None
    ) -> None:
        self.args = [sys.executable, "-m", "daphne", *args]
        self.pass_fds = tuple(pass_fds)
        self.env = {**os.environ, "PYTHONPATH": TESTS_DIR, **(env or {})}
        self.process: subprocess.Popen[str] | None = None
        self.log: list[str] = []
        self.port: int | None = None
        self.host: str | None = None
        self._partial = ""

    def start(self, wait_for: str = "Listening on", timeout: float = 20.0) -> DaphneCommand:
        """Start and wait until a log line contains ``wait_for`` (or the process ends)."""
        # Output goes to a file, not a pipe: a chatty server must never block
        # on a pipe nobody drains.
        self._output = tempfile.TemporaryFile()  # noqa: SIM115 - closed in __exit__
        self._read_offset = 0
        self.process = subprocess.Popen(
            self.args,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            cwd=TESTS_DIR,
            env=self.env,
            pass_fds=self.pass_fds,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self._read_lines(0.05):
                match = _LISTENING_RE.search(line)
                if match and self.port is None:
                    self.host, self.port = match.group(1) or match.group(2), int(match.group(3))
                if wait_for in line:
                    return self
            if self.process.poll() is not None:
                self._read_lines(0)
                return self
        self.process.kill()  # never leave a server behind
        self.process.wait(5)
        raise TimeoutError(f"daphne did not log {wait_for!r} in {timeout}s: {self.log}")

    def _read_lines(self, wait: float) -> list[str]:
        """Read the output written since last time (after waiting ``wait`` s); return new lines."""
        time.sleep(wait)
        # pread, not seek + read: the server writes through a descriptor that shares
        # this file's offset, so moving it would make the server overwrite its own lines.
        fd = self._output.fileno()
        pieces = []
        while piece := os.pread(fd, 1 << 20, self._read_offset):
            pieces.append(piece)
            self._read_offset += len(piece)
        chunk = b"".join(pieces)
        self._partial += chunk.decode("utf-8", "replace")
        *new, self._partial = self._partial.split("\n")
        self.log.extend(new)
        return new

    def output(self) -> str:
        """Everything the process printed so far."""
        if self.process is not None:
            self._read_lines(0)
        return "\n".join([*self.log, self._partial])

    def wait_for_log(self, text: str, count: int = 1, timeout: float = 20.0) -> None:
        """Wait (bounded) until ``text`` was logged ``count`` times."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.output().count(text) >= count:
                return
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not logged {count} times:\n{self.output()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Send ``sig`` and wait (bounded) for the exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
            raise

    def __enter__(self) -> DaphneCommand:
        return self if self.process is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        if self.process is not None:
            self._output.close()


def loads_pyopenssl(pid: int) -> bool:
    """Whether process ``pid`` has cryptography's compiled module mapped (pyOpenSSL needs it)."""
    with open(f"/proc/{pid}/maps") as maps:
        return "cryptography/hazmat/bindings" in maps.read()


def run_daphne(args: Sequence[str], timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run ``daphne`` to completion (for commands that should exit by themselves)."""
    return subprocess.run(
        [sys.executable, "-m", "daphne", *args],
        capture_output=True,
        text=True,
        cwd=TESTS_DIR,
        env={**os.environ, "PYTHONPATH": TESTS_DIR},
        timeout=timeout,
    )


class TLSFiles:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost, written to ``folder``.

    :ivar endpoint: an ``ssl:`` endpoint string on a free loopback port using them.
    :ivar ca_path: the CA certificate, for clients to trust.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        import trustme

        self.ca = trustme.CA()
        self.cert = self.ca.issue_cert("127.0.0.1", "localhost")
        self.key_path = os.path.join(folder, "key.pem")
        self.cert_path = os.path.join(folder, "cert.pem")
        self.ca_path = os.path.join(folder, "ca.pem")
        self.cert.private_key_pem.write_to_path(self.key_path)
        self.cert.cert_chain_pems[0].write_to_path(self.cert_path)
        self.ca.cert_pem.write_to_path(self.ca_path)
        self.endpoint = (
            f"ssl:0:interface=127.0.0.1:privateKey={self.key_path}:certKey={self.cert_path}"
        )

    def client_context(self) -> Any:
        """An ``ssl.SSLContext`` that trusts the CA."""
        import ssl

        return ssl.create_default_context(cafile=self.ca_path)
