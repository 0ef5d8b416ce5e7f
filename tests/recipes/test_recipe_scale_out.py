"""Recipe: scale out with channels_redis behind nginx (README "Deployment", scale-out).

A real ``redis-server`` on a free loopback port, two daphne processes serving the Django +
Channels project with ``CHANNEL_LAYERS`` pointing at it, each on its own unix socket, and
nginx balancing between them.  WebSocket clients that landed on different processes (the
consumer greets with its pid) all receive a group message sent through either process.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from recipe_support import (
    Nginx,
    RedisServer,
    daphne_log,
    project_daphne,
    recv_json,
    require_program,
    running,
    ws_connect,
)

httpx = pytest.importorskip("httpx")
pytest.importorskip("channels")
pytest.importorskip("channels_redis")
# slow: redis and several daphne processes (`pytest -m "not slow"` leaves it out).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

ROOM = "scale"


def connect_one_per_process(nginx: Nginx, pids: set[int], stack: ExitStack) -> dict[int, Any]:
    """Open room connections through nginx until each pid in ``pids`` serves one
    (bounded); close the extra ones.  Returns ``{pid: connection}``, closed by ``stack``."""
    members: dict[int, Any] = {}
    for _attempt in range(12):
        connection = stack.enter_context(ws_connect(nginx.ws_url(f"/ws/room/{ROOM}/")))
        hello = recv_json(connection)
        assert hello["type"] == "hello" and hello["pid"] in pids, hello
        if hello["pid"] in members:
            connection.close()
        else:
            members[hello["pid"]] = connection
        if set(members) == pids:
            return members
    raise AssertionError(f"nginx sent 12 connections to {set(members)} only, not to all of {pids}")


def broadcasts(connection: Any, count: int) -> list[dict[str, Any]]:
    """The next ``count`` messages of a room connection (each wait bounded)."""
    return [recv_json(connection) for _ in range(count)]


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()


def test_group_messages_cross_processes(tmp_path: Path, redis: RedisServer) -> None:
    """A message sent by a client on process A, one sent by a client on process B and one
    posted over HTTP reach the room members on both processes."""
    require_program("nginx")
    env = {"DJPROJECT_REDIS_URL": redis.url}
    sockets = [str(tmp_path / "a.sock"), str(tmp_path / "b.sock")]
    first, second = (
        project_daphne(["-u", path, "--proxy-headers", "djproject.asgi:application"], env)
        for path in sockets
    )
    nginx = Nginx(tmp_path, upstreams=[f"unix:{path}" for path in sockets])
    with running(first), running(second):
        assert first.process is not None and second.process is not None
        pid_a, pid_b = first.process.pid, second.process.pid
        nginx.start()
        try:
            with ExitStack() as connections:
                members = connect_one_per_process(nginx, {pid_a, pid_b}, connections)
                on_a, on_b = members[pid_a], members[pid_b]
                on_a.send(json.dumps({"text": "from a client on A"}))
                on_b.send(json.dumps({"text": "from a client on B"}))
                with httpx.Client(timeout=10, trust_env=False) as client:
                    posted = client.post(nginx.url(f"/broadcast/{ROOM}"), content="over HTTP")
                assert posted.status_code == 200
                http_pid = posted.json()["pid"]
                got_a, got_b = broadcasts(on_a, 3), broadcasts(on_b, 3)
        finally:
            nginx.stop()

    for relayed_by, received in ((pid_a, got_a), (pid_b, got_b)):
        assert {message["pid"] for message in received} == {relayed_by}
        assert {(message["text"], message["from_pid"]) for message in received} == {
            ("from a client on A", pid_a),
            ("from a client on B", pid_b),
            ("over HTTP", http_pid),
        }
    for daphne in (first, second):
        assert "Traceback" not in daphne_log(daphne), daphne_log(daphne)
