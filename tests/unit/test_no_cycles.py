"""A finished request leaves no reference cycle behind (HTTP/1.1 and HTTP/2, in memory).

The request stream and its wire point at each other while a request runs;
once the response is out and the app has returned, the pair must be freed by
reference counting.  Left to the cyclic collector, such garbage cost about a
fifth of a small request's CPU (measured with bench/).
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Callable

import pytest
from harness import Harness
from memory_apps import Recorder
from test_h2_pipeline import Client


def _h1(harness: Harness) -> Callable[[int], None]:
    def drive(count: int) -> None:
        for _ in range(count):
            harness.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            harness.transport.clear()

    return drive


def _h2(harness: Harness) -> Callable[[int], None]:
    client = Client(harness)
    ids = itertools.count(1, 2)

    def drive(count: int) -> None:
        for _ in range(count):
            stream_id = next(ids)
            client.request(stream_id)
            assert client.status(stream_id) == 200

    return drive


@pytest.mark.parametrize("driver", [_h1, _h2], ids=["http/1.1", "h2c"])
def test_finished_requests_are_freed_without_the_cycle_collector(driver) -> None:
    harness = Harness(Recorder())
    try:
        drive = driver(harness)
        drive(5)  # warm up: imports, caches, the first request's one-offs
        gc.collect()
        gc.disable()
        try:
            drive(50)
            found = gc.collect()
        finally:
            gc.enable()
        assert found == 0, f"{found} objects were only reachable through reference cycles"
    finally:
        harness.close()
