"""Daphne 4.2's protocol-facing ``Server`` API, for protocols written against it.

Daphne's own protocols called ``server.protocol_connected(protocol)``, then
``server.create_application(protocol, scope)`` to get the app's input queue,
and ``server.protocol_disconnected(protocol)`` when the client went away; the
app's ``send`` reached ``protocol.handle_reply(message)``.  Our protocols use
:class:`~daphne._context.ServerContext` and :class:`~daphne._asgi.application.ApplicationInstance`
directly and call none of this; :class:`LegacyProtocols` keeps the calls working
for subclasses and harnesses that still make them, on top of the same
``ApplicationInstance`` (so the close timeout, exception logging and shutdown
apply to these apps too).  :class:`DaphneServerMethods` holds those methods of
:class:`daphne.server.Server` (and Daphne's other leftovers: ``connections``,
``kill_all_applications``, the no-op checkers), so that ``Server`` itself is the
serving code.

Covered by ``tests/compat/test_server_methods.py``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from asgiref.compatibility import guarantee_single_callable
from twisted.internet import defer

from ._asgi.application import ApplicationInstance
from ._asgi.http_cycle import check_header_types
from ._context import ServerContext
from ._types import ActionLogger, ASGIReceive, ASGISend, KeywordASGIApp, Message, Scope

__all__ = [
    "DaphneProtocol",
    "DaphneServerMethods",
    "LegacyProtocols",
    "check_headers_type",
    "single_callable",
]

logger = logging.getLogger("daphne.server")


def single_callable(application: object) -> KeywordASGIApp:
    """``application`` as an ASGI 3 callable: an ASGI 2 "double callable" is wrapped."""
    wrapped: KeywordASGIApp = guarantee_single_callable(application)  # type: ignore[no-untyped-call]  # asgiref is untyped
    return wrapped


def check_headers_type(message: Message) -> None:
    """Raise ``ValueError`` if an ``http.response.start`` carries a non-bytes header name or value."""
    if message.get("type") == "http.response.start":
        check_header_types(message.get("headers", []))


class DaphneProtocol(Protocol):
    """What the server calls on a protocol written against Daphne 4.2.

    It may also have ``handle_exception(exception)``, called when its app raised.
    """

    def handle_reply(self, message: Message) -> None: ...

    def basic_error(self, status: int, status_text: bytes, body: str) -> None: ...


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
        self,
        reply: Callable[[DaphneProtocol, Message], Awaitable[None]],
        stop: Callable[[], None],
    ) -> None:
        self._reply = reply
        self._stop = stop
        self._entries: dict[DaphneProtocol, _Entry] = {}

    def __contains__(self, protocol: DaphneProtocol) -> bool:
        return protocol in self._entries

    def connected(self, protocol: DaphneProtocol) -> None:
        if protocol in self._entries:
            raise RuntimeError(f"Protocol {protocol!r} was added to main list twice!")
        self._entries[protocol] = _Entry()

    def is_open(self, protocol: DaphneProtocol) -> bool:
        entry = self._entries.get(protocol)
        return entry is not None and not entry.disconnected

    def disconnected(self, protocol: DaphneProtocol) -> None:
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

    def create(
        self, context: ServerContext, protocol: DaphneProtocol, scope: Scope
    ) -> asyncio.Queue[Message]:
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

        async def with_queue(scope: Scope, receive: ASGIReceive, send: ASGISend) -> None:
            # The app reads the queue the protocol writes to, as in Daphne.
            await application(scope=scope, receive=queue.get, send=send)

        instance.start(with_queue, context.loop)
        return queue

    def _exited(self, protocol: DaphneProtocol, exception: BaseException | None) -> None:
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


class DaphneServerMethods:
    """Daphne 4.2's ``Server`` methods that serving does not use, mixed into ``Server``.

    The server's own protocols share a ``ServerContext`` instead; protocols
    written against Daphne still can call these.
    """

    context: ServerContext | None
    action_logger: ActionLogger | None
    _legacy: LegacyProtocols

    @property
    def connections(self) -> dict[ApplicationInstance, dict[str, object]]:
        """Daphne compatibility: the running application instances."""
        if self.context is None:
            return {}
        return {
            instance: {"application_instance": instance.task}
            for instance in self.context.registry.instances
        }

    def kill_all_applications(self) -> defer.Deferred[list[object]] | None:
        """Cancel every running application instance at once (Daphne's shutdown)."""
        if self.context is None:
            return None
        tasks = self.context.registry.cancel_all()
        if not tasks:
            return None
        logger.info("Killed %i pending application instances", len(tasks))
        return defer.Deferred.fromFuture(
            asyncio.ensure_future(
                asyncio.gather(*tasks, return_exceptions=True), loop=self.context.loop
            )
        )

    def log_action(self, protocol: str, action: str, details: dict[str, Any]) -> None:
        """Forward an access-log event to ``action_logger``.

        Any: the details are free-form, as in Daphne 4.2 (see ``ActionLogger``).
        """
        if self.action_logger is not None:
            self.action_logger(protocol, action, details)

    def protocol_connected(self, protocol: DaphneProtocol) -> None:
        """Register a protocol of your own before :meth:`create_application` (twice: RuntimeError)."""
        self._legacy.connected(protocol)

    def protocol_disconnected(self, protocol: DaphneProtocol) -> None:
        """The protocol's client went away: the app's sends are dropped from now on.

        The app then has ``application_close_timeout`` seconds to return before
        it is cancelled.  The protocol queues its own disconnect message.
        """
        self._legacy.disconnected(protocol)

    def create_application(self, protocol: DaphneProtocol, scope: Scope) -> asyncio.Queue[Message]:
        """Start the app for a registered protocol; return the queue its ``receive`` reads.

        The app's ``send`` goes through :meth:`handle_reply` to
        ``protocol.handle_reply(message)``; an exception the app raises reaches
        ``protocol.handle_exception(exception)`` while connected.  Only while
        the server runs (RuntimeError otherwise).
        """
        if self.context is None:
            raise RuntimeError("create_application() needs a running server: call run() first")
        return self._legacy.create(self.context, protocol, scope)

    async def handle_reply(self, protocol: DaphneProtocol, message: Message) -> None:
        """Pass an app's message to ``protocol.handle_reply`` unless the protocol is gone.

        Bad header types get the client a 500 (``protocol.basic_error``) and raise ``ValueError``.
        """
        if not self._legacy.is_open(protocol):
            return
        try:
            self.check_headers_type(message)
        except ValueError:
            protocol.basic_error(500, b"Server Error", "Server Error")
            raise
        protocol.handle_reply(message)

    @staticmethod
    def check_headers_type(message: Message) -> None:
        """Raise ``ValueError`` if an ``http.response.start`` has a header name or value that is not bytes."""
        check_headers_type(message)

    def application_checker(self) -> None:
        """Does nothing, safely: there is no periodic application sweep to run.

        Daphne polled every app once a second; here each application instance
        reports its own exit and runs its own ``application_close_timeout``
        timer.  The server never calls this hook, so an override is not called either.
        """

    def timeout_checker(self) -> None:
        """Does nothing, safely: there is no periodic timeout sweep to run.

        Daphne polled every connection every 2 s; here every request, stream
        and WebSocket arms its own timers (``http_timeout``, WebSocket connect,
        lifetime and ping).  The server never calls this hook, so an override is not called either.
        """
