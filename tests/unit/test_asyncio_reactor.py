"""``daphne._asyncio_reactor.DaphneReactor``: readers and writers over real sockets, on each loop.

The reactor registers its own ready callback instead of Twisted's ``callWithLogger`` chain;
these tests hold it to what Twisted's does: ``doRead``/``doWrite`` are called while
registered and not after removal, a selectable that returns a reason, raises, or lost its
descriptor is disconnected (and a raised error logged), and no error reaches the loop.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import pytest
from test_twisted_privates import as_global_reactor  # noqa: F401 - a fixture
from twisted.internet.asyncioreactor import AsyncioSelectorReactor
from twisted.internet.error import ConnectionDone, ConnectionFdescWentAway, ConnectionLost
from twisted.internet.interfaces import IHalfCloseableDescriptor, IReadWriteDescriptor
from twisted.logger import LogEvent, globalLogPublisher
from twisted.python import context, log
from twisted.python.failure import Failure
from zope.interface import implementer

from daphne._asyncio_reactor import DaphneReactor
from daphne._reactor import LoopUnavailable, new_event_loop

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="posix reactor only")


@pytest.fixture(params=["asyncio", "uvloop"])
def reactor(request: pytest.FixtureRequest) -> Iterator[DaphneReactor]:
    """A DaphneReactor on a new loop of each kind, not installed."""
    try:
        loop = new_event_loop(request.param)
    except LoopUnavailable:
        pytest.skip("uvloop is not installed")
    loop_errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda loop, error: loop_errors.append(error))
    made = DaphneReactor(loop)
    yield made
    made.removeAll()
    made.waker.connectionLost(None)  # PosixReactorBase's waker pipe
    loop.close()
    assert loop_errors == [], "an error escaped into the event loop"


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    yield ours, peer
    ours.close()
    peer.close()


@pytest.fixture
def logged() -> Iterator[list[LogEvent]]:
    """Twisted log events emitted meanwhile (failures the reactor logs)."""
    events: list[LogEvent] = []
    globalLogPublisher.addObserver(events.append)
    yield events
    globalLogPublisher.removeObserver(events.append)


def failures(events: list[LogEvent]) -> list[Failure]:
    """The failures logged (Twisted's own callback logs some with the legacy ``log.err``)."""
    found = (event.get("log_failure") or event.get("failure") for event in events)
    return [failure for failure in found if failure is not None]


class End(Protocol):
    """What a Selectable reads from: a socket, or a stand-in for a regular file."""

    def fileno(self) -> int: ...

    def recv(self, size: int) -> bytes: ...


@implementer(IReadWriteDescriptor)
class Selectable:
    """A reader/writer over one end of a socket pair, recording what the reactor does to it."""

    def __init__(self, sock: End) -> None:
        self.sock = sock
        self.gone = False  # fileno() answers -1, as a closed Twisted transport does
        self.received: list[bytes] = []
        self.contexts: list[object] = []
        self.writes = 0
        self.lost: list[Failure] = []
        self.on_read: Callable[[], object] = lambda: None
        self.on_write: Callable[[], object] = lambda: None

    def fileno(self) -> int:
        return -1 if self.gone else self.sock.fileno()

    def logPrefix(self) -> str:
        return "Selectable"

    def doRead(self) -> object:
        self.contexts.append(context.get(log.ILogContext, {}).get("system"))
        try:
            self.received.append(self.sock.recv(65536))
        except BlockingIOError:
            pass
        return self.on_read()

    def doWrite(self) -> object:
        self.writes += 1
        return self.on_write()

    def connectionLost(self, reason: Failure) -> None:
        self.lost.append(reason)


@implementer(IHalfCloseableDescriptor)
class HalfCloseable(Selectable):
    def __init__(self, sock: End) -> None:
        super().__init__(sock)
        self.read_lost: list[Failure] = []

    def readConnectionLost(self, reason: Failure) -> None:
        self.read_lost.append(reason)

    def writeConnectionLost(self, reason: Failure) -> None:  # pragma: no cover - not called
        pass


def run_until(reactor: DaphneReactor, done: Callable[[], object], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out waiting on the reactor"
        reactor.iterate(0)


def turns(reactor: DaphneReactor, count: int = 3) -> None:
    for _ in range(count):
        reactor.iterate(0)


def test_is_twisteds_asyncio_reactor() -> None:
    assert issubclass(DaphneReactor, AsyncioSelectorReactor)


def test_reader_is_called_without_the_legacy_log_context(
    reactor: DaphneReactor, pair: tuple[socket.socket, socket.socket]
) -> None:
    ours, peer = pair
    reader = Selectable(ours)
    reactor.addReader(reader)
    reactor.addReader(reader)  # a second add is a no-op
    assert reactor.getReaders().count(reader) == 1
    peer.sendall(b"hello")
    run_until(reactor, lambda: reader.received)
    assert reader.received == [b"hello"]
    # Twisted's own callback would have set the log "system" to the reader's logPrefix().
    assert reader.contexts == ["-"]
    peer.sendall(b"again")
    run_until(reactor, lambda: len(reader.received) == 2)
    assert reader.received[1] == b"again"
    assert reader.lost == []


def test_remove_reader_stops_the_calls(
    reactor: DaphneReactor, pair: tuple[socket.socket, socket.socket]
) -> None:
    ours, peer = pair
    reader = Selectable(ours)
    reactor.addReader(reader)
    reactor.removeReader(reader)
    reactor.removeReader(reader)  # removing what is not there is fine
    assert reader not in reactor.getReaders()
    peer.sendall(b"ignored")
    turns(reactor)
    assert reader.received == []
    # And it can come back.
    reactor.addReader(reader)
    run_until(reactor, lambda: reader.received)
    assert reader.received == [b"ignored"]


@pytest.mark.parametrize("why", [ConnectionDone(), ConnectionLost(), ValueError("boom")])
def test_a_read_that_returns_a_reason_disconnects(
    reactor: DaphneReactor,
    pair: tuple[socket.socket, socket.socket],
    logged: list[LogEvent],
    why: Exception,
) -> None:
    ours, peer = pair
    reader = Selectable(ours)
    reader.on_read = lambda: why
    reactor.addReader(reader)
    reactor.addWriter(reader)  # stays a writer (doWrite does nothing) until disconnected
    peer.sendall(b"x")
    run_until(reactor, lambda: reader.lost)
    assert len(reader.lost) == 1
    assert reader.lost[0].check(type(why))
    assert reader not in reactor.getReaders() and reader not in reactor.getWriters()
    assert failures(logged) == []


def test_a_read_that_raises_disconnects_and_is_logged(
    reactor: DaphneReactor, pair: tuple[socket.socket, socket.socket], logged: list[LogEvent]
) -> None:
    ours, peer = pair
    broken = Selectable(ours)

    def fail() -> object:
        raise RuntimeError("doRead broke")

    broken.on_read = fail
    reactor.addReader(broken)
    peer.sendall(b"x")
    run_until(reactor, lambda: broken.lost)
    assert len(broken.lost) == 1 and broken.lost[0].check(RuntimeError)
    assert broken not in reactor.getReaders()
    logged_failures = failures(logged)
    assert len(logged_failures) == 1 and logged_failures[0].check(RuntimeError)
    # The loop goes on serving others.
    other_ours, other_peer = socket.socketpair()
    with other_ours, other_peer:
        other_ours.setblocking(False)
        healthy = Selectable(other_ours)
        reactor.addReader(healthy)
        other_peer.sendall(b"y")
        run_until(reactor, lambda: healthy.received)
        reactor.removeReader(healthy)
    assert healthy.received == [b"y"]


def test_an_error_while_disconnecting_is_logged_and_kept_from_the_loop(
    reactor: DaphneReactor, pair: tuple[socket.socket, socket.socket], logged: list[LogEvent]
) -> None:
    ours, peer = pair
    reader = Selectable(ours)
    reader.on_read = lambda: ConnectionLost()

    def lost_badly(reason: Failure) -> None:
        reader.lost.append(reason)
        raise KeyError("connectionLost broke")

    reader.connectionLost = lost_badly  # type: ignore[method-assign]
    reactor.addReader(reader)
    peer.sendall(b"x")
    run_until(reactor, lambda: reader.lost)
    turns(reactor)
    logged_failures = failures(logged)
    assert len(logged_failures) == 1 and logged_failures[0].check(KeyError)
    assert len(reader.lost) == 1  # removed before connectionLost: not called again


def test_a_lost_descriptor_disconnects(
    reactor: DaphneReactor, pair: tuple[socket.socket, socket.socket]
) -> None:
    ours, peer = pair
    reader = Selectable(ours)
    reactor.addReader(reader)
    reader.gone = True
    peer.sendall(b"x")
    run_until(reactor, lambda: reader.lost)
    assert reader.lost[0].check(ConnectionFdescWentAway)
    assert reader.received == []
    assert reactor.getReaders().count(reader) == 0
    # The descriptor it was registered under was released: a new reader on it is called.
    again = Selectable(ours)
    reactor.addReader(again)
    run_until(reactor, lambda: again.received)


def test_connection_done_half_closes_a_half_closeable_reader(
    reactor: DaphneReactor, pair: tuple[socket.socket, socket.socket]
) -> None:
    ours, peer = pair
    reader = HalfCloseable(ours)
    reader.on_read = lambda: ConnectionDone()
    reactor.addReader(reader)
    reactor.addWriter(reader)  # stays a writer: only the read side closes
    peer.sendall(b"x")
    run_until(reactor, lambda: reader.read_lost)
    assert reader.read_lost[0].check(ConnectionDone)
    assert reader.lost == []
    assert reader not in reactor.getReaders() and reader in reactor.getWriters()


def test_writer_is_called_until_removed(
    reactor: DaphneReactor, pair: tuple[socket.socket, socket.socket]
) -> None:
    ours, peer = pair
    writer = Selectable(ours)

    def write_once() -> None:
        ours.send(b"from the writer")
        reactor.removeWriter(writer)

    writer.on_write = write_once
    reactor.addWriter(writer)
    reactor.addWriter(writer)  # a second add is a no-op
    assert reactor.getWriters().count(writer) == 1
    run_until(reactor, lambda: writer.writes)
    assert peer.recv(100) == b"from the writer"
    turns(reactor)
    assert writer.writes == 1
    assert writer not in reactor.getWriters()


@pytest.mark.parametrize("fail", ["return", "raise"])
def test_a_failing_write_disconnects(
    reactor: DaphneReactor,
    pair: tuple[socket.socket, socket.socket],
    logged: list[LogEvent],
    fail: str,
) -> None:
    ours, _ = pair
    writer = Selectable(ours)

    def broken() -> object:
        if fail == "raise":
            raise OSError("doWrite broke")
        return ConnectionLost()

    writer.on_write = broken
    reactor.addReader(writer)
    reactor.addWriter(writer)
    run_until(reactor, lambda: writer.lost)
    assert writer.lost[0].check(OSError if fail == "raise" else ConnectionLost)
    assert writer not in reactor.getWriters() and writer not in reactor.getReaders()
    assert [failure.type for failure in failures(logged)] == ([OSError] if fail == "raise" else [])


class FileEnd:
    def __init__(self, file: BinaryIO) -> None:
        self.file = file

    def fileno(self) -> int:
        return self.file.fileno()

    def recv(self, size: int) -> bytes:
        return self.file.read(size)


@pytest.mark.usefixtures("as_global_reactor")
def test_a_regular_file_is_polled(reactor: DaphneReactor, tmp_path: Path) -> None:
    """The loop cannot watch a regular file; it is polled, as Twisted does."""
    path = tmp_path / "data"
    path.write_bytes(b"file contents")
    with open(path, "rb") as file:
        reader = Selectable(FileEnd(file))
        reactor.addReader(reader)
        reactor.addReader(reader)  # a second add is a no-op here too
        assert reactor.getReaders().count(reader) == 1
        run_until(reactor, lambda: reader.received)
        assert reader.received[0] == b"file contents"
        reactor.removeReader(reader)
        assert reader not in reactor.getReaders()
        calls = len(reader.contexts)
        turns(reactor)
        assert len(reader.contexts) == calls


@pytest.mark.usefixtures("as_global_reactor")
def test_a_regular_file_writer_is_polled(reactor: DaphneReactor, tmp_path: Path) -> None:
    with open(tmp_path / "out", "wb") as file:
        writer = Selectable(FileEnd(file))
        reactor.addWriter(writer)
        assert writer in reactor.getWriters()
        run_until(reactor, lambda: writer.writes)
        reactor.removeWriter(writer)
        assert writer not in reactor.getWriters()
        calls = writer.writes
        turns(reactor)
        assert writer.writes == calls


def run_python(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_daphne_installs_its_reactor() -> None:
    run_python(
        "import daphne.server\n"
        "from twisted.internet import reactor\n"
        "from daphne._asyncio_reactor import DaphneReactor\n"
        "assert type(reactor) is DaphneReactor, reactor\n"
    )


def test_an_installed_asyncio_reactor_is_kept() -> None:
    run_python(
        "import asyncio\n"
        "from twisted.internet import asyncioreactor\n"
        "loop = asyncio.new_event_loop()\n"
        "asyncioreactor.install(loop)\n"
        "from daphne._reactor import install_asyncio_reactor\n"
        "assert install_asyncio_reactor() is loop\n"
        "from twisted.internet import reactor\n"
        "assert type(reactor) is asyncioreactor.AsyncioSelectorReactor, reactor\n"
    )


def test_the_testing_process_reinstalls_daphnes_reactor_on_a_standard_loop() -> None:
    run_python(
        "import asyncio\n"
        "import daphne.server\n"
        "from daphne.testing import _reinstall_reactor\n"
        "from daphne._asyncio_reactor import DaphneReactor\n"
        "before = __import__('twisted.internet.reactor', fromlist=['x'])\n"
        "_reinstall_reactor()\n"
        "from twisted.internet import reactor\n"
        "assert type(reactor) is DaphneReactor and reactor is not before\n"
        "assert type(reactor._asyncioEventloop) is type(asyncio.new_event_loop())\n"
    )


def test_reactor_runs_asyncio_on_its_loop(reactor: DaphneReactor) -> None:
    """Timers still work: the subclass changes the fd callbacks only."""
    ran: list[asyncio.AbstractEventLoop] = []
    reactor.callLater(0, lambda: ran.append(asyncio.get_running_loop()))
    run_until(reactor, lambda: ran)
    assert ran == [reactor._asyncioEventloop]
