"""Traffic records: debug lines (``-v 2``) and HTTP access-log events, for every protocol.

Daphne 4.2 users who raise the verbosity to debug see their traffic: a line
when an HTTP request or WebSocket handshake arrives and one when it ends.
Nothing is formatted unless DEBUG is enabled for the logger.  With an access
log, each finished HTTP response becomes one ``("http", "complete", details)``
event for :class:`daphne.access.AccessLogGenerator`.  Covered by
``tests/integration/test_logging_process.py`` and ``tests/integration/test_http_functional.py``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .._types import Scope
from ..access import log_safe

if TYPE_CHECKING:
    from .http_stream import HTTPStream

__all__ = ["debug_event", "log_http_access"]


def debug_event(
    logger: logging.Logger, kind: str, event: str, scope: Scope, status: int | None = None
) -> None:
    """Log ``"<kind> <event>: <METHOD> <path> from <client> (HTTP/<version>)"`` at DEBUG.

    With ``status``, the event reads ``response <status> complete`` (built only when logged).
    """
    if not logger.isEnabledFor(logging.DEBUG):
        return
    if status is not None:
        event = f"response {status} complete"
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


def log_http_access(stream: HTTPStream) -> None:
    """Hand one finished HTTP response to the access logger (``daphne.access``)."""
    context, scope = stream.context, stream.scope
    query = scope["query_string"]
    target = scope["raw_path"] + (b"?" + query if query else b"")
    client = scope["client"]
    context.log_action(
        "http",
        "complete",
        {
            "path": target.decode("ascii", "replace"),
            "status": stream.status,
            "method": scope["method"],
            "client": f"{client[0]}:{client[1]}" if client else None,
            "time_taken": context.clock.seconds() - stream.started_at,
            "size": stream.bytes_sent,
            # For --access-log-format / --log-json (daphne.access).
            "http_version": scope["http_version"],
            "request_headers": scope["headers"],
            "response_headers": stream.response_headers,
        },
    )
