"""Debug lines for each request and WebSocket (``-v 2``), the same for every protocol.

Daphne 4.2 users who raise the verbosity to debug see their traffic: a line
when an HTTP request or WebSocket handshake arrives and one when it ends.
Nothing is formatted unless DEBUG is enabled for the logger.  Covered by
``tests/integration/test_logging_process.py``.
"""

from __future__ import annotations

import logging

from .._types import Scope
from ..access import log_safe

__all__ = ["debug_event"]


def debug_event(logger: logging.Logger, kind: str, event: str, scope: Scope) -> None:
    """Log ``"<kind> <event>: <METHOD> <path> from <client> (HTTP/<version>)"`` at DEBUG."""
    if not logger.isEnabledFor(logging.DEBUG):
        return
    client = scope.get("client")
    query = scope.get("query_string") or b""
    target = scope.get("path", "") + ("?" + query.decode("latin-1") if query else "")
    logger.debug(
        "%s %s: %s %s from %s (HTTP/%s)",
        kind,
        event,
        scope.get("method", "GET"),
        log_safe(target),
        f"{client[0]}:{client[1]}" if client else "a unix socket peer",
        scope.get("http_version", "1.1"),
    )
