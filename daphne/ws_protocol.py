"""WebSockets as Daphne named them: ``WebSocketProtocol`` and ``WebSocketFactory``.

A thin public face: the implementation is :class:`daphne._asgi.ws_stream.WebSocketStream`,
one per WebSocket, over HTTP/1.1 or HTTP/2 alike.  A WebSocket starts as an
HTTP request, so ``WebSocketFactory`` builds the same per-connection protocol
as :class:`~daphne.http_protocol.HTTPFactory`, which hands an upgrade over to a
``WebSocketProtocol``.

Covered by ``tests/compat/test_public_api.py`` and ``tests/compat/test_server_methods.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import ServerFactory

from ._asgi.ws_stream import WebSocketStream, handshake_problem
from .http_protocol import HTTPFactory

if TYPE_CHECKING:
    from ._wire.http1 import HTTP1Connection
    from .server import Server

__all__ = ["WebSocketFactory", "WebSocketProtocol", "handshake_problem"]

#: Daphne's name for the class that runs one WebSocket.
WebSocketProtocol = WebSocketStream


class WebSocketFactory(ServerFactory["HTTP1Connection"]):
    """Builds connections that serve WebSocket upgrades (and plain HTTP) for a running server.

    Takes Daphne's arguments: the :class:`~daphne.server.Server`, then
    autobahn's factory options (``url``, ``server``, ``headers``...), which are
    accepted and ignored: the ``Server`` header comes from ``server_name``.
    ``Server.run()`` makes one as ``server.ws_factory``; its protocols count
    as the server's connections (``--limit-concurrency``, graceful shutdown).

    :ivar server_class: the server (Daphne's name for it).
    """

    #: Daphne's attribute: the class that runs each WebSocket.  ``buildProtocol`` does not
    #: call it: it builds the HTTP connection, which hands an upgrade over to one.
    protocol = WebSocketProtocol  # type: ignore[assignment]  # not a connection (see above)

    def __init__(self, server_class: Server, *args: object, **kwargs: object) -> None:
        # ``*args``/``**kwargs``: autobahn's factory options, accepted and ignored (see above).
        self.server_class = server_class

    def buildProtocol(self, addr: IAddress | None) -> HTTP1Connection:
        """A connection protocol of the running server (RuntimeError before ``run()``)."""
        http_factory: HTTPFactory | None = getattr(self.server_class, "http_factory", None)
        if http_factory is None or http_factory.context is None:
            raise RuntimeError("WebSocketFactory needs a running server: call run() first")
        return http_factory.buildProtocol(addr)
