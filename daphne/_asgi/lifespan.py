"""The ASGI lifespan protocol (startup and shutdown events, shared ``state``).

Modes: ``off`` never runs it; ``on`` requires it (an app error or
``lifespan.startup.failed`` is fatal); ``auto`` runs it and, if the app raises
before answering startup (Django's and Channels' routers do), carries on
without it.  ``lifespan.startup.failed`` is fatal in every mode.

Covered by ``tests/integration/test_lifespan.py``.
"""

from __future__ import annotations

import asyncio
import logging

from .._types import KeywordASGIApp, Message, Scope, State

logger = logging.getLogger("daphne.server")

__all__ = ["MODES", "Lifespan", "LifespanFailure"]

MODES = ("auto", "on", "off")


class LifespanFailure(Exception):
    """Startup (or shutdown) failed in a way that must stop the server."""


class Lifespan:
    """Runs one lifespan application instance for the whole life of the server.

    :ivar state: the dict the app fills at startup; copied into every scope.
    :ivar active: whether the app speaks lifespan (after startup).
    """

    def __init__(self, application: KeywordASGIApp, mode: str = "auto") -> None:
        if mode not in MODES:
            raise ValueError(f"lifespan mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.application = application
        self.mode = mode
        self.state: State = {}
        self.active = False
        self._receive_queue: asyncio.Queue[Message] | None = None
        self._answers: asyncio.Queue[Message] | None = None
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        """Send ``lifespan.startup`` and wait for the answer.

        :raises LifespanFailure: on ``lifespan.startup.failed``, or an app error in ``on`` mode.
        """
        if self.mode == "off":
            return
        self._receive_queue = asyncio.Queue()
        self._answers = asyncio.Queue()
        scope: Scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        self._task = asyncio.get_running_loop().create_task(self._run(scope))
        await self._receive_queue.put({"type": "lifespan.startup"})
        answer = await self._answers.get()
        kind = answer["type"]
        if kind == "lifespan.startup.complete":
            self.active = True
            logger.info("Application startup complete.")
            return
        if kind == "lifespan.startup.failed":
            raise LifespanFailure(
                f"Application startup failed: {answer.get('message', '')}".rstrip(": ")
            )
        error = answer.get("error")
        if self.mode == "on":
            raise LifespanFailure(f"Application startup failed: {error!r}")
        logger.debug("ASGI 'lifespan' protocol appears unsupported by the application (%r)", error)

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown`` and wait for the answer (errors are logged)."""
        if not self.active or self._receive_queue is None or self._answers is None:
            return
        await self._receive_queue.put({"type": "lifespan.shutdown"})
        answer = await self._answers.get()
        if answer["type"] == "lifespan.shutdown.failed":
            logger.error("Application shutdown failed: %s", answer.get("message", ""))
        elif answer["type"] == "lifespan.shutdown.complete":
            logger.info("Application shutdown complete.")
        else:
            logger.error("Application shutdown failed: %r", answer.get("error"))

    async def _run(self, scope: Scope) -> None:
        assert self._receive_queue is not None and self._answers is not None
        answers = self._answers

        async def send(message: Message) -> None:
            kind = message.get("type")
            if kind not in (
                "lifespan.startup.complete",
                "lifespan.startup.failed",
                "lifespan.shutdown.complete",
                "lifespan.shutdown.failed",
            ):
                raise ValueError(f"expected a lifespan.* answer, got {kind!r}")
            await answers.put(message)

        try:
            await self.application(scope=scope, receive=self._receive_queue.get, send=send)
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            if self.mode == "on" or self.active:
                logger.error("Exception in ASGI application lifespan", exc_info=error)
            await answers.put({"type": "error", "error": error})
        else:
            # The app returned: whatever it did not answer is answered now.
            await answers.put({"type": "error", "error": "lifespan application returned"})
