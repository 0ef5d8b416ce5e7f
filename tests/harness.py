"""Drive an HTTP1Connection over an in-memory transport with an injected clock.

The application runs on a private asyncio loop that the harness spins a
bounded number of times; responses are parsed with h11 acting as the client.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import h11
from twisted.internet.address import IPv4Address, UNIXAddress
from twisted.internet.testing import MemoryReactorClock, StringTransport

from daphne._config import ServerConfig
from daphne._context import ServerContext
from daphne.http_protocol import HTTPFactory


@dataclass
class Response:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    http_version: bytes = b"1.1"
    informational: list[int] = field(default_factory=list)

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name.lower():
                return value
        return None


class Harness:
    """One connection to a server context, fed bytes by the test."""

    def __init__(self, app: Any, unix: bool = False, **config: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.clock = MemoryReactorClock()
        self.actions: list[tuple[str, str, dict[str, Any]]] = []
        self.context = ServerContext(
            application=app,
            config=ServerConfig(**config),
            clock=self.clock,
            loop=self.loop,
            action_logger=lambda *args: self.actions.append(args),
        )
        self.errors: list[dict[str, Any]] = []
        self.loop.set_exception_handler(lambda loop, ctx: self.errors.append(ctx))
        self.factory = HTTPFactory(None, self.context)
        self.transport = self.new_transport(unix)
        self.protocol = self.factory.buildProtocol(None)
        self.protocol.makeConnection(self.transport)

    @staticmethod
    def new_transport(unix: bool = False) -> StringTransport:
        if unix:
            return StringTransport(
                peerAddress=UNIXAddress(None), hostAddress=UNIXAddress(b"/tmp/s.sock")
            )
        return StringTransport(
            peerAddress=IPv4Address("TCP", "127.0.0.1", 12345),
            hostAddress=IPv4Address("TCP", "127.0.0.1", 8000),
        )

    def feed(self, data: bytes, bytewise: bool = False) -> None:
        if bytewise:
            for index in range(len(data)):
                self.protocol.dataReceived(data[index : index + 1])
                self.spin(2)
        else:
            self.protocol.dataReceived(data)
        self.spin()

    def spin(self, rounds: int = 30) -> None:
        """Let application tasks and scheduled flushes run (bounded)."""
        for _ in range(rounds):
            self.loop.run_until_complete(asyncio.sleep(0))

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.spin()

    def lose_connection(self) -> None:
        self.protocol.connectionLost(None)
        self.spin()

    @property
    def written(self) -> bytes:
        return self.transport.value()

    @property
    def closed(self) -> bool:
        return bool(self.transport.disconnecting) or self.aborted

    @property
    def aborted(self) -> bool:
        return bool(getattr(self.transport, "disconnected", False))

    def responses(
        self, methods: list[str] | None = None, eof: bool | None = None
    ) -> list[Response]:
        return parse_responses(
            self.written, methods or ["GET"] * 8, eof=self.closed if eof is None else eof
        )

    def close(self) -> None:
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        if pending:
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()


def parse_responses(data: bytes, methods: list[str], eof: bool = False) -> list[Response]:
    """Parse consecutive responses with h11 (one per method, as far as data goes).

    Raises ``h11.RemoteProtocolError`` for malformed or truncated responses
    when ``eof`` says the connection ended.
    """
    client = h11.Connection(h11.CLIENT)
    client.receive_data(data)
    if eof:
        client.receive_data(b"")
    responses: list[Response] = []
    for method in methods:
        client.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
        client.send(h11.EndOfMessage())
        informational: list[int] = []
        current: Response | None = None
        while True:
            event = client.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return responses
            if isinstance(event, h11.InformationalResponse):
                informational.append(event.status_code)
            elif isinstance(event, h11.Response):
                current = Response(
                    event.status_code, list(event.headers), b"", event.http_version, informational
                )
            elif isinstance(event, h11.Data):
                assert current is not None
                current.body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert current is not None
                responses.append(current)
                break
            elif isinstance(event, h11.ConnectionClosed):
                return responses
        if client.our_state is h11.MUST_CLOSE or client.their_state is h11.MUST_CLOSE:
            return responses
        client.start_next_cycle()
    return responses
