"""Pure HTTP/1.1 request parsing: request head and chunked body framing.

Parse once, validate once (RFC 9112): the request line, every header name
(RFC 9110 token) and value (no control bytes; 0x85 only inside valid UTF-8,
CVE-2026-44546), and the body framing (Content-Length vs Transfer-Encoding,
no request smuggling).  Nothing here touches a socket.

Covered by ``tests/unit/test_pure_layers.py``, ``tests/unit/test_http1_framing.py`` and
``tests/property/test_parser_props.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .._asgi.headers import TARGET, TOKEN, check_request_value
from .._errors import BadRequest

__all__ = ["ChunkedDecoder", "RequestHead", "find_head_end", "parse_request_head"]

_REQUEST_LINE_RE = re.compile(rb"(" + TOKEN + rb") (" + TARGET + rb") HTTP/([0-9])\.([0-9])")
_TOKEN_RE = re.compile(TOKEN)
_DIGITS_RE = re.compile(rb"[0-9]+")
# RFC 9112 §7.1.1: chunk-size [ chunk-ext ], where
# chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ) and
# chunk-ext-val = token / quoted-string.
_QUOTED = rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
_CHUNK_LINE_RE = re.compile(
    rb"([0-9A-Fa-f]{1,16})(?:[ \t]*;[ \t]*"
    + TOKEN
    + rb"(?:[ \t]*=[ \t]*(?:"
    + TOKEN
    + rb"|"
    + _QUOTED
    + rb"))?)*"
)


@dataclass(slots=True)
class RequestHead:
    """A parsed, validated request head.

    :ivar content_length: the declared body length, None for chunked or no body.
    :ivar chunked: whether the body uses chunked transfer coding.
    :ivar keep_alive: whether the connection may be reused after this request.
    :ivar expect_continue: the client sent ``Expect: 100-continue``.
    :ivar upgrade: the (first) ``Upgrade`` header value, lower-cased, or None.
    """

    method: str
    path: bytes
    query_string: bytes
    http_version: str
    headers: list[tuple[bytes, bytes]]
    content_length: int | None
    chunked: bool
    keep_alive: bool
    expect_continue: bool
    upgrade: bytes | None


def find_head_end(buffer: bytes | bytearray, start: int = 0) -> tuple[int, int]:
    """Locate the blank line ending a request head.

    :returns: ``(head_end, body_start)``, or ``(-1, -1)`` if not complete yet.
        Only CRLF ends lines: RFC 9112 §2.2 lets a recipient accept a bare LF,
        but a proxy in front that keeps a bare LF inside a field value would then
        see one field where we see two, and a request hidden in the second
        (request smuggling); :func:`has_bare_lf` lets the caller refuse it early.
    """
    crlf = buffer.find(b"\r\n\r\n", start)
    if crlf != -1:
        return crlf, crlf + 4
    return -1, -1


def has_bare_lf(data: bytes | bytearray) -> bool:
    """Whether ``data`` holds an LF that is not part of a CRLF (refused with 400)."""
    return data.count(b"\n") != data.count(b"\r\n")


def _split_target(target: bytes) -> tuple[bytes, bytes, bytes | None]:
    """Split a request-target into ``(path, query, authority)`` (RFC 9112 §3.2).

    ``authority`` is that of an absolute-form target (``http://host/path``),
    else None.
    """
    path, _, query = target.partition(b"?")
    if path[:1] == b"/" or path == b"*":
        return path, query, None
    scheme_end = path.find(b"://")
    if scheme_end > 0:
        # absolute-form: the path is whatever follows the authority.
        if path[:scheme_end].lower() not in (b"http", b"https"):
            raise BadRequest("Invalid request target")
        slash = path.find(b"/", scheme_end + 3)
        authority = path[scheme_end + 3 : slash if slash != -1 else len(path)]
        if not authority or b"@" in authority:
            # RFC 9110 §4.2.4: userinfo in an http(s) URI is an error.
            raise BadRequest("Invalid request target")
        return (path[slash:] if slash != -1 else b"/"), query, authority
    # authority-form (CONNECT host:port) or anything else: keep as sent.
    return path, query, None


def _parse_request_line(line: bytes) -> tuple[str, bytes, bytes, str, bytes | None]:
    match = _REQUEST_LINE_RE.fullmatch(line)
    if match is None:
        parts = line.split(b" ")
        if len(parts) == 3 and parts[2].startswith(b"HTTP/") and _TOKEN_RE.fullmatch(parts[0]):
            if re.fullmatch(rb"HTTP/[0-9]\.[0-9]", parts[2]) and not parts[2].startswith(
                b"HTTP/1."
            ):
                raise BadRequest("HTTP version not supported", 505)
            if any(byte > 0x7E or byte < 0x21 for byte in parts[1]):
                raise BadRequest("Invalid characters in request target")
        raise BadRequest("Malformed request line")
    method, target, major, minor = match.groups()
    if major != b"1":
        raise BadRequest("HTTP version not supported", 505)
    path, query, authority = _split_target(target)
    return method.decode("ascii"), path, query, "1.0" if minor == b"0" else "1.1", authority


def parse_request_head(
    head: bytes | bytearray, max_header_count: int = 500, max_field_size: int = 0
) -> RequestHead:
    """Parse the bytes of a request head (without the terminating blank line).

    :raises BadRequest: with the status to answer (400, 431, 501, 505).
    """
    # Lines end with CRLF only; a bare CR or LF left inside a line fails the
    # request-line, field-name or field-value grammar below (400).
    lines = bytes(head).split(b"\r\n")
    method, path, query, version, authority = _parse_request_line(lines[0])
    if len(lines) - 1 > max_header_count:
        raise BadRequest("Too many header fields", 431)
    headers: list[tuple[bytes, bytes]] = []
    content_lengths: list[bytes] = []
    transfer_encodings: list[bytes] = []
    connection: list[bytes] = []
    expect_continue = False
    upgrade: bytes | None = None
    host_count = 0
    for line in lines[1:]:
        if max_field_size and len(line) > max_field_size:
            raise BadRequest("Request header field too large", 431)
        name, colon, value = line.partition(b":")
        if not colon or _TOKEN_RE.fullmatch(name) is None:
            if line[:1] in (b" ", b"\t"):
                raise BadRequest("Obsolete line folding is not accepted")
            raise BadRequest("Invalid header name")
        value = value.strip(b" \t")
        check_request_value(value)
        name = name.lower()
        headers.append((name, value))
        if name == b"content-length":
            content_lengths.append(value)
        elif name == b"transfer-encoding":
            transfer_encodings.append(value)
        elif name == b"connection":
            connection.append(value.lower())
        elif name == b"host":
            host_count += 1
        elif name == b"expect":
            expect_continue = value.lower() == b"100-continue"
        elif name == b"upgrade" and upgrade is None:
            upgrade = value.lower()
    if host_count > 1:
        raise BadRequest("More than one Host header")
    if authority is not None:
        # RFC 9112 §3.2.2: the target's authority replaces any Host field.
        headers = [(b"host", authority), *(field for field in headers if field[0] != b"host")]
    content_length, chunked = _body_framing(content_lengths, transfer_encodings, version)
    keep_alive = version == "1.1"
    if connection:
        tokens = {token.strip() for item in connection for token in item.split(b",")}
        if b"close" in tokens:
            keep_alive = False
    return RequestHead(
        method=method,
        path=path,
        query_string=query,
        http_version=version,
        headers=headers,
        content_length=content_length,
        chunked=chunked,
        keep_alive=keep_alive,
        expect_continue=expect_continue and version == "1.1",
        upgrade=upgrade,
    )


def _body_framing(
    content_lengths: list[bytes], transfer_encodings: list[bytes], version: str
) -> tuple[int | None, bool]:
    """Decide how the body is delimited (RFC 9112 §6.3), refusing ambiguity."""
    if transfer_encodings:
        if content_lengths:
            raise BadRequest("Both Content-Length and Transfer-Encoding")
        if version == "1.0":
            raise BadRequest("Transfer-Encoding in an HTTP/1.0 request")
        codings = [
            coding.strip().lower() for item in transfer_encodings for coding in item.split(b",")
        ]
        if codings != [b"chunked"]:
            if codings[-1:] != [b"chunked"] or b"chunked" in codings[:-1]:
                raise BadRequest("Invalid Transfer-Encoding")
            raise BadRequest("Unsupported transfer coding", 501)
        return None, True
    if content_lengths:
        values = {value for item in content_lengths for value in item.split(b",")}
        values = {value.strip(b" \t") for value in values}
        if len(values) != 1:
            raise BadRequest("Conflicting Content-Length values")
        (value,) = values
        if _DIGITS_RE.fullmatch(value) is None or len(value) > 18:
            raise BadRequest("Invalid Content-Length")
        return int(value), False
    return None, False


class ChunkedDecoder:
    """Incremental decoder of a chunked request body (RFC 9112 §7.1).

    Feed it bytes with :meth:`feed`; it returns the body data decoded so far
    and, once the last chunk and trailer section are read, sets :attr:`done` and
    leaves any bytes after the body in :attr:`unused`.  Trailers are read and
    discarded.

    Theory of operation: states are ``size`` (reading a chunk-size line),
    ``data`` (``remaining`` bytes of chunk data left), ``data_end`` (the CRLF
    after chunk data), ``trailer`` (trailer lines until a blank one).
    """

    __slots__ = ("_buffer", "_remaining", "_state", "done", "max_line", "unused")

    def __init__(self, max_line: int = 4096) -> None:
        self._buffer = bytearray()
        self._state = "size"
        self._remaining = 0
        self.done = False
        self.unused = b""
        self.max_line = max_line

    def _read_line(self) -> bytes | None:
        # CRLF only (RFC 9112 §7.1): a bare LF stays inside the line and fails
        # its grammar, so a proxy that reads LF as CRLF cannot see other chunks.
        end = self._buffer.find(b"\r\n")
        if end == -1:
            if len(self._buffer) > self.max_line:
                raise BadRequest("Chunk line too long")
            return None
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        return line

    def feed(self, data: bytes) -> list[bytes]:
        """Consume ``data``; return the decoded body pieces it completed."""
        self._buffer += data
        out: list[bytes] = []
        while not self.done:
            if self._state == "data":
                if not self._buffer:
                    break
                piece = bytes(self._buffer[: self._remaining])
                del self._buffer[: len(piece)]
                self._remaining -= len(piece)
                out.append(piece)
                if self._remaining == 0:
                    self._state = "data_end"
                continue
            line = self._read_line()
            if line is None:
                break
            if self._state == "size":
                match = _CHUNK_LINE_RE.fullmatch(line)
                if match is None:
                    raise BadRequest("Invalid chunk size or extension")
                self._remaining = int(match.group(1), 16)
                self._state = "data" if self._remaining else "trailer"
            elif self._state == "data_end":
                if line:
                    raise BadRequest("Missing CRLF after chunk data")
                self._state = "size"
            elif line:  # trailer field: validated like a header field, then dropped
                name, colon, value = line.partition(b":")
                if not colon or _TOKEN_RE.fullmatch(name) is None:
                    raise BadRequest("Invalid trailer field")
                check_request_value(value.strip(b" \t"))
            else:
                self.done = True
                self.unused = bytes(self._buffer)
                self._buffer.clear()
        return out
