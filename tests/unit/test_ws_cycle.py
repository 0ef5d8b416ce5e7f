"""``WebSocketCycle`` (daphne/_asgi/ws_cycle.py): any state, any ASGI message.

The property test drives a cycle into a reachable state with valid messages (or the
protocol's ``give_up()``/``detach()``), then sends arbitrary messages: valid ones,
invalid types, wrong field types, unknown types, Denial Response extension messages.
:class:`Model` (``tests/ws_cycle_model.py``) is the module's "Theory of operation"
written out independently; after each message the cycle must agree with it on the
outcome (accepted or ignored, or :class:`ApplicationMessageError`), the state and the
writer calls, and :class:`Writer` checks that those calls stay well formed.  Example
tests pin the documented errors and the disagreements the property found (all
fixed) as regressions.
"""

from __future__ import annotations

from typing import Any

import pytest
from cycle_property import judge, walk_to
from hypothesis import given, settings
from hypothesis import strategies as st
from ws_cycle_model import (
    ACCEPT,
    CLOSE,
    DENY_BODY,
    DENY_START,
    EXTERNAL,
    SEND,
    SUBPROTOCOLS,
    Model,
    Writer,
    any_message,
)

from daphne._asgi.ws_cycle import WebSocketCycle, WSState
from daphne._errors import ApplicationMessageError


# The space is every state by every kind of message: three times the profile's examples.
@settings(max_examples=3 * settings.default.max_examples)
@given(st.data())
def test_any_state_any_message(data: st.DataObject) -> None:
    """Valid messages never raise, invalid ones raise ApplicationMessageError; state and
    writer calls follow the model; the writer sees one well-formed conversation."""
    offered = data.draw(st.lists(st.sampled_from(SUBPROTOCOLS), unique=True), "offered")
    target = data.draw(st.sampled_from(WSState), "target state")
    writer = Writer()
    cycle = WebSocketCycle(writer, offered)
    model = Model(offered)

    def apply(step: Any) -> None:
        cycle.handle(step)
        assert not model.step(step), step

    final = target is WSState.CLOSED
    walk_to(data, cycle, writer, model, target, final, EXTERNAL, apply)
    for _ in range(data.draw(st.integers(1, 2), "messages")):
        message = data.draw(any_message(model.state), "message")
        judge(cycle, writer, model, message, cycle.handle)


# -- the documented errors, by example ---------------------------------------------------


def cycle_in(state: WSState) -> tuple[WebSocketCycle, Writer]:
    writer = Writer()
    cycle = WebSocketCycle(writer, ["chat"])
    if state is WSState.OPEN:
        cycle.handle({"type": ACCEPT})
    elif state is WSState.DENYING:
        cycle.handle({"type": DENY_START, "status": 403})
    elif state is WSState.CLOSED:
        cycle.handle({"type": CLOSE})
    return cycle, writer


@pytest.mark.parametrize(
    ("state", "message", "error"),
    [
        (WSState.CONNECTING, {"type": SEND, "text": "x"}, "Socket has not been accepted"),
        (
            WSState.CONNECTING,
            {"type": DENY_BODY},
            "expected 'websocket.accept', "
            "'websocket.close' or 'websocket.http.response.start', got 'websocket.http.response.body'",
        ),
        (
            WSState.OPEN,
            {"type": ACCEPT},
            "expected 'websocket.send' or 'websocket.close', got 'websocket.accept'",
        ),
        (WSState.DENYING, {"type": SEND}, "expected 'websocket.http.response.body', got"),
        (WSState.OPEN, {"type": SEND}, "expected 'bytes' or 'text' in websocket.send, got neither"),
        (WSState.OPEN, {"type": SEND, "text": "a", "bytes": b"a"}, "got both"),
        (WSState.OPEN, {"type": SEND, "text": b"a"}, "expected 'text' to be str, got bytes"),
        (WSState.OPEN, {"type": SEND, "bytes": "a"}, "expected 'bytes' to be bytes, got str"),
        (WSState.OPEN, {"type": CLOSE, "code": 1006}, "expected a close code of 1000-1003"),
        (WSState.OPEN, {"type": CLOSE, "reason": b"x"}, "expected 'reason' to be str, got bytes"),
        (WSState.DENYING, {"type": DENY_BODY, "body": "x"}, "expected 'body' to be bytes, got str"),
        (WSState.OPEN, {"text": "x"}, "Message has no type defined"),
    ],
)
def test_documented_errors(state: WSState, message: Any, error: str) -> None:
    """Each invalid message raises ApplicationMessageError (a ValueError) with the
    documented text; the state and the conversation so far are untouched."""
    cycle, writer = cycle_in(state)
    calls = list(writer.calls)
    with pytest.raises(ApplicationMessageError) as info:
        cycle.handle(message)
    assert isinstance(info.value, ValueError)
    assert error in str(info.value)
    assert cycle.state is state and writer.calls == calls


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ({"type": ACCEPT, "subprotocol": "json"}, "expected a subprotocol the client offered"),
        *(
            ({"type": ACCEPT, "headers": [(name, b"x")]}, "does not set itself")
            for name in (
                b"Upgrade",
                b"Connection",
                b"sec-websocket-accept",
                b"Sec-WebSocket-Protocol",
            )
        ),
        ({"type": ACCEPT, "headers": [(b"x", b"a\nb")]}, "Invalid response header"),
        ({"type": ACCEPT, "headers": [("x", b"a")]}, "expected to be `bytes`"),
        ({"type": DENY_START, "status": "403"}, "expected an integer status code, got '403'"),
        ({"type": DENY_START, "status": 99}, "expected an integer status code, got 99"),
        ({"type": DENY_START, "status": 1000}, "expected an integer status code, got 1000"),
        ({"type": DENY_START, "status": 403, "headers": [(b"a b", b"")]}, "Invalid response"),
    ],
)
def test_an_invalid_handshake_answer_fails_the_handshake(message: Any, error: str) -> None:
    """An invalid accept or denial start raises, tells the writer to fail the handshake
    (a 500), and closes the cycle: the client is answered even if the app goes on."""
    cycle, writer = cycle_in(WSState.CONNECTING)
    with pytest.raises(ApplicationMessageError) as info:
        cycle.handle(message)
    assert error in str(info.value)
    assert writer.calls == [("fail_handshake",)]
    assert cycle.state is WSState.CLOSED
    assert cycle.handle({"type": SEND, "text": "ignored"}) is None


def test_close_before_accept_rejects_and_after_accept_closes() -> None:
    """websocket.close answers the handshake with a rejection (403) before accept, and
    starts the closing handshake after it; then everything is ignored."""
    cycle, writer = cycle_in(WSState.CONNECTING)
    cycle.handle({"type": CLOSE, "code": 4000})
    assert writer.calls == [("reject",)]
    cycle, writer = cycle_in(WSState.OPEN)
    cycle.handle({"type": SEND, "bytes": bytearray(b"hi")})
    cycle.handle({"type": CLOSE, "code": 4000, "reason": "bye"})
    cycle.handle({"type": SEND, "text": "late"})
    cycle.handle({"type": CLOSE})
    assert writer.calls == [("accept", None, []), ("send", b"hi"), ("close", 4000, "bye")]


def test_denial_response_streams_its_body() -> None:
    """The Denial Response extension: a head, body pieces, the last one ends it."""
    cycle, writer = cycle_in(WSState.DENYING)
    cycle.handle({"type": DENY_BODY, "body": b"a", "more_body": True})
    cycle.handle({"type": DENY_BODY, "body": bytearray(b"b")})
    assert cycle.state is WSState.CLOSED
    assert writer.calls == [
        ("deny_start", 403, []),
        ("deny_body", b"a", True),
        ("deny_body", b"b", False),
    ]


# -- disagreements the property tests found, fixed: each must stay fixed --------------


@pytest.mark.parametrize(
    ("name", "state", "message", "expected"),
    [
        ("no type after close", WSState.CLOSED, {}, (None, [], WSState.CLOSED)),
        (
            "headers not iterable",
            WSState.CONNECTING,
            {"type": ACCEPT, "headers": None},
            (ApplicationMessageError, [("fail_handshake",)], WSState.CLOSED),
        ),
        (
            "headers not iterable",
            WSState.CONNECTING,
            {"type": DENY_START, "status": 403, "headers": 5},
            (ApplicationMessageError, [("fail_handshake",)], WSState.CLOSED),
        ),
    ],
)
def test_fixed_disagreements(name: str, state: WSState, message: Any, expected: Any) -> None:
    """What the module's rules promise where the code does otherwise."""
    cycle, writer = cycle_in(state)
    before = len(writer.calls)
    error: BaseException | None = None
    try:
        cycle.handle(message)
    except Exception as raised:  # judged below
        error = raised
    assert (type(error) if error else None, writer.calls[before:], cycle.state) == expected
