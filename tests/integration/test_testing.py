"""daphne.testing: DaphneTestingInstance, DaphneProcess and TestApplication against real sockets."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys

import pytest

from daphne.testing import (
    BaseDaphneTestingInstance,
    DaphneProcess,
    DaphneTestingInstance,
    TestApplication,
)

pytestmark = pytest.mark.timeout(60)


def get(port: int, path: str = "/", headers: dict | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    return response


def test_request_recorded_and_response_replayed() -> None:
    """The test app records the scope and messages and sends the queued response."""
    with DaphneTestingInstance() as instance:
        instance.add_send_messages(
            [
                {"type": "http.response.start", "status": 201, "headers": [(b"x-a", b"b")]},
                {"type": "http.response.body", "body": b"made"},
            ]
        )
        response = get(instance.port, "/p?q=1")
        scope, messages = instance.get_received()
    assert response.status == 201 and response.body == b"made"
    assert scope["path"] == "/p" and scope["query_string"] == b"q=1"
    assert messages[0]["type"] == "http.request"


@pytest.mark.parametrize("attempt", range(5))
def test_every_body_piece_is_recorded_before_the_client_has_the_response(attempt: int) -> None:
    """An app answering after the first of many body pieces: by the time the client has the
    response, the app has taken every piece already received and the disconnect (as Daphne).

    While the app still has input queued, its last response write waits until it yields to
    the event loop, so it works through what is queued first.  (Writing at once made this
    race, and Daphne's own ``test_request_body_chunking`` fail most of the time.)"""
    body = b"The quick brown fox jumps over the lazy dog"
    with DaphneTestingInstance(request_buffer_size=1) as instance:
        instance.add_send_messages(
            [
                {"type": "http.response.start", "status": 200, "headers": []},
                {"type": "http.response.body", "body": b"ok"},
            ]
        )
        conn = http.client.HTTPConnection("127.0.0.1", instance.port, timeout=5)
        conn.request("POST", "/", body=body)
        assert conn.getresponse().read() == b"ok"
        _scope, messages = instance.get_received()
    assert [message.get("body") for message in messages[:-1]] == [bytes([b]) for b in body]
    assert [message["more_body"] for message in messages[:-1]] == [True] * 42 + [False]
    assert messages[-1] == {"type": "http.disconnect"}


def test_no_results_and_exceptions() -> None:
    """get_received() says when nothing arrived, and re-raises the app's exception."""
    with DaphneTestingInstance() as instance:
        with pytest.raises(ValueError, match=r"No results available yet\."):
            instance.get_received()
        instance.add_send_messages(
            [{"type": "http.response.start", "status": 200, "headers": [["foo", b"bar"]]}]
        )
        get(instance.port)
        with pytest.raises(ValueError, match="Header name 'foo' expected to be `bytes`"):
            instance.get_received()


def test_xff_option() -> None:
    """xff=True turns on the X-Forwarded-* headers."""
    with DaphneTestingInstance(xff=True) as instance:
        instance.add_send_messages(
            [
                {"type": "http.response.start", "status": 200},
                {"type": "http.response.body", "body": b""},
            ]
        )
        get(instance.port, headers={"X-Forwarded-For": "10.1.2.3", "X-Forwarded-Port": "80"})
        scope, _ = instance.get_received()
    assert scope["client"] == ["10.1.2.3", 80]


def test_instances_do_not_share_files() -> None:
    """Two instances at once keep separate results (Daphne's shared files made this flaky)."""
    with DaphneTestingInstance() as first, DaphneTestingInstance() as second:
        for instance in (first, second):
            instance.add_send_messages(
                [
                    {"type": "http.response.start", "status": 200},
                    {"type": "http.response.body", "body": b""},
                ]
            )
        get(first.port, "/first")
        get(second.port, "/second")
        assert first.get_received()[0]["path"] == "/first"
        assert second.get_received()[0]["path"] == "/second"


def test_class_level_storage_helpers() -> None:
    """TestApplication's classmethod-style helpers still work on the class, as Daphne's suite uses them."""
    TestApplication.save_setup(response_messages=[{"x": 1}])
    assert TestApplication.load_setup() == {"response_messages": [{"x": 1}]}
    TestApplication.delete_setup()
    TestApplication.delete_result()
    assert TestApplication.load_setup() == {"response_messages": []}


async def hello_app(scope, receive, send):
    """A module-level (picklable) app."""
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


def get_hello_app():
    return hello_app


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_daphne_process_start_methods(method: str) -> None:
    """DaphneProcess works under the fork and spawn start methods and publishes its port."""
    script = f"""
import http.client, multiprocessing
from daphne.testing import DaphneProcess
from apps.basic import get_scope_json
if __name__ == "__main__":
    multiprocessing.set_start_method({method!r})
    process = DaphneProcess("127.0.0.1", get_scope_json)
    process.start()
    try:
        assert process.ready.wait(30), "not ready"
        conn = http.client.HTTPConnection("127.0.0.1", process.port.value, timeout=5)
        conn.request("GET", "/started")
        assert b'"/started"' in conn.getresponse().read()
    finally:
        process.terminate()
        process.join(10)
    print("ok")
"""
    tests_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": tests_dir}
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tests_dir,
    )
    assert result.stdout.strip() == "ok", result.stderr[-2000:]


def test_daphne_process_with_given_port() -> None:
    """port= makes the server listen on that port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = DaphneProcess("127.0.0.1", get_hello_app, port=port)
    process.start()
    try:
        assert process.ready.wait(20)
        assert process.port.value == port
        assert get(port).body == b"hello"
    finally:
        process.terminate()
        process.join(10)


def test_startup_failure_is_reported() -> None:
    """A port already taken makes __enter__ raise with the child's error instead of hanging."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()

        class OnTakenPort(BaseDaphneTestingInstance):
            startup_timeout = 10

            def __enter__(self):
                self.process = DaphneProcess(
                    self.host, self.get_application, port=taken.getsockname()[1]
                )
                self.process.start()
                self.process.join(15)
                if not self.process.errors.empty():
                    raise RuntimeError(self.process.errors.get(False)[1])
                return self

        with (
            pytest.raises(RuntimeError, match="could not listen"),
            OnTakenPort(application=hello_app),
        ):
            pass
