"""WebSocket URL routes (wrapped in ``AuthMiddlewareStack`` by :mod:`djproject.asgi`)."""

from django.urls import path

from djproject.consumers import EchoConsumer, RoomConsumer

websocket_urlpatterns = [
    path("ws/echo/", EchoConsumer.as_asgi()),
    path("ws/room/<slug:room>/", RoomConsumer.as_asgi()),
]
