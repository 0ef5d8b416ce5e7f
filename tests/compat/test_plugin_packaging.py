"""The fd: endpoint plugin is packaged as twisted/plugins/fd_endpoint.py and loads."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest

# slow: builds a wheel and installs it (`pytest -m "not slow"` leaves it out).
pytestmark = pytest.mark.slow

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), REPO],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {result.stderr.strip()[-300:]}")
    (name,) = [n for n in os.listdir(out) if n.endswith(".whl")]
    return str(out / name)


def test_wheel_contains_plugin_but_no_twisted_package_init(wheel: str) -> None:
    """The plugin is installed into Twisted's plugin folder without shadowing twisted itself."""
    names = zipfile.ZipFile(wheel).namelist()
    assert "twisted/plugins/fd_endpoint.py" in names
    assert "twisted/__init__.py" not in names
    assert "twisted/plugins/__init__.py" not in names
    assert "daphne/cli.py" in names


def test_plugin_is_found_and_adopts_sockets(wheel: str, tmp_path) -> None:
    """With the wheel's files importable, Twisted finds the 'fd' prefix and it detects the family."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = f"""
import socket, sys
import twisted.plugins
twisted.plugins.__path__.append({str(site / "twisted" / "plugins")!r})
from twisted.plugin import getPlugins
from twisted.internet.interfaces import IStreamServerEndpointStringParser
from twisted.internet import reactor
from twisted.internet.endpoints import serverFromString
prefixes = [p.prefix for p in getPlugins(IStreamServerEndpointStringParser)]
assert "fd" in prefixes, prefixes
sock = socket.socket(socket.AF_UNIX)
endpoint = serverFromString(reactor, "fd:fileno=%d" % sock.fileno())
assert endpoint.addressFamily == socket.AF_UNIX, endpoint.addressFamily
endpoint = serverFromString(reactor, "fd:fileno=%d:domain=INET" % sock.fileno())
assert endpoint.addressFamily == socket.AF_INET
"""
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0, result.stderr
