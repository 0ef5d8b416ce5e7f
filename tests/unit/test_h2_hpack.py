"""daphne._wire.h2_hpack against the hpack package, which it replaces in our h2 connections.

Round trips both ways (our encoder to hpack's decoder, hpack's encoder to our
decoder), the same verdict as hpack's decoder on arbitrary bytes, every
decoding error by name, and the bounds a client cannot push past.
"""

from __future__ import annotations

import hpack
import hpack.exceptions
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daphne._wire.h2_hpack import Decoder, Encoder, encode_integer

NAMES = [b":status", b"content-type", b"content-length", b"server", b"date", b"x-a", b"set-cookie"]
names = st.one_of(st.sampled_from(NAMES), st.binary(min_size=1, max_size=12))
values = st.one_of(
    st.sampled_from([b"", b"200", b"404", b"text/html", b"text/plain", b"gzip, deflate"]),
    st.binary(max_size=40),
    st.binary(min_size=900, max_size=1300),  # bigger than a quarter of the table
)
header_lists = st.lists(st.tuples(names, values), max_size=8)
# A block, or a new table size from the peer's SETTINGS (encoder side).
steps = st.lists(st.one_of(header_lists, st.integers(0, 5000)), min_size=1, max_size=12)


@settings(
    max_examples=3 * settings.default.max_examples // 2,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(steps)
def test_our_encoder_is_understood_by_hpack(sequence: list[object]) -> None:
    ours, theirs = Encoder(), hpack.Decoder()
    theirs.max_allowed_table_size = 5000
    for step in sequence:
        if isinstance(step, int):
            ours.header_table_size = step
            continue
        assert list(step) == [tuple(f) for f in theirs.decode(ours.encode(step), raw=True)]  # type: ignore[arg-type]
        assert theirs.header_table_size == ours.header_table_size


@settings(
    max_examples=3 * settings.default.max_examples // 2,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(steps, st.booleans())
def test_our_decoder_understands_hpack(sequence: list[object], huffman: bool) -> None:
    theirs, ours = hpack.Encoder(), Decoder()
    ours.max_allowed_table_size = 5000
    for step in sequence:
        if isinstance(step, int):
            if step != theirs.header_table_size:
                # hpack's encoder forgets a pending size update if told the same size again.
                theirs.header_table_size = step
            continue
        assert ours.decode(theirs.encode(step, huffman=huffman)) == list(step)  # type: ignore[arg-type]
        assert ours.header_table_size == theirs.header_table_size


@settings(
    max_examples=3 * settings.default.max_examples // 2,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(steps)
def test_our_encoder_and_decoder_agree(sequence: list[object]) -> None:
    encoder, decoder = Encoder(), Decoder()
    decoder.max_allowed_table_size = 5000
    for step in sequence:
        if isinstance(step, int):
            encoder.header_table_size = step
        else:
            assert decoder.decode(encoder.encode(step)) == list(step)  # type: ignore[arg-type]


def _verdict(decoder: object, block: bytes) -> object:
    try:
        return [tuple(field) for field in decoder.decode(block, raw=True)]  # type: ignore[attr-defined]
    except (hpack.exceptions.HPACKError, IndexError, TypeError, UnicodeDecodeError) as error:
        # What h2 turns into a connection error; ours must only raise HPACK's errors.
        return type(error).__name__ if isinstance(error, hpack.exceptions.HPACKError) else "other"


# Blocks a client might send: valid representations, mixed with raw junk.
_pieces = st.one_of(
    st.builds(lambda i: encode_integer(i, 7, 0x80), st.integers(0, 140)),
    st.builds(lambda i: encode_integer(i, 5, 0x20), st.integers(0, 5000)),
    st.builds(
        lambda i, v: encode_integer(i, 6, 0x40) + bytes([len(v)]) + v,
        st.integers(0, 70),
        st.binary(max_size=30),
    ),
    st.builds(
        lambda f, v: bytes([f]) + bytes([len(v)]) + v + bytes([len(v)]) + v,
        st.sampled_from([0x00, 0x10, 0x40]),
        st.binary(max_size=30),
    ),
    st.binary(min_size=1, max_size=8),
)


@settings(
    max_examples=5 * settings.default.max_examples // 2,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.lists(st.lists(_pieces, max_size=6).map(b"".join), min_size=1, max_size=4),
    st.integers(40, 300),
)
def test_same_verdict_as_hpack_on_any_bytes(blocks: list[bytes], limit: int) -> None:
    ours, theirs = Decoder(), hpack.Decoder()
    ours.max_header_list_size = theirs.max_header_list_size = limit
    for block in blocks:
        verdict = _verdict(ours, block)
        assert verdict != "other"
        assert verdict == _verdict(theirs, block)
        if isinstance(verdict, str):
            return  # h2 drops the connection: the tables no longer matter
        # The dynamic tables agree entry by entry.
        probe = b"".join(
            encode_integer(62 + i, 7, 0x80) for i in range(len(theirs.header_table.dynamic_entries))
        )
        assert _verdict(ours, probe) == _verdict(theirs, probe)


@pytest.mark.parametrize(
    ("block", "error"),
    [
        (b"\x80", hpack.exceptions.InvalidTableIndex),  # index 0
        (b"\xbe", hpack.exceptions.InvalidTableIndex),  # 62: the dynamic table is empty
        (b"\x82\x3f\xe1\x1f", hpack.exceptions.HPACKDecodingError),  # size update after a field
        (b"\x3f\xe2\x1f", hpack.exceptions.InvalidTableSizeError),  # 4097 > what we announced
        (b"\x44\x05ab", hpack.exceptions.HPACKDecodingError),  # value shorter than its length
        (b"\x40", hpack.exceptions.HPACKDecodingError),  # name missing
        (b"\x40\x01a", hpack.exceptions.HPACKDecodingError),  # value missing
        (
            b"\xff\x80\x80\x80\x80\x80\x80\x01",
            hpack.exceptions.HPACKDecodingError,
        ),  # integer too long
        (b"\xff\x80", hpack.exceptions.HPACKDecodingError),  # integer cut short
        (b"\x44\x81\xff", hpack.exceptions.HPACKDecodingError),  # Huffman EOS in a string
    ],
)
def test_decoding_errors(block: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        Decoder().decode(block)


def test_a_small_block_cannot_expand_past_the_list_limit() -> None:
    decoder = Decoder()
    decoder.max_header_list_size = 1000
    encoder = hpack.Encoder()
    first = encoder.encode([(b"x-big", b"v" * 500)])
    assert decoder.decode(first) == [(b"x-big", b"v" * 500)]
    # One byte per repeat of the indexed entry, 537 octets of list each.
    with pytest.raises(hpack.exceptions.OversizedHeaderListError):
        decoder.decode(b"\xbe\xbe")


def test_shrunk_table_must_be_followed() -> None:
    decoder = Decoder()
    decoder.decode(hpack.Encoder().encode([(b"x-a", b"1")]))
    decoder.max_allowed_table_size = 100  # we announced a smaller table
    with pytest.raises(hpack.exceptions.InvalidTableSizeError):
        decoder.decode(b"\x82")
    assert decoder.decode(b"\x3f\x45\x82") == [(b":method", b"GET")]  # size update to 100 first


def test_repeated_response_is_indexed() -> None:
    encoder = Encoder()
    fields = [(b":status", b"200"), (b"content-type", b"text/plain"), (b"server", b"daphne")]
    first = encoder.encode(fields)
    again = encoder.encode(fields)
    assert len(again) == 3  # one octet per field
    assert len(first) > len(again)


def test_table_size_changes_are_signalled_smallest_then_last() -> None:
    encoder = Encoder()
    encoder.header_table_size = 0
    encoder.header_table_size = 2048
    block = encoder.encode([(b":status", b"200")])
    assert block == encode_integer(0, 5, 0x20) + encode_integer(2048, 5, 0x20) + b"\x88"
    assert encoder.encode([(b":status", b"200")]) == b"\x88"


def test_never_indexed_fields_stay_out_of_the_table() -> None:
    encoder = Encoder()
    field = hpack.NeverIndexedHeaderTuple(b"authorization", b"secret")
    block = encoder.encode([field])
    assert block[0] & 0xF0 == 0x10
    assert encoder.encode([field]) == block
    decoded = hpack.Decoder().decode(block, raw=True)
    assert decoded == [(b"authorization", b"secret")]
    assert not decoded[0].indexable


def test_large_values_are_not_indexed() -> None:
    encoder, decoder = Encoder(), Decoder()
    big = (b"x-big", b"v" * 2000)
    decoder.decode(encoder.encode([(b"x-a", b"1")]))
    decoder.decode(encoder.encode([big]))
    # x-a is still in both tables: the big value did not flush them.
    assert encoder.encode([(b"x-a", b"1")]) == b"\xbe"
    assert decoder.decode(b"\xbe") == [(b"x-a", b"1")]


def test_a_huge_table_offered_by_the_client_is_not_used() -> None:
    """A client announcing SETTINGS_HEADER_TABLE_SIZE = 2**30 cannot make us keep more than 4 KiB."""
    encoder, decoder = Encoder(), hpack.Decoder()
    decoder.max_allowed_table_size = 2**30
    encoder.header_table_size = 2**30
    for n in range(20_000):
        fields = [(b":status", b"200"), (b"etag", b"%d" % n), (b"x-unique-%d" % n, b"v")]
        assert [tuple(f) for f in decoder.decode(encoder.encode(fields), raw=True)] == fields
    assert encoder.header_table_size == 4096
    assert sum(size for _, _, size in encoder._entries) <= 4096
    assert len(encoder._numbers) == len(encoder._entries) < 100
