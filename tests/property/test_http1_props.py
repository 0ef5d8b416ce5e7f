"""Property tests: the HTTP/1.1 protocol never crashes and is split-invariant."""

from __future__ import annotations

import logging

from harness import Harness
from hypothesis import given, settings
from hypothesis import strategies as st
from memory_apps import Recorder
from strategies import requests

from daphne._wire.http1 import ConnState


class _InternalErrors(logging.Handler):
    """Collects the protocol's own "internal error" log records."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "Internal error" in record.getMessage():
            self.records.append(record)


INTERNAL_ERRORS = _InternalErrors()
logging.getLogger("daphne.http_protocol").addHandler(INTERNAL_ERRORS)


def run(chunks: list[bytes]) -> tuple[Harness, Recorder]:
    app = Recorder()
    harness = Harness(app, request_buffer_size=64)
    for chunk in chunks:
        harness.protocol.dataReceived(chunk)
        harness.spin(3)
    harness.spin()
    return harness, app


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    """Any bytes end in a response, a clean close, or a wait for more — never an exception."""
    INTERNAL_ERRORS.records.clear()
    harness, _ = run([data])
    try:
        assert harness.errors == []
        assert INTERNAL_ERRORS.records == [], INTERNAL_ERRORS.records[0].exc_info
        written = harness.written
        if written and data.startswith(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"):
            assert written[3] == 0x04  # HTTP/2: the server's SETTINGS frame comes first
        elif written:
            assert written.startswith(b"HTTP/1.")
        if harness.protocol.state is ConnState.CLOSED:
            assert harness.closed
    finally:
        harness.close()


@settings(max_examples=300)
@given(st.binary(max_size=200), st.binary(max_size=200))
def test_request_line_prefix_fuzz(head: bytes, tail: bytes) -> None:
    """Garbage after a valid request start is handled without exceptions."""
    harness, _ = run([b"POST / HTTP/1.1\r\n" + head, tail])
    try:
        assert harness.errors == []
        assert INTERNAL_ERRORS.records == []
    finally:
        harness.close()


@settings(max_examples=200)
@given(requests(), st.lists(st.integers(min_value=1, max_value=50), max_size=10))
def test_split_invariance(request: tuple[bytes, dict], cuts: list[int]) -> None:
    """A request split at arbitrary points yields the same scope and body as whole."""
    raw, expected = request
    chunks, offset = [], 0
    for cut in cuts:
        chunks.append(raw[offset : offset + cut])
        offset += cut
    chunks.append(raw[offset:])
    results = []
    for pieces in ([raw], chunks):
        harness, app = run(pieces)
        try:
            (scope,) = app.scopes
            assert scope["method"] == expected["method"]
            assert scope["raw_path"] == expected["raw_path"]
            assert scope["query_string"] == expected["query_string"]
            names = [n for n, _ in scope["headers"]]
            assert names[0] == b"host"
            for header in expected["headers"]:
                if b"_" not in header[0]:
                    assert header in scope["headers"]
            assert app.body == expected["body"]
            assert all(len(m["body"]) <= 64 for m in app.messages)
            assert harness.responses([expected["method"]])[0].status == 200
            results.append((scope, app.body))
        finally:
            harness.close()
    assert results[0] == results[1]


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_arbitrary_http2_frames_never_raise(data: bytes) -> None:
    """Any bytes after the HTTP/2 preface end in frames, a GOAWAY or a wait, never an exception."""
    harness, _ = run([b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", data])
    try:
        assert harness.errors == []
        assert INTERNAL_ERRORS.records == []
        assert harness.written[3] == 0x04
    finally:
        harness.close()
