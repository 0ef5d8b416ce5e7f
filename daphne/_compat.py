"""Daphne 4.2's protocol-facing ``Server`` API, for protocols written against it.

Daphne's own protocols called ``server.protocol_connected(protocol)``, then
``server.create_application(protocol, scope)`` to get the app's input queue,
and ``server.protocol_disconnected(protocol)`` when the client went away; the
app's ``send`` reached ``protocol.handle_reply(message)``.  Our protocols use
:class:`~daphne._context.ServerContext` and :class:`~daphne._asgi.application.ApplicationInstance`
directly and call none of this; :class:`LegacyProtocols` keeps the calls working
for subclasses and harnesses that still make them, on top of the same
``ApplicationInstance`` (so the close timeout, exception logging and shutdown
apply to these apps too).

Covered by ``tests/compat/test_server_methods.py``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.compatibility import guarantee_single_callable

from ._asgi.application import ApplicationInstance
from ._asgi.http_cycle import check_header_types
from ._context import ServerContext
from ._types import ASGIApp

__all__ = ["LegacyProtocols", "check_headers_type", "single_callable"]

Message = dict[str, Any]


def single_callable(application: object) -> ASGIApp:
    """``application`` as an ASGI 3 callable: an ASGI 2 "double callable" is wrapped."""
    wrapped: ASGIApp = guarantee_single_callable(application)  # type: ignore[no-untyped-call]  # asgiref is untyped
    return wrapped


def check_headers_type(message: Message) -> None:
    """Raise ``ValueError`` if an ``http.response.start`` carries a non-bytes header name or value."""
    if message.get("type") == "http.response.start":
        check_header_types(message.get("headers", []))


@dataclasses.dataclass(eq=False)
class _Entry:
    instance: ApplicationInstance | None = None
    disconnected: bool = False


class LegacyProtocols:
    """The protocols registered through Daphne's ``protocol_connected``.

    :param reply: ``async (protocol, message)``, the server's ``handle_reply``.
    :param stop: called when an app raised ``KeyboardInterrupt`` (Daphne stopped the server).
    """

    def __init__(
        self, reply: Callable[[Any, Message], Awaitable[None]], stop: Callable[[], None]
    ) -> None:
        self._reply = reply
        self._stop = stop
        self._entries: dict[Any, _Entry] = {}

    def __contains__(self, protocol: Any) -> bool:
        return protocol in self._entries

    def connected(self, protocol: Any) -> None:
        if protocol in self._entries:
            raise RuntimeError(f"Protocol {protocol!r} was added to main list twice!")
        self._entries[protocol] = _Entry()

    def is_open(self, protocol: Any) -> bool:
        entry = self._entries.get(protocol)
        return entry is not None and not entry.disconnected

    def disconnected(self, protocol: Any) -> None:
        entry = self._entries[protocol]
        entry.disconnected = True
        instance = entry.instance
        if instance is None:
            del self._entries[protocol]
        else:
            # Sends are dropped from now on and the close timer starts.  The
            # protocol queues its own disconnect message, as Daphne's did, so
            # the instance's final message never reaches the app.
            instance.close({"type": f"{instance.scope.get('type')}.disconnect"})

    def create(self, context: ServerContext, protocol: Any, scope: dict[str, Any]) -> Any:
        entry = self._entries[protocol]
        if entry.instance is not None:
            raise RuntimeError(f"Protocol {protocol!r} already has an application instance")
        scope.setdefault("asgi", {"version": "3.0"})
        queue: asyncio.Queue[Message] = asyncio.Queue()

        async def send(message: Message) -> None:
            await self._reply(protocol, message)

        def exited(exception: BaseException | None) -> None:
            self._exited(protocol, exception)

        instance = ApplicationInstance(
            scope,
            send,
            exited,
            context.clock,
            context.config.application_close_timeout,
            context.registry,
        )
        entry.instance = instance
        application = context.application

        def with_queue(scope: Any, receive: Any, send: Any) -> Any:
            # The app reads the queue the protocol writes to, as in Daphne.
            return application(scope=scope, receive=queue.get, send=send)

        instance.start(with_queue, context.loop)
        return queue

    def _exited(self, protocol: Any, exception: BaseException | None) -> None:
        entry = self._entries.get(protocol)
        if entry is None:
            return
        entry.instance = None
        if isinstance(exception, KeyboardInterrupt):
            self._stop()
        elif exception is not None and not entry.disconnected:
            handle_exception = getattr(protocol, "handle_exception", None)
            if handle_exception is not None:
                handle_exception(exception)
        if entry.disconnected:
            del self._entries[protocol]
