"""ASGI applications for the in-memory protocol tests."""

from __future__ import annotations

from typing import Any


class Recorder:
    """Records scope and messages; replies with the messages given (after the body)."""

    def __init__(self, *reply: dict[str, Any], read_body: bool = True) -> None:
        self.reply = list(reply) or [
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]},
            {"type": "http.response.body", "body": b"OK"},
        ]
        self.read_body = read_body
        self.scopes: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.send_errors: list[BaseException] = []
        self.send: Any = None
        self.receive: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.scopes.append(scope)
        self.send, self.receive = send, receive
        if self.read_body:
            while True:
                message = await receive()
                self.messages.append(message)
                if message["type"] != "http.request" or not message.get("more_body"):
                    break
        for message in self.reply:
            try:
                await send(message)
            except ValueError as error:
                self.send_errors.append(error)
                return

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.request")


def start(status: int = 200, headers: list | None = None) -> dict[str, Any]:
    return {"type": "http.response.start", "status": status, "headers": headers or []}


def body(data: bytes = b"", more: bool = False) -> dict[str, Any]:
    return {"type": "http.response.body", "body": data, "more_body": more}
