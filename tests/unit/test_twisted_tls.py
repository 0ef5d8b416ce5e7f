"""Twisted started without pyOpenSSL (``daphne._twisted_tls``): nothing lost once TLS is used.

Each test runs in a fresh interpreter: the test process has long imported Twisted
with pyOpenSSL.  The command line's side (no pyOpenSSL in a server that listens
without TLS, pyOpenSSL with an ``ssl:`` listener) is in
``tests/integration/test_cli_process.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from daphne._twisted_tls import needs_tls

pytestmark = pytest.mark.timeout(120)

# Prints, for every Twisted module loaded, each global's kind and identity: classes
# with their MRO and the interfaces they implement, modules by name, None as None.
_SNAPSHOT = """
import json, sys
from zope.interface import implementedBy

def describe(value):
    if value is None:
        return "None"
    if isinstance(value, type):
        mro = [f"{c.__module__}.{c.__qualname__}" for c in value.__mro__]
        provided = sorted(i.__identifier__ for i in implementedBy(value).flattened())
        return f"class {mro} implements {provided}"
    if type(value).__name__ in ("module", "_ModuleProxy"):
        return "module " + value.__name__
    name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    return f"{type(value).__qualname__} {getattr(value, '__module__', None)}.{name}"

print(json.dumps({
    name: {key: describe(value) for key, value in vars(module).items() if not key.startswith("__")}
    for name, module in sorted(sys.modules.items())
    if module is not None and name.startswith("twisted")
}))
"""


def _run(*parts: str) -> str:
    """Run the code of ``parts`` (each dedented) in a fresh interpreter; its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", "\n".join(textwrap.dedent(part) for part in parts)],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(
    "first_tls_import",
    [
        "import OpenSSL",
        "from twisted.internet import ssl",
        "import twisted.protocols.tls",
        "from twisted.internet.ssl import CertificateOptions",
        "import twisted.web.client",
    ],
)
def test_restore_gives_twisted_what_a_normal_import_gives_it(first_tls_import: str) -> None:
    """Hidden import, then a first TLS import: every Twisted module as after a normal import.

    This is the check that pins the Twisted privates ``_restore`` writes: a Twisted
    release that binds one more TLS name, or moves one, fails here.  The first import
    varies: pyOpenSSL alone, or a Twisted module that imports it half-way through its own.
    """
    normal = json.loads(
        _run(
            """
            import twisted.internet.endpoints, twisted.internet.asyncioreactor
            """,
            first_tls_import,
            _SNAPSHOT,
        )
    )
    restored = json.loads(
        _run(
            """
            import sys
            from daphne import _twisted_tls
            assert _twisted_tls.import_twisted_without_tls()
            assert "OpenSSL" not in sys.modules and _twisted_tls.tls_deferred()
            from twisted.internet import tcp, posixbase
            assert posixbase.tls is None and not hasattr(tcp.Server, "startTLS")
            """,
            first_tls_import,  # anyone's first import of pyOpenSSL restores Twisted's TLS
            "assert not _twisted_tls.tls_deferred()",
            _SNAPSHOT,
        )
    )
    differences = []
    for module, names in normal.items():
        if module not in restored:
            differences.append(f"{module}: not loaded after restore")
            continue
        for key, value in names.items():
            if restored[module].get(key) != value:
                differences.append(f"{module}.{key}: {restored[module].get(key)} != {value}")
    assert differences == []


def test_tls_works_in_a_process_started_without_pyopenssl() -> None:
    """listenSSL/ssl: endpoint, connectSSL, wrapClientTLS and startTLS, over 127.0.0.1."""
    output = _run(
        """
        import sys, tempfile, os
        from daphne._reactor import install_asyncio_reactor
        from daphne import _twisted_tls
        install_asyncio_reactor("asyncio", tls=False)
        assert "OpenSSL" not in sys.modules and _twisted_tls.tls_deferred()

        import trustme
        from twisted.internet import defer, endpoints, protocol, reactor, ssl
        assert not _twisted_tls.tls_deferred()

        folder = tempfile.mkdtemp()
        ca = trustme.CA()
        cert = ca.issue_cert("localhost")
        key_path, cert_path = os.path.join(folder, "k.pem"), os.path.join(folder, "c.pem")
        cert.private_key_pem.write_to_path(key_path)
        cert.cert_chain_pems[0].write_to_path(cert_path)
        server_options = ssl.PrivateCertificate.loadPEM(
            cert.cert_chain_pems[0].bytes() + cert.private_key_pem.bytes()
        ).options()
        client_options = ssl.optionsForClientTLS(
            "localhost", trustRoot=ssl.Certificate.loadPEM(ca.cert_pem.bytes())
        )

        class Echo(protocol.Protocol):
            def dataReceived(self, data):
                if data == b"STARTTLS":
                    self.transport.write(b"GO")
                    self.transport.startTLS(server_options)
                else:
                    self.transport.write(data)

        class Client(protocol.Protocol):
            def __init__(self, starttls=False):
                self.starttls, self.got = starttls, defer.Deferred()
            def connectionMade(self):
                self.transport.write(b"STARTTLS" if self.starttls else b"ping")
            def dataReceived(self, data):
                if data == b"GO":
                    self.transport.startTLS(client_options)
                    self.transport.write(b"secret")
                else:
                    self.got.callback(data)
                    self.transport.loseConnection()

        async def main():
            results = []
            tls_port = await endpoints.serverFromString(
                reactor,
                f"ssl:0:interface=127.0.0.1:privateKey={key_path}:certKey={cert_path}",
            ).listen(protocol.Factory.forProtocol(Echo))
            port = tls_port.getHost().port
            # wrapClientTLS over a TCP endpoint
            client = Client()
            await endpoints.wrapClientTLS(
                client_options, endpoints.TCP4ClientEndpoint(reactor, "localhost", port)
            ).connect(protocol.Factory.forProtocol(lambda: client))
            results.append(await client.got)
            # reactor.connectSSL
            client = Client()
            factory = protocol.ClientFactory.forProtocol(lambda: client)
            reactor.connectSSL("localhost", port, factory, client_options)
            results.append(await client.got)
            # startTLS on a plain TCP connection, both ends
            plain_port = reactor.listenTCP(0, protocol.Factory.forProtocol(Echo), interface="127.0.0.1")
            client = Client(starttls=True)
            factory = protocol.ClientFactory.forProtocol(lambda: client)
            reactor.connectTCP("localhost", plain_port.getHost().port, factory)
            results.append(await client.got)
            print(results)

        def run():
            done = defer.ensureDeferred(main())
            done.addErrback(lambda failure: (print(failure.getTraceback()), None))
            done.addBoth(lambda _: reactor.stop())

        reactor.callWhenRunning(run)
        reactor.callLater(30, reactor.stop)
        reactor.run()
        """
    )
    assert output.strip() == "[b'ping', b'ping', b'secret']", output


@pytest.mark.parametrize(
    ("descriptions", "expected"),
    [
        (["tcp:port=8000:interface=127.0.0.1"], False),
        (["tcp6:port=8000:interface=\\:\\:1", "unix:/run/d.sock"], False),
        (["fd:fileno=3", "systemd:domain=INET:index=0"], False),
        (["tcp:8000", "ssl:443:privateKey=k.pem:certKey=c.pem"], True),
        (["fd:fileno=3:domain=INET:privateKey=k.pem:certKey=c.pem"], True),
        (["le:/certs:tcp:443"], True),  # a plugin's endpoint: may need TLS
        ([], False),
    ],
)
def test_needs_tls(descriptions: list[str], expected: bool) -> None:
    assert needs_tls(descriptions) is expected


def test_nothing_is_hidden_once_twisted_or_pyopenssl_is_loaded() -> None:
    _run(
        """
        import OpenSSL, sys
        from daphne import _twisted_tls
        assert not _twisted_tls.import_twisted_without_tls()
        assert not _twisted_tls.tls_deferred() and sys.modules["OpenSSL"] is OpenSSL
        """
    )
