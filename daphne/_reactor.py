"""Install Twisted's asyncio reactor: the only import-order-sensitive code.

Imported (for its side effect) by :mod:`daphne.server`, which :mod:`daphne.apps`
imports, so that the asyncio reactor is in place before anything else imports
``twisted.internet.reactor``.  Covered by ``tests/compat/test_reactor.py``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor

__all__ = ["install_asyncio_reactor", "reactor_loop", "set_thread_pool_size"]

ASGI_THREADS_ENV = "ASGI_THREADS"


def _thread_count_from_env() -> int | None:
    value = os.environ.get(ASGI_THREADS_ENV)
    if value is None:
        return None
    # A bad value raises ValueError at import, as Daphne does.
    return int(value)


def set_thread_pool_size(loop: asyncio.AbstractEventLoop, max_workers: int | None) -> None:
    """Give ``loop`` a default executor of ``max_workers`` threads.

    This bounds ``loop.run_in_executor(None, ...)``, which is what asgiref's
    ``sync_to_async(thread_sensitive=False)`` uses.  ``None`` keeps asyncio's
    default.
    """
    if max_workers is None:
        return
    if max_workers < 1:
        raise ValueError(f"the thread pool needs at least one thread, got {max_workers}")
    loop.set_default_executor(ThreadPoolExecutor(max_workers=max_workers))


def install_asyncio_reactor() -> asyncio.AbstractEventLoop:
    """Make sure Twisted runs on an asyncio loop and return that loop.

    * no reactor yet: install ``asyncioreactor`` on a fresh loop;
    * an asyncio reactor already installed: keep it;
    * another reactor installed: warn, uninstall it and install ours.
    """
    from twisted.internet import asyncioreactor

    existing = sys.modules.get("twisted.internet.reactor")
    if existing is not None:
        if isinstance(existing, asyncioreactor.AsyncioSelectorReactor):
            loop = existing._asyncioEventloop
            set_thread_pool_size(loop, _thread_count_from_env())
            return loop
        warnings.warn(
            "Something has already installed a non-asyncio Twisted reactor. Attempting "
            "to uninstall it; you can fix this warning by importing daphne.server early "
            "in your codebase or finding the package that imports Twisted and importing "
            "it later on.",
            UserWarning,
            stacklevel=2,
        )
        del sys.modules["twisted.internet.reactor"]
    loop = asyncio.new_event_loop()
    set_thread_pool_size(loop, _thread_count_from_env())
    asyncioreactor.install(loop)
    return loop


def reactor_loop() -> asyncio.AbstractEventLoop:
    """The asyncio loop the installed Twisted reactor runs on."""
    from twisted.internet import reactor

    return reactor._asyncioEventloop  # type: ignore[attr-defined]
