"""WebSockets as Daphne named them: ``WebSocketProtocol`` and ``WebSocketFactory``.

A thin public face: the implementation is :class:`daphne._asgi.ws_stream.WebSocketStream`,
one per WebSocket, over HTTP/1.1 or HTTP/2 alike.  A WebSocket starts as an
HTTP request, so ``WebSocketFactory`` builds the same per-connection protocol
as :class:`~daphne.http_protocol.HTTPFactory`, which hands an upgrade over to a
``WebSocketProtocol``.

Covered by ``tests/compat/test_public_api.py`` and ``tests/compat/test_server_methods.py``.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.protocol import ServerFactory

from ._asgi.ws_stream import WebSocketStream, handshake_problem
from .http_protocol import HTTPFactory

__all__ = ["WebSocketFactory", "WebSocketProtocol", "handshake_problem"]

#: Daphne's name for the class that runs one WebSocket.
WebSocketProtocol = WebSocketStream


class WebSocketFactory(ServerFactory):
    """Builds connections that serve WebSocket upgrades (and plain HTTP) for a running server.

    Takes Daphne's arguments: the :class:`~daphne.server.Server`, then
    autobahn's factory options (``url``, ``server``, ``headers``...), which are
    accepted and ignored: the ``Server`` header comes from ``server_name``.
    ``Server.run()`` makes one as ``server.ws_factory``; its protocols count
    as the server's connections (``--limit-concurrency``, graceful shutdown).

    :ivar server_class: the server (Daphne's name for it).
    """

    protocol = WebSocketProtocol

    def __init__(self, server_class: Any, *args: Any, **kwargs: Any) -> None:
        self.server_class = server_class

    def buildProtocol(self, addr: Any) -> Any:
        """A connection protocol of the running server (RuntimeError before ``run()``)."""
        http_factory: HTTPFactory | None = getattr(self.server_class, "http_factory", None)
        if http_factory is None or http_factory.context is None:
            raise RuntimeError("WebSocketFactory needs a running server: call run() first")
        return http_factory.buildProtocol(addr)
