"""Access log lines, fed by the ``action_logger`` interface.

By default each line is in Daphne's NCSA-like format.  ``format=`` takes a
string of ``%(atom)s`` placeholders (see ``_ATOMS`` and the README), and
``json=True`` writes one JSON object per line instead.

Covered by ``tests/unit/test_pure_layers.py`` and ``tests/unit/test_access_format.py``.
"""

from __future__ import annotations

import datetime
import json as _json
import logging
import os
import re
from collections.abc import Callable, Iterable
from typing import IO, Any

__all__ = ["AccessLogGenerator", "JSONFormatter", "log_safe"]

_WEBSOCKET_ACTIONS = {
    "connecting": "WSCONNECTING",
    "connected": "WSCONNECT",
    "rejected": "WSREJECT",
    "disconnected": "WSDISCONNECT",
}

#: A ``format=`` giving Daphne's default line (except that an unknown client is ``-``).
_DEFAULT_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s'


class _Entry:
    """What one log line is made of; atoms read it lazily."""

    __slots__ = ("date", "details", "verb")

    # Any: the free-form action details (daphne._types.ActionLogger).
    def __init__(self, verb: str, details: dict[str, Any], date: datetime.datetime) -> None:
        #: ``GET``, ``POST``... or ``WSCONNECT``... for WebSocket actions.
        self.verb = verb
        self.details = details
        self.date = date

    def target(self) -> tuple[str, str]:
        """``(path, query)``: the path without its query, and the query without ``?``."""
        details = self.details
        path = _text(details.get("path") or "")
        query = details.get("query_string")
        if query is not None:  # WebSocket actions: "path" never has a query
            return path, _text(query)
        path, _, query = path.partition("?")
        return path, query

    def protocol(self) -> str:
        version = self.details.get("http_version")
        return f"HTTP/{version}" if version else "-"

    def duration(self) -> float | None:
        taken = self.details.get("time_taken")
        return taken if isinstance(taken, (int, float)) else None


#: One encoder for every line (``json.dumps(..., default=str)`` builds one per call).
_JSON_ENCODER = _json.JSONEncoder(default=str)

#: What must never reach a log line raw: C0 controls (CR, LF, ESC...), DEL, C1
#: controls (U+0085 NEL is a line break to ``str.splitlines()``) and the Unicode
#: line and paragraph separators.  Request data gets here decoded: the WebSocket
#: path is percent-decoded (``/a%0Ab`` holds a real LF) and HTTP/2 lets control
#: bytes through in ``:path`` and ``:method``.
_UNSAFE_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escape_one(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def log_safe(text: str) -> str:
    """``text`` with every control character or line break written as ``\\xNN``.

    The usual text has none and is returned as is, without substituting:
    ``str.isprintable()`` is true (it is false for every character of
    ``_UNSAFE_RE``: they are Unicode "Other" or "Separator", and it is about
    twice as fast as the search on short text), else the precompiled search
    decides (a no-break space, say, is not printable but safe).
    """
    if text.isprintable() or _UNSAFE_RE.search(text) is None:
        return text
    return _UNSAFE_RE.sub(_escape_one, text)


def _text(value: object) -> str:
    """Bytes or text as one log-safe line (control characters become ``\\xNN``).

    Bytes are read as UTF-8 when they are UTF-8 (so "Å" stays "Å"), else as latin-1.
    """
    if isinstance(value, (bytes, bytearray)):
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            text = value.decode("latin-1")
    elif isinstance(value, str):
        text = value
    else:
        text = str(value)
    return log_safe(text)


def _header(headers: Iterable[tuple[bytes | str, object]] | None, name: bytes) -> str | None:
    """Every value of header ``name`` (lower-case bytes), joined by ``, ``; None if absent."""
    if not headers:
        return None
    found = []
    for key, value in headers:
        if isinstance(key, str):
            key = key.encode("latin-1", "replace")
        if key.lower() == name:
            found.append(_text(value))
    return ", ".join(found) if found else None


def _request_line(entry: _Entry) -> str:
    return f"{entry.verb} {_text(entry.details.get('path') or '')}"


def _status(entry: _Entry) -> str:
    return str(entry.details.get("status") or "-")


def _size(entry: _Entry) -> str:
    return str(entry.details.get("size") or "-")


def _size_number(entry: _Entry) -> str:
    return str(entry.details.get("size") or 0)


def _scaled(factor: int) -> Callable[[_Entry], str]:
    def atom(entry: _Entry) -> str:
        taken = entry.duration()
        return "-" if taken is None else str(int(taken * factor))

    return atom


def _request_header(name: bytes) -> Callable[[_Entry], str]:
    def atom(entry: _Entry) -> str:
        return _header(entry.details.get("request_headers"), name) or "-"

    return atom


def _response_header(name: bytes) -> Callable[[_Entry], str]:
    def atom(entry: _Entry) -> str:
        return _header(entry.details.get("response_headers"), name) or "-"

    return atom


#: The ``%(atom)s`` names ``format=`` understands, with what each one writes.
#: ``%({Header-Name}i)s`` and ``%({Header-Name}o)s`` (request and response
#: headers) come on top of these.
_ATOMS: dict[str, tuple[Callable[[_Entry], str], str]] = {
    "h": (lambda e: _text(e.details.get("client") or "-"), "client address (host:port)"),
    "l": (lambda e: "-", "always '-' (identd)"),
    "u": (lambda e: "-", "always '-' (user)"),
    "t": (lambda e: e.date.strftime("[%d/%b/%Y:%H:%M:%S]"), "local time, [22/Nov/2026:18:44:35]"),
    "r": (_request_line, "request line: 'GET /path?query' or 'WSCONNECT /path'"),
    "m": (lambda e: e.verb, "method, or WSCONNECTING/WSCONNECT/WSREJECT/WSDISCONNECT"),
    "U": (lambda e: e.target()[0], "path without the query"),
    "q": (lambda e: e.target()[1], "query string without '?'"),
    "H": (lambda e: e.protocol(), "protocol: HTTP/1.0, HTTP/1.1 or HTTP/2"),
    "s": (_status, "response status ('-' for WebSocket actions)"),
    "b": (_size, "response body size in bytes, '-' when 0 or unknown"),
    "B": (_size_number, "response body size in bytes, 0 when unknown"),
    "D": (_scaled(1_000_000), "duration in microseconds"),
    "M": (_scaled(1_000), "duration in milliseconds"),
    "T": (_scaled(1), "duration in whole seconds"),
    "f": (_request_header(b"referer"), "Referer header"),
    "a": (_request_header(b"user-agent"), "User-Agent header"),
    "p": (lambda e: str(os.getpid()), "process id"),
}

_ATOM_RE = re.compile(r"%\(([^()]*)\)s|%%|%")


def _compile_format(format: str) -> list[str | Callable[[_Entry], str]]:
    """Split ``format`` into literal text and atom functions; ValueError if it is bad."""
    parts: list[str | Callable[[_Entry], str]] = []
    literal = []
    position = 0
    for match in _ATOM_RE.finditer(format):
        literal.append(format[position : match.start()])
        position = match.end()
        token = match.group()
        name = match.group(1)
        if token == "%%":
            literal.append("%")
            continue
        if name is None:
            raise ValueError(
                f"bad '%' at position {match.start()}: write atoms as %(name)s and a percent sign as %%"
            )
        if name in _ATOMS:
            atom = _ATOMS[name][0]
        elif len(name) > 3 and name[0] == "{" and name[-2] == "}" and name[-1] in "io":
            header = name[1:-2].strip().lower().encode("latin-1", "replace")
            atom = (_request_header if name[-1] == "i" else _response_header)(header)
        else:
            raise ValueError(f"unknown atom %({name})s")
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(atom)
    literal.append(format[position:])
    if any(literal):
        parts.append("".join(literal))
    return parts


class AccessLogGenerator:
    """Write one line per server action to ``stream``.

    Instances are the ``action_logger`` the CLI hands to :class:`daphne.server.Server`:
    they are called as ``logger(protocol, action, details)``.

    :ivar stream: a text stream with a ``write`` method.
    :ivar now: the clock giving the (local, naive) timestamp of each line.
    :ivar format: the ``%(atom)s`` format, or None for Daphne's line.
    :ivar json: whether lines are JSON objects.
    """

    def __init__(
        self,
        stream: IO[str],
        now: Callable[[], datetime.datetime] = datetime.datetime.now,
        *,
        format: str | None = None,
        json: bool = False,
    ) -> None:
        if format is not None and json:
            raise ValueError("an access log is either formatted or JSON, not both")
        self.stream = stream
        self.now = now
        self.format = format
        self.json = json
        self._parts = _compile_format(format) if format is not None else None
        #: The last (second, formatted date) written: one strftime per second, not per line.
        self._stamp: tuple[datetime.datetime, str] | None = None

    # Any: the free-form action details (daphne._types.ActionLogger).
    def __call__(self, protocol: str, action: str, details: dict[str, Any]) -> None:
        """Log one action (``"http"``/``"complete"``, ``"websocket"``/``"connected"``...)."""
        if protocol == "http" and action == "complete":
            if self._parts is None and not self.json:
                self.write_entry(
                    host=details["client"],
                    date=self.now(),
                    request="{} {}".format(details["method"], details["path"]),
                    status=details["status"],
                    length=details["size"],
                )
                return
            verb = _text(details.get("method") or "-")
        elif protocol == "websocket" and action in _WEBSOCKET_ACTIONS:
            verb = _WEBSOCKET_ACTIONS[action]
            if self._parts is None and not self.json:
                self.write_entry(
                    host=details["client"],
                    date=self.now(),
                    request="{} {}".format(verb, details["path"]),
                )
                return
        else:
            return
        entry = _Entry(verb, details, self.now())
        if self.json:
            self.stream.write(_JSON_ENCODER.encode(self._json_fields(entry)) + "\n")
        else:
            parts = self._parts or ()
            self.stream.write(
                "".join([part if isinstance(part, str) else part(entry) for part in parts]) + "\n"
            )

    @staticmethod
    def _json_fields(entry: _Entry) -> dict[str, object]:
        """The JSON object logged for ``entry`` (``--log-json``)."""
        details = entry.details
        path, query = entry.target()
        taken = entry.duration()
        headers = details.get("request_headers")
        client = details.get("client")
        return {
            "time": entry.date.astimezone().isoformat(timespec="milliseconds"),
            "client": None if client is None else _text(client),
            "request": _request_line(entry),
            "method": entry.verb,
            "path": path,
            "query": query,
            "protocol": entry.protocol(),
            "status": details.get("status"),
            "size": details.get("size"),
            "duration_ms": None if taken is None else round(taken * 1000, 3),
            "referer": _header(headers, b"referer"),
            "user_agent": _header(headers, b"user-agent"),
        }

    def write_entry(
        self,
        host: str | None,
        date: datetime.datetime,
        request: str,
        status: int | None = None,
        length: int | None = None,
        ident: str | None = None,
        user: str | None = None,
    ) -> None:
        """Write a line: ``host ident user [date] "request" status length``."""
        second = date.replace(microsecond=0)
        stamp = self._stamp
        if stamp is None or stamp[0] != second:
            stamp = self._stamp = (second, date.strftime("%d/%b/%Y:%H:%M:%S"))
        # The text fields, checked as log_safe() does (inlined: this is the
        # default line's hot path); the date and the numbers are ours.
        if not request.isprintable():
            request = log_safe(request)
        if isinstance(host, str) and not host.isprintable():
            host = log_safe(host)
        self.stream.write(
            '{} {} {} [{}] "{}" {} {}\n'.format(
                host,
                log_safe(ident) if ident else "-",
                log_safe(user) if user else "-",
                stamp[1],
                request,
                status or "-",
                length or "-",
            )
        )


_RECORD_ENCODER = _json.JSONEncoder(default=str)


class JSONFormatter(logging.Formatter):
    """One JSON object per record: ``time``, ``level``, ``logger``, ``message``, ``exc_info``.

    ``time`` is the local time with its UTC offset, to the millisecond;
    ``exc_info`` (the formatted traceback) and ``stack_info`` appear only when
    the record has them.  Usable from a dictConfig file as
    ``{"()": "daphne.access.JSONFormatter"}``.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as a single line of JSON."""
        entry: dict[str, str] = {
            "time": datetime.datetime.fromtimestamp(record.created)
            .astimezone()
            .isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return _RECORD_ENCODER.encode(entry)
