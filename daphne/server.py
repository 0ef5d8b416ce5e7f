"""``Server``: the public facade that listens on endpoints and runs the reactor.

Importing this module installs Twisted's asyncio reactor (see
:mod:`daphne._reactor`), as Daphne does.  Covered by
``tests/integration/test_http_functional.py`` and ``tests/compat/test_public_api.py``.
"""

from __future__ import annotations

from ._reactor import install_asyncio_reactor, loop_name

#: The asyncio loop the reactor runs on (Daphne's name for it).
twisted_loop = install_asyncio_reactor()

import asyncio  # noqa: E402
import dataclasses  # noqa: E402
import gc  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import threading  # noqa: E402
from collections.abc import Callable  # noqa: E402
from types import FrameType  # noqa: E402
from typing import Any, Protocol, cast  # noqa: E402

from twisted.internet import defer, reactor  # noqa: E402
from twisted.internet.interfaces import IListeningPort  # noqa: E402
from twisted.logger import ILogObserver, STDLibLogObserver, globalLogBeginner  # noqa: E402
from twisted.python.failure import Failure  # noqa: E402

from ._asgi.lifespan import MODES, Lifespan, LifespanFailure  # noqa: E402
from ._compat import DaphneServerMethods, LegacyProtocols, single_callable  # noqa: E402
from ._config import ServerConfig  # noqa: E402
from ._context import ServerContext  # noqa: E402
from ._listen_errors import listen_failure_text, tls_files_problem  # noqa: E402
from ._process.listen import server_endpoint  # noqa: E402
from ._reactor import reactor_loop  # noqa: E402
from ._types import ActionLogger  # noqa: E402
from .http_protocol import HTTPFactory  # noqa: E402
from .ws_protocol import WebSocketFactory  # noqa: E402

logger = logging.getLogger(__name__)

__all__ = ["Server"]

_CONFIG_FIELDS = tuple(field.name for field in dataclasses.fields(ServerConfig))


class _Reactor(Protocol):
    """What ``Server`` calls on the reactor.

    ``twisted.internet.reactor`` is typed as zope interfaces, whose methods mypy
    cannot check without the mypy-zope plugin, and the asyncio reactor's own
    ``run``/``stop`` carry no annotations.
    """

    running: bool

    def run(self, installSignalHandlers: bool = True) -> None: ...

    def stop(self) -> None: ...

    def addSystemEventTrigger(
        self, phase: str, eventType: str, callable: Callable[[], object]
    ) -> object: ...


_asyncio_reactor = cast(_Reactor, reactor)


class Server(DaphneServerMethods):
    """Serve an ASGI application on Twisted endpoint descriptions.

    Takes Daphne 4.2's keyword arguments (each maps onto :class:`ServerConfig`,
    and stays readable as an attribute of the same name).

    :ivar listening_addresses: ``(host, port)`` of each TCP-like listener once it listens.
    :ivar abort_start: set when a listener failed or ``stop()`` came before ``run()``.
    """

    def __init__(
        self,
        application: object,
        endpoints: list[str] | None = None,
        signal_handlers: bool = True,
        action_logger: ActionLogger | None = None,
        http_timeout: float | None = None,
        request_buffer_size: int = 8192,
        websocket_timeout: float = 86400,
        websocket_connect_timeout: float = 20,
        ping_interval: float = 20,
        ping_timeout: float = 30,
        root_path: str = "",
        proxy_forwarded_address_header: str | None = None,
        proxy_forwarded_port_header: str | None = None,
        proxy_forwarded_proto_header: str | None = None,
        verbosity: int = 1,
        websocket_handshake_timeout: float = 5,
        websocket_max_message_size: int = 1048576,
        websocket_max_frame_size: int = 1048576,
        application_close_timeout: float = 10,
        ready_callable: Callable[[], None] | None = None,
        server_name: str = "daphne",
        lifespan: str = "off",
        **options: Any,  # Any: more ServerConfig fields, of their several types
    ) -> None:
        self.application = application
        self.endpoints = sorted(endpoints or [])
        if not self.endpoints:
            logger.error("No endpoints. This server will not listen on anything.")
            raise ValueError("No endpoints. This server will not listen on anything.")
        self.signal_handlers = signal_handlers
        self.action_logger = action_logger
        self.ready_callable = ready_callable
        if lifespan not in MODES:
            raise ValueError(f"lifespan must be one of {', '.join(MODES)}, got {lifespan!r}")
        self.lifespan_mode = lifespan
        self.lifespan: Lifespan | None = None
        self.config = ServerConfig(
            http_timeout=http_timeout, request_buffer_size=request_buffer_size,
            websocket_timeout=websocket_timeout, websocket_connect_timeout=websocket_connect_timeout,
            ping_interval=ping_interval, ping_timeout=ping_timeout, root_path=root_path,
            proxy_forwarded_address_header=proxy_forwarded_address_header,
            proxy_forwarded_port_header=proxy_forwarded_port_header,
            proxy_forwarded_proto_header=proxy_forwarded_proto_header, verbosity=verbosity,
            websocket_handshake_timeout=websocket_handshake_timeout,
            websocket_max_message_size=websocket_max_message_size,
            websocket_max_frame_size=websocket_max_frame_size,
            application_close_timeout=application_close_timeout, server_name=server_name,
            **options,
        )  # fmt: skip
        self.listeners: list[defer.Deferred[IListeningPort]] = []
        self.listening_addresses: list[tuple[str, int]] = []
        self.ports: list[IListeningPort] = []
        self.abort_start = False
        self.context: ServerContext | None = None
        self.http_factory: HTTPFactory | None = None
        self.ws_factory: WebSocketFactory | None = None
        self._legacy = LegacyProtocols(self.handle_reply, self.stop)

    def __getattr__(self, name: str) -> Any:  # Any: the type of the field ``name``
        # Daphne exposed every constructor keyword as an attribute.
        if name in _CONFIG_FIELDS and "config" in self.__dict__:
            return getattr(self.__dict__["config"], name)
        raise AttributeError(name)

    # -- running -------------------------------------------------------------

    def run(self) -> None:
        """Listen on every endpoint and run the reactor until stopped."""
        loop = reactor_loop()
        asyncio.set_event_loop(loop)
        if self.config.verbosity >= 3:
            loop.set_debug(True)
        self.context = ServerContext(
            # ASGI 2 "double callables" are accepted from Python too.
            application=single_callable(self.application),
            config=self.config,
            clock=reactor,
            loop=loop,
            action_logger=self.action_logger,
        )
        self.http_factory = HTTPFactory(self, self.context)
        self.ws_factory = WebSocketFactory(self, server=self.config.server_name)
        self._begin_twisted_logging()
        logger.info("Event loop: %s", loop_name(loop))
        if not self._start_lifespan(loop):
            return
        logger.info(
            "HTTP/2 support enabled (%s)",
            (
                "TLS with ALPN, and cleartext with prior knowledge"
                + (" or Upgrade: h2c" if self.config.h2c_upgrade else "")
            )
            if self.config.h2c
            else "TLS with ALPN only: cleartext HTTP/2 is off (--no-h2c)",
        )
        logger.info(
            "WebSocket support enabled (permessage-deflate %s)",
            "on" if self.config.websocket_per_message_deflate else "off",
        )
        for description in self.endpoints:
            self._listen(description)
        _asyncio_reactor.addSystemEventTrigger("before", "shutdown", self.graceful_shutdown)
        if self.abort_start:
            self._close_listeners()
            if self.lifespan is not None and self.lifespan.active:
                # The app started up: it gets its shutdown even though serving never began.
                loop.run_until_complete(self.lifespan.shutdown())
            return
        if self.ready_callable is not None:
            self.ready_callable()
        # Everything alive now (the app, its imports, Twisted) lives for the
        # whole run: keep it out of cyclic GC passes, which otherwise scan it
        # all and show up as multi-millisecond latency spikes.
        gc.freeze()
        _asyncio_reactor.run(installSignalHandlers=self.signal_handlers)

    def _start_lifespan(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Run lifespan startup before listening; False if the app failed it."""
        assert self.context is not None
        self.lifespan = Lifespan(self.context.application, self.lifespan_mode)
        try:
            loop.run_until_complete(self.lifespan.startup())
        except LifespanFailure as error:
            logger.critical("%s", error)
            self.abort_start = True
            return False
        if self.lifespan.active:
            self.context.lifespan_state = self.lifespan.state
        return True

    def _listen(self, description: str) -> None:
        logger.info("Configuring endpoint %s", description)
        try:
            endpoint = server_endpoint(reactor, description)
        except Exception as error:  # bad syntax, unknown type, missing certificate...
            logger.critical(
                "Listen failure: invalid endpoint %r: %s",
                description,
                tls_files_problem(description) or error,
            )
            self.abort_start = True
            return
        assert self.http_factory is not None  # made by run() before any listening
        listener = endpoint.listen(self.http_factory)
        listener.addCallbacks(self.listen_success, self.listen_error, errbackArgs=(description,))
        self.listeners.append(listener)

    def listen_success(self, port: IListeningPort) -> IListeningPort:
        """Record a listening port (and its real address for ``-p 0``)."""
        self.ports.append(port)
        # An IPv4Address/IPv6Address (host, port), a UNIXAddress (name), or another kind.
        address: object = port.getHost()
        host = getattr(address, "host", None)
        number = getattr(address, "port", None)
        name = getattr(address, "name", None)
        if host is not None and number is not None:
            self.listening_addresses.append((host, number))
            shown = f"[{host}]" if ":" in host else host
            logger.info("Listening on TCP address %s:%s", shown, number)
        elif name is not None:
            logger.info(
                "Listening on UNIX socket %s", name.decode() if isinstance(name, bytes) else name
            )
        return port

    def listen_error(self, failure: Failure, description: str = "") -> None:
        logger.critical("Listen failure: %s", listen_failure_text(failure, description))
        self.abort_start = True
        if reactor.running:
            self.stop()

    def stop(self) -> None:
        """Stop the reactor if it runs; otherwise make ``run()`` return at once."""
        if reactor.running:
            _asyncio_reactor.stop()
        else:
            self.abort_start = True

    def _close_listeners(self) -> None:
        for port in self.ports:
            port.stopListening()

    def graceful_shutdown(self) -> defer.Deferred[None] | None:
        """Stop accepting, let in-flight work finish (``graceful_timeout``), then lifespan shutdown.

        HTTP/1.1 connections close after their current response, WebSockets
        are closed with 1001, HTTP/2 connections get GOAWAY; whatever still
        runs after the timeout is cancelled and named in the log.
        """
        if self.context is None:
            return None
        context = self.context
        self._second_interrupt_exits()
        for port in self.ports:
            port.stopListening()
        connections = list(self.http_factory.connections) if self.http_factory else []
        logger.info(
            "Shutting down: draining %i connection(s), graceful timeout %ss",
            len(connections),
            self.config.graceful_timeout,
        )
        for connection in connections:
            connection.drain()
        lifespan = self.lifespan

        async def finish() -> None:
            registry = context.registry
            if not await registry.wait_empty(self.config.graceful_timeout):
                for instance in list(registry.instances):
                    logger.warning(
                        "Cancelling %s: still running after the graceful timeout", instance
                    )
                tasks = registry.cancel_all()
                await asyncio.gather(*tasks, return_exceptions=True)
            if lifespan is not None:
                await lifespan.shutdown()

        return defer.Deferred.fromFuture(asyncio.ensure_future(finish(), loop=context.loop))

    def _second_interrupt_exits(self) -> None:
        if not self.signal_handlers or threading.current_thread() is not threading.main_thread():
            return

        def exit_now(signum: int, frame: FrameType | None) -> None:
            logger.warning("Second interrupt: exiting without waiting")
            os._exit(1)

        signal.signal(signal.SIGINT, exit_now)

    # -- Twisted logging -----------------------------------------------------

    def _begin_twisted_logging(self) -> None:
        observers: list[ILogObserver]
        if self.config.verbosity >= 2:
            observers = [STDLibLogObserver(name="daphne.server")]
        else:
            # Any callable is a log observer; zope cannot mark a lambda as providing it.
            observers = [cast(ILogObserver, lambda event: None)]
        globalLogBeginner.beginLoggingTo(observers, discardBuffer=True, redirectStandardIO=False)
