"""WebSocket consumers of the test project.

* :class:`EchoConsumer` sends every message straight back.
* :class:`RoomConsumer` joins the channel-layer group of its room, greets the client with
  facts about the serving process, and relays what the group receives.  With
  ``channels_redis`` the group spans every server process, which the scale-out recipe test
  (``tests/recipes/test_recipe_scale_out.py``) checks by comparing process ids.
"""

from __future__ import annotations

import os
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer


def room_group(room: str) -> str:
    """The channel-layer group name of a room."""
    return f"room-{room}"


class EchoConsumer(AsyncWebsocketConsumer):
    """Echoes text and binary messages unchanged."""

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is not None:
            await self.send(text_data=text_data)
        else:
            await self.send(bytes_data=bytes_data)


class RoomConsumer(AsyncJsonWebsocketConsumer):
    """A chat-room member: ``{"text": ...}`` from the client goes to the whole room.

    On connect the client gets ``{"type": "hello", "pid", "client", "scheme", "user"}``;
    every room message arrives as ``{"type": "broadcast", "text", "from_pid", "pid"}``,
    ``from_pid`` being the process that sent it and ``pid`` the one relaying it.
    """

    async def connect(self) -> None:
        self.group = room_group(self.scope["url_route"]["kwargs"]["room"])
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json(
            {
                "type": "hello",
                "pid": os.getpid(),
                "client": self.scope.get("client"),
                "scheme": self.scope.get("scheme"),
                "user": str(self.scope["user"]),
            }
        )

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        await self.channel_layer.group_send(
            self.group,
            {"type": "room.message", "text": str(content.get("text", "")), "from_pid": os.getpid()},
        )

    async def room_message(self, event: dict[str, Any]) -> None:
        """Handler of ``room.message`` group events."""
        await self.send_json(
            {
                "type": "broadcast",
                "text": event["text"],
                "from_pid": event["from_pid"],
                "pid": os.getpid(),
            }
        )
