"""A tiny ASGI application for the fd-passing recipe tests: it says which process answered.

Served as ``recipes.recipe_apps:pid_app`` (``tests/`` is on the server's ``PYTHONPATH``).
"""

from __future__ import annotations

import json
import os
from typing import Any


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def pid_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer HTTP requests with ``{"pid", "client", "server", "scheme"}`` as JSON."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    body = json.dumps(
        {
            "pid": os.getpid(),
            "client": scope.get("client"),
            "server": scope.get("server"),
            "scheme": scope["scheme"],
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
