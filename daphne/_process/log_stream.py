"""The access log's output stream: one write per event-loop iteration, not per line.

Under load one loop iteration finishes dozens of requests.  Writing each line
on its own costs a system call per request when stdout is unbuffered
(``PYTHONUNBUFFERED``, usual in containers) or the log file line-buffered,
about a fifth of the server's time for a small response.  :class:`LoopBatchedStream`
collects the lines of one iteration and writes them together at its end, so the
log stays as timely as before (it is also flushed, so a block-buffered stdout no
longer holds lines back until 8 KiB piled up).

Writes are cut at line ends into pieces of at most :data:`ATOMIC_WRITE` bytes:
several worker processes may share one pipe, and writes up to ``PIPE_BUF`` are
never interleaved with another process's.

Covered by ``tests/unit/test_log_stream.py``.
"""

from __future__ import annotations

import asyncio
import atexit
from typing import IO

__all__ = ["ATOMIC_WRITE", "LoopBatchedStream"]

#: ``PIPE_BUF`` on Linux: the largest write a pipe never interleaves.
ATOMIC_WRITE = 4096


class LoopBatchedStream:
    """A text stream that forwards whole lines to ``target`` once per loop iteration.

    Outside a running event loop a write goes out at once (or with a batch
    already due).  Pending lines are also written at interpreter exit.
    """

    def __init__(self, target: IO[str]) -> None:
        self.target = target
        self._pending: list[str] = []
        self._scheduled = False
        atexit.register(self.flush)

    def write(self, text: str) -> int:
        """Queue ``text``; it reaches ``target`` at the end of this loop iteration."""
        self._pending.append(text)
        if not self._scheduled:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return len(text)
            self._scheduled = True
            loop.call_soon(self.flush)
        return len(text)

    def flush(self) -> None:
        """Write everything queued, in pieces of whole lines of at most ``ATOMIC_WRITE`` bytes."""
        self._scheduled = False
        pending = self._pending
        if not pending:
            return
        self._pending = []
        piece: list[str] = []
        size = 0
        try:
            for line in pending:
                length = len(line) if line.isascii() else len(line.encode())
                if piece and size + length > ATOMIC_WRITE:
                    self._write("".join(piece))
                    piece, size = [], 0
                piece.append(line)
                size += length
            if piece:
                self._write("".join(piece))
        except (OSError, ValueError):
            # The stream went away (closed pipe, closed file at exit): logging
            # must never take the server down; the lines are dropped as a
            # direct write would have failed too.
            pass

    def _write(self, data: str) -> None:
        self.target.write(data)
        self.target.flush()

    def close(self) -> None:
        """Flush, then close ``target``."""
        self.flush()
        self.target.close()
