"""Run a real server in a child process for tests (Daphne's ``daphne.testing`` API).

Django Channels' ``ChannelsLiveServerTestCase`` and Daphne's own test suite
import these names.  Unlike Daphne's, every :class:`DaphneTestingInstance`
keeps its ``TestApplication`` files in a private temporary directory, so
instances running at the same time never see each other's results.

Covered by ``tests/integration/test_testing.py``.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import pickle
import shutil
import tempfile
import traceback
from collections.abc import Callable
from concurrent.futures import CancelledError
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, Protocol, TypedDict, TypeVar

if TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.sharedctypes import Synchronized
    from multiprocessing.synchronize import Event

    from typing_extensions import Self

    from ._types import ASGIApp, ASGIReceive, ASGISend, Message, Scope
    from .server import Server

__all__ = [
    "BaseDaphneTestingInstance",
    "DaphneProcess",
    "DaphneTestingInstance",
    "TestApplication",
]

_Params = ParamSpec("_Params")
_Return = TypeVar("_Return")


class BaseDaphneTestingInstance:
    """Launches a server in a subprocess, with ``host`` and ``port`` to call it.

    Works as a context manager.  Subclasses provide the application through
    :meth:`get_application` (or the ``application`` keyword).
    """

    startup_timeout = 2

    def __init__(
        self,
        xff: bool = False,
        http_timeout: int | None = None,
        request_buffer_size: int | None = None,
        websocket_max_message_size: int | None = None,
        websocket_max_frame_size: int | None = None,
        *,
        application: ASGIApp,
    ) -> None:
        self.xff = xff
        self.http_timeout = http_timeout
        self.host = "127.0.0.1"
        self.request_buffer_size = request_buffer_size
        self.websocket_max_message_size = websocket_max_message_size
        self.websocket_max_frame_size = websocket_max_frame_size
        self.application = application

    def get_application(self) -> ASGIApp:
        return self.application

    def server_kwargs(self) -> dict[str, Any]:  # Any: Server keywords of several types
        """The Server keyword arguments for this instance's options."""
        kwargs: dict[str, Any] = {}  # Any: as above
        if self.request_buffer_size:
            kwargs["request_buffer_size"] = self.request_buffer_size
        if self.xff:
            kwargs["proxy_forwarded_address_header"] = "X-Forwarded-For"
            kwargs["proxy_forwarded_port_header"] = "X-Forwarded-Port"
            kwargs["proxy_forwarded_proto_header"] = "X-Forwarded-Proto"
        if self.http_timeout:
            kwargs["http_timeout"] = self.http_timeout
        if self.websocket_max_message_size is not None:
            kwargs["websocket_max_message_size"] = self.websocket_max_message_size
        if self.websocket_max_frame_size is not None:
            kwargs["websocket_max_frame_size"] = self.websocket_max_frame_size
        return kwargs

    def __enter__(self) -> Self:
        self.process = DaphneProcess(
            host=self.host,
            get_application=self.get_application,
            kwargs=self.server_kwargs(),
            setup=self.process_setup,
            teardown=self.process_teardown,
        )
        self.process.start()
        if self.process.ready.wait(self.startup_timeout):
            self.port = self.process.port.value
            return self
        self._stop_process()
        if self.process.errors.empty():
            raise RuntimeError("Daphne did not start up, no error caught")
        _, child_traceback = self.process.errors.get(False)
        raise RuntimeError(f"Daphne did not start up:\n{child_traceback}")

    def __exit__(self, exc_type: object, exc_value: object, traceback: object) -> None:
        self._stop_process()

    def _stop_process(self) -> None:
        process = self.process
        if process.is_alive():
            process.terminate()
        process.join(5)
        if process.is_alive():
            process.kill()
            process.join(5)

    def process_setup(self) -> None:
        """Called by the child process just before it starts serving."""

    def process_teardown(self) -> None:
        """Called by the child process just after it stops serving."""

    def get_received(self) -> tuple[Scope, list[Message]] | None:
        """What the application received (see :class:`DaphneTestingInstance`)."""
        return None


class _Files(Protocol):
    """Where a TestApplication instance, or the class itself, keeps its files."""

    @property
    def setup_storage(self) -> str: ...

    @property
    def result_storage(self) -> str: ...


class _Setup(TypedDict):
    """What :meth:`TestApplication.save_setup` stores."""

    response_messages: list[Message]


class _Result(TypedDict, total=False):
    """What :meth:`TestApplication.save_result` (or ``save_exception``) stores."""

    scope: Scope
    messages: list[Message]
    exception: BaseException


class _BoundToInstanceOrClass(Generic[_Params, _Return]):
    """A method that, called on a TestApplication instance, uses that instance's
    files and, called on the class, the class-level default files."""

    def __init__(self, function: Callable[Concatenate[_Files, _Params], _Return]) -> None:
        self.function = function
        self.__doc__ = function.__doc__

    def __get__(
        self, instance: TestApplication | None, owner: type[TestApplication]
    ) -> Callable[_Params, _Return]:
        # A partial keeps the function's signature, minus ``target``.
        return functools.partial(self.function, instance if instance is not None else owner)


class TestApplication:
    """An ASGI application that records what it receives and replays queued messages.

    Each time it receives a message it saves the scope and all messages so far
    (pickled, under the lock), then sends the messages queued with
    :meth:`save_setup`.  Exceptions other than cancellation are saved instead.
    """

    __test__ = False  # not a pytest test class

    setup_storage = os.path.join(tempfile.gettempdir(), "setup.testio")
    result_storage = os.path.join(tempfile.gettempdir(), "result.testio")

    def __init__(
        self, lock: AbstractContextManager[object], storage_dir: str | None = None
    ) -> None:
        self.lock = lock
        self.messages: list[Message] = []
        if storage_dir is not None:
            self.setup_storage = os.path.join(storage_dir, "setup.testio")
            self.result_storage = os.path.join(storage_dir, "result.testio")

    async def __call__(self, scope: Scope, receive: ASGIReceive, send: ASGISend) -> None:
        self.scope = scope
        logging.debug("test app coroutine alive")
        try:
            while True:
                self.messages.append(await receive())
                with self.lock:
                    logging.debug("test app received %r", self.messages[-1])
                    self.save_result(self.scope, self.messages)
                setup = self.load_setup()
                self.delete_setup()
                for message in setup["response_messages"]:
                    await send(message)
                    logging.debug("test app sent %r", message)
        except Exception as error:
            if isinstance(error, CancelledError):
                raise
            self.save_exception(error)

    @_BoundToInstanceOrClass
    def save_setup(target: _Files, response_messages: list[Message]) -> None:
        """Store the messages to send after the next received message."""
        with open(target.setup_storage, "wb") as handle:
            pickle.dump({"response_messages": response_messages}, handle)

    @_BoundToInstanceOrClass
    def load_setup(target: _Files) -> _Setup:
        """The queued messages (none if nothing is queued)."""
        try:
            with open(target.setup_storage, "rb") as handle:
                setup: _Setup = pickle.load(handle)
                return setup
        except FileNotFoundError:
            return {"response_messages": []}

    @_BoundToInstanceOrClass
    def save_result(target: _Files, scope: Scope, messages: list[Message]) -> None:
        """Store the scope and the messages received so far."""
        with open(target.result_storage, "wb") as handle:
            pickle.dump({"scope": scope, "messages": messages}, handle)

    @_BoundToInstanceOrClass
    def save_exception(target: _Files, exception: BaseException) -> None:
        """Store an exception the application hit."""
        with open(target.result_storage, "wb") as handle:
            pickle.dump({"exception": exception}, handle)

    @_BoundToInstanceOrClass
    def load_result(target: _Files) -> _Result:
        """The stored result (raises FileNotFoundError if there is none)."""
        with open(target.result_storage, "rb") as handle:
            result: _Result = pickle.load(handle)
            return result

    @_BoundToInstanceOrClass
    def delete_setup(target: _Files) -> None:
        """Remove the queued messages."""
        try:
            os.unlink(target.setup_storage)
        except OSError:
            pass

    @_BoundToInstanceOrClass
    def delete_result(target: _Files) -> None:
        """Remove the stored result."""
        try:
            os.unlink(target.result_storage)
        except OSError:
            pass


class DaphneTestingInstance(BaseDaphneTestingInstance):
    """A test server running :class:`TestApplication` with its own private files."""

    application: TestApplication

    # Any: passed on as they are to BaseDaphneTestingInstance (Daphne's *args, **kwargs signature).
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.lock = multiprocessing.Lock()
        self.storage_dir = tempfile.mkdtemp(prefix="daphne-testing-")
        super().__init__(
            *args,
            **kwargs,
            application=TestApplication(lock=self.lock, storage_dir=self.storage_dir),
        )

    def __enter__(self) -> Self:
        self.application.delete_setup()
        self.application.delete_result()
        return super().__enter__()

    def __exit__(self, exc_type: object, exc_value: object, traceback: object) -> None:
        super().__exit__(exc_type, exc_value, traceback)
        self.application.delete_setup()
        self.application.delete_result()

    def __del__(self) -> None:
        shutil.rmtree(getattr(self, "storage_dir", ""), ignore_errors=True)

    def get_received(self) -> tuple[Scope, list[Message]]:
        """``(scope, messages)`` the application received so far; re-raises its exception."""
        try:
            with self.lock:
                inner_result = self.application.load_result()
        except FileNotFoundError:
            raise ValueError("No results available yet.") from None
        if "exception" in inner_result:
            raise inner_result["exception"]
        return inner_result["scope"], inner_result["messages"]

    def add_send_messages(self, messages: list[Message]) -> None:
        """Queue messages the application sends after it next receives something."""
        self.application.save_setup(response_messages=messages)


class DaphneProcess(multiprocessing.Process):
    """A process running a server, publishing the port it listens on.

    :ivar port: ``multiprocessing.Value("i")``: the port (set once listening).
    :ivar ready: ``multiprocessing.Event`` set once listening.
    :ivar errors: ``multiprocessing.Queue`` of ``(exception, traceback text)``.
    """

    def __init__(
        self,
        host: str,
        get_application: Callable[[], ASGIApp],
        kwargs: dict[str, Any] | None = None,  # Any: Server keywords of several types
        setup: Callable[[], None] | None = None,
        teardown: Callable[[], None] | None = None,
        port: int | None = None,
    ) -> None:
        super().__init__()
        self.host = host
        self.get_application = get_application
        self.kwargs = kwargs or {}
        self.setup = setup
        self.teardown = teardown
        self.port: Synchronized[int] = multiprocessing.Value("i", port if port is not None else 0)
        self.ready: Event = multiprocessing.Event()
        self.errors: Queue[tuple[BaseException, str]] = multiprocessing.Queue()
        self.server: Server

    def run(self) -> None:
        # A forked child must not reuse the parent's event loop (kqueue is not
        # inherited on macOS; spawn starts with none): install a fresh reactor.
        _reinstall_reactor()

        from twisted.internet import reactor

        from .endpoints import build_endpoint_description_strings
        from .server import Server

        application = self.get_application()
        try:
            endpoints = build_endpoint_description_strings(host=self.host, port=self.port.value)
            self.server = Server(
                application=application,
                endpoints=endpoints,
                signal_handlers=False,
                **self.kwargs,
            )
            reactor.callLater(0, self.resolve_port)
            if self.setup is not None:
                self.setup()
            try:
                self.server.run()
            finally:
                if self.teardown is not None:
                    self.teardown()
            if self.server.abort_start:
                raise RuntimeError(f"Daphne could not listen on {endpoints}")
        except BaseException as error:
            self.errors.put((error, traceback.format_exc()))

    def resolve_port(self) -> None:
        from twisted.internet import reactor

        if self.server.listening_addresses:
            self.port.value = self.server.listening_addresses[0][1]
            self.ready.set()
        else:
            reactor.callLater(0.05, self.resolve_port)


def _reinstall_reactor() -> None:
    """Replace any installed reactor with a fresh asyncio reactor on a new loop.

    The reactor is the one ``daphne`` installs (:class:`daphne._asyncio_reactor.DaphneReactor`,
    an ``AsyncioSelectorReactor``), on a standard-library loop as Daphne's was.
    """
    import asyncio
    import sys

    from . import _asyncio_reactor

    if "twisted.internet.reactor" in sys.modules:
        del sys.modules["twisted.internet.reactor"]
    # daphne.server bound the old reactor at import; import it again later.
    if "daphne.server" in sys.modules:
        del sys.modules["daphne.server"]
    event_loop = asyncio.new_event_loop()
    _asyncio_reactor.install(event_loop)
    asyncio.set_event_loop(event_loop)
