"""Type aliases shared by every layer (checked by ``mypy --strict``, see setup.cfg).

The ASGI specification lets scopes and messages carry any value under any key (extensions,
``state``, application-chosen fields), so their values are ``Any`` here, in one place; code
narrows a value where it reads it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

__all__ = [
    "ASGIApp",
    "ASGIReceive",
    "ASGISend",
    "ActionLogger",
    "Message",
    "Scope",
]

#: An ASGI connection scope.  Any: the spec allows any value under any key.
Scope = dict[str, Any]
#: An ASGI event, in either direction.  Any: applications may send any value, which the
#: cycles validate before use.
Message = dict[str, Any]
ASGIReceive = Callable[[], Awaitable[Message]]
ASGISend = Callable[[Message], Awaitable[None]]
#: An ASGI 3 application (ASGI 2 double-callables are wrapped before they reach the core).
ASGIApp = Callable[[Scope, ASGIReceive, ASGISend], Awaitable[None]]
#: ``AccessLogGenerator``'s call shape: (protocol, action, details).  Any: the details are
#: free-form, as in Daphne 4.2.
ActionLogger = Callable[[str, str, dict[str, Any]], None]
