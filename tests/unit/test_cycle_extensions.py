"""HTTPResponseCycle with the ASGI extensions (Rule 5), against a recording writer."""

from __future__ import annotations

import asyncio
import io

import pytest
from hypothesis import given
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

ALL = frozenset((EARLY_HINT, PATHSEND, PUSH, TRAILERS, ZEROCOPYSEND))


class Writer:
    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.files: list[bytes] = []

    def write_head(self, status, headers, body, more_body):
        self.calls.append(("head", status, body, more_body))

    def write_body(self, body, more_body):
        self.calls.append(("body", body, more_body))

    def fail_response(self, started):
        self.calls.append(("fail", started))

    def write_early_hint(self, links):
        self.calls.append(("hint", links))

    def write_trailers(self, headers):
        self.calls.append(("trailers", headers))

    def push(self, path, headers):
        self.calls.append(("push", path, headers))

    def write_file(self, fd, offset, count, more_body):
        import os

        self.files.append(os.pread(fd, count, offset))
        self.calls.append(("file", offset, count, more_body))


def start(cycle: HTTPResponseCycle, **extra) -> None:
    cycle.handle({"type": "http.response.start", "status": 200, "headers": [], **extra})


def run(awaitable) -> None:
    if awaitable is not None:
        asyncio.run(_wait(awaitable))


async def _wait(awaitable) -> None:
    await awaitable


def test_trailers_follow_the_final_body() -> None:
    writer = Writer()
    cycle = HTTPResponseCycle(writer, ALL)
    start(cycle, trailers=True)
    cycle.handle({"type": "http.response.body", "body": b"x"})
    assert writer.calls == [("head", 200, b"x", True)]  # the response is not over yet
    assert cycle.state is CycleState.TRAILERS
    cycle.handle(
        {"type": "http.response.trailers", "headers": [(b"a", b"1")], "more_trailers": True}
    )
    cycle.handle({"type": "http.response.trailers", "headers": [(b"b", b"2")]})
    assert writer.calls[-1] == ("trailers", [(b"a", b"1"), (b"b", b"2")])
    assert cycle.state is CycleState.COMPLETE


def test_trailers_flag_without_the_extension_is_ignored() -> None:
    writer = Writer()
    cycle = HTTPResponseCycle(writer, frozenset())
    start(cycle, trailers=True)
    cycle.handle({"type": "http.response.body", "body": b"x"})
    assert writer.calls == [("head", 200, b"x", False)]
    assert cycle.state is CycleState.COMPLETE


def test_trailers_too_early_are_an_error() -> None:
    writer = Writer()
    cycle = HTTPResponseCycle(writer, ALL)
    start(cycle, trailers=True)
    with pytest.raises(ApplicationMessageError, match="before the final body"):
        cycle.handle({"type": "http.response.trailers", "headers": []})
    assert cycle.state is CycleState.ABORTED


def test_early_hints_before_the_head_only() -> None:
    writer = Writer()
    cycle = HTTPResponseCycle(writer, ALL)
    cycle.handle({"type": EARLY_HINT, "links": [b"</a>; rel=preload"]})
    start(cycle)
    cycle.handle({"type": EARLY_HINT, "links": [b"</b>; rel=preload"]})
    cycle.handle({"type": "http.response.body", "body": b"", "more_body": True})
    cycle.handle({"type": EARLY_HINT, "links": [b"</c>; rel=preload"]})  # too late: ignored
    assert [call for call in writer.calls if call[0] == "hint"] == [
        ("hint", [b"</a>; rel=preload"]),
        ("hint", [b"</b>; rel=preload"]),
    ]
    with pytest.raises(ApplicationMessageError, match="links"):
        HTTPResponseCycle(Writer(), ALL).handle({"type": EARLY_HINT, "links": ["text"]})


@given(st.sampled_from([EARLY_HINT, PUSH]))
def test_hints_not_advertised_are_ignored(message_type: str) -> None:
    writer = Writer()
    cycle = HTTPResponseCycle(writer, frozenset())
    start(cycle)
    assert cycle.handle({"type": message_type, "links": [b"x"], "path": "/x"}) is None
    assert writer.calls == []
    assert cycle.state is CycleState.STREAMING


def test_other_extensions_not_advertised_are_errors(tmp_path) -> None:
    cycle = HTTPResponseCycle(Writer(), frozenset())
    start(cycle)
    with pytest.raises(ApplicationMessageError, match="Cannot handle message type"):
        cycle.handle({"type": PATHSEND, "path": str(tmp_path)})


def test_push_needs_a_started_response_and_a_string_path() -> None:
    writer = Writer()
    cycle = HTTPResponseCycle(writer, ALL)
    with pytest.raises(ApplicationMessageError, match="not yet been started"):
        cycle.handle({"type": PUSH, "path": "/x", "headers": []})
    cycle = HTTPResponseCycle(writer, ALL)
    start(cycle)
    cycle.handle({"type": PUSH, "path": "/x.css", "headers": [(b"a", b"b")]})
    assert writer.calls[-1] == ("push", "/x.css", [(b"a", b"b")])
    with pytest.raises(ApplicationMessageError, match="'path'"):
        cycle.handle({"type": PUSH, "path": b"/x"})


def test_pathsend_writes_the_head_then_the_whole_file(tmp_path) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"0123456789")
    writer = Writer()
    cycle = HTTPResponseCycle(writer, ALL)
    start(cycle)
    run(cycle.handle({"type": PATHSEND, "path": str(path)}))
    assert writer.calls == [("head", 200, b"", True), ("file", 0, 10, False)]
    assert writer.files == [b"0123456789"]
    assert cycle.state is CycleState.COMPLETE


@pytest.mark.parametrize("path", ["relative.txt", "/no/such/file", 42])
def test_pathsend_bad_paths(path) -> None:
    cycle = HTTPResponseCycle(Writer(), ALL)
    start(cycle)
    with pytest.raises(ApplicationMessageError):
        cycle.handle({"type": PATHSEND, "path": path})


def test_zerocopysend_offsets_and_position(tmp_path) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"abcdefghij")
    writer = Writer()
    cycle = HTTPResponseCycle(writer, ALL)
    start(cycle)
    with open(path, "rb") as handle:
        handle.seek(2)
        run(cycle.handle({"type": ZEROCOPYSEND, "file": handle, "count": 3, "more_body": True}))
        assert handle.tell() == 5  # moved on as a read would
        run(cycle.handle({"type": ZEROCOPYSEND, "file": handle, "offset": 8}))
        assert handle.tell() == 5  # an explicit offset leaves the position alone
    assert writer.files == [b"cde", b"ij"]
    assert writer.calls[-1] == ("file", 8, 2, False)
    assert cycle.state is CycleState.COMPLETE


def test_zerocopysend_needs_a_real_file() -> None:
    cycle = HTTPResponseCycle(Writer(), ALL)
    start(cycle)
    with pytest.raises(ApplicationMessageError, match="file descriptor"):
        cycle.handle({"type": ZEROCOPYSEND, "file": io.BytesIO(b"x")})
