"""The model, messages and recording writer of tests/unit/test_ws_cycle.py.

:class:`Model` is ``daphne/_asgi/ws_cycle.py``'s "Theory of operation" written out
independently of the code: for any message in any state it gives the next state, the
writer calls the message makes, and whether it is invalid.  The strategies make valid
messages, messages with exactly one invalid field, and messages of unknown or missing
types.  :class:`Writer` records the calls a cycle makes and fails on any sequence that
is not one well-formed handshake answer followed by a well-formed conversation.
"""

from __future__ import annotations

from typing import Any

from cycle_property import one_field_broken
from hypothesis import strategies as st

from daphne._asgi.ws_cycle import WSState

ACCEPT, CLOSE, SEND = "websocket.accept", "websocket.close", "websocket.send"
DENY_START, DENY_BODY = "websocket.http.response.start", "websocket.http.response.body"
EXTERNAL = ("give_up()", "detach()")  # what the protocol itself does to its cycle
SUBPROTOCOLS = ("chat", "json", "v2")
CLOSE_CODES = (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014)
#: Fields the server sets itself in the handshake answer; an app may not.
SERVER_SET = (b"sec-websocket-protocol", b"sec-websocket-accept", b"upgrade", b"connection")


class Omitted:
    def __repr__(self) -> str:
        return "<omitted>"


OMIT = Omitted()


# -- messages ----------------------------------------------------------------------

NAMES = st.sampled_from([b"x-a", b"Set-Cookie", b"x_b", b"X-Trace-Id"])
VALUES = st.text(st.characters(min_codepoint=1, max_codepoint=255, exclude_characters="\r\n"),
                 max_size=6).map(lambda text: text.encode("latin-1"))  # fmt: skip
GOOD_HEADERS = st.one_of(st.just(OMIT), st.lists(st.tuples(NAMES, VALUES), max_size=3))
BAD_HEADERS = st.one_of(
    st.lists(st.tuples(st.text(max_size=3), VALUES), min_size=1, max_size=2),  # types
    st.lists(st.tuples(NAMES, st.text(max_size=3)), min_size=1, max_size=2),
    st.sampled_from([[(b"a", b"b", b"c")], [b"x"], [None], "ab"]),  # shapes
    st.sampled_from([None, 7]),  # not a list at all
    st.sampled_from([[(b"bad name", b"v")], [(b"", b"v")], [(b"x", b"a\r\nb")], [(b"x", b"\0")]]),
)
#: Handshake answers may not set the fields the server sets (any case).
SERVER_SET_HEADERS = st.sampled_from((*SERVER_SET, b"Upgrade", b"Sec-WebSocket-Protocol")).map(
    lambda name: [(name, b"x")]
)
MAYBE_BOOL = st.one_of(st.just(OMIT), st.booleans())

#: Each message type's fields: (strategy of valid values, strategy of invalid ones or None).
FIELDS: dict[str, dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any] | None]]] = {
    ACCEPT: {
        "subprotocol": (
            st.one_of(st.just(OMIT), st.none(), st.sampled_from(SUBPROTOCOLS)),
            st.sampled_from(["nope", b"chat", 5]),
        ),
        "headers": (GOOD_HEADERS, st.one_of(BAD_HEADERS, SERVER_SET_HEADERS)),
    },
    CLOSE: {
        "code": (
            st.one_of(st.just(OMIT), st.sampled_from(CLOSE_CODES), st.integers(3000, 4999)),
            st.sampled_from([999, 1004, 1005, 1006, 1015, 2999, 5000, "1000", None, True, 1000.0]),
        ),
        "reason": (
            st.one_of(st.just(OMIT), st.none(), st.text(max_size=5)),
            st.sampled_from([b"bye", 5, ["r"]]),
        ),
    },
    SEND: {
        # Exactly one of "text" and "bytes"; the other absent or None.
        "payload": (
            st.one_of(
                st.text(max_size=5).map(lambda text: {"text": text}),
                st.binary(max_size=5).map(lambda data: {"bytes": data}),
                st.binary(max_size=5).map(lambda data: {"bytes": bytearray(data), "text": None}),
                st.binary(max_size=5).map(lambda data: {"bytes": memoryview(data)}),
                st.text(max_size=5).map(lambda text: {"text": text, "bytes": None}),
            ),
            st.sampled_from(
                [
                    {},
                    {"text": None, "bytes": None},
                    {"text": "a", "bytes": b"a"},
                    {"text": b"a"},
                    {"bytes": "a"},
                    {"text": 5},
                    {"bytes": [1]},
                ]
            ),
        ),
    },
    DENY_START: {
        "status": (
            st.integers(100, 999),
            st.sampled_from([OMIT, 99, 1000, "403", None, True, 403.0]),
        ),
        "headers": (GOOD_HEADERS, BAD_HEADERS),
    },
    DENY_BODY: {
        "body": (
            st.one_of(
                st.just(OMIT),
                st.binary(max_size=5),
                st.binary(max_size=5).map(bytearray),
                st.binary(max_size=5).map(memoryview),
            ),
            st.sampled_from(["text", 5, None, [1]]),
        ),
        "more_body": (MAYBE_BOOL, None),
    },
}


def flatten(kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The message: ``type``, the fields (``payload`` spread out), omitted ones left out."""
    message: dict[str, Any] = {"type": kind}
    for name, value in fields.items():
        if name == "payload":
            message.update(value)
        elif value is not OMIT:
            message[name] = value
    return message


def valid_message(kind: str, **fixed: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    fields = {name: good for name, (good, _) in FIELDS[kind].items()}
    return st.fixed_dictionaries({**fields, **fixed}).map(lambda values: flatten(kind, values))


def invalid_message(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    """A valid message with exactly one field made invalid."""
    return one_field_broken(FIELDS, valid_message, kind)


UNKNOWN = st.one_of(
    st.sampled_from(
        ["websocket.connect", "websocket.receive", "websocket.disconnect", "http.response.start",
         "websocket.accepted", "", "lifespan.startup"]
    ),
    st.text(max_size=8),
    st.sampled_from([None, 7, b"websocket.send", [SEND]]),
).map(lambda kind: {"type": kind}) | st.sampled_from([None, 7, SEND, [], {}, {"text": "x"}])  # fmt: skip
ANY_MESSAGE = st.one_of(
    *(valid_message(kind) for kind in FIELDS),
    *(invalid_message(kind) for kind in FIELDS),
    UNKNOWN,
)


def any_message(state: WSState) -> st.SearchStrategy[Any]:
    """Any message, half the time one of a type this state expects (valid, or with one
    invalid field), so that the rarer faults are reached in every state."""
    expected = {
        WSState.CONNECTING: (ACCEPT, CLOSE, DENY_START),
        WSState.OPEN: (SEND, CLOSE),
        WSState.DENYING: (DENY_BODY,),
    }.get(state, ())
    if not expected:
        return ANY_MESSAGE
    near = st.sampled_from(expected).flatmap(
        lambda kind: valid_message(kind) | invalid_message(kind)
    )
    return near | ANY_MESSAGE


# -- the model ---------------------------------------------------------------------


def valid_headers(headers: Any, handshake: bool) -> bool:
    """A list of (token, value) byte pairs, values free of CR, LF and NUL; a handshake
    answer may not set the fields the server sets."""
    return isinstance(headers, list) and all(
        isinstance(pair, tuple)
        and len(pair) == 2
        and all(type(part) is bytes for part in pair)
        and pair[0] != b""
        and all(c in b"!#$%&'*+-.^_`|~" or (c < 128 and chr(c).isalnum()) for c in pair[0])
        and not any(c in pair[1] for c in b"\x00\r\n")
        and not (handshake and pair[0].lower() in SERVER_SET)
        for pair in headers
    )


class Model:
    """The states and rules of ws_cycle.py, and the writer calls each message makes."""

    def __init__(self, offered: list[str]) -> None:
        self.offered = offered
        self.state = WSState.CONNECTING
        self.calls: list[tuple[Any, ...]] = []

    def towards(self, target: WSState, stay: bool) -> st.SearchStrategy[Any] | None:
        """A valid step that keeps the state (``stay``; None if none can) or moves on
        towards ``target``."""
        state = self.state
        if state is WSState.CONNECTING:
            if stay:
                return None
            if target is WSState.CLOSED:
                return st.sampled_from(EXTERNAL) | valid_message(CLOSE)
            if target is WSState.DENYING:
                return valid_message(DENY_START)
            offered = st.sampled_from(self.offered) if self.offered else st.nothing()
            return valid_message(ACCEPT, subprotocol=st.just(OMIT) | st.none() | offered)
        if state is WSState.OPEN:
            return valid_message(SEND) if stay else valid_message(CLOSE) | st.sampled_from(EXTERNAL)
        return valid_message(DENY_BODY, more_body=st.just(stay))  # DENYING

    def external(self, action: str) -> None:
        self.state = WSState.CLOSED  # give_up() and detach() alike

    def step(self, message: Any) -> bool:
        """Apply ``message``; True if it is invalid (ApplicationMessageError expected)."""
        if self.state is WSState.CLOSED:
            return False  # everything is ignored
        if not isinstance(message, dict) or "type" not in message:
            return True
        state, kind, get = self.state, message["type"], message.get
        if state is WSState.OPEN and kind == SEND:
            text, data = get("text"), get("bytes")
            if (text is None) == (data is None):
                return True
            if text is not None:
                if not isinstance(text, str):
                    return True
                self.calls.append(("send", text))
            else:
                if not isinstance(data, (bytes, bytearray, memoryview)):
                    return True
                self.calls.append(("send", bytes(data)))
            return False
        if state is WSState.CONNECTING and kind == ACCEPT:
            subprotocol, headers = get("subprotocol"), get("headers", [])
            if (subprotocol is not None and subprotocol not in self.offered) or not valid_headers(
                headers, handshake=True
            ):
                return self.fail_handshake()
            self.state = WSState.OPEN
            self.calls.append(("accept", subprotocol, headers))
            return False
        if kind == CLOSE and state in (WSState.CONNECTING, WSState.OPEN):
            code, reason = get("code", 1000), get("reason") or ""
            if type(code) is not int or not (code in CLOSE_CODES or 3000 <= code <= 4999):
                return True
            if not isinstance(reason, str):
                return True
            self.calls.append(("close", code, reason) if state is WSState.OPEN else ("reject",))
            self.state = WSState.CLOSED
            return False
        if state is WSState.CONNECTING and kind == DENY_START:
            status, headers = get("status"), get("headers", [])
            if type(status) is not int or not 100 <= status <= 999:
                return self.fail_handshake()
            if not valid_headers(headers, handshake=False):
                return self.fail_handshake()
            self.state = WSState.DENYING
            self.calls.append(("deny_start", status, headers))
            return False
        if state is WSState.DENYING and kind == DENY_BODY:
            body = get("body", b"")
            if not isinstance(body, (bytes, bytearray, memoryview)):
                return True
            more = bool(get("more_body"))
            self.calls.append(("deny_body", bytes(body), more))
            if not more:
                self.state = WSState.CLOSED
            return False
        return True  # not valid here: raised, nothing else changes

    def fail_handshake(self) -> bool:
        self.calls.append(("fail_handshake",))
        self.state = WSState.CLOSED
        return True


# -- the writer --------------------------------------------------------------------


class Writer:
    """A ``WebSocketWriter`` that records its calls and fails on a malformed sequence:
    one answer to the handshake (accept, reject, a denial response, or a failed
    handshake), messages and one close only after an accept, denial body pieces only
    after the denial head and until the last one."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.answer: str | None = None
        self.over = False

    def _answer(self, what: str) -> None:
        assert self.answer is None, f"{what} after {self.answer}: {self.calls}"
        self.answer = what
        self.over = what in ("reject", "fail_handshake")

    def _during(self, answer: str, what: str) -> None:
        assert self.answer == answer and not self.over, f"{what}: {self.calls}"

    def accept(self, subprotocol: str | None, headers: list[tuple[bytes, bytes]]) -> None:
        self._answer("accept")
        self.calls.append(("accept", subprotocol, headers))

    def reject(self) -> None:
        self._answer("reject")
        self.calls.append(("reject",))

    def fail_handshake(self) -> None:
        self._answer("fail_handshake")
        self.calls.append(("fail_handshake",))

    def deny_start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self._answer("deny")
        self.calls.append(("deny_start", status, headers))

    def deny_body(self, body: bytes, more_body: bool) -> None:
        self._during("deny", "deny_body")
        assert type(body) is bytes and type(more_body) is bool
        self.over = not more_body
        self.calls.append(("deny_body", body, more_body))

    def send_message(self, data: str | bytes) -> None:
        self._during("accept", "send_message")
        assert type(data) in (str, bytes)
        self.calls.append(("send", data))

    def close(self, code: int, reason: str) -> None:
        self._during("accept", "close")
        assert type(code) is int and type(reason) is str
        self.over = True
        self.calls.append(("close", code, reason))
