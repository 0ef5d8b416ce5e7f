"""``--body-read-timeout`` for every request body of one server, on one timer.

A request body stalls when nothing new came from the client for
``body_read_timeout`` seconds while the server was reading it (the rule and its
verdict are :class:`~daphne._asgi.http_input.RequestInput`'s).  A timer per
request, armed when its body is awaited and cancelled when it is complete, costs
two reactor calls per request, and a reactor keeps cancelled calls until they
are due; so the bodies being read wait in one dict instead, ordered by when each
last made progress (every bit of progress moves a body to the end), and one
timer is armed for the deadline of the first.  When it fires, every body whose
deadline has passed is asked whether it stalled, and the timer is armed again
for the new first one.  A body that completes leaves the dict at no cost to the
timer, which then at worst fires early once and re-arms.

Covered by the ``--body-read-timeout`` tests of ``tests/unit/test_http1.py``,
``tests/unit/test_h2_pipeline.py`` and ``tests/unit/test_body_watch.py``.
"""

from __future__ import annotations

from typing import Protocol

from .._types import Clock, Timer

__all__ = ["BodyWatch", "Watched"]


class Watched(Protocol):
    """A request body under watch (a :class:`~daphne._asgi.http_input.RequestInput`)."""

    def body_stalled(self, now: float) -> bool:
        """Its deadline passed at ``now``: give the verdict; True to be watched on from ``now``."""


class BodyWatch:
    """The request bodies of one server being read, and their one stall timer."""

    __slots__ = ("_checking", "_clock", "_timeout", "_timer", "_waiting")

    def __init__(self, clock: Clock, timeout: float) -> None:
        self._clock = clock
        self._timeout = timeout
        #: Body -> when it last made progress, oldest first.
        self._waiting: dict[Watched, float] = {}
        self._timer: Timer | None = None
        self._checking = False

    def __len__(self) -> int:
        return len(self._waiting)

    def watch(self, body: Watched) -> None:
        """Start watching ``body``: it has ``timeout`` seconds to make progress."""
        self._waiting[body] = self._clock.seconds()
        if self._timer is None and not self._checking:
            self._timer = self._clock.callLater(self._timeout, self._check)

    def progress(self, body: Watched) -> None:
        """``body`` made progress (or stopped waiting for the client): its wait restarts now."""
        waiting = self._waiting
        del waiting[body]
        waiting[body] = self._clock.seconds()

    def forget(self, body: Watched) -> None:
        """Stop watching ``body`` (complete, or no longer wanted)."""
        self._waiting.pop(body, None)

    def _check(self) -> None:
        self._timer = None
        waiting, clock, timeout = self._waiting, self._clock, self._timeout
        now = clock.seconds()
        self._checking = True
        try:
            while waiting:
                body, seen_at = next(iter(waiting.items()))
                if seen_at + timeout > now:
                    break
                del waiting[body]
                if body.body_stalled(now):
                    waiting[body] = now
        finally:
            # Armed again even if a verdict raised: the other bodies stay watched.
            self._checking = False
            if waiting:
                first = next(iter(waiting.values()))
                self._timer = clock.callLater(max(first + timeout - now, 0.0), self._check)
