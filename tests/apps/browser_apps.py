"""A page whose script opens a WebSocket back to its own origin, and the echo it talks to.

The echo answers with the ``http_version`` of its scope, so a browser test can see
which protocol the WebSocket ran over (``2`` for RFC 8441 extended CONNECT).
"""

from __future__ import annotations

from typing import Any

PAGE = b"""<!doctype html>
<html><body><div id="out">waiting</div><script>
const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
ws.onopen = () => ws.send("hello");
ws.onmessage = (event) => { document.getElementById("out").textContent = event.data; ws.close(1000); };
ws.onerror = () => { document.getElementById("out").textContent = "error"; };
</script></body></html>"""


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            text = f"{message.get('text')} over HTTP/{scope.get('http_version')}"
            await send({"type": "websocket.send", "text": text})
    elif scope["type"] == "http":
        while (await receive()).get("more_body"):
            pass
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        if scope["path"] != "/":
            await send({"type": "http.response.start", "status": 404, "headers": headers})
            await send({"type": "http.response.body", "body": b"not here"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": PAGE})
