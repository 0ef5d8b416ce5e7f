"""``HTTPResponseCycle`` (daphne/_asgi/http_cycle.py): any state, any ASGI message.

The property test drives a cycle into a reachable state with valid messages (and,
sometimes, the stream's ``abort()`` or ``detach()``), then sends arbitrary messages:
valid ones, invalid types, wrong field types, unknown types and extension messages,
advertised or not.  :class:`Model` is the module's "Theory of operation" written out
independently; after each message the cycle must agree with it on the outcome
(accepted or ignored, or :class:`ApplicationMessageError`), the state, and the calls
the writer received, and :class:`Writer` checks that those calls always form one
well-formed response (both in ``tests/http_cycle_model.py``).  Example tests pin the
documented errors and the disagreements the property found (all fixed) as regressions.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from cycle_property import judge, walk_to
from http_cycle_model import (
    ACTIVE,
    ALL,
    BODY,
    EXTERNAL,
    FILE,
    FILE_CONTENT,
    START,
    Model,
    Writer,
    any_message,
    deliver,
    resolved,
)
from hypothesis import given, settings
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
from daphne._errors import ApplicationMessageError


@pytest.fixture(scope="module")
def file_path() -> Iterator[str]:
    fd, path = tempfile.mkstemp(prefix="daphne-cycle-")
    os.write(fd, FILE_CONTENT)
    os.close(fd)
    yield path
    os.unlink(path)


# The space is every state by every kind of message: three times the profile's examples.
@settings(max_examples=3 * settings.default.max_examples)
@given(st.data())
def test_any_state_any_message(file_path: str, data: st.DataObject) -> None:
    """Valid messages never raise, invalid ones raise ApplicationMessageError; state and
    writer calls follow the model; the writer sees one well-formed response."""
    extensions = data.draw(
        st.just(ALL) | st.sets(st.sampled_from(sorted(ALL))).map(frozenset), "extensions"
    )
    target = data.draw(st.sampled_from(CycleState), "target state")
    if target is CycleState.TRAILERS:
        extensions |= {TRAILERS}
    writer = Writer()
    cycle = HTTPResponseCycle(writer, extensions)
    model = Model(extensions)

    def send(message: Any) -> None:
        with resolved(message, file_path) as real:
            deliver(cycle, real)

    def apply(step: Any) -> None:
        with contextlib.suppress(ApplicationMessageError):
            send(step)
        model.step(step)

    walk_to(data, cycle, writer, model, target, target not in ACTIVE, EXTERNAL, apply)
    for _ in range(data.draw(st.integers(1, 2), "messages")):
        message = data.draw(any_message(model.state), "message")
        kind = message.get("type") if isinstance(message, dict) else None
        name = kind if isinstance(kind, str) else "no type"
        label = "" if name in extensions else " (not advertised)"
        judge(cycle, writer, model, message, send, label)


# -- the documented errors, by example -------------------------------------------------


def started_cycle(
    extensions: frozenset[str] = ALL, **start: Any
) -> tuple[HTTPResponseCycle, Writer]:
    writer = Writer()
    cycle = HTTPResponseCycle(writer, extensions)
    cycle.handle({"type": START, "status": 200, "headers": [], **start})
    return cycle, writer


@pytest.mark.parametrize(
    ("messages", "error", "head_written"),
    [
        ([{"type": BODY}], "has not yet been started but got 'http.response.body'", False),
        ([{"type": START, "status": 200}] * 2, "has already been started", False),
        (
            [{"type": "websocket.send"}],
            "Cannot handle message type websocket.send!: expected 'http.response.start' or "
            "'http.response.body', got 'websocket.send'",
            False,
        ),
        ([{"type": START}], "Specifying a status code is required for a Response message.", False),
        ([{"type": START, "status": 101}], "final status code (200-999), got 101", False),
        ([{"type": START, "status": "200"}], "final status code (200-999), got '200'", False),
        (
            [{"type": START, "status": 200, "headers": [("a", b"b")]}],
            "Header name 'a' expected to be `bytes`, but got `<class 'str'>`",
            False,
        ),
        (
            [{"type": START, "status": 200, "headers": [(b"a", "b")]}],
            "Header value 'b' expected to be `bytes`, but got `<class 'str'>`",
            False,
        ),
        ([{"type": START, "status": 200, "headers": [b"ab!"]}], "a [name, value] pair", False),
        ([{"status": 200}], "Message has no type defined", False),
        ([None], "Message has no type defined", False),
        (
            [{"type": START, "status": 200}, {"type": BODY, "body": "text"}],
            "expected 'body' to be bytes, got str",
            False,
        ),
        (
            [
                {"type": START, "status": 200},
                {"type": BODY, "body": b"x", "more_body": True},
                {"type": BODY, "body": 7},
            ],
            "expected 'body' to be bytes, got int",
            True,
        ),
    ],
)
def test_documented_errors(messages: list[Any], error: str, head_written: bool) -> None:
    """Each invalid message raises ApplicationMessageError (a ValueError, as Daphne raised)
    with the documented text, and fails the response once: a 500 if the head has not
    gone out, else an abort."""
    writer = Writer()
    cycle = HTTPResponseCycle(writer, frozenset())
    *valid, invalid = messages
    for message in valid:
        cycle.handle(message)
    with pytest.raises(ApplicationMessageError) as info:
        cycle.handle(invalid)
    assert isinstance(info.value, ValueError)
    assert error in str(info.value)
    assert writer.calls[-1] == ("fail", head_written)
    assert cycle.state is CycleState.ABORTED


def test_a_finished_response_ignores_everything() -> None:
    """Rule 3: after the final body, and after an abort, messages valid or not are ignored."""
    cycle, writer = started_cycle(frozenset())
    cycle.handle({"type": BODY, "body": b"done"})
    calls = list(writer.calls)
    for message in ({"type": START, "status": 200}, {"type": BODY, "body": 7}, {"type": "x"}):
        assert cycle.handle(message) is None
    assert writer.calls == calls and cycle.state is CycleState.COMPLETE
    cycle, writer = started_cycle(frozenset())
    cycle.abort()
    assert cycle.handle({"type": BODY, "body": b"late"}) is None
    assert writer.calls == [] and cycle.state is CycleState.ABORTED


def test_the_head_waits_for_the_first_body() -> None:
    """Rule 1: http.response.start writes nothing; the first body carries the head."""
    cycle, writer = started_cycle(frozenset(), headers=[(b"a", b"1")])
    assert writer.calls == []
    cycle.handle({"type": BODY, "body": bytearray(b"x"), "more_body": True})
    cycle.handle({"type": BODY, "body": memoryview(b"y")})
    assert writer.calls == [("head", 200, [(b"a", b"1")], b"x", True), ("body", b"y", False)]


# -- disagreements the property tests found, fixed: each must stay fixed --------------


def _fresh() -> HTTPResponseCycle:
    return HTTPResponseCycle(Writer(), ALL)


def _streaming() -> HTTPResponseCycle:
    return started_cycle()[0]


def _after_end() -> HTTPResponseCycle:
    cycle, _ = started_cycle(frozenset())
    cycle.handle({"type": BODY})
    return cycle


def _in_trailers() -> HTTPResponseCycle:
    cycle, _ = started_cycle(trailers=True)
    cycle.handle({"type": BODY, "body": b"x"})
    return cycle


ABORTED, STREAMING = CycleState.ABORTED, CycleState.STREAMING
FAILED_BEFORE_HEAD = ([("fail", False)], ABORTED)
FAILED_AFTER_HEAD = ([("fail", True)], ABORTED)


@pytest.mark.parametrize(
    ("name", "make", "message", "expected"),
    [
        ("no type after the end", _after_end, {}, ([], CycleState.COMPLETE)),
        ("started in TRAILERS", _in_trailers, {"type": BODY}, FAILED_AFTER_HEAD),
        (
            "header errors skip the writer",
            _streaming,
            {"type": PUSH, "path": "/a", "headers": [("a", b"b")]},
            FAILED_BEFORE_HEAD,
        ),
        (
            "header errors skip the writer",
            _in_trailers,
            {"type": TRAILERS, "headers": [("a", b"b")]},
            FAILED_AFTER_HEAD,
        ),
        (
            "field not iterable",
            _fresh,
            {"type": START, "status": 200, "headers": None},
            FAILED_BEFORE_HEAD,
        ),
        ("field not iterable", _fresh, {"type": EARLY_HINT, "links": None}, FAILED_BEFORE_HEAD),
        ("unhashable type", _streaming, {"type": [BODY]}, FAILED_BEFORE_HEAD),
        (
            "offset not an int",
            _streaming,
            {"type": ZEROCOPYSEND, "file": FILE, "offset": "1"},
            FAILED_BEFORE_HEAD,
        ),
        (
            "pathsend of a directory",
            _streaming,
            {"type": PATHSEND, "path": "/"},
            FAILED_BEFORE_HEAD,
        ),
    ],
)
def test_fixed_disagreements(
    name: str, make: Any, message: Any, expected: Any, file_path: str
) -> None:
    """What the module's rules promise where the code does otherwise: an
    invalid message raises ApplicationMessageError and fails the response once, with
    ``started`` true once the head is out (Rule 4); after the end nothing (Rule 3)."""
    cycle = make()
    writer = cycle._writer
    assert isinstance(writer, Writer)
    before = len(writer.calls)
    error: BaseException | None = None
    with resolved(message, file_path) as real:
        try:
            cycle.handle(real)
        except Exception as raised:  # judged below
            error = raised
    calls, state = expected
    should_raise = bool(calls)
    assert (type(error) if error else None, writer.calls[before:], cycle.state) == (
        ApplicationMessageError if should_raise else None,
        calls,
        state,
    )
