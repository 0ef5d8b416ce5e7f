"""A server whose extra listener speaks a line protocol written against Daphne 4.2's Server API.

Run as ``python -m apps.legacy_protocol`` (from ``tests/``).  It starts a
``Server`` on loopback and, once ready, listens twice more with Twisted
directly: once with :class:`LineFactory`, whose protocol uses
``protocol_connected``, ``create_application``, ``handle_reply`` and
``protocol_disconnected`` as a Daphne-era protocol did, and once with
``server.ws_factory``.  It prints one line, ``PORTS <line> <ws> <checkers>``
where ``<checkers>`` tells whether calling ``application_checker`` and
``timeout_checker`` scheduled any reactor call.

The line protocol: the client sends ``<mode> <path>\\n``; the app answers
with ``http.response.start`` and ``http.response.body``; the protocol writes
``status <code>``, then ``body <bytes>`` and closes.  Modes pick the app's
behaviour: ``ok`` (also what a plain HTTP request gets; a WebSocket is
accepted), ``strheaders`` (a str header value), ``raise`` (an
exception before answering) and ``wait`` (waits for the disconnect and
records it in the file named by the ``DISCONNECTS`` environment variable,
where a reply reaching the protocol after its disconnect is recorded too).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from twisted.internet.protocol import Factory
from twisted.protocols.basic import LineReceiver

from daphne.server import Server


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        return
    mode = scope.get("mode", "ok")
    await receive()
    if mode == "raise":
        raise RuntimeError("legacy app failed")
    if mode == "wait":
        message = await receive()
        # Dropped: the protocol is gone (a call to its handle_reply is recorded first).
        await send({"type": "http.response.start", "status": 200, "headers": []})
        record(f"{message['type']} {scope['asgi']['version']}")
        return
    value: Any = "text" if mode == "strheaders" else b"text/plain"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", value)]})
    await send({"type": "http.response.body", "body": scope["path"].encode()})


def record(line: str) -> None:
    with open(os.environ["DISCONNECTS"], "a") as handle:
        handle.write(line + "\n")


class LineProtocol(LineReceiver):
    delimiter = b"\n"

    def __init__(self, server: Server) -> None:
        self.server = server
        self.queue: Any = None
        self.lost = False

    def connectionMade(self) -> None:
        self.server.protocol_connected(self)

    def lineReceived(self, line: bytes) -> None:
        mode, path = line.decode().split(" ", 1)
        scope = {"type": "http", "mode": mode, "path": path}
        self.queue = self.server.create_application(self, scope)
        self.queue.put_nowait({"type": "http.request", "body": b"", "more_body": False})

    def connectionLost(self, reason: Any = None) -> None:
        self.lost = True
        if self.queue is not None:
            self.queue.put_nowait({"type": "http.disconnect"})
        self.server.protocol_disconnected(self)

    # What Daphne's Server calls on a protocol.

    def handle_reply(self, message: dict[str, Any]) -> None:
        if self.lost:
            record(f"reply after disconnect: {message['type']}")
        if message["type"] == "http.response.start":
            self.sendLine(b"status %d" % message["status"])
        else:
            self.sendLine(b"body " + message["body"])
            self.transport.loseConnection()

    def handle_exception(self, exception: BaseException) -> None:
        kind = ValueError if isinstance(exception, ValueError) else type(exception)
        self.sendLine(b"exception " + kind.__name__.encode())
        self.transport.loseConnection()

    def basic_error(self, status: int, status_text: bytes, body: str) -> None:
        self.sendLine(b"error %d %s" % (status, status_text))


class LineFactory(Factory):
    def __init__(self, server: Server) -> None:
        self.server = server

    def buildProtocol(self, addr: Any) -> LineProtocol:
        return LineProtocol(self.server)


def main() -> None:
    # Imported after daphne.server, which installs the asyncio reactor.
    from twisted.internet import reactor

    server = Server(
        app, endpoints=["tcp:port=0:interface=127.0.0.1"], signal_handlers=False, verbosity=0
    )

    def ready() -> None:
        line_port = reactor.listenTCP(0, LineFactory(server), interface="127.0.0.1")
        assert server.ws_factory is not None and server.ws_factory.server_class is server
        ws_port = reactor.listenTCP(0, server.ws_factory, interface="127.0.0.1")
        before = len(reactor.getDelayedCalls())
        results = [server.application_checker(), server.timeout_checker()]
        quiet = results == [None, None] and len(reactor.getDelayedCalls()) == before
        print("PORTS", line_port.getHost().port, ws_port.getHost().port, quiet, flush=True)

    server.ready_callable = ready
    server.run()


if __name__ == "__main__":
    sys.exit(main())
