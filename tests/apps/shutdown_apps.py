"""Applications for the graceful-shutdown tests."""

from __future__ import annotations

import asyncio
import os
from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                marker = os.environ.get("WS_MARKER")
                if marker:
                    with open(marker, "w") as handle:
                        handle.write(str(message["code"]))
                return
            await send({"type": "websocket.send", "text": message.get("text") or ""})
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/upload":
        size = 0
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = str(size).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"%d" % len(body))],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    chunks = 10 if path == "/stream" else 10_000  # /forever outlives any graceful timeout
    for index in range(chunks):
        await send({"type": "http.response.body", "body": b"chunk%d\n" % index, "more_body": True})
        await asyncio.sleep(0.15)
    await send({"type": "http.response.body", "body": b"end\n"})
