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
* ``AsyncioSelectorReactor._asyncioEventloop`` (``daphne/_reactor.py``, ``_loop_of``): the
  asyncio loop the reactor runs on.

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
from twisted.internet.interfaces import IListeningPort, IStreamServerEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.ssl import CertificateOptions

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
