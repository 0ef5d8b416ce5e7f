"""HPACK (RFC 7541) for our HTTP/2 connections: an encoder and a decoder h2 uses instead of hpack's.

h2 asks of its ``encoder`` only ``encode(headers)`` and a writable
``header_table_size``, and of its ``decoder`` ``decode(block, raw=True)`` and
three writable limits; :func:`daphne._wire.h2_connection.new_connection` plugs
these in.  They speak the same HPACK as the ``hpack`` package (its static table,
Huffman code and exceptions are reused, so h2 and
``ServerConnection.error_data`` see the errors they expect), but cost a
fraction of it per header block, which is most of an HTTP/2 request:

* the encoder finds a field in its dynamic table with a dict lookup (hpack scans
  the table), remembers the encoded form of literal strings, and writes no log
  records;
* the decoder reads the block in place (hpack copies the rest of the block for
  every literal field) and returns plain tuples.

Encoding choices (all valid HPACK, so any decoder follows): a field whose
entry would take more than a quarter of the table, or that hpack marks as not
indexable, is sent as a literal without indexing, so one large or unique value
does not flush the table; other literals are added to the table; a literal
string is Huffman-coded when that is shorter.

The encoder's table never exceeds 4096 octets, however large a table the
client offers (a client announcing gigabytes would otherwise have the server
keep every distinct response field it ever sent on that connection).

Decoding bounds (a client's header block is untrusted): integers take at most
five continuation octets (as hpack), the table never exceeds the size we
announced, and the decoded list never exceeds ``max_header_list_size`` (counted
as RFC 7541 §4.1 entry sizes), checked field by field so a small block cannot
expand into a large one.

Covered by ``tests/unit/test_h2_hpack.py`` (round trips against hpack's
encoder and decoder, every error, hypothesis) and every HTTP/2 test.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from hpack.exceptions import (
    HPACKDecodingError,
    InvalidTableIndex,
    InvalidTableSizeError,
    OversizedHeaderListError,
)
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
from hpack.huffman_table import decode_huffman
from hpack.struct import HeaderTuple
from hpack.table import HeaderTable

__all__ = ["Decoder", "Encoder"]

#: RFC 7541 Appendix A, as the hpack package spells it (index 1 first).
STATIC_TABLE: tuple[tuple[bytes, bytes], ...] = tuple(HeaderTable.STATIC_TABLE)
_STATIC_LENGTH = len(STATIC_TABLE)
#: (name, value) -> static index, the lowest for duplicates.
_STATIC_FIELDS: dict[tuple[bytes, bytes], int] = {}
#: name -> lowest static index with that name.
_STATIC_NAMES: dict[bytes, int] = {}
for _index, _field in enumerate(STATIC_TABLE, 1):
    _STATIC_FIELDS.setdefault(_field, _index)
    _STATIC_NAMES.setdefault(_field[0], _index)

#: RFC 7541 §4.1: an entry's size counts 32 octets of overhead.
ENTRY_OVERHEAD = 32
DEFAULT_TABLE_SIZE = 4096
#: The most the encoder keeps per connection, whatever larger table the client offers.
MAX_ENCODER_TABLE_SIZE = DEFAULT_TABLE_SIZE
DEFAULT_MAX_HEADER_LIST_SIZE = 1 << 16
#: Continuation octets accepted after an integer's prefix (hpack's bound too).
MAX_CONTINUATION_OCTETS = 5
#: Literal strings whose encoded form the encoder remembers (then it starts afresh).
STRING_CACHE_SIZE = 512
#: Strings longer than this are encoded afresh each time (not worth remembering).
CACHED_STRING_LENGTH = 256

_huffman = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH)
#: §6.1: an indexed field below 127 is one octet.
_INDEXED = tuple(bytes((0x80 | index,)) for index in range(127))


def encode_integer(value: int, prefix_bits: int, first: int) -> bytes:
    """``value`` in HPACK's integer form (§5.1), ``first``'s high bits above the prefix."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((first | value,))
    out = bytearray((first | limit,))
    value -= limit
    while value >= 128:
        out.append((value & 127) | 128)
        value >>= 7
    out.append(value)
    return bytes(out)


def _decode_integer(data: bytes, pos: int, prefix_bits: int) -> tuple[int, int]:
    """The integer at ``data[pos]`` and the position after it (§5.1)."""
    limit = (1 << prefix_bits) - 1
    value = data[pos] & limit
    pos += 1
    if value < limit:
        return value, pos
    shift = 0
    end = pos + MAX_CONTINUATION_OCTETS
    while pos < end:
        try:
            octet = data[pos]
        except IndexError:
            raise HPACKDecodingError("Truncated integer in header block") from None
        pos += 1
        value += (octet & 127) << shift
        if octet < 128:
            return value, pos
        shift += 7
    raise HPACKDecodingError("Integer in header block is too long")


class Decoder:
    """Decodes a client's header blocks (the state one connection's blocks share)."""

    def __init__(self) -> None:
        #: Newest entry first; sizes kept beside the fields.
        self._fields: deque[tuple[bytes, bytes]] = deque()
        self._sizes: deque[int] = deque()
        self._size = 0
        self._max_size = DEFAULT_TABLE_SIZE
        #: What we announced (SETTINGS_HEADER_TABLE_SIZE, once acknowledged).
        self.max_allowed_table_size = DEFAULT_TABLE_SIZE
        #: Largest decoded list accepted, in §4.1 entry sizes (SETTINGS_MAX_HEADER_LIST_SIZE).
        self.max_header_list_size = DEFAULT_MAX_HEADER_LIST_SIZE

    @property
    def header_table_size(self) -> int:
        """The dynamic table's current maximum size."""
        return self._max_size

    @header_table_size.setter
    def header_table_size(self, value: int) -> None:
        self._max_size = value
        self._evict()

    def _evict(self) -> None:
        fields, sizes = self._fields, self._sizes
        while self._size > self._max_size:
            fields.pop()
            self._size -= sizes.pop()

    def _add(self, name: bytes, value: bytes) -> None:
        size = len(name) + len(value) + ENTRY_OVERHEAD
        if size > self._max_size:
            # §4.4: an entry larger than the table empties it and is not added.
            self._fields.clear()
            self._sizes.clear()
            self._size = 0
            return
        self._fields.appendleft((name, value))
        self._sizes.appendleft(size)
        self._size += size
        self._evict()

    def _field(self, index: int) -> tuple[bytes, bytes]:
        if 0 < index <= _STATIC_LENGTH:
            return STATIC_TABLE[index - 1]
        try:
            if index > _STATIC_LENGTH:
                return self._fields[index - _STATIC_LENGTH - 1]
        except IndexError:
            pass
        raise InvalidTableIndex(f"Invalid table index {index}")

    def _string(self, data: bytes, pos: int) -> tuple[bytes, int]:
        if pos >= len(data):
            raise HPACKDecodingError("Truncated header block")
        huffman = data[pos] & 0x80
        length, pos = _decode_integer(data, pos, 7)
        end = pos + length
        if end > len(data):
            raise HPACKDecodingError("Truncated header block")
        text = data[pos:end]
        if huffman:
            text = decode_huffman(text)
        return text, end

    def _literal(self, data: bytes, pos: int, prefix_bits: int) -> tuple[tuple[bytes, bytes], int]:
        """The literal field at ``data[pos]`` (§6.2): its name indexed or literal, then its value."""
        if data[pos] & ((1 << prefix_bits) - 1):
            index, pos = _decode_integer(data, pos, prefix_bits)
            name = self._field(index)[0]
        else:
            name, pos = self._string(data, pos + 1)
        value, pos = self._string(data, pos)
        return (name, value), pos

    def decode(self, data: bytes, raw: bool = True) -> list[tuple[bytes, bytes]]:
        """The fields of one header block, as ``(name, value)`` byte pairs.

        :raises hpack.exceptions.HPACKDecodingError: the block is not valid HPACK
            (``OversizedHeaderListError`` when it decodes to more than
            ``max_header_list_size``).
        """
        if not raw:  # h2 always asks for bytes
            raise ValueError("this decoder returns bytes only")
        fields: list[tuple[bytes, bytes]] = []
        budget = self.max_header_list_size
        end = len(data)
        pos = 0
        while pos < end:
            first = data[pos]
            if first & 0x80:  # §6.1 indexed field
                index = first & 0x7F
                if 0 < index <= _STATIC_LENGTH:
                    field = STATIC_TABLE[index - 1]
                    pos += 1
                elif index != 0x7F:
                    field = self._field(index)
                    pos += 1
                else:
                    index, pos = _decode_integer(data, pos, 7)
                    field = self._field(index)
            elif first & 0x40:  # §6.2.1 literal, added to the table
                field, pos = self._literal(data, pos, 6)
                self._add(*field)
            elif first & 0x20:  # §6.3 table size update, only before the first field
                if fields:
                    raise HPACKDecodingError("Table size update not at the start of the block")
                size, pos = _decode_integer(data, pos, 5)
                if size > self.max_allowed_table_size:
                    raise InvalidTableSizeError("Encoder exceeded max allowable table size")
                self.header_table_size = size
                continue
            else:  # §6.2.2/§6.2.3 literal, not added (never indexed: 0x10)
                field, pos = self._literal(data, pos, 4)
            budget -= len(field[0]) + len(field[1]) + ENTRY_OVERHEAD
            if budget < 0:
                raise OversizedHeaderListError(
                    f"A header list larger than {self.max_header_list_size} has been received"
                )
            fields.append(field)
        if self._max_size > self.max_allowed_table_size:
            # We lowered the size and the client's encoder has not followed (§4.2).
            raise InvalidTableSizeError("Encoder did not shrink table size to within the max")
        return fields


class Encoder:
    """Encodes our header blocks (the state one connection's blocks share)."""

    def __init__(self) -> None:
        #: Oldest entry first: (field, its insertion number, its size).
        self._entries: deque[tuple[tuple[bytes, bytes], int, int]] = deque()
        #: field -> insertion number; name -> newest insertion number with that name.
        self._numbers: dict[tuple[bytes, bytes], int] = {}
        self._name_numbers: dict[bytes, int] = {}
        self._inserted = 0
        self._size = 0
        self._max_size = DEFAULT_TABLE_SIZE
        #: Size updates owed at the start of the next block (§4.2: smallest, then last).
        self._size_updates: list[int] = []
        self._strings: dict[bytes, bytes] = {}

    @property
    def header_table_size(self) -> int:
        """The dynamic table's maximum size (the client's SETTINGS_HEADER_TABLE_SIZE)."""
        return self._max_size

    @header_table_size.setter
    def header_table_size(self, value: int) -> None:
        # The client's SETTINGS_HEADER_TABLE_SIZE is what it can hold, not what we must
        # (§4.2: an encoder may use less).  We never use more than the default.
        value = min(value, MAX_ENCODER_TABLE_SIZE)
        if value == self._max_size and not self._size_updates:
            return
        updates = self._size_updates
        if not updates:
            updates.append(value)
        elif value < updates[0]:
            updates[:] = [value]
        else:
            updates[1:] = [value]
        self._max_size = value
        self._evict()

    def _evict(self) -> None:
        entries = self._entries
        while self._size > self._max_size:
            field, number, size = entries.popleft()
            self._size -= size
            del self._numbers[field]
            if self._name_numbers.get(field[0]) == number:
                del self._name_numbers[field[0]]

    def _string(self, text: bytes) -> bytes:
        encoded = self._strings.get(text)
        if encoded is None:
            coded = _huffman.encode(text)
            if len(coded) < len(text):
                encoded = encode_integer(len(coded), 7, 0x80) + coded
            else:
                encoded = encode_integer(len(text), 7, 0) + text
            if len(text) <= CACHED_STRING_LENGTH:
                if len(self._strings) >= STRING_CACHE_SIZE:
                    self._strings.clear()
                self._strings[text] = encoded
        return encoded

    def encode(self, headers: Iterable[tuple[bytes, bytes]], huffman: bool = True) -> bytes:
        """One header block for ``headers`` (lowercase byte names; pseudo-fields first)."""
        block: list[bytes] = []
        if self._size_updates:
            block.extend(encode_integer(size, 5, 0x20) for size in self._size_updates)
            self._size_updates = []
        numbers = self._numbers
        for header in headers:
            name, value = field = header[0], header[1]
            static = _STATIC_FIELDS.get(field)
            if static is not None:
                block.append(_INDEXED[static])
                continue
            number = numbers.get(field)
            if number is not None:
                index = _STATIC_LENGTH + 1 + self._inserted - number
                block.append(_INDEXED[index] if index < 127 else encode_integer(index, 7, 0x80))
                continue
            size = len(name) + len(value) + ENTRY_OVERHEAD
            never = (
                type(header) is not tuple
                and isinstance(header, HeaderTuple)
                and not header.indexable
            )
            indexable = not never and size <= self._max_size >> 2
            name_index = _STATIC_NAMES.get(name)
            if name_index is None:
                number = self._name_numbers.get(name)
                if number is not None:
                    name_index = _STATIC_LENGTH + 1 + self._inserted - number
            if indexable:
                prefix_bits, first = 6, 0x40
            elif never:
                prefix_bits, first = 4, 0x10  # never indexed, as hpack was asked
            else:
                prefix_bits, first = 4, 0x00  # too large to be worth a table entry
            if name_index is None:
                block.append(bytes((first,)))
                block.append(self._string(name))
            else:
                block.append(encode_integer(name_index, prefix_bits, first))
            block.append(self._string(value))
            if indexable:
                self._inserted += 1
                numbers[field] = self._inserted
                self._name_numbers[name] = self._inserted
                self._entries.append((field, self._inserted, size))
                self._size += size
                self._evict()
        return b"".join(block)
