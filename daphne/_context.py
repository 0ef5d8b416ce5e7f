"""``ServerContext``: what every protocol object needs from the server.

Built once by :class:`daphne.server.Server` and handed to factories, so that
protocols never reach up through back-references.  Covered by the protocol
unit tests (``tests/unit/test_http1.py``), which build their own contexts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from ._asgi.application import InstanceRegistry
from ._config import ServerConfig

__all__ = ["ServerContext"]

ActionLogger = Callable[[str, str, dict[str, Any]], None]


@dataclass(eq=False)
class ServerContext:
    """Runtime collaborators shared by all connections of one server.

    :ivar application: the ASGI 3 callable.
    :ivar config: the frozen :class:`ServerConfig`.
    :ivar clock: an ``IReactorTime`` (``seconds()``, ``callLater()``).
    :ivar loop: the asyncio loop application tasks run on.
    :ivar action_logger: ``(protocol, action, details)`` callable, or None.
    :ivar registry: the live application instances.
    """

    application: Any
    config: ServerConfig
    clock: Any
    loop: asyncio.AbstractEventLoop
    action_logger: ActionLogger | None = None
    registry: InstanceRegistry = field(default_factory=InstanceRegistry)
    #: The lifespan ``state`` dict when the app ran lifespan startup, else None.
    lifespan_state: dict[str, Any] | None = None
    #: Open client connections (of every listener), for ``--limit-concurrency`` and shutdown.
    connections: set[Any] = field(default_factory=set)
    server_name_bytes: bytes = field(init=False)
    _date_second: int = field(default=-1, init=False)
    _date_value: bytes = field(default=b"", init=False)

    def __post_init__(self) -> None:
        self.server_name_bytes = self.config.server_name.encode("latin-1")

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

    def log_action(self, protocol: str, action: str, details: dict[str, Any]) -> None:
        """Forward an access-log event to the action logger, if any."""
        if self.action_logger is not None:
            self.action_logger(protocol, action, details)
