"""WebSockets as Daphne named them: ``WebSocketProtocol`` and ``WebSocketFactory``.

A thin public face: the implementation is :class:`daphne._asgi.ws_stream.WebSocketStream`,
one per WebSocket, over HTTP/1.1 or HTTP/2 alike.

Covered by ``tests/compat/test_public_api.py``.
"""

from __future__ import annotations

from typing import Any

from ._asgi.ws_stream import WebSocketStream, handshake_problem

__all__ = ["WebSocketFactory", "WebSocketProtocol", "handshake_problem"]

#: Daphne's name for the class that runs one WebSocket.
WebSocketProtocol = WebSocketStream


class WebSocketFactory:
    """Daphne compatibility: WebSocket connections are built by the HTTP layer.

    :ivar server: the :class:`daphne.server.Server`.
    """

    protocol = WebSocketProtocol

    def __init__(self, server: Any, *args: Any, **kwargs: Any) -> None:
        self.server = server
