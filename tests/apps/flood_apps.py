"""The application the flood and hardening tests attack (``tests/integration/test_h2_hardening.py``
and ``test_flood_fairness.py``), routed by path.

HTTP:

* ``/``: ``hello`` (the canary's request);
* ``/hold``: starts a streamed response (``held``), then waits for the client to leave;
* ``/big?N``: ``N`` x 64 KiB body messages, each send awaited;
* ``/blob?N``: ``N`` MiB in one body message;
* ``/late?FILE``: reads nothing until FILE exists, then reads the body and answers its size;
* ``/echo``: reads the body and sends it back.

WebSocket: accepts and discards every message (a sink).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from .functional import read_body


async def respond(send: Any, data: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", b"%d" % len(data))],
        }
    )
    await send({"type": "http.response.body", "body": data})


async def websocket_sink(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif message["type"] == "websocket.disconnect":
            return


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        await websocket_sink(receive, send)
        return
    if scope["type"] != "http":
        return
    path = scope["path"]
    query = scope["query_string"].decode()
    if path == "/late":
        while not os.path.exists(query):
            await asyncio.sleep(0.02)
        data = await read_body(receive)
        await respond(send, str(len(data or b"")).encode())
        return
    data = await read_body(receive)
    if path == "/hold":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"held", "more_body": True})
        while (await receive())["type"] != "http.disconnect":
            pass
    elif path == "/big":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        piece = b"z" * 65536
        for _ in range(int(query or "800")):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/blob":
        await respond(send, b"b" * (int(query or "1") * 1024 * 1024))
    elif path == "/echo":
        await respond(send, data or b"")
    else:
        await respond(send, b"hello")
