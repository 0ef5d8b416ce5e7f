"""The states of an HTTP/1.x connection (:class:`~daphne._wire.http1.HTTP1Connection`).

Theory of operation (``ConnState``):

* ``IDLE``: waiting for a request head (keep-alive timer running).
* ``BODY``: a request is in progress and its body is still arriving.
* ``RESPONDING``: the body is complete; waiting for the response to finish.
* ``DISCARDING``: the response finished before the body was read: the rest of
  the body is read and dropped, then the connection goes back to ``IDLE``.
* ``H2C_BODY``: an ``Upgrade: h2c`` request's small body is still arriving;
  the upgrade happens once it is whole.
* ``UPGRADED``: the connection was handed to a WebSocket or HTTP/2 protocol;
  bytes and connection loss are forwarded to it.
* ``CLOSED``: closing or closed; nothing more is parsed.

Covered by ``tests/unit/test_http1.py`` and ``tests/property/test_http1_props.py``.
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = [
    "CONN_BODY",
    "CONN_CLOSED",
    "CONN_DISCARDING",
    "CONN_H2C_BODY",
    "CONN_IDLE",
    "CONN_RESPONDING",
    "CONN_UPGRADED",
    "ConnState",
]


class ConnState(enum.Enum):
    IDLE = "idle"
    BODY = "body"
    RESPONDING = "responding"
    DISCARDING = "discarding"
    H2C_BODY = "h2c body"
    UPGRADED = "upgraded"
    CLOSED = "closed"


# The members as module globals, for the code that reads them per request or per
# message: on Python 3.10 and 3.11 every ``ConnState.X`` lookup goes through
# ``EnumType.__getattr__``, about ten times a global's cost (3.12 dropped it).
CONN_IDLE: Final = ConnState.IDLE
CONN_BODY: Final = ConnState.BODY
CONN_RESPONDING: Final = ConnState.RESPONDING
CONN_DISCARDING: Final = ConnState.DISCARDING
CONN_H2C_BODY: Final = ConnState.H2C_BODY
CONN_UPGRADED: Final = ConnState.UPGRADED
CONN_CLOSED: Final = ConnState.CLOSED
