"""``ApplicationInstance`` and ``InstanceRegistry`` (daphne/_asgi/application.py), alone.

No socket and no protocol: the app runs on a private asyncio loop that each test
spins a bounded number of times, time is a Twisted ``Clock`` advanced by hand, and
the protocol side is a recording fake.  Each test names the rule of the module's
"Theory of operation" it checks.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import weakref
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from asgiref.compatibility import guarantee_single_callable
from twisted.internet.task import Clock

from daphne._asgi.application import ApplicationInstance, InstanceRegistry
from daphne._errors import ApplicationMessageError

SCOPE: dict[str, Any] = {"type": "http", "path": "/x", "client": ("127.0.0.1", 5000)}
DISCONNECT = {"type": "http.disconnect"}
CLOSE_TIMEOUT = 5.0


class FakeProtocol:
    """The protocol side: records what the app sends and how the instance ended."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.exits: list[BaseException | None] = []
        self.received: list[dict[str, Any]] = []
        self.first_receives = 0
        self.send_result: Awaitable[None] | None = None

    def handle(self, message: dict[str, Any]) -> Awaitable[None] | None:
        if message.get("type") == "invalid":
            raise ApplicationMessageError("expected a valid message, got 'invalid'")
        if message.get("type") == "broken":
            raise RuntimeError("the protocol itself failed")
        self.sent.append(message)
        return self.send_result

    def exited(self, exception: BaseException | None) -> None:
        self.exits.append(exception)

    def on_receive(self, message: dict[str, Any]) -> None:
        self.received.append(message)

    def on_first_receive(self) -> None:
        self.first_receives += 1


class Setup:
    """One instance with its loop, clock, registry and fake protocol."""

    def __init__(self, close_timeout: float | None = CLOSE_TIMEOUT) -> None:
        self.loop = asyncio.new_event_loop()
        self.clock = Clock()
        self.registry = InstanceRegistry()
        self.protocol = FakeProtocol()
        self.instance = ApplicationInstance(
            dict(SCOPE),
            self.protocol.handle,
            self.protocol.exited,
            self.clock,
            close_timeout,  # None: no close timer (ApplicationInstance checks for it)
            self.registry,
            on_receive=self.protocol.on_receive,
            on_first_receive=self.protocol.on_first_receive,
        )

    def start(self, app: Callable[..., Any]) -> ApplicationInstance:
        self.instance.start(app, self.loop)
        return self.instance

    def spin(self, rounds: int = 20) -> None:
        """Let the app's task run (bounded: a fixed number of loop iterations)."""
        for _ in range(rounds):
            self.loop.run_until_complete(asyncio.sleep(0))

    @property
    def running(self) -> bool:
        task = self.instance.task
        return task is not None and not task.done()

    def close(self) -> None:
        tasks = asyncio.all_tasks(self.loop)
        for task in tasks:
            task.cancel()
        if tasks:
            self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self.loop.close()


@pytest.fixture
def setup() -> Iterator[Setup]:
    made = Setup()
    yield made
    made.close()


class Reader:
    """An ASGI 3 app that receives until told to stop, recording what it got."""

    def __init__(self, stop_after: int = 1_000) -> None:
        self.got: list[dict[str, Any]] = []
        self.stop_after = stop_after
        self.called_with: dict[str, Any] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.called_with = {"scope": scope, "receive": receive, "send": send}
        while len(self.got) < self.stop_after:
            self.got.append(await receive())


# -- starting ------------------------------------------------------------------------------


def test_start_calls_the_app_with_keywords_and_registers_it(setup: Setup) -> None:
    """The app is called as ``app(scope=, receive=, send=)`` and runs as a task on the
    given loop; the instance is in the registry while it runs, and leaves it when done."""
    app = Reader(stop_after=1)
    instance = setup.start(app)
    assert instance.task is not None and instance.task.get_loop() is setup.loop
    assert setup.registry.instances == {instance} and len(setup.registry) == 1
    setup.spin()
    assert app.called_with["scope"] is instance.scope
    assert app.called_with["receive"] == instance.receive
    assert app.called_with["send"] == instance.send
    instance.put({"type": "http.request"})
    setup.spin()
    assert not setup.running
    assert len(setup.registry) == 0
    assert setup.protocol.exits == [None]


def test_an_app_that_cannot_be_called_raises_from_start(setup: Setup) -> None:
    """start() lets a synchronous failure through (its caller answers 500): no task, not
    registered, and no exit notification, since nothing ran."""

    def not_asgi(scope: Any) -> None:  # wrong signature: TypeError on the call
        raise AssertionError("never called")

    with pytest.raises(TypeError):
        setup.start(not_asgi)
    assert setup.instance.task is None
    assert len(setup.registry) == 0
    assert setup.protocol.exits == []


def test_a_sync_callable_returning_no_coroutine_raises_from_start(setup: Setup) -> None:
    """An app that returns something other than a coroutine is refused by start()."""
    with pytest.raises(TypeError):
        setup.start(lambda scope, receive, send: None)
    assert len(setup.registry) == 0 and setup.protocol.exits == []


# -- Rule 1: receive ----------------------------------------------------------------------


def test_receive_returns_messages_in_order_put_before_and_while_waiting(setup: Setup) -> None:
    """Messages queued before the app first reads and while it waits arrive in put order."""
    app = Reader(stop_after=4)
    setup.instance.put({"type": "m", "n": 1})
    setup.instance.put({"type": "m", "n": 2})
    setup.start(app)
    setup.spin()
    assert [m["n"] for m in app.got] == [1, 2]
    assert not setup.instance.pending
    setup.instance.put({"type": "m", "n": 3})  # wakes the waiting receive
    assert setup.instance.pending
    setup.instance.put({"type": "m", "n": 4})
    setup.spin()
    assert [m["n"] for m in app.got] == [1, 2, 3, 4]
    assert setup.protocol.received == app.got  # on_receive: every queued message, in order
    assert setup.protocol.first_receives == 1  # on_first_receive: once, at the first call


def test_put_all_queues_in_order_and_wakes_a_waiting_receive(setup: Setup) -> None:
    """put_all is put for each message: same order, one wake-up of a waiting receive."""
    app = Reader(stop_after=5)
    setup.instance.put_all([{"type": "m", "n": 1}, {"type": "m", "n": 2}])
    setup.start(app)
    setup.spin()
    assert [m["n"] for m in app.got] == [1, 2]
    setup.instance.put_all([{"type": "m", "n": 3}, {"type": "m", "n": 4}])
    setup.instance.put({"type": "m", "n": 5})
    setup.spin()
    assert [m["n"] for m in app.got] == [1, 2, 3, 4, 5]
    assert setup.protocol.received == app.got


def test_first_receive_hook_runs_before_any_message_exists(setup: Setup) -> None:
    """on_first_receive fires when the app first calls receive, even with nothing queued
    (HTTP's 100 Continue is sent then)."""
    setup.start(Reader())
    assert setup.protocol.first_receives == 0
    setup.spin()
    assert setup.protocol.first_receives == 1
    assert setup.protocol.received == []
    assert setup.running


def test_final_message_comes_after_the_queue_then_exactly_once(setup: Setup) -> None:
    """After close(): queued messages first, then the final message once; a further
    receive waits (no busy loop) until the close timeout cancels the app."""
    app = Reader()
    setup.start(app)
    setup.spin()
    setup.instance.put({"type": "http.request", "body": b"a"})
    setup.instance.close(DISCONNECT)
    setup.instance.close({"type": "second close is ignored"})
    setup.spin()
    assert app.got == [{"type": "http.request", "body": b"a"}, DISCONNECT]
    assert setup.protocol.received == [{"type": "http.request", "body": b"a"}]
    assert setup.running  # waiting in its third receive
    setup.clock.advance(CLOSE_TIMEOUT)
    setup.spin()
    assert not setup.running and setup.instance.task is not None
    assert setup.instance.task.cancelled()
    assert setup.protocol.exits == [None]
    assert len(app.got) == 2


def test_close_wakes_a_waiting_receive(setup: Setup) -> None:
    """An app blocked in receive gets the final message as soon as close() is called."""
    app = Reader(stop_after=1)
    setup.start(app)
    setup.spin()
    assert app.got == []
    setup.instance.close(DISCONNECT)
    assert setup.instance.closed
    setup.spin()
    assert app.got == [DISCONNECT]
    assert setup.protocol.exits == [None]


# -- Rule 2: send ----------------------------------------------------------------------


def test_send_reaches_the_handler_and_waits_for_its_awaitable(setup: Setup) -> None:
    """send() passes each message to the protocol and, when the protocol returns an
    awaitable (write backpressure), does not return before it completes."""
    gate = setup.loop.create_future()
    setup.protocol.send_result = gate
    progress: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "first"})
        progress.append("first sent")

    setup.start(app)
    setup.spin()
    assert setup.protocol.sent == [{"type": "first"}]
    assert progress == []  # still waiting for the protocol to drain
    gate.set_result(None)
    setup.spin()
    assert progress == ["first sent"]
    assert setup.protocol.exits == [None]


def test_send_after_close_is_dropped_silently(setup: Setup) -> None:
    """Once the connection is over, send() returns without calling the protocol or raising."""
    outcome: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200})
        outcome.append("no error")

    setup.start(app)
    setup.spin()
    setup.instance.close(DISCONNECT)
    setup.spin()
    assert setup.protocol.sent == []
    assert outcome == ["no error"]
    assert setup.protocol.exits == [None]


def test_an_invalid_message_raises_into_the_app_and_is_logged(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    """A ValueError from the protocol (ApplicationMessageError) reaches the app's send and
    is logged; an app that catches it goes on."""
    caught: list[BaseException] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            await send({"type": "invalid"})
        except ValueError as error:
            caught.append(error)
        await send({"type": "after"})

    with caplog.at_level(logging.ERROR, logger="daphne.server"):
        setup.start(app)
        setup.spin()
    assert len(caught) == 1 and isinstance(caught[0], ApplicationMessageError)
    assert "Invalid ASGI message from the application" in caplog.text
    assert setup.protocol.sent == [{"type": "after"}]
    assert setup.protocol.exits == [None]


# -- Rule 2: the application-close timeout -----------------------------------------------


def test_close_timeout_cancels_a_lingering_app_and_says_so(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    """An app still running close_timeout seconds after close() is cancelled, with a
    warning naming the connection; not a moment earlier."""
    cancelled: list[bool] = []

    async def linger(scope: Any, receive: Any, send: Any) -> None:
        try:
            await asyncio.get_running_loop().create_future()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    setup.start(linger)
    setup.spin()
    setup.instance.close(DISCONNECT)
    setup.spin()
    setup.clock.advance(CLOSE_TIMEOUT - 0.01)
    setup.spin()
    assert setup.running and cancelled == []
    with caplog.at_level(logging.WARNING, logger="daphne.server"):
        setup.clock.advance(0.01)
        setup.spin()
    assert cancelled == [True]
    assert "took too long to shut down" in caplog.text and "/x" in caplog.text
    assert setup.protocol.exits == [None]  # a cancellation is not an error
    assert setup.clock.getDelayedCalls() == []


def test_no_timer_for_an_app_that_returns_at_once(setup: Setup) -> None:
    """An app that returns right after its last message needs no close timer at all."""
    setup.start(Reader(stop_after=1))
    setup.spin()
    setup.instance.close(DISCONNECT)
    setup.spin()
    assert setup.protocol.exits == [None]
    assert setup.clock.getDelayedCalls() == []


def test_an_armed_timer_is_cancelled_when_the_app_ends_in_time(setup: Setup) -> None:
    """An app that ends before its close timeout leaves no timer behind."""
    release = setup.loop.create_future()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await release

    setup.start(app)
    setup.spin()
    setup.instance.close(DISCONNECT)
    setup.spin()
    assert len(setup.clock.getDelayedCalls()) == 1
    release.set_result(None)
    setup.spin()
    assert setup.clock.getDelayedCalls() == []
    assert setup.protocol.exits == [None]
    setup.clock.advance(CLOSE_TIMEOUT * 2)  # nothing fires late


def test_close_timeout_none_never_cancels() -> None:
    """close_timeout None: no timer; the app may run on after the connection ended."""
    setup = Setup(close_timeout=None)
    try:
        setup.start(Reader())
        setup.spin()
        setup.instance.close(DISCONNECT)
        setup.spin()
        assert setup.clock.getDelayedCalls() == []
        assert setup.running
    finally:
        setup.close()


# -- Rule 3: how the app ended ----------------------------------------------------------


async def raising_app(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    raise RuntimeError("app failed")


class ASGI2Raising:
    """An ASGI 2 (double-callable) app whose instance raises."""

    def __init__(self, scope: Any) -> None:
        self.scope = scope

    async def __call__(self, receive: Any, send: Any) -> None:
        await receive()
        raise RuntimeError("app failed")


class ASGI2RaisingInConstructor:
    """An ASGI 2 app that fails while being instantiated with the scope."""

    def __init__(self, scope: Any) -> None:
        raise RuntimeError("app failed")

    async def __call__(self, receive: Any, send: Any) -> None:  # pragma: no cover
        raise AssertionError("never called")


@pytest.mark.parametrize(
    "app",
    [raising_app, ASGI2Raising, ASGI2RaisingInConstructor],
    ids=["asgi3", "asgi2", "asgi2-constructor"],
)
def test_app_exceptions_are_reported_once(
    setup: Setup, caplog: pytest.LogCaptureFixture, app: Any
) -> None:
    """An exception that ends the app (ASGI 3, or ASGI 2 made single-callable as the
    server does) is logged with its traceback and handed to on_exit, once."""
    with caplog.at_level(logging.ERROR, logger="daphne.server"):
        setup.start(guarantee_single_callable(app))
        setup.instance.put({"type": "http.request"})
        setup.spin()
    [exception] = setup.protocol.exits
    assert isinstance(exception, RuntimeError) and str(exception) == "app failed"
    [record] = [r for r in caplog.records if "Exception inside application" in r.getMessage()]
    assert record.exc_info is not None and record.exc_info[1] is exception
    assert len(setup.registry) == 0


def test_asgi2_app_gets_scope_then_receive_and_send(setup: Setup) -> None:
    """An ASGI 2 app made single-callable receives the queued messages and can send."""

    class Echo:
        def __init__(self, scope: Any) -> None:
            self.path = scope["path"]

        async def __call__(self, receive: Any, send: Any) -> None:
            message = await receive()
            await send({"type": "echo", "path": self.path, "got": message["type"]})

    setup.start(guarantee_single_callable(Echo))
    setup.instance.put({"type": "http.request"})
    setup.spin()
    assert setup.protocol.sent == [{"type": "echo", "path": "/x", "got": "http.request"}]
    assert setup.protocol.exits == [None]


def test_a_protocol_failure_in_send_ends_the_app_with_that_error(setup: Setup) -> None:
    """An exception that is not a ValueError from the protocol's send handler goes
    through the app (which does not expect it) and is reported as the app's exit."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "broken"})

    setup.start(app)
    setup.spin()
    [exception] = setup.protocol.exits
    assert isinstance(exception, RuntimeError)


@pytest.mark.parametrize("when", ["before-it-runs", "while-waiting"])
def test_cancel_ends_the_app_with_a_clean_notification(setup: Setup, when: str) -> None:
    """cancel() (shutdown, a timeout) ends the app; on_exit(None) fires even when the task
    never got to run."""
    setup.start(Reader())
    if when == "while-waiting":
        setup.spin()
    setup.instance.cancel()
    setup.spin()
    assert not setup.running
    assert setup.protocol.exits == [None]
    setup.instance.cancel()  # a second cancel is harmless
    setup.spin()
    assert setup.protocol.exits == [None]


def test_an_app_raising_cancelled_error_itself_is_a_clean_end(setup: Setup) -> None:
    """asyncio.CancelledError from the app counts as a cancellation, not an exception."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise asyncio.CancelledError

    setup.start(app)
    setup.spin()
    assert setup.protocol.exits == [None]


def test_a_finished_instance_holds_no_reference_to_its_protocol() -> None:
    """Once the app ended, the instance keeps nothing of the protocol alive (Rule 3), so
    a finished request is freed by reference counting."""
    setup = Setup()
    try:
        protocol = FakeProtocol()
        instance = ApplicationInstance(
            dict(SCOPE),
            protocol.handle,
            protocol.exited,
            setup.clock,
            CLOSE_TIMEOUT,
            setup.registry,
            on_receive=protocol.on_receive,
            on_first_receive=protocol.on_first_receive,
        )
        instance.start(Reader(stop_after=1), setup.loop)
        instance.put({"type": "http.request"})
        setup.spin()
        assert protocol.exits == [None]
        gone = weakref.ref(protocol)
        del protocol
        gc.disable()  # reference counting alone must free it
        try:
            assert gone() is None
        finally:
            gc.enable()
        assert instance.task is not None and instance.task.done()
    finally:
        setup.close()


def test_repr_names_the_connection(setup: Setup) -> None:
    assert repr(setup.instance) == "<application instance for http /x from 127.0.0.1:5000>"


# -- InstanceRegistry ----------------------------------------------------------------------


def test_registry_cancel_all_and_wait_empty() -> None:
    """cancel_all() cancels every running instance and returns their tasks; wait_empty()
    answers True once none is left, False when one outlives the timeout."""
    loop = asyncio.new_event_loop()
    clock = Clock()
    registry = InstanceRegistry()
    exits: list[BaseException | None] = []
    instances = [
        ApplicationInstance(dict(SCOPE), lambda m: None, exits.append, clock, 1.0, registry)
        for _ in range(3)
    ]
    try:
        for instance in instances:
            instance.start(Reader(), loop)
        loop.run_until_complete(asyncio.sleep(0))
        assert len(registry) == 3
        assert loop.run_until_complete(registry.wait_empty(0.01)) is False
        tasks = registry.cancel_all()
        assert len(tasks) == 3
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        assert exits == [None, None, None]
        assert len(registry) == 0
        assert loop.run_until_complete(registry.wait_empty(0.01)) is True
        assert registry.cancel_all() == []
    finally:
        loop.close()


def test_registry_wait_empty_wakes_when_the_last_instance_ends() -> None:
    """A wait_empty() in progress returns True as soon as the last instance finishes."""
    loop = asyncio.new_event_loop()
    registry = InstanceRegistry()
    instance = ApplicationInstance(
        dict(SCOPE), lambda m: None, lambda e: None, Clock(), 1.0, registry
    )
    try:
        instance.start(Reader(stop_after=1), loop)

        async def wait_then_feed() -> bool:
            waiting = asyncio.ensure_future(registry.wait_empty(60))
            await asyncio.sleep(0)
            instance.put({"type": "http.request"})
            return await waiting

        assert loop.run_until_complete(asyncio.wait_for(wait_then_feed(), 5)) is True
    finally:
        loop.close()
