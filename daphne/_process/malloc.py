"""glibc's allocator thresholds for a server process: no heap shrink-and-regrow per upload.

glibc's malloc adapts two thresholds as a program runs: blocks above the *mmap
threshold* get their own mapping, and free memory above the *trim threshold* at the top
of the heap is given back to the kernel.  Under uploads (a 256 KiB read buffer,
``http1.READ_SIZE``, and 8 KiB body messages, allocated and freed for every request) the
heap's top was given back with ``brk`` every dozen requests or so and taken again at
once, and the kernel faulted every page back in: 2 to 10 page faults per 64 KiB upload
(``wrk`` with 64 connections; 8 connections in flight together), and 40 % of the
server's CPU time in the kernel.  Fixed thresholds stop it: blocks under 512 KiB come from
the heap, and the heap's top is trimmed once 2 MiB of it are free.  Measured with ``wrk``
(64 connections, POST 64 KiB echo): page faults 120,000-170,000 -> under 50 in 5 s,
12.2-13.6k -> 13.8-14.7k requests/s; GET and idle RSS unchanged.

Only the ``daphne`` command calls :func:`tune_malloc` (its process is the server's; an
application that embeds ``Server`` keeps its own allocator settings), only on glibc, and
not when the environment already sets malloc's parameters (``MALLOC_TRIM_THRESHOLD_``,
``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TOP_PAD_``, ``MALLOC_MMAP_MAX_`` or a
``glibc.malloc`` tunable in ``GLIBC_TUNABLES``): those win.

Covered by ``tests/integration/test_malloc_tuning.py``.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "tune_malloc"]

#: ``mallopt`` parameter numbers (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

#: Blocks from this size up get their own mapping: above a read buffer (256 KiB).
MMAP_THRESHOLD = 512 * 1024
#: Free memory at the top of the heap is returned once it exceeds this.
TRIM_THRESHOLD = 2 * 1024 * 1024

_USER_SETTINGS = (
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TOP_PAD_",
    "MALLOC_MMAP_MAX_",
)


def tune_malloc() -> bool:
    """Fix glibc malloc's mmap and trim thresholds for this process; whether it did."""
    if not sys.platform.startswith("linux"):
        return False
    if any(name in os.environ for name in _USER_SETTINGS):
        return False
    if "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - glibc only: musl's mallopt does nothing
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
