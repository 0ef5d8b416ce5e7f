"""Property tests of the pure parser: chunked round trips and head parsing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from daphne._errors import BadRequest
from daphne._wire.http1_parser import ChunkedDecoder, find_head_end, parse_request_head


def encode_chunked(pieces: list[bytes]) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces if p) + b"0\r\n\r\n"


@given(
    st.lists(st.binary(min_size=1, max_size=300), max_size=8),
    st.lists(st.integers(1, 64), max_size=20),
    st.binary(max_size=20),
)
def test_chunked_round_trip_at_any_split(
    pieces: list[bytes], cuts: list[int], after: bytes
) -> None:
    """Decoding a chunked body fed in arbitrary slices gives the body and leaves the rest."""
    data = encode_chunked(pieces) + after
    decoder = ChunkedDecoder()
    out, offset = [], 0
    for cut in [*cuts, len(data)]:
        if decoder.done:
            break
        out += decoder.feed(data[offset : offset + cut])
        offset += cut
    assert decoder.done
    assert b"".join(out) == b"".join(pieces)
    assert decoder.unused + data[offset:] == after


@given(st.binary(max_size=300))
def test_chunked_garbage_never_crashes(data: bytes) -> None:
    """Arbitrary bytes either decode or raise BadRequest."""
    decoder = ChunkedDecoder()
    try:
        decoder.feed(data)
    except BadRequest as error:
        assert error.status == 400


@given(st.binary(max_size=300))
def test_head_parser_only_raises_bad_request(data: bytes) -> None:
    """parse_request_head accepts a head or raises BadRequest with a 4xx/5xx status."""
    try:
        head = parse_request_head(data)
    except BadRequest as error:
        assert 400 <= error.status < 600
        assert error.reason
    else:
        assert head.http_version in ("1.0", "1.1")


@given(st.binary(max_size=100), st.binary(max_size=100))
def test_find_head_end_is_consistent(head: bytes, rest: bytes) -> None:
    """When a blank line exists, find_head_end points at the first one."""
    data = head + b"\r\n\r\n" + rest
    end, body_start = find_head_end(data)
    assert end != -1
    assert data[end:body_start] in (b"\r\n\r\n", b"\n\n")
    assert end <= len(head) + 1
