"""The ASGI app behind ``tests/integration/test_protocol_matrix.py``, routed by path.

Every request or WebSocket that carries ``?id=NAME`` in its query string has
the messages the app received recorded under ``NAME`` in :data:`RECORDS`
(the server is one process, so one global dict sees every protocol).  A test
reads them back with ``GET /__log?id=NAME`` (JSON; ``[]`` when the app was
never called for ``NAME``).  Bodies are recorded by length only.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import parse_qs

#: ``id`` -> what the app saw for it, in order.
RECORDS: dict[str, list[dict[str, Any]]] = {}


def _query(scope: dict[str, Any]) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(scope["query_string"].decode("latin-1")).items()}


def _recorder(scope: dict[str, Any]):
    key = _query(scope).get("id")
    log = RECORDS.setdefault(key, []) if key else []

    def record(item: dict[str, Any]) -> dict[str, Any]:
        entry = dict(item)
        for field in ("body", "bytes"):
            if isinstance(entry.get(field), (bytes, bytearray)):
                entry[field] = len(entry[field])
        if isinstance(entry.get("text"), str):
            entry["text"] = len(entry["text"])
        log.append(entry)
        return item

    return record


async def _respond(
    send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]] = ()
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", b"%d" % len(body)), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "websocket":
        await websocket(scope, receive, send)
    else:
        await http(scope, receive, send)


async def http(scope: dict[str, Any], receive: Any, send: Any) -> None:
    path = scope["path"]
    if path == "/__log":
        body = json.dumps(RECORDS.get(_query(scope).get("id", ""), [])).encode()
        await _respond(send, 200, body, [(b"content-type", b"application/json")])
        return
    if path == "/scope":
        # What the server made of the request (proxy headers, root path).
        await _respond(send, 200, json.dumps(_scope_facts(scope)).encode())
        return
    record = _recorder(scope)
    record({"type": "called", "method": scope["method"], "http_version": scope["http_version"]})

    async def read_body() -> bytes:
        parts = []
        while True:
            message = record(await receive())
            if message["type"] != "http.request":
                return b"".join(parts)
            parts.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(parts)

    if path == "/record":
        # The whole request, answered with its size and digest; then exactly one more
        # receive(), which should be http.disconnect once the response is complete.
        body = await read_body()
        summary = {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}
        await _respond(send, 200, json.dumps(summary).encode())
        record({**(await receive()), "phase": "after-response"})
    elif path == "/server-header":
        await read_body()
        await _respond(send, 200, b"own", [(b"server", b"custom-server")])
    elif path in ("/bad-header-value", "/bad-header-name"):
        await read_body()
        header = (
            (b"x-ok", b"a\r\nx-injected: 1") if path == "/bad-header-value" else (b"x bad", b"1")
        )
        try:
            await _respond(send, 200, b"should not be sent", [header])
        except ValueError as error:
            record({"send_error": str(error)})
    elif path == "/empty":
        await read_body()
    elif path == "/crash-midway":
        await read_body()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("crash after the response started")
    elif path == "/never":
        # Never answers; returns once told the client is gone.
        await read_body()
        while (await receive())["type"] != "http.disconnect":
            pass
    elif path == "/hold":
        # Starts a streamed response, then holds its instance until the client goes away.
        await read_body()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"held", "more_body": True})
        while (await receive())["type"] != "http.disconnect":
            pass
    else:
        await read_body()
        await _respond(send, 200, b"hello", [(b"content-type", b"text/plain")])


def _scope_facts(scope: dict[str, Any]) -> dict[str, Any]:
    return {
        "client": scope.get("client"),
        "scheme": scope.get("scheme"),
        "root_path": scope.get("root_path"),
        "header_names": [name.decode("latin-1") for name, _ in scope["headers"]],
    }


async def websocket(scope: dict[str, Any], receive: Any, send: Any) -> None:
    record = _recorder(scope)
    path = scope["path"]
    record(await receive())  # websocket.connect
    if path == "/ws/scope":
        # Accept, then tell the client what the server made of the handshake.
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps(_scope_facts(scope))})
        while (await receive())["type"] != "websocket.disconnect":
            pass
        return
    try:
        if path == "/ws/deny":
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": 403,
                    "headers": [(b"x-denied", b"yes"), (b"content-length", b"4")],
                }
            )
            await send({"type": "websocket.http.response.body", "body": b"nope"})
            return
        if path == "/ws/deny-inject":
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": 403,
                    "headers": [(b"x-denied", b"yes\r\nx-injected: 1"), (b"content-length", b"4")],
                }
            )
            await send({"type": "websocket.http.response.body", "body": b"nope"})
            return
        value = b"ok" if path != "/ws/inject" else b"ok\r\nx-injected: 1"
        await send({"type": "websocket.accept", "headers": [(b"x-extra", value)]})
    except ValueError as error:
        record({"send_error": str(error)})
        return
    while True:
        message = record(await receive())
        if message["type"] == "websocket.disconnect":
            return
        if path == "/ws/hold":
            continue
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})
