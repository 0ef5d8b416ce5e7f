"""WebSocket applications for the functional tests, routed by path.

``?record=FILE`` makes the app append every message it receives (and any
error its ``send`` raised) to FILE as JSON lines, so tests can see what the
application was told.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any


def recorder(scope: dict[str, Any]):
    query = dict(
        part.split("=", 1) for part in scope["query_string"].decode().split("&") if "=" in part
    )
    path = query.get("record")

    def record(item: dict[str, Any]) -> None:
        if path:
            with open(path, "a") as handle:
                handle.write(json.dumps(item, default=repr) + "\n")

    return record


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        await receive()
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4")]}
        )
        await send({"type": "http.response.body", "body": b"http"})
        return
    record = recorder(scope)
    path = scope["path"]
    message = await receive()
    record(message)
    assert message["type"] == "websocket.connect"
    if path == "/reject":
        await send({"type": "websocket.close", "code": 4003})
        record(await receive())
        return
    if path == "/deny":
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 401,
                "headers": [(b"x-why", b"token")],
            }
        )
        await send({"type": "websocket.http.response.body", "body": b"go ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"away"})
        return
    if path == "/raise-before":
        raise RuntimeError("before accept")
    if path == "/never-accept":
        record(await receive())
        return
    if path == "/send-before-accept":
        try:
            await send({"type": "websocket.send", "text": "too early"})
        except ValueError as error:
            record({"error": str(error)})
        await send({"type": "websocket.close"})
        return
    if path == "/bad-subprotocol":
        try:
            await send({"type": "websocket.accept", "subprotocol": "not-offered"})
        except ValueError as error:
            record({"error": str(error)})
        return
    subprotocol = scope["subprotocols"][0] if scope["subprotocols"] else None
    await send(
        {
            "type": "websocket.accept",
            "subprotocol": subprotocol,
            "headers": [(b"set-cookie", b"session=1")],
        }
    )
    if path == "/scope":
        view = {
            key: value
            for key, value in scope.items()
            if key not in ("headers", "raw_path", "query_string")
        }
        view["headers"] = [[n.decode("latin-1"), v.decode("latin-1")] for n, v in scope["headers"]]
        await send({"type": "websocket.send", "text": json.dumps(view)})
    elif path == "/raise-after":
        raise RuntimeError("after accept")
    elif path == "/return-after-accept":
        return
    elif path == "/no-receive":
        # Accepts, then never calls receive(): whatever the client sends must
        # stay bounded (read backpressure).
        await asyncio.sleep(3600)
    elif path == "/flood":
        # Sends 2000 x 64 KiB, each awaited: write backpressure keeps memory flat.
        for _ in range(2000):
            await send({"type": "websocket.send", "bytes": b"f" * 65536})
        await send({"type": "websocket.close"})
    while True:
        message = await receive()
        record(message)
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is not None and text.startswith("close:"):
            _, code, reason = text.split(":", 2)
            await send({"type": "websocket.close", "code": int(code), "reason": reason})
            await send({"type": "websocket.send", "text": "ignored after close"})
        elif text is not None and text.startswith("sleep:"):
            await asyncio.sleep(float(text[6:]))
        elif text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})
