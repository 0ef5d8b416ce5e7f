"""A routing ASGI app for the functional tests; each path shows one behaviour."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any


async def read_body(receive: Any) -> bytes | None:
    parts = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        parts.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(parts)


def pattern(size: int) -> bytes:
    """``size`` bytes of 0, 1, ... 250, 0, 1, ... (251 is prime: pieces do not line up)."""
    return (bytes(range(251)) * (size // 251 + 1))[:size]


async def respond(send: Any, status: int, data: bytes, headers: list | None = None) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", b"%d" % len(data)), *(headers or [])],
        }
    )
    await send({"type": "http.response.body", "body": data})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/echo":
        data = await read_body(receive)
        await respond(send, 200, data or b"")
    elif path == "/scope":
        data = await read_body(receive)
        view = {
            k: v
            for k, v in scope.items()
            if k in ("path", "root_path", "client", "server", "scheme", "http_version")
        }
        view["headers"] = [[n.decode("latin-1"), v.decode("latin-1")] for n, v in scope["headers"]]
        view["body_size"] = len(data or b"")
        await respond(send, 200, json.dumps(view).encode())
    elif path == "/big":
        # 50 MiB in 64 KiB pieces, each send awaited (write backpressure).
        await read_body(receive)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        piece = b"z" * 65536
        for _ in range(800):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/pattern":
        # ?SIZE[,chunked][,pieces]: SIZE bytes of a repeating 0..250 pattern (a byte out of
        # place shows), Content-Length framed unless "chunked", in one body message
        # unless "pieces" (then three: small, large, small).
        await read_body(receive)
        size, *flags = scope["query_string"].decode().split(",")
        data = pattern(int(size))
        headers = [] if "chunked" in flags else [(b"content-length", b"%d" % len(data))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if "pieces" in flags:
            await send({"type": "http.response.body", "body": data[:100], "more_body": True})
            await send({"type": "http.response.body", "body": data[100:-100], "more_body": True})
            await send({"type": "http.response.body", "body": data[-100:]})
        else:
            await send({"type": "http.response.body", "body": data})
    elif path == "/ignore-body":
        # Never reads the request body until told to by a file appearing.
        flag = scope["query_string"].decode()
        while not os.path.exists(flag):
            await asyncio.sleep(0.02)
        data = await read_body(receive)
        await respond(send, 200, str(len(data or b"")).encode())
    elif path == "/crash-midway":
        await read_body(receive)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("crash after start")
    elif path == "/linger":
        # Keeps running after its response; records its cancellation in a file.
        marker = scope["query_string"].decode()
        await read_body(receive)
        await respond(send, 200, b"done")
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            with open(marker, "w") as handle:
                handle.write("cancelled")
            raise
    elif path == "/hold":
        # Starts a streamed response, then holds its instance until the client goes away.
        await read_body(receive)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"held", "more_body": True})
        while (await receive())["type"] != "http.disconnect":
            pass
    elif path == "/slow":
        await read_body(receive)
        await asyncio.sleep(float(scope["query_string"] or b"0.2"))
        await respond(send, 200, b"slow")
    else:
        await read_body(receive)
        await respond(send, 200, b"hello", [(b"content-type", b"text/plain")])
