"""An app that tells which process answered, for the worker tests."""

from __future__ import annotations

import asyncio
import os
from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    if scope["path"] == "/slow":
        # Ten pieces over about a second: still streaming when a signal arrives.
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for index in range(10):
            await asyncio.sleep(0.1)
            await send({"type": "http.response.body", "body": b"%d" % index, "more_body": True})
        await send({"type": "http.response.body", "body": b"|done"})
        return
    body = str(os.getpid()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})
