"""Responses the server writes itself: status lines and error pages.

Below every protocol module (HTTP/1.1, HTTP/2, WebSocket), so that none has
to import another for them.  The page is Daphne's small HTML document; the
HTTP streams (:mod:`daphne._asgi.http_stream`, :mod:`daphne._asgi.ws_stream`) pick the
status and reason, the wires only frame it.

Covered by ``tests/integration/test_protocol_matrix.py`` (the error pages on every protocol).
"""

from __future__ import annotations

from html import escape
from http import HTTPStatus

__all__ = ["error_headers", "error_page", "status_line"]

_STATUS_LINES: dict[tuple[str, int], bytes] = {}


def status_line(http_version: str, status: int) -> bytes:
    """``HTTP/1.1 200 OK\\r\\n`` for a version and status, cached."""
    key = (http_version, status)
    line = _STATUS_LINES.get(key)
    if line is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        line = f"HTTP/{http_version} {status} {phrase}\r\n".encode("ascii")
        _STATUS_LINES[key] = line
    return line


def error_page(status: int, reason: str) -> bytes:
    """A small self-contained HTML page for errors the server answers itself."""
    try:
        title = f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        title = str(status)
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:3em;color:#333}"
        "footer{color:#999;font-size:small;margin-top:2em}</style></head>"
        f"<body><h1>{escape(title)}</h1><p>{escape(reason)}</p><footer>Daphne</footer></body></html>"
    ).encode()


def error_headers(page: bytes) -> list[tuple[bytes, bytes]]:
    """The fields describing an :func:`error_page` body."""
    return [(b"Content-Type", b"text/html; charset=utf-8"), (b"Content-Length", b"%d" % len(page))]
