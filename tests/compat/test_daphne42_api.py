"""Every public name and signature of Daphne 4.2.3 (``daphne42_api.py``) against ours.

Ours may be a compatible superset: extra parameters with defaults, extra
keyword-only parameters, defaults where Daphne had none.  Every Daphne
parameter must exist at the same position with the same name, a kind that
accepts the same calls and the same default.  Each intended difference is an
explicit entry of ``ALLOWED`` below, with the exact differences the check
reports and, in a comment, why; an allowance that no longer matches what
differs fails too, so the list stays true.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from typing import Any

import pytest
from daphne42_api import ATTRIBUTE, CLASS, DAPHNE_42

import daphne.server  # noqa: F401  (installs the reactor before other imports)

P = inspect.Parameter
POSITIONAL = (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)

_WEBREQUEST = (
    "WebRequest is the HTTP/1.x wire of one request, not a twisted.web.http.Request "
    "subclass (see docs/flow.md)"
)
_WEBSOCKET = "WebSocketProtocol is the WebSocketStream, not an autobahn protocol (see docs/flow.md)"

#: (module, name) -> the exact differences the check reports.  Each is intended.
ALLOWED: dict[tuple[str, str], tuple[str, ...]] = {
    # Set at import time by Daphne's reactor installation code, never meant as
    # API; ours keeps that code in daphne._reactor.
    ("daphne.server", "current_reactor"): ("missing",),
    # WebRequest(channel, ...) is what Daphne's *args were forwarded to
    # (twisted.web.http.Request(channel, queued=...)); the same calls work.
    ("daphne.http_protocol", "WebRequest.__init__"): (
        "positional parameter 1 is 'channel' where Daphne has *args",
    ),
    # The HTTP/1.x error page is built by daphne._asgi.responses.error_page (also
    # exported here as error_page); there is no %-template to override.
    ("daphne.http_protocol", "WebRequest.error_template"): ("missing",),
    # Twisted's http.Request callbacks: our HTTP/1.1 connection parses requests
    # itself and calls no Request methods.
    ("daphne.http_protocol", "WebRequest.process"): ("missing",),
    ("daphne.http_protocol", "WebRequest.connectionLost"): ("missing",),
    ("daphne.http_protocol", "WebRequest.finish"): ("missing",),
    # ASGI messages are handled by HTTPStream/HTTPResponseCycle for HTTP/1.1 and
    # HTTP/2 alike; the wire only writes bytes (send_head/send_body).
    ("daphne.http_protocol", "WebRequest.handle_reply"): ("missing",),
    ("daphne.http_protocol", "WebRequest.handle_exception"): ("missing",),
    ("daphne.http_protocol", "WebRequest.send_disconnect"): ("missing",),
    # Daphne's 2-second timeout sweep called these; our timers are per request.
    ("daphne.http_protocol", "WebRequest.check_timeouts"): ("missing",),
    ("daphne.http_protocol", "WebRequest.duration"): ("missing",),
    # autobahn's callbacks and Daphne's glue between them and the app.
    ("daphne.ws_protocol", "WebSocketProtocol.onConnect"): ("missing",),
    ("daphne.ws_protocol", "WebSocketProtocol.applicationCreateWorked"): ("missing",),
    ("daphne.ws_protocol", "WebSocketProtocol.applicationCreateFailed"): ("missing",),
    ("daphne.ws_protocol", "WebSocketProtocol.onOpen"): ("missing",),
    ("daphne.ws_protocol", "WebSocketProtocol.onMessage"): ("missing",),
    ("daphne.ws_protocol", "WebSocketProtocol.onClose"): ("missing",),
    ("daphne.ws_protocol", "WebSocketProtocol.handle_exception"): ("missing",),
    ("daphne.ws_protocol", "WebSocketProtocol.application_type"): ("missing",),
    ("daphne.ws_protocol", "WebSocketProtocol.muted"): ("missing",),
    # Daphne's server-side actions on autobahn; ours are accept(subprotocol,
    # headers), reject(), send_message(data) and close(code, reason).
    ("daphne.ws_protocol", "WebSocketProtocol.serverAccept"): ("missing",),
    ("daphne.ws_protocol", "WebSocketProtocol.serverReject"): ("missing",),
    ("daphne.ws_protocol", "WebSocketProtocol.serverSend"): ("missing",),
    ("daphne.ws_protocol", "WebSocketProtocol.serverClose"): ("missing",),
    # The timeout sweep again: connect, lifetime and ping timers are per WebSocket.
    ("daphne.ws_protocol", "WebSocketProtocol.duration"): ("missing",),
    ("daphne.ws_protocol", "WebSocketProtocol.check_timeouts"): ("missing",),
}


def parse_signature(text: str) -> tuple[bool, inspect.Signature]:
    """``"async (a, b=1, *c, d, **e)"`` -> (is_async, Signature)."""
    is_async = text.startswith("async ")
    function = ast.parse(f"def f{text.removeprefix('async ')}: pass").body[0]
    assert isinstance(function, ast.FunctionDef)
    args = function.args
    params: list[P] = []
    positional = [*args.posonlyargs, *args.args]
    defaults = [P.empty] * (len(positional) - len(args.defaults)) + [
        ast.literal_eval(d) for d in args.defaults
    ]
    for index, (arg, default) in enumerate(zip(positional, defaults, strict=True)):
        kind = P.POSITIONAL_ONLY if index < len(args.posonlyargs) else P.POSITIONAL_OR_KEYWORD
        params.append(P(arg.arg, kind, default=default))
    if args.vararg is not None:
        params.append(P(args.vararg.arg, P.VAR_POSITIONAL))
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        default = P.empty if kw_default is None else ast.literal_eval(kw_default)
        params.append(P(arg.arg, P.KEYWORD_ONLY, default=default))
    if args.kwarg is not None:
        params.append(P(args.kwarg.arg, P.VAR_KEYWORD))
    return is_async, inspect.Signature(params)


def _default_problem(name: str, theirs: P, ours: P) -> list[str]:
    if theirs.default is P.empty:
        return []  # a default where Daphne had none only widens what is accepted
    if ours.default is P.empty:
        return [f"{name!r} has no default where Daphne has {theirs.default!r}"]
    if _same_value(ours.default, theirs.default):
        return []
    return [f"{name!r} defaults to {ours.default!r} where Daphne has {theirs.default!r}"]


def _same_value(ours: Any, theirs: Any) -> bool:
    """Equal and of the same type, except that 20 and 20.0 are the same number."""
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (ours, theirs))
    return ours == theirs and (numbers or type(ours) is type(theirs))


def compare(theirs: inspect.Signature, ours: inspect.Signature) -> list[str]:
    """The ways in which ``ours`` does not accept every call ``theirs`` accepts."""
    problems: list[str] = []
    their_params = list(theirs.parameters.values())
    our_params = list(ours.parameters.values())
    their_positional = [p for p in their_params if p.kind in POSITIONAL]
    our_positional = [p for p in our_params if p.kind in POSITIONAL]
    our_kinds = {p.kind for p in our_params}
    their_kinds = {p.kind for p in their_params}
    for index, theirs_p in enumerate(their_positional):
        if index >= len(our_positional):
            problems.append(f"parameter {theirs_p.name!r} missing")
            continue
        ours_p = our_positional[index]
        if ours_p.name != theirs_p.name:
            problems.append(
                f"positional parameter {index} is {ours_p.name!r} where Daphne has {theirs_p.name!r}"
            )
            continue
        if theirs_p.kind is P.POSITIONAL_OR_KEYWORD and ours_p.kind is P.POSITIONAL_ONLY:
            problems.append(f"{theirs_p.name!r} is positional-only")
        problems += _default_problem(theirs_p.name, theirs_p, ours_p)
    their_keyword_only = {p.name for p in their_params if p.kind is P.KEYWORD_ONLY}
    for index, ours_p in enumerate(our_positional[len(their_positional) :]):
        if ours_p.default is P.empty and ours_p.name not in their_keyword_only:
            where = len(their_positional) + index
            if P.VAR_POSITIONAL in their_kinds:
                problems.append(
                    f"positional parameter {where} is {ours_p.name!r} where Daphne has *args"
                )
            else:
                problems.append(f"extra parameter {ours_p.name!r} has no default")
    if P.VAR_POSITIONAL in their_kinds and P.VAR_POSITIONAL not in our_kinds:
        problems.append("no *args")
    if P.VAR_KEYWORD in their_kinds and P.VAR_KEYWORD not in our_kinds:
        problems.append("no **kwargs")
    by_name = {p.name: p for p in our_params if p.kind is not P.POSITIONAL_ONLY}
    for theirs_p in their_params:
        if theirs_p.kind is not P.KEYWORD_ONLY:
            continue
        ours_p = by_name.get(theirs_p.name)
        if ours_p is None or ours_p.kind not in (P.KEYWORD_ONLY, P.POSITIONAL_OR_KEYWORD):
            problems.append(f"keyword-only parameter {theirs_p.name!r} missing")
            continue
        problems += _default_problem(theirs_p.name, theirs_p, ours_p)
    their_names = {p.name for p in their_params}
    for ours_p in our_params:
        missing_default = ours_p.kind is P.KEYWORD_ONLY and ours_p.default is P.empty
        if missing_default and ours_p.name not in their_names:
            problems.append(f"extra keyword-only parameter {ours_p.name!r} has no default")
    return problems


def lookup(module: Any, name: str) -> Any:
    """``module.A.b`` read from the class (as the table's signatures are); raises AttributeError."""
    target = module
    for part in name.split("."):
        target = getattr(target, part)
    return target


def differences(module_name: str, name: str, expected: str) -> list[str]:
    """What differs between Daphne's ``name`` and ours, as short sentences."""
    module = importlib.import_module(module_name)
    try:
        ours = lookup(module, name)
    except AttributeError:
        return ["missing"]
    if expected == ATTRIBUTE:
        return []
    if expected == CLASS:
        return [] if inspect.isclass(ours) else [f"not a class but {type(ours).__name__}"]
    is_async, theirs = parse_signature(expected)
    problems = []
    if is_async != inspect.iscoroutinefunction(ours):
        problems.append("a coroutine function in Daphne" if is_async else "async, unlike Daphne's")
    return problems + compare(theirs, inspect.signature(ours))


ENTRIES = [
    (module, name, expected)
    for module, names in DAPHNE_42.items()
    for name, expected in names.items()
]


@pytest.mark.parametrize(
    ("module", "name", "expected"), ENTRIES, ids=[f"{m}:{n}" for m, n, _ in ENTRIES]
)
def test_daphne42_name_and_signature(module: str, name: str, expected: str) -> None:
    """Our name accepts what Daphne 4.2.3's did, or differs exactly as ALLOWED says."""
    found = differences(module, name, expected)
    allowed = list(ALLOWED.get((module, name), ()))
    assert found == allowed, f"{module}.{name}: Daphne {expected}; differences {found}"


def test_allowances_name_daphne_entries() -> None:
    """Every allowance is for a name that is in the Daphne table."""
    assert set(ALLOWED) <= {(module, name) for module, name, _ in ENTRIES}


# -- the checker itself --------------------------------------------------------------


def _sig(text: str) -> inspect.Signature:
    return parse_signature(text)[1]


@pytest.mark.parametrize(
    ("daphne", "ours", "problems"),
    [
        ("(a, b=1)", "(a, b=1, c=None, *, d=2, **kw)", []),
        ("(a, b=1)", "(a, b=1.0)", []),
        ("(a)", "(a=3)", []),
        ("(a, b=1)", "(a)", ["parameter 'b' missing"]),
        ("(a, b=1)", "(a, c=1)", ["positional parameter 1 is 'c' where Daphne has 'b'"]),
        ("(a, b=1)", "(a, b)", ["'b' has no default where Daphne has 1"]),
        ("(a, b=1)", "(a, b=2)", ["'b' defaults to 2 where Daphne has 1"]),
        ("(a, b=None)", "(a, b='')", ["'b' defaults to '' where Daphne has None"]),
        ("(a, b=1)", "(a, b=True)", ["'b' defaults to True where Daphne has 1"]),
        ("(a, b=1)", "(a, /, b=1)", ["'a' is positional-only"]),
        ("(a)", "(a, b)", ["extra parameter 'b' has no default"]),
        (
            "(*args, **kwargs)",
            "(c, *args, **kwargs)",
            ["positional parameter 0 is 'c' where Daphne has *args"],
        ),
        ("(*args)", "()", ["no *args"]),
        ("(**kwargs)", "()", ["no **kwargs"]),
        ("(*, k)", "(k)", []),
        ("(*, k=1)", "(k)", ["'k' has no default where Daphne has 1"]),
        ("(*, k=1)", "(*, k=2)", ["'k' defaults to 2 where Daphne has 1"]),
        ("(*, k)", "()", ["keyword-only parameter 'k' missing"]),
        ("()", "(*, k)", ["extra keyword-only parameter 'k' has no default"]),
    ],
)
def test_compare(daphne: str, ours: str, problems: list[str]) -> None:
    """The checker reports exactly the incompatible changes and accepts compatible supersets."""
    assert compare(_sig(daphne), _sig(ours)) == problems


def test_differences_sees_async_and_missing_names() -> None:
    """A sync method where Daphne's was async, and a missing name, are both reported."""
    assert differences("daphne.server", "Server.stop", "async (self)") == [
        "a coroutine function in Daphne"
    ]
    assert differences("daphne.server", "Server.no_such_method", "(self)") == ["missing"]
    assert differences("daphne.server", "Server.stop", CLASS) == ["not a class but function"]
