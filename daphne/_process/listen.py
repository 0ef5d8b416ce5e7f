"""Turn an endpoint description string into a Twisted server endpoint.

Everything goes through Twisted's ``serverFromString`` (``tcp:``, ``tcp6:``,
``ssl:``, ``unix:``, ``systemd:`` and plugin endpoints) except ``fd:``, which
is built here so that it works even when the ``twisted/plugins`` file was not
installed (editable installs) and for IPv4, IPv6 and unix sockets alike.

Twisted privates used here (each checked by ``tests/unit/test_twisted_privates.py``):
``Port._shouldShutdown`` and ``unix.Port._bindPath`` (:class:`_SharedSocketEndpoint`) and
``SSL4ServerEndpoint._sslContextFactory`` (:func:`_tls_context`).

Covered by ``tests/unit/test_endpoints.py`` (``fd:`` parsing),
``tests/unit/test_twisted_privates.py`` and ``tests/integration/test_workers.py`` (shared sockets).
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Protocol, cast

from twisted.internet.interfaces import IStreamServerEndpoint
from zope.interface import implementer

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IListeningPort, IProtocolFactory, IReactorCore
    from twisted.internet.ssl import CertificateOptions

__all__ = ["FD_TLS_OPTIONS", "server_endpoint", "socket_family", "split_description"]

_FAMILIES = {"INET": socket.AF_INET, "INET6": socket.AF_INET6, "UNIX": socket.AF_UNIX}


def socket_family(fileno: int) -> int:
    """The address family of the open socket ``fileno`` (the fd stays open)."""
    sock = socket.socket(fileno=fileno)
    try:
        return int(sock.family)
    finally:
        sock.detach()


def split_description(description: str) -> tuple[str, list[str], dict[str, str]]:
    """Split a Twisted endpoint string into (type, positional args, keyword args).

    Backslash escapes a colon (``tcp:port=80:interface=\\:\\:1``), as in Twisted.
    """
    parts: list[str] = []
    current: list[str] = []
    chars = iter(description)
    for char in chars:
        if char == "\\":
            current.append(next(chars, ""))
        elif char == ":":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    kind, args, kwargs = parts[0], [], {}
    for part in parts[1:]:
        key, sep, value = part.partition("=")
        if sep:
            kwargs[key] = value
        else:
            args.append(part)
    return kind, args, kwargs


#: TLS options an ``fd:`` endpoint may carry (worker processes serving an ``ssl:`` socket).
FD_TLS_OPTIONS = ("privateKey", "certKey", "extraCertChain", "sslmethod", "dhParameters")


def _parse_fd_description(description: str) -> tuple[int, int | None, dict[str, str]]:
    _, args, kwargs = split_description(description)
    if len(args) > 1:
        raise ValueError(f"unexpected fd endpoint argument {args[1]!r}")
    if args:
        kwargs.setdefault("fileno", args[0])
    family: int | None = None
    tls: dict[str, str] = {}
    for key, value in kwargs.items():
        if key == "domain":
            try:
                family = _FAMILIES[value.upper()]
            except KeyError:
                raise ValueError(f"unknown fd domain {value!r} (INET, INET6 or UNIX)") from None
        elif key in FD_TLS_OPTIONS:
            tls[key] = value
        elif key != "fileno":
            raise ValueError(f"unknown fd endpoint argument {key!r}")
    if "fileno" not in kwargs:
        raise ValueError("fd endpoint needs fileno=N")
    return int(kwargs["fileno"]), family, tls


class _AdoptedPort(Protocol):
    """The private flag of the ``tcp.Port`` (or ``unix.Port``) Twisted adopts a socket with."""

    _shouldShutdown: bool


class _AdoptedUnixPort(_AdoptedPort, Protocol):
    """A ``unix.Port`` also has the private path it unlinks when it stops listening."""

    _bindPath: bytes


@implementer(IStreamServerEndpoint)
class _SharedSocketEndpoint:
    """An adopted listening socket that this process does not own alone.

    Twisted shuts an adopted *unix* listening socket down when it stops
    listening, which breaks every other process still serving on it (their
    accept loop then spins on a hung-up socket), and deletes its path, which
    leaves them unreachable.  Closing our descriptor is all a stopping process
    may do: ``--fd`` sockets and ``systemd:`` sockets alike.
    """

    def __init__(self, endpoint: IStreamServerEndpoint) -> None:
        self._endpoint = endpoint

    def __getattr__(self, name: str) -> object:
        return getattr(self._endpoint, name)

    def listen(self, factory: IProtocolFactory) -> Deferred[IListeningPort]:
        def keep_shared(port: IListeningPort) -> IListeningPort:
            # Twisted privates, with no public equivalent: a port stops listening with
            # ``shutdown()`` on its socket unless ``_shouldShutdown`` is false (Twisted clears
            # it for adopted TCP sockets, not for unix ones), and a unix port unlinks
            # ``_bindPath`` unless it names an abstract socket; ``IReactorSocket.adoptStreamPort``
            # has no option for either.  tests/unit/test_twisted_privates.py checks both.
            cast(_AdoptedPort, port)._shouldShutdown = False
            if getattr(port, "_bindPath", None) is not None:
                # "abstract": nothing to unlink on close
                cast(_AdoptedUnixPort, port)._bindPath = b"\0"
            return port

        return self._endpoint.listen(factory).addCallback(keep_shared)


@implementer(IStreamServerEndpoint)
class _TLSEndpoint:
    """TLS (with ALPN from the factory) on top of another server endpoint."""

    def __init__(
        self, endpoint: IStreamServerEndpoint, context_factory: CertificateOptions
    ) -> None:
        self._endpoint = endpoint
        self._context_factory = context_factory

    def listen(self, factory: IProtocolFactory) -> Deferred[IListeningPort]:
        from twisted.protocols.tls import TLSMemoryBIOFactory

        return self._endpoint.listen(TLSMemoryBIOFactory(self._context_factory, False, factory))


def _tls_context(reactor: IReactorCore, options: dict[str, str]) -> CertificateOptions:
    """The certificate options Twisted's ``ssl:`` endpoint would build from ``options``."""
    text = "ssl:0:" + ":".join(
        "{}={}".format(key, value.replace("\\", "\\\\").replace(":", "\\:"))
        for key, value in options.items()
    )
    # Twisted private: the ``ssl:`` endpoint keeps the CertificateOptions it built in
    # ``_sslContextFactory``.  No public API turns ``ssl:`` options (privateKey, certKey,
    # extraCertChain, sslmethod, dhParameters) into CertificateOptions; rebuilding them here
    # would let an ``fd:`` TLS worker drift from the ``ssl:`` endpoint it stands in for.
    # tests/unit/test_twisted_privates.py checks it.
    from twisted.internet.endpoints import serverFromString

    context_factory: CertificateOptions = serverFromString(reactor, text)._sslContextFactory
    return context_factory


def server_endpoint(reactor: IReactorCore, description: str) -> IStreamServerEndpoint:
    """An ``IStreamServerEndpoint`` for ``description``.

    ``reactor`` must provide the interfaces the endpoint type needs (``IReactorTCP``,
    ``IReactorSSL``, ``IReactorUNIX``, ``IReactorSocket``), as for ``serverFromString``.

    :raises ValueError: for an unknown endpoint type or bad arguments.
    :raises OSError: e.g. a certificate file that does not exist, a bad fd.
    """
    # Imported here, not at the top: the command line reads split_description before the
    # reactor is installed, and endpoints must then be imported as daphne._twisted_tls says.
    from twisted.internet.endpoints import AdoptedStreamServerEndpoint, serverFromString

    if description.startswith("fd:"):
        fileno, family, tls = _parse_fd_description(description)
        if family is None:
            family = socket_family(fileno)
        endpoint = _SharedSocketEndpoint(AdoptedStreamServerEndpoint(reactor, fileno, family))
        if tls:
            return _TLSEndpoint(endpoint, _tls_context(reactor, tls))
        return endpoint
    parsed: IStreamServerEndpoint = serverFromString(reactor, description)
    if description.startswith("systemd:"):
        return _SharedSocketEndpoint(parsed)
    return parsed
