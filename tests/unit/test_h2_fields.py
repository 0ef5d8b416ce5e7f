"""HTTP/2 request fields in one pass (``daphne._wire.h2_fields``).

Every RFC 9113 rule ``h2`` applied to a received header block, with a valid
and an invalid case; the grammar problems (400s) as HTTP/1.1 has them; and two
property tests: the malformed verdict is ``h2.utilities.validate_headers``'s
on generated blocks (so no rule of h2's is lost when its check is off), and
the fields, problems and declared length are what the split-then-check code
before the one pass produced.
"""

from __future__ import annotations

import re

import h2.exceptions
import h2.utilities
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from daphne._asgi.headers import H2_NAME, check_request_field, check_request_target, is_token
from daphne._errors import BadRequest
from daphne._wire.h2_fields import Malformed, check_trailers, request_fields

Fields = list[tuple[bytes, bytes]]

GET = [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/"), (b":authority", b"x")]
EXTENDED_CONNECT = [
    (b":method", b"CONNECT"),
    (b":protocol", b"websocket"),
    (b":scheme", b"https"),
    (b":path", b"/ws"),
    (b":authority", b"x"),
]
REQUEST = h2.utilities.HeaderValidationFlags(False, False, False, False)
TRAILER = h2.utilities.HeaderValidationFlags(False, True, False, False)


def h2_says_malformed(fields: Fields, flags: h2.utilities.HeaderValidationFlags) -> bool:
    try:
        list(h2.utilities.validate_headers(fields, flags))
    except h2.exceptions.ProtocolError:
        return True
    return False


def we_say_malformed(fields: Fields) -> bool:
    try:
        request_fields(fields)
    except Malformed:
        return True
    return False


# (what, fields): each a rule of RFC 9113 (§8.1.1, §8.2, §8.3) or RFC 8441 §4.
MALFORMED: list[tuple[str, Fields]] = [
    ("uppercase name", [*GET, (b"X-Test", b"v")]),
    ("space in name", [*GET, (b"x test", b"v")]),
    ("control byte in name", [*GET, (b"x\x01", b"v")]),
    ("DEL in name", [*GET, (b"x\x7f", b"v")]),
    ("byte over 0x7e in name", [*GET, (b"caf\xc3\xa9", b"v")]),
    ("colon inside name", [*GET, (b"x:y", b"v")]),
    ("empty name", [*GET, (b"", b"v")]),
    ("NUL in value", [*GET, (b"x", b"a\x00b")]),
    ("CR in value", [*GET, (b"x", b"a\rb")]),
    ("LF in value", [*GET, (b"x", b"a\nb")]),
    ("leading space", [*GET, (b"x", b" v")]),
    ("trailing tab", [*GET, (b"x", b"v\t")]),
    ("value of one space", [*GET, (b"x", b" ")]),
    ("leading space in a cookie crumb", [*GET, (b"cookie", b"a=1"), (b"cookie", b" b=2")]),
    ("CR in a pseudo-header", [(b":method", b"GET"), *GET[1:2], (b":path", b"/\r\n"), GET[3]]),
    ("space around :path", [*GET[:2], (b":path", b"/ "), GET[3]]),
    ("LF in :method", [(b":method", b"G\nT"), *GET[1:]]),
    ("space around :scheme", [GET[0], (b":scheme", b"http "), *GET[2:]]),
    ("NUL in :scheme", [GET[0], (b":scheme", b"ht\x00tp"), *GET[2:]]),
    ("space around :authority", [*GET[:3], (b":authority", b" x")]),
    ("CR in :authority", [*GET[:3], (b":authority", b"x\r")]),
    (
        "space around :protocol",
        [*EXTENDED_CONNECT[:1], (b":protocol", b" ws"), *EXTENDED_CONNECT[2:]],
    ),
    ("connection", [*GET, (b"connection", b"close")]),
    ("keep-alive", [*GET, (b"keep-alive", b"5")]),
    ("proxy-connection", [*GET, (b"proxy-connection", b"x")]),
    ("transfer-encoding", [*GET, (b"transfer-encoding", b"chunked")]),
    ("upgrade", [*GET, (b"upgrade", b"h2c")]),
    ("te other than trailers", [*GET, (b"te", b"gzip")]),
    ("pseudo after a regular field", [*GET[:3], (b"x", b"y"), GET[3]]),
    ("pseudo after a cookie", [(b"cookie", b"a=1"), *GET]),
    ("repeated pseudo", [*GET, (b":method", b"GET")]),
    ("unknown pseudo", [*GET, (b":foo", b"x")]),
    ("response pseudo", [(b":status", b"200"), *GET]),
    ("bare colon", [*GET, (b":", b"x")]),
    ("no :method", GET[1:]),
    ("no :scheme", [GET[0], *GET[2:]]),
    ("no :path", [*GET[:2], GET[3]]),
    ("empty :path", [*GET[:2], (b":path", b""), GET[3]]),
    ("empty :path on CONNECT", [(b":method", b"CONNECT"), (b":path", b""), GET[3]]),
    ("CONNECT with :scheme", [(b":method", b"CONNECT"), (b":scheme", b"https"), GET[3]]),
    ("CONNECT with :path", [(b":method", b"CONNECT"), (b":path", b"/"), GET[3]]),
    ("extended CONNECT without :path", [f for f in EXTENDED_CONNECT if f[0] != b":path"]),
    ("extended CONNECT without :scheme", [f for f in EXTENDED_CONNECT if f[0] != b":scheme"]),
    (":protocol outside CONNECT", [*GET, (b":protocol", b"websocket")]),
    ("neither :authority nor host", GET[:3]),
    ("two host fields", [*GET[:3], (b"host", b"x"), (b"host", b"x")]),
    ("host differs from :authority", [*GET, (b"host", b"y")]),
]

VALID: list[tuple[str, Fields]] = [
    ("a plain GET", GET),
    ("host instead of :authority", [*GET[:3], (b"host", b"x")]),
    ("host equal to :authority", [*GET, (b"host", b"x")]),
    ("empty :authority", [*GET[:3], (b":authority", b"")]),
    ("te: trailers, any case", [*GET, (b"te", b"Trailers")]),
    ("empty value", [*GET, (b"x", b"")]),
    ("space and tab inside a value", [*GET, (b"x", b"a \tb")]),
    ("obs-text value", [*GET, (b"x", b"\xff")]),
    ("cookie crumbs", [*GET, (b"cookie", b"a=1"), (b"x", b"y"), (b"cookie", b"b=2")]),
    ("plain CONNECT", [(b":method", b"CONNECT"), (b":authority", b"x:443")]),
    ("extended CONNECT", EXTENDED_CONNECT),
    ("pseudo-headers in any order", GET[::-1]),
    # Not HTTP/2's business: the grammar makes these 400s (below).
    ("name that is no token", [*GET, (b"x(y", b"v")]),
    ("vertical tab in a value", [*GET, (b"x", b"a\x0bb")]),
]


@pytest.mark.parametrize(("what", "fields"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_requests(what: str, fields: Fields) -> None:
    assert h2_says_malformed(fields, REQUEST), "the case does not test an h2 rule"
    with pytest.raises(Malformed):
        request_fields(fields)


@pytest.mark.parametrize(("what", "fields"), VALID, ids=[v[0] for v in VALID])
def test_well_formed_requests(what: str, fields: Fields) -> None:
    assert not h2_says_malformed(fields, REQUEST)
    request_fields(fields)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ([*GET, (b"x(y", b"v")], "Invalid header name"),
        ([*GET, (b"x", b"a\x0bb")], "Invalid header value"),
        ([*GET, (b"x", b"a\x85b")], "Invalid header value"),  # CVE-2026-44546
        ([*GET, (b"x", b"a\x7f")], "Invalid header value"),
        ([*GET[:3], (b":authority", b"a\x1cb")], "Invalid header value"),  # becomes host
        ([*GET, (b"cookie", b"a\x0b")], "Invalid header value"),
        # The app sees the crumbs joined: a lone 0x85 once they are (not valid UTF-8 then).
        ([*GET, (b"cookie", b"\xff"), (b"cookie", "Å".encode())], "Invalid header value"),
        # The first problem in the fields as the app would see them: host, the rest, cookie.
        ([*GET, (b"cookie", b"a\x0b"), (b"x(y", b"v")], "Invalid header name"),
        ([*GET, (b"x(y", b"a\x0b")], "Invalid header name"),
        ([*GET[:3], (b":authority", b"\x0b"), (b"x(y", b"v")], "Invalid header value"),
    ],
)
def test_grammar_problems_are_400s(fields: Fields, reason: str) -> None:
    _, _, _, problem, declared = request_fields(fields)
    assert problem is not None and problem.status == 400 and problem.reason == reason
    assert declared is None


def test_fields_as_the_app_sees_them() -> None:
    fields = [
        *GET[:3],
        (b":authority", b"example.com"),
        (b"cookie", b"a=1"),
        (b"content-length", b"12"),
        (b"x", b"1"),
        (b"cookie", b"b=2"),
    ]
    pseudo, headers, target_problem, problem, declared = request_fields(fields)
    assert pseudo == dict(fields[:4])
    assert headers == [
        (b"host", b"example.com"),
        (b"content-length", b"12"),
        (b"x", b"1"),
        (b"cookie", b"a=1; b=2"),
    ]
    assert target_problem is None and problem is None and declared == 12


def test_server_built_fields_get_the_grammar_only() -> None:
    """An upgraded HTTP/1.1 request or a push: no RFC 9113 rule, the grammar still."""
    fields = [(b"x", b"y"), *GET[:3], (b"te", b"gzip"), (b"X-Up", b" v"), (b"x(y", b"v")]
    pseudo, headers, _, problem, _ = request_fields(fields, header_block=False)
    assert pseudo == dict(GET[:3])
    assert (b"te", b"gzip") in headers and (b"X-Up", b" v") in headers
    assert problem is not None and problem.reason == "Invalid header name"
    with pytest.raises(Malformed):
        request_fields(GET[1:], header_block=False)  # no :method: no request at all


@pytest.mark.parametrize(
    ("fields", "malformed"),
    [
        ([(b"x-checksum", b"abc"), (b"te", b"trailers")], False),
        ([], False),
        ([(b":method", b"GET")], True),
        ([(b"x", b"y"), (b":path", b"/")], True),
        ([(b"X-Up", b"v")], True),
        ([(b"", b"v")], True),
        ([(b"x", b"a\nb")], True),
        ([(b"x", b"v ")], True),
        ([(b"connection", b"close")], True),
        ([(b"te", b"gzip")], True),
    ],
)
def test_trailers(fields: Fields, malformed: bool) -> None:
    assert h2_says_malformed(fields, TRAILER) == malformed
    if malformed:
        with pytest.raises(Malformed):
            check_trailers(fields)
    else:
        check_trailers(fields)


@pytest.mark.parametrize("byte", range(256))
def test_h2_name_is_a_token_without_uppercase(byte: int) -> None:
    name = b"x" + bytes([byte])
    expected = is_token(name) and not 0x41 <= byte <= 0x5A
    assert (re.fullmatch(H2_NAME, name) is not None) == expected


# -- properties -----------------------------------------------------------------------

NAMES = st.one_of(
    st.sampled_from(
        [
            b":method", b":scheme", b":path", b":authority", b":protocol", b":status",
            b":x", b":", b"host", b"cookie", b"te", b"connection", b"upgrade",
            b"content-length", b"x-a", b"X-A", b"", b"a b", b"a:b", b"a(b", b"\xc3\xa5",
        ]
    ),
    st.binary(max_size=5),
)  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(
        [
            b"", b"GET", b"CONNECT", b"http", b"/", b"x", b"trailers", b"TRAILERS", b"gzip",
            b" x", b"x\t", b"a\x00", b"a\rb", b"a\x0bb", b"a\x85", b"\xc3\x85", b"12", b"1x",
        ]
    ),
    st.binary(max_size=5),
)  # fmt: skip
FIELD = st.tuples(NAMES, VALUES)
GOOD_FIELD = st.sampled_from(
    [
        (b"accept", b"*/*"),
        (b"user-agent", b"h2 client/1.0"),
        (b"cookie", b"a=1"),
        (b"te", b"trailers"),
        (b"content-length", b"12"),
        (b"host", b"x"),
        (b"x-a", b""),
    ]
)


@st.composite
def header_blocks(draw: st.DrawFn) -> Fields:
    """A valid request (GET or CONNECT), often with a field changed, added or removed."""
    base = draw(
        st.sampled_from(
            [
                GET,
                [*GET[:3], (b"host", b"x")],
                EXTENDED_CONNECT,
                [(b":method", b"CONNECT"), (b":authority", b"x")],
            ]
        )
    )
    fields = list(base) + draw(st.lists(GOOD_FIELD, max_size=3))
    for _ in range(draw(st.integers(0, 2))):
        position = draw(st.integers(0, len(fields)))
        action = draw(st.sampled_from(["insert", "rename", "revalue", "copy", "delete", "swap"]))
        if action == "insert" or not fields:
            fields.insert(position, draw(FIELD))
            continue
        i = position % len(fields)
        if action == "rename":  # another name, same value
            fields[i] = (draw(NAMES), fields[i][1])
        elif action == "revalue":  # same name, another value
            fields[i] = (fields[i][0], draw(VALUES))
        elif action == "copy":  # the same field twice
            fields.insert(draw(st.integers(0, len(fields))), fields[i])
        elif action == "delete":
            del fields[i]
        else:
            other = draw(st.integers(0, len(fields) - 1))
            fields[i], fields[other] = fields[other], fields[i]
    return fields


@settings(max_examples=15 * settings.default.max_examples)
@given(header_blocks())
@example([(b"cookie", b"a"), *GET])
@example([*GET, (b"cookie", b" a"), (b"cookie", b"b")])
def test_malformed_verdict_is_h2s(fields: Fields) -> None:
    assert we_say_malformed(fields) == h2_says_malformed(fields, REQUEST), fields


@settings(max_examples=5 * settings.default.max_examples)
@given(st.lists(FIELD, max_size=5))
def test_trailer_verdict_is_h2s(fields: Fields) -> None:
    try:
        check_trailers(fields)
    except Malformed:
        ours = True
    else:
        ours = False
    assert ours == h2_says_malformed(fields, TRAILER), fields


def split_then_check(
    fields: Fields,
) -> tuple[dict[bytes, bytes], Fields, str | None, str | None, int | None]:
    """What the server did before the one pass: split the fields, then check each.

    Returns the pseudo-headers, the fields, the target's and the fields' problem
    (their reasons) and the declared length.
    """
    pseudo: dict[bytes, bytes] = {}
    headers: Fields = []
    cookies: list[bytes] = []
    for name, value in fields:
        if name[:1] == b":":
            pseudo[name] = value
        elif name == b"cookie":
            cookies.append(value)
        else:
            headers.append((name, value))
    if cookies:
        headers.append((b"cookie", b"; ".join(cookies)))
    authority = pseudo.get(b":authority")
    if authority and not any(name == b"host" for name, _ in headers):
        headers.insert(0, (b"host", authority))
    try:
        check_request_target(pseudo[b":method"], pseudo.get(b":path", b"/"))
    except BadRequest as error:
        target_problem: str | None = error.reason
    else:
        target_problem = None
    declared = None
    for name, value in headers:
        try:
            check_request_field(name, value)
        except BadRequest as error:
            return pseudo, headers, target_problem, error.reason, None
        if name == b"content-length" and value.isdigit() and len(value) <= 18:
            declared = int(value)
    return pseudo, headers, target_problem, None, declared


@settings(max_examples=10 * settings.default.max_examples)
@given(header_blocks(), st.booleans())
def test_split_and_problems_are_as_before(fields: Fields, header_block: bool) -> None:
    try:
        pseudo, headers, target_problem, problem, declared = request_fields(fields, header_block)
    except Malformed:
        assert header_block or not any(name == b":method" for name, _ in fields)
        return
    assert (
        pseudo,
        headers,
        target_problem and target_problem.reason,
        problem and problem.reason,
        declared,
    ) == split_then_check(fields)
