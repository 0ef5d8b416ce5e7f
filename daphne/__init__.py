"""daphne: an HTTP, HTTP/2 and WebSocket protocol server for ASGI applications."""

import sys

__version__ = "4.3.0.dev0"  # CHANGELOG.txt: 4.3.0 (unreleased)


# Windows' default Proactor event loop has no add_reader(), which Twisted's
# asyncio reactor needs; use the selector loop there.
if sys.platform.startswith("win"):  # pragma: no cover - platform specific
    import asyncio

    asyncio.set_event_loop_policy(asyncio.WindowsSelectorEventLoopPolicy())
