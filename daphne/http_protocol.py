"""HTTP/1.x as Daphne named it: ``WebRequest``, ``HTTPFactory`` and the error-page helpers.

A thin public face.  ``HTTPFactory`` builds one
:class:`~daphne._wire.http1.HTTP1Connection` per client connection (which switches to
HTTP/2 or WebSocket when asked); ``WebRequest`` is the HTTP/1.x wire of one
request (:mod:`daphne._wire.http1_wire`); every ASGI decision is made by
:class:`~daphne._asgi.http_stream.HTTPStream`, the same for every protocol.

Covered by ``tests/compat/test_public_api.py`` and ``tests/unit/test_http1.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet.interfaces import IAddress, IProtocolNegotiationFactory
from twisted.internet.protocol import ServerFactory
from zope.interface import implementer

from ._asgi.responses import error_page, status_line
from ._wire.http1 import HTTP1Connection
from ._wire.http1_wire import WebRequest, error_response

if TYPE_CHECKING:
    from ._context import ServerContext
    from .server import Server

__all__ = ["HTTPFactory", "WebRequest", "error_page", "error_response", "status_line"]


@implementer(IProtocolNegotiationFactory)
class HTTPFactory(ServerFactory[HTTP1Connection]):
    """Builds one protocol per connection on every endpoint of a server.

    :ivar server: the :class:`daphne.server.Server` (kept for compatibility).
    :ivar context: the :class:`ServerContext` handed to every connection.
    """

    protocol: Callable[[ServerContext], HTTP1Connection]

    def __init__(self, server: Server | None, context: ServerContext | None = None) -> None:
        self.server = server
        self.context = context
        self.protocol = HTTP1Connection
        #: Open connections (for a graceful shutdown and ``--limit-concurrency``).
        self.connections: set[HTTP1Connection] = (
            context.connections if context is not None else set()
        )

    def buildProtocol(self, addr: IAddress | None) -> HTTP1Connection:
        if self.context is None:
            raise RuntimeError("HTTPFactory needs a ServerContext to build connections")
        protocol = self.protocol(self.context)
        protocol.factory = self
        return protocol

    def acceptableProtocols(self) -> list[bytes]:
        """ALPN protocols offered on TLS endpoints."""
        return [b"h2", b"http/1.1"]

    def log_action(
        self,
        protocol: str,
        action: str,
        details: dict[str, Any],  # Any: free-form access-log details (see ActionLogger)
    ) -> None:
        """Daphne compatibility: forward to the server's action logger."""
        if self.context is not None:
            self.context.log_action(protocol, action, details)
