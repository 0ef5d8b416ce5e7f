"""What the HTTP and WebSocket cycle property tests share (tests/unit/test_http_cycle.py,
tests/unit/test_ws_cycle.py, with their models in tests/http_cycle_model.py and
tests/ws_cycle_model.py): a strategy for messages with one field broken, the walk of a
cycle and its model to a target state, and the verdict on one message.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from hypothesis import event
from hypothesis import strategies as st

from daphne._errors import ApplicationMessageError

#: kind -> field -> (strategy of good values, strategy of bad values or None).
Fields = Mapping[str, Mapping[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any] | None]]]


class CycleModel(Protocol):
    state: Any
    calls: list[Any]

    def towards(self, target: Any, stay: bool) -> st.SearchStrategy[Any] | None: ...
    def external(self, action: str) -> None: ...
    def step(self, message: Any) -> bool: ...


class Recorder(Protocol):
    calls: list[Any]


def one_field_broken(
    fields: Fields, valid_message: Callable[..., st.SearchStrategy[Any]], kind: str
) -> st.SearchStrategy[dict[str, Any]]:
    """A valid message of ``kind`` with exactly one field made invalid."""
    names = sorted(name for name, (_, bad) in fields[kind].items() if bad is not None)

    def corrupt(name: str) -> st.SearchStrategy[dict[str, Any]]:
        bad = fields[kind][name][1]
        assert bad is not None
        return valid_message(kind, **{name: bad})

    return st.sampled_from(names).flatmap(corrupt)


def walk_to(
    data: st.DataObject,
    cycle: Any,
    writer: Recorder,
    model: CycleModel,
    target: Any,
    final: bool,
    external: tuple[str, ...],
    apply: Callable[[Any], None],
) -> None:
    """Take the cycle and the model to ``target`` (a ``final`` state allows no detours),
    with up to four detours that keep a state.  A step in ``external`` (``"detach()"``...)
    is called on the cycle; ``apply`` sends any other step to both."""
    detours = data.draw(st.integers(0, 4), "detours")  # steps that keep a state
    for _ in range(12):
        arrived = model.state is target
        if arrived and (not detours or final):
            break
        stay = detours > 0 and (arrived or data.draw(st.booleans(), "detour here?"))
        detours -= stay
        choice = model.towards(target, stay)
        if choice is None:  # no step keeps this state
            if arrived:
                break
            choice = model.towards(target, stay=False)
        step = data.draw(choice, "step")
        if step in external:
            getattr(cycle, step[:-2])()
            model.external(step)
        else:
            apply(step)
        assert (cycle.state, writer.calls) == (model.state, model.calls), step
    assert model.state is target


def judge(
    cycle: Any,
    writer: Recorder,
    model: CycleModel,
    message: Any,
    deliver: Callable[[Any], None],
    label: str = "",
) -> None:
    """Send ``message`` to the cycle and the model: the cycle must agree with the model on
    the state, the writer calls and the outcome (an ApplicationMessageError for an invalid
    message, nothing for a valid one)."""
    before = copy.deepcopy(model)
    kind = message.get("type") if isinstance(message, dict) else None
    event(f"{before.state.name} x {kind if isinstance(kind, str) else 'no type'}{label}")
    invalid = model.step(message)
    error: BaseException | None = None
    try:
        deliver(message)
    except Exception as raised:  # judged against the model below
        error = raised
    agrees = (cycle.state, writer.calls) == (model.state, model.calls) and (
        isinstance(error, ApplicationMessageError) if invalid else error is None
    )
    if not agrees:
        if isinstance(error, AssertionError):
            raise error  # the writer saw a malformed sequence
        raise AssertionError(
            f"{message!r} in {before.state}: state {cycle.state}, calls "
            f"{writer.calls[len(before.calls) :]}, raised {error!r}; the model expected "
            f"{model.state}, {model.calls[len(before.calls) :]}, invalid={invalid}"
        )
