"""Helpers for the deployment recipe tests: real nginx, redis-server and daphne processes.

Everything listens on loopback (127.0.0.1, or unix sockets in a private temp dir), every
wait has a deadline, and every process is stopped by the PID (or the session) it was
started with.  A recipe whose program or package is missing is skipped with the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

import pytest
from integration.processes import TESTS_DIR, DaphneCommand

if sys.platform == "win32":
    pytest.skip("the deployment recipes need a POSIX system", allow_module_level=True)

PROJECT_DIR = os.path.join(TESTS_DIR, "django_project")
T = TypeVar("T")

#: Turns a listening socket handed down as fd ``argv[1]`` into what systemd passes: the
#: socket as fd 3, ``LISTEN_FDS``, ``LISTEN_FDNAMES`` and ``LISTEN_PID`` set to the pid
#: of the program that ends up using it (``execv`` keeps the pid).  Then runs ``argv[2:]``.
SYSTEMD_EXEC = """
import os, sys
fd = int(sys.argv[1])
if fd != 3:
    os.dup2(fd, 3)
    os.close(fd)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_FDNAMES"] = "web"
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[2], sys.argv[2:])
"""


#: Headless Chromium for the browser tests: no sandbox (root in CI), nothing fetched from
#: the network, no first-run chores.  Add ``--user-data-dir`` with a fresh directory.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-proxy-server",
    "--disable-dev-shm-usage",
]


def headless_chromium(profile_dir: Any, *flags: str, log: Any = None) -> Any:
    """A Selenium driver for headless Chromium (skips when selenium, chromium or
    chromedriver is missing); ``profile_dir`` must be a fresh directory."""
    webdriver = pytest.importorskip("selenium.webdriver")
    chromium, chromedriver = require_program("chromium"), require_program("chromedriver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, *flags, f"--user-data-dir={profile_dir}"):
        options.add_argument(flag)
    service = webdriver.ChromeService(chromedriver, log_output=None if log is None else str(log))
    return webdriver.Chrome(options=options, service=service)


def require_program(name: str) -> str:
    """The path of program ``name``, or skip the test."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if path is None:
        pytest.skip(f"{name} not installed")
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll ``check`` until it returns something other than None/False, at most ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout} s waiting for {what}")
        time.sleep(0.02)


def listening_socket(family: str, directory: Path) -> tuple[socket.socket, Any]:
    """A listening socket as a process manager would open it: ``inet`` or ``unix``."""
    if family == "unix":
        path = str(directory / "listen.sock")
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(path)
        address: Any = path
    else:
        sock = socket.socket(socket.AF_INET)
        sock.bind(("127.0.0.1", 0))
        address = sock.getsockname()
    sock.listen(128)
    return sock, address


def http_get_raw(family: str, address: Any, path: str = "/", timeout: float = 10.0) -> bytes:
    """One ``GET`` on a fresh connection (TCP or unix); the whole response."""
    sock = socket.socket(socket.AF_UNIX if family == "unix" else socket.AF_INET)
    with sock:
        sock.settimeout(timeout)
        sock.connect(address)
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode()
        )
        return read_until_closed(sock)


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything ``sock`` receives until the peer closes (the socket's timeout applies)."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def json_body(response: bytes) -> Any:
    """The JSON body of a raw ``200`` HTTP/1.1 response."""
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), response[:200]
    return json.loads(body)


class ChildProcess:
    """A helper program (nginx, redis-server) run in its own session, output to a file."""

    def __init__(self, args: Sequence[str], log_path: Path) -> None:
        self.args = list(args)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> ChildProcess:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        """Signal our process; if it outlives ``timeout``, kill the session it leads."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                # Its session holds only what it started (e.g. nginx workers).
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        if self._log is not None:
            self._log.close()


def project_daphne(args: Sequence[str], env: dict[str, str] | None = None) -> DaphneCommand:
    """A ``daphne`` command that can import the Django test project (not started yet)."""
    pythonpath = os.pathsep.join([PROJECT_DIR, TESTS_DIR])
    return DaphneCommand(list(args), env={"PYTHONPATH": pythonpath, **(env or {})})


def stop_daphne(command: DaphneCommand) -> None:
    """Stop a daphne started by a test, gracefully, then by force (always bounded).

    Its output stays readable afterwards with :func:`daphne_log`.
    """
    if command.process is None:
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        command.stop()
    command.output()  # collect the last lines before the capture file is closed
    command.__exit__(None, None, None)


def daphne_log(command: DaphneCommand) -> str:
    """What a daphne printed, also after :func:`stop_daphne`."""
    if command.process is not None and command.process.poll() is None:
        return command.output()
    return "\n".join(command.log)


@contextlib.contextmanager
def running(command: DaphneCommand, timeout: float = 20.0) -> Iterator[DaphneCommand]:
    """Start ``command``, make sure it listens, and stop it afterwards."""
    command.start(timeout=timeout)
    try:
        assert command.process is not None and command.process.poll() is None, command.output()
        yield command
    finally:
        stop_daphne(command)


class Nginx:
    """nginx in the foreground with its configuration, pid file, logs and temp files in a
    private directory, listening on 127.0.0.1 (plain, and TLS when given a certificate)."""

    def __init__(
        self,
        directory: Path,
        upstreams: Sequence[str],
        static_root: str | None = None,
        tls: tuple[str, str] | None = None,
    ) -> None:
        self.binary = require_program("nginx")
        self.directory = directory
        self.upstreams = list(upstreams)
        self.static_root = static_root
        self.tls = tls
        self.port = 0
        self.tls_port = 0
        self.child: ChildProcess | None = None

    def config(self) -> str:
        d = self.directory
        user = ""
        if os.geteuid() == 0:
            import grp
            import pwd

            # Workers would drop to "nobody", who cannot reach our private directory.
            user = f"user {pwd.getpwuid(os.getuid()).pw_name} {grp.getgrgid(os.getgid()).gr_name};"
        servers = "\n".join(f"        server {upstream};" for upstream in self.upstreams)
        static = (
            f"        location /static/ {{\n            alias {self.static_root}/;\n        }}"
            if self.static_root
            else ""
        )
        tls = (
            f"        listen 127.0.0.1:{self.tls_port} ssl;\n"
            f"        ssl_certificate {self.tls[1]};\n"
            f"        ssl_certificate_key {self.tls[0]};"
            if self.tls
            else ""
        )
        return f"""
{user}
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{
    worker_connections 256;
}}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    types {{
        text/html html;
        text/css css;
        text/plain txt;
        application/javascript js;
    }}
    default_type application/octet-stream;

    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    upstream daphne {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{self.port};
{tls}
{static}
        location / {{
            proxy_pass http://daphne;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_redirect off;
            proxy_buffering off;
        }}
    }}
}}
"""

    def start(self, timeout: float = 10.0) -> Nginx:
        for _attempt in range(3):
            self.port = free_port()
            self.tls_port = free_port() if self.tls else 0
            conf = self.directory / "nginx.conf"
            conf.write_text(self.config())
            args = [self.binary, "-p", f"{self.directory}/", "-c", str(conf)]
            args += ["-e", f"{self.directory}/error.log", "-g", "daemon off;"]
            self.child = ChildProcess(args, self.directory / "nginx.out").start()
            if self._wait_ready(timeout):
                return self
            log = self.child.log() + self.error_log()
            self.child.stop()
            if "Address already in use" not in log:
                raise RuntimeError(f"nginx did not start:\n{log}")
        raise RuntimeError("nginx found no free port in 3 attempts")

    def _wait_ready(self, timeout: float) -> bool:
        assert self.child is not None
        child = self.child
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not child.running():
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            except OSError:
                time.sleep(0.02)
        raise TimeoutError(f"nginx did not listen within {timeout} s:\n{self.error_log()}")

    def error_log(self) -> str:
        path = self.directory / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def url(self, path: str = "/", tls: bool = False) -> str:
        return f"https://127.0.0.1:{self.tls_port}{path}" if tls else self._plain("http", path)

    def ws_url(self, path: str, tls: bool = False) -> str:
        return f"wss://127.0.0.1:{self.tls_port}{path}" if tls else self._plain("ws", path)

    def _plain(self, scheme: str, path: str) -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop(signal.SIGTERM)


class RedisServer:
    """A throwaway ``redis-server`` on a free loopback port, persisting nothing."""

    def __init__(self, directory: Path) -> None:
        self.binary = require_program("redis-server")
        self.directory = directory
        self.port = 0
        self.child: ChildProcess | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        for _attempt in range(3):
            self.port = free_port()
            args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
            args += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
            self.child = ChildProcess(args, self.directory / "redis.log").start()
            if self._wait_pong(timeout):
                return self
            log = self.child.log()
            self.child.stop()
            if "Address already in use" not in log:
                raise RuntimeError(f"redis-server did not start:\n{log}")
        raise RuntimeError("redis-server found no free port in 3 attempts")

    def _wait_pong(self, timeout: float) -> bool:
        assert self.child is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.child.running():
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        return True
            except OSError:
                pass
            time.sleep(0.02)
        raise TimeoutError(f"redis-server did not answer PING within {timeout} s")

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop(signal.SIGTERM)


def require_loopback_address(address: str) -> None:
    """Skip unless this host can use ``address`` (e.g. 127.0.0.2, loopback on Linux)."""
    try:
        with socket.socket() as sock:
            sock.bind((address, 0))
    except OSError:
        pytest.skip(f"{address} is not a usable loopback address here")


def ws_connect(url: str, **kwargs: Any) -> Any:
    """A ``websockets`` client connection (no proxy from the environment, bounded opening)."""
    from websockets.sync.client import connect

    return connect(url, proxy=None, open_timeout=10, close_timeout=2, **kwargs)


def recv_json(connection: Any, timeout: float = 10.0) -> Any:
    """The next message on a ``websockets`` connection, parsed as JSON (bounded wait)."""
    return json.loads(connection.recv(timeout))
