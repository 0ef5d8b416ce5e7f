"""Turn an endpoint description string into a Twisted server endpoint.

Everything goes through Twisted's ``serverFromString`` (``tcp:``, ``tcp6:``,
``ssl:``, ``unix:``, ``systemd:`` and plugin endpoints) except ``fd:``, which
is built here so that it works even when the ``twisted/plugins`` file was not
installed (editable installs) and for IPv4, IPv6 and unix sockets alike.

Covered by ``tests/unit/test_listen.py``.
"""

from __future__ import annotations

import socket
from typing import Any

from twisted.internet.endpoints import AdoptedStreamServerEndpoint, serverFromString

__all__ = ["server_endpoint", "socket_family"]

_FAMILIES = {"INET": socket.AF_INET, "INET6": socket.AF_INET6, "UNIX": socket.AF_UNIX}


def socket_family(fileno: int) -> int:
    """The address family of the open socket ``fileno`` (the fd stays open)."""
    sock = socket.socket(fileno=fileno)
    try:
        return int(sock.family)
    finally:
        sock.detach()


def _parse_fd_description(description: str) -> tuple[int, int | None]:
    fileno: int | None = None
    family: int | None = None
    for position, item in enumerate(description.split(":")[1:]):
        key, sep, value = item.partition("=")
        if not sep and position == 0:
            key, value = "fileno", key
        if key == "fileno":
            fileno = int(value)
        elif key == "domain":
            try:
                family = _FAMILIES[value.upper()]
            except KeyError:
                raise ValueError(f"unknown fd domain {value!r} (INET, INET6 or UNIX)") from None
        else:
            raise ValueError(f"unknown fd endpoint argument {key!r}")
    if fileno is None:
        raise ValueError("fd endpoint needs fileno=N")
    return fileno, family


class _SharedSocketEndpoint:
    """An adopted listening socket that this process does not own alone.

    Twisted shuts an adopted *unix* listening socket down when it stops
    listening, which breaks every other process still serving on it (their
    accept loop then spins on a hung-up socket), and deletes its path, which
    leaves them unreachable.  Closing our descriptor is all a stopping process
    may do: ``--fd`` sockets and ``systemd:`` sockets alike.
    """

    def __init__(self, endpoint: Any) -> None:
        self._endpoint = endpoint

    def __getattr__(self, name: str) -> Any:
        return getattr(self._endpoint, name)

    def listen(self, factory: Any) -> Any:
        def keep_shared(port: Any) -> Any:
            port._shouldShutdown = False
            if getattr(port, "_bindPath", None) is not None:
                port._bindPath = b"\0"  # "abstract": nothing to unlink on close
            return port

        return self._endpoint.listen(factory).addCallback(keep_shared)


def server_endpoint(reactor: Any, description: str) -> Any:
    """An ``IStreamServerEndpoint`` for ``description``.

    :raises ValueError: for an unknown endpoint type or bad arguments.
    :raises OSError: e.g. a certificate file that does not exist, a bad fd.
    """
    if description.startswith("fd:"):
        fileno, family = _parse_fd_description(description)
        if family is None:
            family = socket_family(fileno)
        return _SharedSocketEndpoint(AdoptedStreamServerEndpoint(reactor, fileno, family))
    endpoint = serverFromString(reactor, description)
    if description.startswith("systemd:"):
        return _SharedSocketEndpoint(endpoint)
    return endpoint
