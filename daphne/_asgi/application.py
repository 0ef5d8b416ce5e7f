"""One application instance per HTTP request or WebSocket connection.

``ApplicationInstance`` owns the app's asyncio task, its receive queue, the
``send`` wrapper (a no-op once the connection is gone), the
application-close-timeout timer (one ``callLater`` per instance, no polling
sweep) and the report of how the app ended.  ``InstanceRegistry`` tracks the
live ones so that shutdown can cancel them all.

Theory of operation:

* Rule 1: the protocol feeds messages with :meth:`ApplicationInstance.put`;
  ``receive`` returns them in order, and once :meth:`close` was called and
  the queue is empty it returns the protocol's final message (e.g.
  ``http.disconnect``) exactly once; a later ``receive`` waits until the
  application-close timeout cancels the app (so a naive ``while True:
  await receive()`` loop never spins).
* Rule 2: after :meth:`close`, ``send`` returns without doing anything, and the
  app has ``application_close_timeout`` seconds to return before it is
  cancelled.
* Rule 3: when the task ends, ``on_exit(exception)`` is called exactly once
  (``None`` for a clean return or a cancellation); a finished instance drops
  every reference to its protocol.

Covered by ``tests/unit/test_application.py``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from .._types import Clock, KeywordASGIApp, Message, Scope, Timer

logger = logging.getLogger("daphne.server")

__all__ = ["ApplicationInstance", "InstanceRegistry"]

#: Marks that the final message (``http.disconnect``...) was already received.
_DELIVERED: Message = {"type": "delivered"}
SendHandler = Callable[[Message], "Awaitable[None] | None"]
ExitHandler = Callable[["BaseException | None"], None]


class InstanceRegistry:
    """The set of running application instances (replaces Daphne's dict)."""

    def __init__(self) -> None:
        self.instances: set[ApplicationInstance] = set()
        self._empty_waiters: list[asyncio.Future[None]] = []

    def __len__(self) -> int:
        return len(self.instances)

    def discard(self, instance: ApplicationInstance) -> None:
        """Forget a finished instance; wake :meth:`wait_empty` callers when none are left."""
        self.instances.discard(instance)
        if not self.instances:
            waiters, self._empty_waiters = self._empty_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def wait_empty(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until no instance runs; True if none does."""
        if not self.instances:
            return True
        waiter = asyncio.get_running_loop().create_future()
        self._empty_waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except asyncio.TimeoutError:
            return False
        return True

    def cancel_all(self) -> list[asyncio.Task[None]]:
        """Cancel every unfinished instance; return their tasks to wait on."""
        tasks = []
        for instance in list(self.instances):
            task = instance.task
            if task is not None and not task.done():
                task.cancel()
                tasks.append(task)
        return tasks


class ApplicationInstance:
    """A running ASGI application call and its plumbing.

    :ivar scope: the scope the app was called with.
    :ivar task: the asyncio task running the app.
    :ivar closed: whether the connection side is over (sends are dropped).
    """

    __slots__ = (
        "_clock",
        "_close_message",
        "_close_timeout",
        "_close_timer",
        "_on_exit",
        "_on_first_receive",
        "_on_receive",
        "_queue",
        "_registry",
        "_send_handler",
        "_waiter",
        "closed",
        "scope",
        "task",
    )

    def __init__(
        self,
        scope: Scope,
        send_handler: SendHandler,
        on_exit: ExitHandler,
        clock: Clock,
        close_timeout: float,
        registry: InstanceRegistry | None = None,
        on_receive: Callable[[Message], None] | None = None,
        on_first_receive: Callable[[], None] | None = None,
    ) -> None:
        self.scope = scope
        self._send_handler: SendHandler | None = send_handler
        self._on_exit: ExitHandler | None = on_exit
        self._on_receive = on_receive
        self._on_first_receive = on_first_receive
        self._clock = clock
        self._close_timeout = close_timeout
        self._registry = registry
        self._queue: deque[Message] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._close_message: Message | None = None
        self._close_timer: Timer | None = None
        self.closed = False
        self.task: asyncio.Task[None] | None = None

    def start(self, application: KeywordASGIApp, loop: asyncio.AbstractEventLoop) -> None:
        """Call the application and run it as a task on ``loop``."""
        coroutine = application(scope=self.scope, receive=self.receive, send=self.send)
        self.task = task = loop.create_task(coroutine)
        task.add_done_callback(self._task_done)
        if self._registry is not None:
            self._registry.instances.add(self)

    def __repr__(self) -> str:
        return f"<application instance for {_describe(self.scope)}>"

    # -- the protocol side ---------------------------------------------------

    def put(self, message: Message) -> None:
        """Queue a message for the app's ``receive``."""
        self._queue.append(message)
        if self._waiter is not None:
            self._wake()

    def put_all(self, messages: list[Message]) -> None:
        """Queue ``messages``, in order, for the app's ``receive``."""
        self._queue.extend(messages)
        if self._waiter is not None:
            self._wake()

    def _wake(self) -> None:
        """Resume the app's ``receive``, which waits for a message."""
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def pending(self) -> bool:
        """Whether messages are queued that the app has not received yet."""
        return bool(self._queue)

    def close(self, final_message: Message) -> None:
        """The connection is over: drop sends, answer ``receive`` with ``final_message``.

        Starts the application-close-timeout timer if the app is still running.
        """
        if self.closed:
            return
        self.closed = True
        self._close_message = final_message
        self._send_handler = None
        if self._waiter is not None:
            self._wake()
        task = self.task
        if task is not None and not task.done() and self._close_timeout is not None:
            # Most apps return right after their last send; arming the timer one
            # loop iteration later skips a timer per request for them.
            task.get_loop().call_soon(self._arm_close_timer)

    def _arm_close_timer(self) -> None:
        task = self.task
        if task is not None and not task.done() and self._close_timer is None:
            self._close_timer = self._clock.callLater(self._close_timeout, self._kill)

    def cancel(self) -> None:
        """Cancel the app's task now."""
        task = self.task
        if task is not None and not task.done():
            task.cancel()

    # -- the application side ------------------------------------------------

    async def receive(self) -> Message:
        """The ``receive`` awaitable handed to the app."""
        if self._on_first_receive is not None:
            callback, self._on_first_receive = self._on_first_receive, None
            callback()
        queue = self._queue
        while True:
            if queue:
                message = queue.popleft()
                on_receive = self._on_receive
                if on_receive is not None:
                    on_receive(message)
                return message
            final = self._close_message
            if final is not None:
                if final is _DELIVERED:
                    # Told once already (as Daphne does): wait, until the
                    # application-close timeout cancels the app.
                    await asyncio.get_running_loop().create_future()
                self._close_message = _DELIVERED
                return final
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            try:
                await waiter
            finally:
                if self._waiter is waiter:
                    self._waiter = None

    async def send(self, message: Message) -> None:
        """The ``send`` awaitable handed to the app."""
        handler = self._send_handler
        if handler is None:
            return
        try:
            pending = handler(message)
        except ValueError as error:
            # ApplicationMessageError and header checks: the app sent something invalid.
            logger.error("Invalid ASGI message from the application: %s", error)
            raise
        if pending is not None:
            await pending

    # -- lifecycle -----------------------------------------------------------

    def _kill(self) -> None:
        self._close_timer = None
        task = self.task
        if task is not None and not task.done():
            logger.warning(
                "Application instance %r for connection %s took too long to shut down "
                "and was killed.",
                task,
                _describe(self.scope),
            )
            task.cancel()

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if self._close_timer is not None:
            if self._close_timer.active():
                self._close_timer.cancel()
            self._close_timer = None
        if self._registry is not None:
            self._registry.discard(self)
        exception: BaseException | None = None
        if not task.cancelled():
            exception = task.exception()
            if exception is not None:
                logger.error(
                    "Exception inside application: %s",
                    exception,
                    exc_info=(type(exception), exception, exception.__traceback__),
                )
        on_exit, self._on_exit = self._on_exit, None
        self._send_handler = None
        self._on_receive = None
        self._on_first_receive = None
        if on_exit is not None:
            on_exit(exception)


def _describe(scope: Scope) -> str:
    client = scope.get("client")
    where = f"{client[0]}:{client[1]}" if client else "unix socket"
    return f"{scope.get('type')} {scope.get('path')} from {where}"
