"""Access log lines in Daphne's format, fed by the ``action_logger`` interface.

Covered by ``tests/unit/test_access.py``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import IO, Any

__all__ = ["AccessLogGenerator"]

_WEBSOCKET_ACTIONS = {
    "connecting": "WSCONNECTING",
    "connected": "WSCONNECT",
    "rejected": "WSREJECT",
    "disconnected": "WSDISCONNECT",
}


class AccessLogGenerator:
    """Write one NCSA-like line per server action to ``stream``.

    Instances are the ``action_logger`` the CLI hands to :class:`daphne.server.Server`:
    they are called as ``logger(protocol, action, details)``.

    :ivar stream: a text stream with a ``write`` method.
    :ivar now: the clock giving the (local, naive) timestamp of each line.
    """

    def __init__(
        self, stream: IO[str], now: Callable[[], datetime.datetime] = datetime.datetime.now
    ) -> None:
        self.stream = stream
        self.now = now

    def __call__(self, protocol: str, action: str, details: dict[str, Any]) -> None:
        """Log one action (``"http"``/``"complete"``, ``"websocket"``/``"connected"``...)."""
        if protocol == "http" and action == "complete":
            self.write_entry(
                host=details["client"],
                date=self.now(),
                request="{} {}".format(details["method"], details["path"]),
                status=details["status"],
                length=details["size"],
            )
        elif protocol == "websocket" and action in _WEBSOCKET_ACTIONS:
            self.write_entry(
                host=details["client"],
                date=self.now(),
                request="{} {}".format(_WEBSOCKET_ACTIONS[action], details["path"]),
            )

    def write_entry(
        self,
        host: str | None,
        date: datetime.datetime,
        request: str,
        status: int | None = None,
        length: int | None = None,
        ident: str | None = None,
        user: str | None = None,
    ) -> None:
        """Write a line: ``host ident user [date] "request" status length``."""
        self.stream.write(
            '{} {} {} [{}] "{}" {} {}\n'.format(
                host,
                ident or "-",
                user or "-",
                date.strftime("%d/%b/%Y:%H:%M:%S"),
                request,
                status or "-",
                length or "-",
            )
        )
