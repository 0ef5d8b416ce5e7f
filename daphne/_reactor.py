"""Install Twisted's asyncio reactor: the only import-order-sensitive code.

Imported (for its side effect) by :mod:`daphne.server`, which :mod:`daphne.apps`
imports, so that the asyncio reactor is in place before anything else imports
``twisted.internet.reactor``.

Twisted private used here: ``AsyncioSelectorReactor._asyncioEventloop`` (:func:`_loop_of`),
checked by ``tests/unit/test_twisted_privates.py``.  The reactor class installed is
:class:`daphne._asyncio_reactor.DaphneReactor`, a subclass of Twisted's.

Covered by ``tests/unit/test_loop.py``, ``tests/unit/test_cli.py`` (``--threads``) and
``tests/unit/test_twisted_privates.py``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from twisted.internet.asyncioreactor import AsyncioSelectorReactor

__all__ = [
    "LOOP_CHOICES",
    "LOOP_ENV",
    "LoopUnavailable",
    "install_asyncio_reactor",
    "loop_name",
    "new_event_loop",
    "reactor_loop",
    "set_thread_pool_size",
]

ASGI_THREADS_ENV = "ASGI_THREADS"

#: Environment variable naming the event loop the reactor is installed on, read
#: when the reactor is installed (the ``--loop`` option sets it for the process
#: and its workers).
LOOP_ENV = "DAPHNE_LOOP"

#: ``auto``: uvloop when it is importable, the standard library's loop otherwise.
LOOP_CHOICES = ("auto", "asyncio", "uvloop")


class LoopUnavailable(Exception):
    """The event loop asked for cannot be used (uvloop not installed, unknown name)."""


def _uvloop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's ``new_event_loop`` if ``choice`` wants uvloop and it can be imported, else ``None``.

    :raises LoopUnavailable: ``choice`` is unknown, or is ``uvloop`` and uvloop
        cannot be imported.
    """
    if choice not in LOOP_CHOICES:
        raise LoopUnavailable(
            f"unknown event loop {choice!r} (expected one of {', '.join(LOOP_CHOICES)})"
        )
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError as error:
        if choice == "uvloop":
            raise LoopUnavailable(
                f"--loop uvloop: uvloop is not installed ({error}); "
                "install it with 'pip install daphne[uvloop]'"
            ) from None
        return None
    return uvloop.new_event_loop


def new_event_loop(choice: str = "auto") -> asyncio.AbstractEventLoop:
    """A new event loop of the kind ``choice`` names (one of :data:`LOOP_CHOICES`).

    :raises LoopUnavailable: ``choice`` is unknown, or is ``uvloop`` and uvloop
        cannot be imported.
    """
    uvloop_new_event_loop = _uvloop_factory(choice)
    if uvloop_new_event_loop is not None:
        return uvloop_new_event_loop()
    return asyncio.new_event_loop()


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``"uvloop"`` or ``"asyncio"``: the kind of ``loop``, for the start-up log."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


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


def install_asyncio_reactor(
    loop: str | None = None, *, tls: bool = True
) -> asyncio.AbstractEventLoop:
    """Make sure Twisted runs on an asyncio loop and return that loop.

    ``loop`` (else the ``DAPHNE_LOOP`` environment variable, else ``"auto"``)
    chooses the kind of a new loop (:func:`new_event_loop`); a reactor that is
    already installed keeps its loop, whatever the choice.  ``tls=False`` (no
    listener needs TLS) imports Twisted without pyOpenSSL, which loads on first
    use (:mod:`daphne._twisted_tls`).

    * no reactor yet: install a :class:`~daphne._asyncio_reactor.DaphneReactor` (Twisted's
      ``AsyncioSelectorReactor`` with a cheaper socket-ready callback) on a fresh loop;
    * an asyncio reactor already installed: keep it;
    * another reactor installed: warn, uninstall it and install ours.

    :raises LoopUnavailable: the choice is unknown, or is uvloop and uvloop is
        not installed.
    """
    choice = loop or os.environ.get(LOOP_ENV) or "auto"
    _uvloop_factory(choice)  # an impossible choice is an error even when a reactor exists
    if not tls:
        from ._twisted_tls import import_twisted_without_tls

        import_twisted_without_tls()

    from twisted.internet import asyncioreactor

    from . import _asyncio_reactor

    existing = sys.modules.get("twisted.internet.reactor")
    if existing is not None:
        if isinstance(existing, asyncioreactor.AsyncioSelectorReactor):
            existing_loop = _loop_of(existing)
            set_thread_pool_size(existing_loop, _thread_count_from_env())
            return existing_loop
        warnings.warn(
            "Something has already installed a non-asyncio Twisted reactor. Attempting "
            "to uninstall it; you can fix this warning by importing daphne.server early "
            "in your codebase or finding the package that imports Twisted and importing "
            "it later on.",
            UserWarning,
            stacklevel=2,
        )
        del sys.modules["twisted.internet.reactor"]
    event_loop = new_event_loop(choice)
    set_thread_pool_size(event_loop, _thread_count_from_env())
    _asyncio_reactor.install(event_loop)
    return event_loop


def _loop_of(reactor: AsyncioSelectorReactor) -> asyncio.AbstractEventLoop:
    # Twisted private: AsyncioSelectorReactor keeps the loop it runs on in
    # ``_asyncioEventloop`` and has no public accessor; ``asyncio.get_event_loop()`` is not a
    # substitute (``install(loop)`` does not make ``loop`` the current one).  Checked by
    # tests/unit/test_twisted_privates.py.
    return reactor._asyncioEventloop


def reactor_loop() -> asyncio.AbstractEventLoop:
    """The asyncio loop the installed Twisted reactor runs on.

    :raises RuntimeError: the installed reactor is not Twisted's asyncio reactor.
    """
    from twisted.internet import reactor
    from twisted.internet.asyncioreactor import AsyncioSelectorReactor

    if not isinstance(reactor, AsyncioSelectorReactor):
        raise RuntimeError(f"the installed Twisted reactor is not an asyncio reactor: {reactor!r}")
    return _loop_of(reactor)
