"""The one header grammar (``daphne._asgi.headers``): request fields, response fields, HTTP/2 form."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daphne._asgi.headers import (
    check_request_field,
    check_response_headers,
    h2_response_fields,
    is_token,
    with_defaults,
)
from daphne._errors import ApplicationMessageError, BadRequest


@pytest.mark.parametrize(
    "value",
    [b"a\x0bb", b"a\x0cb", b"a\x1cb", b"a\x1db", b"a\x1eb", b"a\x00b", b"a\rb", b"a\nb", b"\x7f"],
)
def test_request_values_with_control_bytes_are_refused(value: bytes) -> None:
    with pytest.raises(BadRequest) as info:
        check_request_field(b"x-test", value)
    assert info.value.status == 400


def test_lone_0x85_is_refused_but_utf8_is_not() -> None:
    """CVE-2026-44546: U+0085 is a line break to str.splitlines()."""
    with pytest.raises(BadRequest):
        check_request_field(b"x-test", b"a\x85b")
    check_request_field(b"x-test", "Å".encode())  # C3 85
    check_request_field(b"x-test", b"tab\tand space and obs-text \xff")


@pytest.mark.parametrize("name", [b"bad name", b"", b"a:b", b"caf\xc3\xa9", b"x\x00"])
def test_request_names_must_be_tokens(name: bytes) -> None:
    with pytest.raises(BadRequest):
        check_request_field(name, b"v")


@pytest.mark.parametrize(
    "field",
    [
        (b"x", b"a\r\nx-injected: 1"),
        (b"x", b"a\nb"),
        (b"x", b"a\x00b"),
        (b"bad name", b"v"),
        (b"", b"v"),
        (b":status", b"200"),
    ],
)
def test_response_fields_that_break_framing_are_refused(field) -> None:
    with pytest.raises(ApplicationMessageError, match="Invalid response header"):
        check_response_headers([field])


def test_h2_form_lowercases_drops_connection_fields_and_strips_ows() -> None:
    headers = [(b"Content-Type", b"text/plain"), (b"Connection", b"close"), (b"X-A", b" 1\t")]
    headers += [(b"Transfer-Encoding", b"chunked"), (b"Keep-Alive", b"5"), (b"Upgrade", b"h2c")]
    assert h2_response_fields(headers) == [(b"content-type", b"text/plain"), (b"x-a", b"1")]


def test_defaults_added_only_where_missing() -> None:
    assert with_defaults([], b"D", b"daphne") == [(b"Date", b"D"), (b"Server", b"daphne")]
    own = [(b"SERVER", b"mine"), (b"date", b"x")]
    assert with_defaults(own, b"D", b"daphne") == own
    assert with_defaults([], b"D", b"") == [(b"Date", b"D")]


@given(st.lists(st.tuples(st.binary(max_size=12), st.binary(max_size=12)), max_size=5))
def test_accepted_fields_are_safe_on_every_wire(headers) -> None:
    try:
        check_response_headers(headers)
    except ApplicationMessageError:
        return
    for name, value in h2_response_fields(headers):
        assert name == name.lower() and name and b":" not in name
        assert not any(byte in value for byte in b"\r\n\x00")
        assert value == value.strip(b" \t")


# The per-field checks held to the grammar written out again here, byte by byte.
_TOKEN_GRAMMAR = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
_REQUEST_VALUE_GRAMMAR = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")  # RFC 9110 §5.5
_RESPONSE_VALUE_GRAMMAR = re.compile(rb"[^\x00\r\n]*")


def _refused(check: Callable[[], object]) -> bool:
    try:
        check()
    except (BadRequest, ApplicationMessageError):
        return True
    return False


@pytest.mark.parametrize("byte", range(256))
def test_token_check_is_the_token_grammar(byte: int) -> None:
    one = bytes([byte])
    assert is_token(one) == (_TOKEN_GRAMMAR.fullmatch(one) is not None)
    assert is_token(b"x" + one + b"y") == (_TOKEN_GRAMMAR.fullmatch(one) is not None)


@given(st.binary(max_size=12), st.binary(max_size=24))
def test_field_checks_agree_with_the_grammar(name: bytes, value: bytes) -> None:
    name_ok = _TOKEN_GRAMMAR.fullmatch(name) is not None
    value_ok = _REQUEST_VALUE_GRAMMAR.fullmatch(value) is not None
    if value_ok and b"\x85" in value:
        try:  # a lone 0x85 only inside valid UTF-8 (CVE-2026-44546)
            value.decode("utf-8")
        except UnicodeDecodeError:
            value_ok = False
    assert is_token(name) == name_ok
    assert _refused(lambda: check_request_field(name, value)) == (not (name_ok and value_ok))
    response_ok = name_ok and _RESPONSE_VALUE_GRAMMAR.fullmatch(value) is not None
    assert _refused(lambda: check_response_headers([(name, value)])) == (not response_ok)
    assert _refused(lambda: with_defaults([(name, value)], b"d", b"s", check=True)) == (
        not response_ok
    )


@pytest.mark.parametrize(
    "value", [b"\x85", b"a\x85", "Å".encode(), "ÅÅ\x85".encode(), b"\xc3\x85\x01"]
)
def test_0x85_alone_or_beside_other_bytes(value: bytes) -> None:
    expected_ok = _REQUEST_VALUE_GRAMMAR.fullmatch(value) is not None
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        expected_ok = False
    assert _refused(lambda: check_request_field(b"x", value)) == (not expected_ok)
