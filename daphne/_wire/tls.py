"""The ASGI ``tls`` extension: what a TLS connection negotiated, for the scope.

Read once per connection from the pyOpenSSL connection behind Twisted's TLS
transport: TLS version, IANA cipher suite number, the server certificate and
the client's certificate chain (PEM), and the client certificate's subject as
an RFC 4514 string.

Covered by ``tests/unit/test_tls_extension.py`` and ``tests/integration/test_extensions.py``.
"""

from __future__ import annotations

import functools
import logging
import ssl
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from OpenSSL.crypto import X509

logger = logging.getLogger(__name__)

__all__ = ["TLSInfo", "tls_extension"]

#: The ASGI ``tls`` extension of a connection, as it goes into the scope.
TLSInfo = dict[str, object]


@functools.cache
def _cipher_ids() -> dict[str, int]:
    """OpenSSL cipher name → IANA cipher suite number, from the ssl module's table."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.set_ciphers("ALL:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    return {cipher["name"]: cipher["id"] & 0xFFFF for cipher in context.get_ciphers()}


def _pem(certificate: X509) -> str:
    from OpenSSL import crypto

    return crypto.dump_certificate(crypto.FILETYPE_PEM, certificate).decode("ascii")


def tls_extension(transport: object) -> TLSInfo | None:
    """The ``tls`` scope extension for a Twisted TLS transport, or None if not TLS."""
    from OpenSSL import SSL  # loaded already on a TLS connection: not at start-up

    get_handle = getattr(transport, "getHandle", None)
    connection = get_handle() if get_handle is not None else None
    if not isinstance(connection, SSL.Connection):
        return None
    try:
        server_cert = connection.get_certificate()
        # On the server side OpenSSL's "peer chain" leaves out the peer's own certificate.
        peer = connection.get_peer_certificate()
        chain: list[str] = []
        client_name = None
        if peer is not None:
            chain = [_pem(peer)]
            chain += [
                pem for pem in map(_pem, connection.get_peer_cert_chain() or []) if pem != chain[0]
            ]
            client_name = peer.to_cryptography().subject.rfc4514_string()
        cipher = connection.get_cipher_name()
        return {
            "server_cert": _pem(server_cert) if server_cert is not None else None,
            "client_cert_chain": chain,
            "client_cert_name": client_name,
            "client_cert_error": None,
            "tls_version": connection.get_protocol_version() or None,
            "cipher_suite": _cipher_ids().get(cipher) if cipher else None,
        }
    except Exception:  # a TLS library quirk must never break a request
        logger.debug("Could not read the TLS connection details", exc_info=True)
        return None
