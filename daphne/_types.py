"""Type aliases and small protocols shared by every layer (checked by ``mypy --strict``, see setup.cfg).

The ASGI specification lets scopes and messages carry any value under any key (extensions,
``state``, application-chosen fields), so their values are ``Any`` here, in one place; code
narrows a value where it reads it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

__all__ = [
    "ASGIApp",
    "ASGIReceive",
    "ASGISend",
    "ActionLogger",
    "Clock",
    "Headers",
    "KeywordASGIApp",
    "Message",
    "Scope",
    "State",
    "Timer",
]

#: An ASGI connection scope.  Any: the spec allows any value under any key.
Scope = dict[str, Any]
#: An ASGI event, in either direction.  Any: applications may send any value, which the
#: cycles validate before use.
Message = dict[str, Any]
#: The lifespan ``state`` dict (a shallow copy goes into every scope).  Any: the
#: application's own values.
State = dict[str, Any]
#: Header fields as ASGI carries them: ``(name, value)`` byte pairs, in order.
Headers = list[tuple[bytes, bytes]]
ASGIReceive = Callable[[], Awaitable[Message]]
ASGISend = Callable[[Message], Awaitable[None]]
#: An ASGI 3 application (ASGI 2 double-callables are wrapped before they reach the core).
ASGIApp = Callable[[Scope, ASGIReceive, ASGISend], Awaitable[None]]
#: ``AccessLogGenerator``'s call shape: (protocol, action, details).  Any: the details are
#: free-form, as in Daphne 4.2.
ActionLogger = Callable[[str, str, dict[str, Any]], None]


class KeywordASGIApp(Protocol):
    """An ASGI 3 application as the server calls it: with keyword arguments, as Daphne did,
    and run as an asyncio task (so the call returns a coroutine).

    Any ``async def app(scope, receive, send)`` matches; a ``Callable`` alias such as
    :data:`ASGIApp` cannot say that the parameters carry these names.
    """

    def __call__(
        self, *, scope: Scope, receive: ASGIReceive, send: ASGISend
    ) -> Coroutine[Any, Any, None]:  # Any: what the coroutine yields to the loop, and is sent
        """Run the application for one connection (or the lifespan)."""


class Timer(Protocol):
    """A call scheduled with :meth:`Clock.callLater` (Twisted's ``IDelayedCall``)."""

    def active(self) -> bool:
        """Whether the call has neither run nor been cancelled."""

    def cancel(self) -> None:
        """Unschedule the call (only while :meth:`active`)."""


class Clock(Protocol):
    """The time source injected everywhere (Twisted's ``IReactorTime``: the reactor, or
    ``twisted.internet.task.Clock`` in tests)."""

    def seconds(self) -> float:
        """The current time, in seconds."""

    def callLater(self, delay: float, callable: Callable[..., object], *args: object) -> Timer:
        """Call ``callable(*args)`` in ``delay`` seconds."""
