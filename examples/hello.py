"""A tiny ASGI 3 application to try the server with.

Run it with ``daphne examples.hello:application`` from the repository root,
then open http://127.0.0.1:8000/ (``/echo`` echoes a POST body back).
"""

from __future__ import annotations

from typing import Any


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Say hello over HTTP; echo request bodies sent to ``/echo``."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    if scope["path"] == "/echo":
        reply = body
    else:
        reply = b"Hello from daphne! You asked for " + scope["path"].encode() + b"\n"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(reply)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": reply})
