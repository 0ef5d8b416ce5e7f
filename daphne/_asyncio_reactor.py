"""The reactor Daphne installs: Twisted's asyncio reactor with a cheaper socket-ready callback.

Twisted's ``AsyncioSelectorReactor`` hands the loop ``callWithLogger(selectable,
_readOrWrite, ...)`` for every reader and writer, so each readiness event (at least one per
request) asks the selectable for its ``logPrefix()``, copies the legacy log context into a
new dict and pushes it on Twisted's context stack, all so that legacy ``log.msg`` calls made
meanwhile carry a ``system`` key.  Daphne logs with :mod:`logging`, and the observer it gives
Twisted (``STDLibLogObserver``) does not show ``system``; that work bought nothing and cost
about 6% of a small request's server time.

:class:`DaphneReactor` registers :meth:`DaphneReactor._ready` instead, which does what
``_readOrWrite`` and ``callWithLogger`` do together, minus the context: a selectable whose
descriptor is gone, or whose ``doRead``/``doWrite`` returns a reason or raises, is
disconnected the way Twisted disconnects it; a raised error is logged; nothing but
``KeyboardInterrupt`` escapes into the event loop.  Everything else (removing readers and
writers, ``removeAll``, the continuous polling of regular files that the loop cannot watch,
timers) is Twisted's, unchanged: the bookkeeping :meth:`addReader` and :meth:`addWriter`
keep is the one Twisted's ``removeReader``/``removeWriter`` read.

Twisted privates used here, each because ``AsyncioSelectorReactor`` offers no public hook for
the callback it registers and the subclass must keep Twisted's own bookkeeping for the
methods it inherits: ``_asyncioEventloop``, ``_readers``, ``_writers``,
``_continuousPolling``, ``_unregisterFDInAsyncio`` and ``_disconnectSelectable``.  All are
checked by ``tests/unit/test_twisted_privates.py``; behaviour is covered by
``tests/unit/test_asyncio_reactor.py``.
"""

from __future__ import annotations

import asyncio
import errno
from typing import TYPE_CHECKING, Any

from twisted.internet.asyncioreactor import AsyncioSelectorReactor
from twisted.internet.error import ConnectionFdescWentAway
from twisted.internet.interfaces import IReadDescriptor, IWriteDescriptor
from twisted.internet.main import installReactor
from twisted.logger import Logger

__all__ = ["DaphneReactor", "install"]

_log = Logger()


class DaphneReactor(AsyncioSelectorReactor):
    """``AsyncioSelectorReactor`` whose readers and writers are called without a log context."""

    # Twisted privates, why no public API serves:
    # * ``_asyncioEventloop``: the loop the reactor runs on; the reactor has no accessor (see
    #   daphne/_reactor.py, _loop_of) and the callback must be registered on that very loop.
    # * ``_readers`` / ``_writers`` (selectable -> fd): the inherited removeReader,
    #   removeWriter, removeAll, getReaders and getWriters read them, so an added selectable
    #   must be recorded there, the way Twisted's addReader/addWriter record it.
    # * ``_continuousPolling``: where Twisted puts descriptors epoll refuses (regular files);
    #   the inherited remove* methods look there too, so the fallback must be the same object.
    # * ``_unregisterFDInAsyncio``: undoes a half-done registration after the loop refused a
    #   descriptor (an asyncio selector bug Twisted works around); nothing public does that.
    # * ``_disconnectSelectable`` (PosixReactorBase): Twisted's one rule for disconnecting a
    #   selectable that failed (half-close for ConnectionDone on a half-closeable reader,
    #   connectionLost otherwise); reusing it keeps that rule in one place.

    if TYPE_CHECKING:
        # Twisted leaves these two unannotated: the signatures relied on here.
        def _unregisterFDInAsyncio(self, fd: int) -> None: ...

        def _disconnectSelectable(
            self, selectable: Any, why: object, isRead: bool, faildict: Any = ...
        ) -> None: ...

    def addReader(self, reader: IReadDescriptor) -> None:
        # Twisted annotates _readers and _writers as keyed by FileDescriptor *classes*; the
        # keys are the selectables themselves.
        readers: dict[Any, int] = self._readers
        if reader in readers or self._continuousPolling.isReading(reader):
            return
        fd = reader.fileno()
        try:
            self._asyncioEventloop.add_reader(fd, self._ready, reader, True)
        except OSError as error:
            self._unregisterFDInAsyncio(fd)
            if error.errno != errno.EPERM:
                raise
            # epoll cannot watch some descriptors (regular files): poll them instead.
            self._continuousPolling.addReader(reader)
        else:
            readers[reader] = fd

    def addWriter(self, writer: IWriteDescriptor) -> None:
        writers: dict[Any, int] = self._writers
        if writer in writers or self._continuousPolling.isWriting(writer):
            return
        fd = writer.fileno()
        try:
            self._asyncioEventloop.add_writer(fd, self._ready, writer, False)
        except PermissionError:
            self._unregisterFDInAsyncio(fd)
            # epoll cannot watch some descriptors (regular files): poll them instead.
            self._continuousPolling.addWriter(writer)
        except BrokenPipeError:
            # As Twisted does: kqueue refuses a broken pipe; the writer is simply not added.
            self._unregisterFDInAsyncio(fd)
        except BaseException:
            self._unregisterFDInAsyncio(fd)
            raise
        else:
            writers[writer] = fd

    def _ready(self, selectable: Any, is_read: bool) -> None:
        """The loop's callback: ``selectable`` can be read (``is_read``) or written."""
        try:
            if selectable.fileno() == -1:
                why: object = ConnectionFdescWentAway("File descriptor lost")
            else:
                try:
                    why = selectable.doRead() if is_read else selectable.doWrite()
                except Exception as error:
                    _log.failure(
                        "{selectable!r} raised in {method}",
                        selectable=selectable,
                        method="doRead" if is_read else "doWrite",
                    )
                    why = error
            if why:
                self._disconnectSelectable(selectable, why, is_read)
        except KeyboardInterrupt:
            raise
        except BaseException:
            # Disconnecting failed too (connectionLost raised, say): log it and carry on, as
            # Twisted's callWithLogger does; an error here must not reach the event loop.
            _log.failure("Error while handling an event on {selectable!r}", selectable=selectable)


def install(loop: asyncio.AbstractEventLoop) -> DaphneReactor:
    """Install a :class:`DaphneReactor` on ``loop`` as ``twisted.internet.reactor``.

    :raises twisted.internet.error.ReactorAlreadyInstalledError: a reactor is installed.
    """
    reactor = DaphneReactor(loop)
    installReactor(reactor)
    return reactor
