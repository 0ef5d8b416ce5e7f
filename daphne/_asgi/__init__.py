"""The protocol-neutral ASGI layer: one stream per request or WebSocket, the message state machines,
scopes, the header grammar, error pages and the application instance.

Every ASGI rule and every limit is decided here, once, for every protocol; see ``docs/flow.md``.
"""
