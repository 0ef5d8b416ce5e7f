"""The private attributes of Twisted that daphne relies on, checked on real objects.

Each use has a comment at its site saying why no public API serves.  These tests build the
object the way daphne does and check both that the attribute is there and that it has the
effect daphne relies on, so that a Twisted release that renames or changes one fails here,
loudly and by name, instead of breaking workers or ``--threads`` silently:

* ``tcp.Port._shouldShutdown`` and ``unix.Port._bindPath`` (``daphne/_process/listen.py``,
  ``_SharedSocketEndpoint``): a worker that stops listening on a shared socket must neither
  shut it down nor unlink its path;
* ``SSL4ServerEndpoint._sslContextFactory`` (``listen.py``, ``_tls_context``): the
  ``CertificateOptions`` an ``ssl:`` description builds, reused for ``fd:`` TLS endpoints;
* ``AsyncioSelectorReactor._asyncioEventloop`` (``daphne/_reactor.py``, ``_loop_of``, and
  ``daphne/_asyncio_reactor.py``): the asyncio loop the reactor runs on;
* ``AsyncioSelectorReactor._readers``, ``_writers``, ``_continuousPolling`` and
  ``_unregisterFDInAsyncio``, and ``PosixReactorBase._disconnectSelectable``
  (``daphne/_asyncio_reactor.py``, ``DaphneReactor``): the bookkeeping that ``addReader`` and
  ``addWriter`` keep for the inherited ``removeReader``/``removeWriter``/``removeAll``, the
  polling fallback for descriptors the loop refuses, and the disconnection of a failed
  selectable.

The upper bound on Twisted in ``setup.cfg`` is raised only once these pass on the new release.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import twisted
from twisted.internet.asyncioreactor import AsyncioSelectorReactor
from twisted.internet.endpoints import AdoptedStreamServerEndpoint, serverFromString
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import (
    IHalfCloseableDescriptor,
    IListeningPort,
    IReadWriteDescriptor,
    IStreamServerEndpoint,
)
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.ssl import CertificateOptions
from twisted.python.failure import Failure
from zope.interface import implementer

from daphne._process.listen import _tls_context, server_endpoint
from daphne._reactor import _loop_of

TWISTED = f"Twisted {twisted.__version__}"

needs_unix = pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no unix sockets")


def private_missing(owner: str, attribute: str, where: str) -> str:
    return (
        f"{TWISTED}: {owner} has no {attribute!r} any more; daphne relies on it in {where}. "
        "Find the new way, fix that code, then raise the Twisted bound in setup.cfg."
    )


@pytest.fixture
def reactor() -> Iterator[AsyncioSelectorReactor]:
    """A reactor made as ``asyncioreactor.install(loop)`` makes it, but not installed."""
    loop = asyncio.new_event_loop()
    made = AsyncioSelectorReactor(loop)
    yield made
    made.removeAll()
    made.waker.connectionLost(None)  # PosixReactorBase's waker pipe
    loop.close()


@pytest.fixture
def as_global_reactor(
    reactor: AsyncioSelectorReactor, monkeypatch: pytest.MonkeyPatch
) -> AsyncioSelectorReactor:
    """``reactor``, seen as ``twisted.internet.reactor`` while none is installed.

    Twisted's polling fallback makes a ``LoopingCall``, which imports the global reactor:
    with none installed that would install the default one for the rest of the session.
    """
    import twisted.internet

    if "twisted.internet.reactor" not in sys.modules:
        monkeypatch.setitem(sys.modules, "twisted.internet.reactor", reactor)
        monkeypatch.setattr(twisted.internet, "reactor", reactor, raising=False)
    return reactor


def turn(reactor: AsyncioSelectorReactor, times: int = 5) -> None:
    """Run the reactor's pending calls (stopListening finishes in a callLater(0))."""
    for _ in range(times):
        reactor.iterate(0)


def listening_port(
    endpoint: IStreamServerEndpoint, reactor: AsyncioSelectorReactor
) -> IListeningPort:
    ports: list[IListeningPort] = []
    endpoint.listen(Factory.forProtocol(Protocol)).addCallback(ports.append)
    turn(reactor, 1)
    assert ports, "the endpoint did not listen"
    return ports[0]


@pytest.fixture
def unix_listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A listening unix socket, as the supervisor holds one for its workers."""
    path = str(tmp_path / "shared.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(8)
    yield sock, path
    sock.close()


def still_accepts(sock: socket.socket, path: str) -> bool:
    """Whether another holder of ``sock`` can still accept a connection on ``path``."""
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.settimeout(2)
        client.connect(path)
        sock.settimeout(2)
        accepted, _ = sock.accept()
        accepted.close()
        return True
    except OSError:
        return False
    finally:
        client.close()


@needs_unix
@pytest.mark.skipif(sys.platform == "win32", reason="posix reactor only")
def test_plain_adopted_unix_port_shuts_down_and_unlinks(
    reactor: AsyncioSelectorReactor, unix_listener: tuple[socket.socket, str]
) -> None:
    """Why the privates are needed: left alone, Twisted breaks the socket for everyone."""
    sock, path = unix_listener
    plain = AdoptedStreamServerEndpoint(reactor, os.dup(sock.fileno()), socket.AF_UNIX)
    port = listening_port(plain, reactor)
    assert getattr(port, "_shouldShutdown", None) is True, private_missing(
        type(port).__qualname__, "_shouldShutdown", "daphne/_process/listen.py"
    )
    assert isinstance(getattr(port, "_bindPath", None), bytes), private_missing(
        type(port).__qualname__, "_bindPath", "daphne/_process/listen.py"
    )
    port.stopListening()
    turn(reactor)
    # If these fail, Twisted stopped shutting adopted unix sockets down or unlinking their
    # path: _SharedSocketEndpoint's workaround may no longer be needed.
    assert not os.path.exists(path), f"{TWISTED} no longer unlinks an adopted unix socket's path"
    assert not still_accepts(sock, path), f"{TWISTED} no longer shuts an adopted socket down"


@needs_unix
@pytest.mark.skipif(sys.platform == "win32", reason="posix reactor only")
def test_shared_unix_socket_survives_a_stopping_worker(
    reactor: AsyncioSelectorReactor, unix_listener: tuple[socket.socket, str]
) -> None:
    """``_shouldShutdown = False`` and ``_bindPath = b"\\0"``: the socket and its path stay."""
    sock, path = unix_listener
    endpoint = server_endpoint(reactor, f"fd:fileno={os.dup(sock.fileno())}:domain=UNIX")
    port = listening_port(endpoint, reactor)
    assert port._shouldShutdown is False, "_SharedSocketEndpoint did not clear _shouldShutdown"
    assert port._bindPath == b"\0", "_SharedSocketEndpoint did not replace _bindPath"
    port.stopListening()
    turn(reactor)
    assert os.path.exists(path), (
        f"{TWISTED}: setting unix.Port._bindPath no longer keeps the socket's path "
        "(daphne/_process/listen.py, _SharedSocketEndpoint)"
    )
    assert still_accepts(sock, path), (
        f"{TWISTED}: clearing Port._shouldShutdown no longer keeps a shared socket usable "
        "(daphne/_process/listen.py, _SharedSocketEndpoint)"
    )


@pytest.mark.skipif(sys.platform == "win32", reason="posix reactor only")
def test_shared_tcp_socket_survives_a_stopping_worker(reactor: AsyncioSelectorReactor) -> None:
    """The same for TCP (Twisted clears ``_shouldShutdown`` itself there; we do too)."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        endpoint = server_endpoint(reactor, f"fd:fileno={os.dup(sock.fileno())}:domain=INET")
        port = listening_port(endpoint, reactor)
        port.stopListening()
        turn(reactor)
        try:
            with socket.create_connection(sock.getsockname(), timeout=2):
                sock.settimeout(2)
                sock.accept()[0].close()
        except OSError as error:
            pytest.fail(
                f"{TWISTED}: a shared TCP socket no longer accepts after a worker stopped "
                f"listening on it ({error}; daphne/_process/listen.py, _SharedSocketEndpoint)"
            )


# Twisted's CertificateOptions hands pyOpenSSL objects to pyOpenSSL, which now deprecates that.
@pytest.mark.filterwarnings("ignore:Passing pyOpenSSL:DeprecationWarning")
def test_ssl_endpoint_keeps_its_certificate_options(
    reactor: AsyncioSelectorReactor, tmp_path: Path
) -> None:
    """``_sslContextFactory``: the CertificateOptions built from the ``ssl:`` options,
    serving the certificate the options name."""
    trustme = pytest.importorskip("trustme")
    from cryptography import x509
    from OpenSSL import SSL

    ca = trustme.CA()
    issued = ca.issue_cert("localhost")
    key_path, cert_path = tmp_path / "key.pem", tmp_path / "cert.pem"
    issued.private_key_pem.write_to_path(str(key_path))
    issued.cert_chain_pems[0].write_to_path(str(cert_path))

    endpoint = serverFromString(reactor, f"ssl:0:privateKey={key_path}:certKey={cert_path}")
    assert hasattr(endpoint, "_sslContextFactory"), private_missing(
        type(endpoint).__qualname__, "_sslContextFactory", "daphne/_process/listen.py _tls_context"
    )
    options = _tls_context(reactor, {"privateKey": str(key_path), "certKey": str(cert_path)})
    assert isinstance(options, CertificateOptions), (
        f"{TWISTED}: the ssl: endpoint's _sslContextFactory is a {type(options).__qualname__}, "
        "not CertificateOptions (daphne/_process/listen.py, _tls_context)"
    )
    served = SSL.Connection(options.getContext(), None).get_certificate()
    assert served is not None, f"{TWISTED}: _sslContextFactory's context has no certificate"
    expected = x509.load_pem_x509_certificate(issued.cert_chain_pems[0].bytes())
    assert served.to_cryptography() == expected, (
        f"{TWISTED}: _sslContextFactory does not serve the certKey certificate "
        "(daphne/_process/listen.py, _tls_context)"
    )


def test_asyncio_reactor_keeps_its_loop() -> None:
    """``_asyncioEventloop``: the loop given to the reactor, the one its calls run on."""
    loop = asyncio.new_event_loop()
    try:
        made = AsyncioSelectorReactor(loop)
        assert hasattr(made, "_asyncioEventloop"), private_missing(
            "AsyncioSelectorReactor", "_asyncioEventloop", "daphne/_reactor.py _loop_of"
        )
        assert _loop_of(made) is loop, (
            f"{TWISTED}: AsyncioSelectorReactor._asyncioEventloop is not the loop it was "
            "given (daphne/_reactor.py, _loop_of)"
        )
        ran_on: list[asyncio.AbstractEventLoop] = []
        made.callLater(0, lambda: ran_on.append(asyncio.get_running_loop()))
        made.iterate(0)
        assert ran_on == [loop], (
            f"{TWISTED}: the asyncio reactor's calls do not run on _asyncioEventloop "
            "(daphne/_reactor.py, _loop_of)"
        )
        made.removeAll()
        made.waker.connectionLost(None)  # PosixReactorBase's waker pipe
    finally:
        loop.close()


# -- DaphneReactor (daphne/_asyncio_reactor.py) ----------------------------------------------

REACTOR_WHERE = "daphne/_asyncio_reactor.py DaphneReactor"


@implementer(IReadWriteDescriptor)
class Selectable:
    """The least a reactor needs of a reader/writer."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.lost: list[Failure] = []

    def fileno(self) -> int:
        return self.fd

    def logPrefix(self) -> str:
        return "Selectable"

    def doRead(self) -> None:
        pass

    def doWrite(self) -> None:
        pass

    def connectionLost(self, reason: Failure) -> None:
        self.lost.append(reason)


@implementer(IHalfCloseableDescriptor)
class HalfCloseable(Selectable):
    def __init__(self, fd: int) -> None:
        super().__init__(fd)
        self.read_lost: list[Failure] = []

    def readConnectionLost(self, reason: Failure) -> None:
        self.read_lost.append(reason)

    def writeConnectionLost(self, reason: Failure) -> None:  # pragma: no cover - not called
        pass


@pytest.mark.skipif(sys.platform == "win32", reason="posix reactor only")
def test_asyncio_reactor_records_selectables_by_descriptor(
    reactor: AsyncioSelectorReactor,
) -> None:
    """``_readers``/``_writers``: selectable -> fd, what Twisted's add* record and its remove*
    read (DaphneReactor records its own registrations there for the inherited remove*)."""
    for attribute in ("_readers", "_writers"):
        assert isinstance(getattr(reactor, attribute, None), dict), private_missing(
            "AsyncioSelectorReactor", attribute, REACTOR_WHERE
        )
    ours, peer = socket.socketpair()
    with ours, peer:
        selectable = Selectable(ours.fileno())
        reactor.addReader(selectable)
        reactor.addWriter(selectable)
        assert reactor._readers.get(selectable) == ours.fileno(), (
            f"{TWISTED}: AsyncioSelectorReactor._readers no longer maps a reader to its fd "
            f"({REACTOR_WHERE})"
        )
        assert reactor._writers.get(selectable) == ours.fileno(), (
            f"{TWISTED}: AsyncioSelectorReactor._writers no longer maps a writer to its fd "
            f"({REACTOR_WHERE})"
        )
        # What the inherited removal does with an entry recorded there: forget it and stop
        # watching its descriptor, even once fileno() answers -1.
        selectable.fd = -1
        reactor.removeReader(selectable)
        reactor.removeWriter(selectable)
        assert selectable not in reactor._readers and selectable not in reactor._writers
        loop = _loop_of(reactor)
        assert not loop.remove_reader(ours.fileno()) and not loop.remove_writer(ours.fileno()), (
            f"{TWISTED}: removeReader/removeWriter no longer unregister the fd recorded in "
            f"_readers/_writers ({REACTOR_WHERE})"
        )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="epoll refuses regular files")
def test_asyncio_reactor_polls_what_the_loop_refuses(
    as_global_reactor: AsyncioSelectorReactor, tmp_path: Path
) -> None:
    """``_continuousPolling`` (with ``isReading``/``isWriting``/``addReader``/``addWriter``)
    and ``_unregisterFDInAsyncio``: where Twisted puts a regular file, and how it undoes the
    loop's half-done registration."""
    reactor = as_global_reactor
    polling = getattr(reactor, "_continuousPolling", None)
    assert polling is not None, private_missing(
        "AsyncioSelectorReactor", "_continuousPolling", REACTOR_WHERE
    )
    for method in ("isReading", "isWriting", "addReader", "addWriter"):
        assert callable(getattr(polling, method, None)), private_missing(
            type(polling).__qualname__, method, REACTOR_WHERE
        )
    assert callable(getattr(reactor, "_unregisterFDInAsyncio", None)), private_missing(
        "AsyncioSelectorReactor", "_unregisterFDInAsyncio", REACTOR_WHERE
    )
    loop = _loop_of(reactor)
    with open(tmp_path / "file", "wb") as file:
        with pytest.raises(PermissionError):
            loop.add_reader(file.fileno(), lambda: None)
        reactor._unregisterFDInAsyncio(file.fileno())
        assert not loop.remove_reader(file.fileno()), (
            f"{TWISTED}: _unregisterFDInAsyncio no longer undoes a refused registration "
            f"({REACTOR_WHERE})"
        )
        selectable = Selectable(file.fileno())
        reactor.addReader(selectable)
        reactor.addWriter(selectable)
        assert polling.isReading(selectable) and polling.isWriting(selectable), (
            f"{TWISTED}: a regular file is no longer polled by _continuousPolling ({REACTOR_WHERE})"
        )
        assert selectable in reactor.getReaders() and selectable in reactor.getWriters()
        reactor.removeReader(selectable)
        reactor.removeWriter(selectable)
        assert not polling.isReading(selectable) and not polling.isWriting(selectable)


@pytest.mark.skipif(sys.platform == "win32", reason="posix reactor only")
def test_asyncio_reactor_disconnects_a_failed_selectable(
    reactor: AsyncioSelectorReactor,
) -> None:
    """``_disconnectSelectable(selectable, why, isRead)``: stop watching it and tell it why
    (``readConnectionLost`` for a clean end of input on a half-closeable reader)."""
    assert callable(getattr(reactor, "_disconnectSelectable", None)), private_missing(
        "AsyncioSelectorReactor", "_disconnectSelectable", REACTOR_WHERE
    )
    ours, peer = socket.socketpair()
    with ours, peer:
        failed = Selectable(ours.fileno())
        reactor.addReader(failed)
        reactor.addWriter(failed)
        reactor._disconnectSelectable(failed, ValueError("why"), False)
        assert failed not in reactor.getReaders() and failed not in reactor.getWriters()
        assert len(failed.lost) == 1 and failed.lost[0].check(ValueError), (
            f"{TWISTED}: _disconnectSelectable no longer calls connectionLost with the reason "
            f"({REACTOR_WHERE})"
        )
        half = HalfCloseable(ours.fileno())
        reactor.addReader(half)
        reactor.addWriter(half)
        reactor._disconnectSelectable(half, ConnectionDone(), True)
        assert half not in reactor.getReaders() and half in reactor.getWriters()
        assert half.lost == [] and len(half.read_lost) == 1, (
            f"{TWISTED}: _disconnectSelectable no longer half-closes a half-closeable reader "
            f"({REACTOR_WHERE})"
        )
        reactor.removeWriter(half)
