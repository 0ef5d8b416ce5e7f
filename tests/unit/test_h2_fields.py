"""``response_fields``: what the server lets an application put in HTTP/2 response fields."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daphne._h2_stream import response_fields


def test_lowercases_and_drops_connection_specific_fields() -> None:
    headers = [(b"Content-Type", b"text/plain"), (b"Connection", b"close"), (b"X-A", b"1")]
    headers += [(b"Transfer-Encoding", b"chunked"), (b"Keep-Alive", b"5"), (b"Upgrade", b"h2c")]
    fields = response_fields(headers)
    assert fields == [(b"content-type", b"text/plain"), (b"x-a", b"1")]


@pytest.mark.parametrize(
    "field",
    [
        (b"x", b"a\r\nb"),
        (b"x", b"a\nb"),
        (b"x", b"a\x00b"),
        (b"x", b" padded"),
        (b"x", b"padded\t"),
        (b"bad name", b"v"),
        (b"", b"v"),
        (b":status", b"200"),
    ],
)
def test_rejects_fields_that_cannot_be_sent(field) -> None:
    with pytest.raises(ValueError, match="Invalid response header"):
        response_fields([field])


@given(st.lists(st.tuples(st.binary(max_size=12), st.binary(max_size=12)), max_size=5))
def test_accepted_fields_are_safe(headers) -> None:
    try:
        fields = response_fields(headers)
    except ValueError:
        return
    for name, value in fields:
        assert name == name.lower() and name and b":" not in name
        assert not any(byte in value for byte in b"\r\n\x00")
        assert value == value.strip(b" \t")
