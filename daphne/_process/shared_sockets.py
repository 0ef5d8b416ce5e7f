"""Listening sockets opened once by the ``--workers`` supervisor, for its workers to inherit.

:func:`open_listeners` binds ``tcp:``, ``tcp6:``, ``ssl:`` and ``unix:``
endpoints with the plain :mod:`socket` module (as Twisted would: address
reuse, backlog 50 unless given) and passes ``fd:`` and ``systemd:`` sockets on;
each :class:`Listener` names the ``fd:`` endpoint a worker serves it with (TLS
options included, as workers do the handshakes).

Covered by ``tests/integration/test_workers.py``.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
from collections.abc import Sequence
from dataclasses import dataclass

from .listen import split_description

__all__ = ["Listener", "UnsupportedEndpoint", "open_listeners"]

_TLS_KEYS = ("privateKey", "certKey", "extraCertChain", "sslmethod", "dhParameters")


class UnsupportedEndpoint(ValueError):
    """An endpoint the supervisor cannot open on the workers' behalf."""


@dataclass
class Listener:
    """A socket the supervisor holds for its workers.

    :ivar description: the endpoint the user asked for.
    :ivar fileno: the descriptor the workers inherit.
    :ivar worker_endpoint: how a worker listens on it (an ``fd:`` string).
    :ivar sock: the socket, when the supervisor opened it (None: inherited).
    :ivar unlink: a unix socket path to remove when the supervisor ends.
    """

    description: str
    fileno: int
    worker_endpoint: str
    sock: socket.socket | None = None
    unlink: str | None = None

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        if self.unlink:
            try:
                os.unlink(self.unlink)
            except OSError:
                pass

    def describe(self) -> str:
        """The "Listening on ..." line for this socket."""
        sock = self.sock or socket.socket(fileno=os.dup(self.fileno))
        try:
            address = sock.getsockname()
            if sock.family == socket.AF_UNIX:
                name = address.decode() if isinstance(address, bytes) else address
                return f"Listening on UNIX socket {name}"
            host, port = address[0], address[1]
            shown = f"[{host}]" if ":" in host else host
            return f"Listening on TCP address {shown}:{port}"
        finally:
            if self.sock is None:
                sock.close()


def _bind_tcp(kind: str, args: list[str], kwargs: dict[str, str]) -> socket.socket:
    port = int(kwargs.get("port", args[0] if args else "0"))
    interface = kwargs.get("interface", "::" if kind == "tcp6" else "")
    family = socket.AF_INET6 if kind == "tcp6" or ":" in interface else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # As Twisted does for its own TCP listeners.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((interface or "0.0.0.0", port))
        sock.listen(int(kwargs.get("backlog", "50")))
    except BaseException:
        sock.close()
        raise
    return sock


def _remove_stale_socket(path: str) -> None:
    """Remove a unix socket file left by an earlier run; refuse one a live server answers on."""
    try:
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            return  # not a socket: bind() fails with "address in use", as it should
    except FileNotFoundError:
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)
            return
    raise OSError(errno.EADDRINUSE, f"another server listens on {path}")


def _bind_unix(args: list[str], kwargs: dict[str, str]) -> tuple[socket.socket, str]:
    path = kwargs.get("address", args[0] if args else "")
    if not path:
        raise UnsupportedEndpoint("unix endpoint without a path")
    _remove_stale_socket(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        if "mode" in kwargs:
            os.chmod(path, int(kwargs["mode"], 8))
        sock.listen(int(kwargs.get("backlog", "50")))
    except BaseException:
        sock.close()
        raise
    return sock, path


def _systemd_fileno(kwargs: dict[str, str]) -> int:
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        raise UnsupportedEndpoint("no sockets passed by systemd (LISTEN_PID is not this process)")
    count = int(os.environ.get("LISTEN_FDS", "0"))
    if "name" in kwargs:
        names = os.environ.get("LISTEN_FDNAMES", "").split(":")
        if kwargs["name"] not in names:
            raise UnsupportedEndpoint(f"systemd passed no socket named {kwargs['name']!r}")
        index = names.index(kwargs["name"])
    else:
        index = int(kwargs.get("index", "0"))
    if not 0 <= index < count:
        raise UnsupportedEndpoint(f"systemd passed {count} sockets, no index {index}")
    return 3 + index  # sd_listen_fds(3): the first passed socket is fd 3


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


def _open_one(description: str) -> Listener:
    kind, args, kwargs = split_description(description)
    if kind in ("tcp", "tcp6", "ssl"):
        sock = _bind_tcp("tcp6" if ":" in kwargs.get("interface", "") else kind, args, kwargs)
        endpoint = f"fd:fileno={sock.fileno()}"
        if kind == "ssl":  # the workers do the TLS handshakes
            tls = {key: kwargs[key] for key in _TLS_KEYS if key in kwargs}
            endpoint += "".join(f":{key}={_escape(value)}" for key, value in tls.items())
        return Listener(description, sock.fileno(), endpoint, sock)
    if kind == "unix":
        sock, path = _bind_unix(args, kwargs)
        return Listener(description, sock.fileno(), f"fd:fileno={sock.fileno()}", sock, path)
    if kind == "fd":
        fileno = int(kwargs.get("fileno", args[0] if args else "-1"))
        os.fstat(fileno)  # OSError (EBADF) now rather than in every worker
        return Listener(description, fileno, description)
    if kind == "systemd":
        fileno = _systemd_fileno(kwargs)
        return Listener(description, fileno, f"fd:fileno={fileno}")
    raise UnsupportedEndpoint(
        f"--workers cannot open endpoint {description!r} for its workers "
        "(tcp:, tcp6:, ssl:, unix:, fd: and systemd: can be shared)"
    )


def open_listeners(descriptions: Sequence[str]) -> list[Listener]:
    """Open every endpoint once, for workers to inherit.

    ``tcp:``, ``tcp6:``, ``unix:`` and ``ssl:`` endpoints are bound here (the
    TLS options travel to the workers, which do the handshakes); ``fd:`` and
    ``systemd:`` sockets are already open and are passed on as they are.

    :raises UnsupportedEndpoint: for any other endpoint type.
    :raises OSError: when a socket cannot be bound.
    """
    listeners: list[Listener] = []
    try:
        for description in descriptions:
            try:
                listeners.append(_open_one(description))
            except OSError as error:
                # Name the address: "Address already in use" alone leaves the user guessing.
                where = _address_text(description)
                raise OSError(error.errno, f"{where}: {error.strerror or error}") from None
    except BaseException:
        for listener in listeners:
            listener.close()
        raise
    return listeners


def _address_text(description: str) -> str:
    """``127.0.0.1:8000``, ``[::1]:8000`` or a socket path, for error messages."""
    kind, args, kwargs = split_description(description)
    if kind in ("unix",) and (args or "address" in kwargs):
        return f"UNIX socket {kwargs.get('address') or args[0]}"
    if kind in ("tcp", "tcp6", "ssl"):
        port = kwargs.get("port") or (args[0] if args else "?")
        host = kwargs.get("interface") or ("::" if kind == "tcp6" else "0.0.0.0")
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return description
