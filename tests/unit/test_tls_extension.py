"""The ``tls`` scope extension read from a real (in-memory) pyOpenSSL handshake."""

from __future__ import annotations

import trustme
from cryptography import x509
from OpenSSL import SSL

from daphne._wire.tls import tls_extension


class Transport:
    def __init__(self, connection) -> None:
        self.connection = connection

    def getHandle(self):
        return self.connection


def handshake(ca: trustme.CA, server_cert, client_cert=None):
    server_context = SSL.Context(SSL.TLS_METHOD)
    server_cert.configure_cert(server_context)
    if client_cert is not None:
        ca.configure_trust(server_context)
        server_context.set_verify(SSL.VERIFY_PEER, lambda *args: True)
    client_context = SSL.Context(SSL.TLS_METHOD)
    ca.configure_trust(client_context)
    if client_cert is not None:
        client_cert.configure_cert(client_context)
    server = SSL.Connection(server_context, None)
    server.set_accept_state()
    client = SSL.Connection(client_context, None)
    client.set_connect_state()
    for _ in range(20):
        for this, other in ((client, server), (server, client)):
            try:
                this.do_handshake()
            except SSL.WantReadError:
                pass
            try:
                other.bio_write(this.bio_read(65536))
            except SSL.WantReadError:
                pass
    # TLS 1.3 sends the client certificate with the client's Finished message.
    try:
        server.recv(1)
    except SSL.WantReadError:
        pass
    return server, client


def test_server_side_details() -> None:
    ca = trustme.CA()
    server_cert = ca.issue_cert("server.test")
    server, client = handshake(ca, server_cert)
    tls = tls_extension(Transport(server))
    assert tls is not None
    assert tls["server_cert"] == server_cert.cert_chain_pems[0].bytes().decode()
    assert tls["tls_version"] == client.get_protocol_version() == 0x0304
    assert tls["cipher_suite"] in (0x1301, 0x1302, 0x1303)
    assert tls["client_cert_chain"] == []
    assert tls["client_cert_name"] is None
    assert tls["client_cert_error"] is None


def test_client_certificate_chain_and_name() -> None:
    ca = trustme.CA()
    client_cert = ca.issue_cert("client.test", common_name="Alice Client")
    server, _ = handshake(ca, ca.issue_cert("server.test"), client_cert)
    tls = tls_extension(Transport(server))
    assert tls["client_cert_chain"][0] == client_cert.cert_chain_pems[0].bytes().decode()
    leaf = x509.load_pem_x509_certificate(tls["client_cert_chain"][0].encode())
    assert tls["client_cert_name"] == leaf.subject.rfc4514_string()
    assert tls["client_cert_name"].startswith("CN=Alice Client,")


def test_not_tls() -> None:
    assert tls_extension(object()) is None
    assert tls_extension(Transport(None)) is None
