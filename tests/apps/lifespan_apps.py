"""Applications exercising the lifespan protocol (behaviour chosen by environment)."""

from __future__ import annotations

import json
import os
from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    mode = os.environ.get("LIFESPAN_APP", "ok")
    if scope["type"] == "lifespan":
        if mode == "raise":
            raise RuntimeError("lifespan not supported here")
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if mode == "fail":
                    await send(
                        {"type": "lifespan.startup.failed", "message": "database unreachable"}
                    )
                    return
                scope["state"]["db"] = "connected"
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                marker = os.environ.get("LIFESPAN_MARKER")
                if marker:
                    with open(marker, "w") as handle:
                        handle.write("shutdown")
                await send({"type": "lifespan.shutdown.complete"})
                return
    elif scope["type"] == "http":
        await receive()
        state = scope.get("state")
        body = json.dumps({"state": state}).encode()
        if state is not None:
            state["mutated"] = True  # a copy: must not leak into other requests
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"%d" % len(body))],
            }
        )
        await send({"type": "http.response.body", "body": body})
