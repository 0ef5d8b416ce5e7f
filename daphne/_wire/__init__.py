"""Wire adapters: bytes and frames of HTTP/1.1, HTTP/2 and WebSocket handshakes, and protocol selection.

They translate and make no ASGI decision; see ``docs/flow.md``.
"""
