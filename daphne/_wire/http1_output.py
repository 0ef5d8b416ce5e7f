"""The write side of an HTTP/1.x connection: coalesced writes, direct socket sends, files.

``SocketOutput`` is mixed into :class:`~daphne._wire.http1.HTTP1Connection`.  Writes
made during one loop iteration are sent together; when Twisted's own write
buffer is empty the bytes go straight to the socket (a loop iteration and two
``epoll_ctl`` calls saved per response), a large body beside its head in one
``sendmsg`` (:meth:`SocketOutput.write_parts`); files go out with ``os.sendfile`` on
plain sockets.  Backpressure: ``drained()`` hands the app's ``send`` a future
while the transport's buffer is above its high-water mark.

Covered by ``tests/unit/test_http1.py``, ``tests/integration/test_extensions.py`` and
``tests/integration/test_large_writes.py``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from twisted.internet import tcp

if TYPE_CHECKING:
    from .._context import ServerContext
    from .http1_input import IConnectionTransport

logger = logging.getLogger("daphne.http_protocol")

__all__ = ["SocketOutput", "plain_tcp"]

#: Most bytes one ``os.sendfile`` call may send (keeps the loop responsive).
_SENDFILE_PIECE = 4 * 1024 * 1024
#: Piece size when a file must be read and written (TLS).
_READ_PIECE = 64 * 1024
#: Parts one ``sendmsg`` takes; more are joined first.  A large body and its head are
#: two or three; many small writes (a streamed response) cost more as separate
#: buffers than joined.
_MAX_PARTS = 4
_SENDMSG = hasattr(socket.socket, "sendmsg")


def plain_tcp(transport: object) -> tcp.Connection | None:
    """``transport`` if it is a plain TCP/unix transport whose write buffer we can bypass.

    Twisted's ``write`` always waits for the next writable event; for a
    response that fits the socket buffer (almost all of them) sending at once
    saves a loop iteration and two ``epoll_ctl`` calls.  Only used while
    Twisted's own buffer is empty, so ordering is kept.
    """
    return transport if isinstance(transport, tcp.Connection) else None


class SocketOutput:
    """Output methods of :class:`~daphne._wire.http1.HTTP1Connection` (a mixin).

    The connection provides ``context``, ``transport``, ``disconnected``,
    ``abort()`` and the state initialised by :meth:`_init_output`.
    """

    context: ServerContext
    _transport: IConnectionTransport
    disconnected: bool
    abort: Callable[[], None]

    def _init_output(self) -> None:
        self._write_paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        #: The transport, when it is a plain ``tcp.Connection`` we may write to directly.
        self._tcp: tcp.Connection | None = None
        self._socket: socket.socket | None = None
        self._pending: list[bytes] | None = None
        self._pending_size = 0

    # -- IPushProducer: the transport tells us about its write buffer --------------
    # (resumeProducing is the connection's: it may also resume reading.)

    def pauseProducing(self) -> None:
        self._write_paused = True

    def stopProducing(self) -> None:
        self._write_paused = False
        self._wake_drain_waiters()

    @property
    def write_paused(self) -> bool:
        """Whether the transport's send buffer is over its high-water mark."""
        return self._write_paused

    def _wake_drain_waiters(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def send_file(
        self, prefix: bytes, fd: int, offset: int, count: int, suffix: bytes
    ) -> bool:
        """Send ``prefix``, ``count`` bytes of file ``fd`` from ``offset``, then ``suffix``.

        On a plain socket the file goes out with ``os.sendfile`` (never read into
        Python); over TLS it is read and written in bounded pieces with write
        backpressure.  Returns False if the connection was lost or the file was
        shorter than promised (then the connection is aborted: the response
        cannot be completed).
        """
        self.write(prefix, flush=True)
        loop = self.context.loop
        while count > 0:
            if self.disconnected:
                return False
            sock = self._socket
            if sock is not None and self._socket_writable_directly():
                try:
                    sent = os.sendfile(sock.fileno(), fd, offset, min(count, _SENDFILE_PIECE))
                except (BlockingIOError, InterruptedError):
                    await self._writable(loop, sock.fileno())
                    continue
                except OSError:
                    self.abort()
                    return False
            else:
                data = os.pread(fd, min(count, _READ_PIECE), offset)
                sent = len(data)
                if sent:
                    self.write(data, flush=True)
                    waiter = self.drained()
                    if waiter is not None:
                        await waiter
            if sent == 0:
                logger.error("File shorter than the response promised; aborting the connection")
                self.abort()
                return False
            offset += sent
            count -= sent
        if self.disconnected:
            return False
        if suffix:
            self.write(suffix, flush=True)
        return True

    def _writable(self, loop: asyncio.AbstractEventLoop, fileno: int) -> asyncio.Future[None]:
        """A future resolved once the socket can take more (or the connection is gone)."""
        waiter: asyncio.Future[None] = loop.create_future()

        def ready() -> None:
            loop.remove_writer(fileno)
            if not waiter.done():
                waiter.set_result(None)

        loop.add_writer(fileno, ready)
        self._drain_waiters.append(waiter)  # woken too if the connection is lost
        waiter.add_done_callback(lambda _: loop.remove_writer(fileno))
        return waiter

    def write(self, data: bytes, flush: bool = False) -> None:
        """Queue ``data`` for the client.

        Writes made during one loop iteration are coalesced and sent together
        at the end of it (a streamed response of many small chunks costs one
        ``send`` per iteration, not one per chunk); ``flush`` sends everything
        now, which the last write of a response does unless its app still has
        input queued (see ``WebRequest._write_framed``).
        """
        if self.disconnected:
            return
        pending = self._pending
        if pending is None:
            if flush:
                self._send(data)
                return
            self._pending = [data]
            self._pending_size = len(data)
            self.context.loop.call_soon(self.flush)
            return
        pending.append(data)
        self._pending_size += len(data)
        if flush or self._pending_size > self.context.config.write_high_water:
            self.flush()

    def write_parts(self, parts: list[bytes], flush: bool = False) -> None:
        """:meth:`write` of ``b"".join(parts)``, without joining them (a large body
        goes to the socket from the application's own ``bytes``)."""
        if flush and self._pending is None and not self.disconnected:
            self._send_parts(parts)
            return
        for part in parts[:-1]:
            self.write(part)
        self.write(parts[-1], flush)

    def flush(self) -> None:
        """Send whatever :meth:`write` has queued."""
        pending, self._pending = self._pending, None
        if pending and not self.disconnected:
            if len(pending) == 1:
                self._send(pending[0])
            elif len(pending) <= _MAX_PARTS:
                self._send_parts(pending)
            else:
                self._send(b"".join(pending))

    def _use_socket(self, transport: object) -> None:
        """Write straight to ``transport``'s socket while its buffer is empty, if we may."""
        self._tcp = plain_tcp(transport)
        self._socket = self._tcp.getHandle() if self._tcp is not None else None

    def _socket_writable_directly(self) -> bool:
        """A plain socket whose Twisted write buffer is empty: we may write to it ourselves.

        Twisted has no public way to ask whether a transport's write buffer is
        empty (``IConsumer`` only reports its high-water mark), so this reads
        ``FileDescriptor``'s buffer fields: ``_tempDataBuffer`` (writes not yet
        joined), ``dataBuffer`` and ``offset`` (what ``doWrite`` has not sent).
        Checked against the installed Twisted by
        ``tests/unit/test_dependency_privates.py``; setup.cfg bounds Twisted.
        """
        tcp = self._tcp
        return (
            tcp is not None
            and not tcp._tempDataBuffer
            and tcp.offset == len(tcp.dataBuffer)
            and not tcp.disconnecting
        )

    def _send(self, data: bytes) -> None:
        sock = self._socket
        if sock is not None and self._socket_writable_directly():
            try:
                sent = sock.send(data)
            except OSError:  # it would block, or an error Twisted's write path then reports
                sent = 0
            if sent == len(data):
                return
            data = data[sent:]
        self._transport.write(data)

    def _send_parts(self, parts: list[bytes]) -> None:
        """:meth:`_send` of ``b"".join(parts)``: one ``sendmsg``, no joined copy."""
        sock = self._socket
        if sock is not None and _SENDMSG and self._socket_writable_directly():
            try:
                sent = sock.sendmsg(parts)
            except OSError:  # as in _send
                sent = 0
            for index, part in enumerate(parts):
                if sent < len(part):
                    self._transport.writeSequence([part[sent:], *parts[index + 1 :]])
                    return
                sent -= len(part)
            return
        self._transport.write(b"".join(parts))

    def drained(self) -> asyncio.Future[None] | None:
        """None if the client is keeping up, else a future resolved when it has."""
        if not self._write_paused or self.disconnected:
            return None
        waiter: asyncio.Future[None] = self.context.loop.create_future()
        self._drain_waiters.append(waiter)
        return waiter
