"""Small ASGI applications used by the process-level tests."""

from __future__ import annotations

import json
from typing import Any


async def scope_json(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer every HTTP request with a JSON view of its scope and body length."""
    if scope["type"] != "http":
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    view = {
        key: value
        for key, value in scope.items()
        if key
        in ("type", "http_version", "method", "scheme", "path", "root_path", "client", "server")
    }
    view["raw_path"] = scope["raw_path"].decode("latin-1")
    view["query_string"] = scope["query_string"].decode("latin-1")
    view["headers"] = [[n.decode("latin-1"), v.decode("latin-1")] for n, v in scope["headers"]]
    view["body_size"] = size
    body = json.dumps(view).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Asgi2App:
    """An ASGI 2 (double callable) application."""

    def __init__(self, scope: dict[str, Any]) -> None:
        self.scope = scope

    async def __call__(self, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"asgi2"})


def get_scope_json():
    """A picklable ``get_application`` for DaphneProcess."""
    return scope_json
