"""``ServerContext``: what every protocol object needs from the server.

Built once by :class:`daphne.server.Server` and handed to factories, so that
protocols never reach up through back-references.  Covered by the protocol
unit tests (``tests/unit/test_http1.py``), which build their own contexts.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import TYPE_CHECKING, Any, TypedDict

from twisted.internet.interfaces import IReactorTime

from ._asgi.application import InstanceRegistry
from ._asgi.body_watch import BodyWatch
from ._config import ServerConfig
from ._types import ActionLogger, KeywordASGIApp

if TYPE_CHECKING:
    from ._wire.http1 import HTTP1Connection

__all__ = ["ConnectionFacts", "ServerContext"]


class ConnectionFacts(TypedDict):
    """What one connection knows about itself, for every request on it.

    The connection-level fields of :class:`~daphne._asgi.scope.RequestFacts`.
    """

    #: ``[host, port]`` of the peer, or None (unix sockets).
    client: list[str | int] | None
    #: ``[host, port]`` of the local end, or None.
    server: list[str | int] | None
    #: Whether the connection is TLS.
    secure: bool


@dataclass(eq=False)
class ServerContext:
    """Runtime collaborators shared by all connections of one server.

    :ivar application: the ASGI 3 callable.
    :ivar config: the frozen :class:`ServerConfig`.
    :ivar clock: the reactor, or a test clock (``seconds()``, ``callLater()``).
    :ivar loop: the asyncio loop application tasks run on.
    :ivar action_logger: ``(protocol, action, details)`` callable, or None.
    :ivar registry: the live application instances.
    """

    application: KeywordASGIApp
    config: ServerConfig
    clock: IReactorTime
    loop: asyncio.AbstractEventLoop
    action_logger: ActionLogger | None = None
    registry: InstanceRegistry = field(default_factory=InstanceRegistry)
    #: The lifespan ``state`` dict when the app ran lifespan startup, else None.
    #: Any: the application stores whatever it likes there (ASGI lifespan ``state``).
    lifespan_state: dict[str, Any] | None = None
    #: Open client connections (of every listener), for ``--limit-concurrency`` and shutdown.
    connections: set[HTTP1Connection] = field(default_factory=set)
    server_name_bytes: bytes = field(init=False)
    #: The request bodies being read, under ``--body-read-timeout`` (None: no such limit).
    body_watch: BodyWatch | None = field(init=False)
    _date_second: int = field(default=-1, init=False)
    _date_value: bytes = field(default=b"", init=False)

    def __post_init__(self) -> None:
        self.server_name_bytes = self.config.server_name.encode("latin-1")
        timeout = self.config.body_read_timeout
        self.body_watch = BodyWatch(self.clock, timeout) if timeout is not None else None

    def date_header(self) -> bytes:
        """The current ``Date`` value (RFC 9110 §6.6.1), recomputed once a second."""
        now = self.clock.seconds()
        second = int(now)
        if second != self._date_second:
            self._date_second = second
            self._date_value = formatdate(second, usegmt=True).encode("ascii")
        return self._date_value

    def at_capacity(self) -> bool:
        """Whether a new request or WebSocket must be refused (``--limit-concurrency``).

        The limit counts running application instances and open connections,
        on every protocol: the request being decided is not yet among the
        instances, its connection is among the connections.
        """
        limit = self.config.limit_concurrency
        if limit is None:
            return False
        return len(self.registry) >= limit or len(self.connections) > limit

    def log_action(
        self,
        protocol: str,
        action: str,
        details: dict[str, Any],  # Any: free-form access-log details (see ActionLogger)
    ) -> None:
        """Forward an access-log event to the action logger, if any."""
        if self.action_logger is not None:
            self.action_logger(protocol, action, details)
