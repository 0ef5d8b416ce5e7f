"""The daphne command fixes glibc malloc's thresholds (``daphne/_process/malloc.py``).

Measured as a client sees it: a real server takes 64 KiB uploads on keep-alive
connections, and the kernel's count of the server's page faults must stay flat.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from processes import DaphneCommand

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

glibc_only = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
    reason="glibc's malloc only",
)

BODY = b"a" * 65536
REQUEST = (
    b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\n"
    b"Content-Length: 65536\r\n\r\n" + BODY
)


def minor_faults(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as handle:
        return int(handle.read().rsplit(")", 1)[1].split()[7])


def upload(connections: list[socket.socket], rounds: int) -> None:
    """``rounds`` uploads on each connection, all connections in flight together."""
    for _ in range(rounds):
        for sock in connections:
            sock.sendall(REQUEST)
        for sock in connections:
            received = b""
            while not received.endswith(BODY):
                chunk = sock.recv(262144)
                assert chunk, "the server closed the connection"
                received += chunk


def faults_per_upload(env: dict[str, str] | None = None) -> float:
    with DaphneCommand(["-p", "0", "apps.functional:app"], env=env) as daphne:
        assert daphne.process is not None and daphne.port is not None
        connections = [socket.create_connection(("127.0.0.1", daphne.port)) for _ in range(8)]
        try:
            upload(connections, 20)  # warm-up: the heap reaches its working size
            before = minor_faults(daphne.process.pid)
            upload(connections, 60)
            return (minor_faults(daphne.process.pid) - before) / (8 * 60)
        finally:
            for sock in connections:
                sock.close()


@glibc_only
def test_uploads_do_not_fault_the_heap_back_in() -> None:
    assert faults_per_upload() < 0.2


@glibc_only
def test_the_environment_s_malloc_settings_win() -> None:
    """With ``MALLOC_TRIM_THRESHOLD_`` set (here to glibc's default), daphne leaves malloc be."""
    code = "from daphne._process.malloc import tune_malloc; print(tune_malloc())"
    for env, expected in (({}, "True"), ({"MALLOC_TRIM_THRESHOLD_": "131072"}, "False")):
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            timeout=60,
            check=True,
        )
        assert done.stdout.strip() == expected
