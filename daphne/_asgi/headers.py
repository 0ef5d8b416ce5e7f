"""The header grammar, written once for every protocol and both directions.

Request side (RFC 9110 §5.1, §5.5): a field name is a token; a field value
may hold HTAB, SP, VCHAR and obs-text, and every other control byte is
refused (NUL, CR, LF, VT, FF, FS/GS/RS, DEL...).  A lone 0x85 byte is refused
too unless it is part of valid UTF-8 (CVE-2026-44546: U+0085 is a line break
to ``str.splitlines()``, so an application that splits decoded values would
see two fields where the proxy in front saw one).  The HTTP/1.1 parser and
the HTTP/2 header path (:mod:`daphne._wire.h2_fields`) both use these checks.

Response side: what the application sends in ``http.response.start``,
``websocket.accept``, a WebSocket denial response or trailers must not break
the framing of any wire: names are tokens, values hold no NUL, CR or LF
(:func:`check_response_headers`).  HTTP/1.1 writes the fields as given;
HTTP/2 lower-cases names and leaves out connection-specific fields
(:func:`h2_response_fields`).

Covered by ``tests/unit/test_headers.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .._errors import ApplicationMessageError, BadRequest

__all__ = [
    "CONNECTION_SPECIFIC",
    "H2_NAME",
    "TOKEN",
    "check_request_field",
    "check_request_value",
    "check_response_headers",
    "h2_response_fields",
    "is_token",
    "with_defaults",
]

#: RFC 9110 §5.6.2 token, as a regular expression source.
TOKEN = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
#: A token without uppercase letters: a field name both HTTP/2 (RFC 9113 §8.2.1)
#: and the grammar accept, as a regular expression source.
H2_NAME = TOKEN.replace(b"A-Z", b"")
_TOKEN_RE = re.compile(TOKEN)
#: A request target (RFC 9112 §3.2): visible ASCII only; also HTTP/2's ``:path``.
TARGET = rb"[\x21-\x7e]+"
_TARGET_RE = re.compile(TARGET)
# Field values may hold HTAB, SP, VCHAR and obs-text (RFC 9110 §5.5).
_BAD_REQUEST_VALUE_RE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
# What would end a field or the head early on some wire.
_BAD_RESPONSE_VALUE_RE = re.compile(rb"[\x00\r\n]")

#: Fields that describe one hop's connection (RFC 9113 §8.2.2): never sent over HTTP/2.
CONNECTION_SPECIFIC = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade")
)


def is_token(name: bytes) -> bool:
    """Whether ``name`` is an RFC 9110 token (a valid field name or method)."""
    return _TOKEN_RE.fullmatch(name) is not None


def check_request_target(method: bytes, target: bytes) -> None:
    """Refuse a method that is not a token or a target with other than visible ASCII.

    HTTP/1.1's request line is parsed against the same two rules.

    :raises BadRequest: (400).
    """
    if _TOKEN_RE.fullmatch(method) is None:
        raise BadRequest("Invalid request method")
    if _TARGET_RE.fullmatch(target) is None:
        raise BadRequest("Invalid characters in request target")


def check_request_field(name: bytes, value: bytes) -> None:
    """Refuse a request field that is not in the grammar.

    :raises BadRequest: (400) naming what is wrong.
    """
    if _TOKEN_RE.fullmatch(name) is None:
        raise BadRequest("Invalid header name")
    check_request_value(value)


def check_request_value(value: bytes) -> None:
    """Refuse a request field value with control bytes (see the module).

    :raises BadRequest: (400).
    """
    if _BAD_REQUEST_VALUE_RE.search(value) is not None:
        raise BadRequest("Invalid header value")
    if value.find(b"\x85") != -1:  # find(), not ``in``: see daphne._asgi.scope.clean_headers
        # Inside valid UTF-8 (e.g. "Å" = C3 85) 0x85 is just part of a character.
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("Invalid header value") from None


def check_response_headers(headers: Iterable[tuple[bytes, bytes]]) -> None:
    """Refuse response fields that would break the framing of the response.

    :raises ApplicationMessageError: naming the offending field.
    """
    for name, value in headers:
        if _TOKEN_RE.fullmatch(name) is None or _BAD_RESPONSE_VALUE_RE.search(value) is not None:
            raise ApplicationMessageError(f"Invalid response header {name!r}: {value!r}")


def with_defaults(
    headers: list[tuple[bytes, bytes]], date: bytes, server: bytes, check: bool = False
) -> list[tuple[bytes, bytes]]:
    """``headers`` plus ``Date`` and ``Server`` where the application did not set them.

    An empty ``server`` (``--server-name ""``) adds no ``Server`` field.  With
    ``check``, the fields are checked as :func:`check_response_headers` does,
    in the same pass (the response head's hot path).

    :raises ApplicationMessageError: (with ``check``) naming the offending field.
    """
    has_date = has_server = False
    for name, value in headers:
        if check and (
            _TOKEN_RE.fullmatch(name) is None or _BAD_RESPONSE_VALUE_RE.search(value) is not None
        ):
            raise ApplicationMessageError(f"Invalid response header {name!r}: {value!r}")
        size = len(name)
        if size == 4 and name.lower() == b"date":
            has_date = True
        elif size == 6 and name.lower() == b"server":
            has_server = True
    if has_date and (has_server or not server):
        return headers
    extra = []
    if not has_date:
        extra.append((b"Date", date))
    if not has_server and server:
        extra.append((b"Server", server))
    return [*headers, *extra]


def h2_response_fields(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Checked response fields as HTTP/2 carries them (RFC 9113 §8.2).

    Names are lower-cased, connection-specific fields are left out, and the
    optional whitespace around a value (not part of it, RFC 9110 §5.5) is
    stripped, since HTTP/2 peers treat it as malformed.
    """
    fields = []
    for name, value in headers:
        lower = name.lower()
        if lower in CONNECTION_SPECIFIC:
            continue
        if value[:1] in (b" ", b"\t") or value[-1:] in (b" ", b"\t"):
            value = value.strip(b" \t")
        fields.append((lower, value))
    return fields
