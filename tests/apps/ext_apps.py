"""Applications that use the ASGI extensions (early hints, trailers, push, file sends)."""

from __future__ import annotations

import json
import os
from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    path = scope["path"]
    query = scope["query_string"].decode()
    if path == "/extensions":
        body = json.dumps(scope["extensions"]).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})
    elif path == "/hints":
        await send({"type": "http.response.early_hint", "links": [b"</style.css>; rel=preload"]})
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send(
            {
                "type": "http.response.early_hint",
                "links": [b"</a.js>; rel=preload", b"</b.js>; rel=preload"],
            }
        )
        await send({"type": "http.response.body", "body": b"hinted"})
    elif path == "/trailers":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"trailer", b"x-checksum, x-more")],
                "trailers": True,
            }
        )
        await send({"type": "http.response.body", "body": b"part one ", "more_body": True})
        await send({"type": "http.response.body", "body": b"part two"})
        await send(
            {
                "type": "http.response.trailers",
                "headers": [(b"x-checksum", b"abc123")],
                "more_trailers": True,
            }
        )
        await send({"type": "http.response.trailers", "headers": [(b"x-more", b"yes")]})
    elif path == "/pathsend":
        headers = []
        if "length" in query:
            headers.append((b"content-length", b"%d" % os.path.getsize(query.split("&")[0])))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.pathsend", "path": query.split("&")[0]})
    elif path == "/zerocopy":
        # Bytes 10..19, then a plain body, then from position 100 to the end.
        with open(query, "rb") as handle:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send(
                {
                    "type": "http.response.zerocopysend",
                    "file": handle,
                    "offset": 10,
                    "count": 10,
                    "more_body": True,
                }
            )
            await send({"type": "http.response.body", "body": b"|", "more_body": True})
            handle.seek(100)
            await send({"type": "http.response.zerocopysend", "file": handle})
            assert handle.tell() == os.path.getsize(query)
    elif path == "/missing-file":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            await send({"type": "http.response.pathsend", "path": "/nonexistent/file"})
        except ValueError:
            pass
    elif path == "/push":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send(
            {"type": "http.response.push", "path": "/pushed.css", "headers": [(b"x-p", b"1")]}
        )
        await send({"type": "http.response.body", "body": b"page"})
    elif path == "/pushed.css":
        headers = dict(scope["headers"])
        body = b"pushed " + headers.get(b"x-p", b"-") + b" " + headers.get(b"host", b"-")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})
    else:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"not found"})
