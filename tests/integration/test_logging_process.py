"""The real ``daphne`` command with --access-log-format, --log-json, --log-config and --config."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from processes import DaphneCommand, run_daphne

# slow: a daphne process per test (`pytest -m "not slow"` leaves it out).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

APP = "apps.basic:scope_json"


def served_lines(daphne: DaphneCommand) -> list[str]:
    """Stop the server (which flushes stdout) and return everything it printed."""
    assert daphne.stop() == 0
    return daphne.output().splitlines()


def test_access_log_format_over_http1_and_http2() -> None:
    """Custom atoms, including a response header and the protocol, for both HTTP versions."""
    fmt = "ACCESS %(m)s %(U)s q=%(q)s %(H)s %(s)s %(B)s ct=%({content-type}o)s ua=%(a)s"
    with DaphneCommand(["-p", "0", "--access-log-format", fmt, APP]) as daphne:
        base = f"http://127.0.0.1:{daphne.port}"
        assert httpx.get(f"{base}/one?x=1", headers={"User-Agent": "t/1"}).status_code == 200
        with httpx.Client(http1=False, http2=True, timeout=5) as client:
            assert client.get(f"{base}/two", headers={"User-Agent": "t/2"}).http_version == "HTTP/2"
        lines = [line for line in served_lines(daphne) if line.startswith("ACCESS ")]
    assert [line.rsplit(" ", 4)[0] for line in lines] == [
        "ACCESS GET /one q=x=1 HTTP/1.1",
        "ACCESS GET /two q= HTTP/2",
    ]
    for line, agent in zip(lines, ("t/1", "t/2"), strict=True):
        _, status, size, content_type, ua = line.rsplit(" ", 4)
        assert (status, content_type, ua) == ("200", "ct=application/json", f"ua={agent}")
        assert int(size) > 100


def test_log_json_lines() -> None:
    """Every line printed is a JSON object: server records and access lines alike."""
    with DaphneCommand(["-p", "0", "--log-json", APP]) as daphne:
        httpx.get(f"http://127.0.0.1:{daphne.port}/j?k=v", timeout=5)
        entries = [json.loads(line) for line in served_lines(daphne) if line.strip()]
    server = [entry for entry in entries if "logger" in entry]
    access = [entry for entry in entries if "status" in entry]
    assert any(
        entry["level"] == "INFO" and entry["message"].startswith("Listening on") for entry in server
    )
    (line,) = access
    assert (line["method"], line["path"], line["query"], line["status"]) == (
        "GET",
        "/j",
        "k=v",
        200,
    )
    assert line["protocol"] == "HTTP/1.1" and line["duration_ms"] >= 0
    assert len(entries) == len(server) + len(access)


def test_log_config_file(tmp_path: Path) -> None:
    """A TOML dictConfig file decides the server log's format."""
    config = tmp_path / "logging.toml"
    config.write_text(
        "[formatters.plain]\nformat = 'CUSTOM %(levelname)s %(name)s %(message)s'\n"
        "[handlers.err]\nclass = 'logging.StreamHandler'\nformatter = 'plain'\n"
        "stream = 'ext://sys.stderr'\n"
        "[root]\nlevel = 'INFO'\nhandlers = ['err']\n"
    )
    with DaphneCommand(["-p", "0", "--log-config", str(config), APP]) as daphne:
        assert daphne.port
        lines = served_lines(daphne)
    assert any(line.startswith("CUSTOM INFO daphne.server Listening on") for line in lines)
    assert not any(" INFO     " in line for line in lines)  # not the default --log-fmt


def test_config_file_with_command_line_override(tmp_path: Path) -> None:
    """Options come from the TOML file; a command-line flag wins over the file."""
    config = tmp_path / "daphne.toml"
    config.write_text(
        f'application = "{APP}"\n'
        'bind = "203.0.113.7"\n'  # not a local address: would fail if it were used
        "port = 0\n"
        'access-log-format = "FROMFILE %(s)s %(U)s"\n'
        "no-server-name = true\n"
    )
    with DaphneCommand(["--config", str(config), "-b", "127.0.0.1"]) as daphne:
        assert daphne.host == "127.0.0.1"
        response = httpx.get(f"http://127.0.0.1:{daphne.port}/f", timeout=5)
        assert "server" not in response.headers
        lines = served_lines(daphne)
    assert "FROMFILE 200 /f" in lines


def test_config_file_errors(tmp_path: Path) -> None:
    """An unknown key or a wrongly typed value: exit 2 and one line naming the key."""
    config = tmp_path / "daphne.toml"
    config.write_text('application = "apps.basic:scope_json"\nprot = 8000\n')
    result = run_daphne(["--config", str(config)])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"daphne: error: config file {config}: unknown option 'prot'"
    ]
    config.write_text('port = "high"\n')
    result = run_daphne(["--config", str(config), APP])
    assert result.returncode == 2
    assert "option 'port': expected an integer, got 'high'" in result.stderr
    assert "Traceback" not in result.stderr


def test_access_lines_are_prompt_with_a_block_buffered_stdout() -> None:
    """Without PYTHONUNBUFFERED, stdout to a file is block-buffered: access lines still show at once."""
    daphne = DaphneCommand(["-p", "0", APP])
    daphne.env.pop("PYTHONUNBUFFERED", None)
    with daphne.start():
        assert httpx.get(f"http://127.0.0.1:{daphne.port}/prompt", timeout=5).status_code == 200
        deadline = time.monotonic() + 10
        while '"GET /prompt" 200' not in daphne.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert '"GET /prompt" 200' in daphne.output()
        assert daphne.process is not None and daphne.process.poll() is None  # still running


def test_verbosity_2_logs_each_request_and_websocket() -> None:
    """-v 2: a debug line when a request or WebSocket arrives and when it ends, on every
    protocol, with control characters escaped; -v 1 has none of them."""
    from websockets.sync.client import connect

    lines_by_level = {}
    for level in ("2", "1"):
        with DaphneCommand(["-p", "0", "-v", level, "apps.ws_apps:app"]) as daphne:
            base = f"http://127.0.0.1:{daphne.port}"
            assert httpx.get(f"{base}/one%0Aforged?x=1").status_code == 200
            with httpx.Client(http1=False, http2=True, timeout=5) as client:
                assert client.get(f"{base}/two").http_version == "HTTP/2"
            with connect(f"ws://127.0.0.1:{daphne.port}/chat") as websocket:
                websocket.send("close:1000")
            lines_by_level[level] = served_lines(daphne)
    debug = [line for line in lines_by_level["2"] if " DEBUG " in line]
    text = "\n".join(debug)
    for expected in (
        "HTTP request: GET /one\\x0aforged?x=1 from 127.0.0.1:",
        "HTTP response 200 complete: GET /one\\x0aforged?x=1 from 127.0.0.1:",
        "HTTP request: GET /two from 127.0.0.1:",
        "(HTTP/2)",
        "WebSocket connecting: GET /chat from 127.0.0.1:",
        "WebSocket connected: GET /chat",
        "WebSocket disconnected: GET /chat",
    ):
        assert expected in text, text
    assert not any("HTTP request:" in line for line in lines_by_level["1"])
