"""The model, messages and recording writer of tests/unit/test_http_cycle.py.

:class:`Model` is ``daphne/_asgi/http_cycle.py``'s "Theory of operation" written out
independently of the code: for any message in any state it gives the next state, the
writer calls the message makes, and whether it is invalid.  The strategies make valid
messages, messages with exactly one invalid field, and messages of unknown or missing
types.  :class:`Writer` records the calls a cycle makes and fails on any sequence that
is not one well-formed response.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from typing import Any

import pytest
from cycle_property import one_field_broken
from hypothesis import strategies as st

from daphne._asgi.http_cycle import (
    EARLY_HINT,
    PATHSEND,
    PUSH,
    TRAILERS,
    ZEROCOPYSEND,
    CycleState,
    HTTPResponseCycle,
)

ALL = frozenset((EARLY_HINT, PATHSEND, PUSH, TRAILERS, ZEROCOPYSEND))
START, BODY = "http.response.start", "http.response.body"
ACTIVE = (CycleState.AWAITING_START, CycleState.STREAMING, CycleState.TRAILERS)
FILE_CONTENT = bytes(range(48)) * 2


class Token:
    """Stands in a generated message for a value made when the message is sent."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


EXTERNAL = ("abort()", "detach()")  # what the stream itself does to its cycle
PATH, FILE, OMIT = Token("<absolute path of a file>"), Token("<open file>"), Token("<omitted>")


@contextlib.contextmanager
def resolved(message: Any, path: str) -> Iterator[Any]:
    """The message with its tokens replaced: a real path, a freshly opened file."""
    if not isinstance(message, dict):
        yield message
        return
    with contextlib.ExitStack() as stack:
        real = {}
        for key, value in message.items():
            if value is PATH:
                real[key] = path
            elif value is FILE:
                real[key] = stack.enter_context(open(path, "rb"))
            elif value is not OMIT:
                real[key] = value
        yield real


# -- messages ----------------------------------------------------------------------


MAYBE_BOOL = st.one_of(st.just(OMIT), st.booleans())
GOOD_HEADERS = st.one_of(
    st.just(OMIT), st.lists(st.tuples(st.binary(max_size=4), st.binary(max_size=4)), max_size=3)
)
BAD_HEADERS = st.one_of(
    st.lists(st.tuples(st.text(max_size=3), st.binary(max_size=3)), min_size=1, max_size=2),
    st.lists(st.tuples(st.binary(max_size=3), st.text(max_size=3)), min_size=1, max_size=2),
    st.sampled_from([[(b"a", b"b", b"c")], [b"x"], [None], [(b"a", b"b"), "ab"]]),
    st.sampled_from([None, 7]),  # not a list at all
)
GOOD_BODY = st.one_of(
    st.just(OMIT),
    st.binary(max_size=8),
    st.binary(max_size=8).map(bytearray),
    st.binary(max_size=8).map(memoryview),
)
NAT = st.one_of(st.just(OMIT), st.none(), st.integers(0, 2 * len(FILE_CONTENT)))
BAD_NAT = st.sampled_from([-1, "1", 1.5, True])

#: Each message type's fields: (strategy of valid values, strategy of invalid ones or None).
FIELDS: dict[str, dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any] | None]]] = {
    START: {
        "status": (
            st.integers(200, 999),
            st.one_of(
                st.integers(-5, 199),
                st.integers(1000, 1100),
                st.just(OMIT),
                st.sampled_from([None, True, "200", 200.0]),
            ),
        ),
        "headers": (GOOD_HEADERS, BAD_HEADERS),
        "trailers": (MAYBE_BOOL, None),
    },
    BODY: {
        "body": (GOOD_BODY, st.sampled_from(["text", 7, None, [1, 2]])),
        "more_body": (MAYBE_BOOL, None),
    },
    EARLY_HINT: {
        "links": (
            st.one_of(st.just(OMIT), st.lists(st.binary(max_size=6), max_size=2)),
            st.sampled_from([["</a>"], [b"</a>", "</b>"], b"</a>", "</a>", None, 7]),
        )
    },
    PUSH: {
        "path": (st.text(max_size=5), st.sampled_from([OMIT, b"/a", None, 7])),
        "headers": (GOOD_HEADERS, BAD_HEADERS),
    },
    TRAILERS: {"headers": (GOOD_HEADERS, BAD_HEADERS), "more_trailers": (MAYBE_BOOL, None)},
    PATHSEND: {
        "path": (
            st.just(PATH),
            st.sampled_from([OMIT, "relative.txt", "/no/such/daphne-file", "/", 7, None, b"/x"]),
        )
    },
    ZEROCOPYSEND: {
        "file": (st.just(FILE), st.sampled_from([OMIT, None, "f.txt", io.BytesIO(b"x")])),
        "offset": (NAT, BAD_NAT),
        "count": (NAT, BAD_NAT),
        "more_body": (MAYBE_BOOL, None),
    },
}


def valid_message(kind: str, **fixed: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    fields = {name: good for name, (good, _) in FIELDS[kind].items()}
    return st.fixed_dictionaries({"type": st.just(kind), **fields, **fixed})


def invalid_message(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    """A valid message with exactly one field made invalid."""
    return one_field_broken(FIELDS, valid_message, kind)


UNKNOWN = st.one_of(
    st.sampled_from(
        ["http.response.foo", "websocket.send", "http.request", "", "lifespan.startup"]
    ),
    st.text(max_size=8),
    st.sampled_from([None, 7, b"http.response.start", ["http.response.start"]]),
).map(lambda kind: {"type": kind}) | st.sampled_from([None, 7, START, [], {}, {"status": 200}])
ANY_MESSAGE = st.one_of(
    *(valid_message(kind) for kind in FIELDS),
    *(invalid_message(kind) for kind in FIELDS),
    UNKNOWN,
)


def any_message(state: CycleState) -> st.SearchStrategy[Any]:
    """Any message, half the time one of a type this state expects (valid, or with one
    invalid field), so that the rarer faults are reached in every state."""
    expected = {
        CycleState.AWAITING_START: (START, EARLY_HINT),
        CycleState.STREAMING: (BODY, EARLY_HINT, PUSH, PATHSEND, ZEROCOPYSEND),
        CycleState.TRAILERS: (TRAILERS,),
    }.get(state, ())
    if not expected:
        return ANY_MESSAGE
    near = st.sampled_from(expected).flatmap(
        lambda kind: valid_message(kind) | invalid_message(kind)
    )
    return near | ANY_MESSAGE


# -- the model ---------------------------------------------------------------------


def valid_headers(headers: Any) -> bool:
    return isinstance(headers, list) and all(
        isinstance(pair, tuple) and len(pair) == 2 and all(type(x) is bytes for x in pair)
        for pair in headers
    )


def nat_or_none(value: Any) -> bool:
    return value is None or (type(value) is int and value >= 0)


class Model:
    """Rules 1-5 of http_cycle.py: the state, and the writer calls each message makes."""

    def __init__(self, extensions: frozenset[str]) -> None:
        self.extensions = extensions
        self.state = CycleState.AWAITING_START
        self.calls: list[tuple[Any, ...]] = []
        self.status: int | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_written = False
        self.trailers: list[tuple[bytes, bytes]] | None = None

    def towards(self, target: CycleState, stay: bool) -> st.SearchStrategy[Any] | None:
        """A valid step that keeps the state (``stay``; None if none can) or moves on
        towards ``target``."""
        state, ext = self.state, self.extensions
        if target is CycleState.ABORTED and not stay:
            return st.sampled_from(EXTERNAL) | st.just({"type": "http.response.foo"})
        if state is CycleState.AWAITING_START:
            if stay:
                return valid_message(EARLY_HINT) if EARLY_HINT in ext else None
            trailers = target is CycleState.TRAILERS or (TRAILERS in ext and stay)
            return valid_message(START, trailers=st.just(trailers))
        more = st.just(stay)
        if state is CycleState.STREAMING:
            options = [valid_message(BODY, more_body=more)]
            if ZEROCOPYSEND in ext:
                options.append(valid_message(ZEROCOPYSEND, more_body=more))
            if stay:
                options += [valid_message(kind) for kind in (PUSH, EARLY_HINT) if kind in ext]
            elif PATHSEND in ext:
                options.append(valid_message(PATHSEND))
            return st.one_of(options)
        return valid_message(TRAILERS, more_trailers=more)

    def external(self, action: str) -> None:
        if action == "abort()" and self.state is not CycleState.COMPLETE:
            self.state = CycleState.ABORTED
        if action == "detach()" and self.state in ACTIVE:
            self.state = CycleState.ABORTED

    def step(self, message: Any) -> bool:
        """Apply ``message``; True if it is invalid (ApplicationMessageError expected)."""
        if self.state not in ACTIVE:
            return False  # Rule 3: ignored
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            return self.fail()
        get = {key: value for key, value in message.items() if value is not OMIT}.get
        kind = message["type"]
        if kind == START:
            if self.state is not CycleState.AWAITING_START:
                return self.fail()
            status, headers = get("status"), get("headers", [])
            if type(status) is not int or not 200 <= status <= 999 or not valid_headers(headers):
                return self.fail()
            self.status, self.headers = status, headers
            if get("trailers") and TRAILERS in self.extensions:
                self.trailers = []
            self.state = CycleState.STREAMING
            return False
        if kind == BODY:
            data = get("body", b"")
            if self.state is not CycleState.STREAMING or not isinstance(
                data, (bytes, bytearray, memoryview)
            ):
                return self.fail()
            self.write("body", bytes(data), bool(get("more_body")))
            return False
        if kind not in self.extensions:
            return False if kind in (EARLY_HINT, PUSH) else self.fail()  # hints are optional
        return self.extension(kind, get)

    def extension(self, kind: str, get: Any) -> bool:
        if kind == EARLY_HINT:
            if self.state is CycleState.TRAILERS or self.head_written:
                return False  # too late for a hint: ignored
            links = get("links", [])
            if not isinstance(links, list) or not all(type(x) is bytes for x in links):
                return self.fail()
            self.calls.append(("hint", links))
            return False
        if kind == TRAILERS:
            headers = get("headers", [])
            if self.state is not CycleState.TRAILERS or not valid_headers(headers):
                return self.fail()
            assert self.trailers is not None
            self.trailers += headers
            if not get("more_trailers"):
                self.calls.append(("trailers", self.trailers))
                self.state = CycleState.COMPLETE
            return False
        if self.state is not CycleState.STREAMING:
            return self.fail()
        if kind == PUSH:
            path, headers = get("path"), get("headers", [])
            if type(path) is not str or not valid_headers(headers):
                return self.fail()
            self.calls.append(("push", path, headers))
            return False
        if kind == PATHSEND:
            if get("path") is not PATH:
                return self.fail()
            self.write("file", (0, len(FILE_CONTENT)), False)
            return False
        offset, count = get("offset"), get("count")
        if get("file") is not FILE or not nat_or_none(offset) or not nat_or_none(count):
            return self.fail()
        position = offset if type(offset) is int else 0
        if type(count) is not int:
            count = max(len(FILE_CONTENT) - position, 0)
        self.write("file", (position, count), bool(get("more_body")))
        return False

    def write(self, what: str, payload: Any, more: bool) -> None:
        """A body or a file: the held head goes first (with a body, in the same call)."""
        if not more:
            self.state = CycleState.COMPLETE if self.trailers is None else CycleState.TRAILERS
        more = more or self.trailers is not None
        if not self.head_written:
            self.head_written = True
            if what == "body":
                self.calls.append(("head", self.status, self.headers, payload, more))
                return
            self.calls.append(("head", self.status, self.headers, b"", True))
        if what == "body":
            self.calls.append(("body", payload, more))
        else:
            self.calls.append(("file", *payload, more))

    def fail(self) -> bool:
        self.calls.append(("fail", self.head_written))
        self.state = CycleState.ABORTED
        return True


# -- the writer --------------------------------------------------------------------


class Writer:
    """A ``ResponseWriter`` that records its calls and fails on a malformed sequence:
    hints only before the head, the head before anything else, nothing after the end,
    one failure at most, ``started`` telling whether the head went out."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.head = self.ended = self.failed = False

    def _open(self, what: str, head: bool | None = True) -> None:
        assert not self.ended and not self.failed, f"{what} after the end: {self.calls}"
        assert head is None or self.head is head, f"{what} with head={self.head}: {self.calls}"

    def write_head(self, status: int, headers: Any, body: bytes, more_body: bool) -> None:
        self._open("head", head=False)
        assert type(status) is int and type(body) is bytes and type(more_body) is bool
        assert all(type(n) is bytes and type(v) is bytes for n, v in headers)
        self.head, self.ended = True, not more_body
        self.calls.append(("head", status, headers, body, more_body))

    def write_body(self, body: bytes, more_body: bool) -> None:
        self._open("body")
        assert type(body) is bytes and type(more_body) is bool
        self.ended = not more_body
        self.calls.append(("body", body, more_body))

    def write_file(self, fd: int, offset: int, count: int, more_body: bool) -> None:
        self._open("file")
        assert os.pread(fd, count, offset) == FILE_CONTENT[offset : offset + count]
        self.ended = not more_body
        self.calls.append(("file", offset, count, more_body))

    def write_trailers(self, headers: Any) -> None:
        self._open("trailers")
        assert self.calls[-1][-1] is True, "trailers after a body that ended the response"
        self.ended = True
        self.calls.append(("trailers", headers))

    def write_early_hint(self, links: Any) -> None:
        self._open("early hint", head=False)
        self.calls.append(("hint", links))

    def push(self, path: str, headers: Any) -> None:
        self._open("push", head=None)
        self.calls.append(("push", path, headers))

    def fail_response(self, started: bool) -> None:
        self._open("fail_response", head=None)
        assert started is self.head, f"fail_response(started={started}) with head={self.head}"
        self.failed = True
        self.calls.append(("fail", started))


def deliver(cycle: HTTPResponseCycle, message: Any) -> None:
    """cycle.handle(message), running a file send's coroutine to its end."""
    result: Any = cycle.handle(message)
    if result is not None:
        with pytest.raises(StopIteration):
            result.send(None)  # the writer never blocks: one step completes it
