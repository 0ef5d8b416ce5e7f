"""An HTTP/2 request's fields in one pass: RFC 9113's rules and the shared grammar.

The ``h2`` library can check received header blocks itself
(``validate_inbound_headers``), through a chain of generators, and answers a
failed check with a *connection* error.  We turn that off and check here
instead, in the same pass that splits the fields for the scope:

* what RFC 9113 calls *malformed* (§8.1.1, §8.2, §8.3; RFC 8441 §4) raises
  :class:`Malformed`, which the protocol answers with ``RST_STREAM(PROTOCOL_ERROR)``
  on that stream only: the connection and its other streams go on.  These are
  the rules ``h2`` applied, no fewer (``tests/unit/test_h2_fields.py`` compares
  the verdicts with ``h2.utilities.validate_headers``): a name with an
  uppercase letter, a control byte, a space, a byte over 0x7e or a colon past
  the first byte; an empty name; NUL, CR or LF in a value, or SP/HTAB at its
  start or end; a connection-specific field; ``te`` other than ``trailers``;
  an unknown, repeated or response pseudo-header or one after a regular field;
  a request without ``:method``, or without ``:scheme`` and ``:path`` (plain
  ``CONNECT``: with either of them); ``:protocol`` outside ``CONNECT``; an
  empty ``:path``; neither ``:authority`` nor ``host``, two ``host`` fields or
  a ``host`` that differs from ``:authority``;
* what the shared request grammar (:mod:`daphne._asgi.headers`, the same as
  HTTP/1.1's, CVE-2026-44546 included) refuses is a ``400`` for the
  application's stream layer to answer, as before.

A header block is malformed or not as a whole, so a malformed field wins over
a grammar problem anywhere in the block.  A value the grammar already vouched
for is not looked at twice: the grammar refuses NUL, CR and LF, a token
``:method`` and a visible-ASCII ``:path`` are legal, ``:authority`` is checked
as the ``host`` it becomes (or equals).  Each cookie crumb is a field of its
own (RFC 9113 §8.2.3); ``h2`` checked them only once joined and moved last.
Trailers (:func:`check_trailers`) follow the same field rules and may hold no
pseudo-header.

Fields the server built itself (the request of an ``Upgrade: h2c``, which came
as HTTP/1.1, and a pushed request) were never an HTTP/2 header block: they get
the grammar only (``header_block=False``).

Covered by ``tests/unit/test_h2_fields.py`` (the rules), ``tests/unit/test_h2_malformed.py``
and ``tests/integration/test_h2_malformed_socket.py`` (the stream errors).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .._asgi.headers import (
    CONNECTION_SPECIFIC,
    H2_NAME,
    check_request_target,
    check_request_value,
    is_token,
)
from .._errors import BadRequest

__all__ = ["Malformed", "RequestFields", "check_trailers", "request_fields"]

#: The request's pseudo-header fields; its fields, the cookie crumbs joined into one
#: ``cookie`` field and ``host`` from ``:authority`` where the client sent none; the
#: request target's grammar problem (a 400) or None, the fields' or None; and the
#: declared body length or None.
RequestFields = tuple[
    dict[bytes, bytes],
    list[tuple[bytes, bytes]],
    BadRequest | None,
    BadRequest | None,
    int | None,
]

_REQUEST_PSEUDO = frozenset((b":method", b":scheme", b":authority", b":path", b":protocol"))
#: Regular fields the one pass looks at by name (one set lookup for all of them).
_NOTED = CONNECTION_SPECIFIC | {b"te", b"host", b"cookie", b"content-length"}
#: RFC 9113 §8.2.1: what a field name may hold (besides a pseudo-header's leading colon).
_LEGAL_NAME = re.compile(rb"[\x21-\x39\x3b-\x40\x5b-\x7e]+")
_NUL_CR_LF = re.compile(rb"[\x00\r\n]")
_SP_HTAB = (0x20, 0x09)
_H2_NAME = re.compile(H2_NAME)


class Malformed(Exception):
    """A malformed HTTP/2 request or trailer section (RFC 9113 §8.1.1): a stream error."""


def _padded(value: bytes) -> bool:
    """RFC 9113 §8.2.1: SP or HTAB first or last."""
    return bool(value) and (value[0] in _SP_HTAB or value[-1] in _SP_HTAB)


def _legal_value(value: bytes) -> bool:
    """RFC 9113 §8.2.1: no NUL, CR or LF, not :func:`_padded` (may be empty)."""
    return not _padded(value) and _NUL_CR_LF.search(value) is None


def _check_regular(name: bytes, value: bytes) -> None:
    """A regular field's RFC 9113 rules, past its name's fast check (see the module)."""
    if _LEGAL_NAME.fullmatch(name) is None:
        raise Malformed(f"Illegal field name {name!r}")
    if name in CONNECTION_SPECIFIC:
        raise Malformed(f"Connection-specific field {name!r}")
    if name == b"te" and value.lower() != b"trailers":
        raise Malformed(f"te other than trailers: {value!r}")


def request_fields(
    fields: Iterable[tuple[bytes, bytes]], header_block: bool = True
) -> RequestFields:
    """Split and check a request's fields in one pass (see the module).

    :param header_block: the fields came in an HTTP/2 header block (RFC 9113's
        rules apply), not built by the server.
    :raises Malformed: the request is malformed (with ``header_block``), or has no ``:method``.
    """
    pseudo: dict[bytes, bytes] = {}
    headers: list[tuple[bytes, bytes]] = []
    cookies: list[bytes] = []
    problem: BadRequest | None = None
    declared: int | None = None
    host: bytes | None = None
    name_ok = _H2_NAME.fullmatch
    for name, value in fields:
        if name[:1] == b":":
            if header_block and (
                headers or cookies or name in pseudo or name not in _REQUEST_PSEUDO
            ):
                raise Malformed(f"Misplaced, repeated or unknown pseudo-header {name!r}")
            pseudo[name] = value
            continue
        # The value first: a malformed one is malformed whatever else is wrong.
        try:
            check_request_value(value)
        except BadRequest as error:
            if header_block and not _legal_value(value):
                raise Malformed(f"Illegal value in {name!r}") from None
            bad: BadRequest | None = error
        else:
            # The grammar refuses NUL, CR and LF: only RFC 9113's padding is left.
            if header_block and _padded(value):
                raise Malformed(f"Whitespace around the value of {name!r}")
            bad = None
        if name_ok(name) is None:
            if header_block:
                _check_regular(name, value)
            if not is_token(name):
                bad = BadRequest("Invalid header name")  # the name is checked before the value
        elif name in _NOTED:
            if header_block:
                _check_regular(name, value)
            if name == b"cookie":
                cookies.append(value)  # its grammar: once joined, below
                continue
            if name == b"host":
                if header_block and host is not None:
                    raise Malformed("Two host fields")
                host = value
            elif name == b"content-length" and value.isdigit() and len(value) <= 18:
                declared = int(value)
        if problem is None:
            problem = bad
        headers.append((name, value))
    method = pseudo.get(b":method")
    if method is None:
        raise Malformed("No :method")
    target = pseudo.get(b":path", b"/")
    try:
        # The same grammar as HTTP/1.1's request line: a control byte in :path or a
        # method that is not a token is a 400, not something for the app to see.
        check_request_target(method, target)
    except BadRequest as error:
        if header_block and not (_legal_value(method) and _legal_value(target)):
            raise Malformed("Illegal :method or :path") from None
        target_problem: BadRequest | None = error
    else:
        target_problem = None  # and so both are legal values
    authority = pseudo.get(b":authority")
    if header_block:
        _check_request_pseudo(pseudo, method, authority, host)
    cookie_problem = None
    if cookies:
        # RFC 9113 §8.2.3: cookie crumbs are joined with "; " for HTTP/1.1-minded apps;
        # the grammar is the joined value's (what the app sees), the last field's.
        cookie = b"; ".join(cookies)
        headers.append((b"cookie", cookie))
        try:
            check_request_value(cookie)
        except BadRequest as error:
            cookie_problem = error
    if authority and host is None:
        # Checked as the first field it now is (with host, it is host's value).
        headers.insert(0, (b"host", authority))
        try:
            check_request_value(authority)
        except BadRequest as error:
            if header_block and not _legal_value(authority):
                raise Malformed("Illegal :authority") from None
            problem = error
        else:
            if header_block and _padded(authority):
                raise Malformed("Whitespace around :authority")
    problem = problem or cookie_problem
    return pseudo, headers, target_problem, problem, None if problem else declared


def _check_request_pseudo(
    pseudo: dict[bytes, bytes], method: bytes, authority: bytes | None, host: bytes | None
) -> None:
    """RFC 9113 §8.3, RFC 8441 §4: the pseudo-headers a request needs and may have.

    Of the values, ``:method``, ``:path`` and ``:authority`` are checked with the
    grammar's checks (see :func:`request_fields`); the others here.
    """
    scheme = pseudo.get(b":scheme")
    if scheme is not None and scheme != b"http" and scheme != b"https" and not _legal_value(scheme):
        raise Malformed("Illegal :scheme")
    protocol = pseudo.get(b":protocol")
    if protocol is not None and not _legal_value(protocol):
        raise Malformed("Illegal :protocol")
    if method == b"CONNECT" and b":protocol" not in pseudo:
        if b":scheme" in pseudo or b":path" in pseudo:
            raise Malformed("CONNECT with :scheme or :path")
    elif b":scheme" not in pseudo or b":path" not in pseudo:
        raise Malformed("No :scheme or :path")
    elif b":protocol" in pseudo and method != b"CONNECT":
        raise Malformed(":protocol outside CONNECT")
    if pseudo.get(b":path") == b"":
        raise Malformed("Empty :path")
    if authority is None:
        if host is None:
            raise Malformed("Neither :authority nor host")
    elif host is not None and host != authority:
        raise Malformed(":authority and host differ")


def check_trailers(fields: Iterable[tuple[bytes, bytes]]) -> None:
    """A trailer section's RFC 9113 rules: a request's field rules, and no pseudo-header.

    :raises Malformed: it is malformed.
    """
    for name, value in fields:
        if name[:1] == b":":
            raise Malformed(f"Pseudo-header in trailers: {name!r}")
        _check_regular(name, value)
        if not _legal_value(value):
            raise Malformed(f"Illegal value in {name!r}")
