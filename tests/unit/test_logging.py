"""Server log setup: Daphne's basicConfig, --log-json, --log-config; and the CLI wiring."""

from __future__ import annotations

import io
import json
import logging
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_fakes import RecordingCLI

from daphne._process.config_file import ConfigFileError
from daphne._process.log_setup import (
    JSONFormatter,
    configure_from_args,
    configure_logging,
    load_log_config,
)
from daphne.access import AccessLogGenerator
from daphne.cli import CLIError, CommandLineInterface


@pytest.fixture
def basic_config(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(logging, "basicConfig", lambda **kwargs: calls.append(kwargs))
    return calls


@pytest.fixture
def restore_logging() -> Any:
    """dictConfig changes global state: put the root and our test loggers back."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    yield
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]
    for name in ("logtest", "logtest.child"):
        logger = logging.getLogger(name)
        for handler in logger.handlers:
            handler.close()
        logger.handlers.clear()
        logger.setLevel(logging.NOTSET)
        logger.propagate = True


def record(message: str = "hello %s", args: tuple = ("world",), **kwargs: Any) -> logging.LogRecord:
    return logging.LogRecord(
        "daphne.server", logging.WARNING, __file__, 1, message, args, None, **kwargs
    )


# -- JSONFormatter ----------------------------------------------------------------------


def test_json_formatter_fields() -> None:
    entry = json.loads(JSONFormatter().format(record()))
    time = entry.pop("time")
    assert entry == {"level": "WARNING", "logger": "daphne.server", "message": "hello world"}
    assert time[:4].isdigit() and time[10] == "T" and ("+" in time[19:] or "-" in time[19:])


def test_json_formatter_exception_is_one_line() -> None:
    try:
        raise RuntimeError("bad\nthing")
    except RuntimeError:
        info = sys.exc_info()
    text = JSONFormatter().format(
        logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), info)
    )
    assert "\n" not in text
    entry = json.loads(text)
    assert entry["message"] == "failed"
    assert (
        entry["exc_info"].startswith("Traceback")
        and "RuntimeError: bad\nthing" in entry["exc_info"]
    )


def test_json_formatter_odd_arguments() -> None:
    """Non-string messages and arguments are rendered, never raised on."""
    entry = json.loads(JSONFormatter().format(record(message={"a": b"\xff"}, args=())))  # type: ignore[arg-type]
    assert entry["message"] == "{'a': b'\\xff'}"


# -- configure_logging ------------------------------------------------------------------


def test_default_setup_is_daphnes_basic_config(basic_config: list[dict[str, Any]]) -> None:
    configure_logging(logging.INFO, "%(message)s")
    assert basic_config == [{"level": logging.INFO, "format": "%(message)s"}]


def test_json_setup(basic_config: list[dict[str, Any]]) -> None:
    configure_logging(logging.DEBUG, "%(message)s", json_lines=True)
    ((call),) = basic_config
    assert call["level"] == logging.DEBUG
    (handler,) = call["handlers"]
    assert isinstance(handler.formatter, JSONFormatter)


@pytest.mark.parametrize("kind", ["json", "toml"])
def test_log_config_file(
    tmp_path: Path, kind: str, restore_logging: None, basic_config: list
) -> None:
    """A dictConfig file replaces basicConfig; version and disable_existing_loggers default sensibly."""
    out = tmp_path / "out.log"
    existing = logging.getLogger("logtest.child")
    config = {
        "formatters": {"j": {"()": "daphne.access.JSONFormatter"}},
        "handlers": {"f": {"class": "logging.FileHandler", "filename": str(out), "formatter": "j"}},
        "loggers": {"logtest": {"handlers": ["f"], "level": "INFO", "propagate": False}},
    }
    if kind == "json":
        path = tmp_path / "log.json"
        path.write_text(json.dumps(config))
    else:
        path = tmp_path / "log.toml"
        path.write_text(
            '[formatters.j]\n"()" = "daphne.access.JSONFormatter"\n'
            f'[handlers.f]\nclass = "logging.FileHandler"\nfilename = "{out}"\nformatter = "j"\n'
            '[loggers.logtest]\nhandlers = ["f"]\nlevel = "INFO"\npropagate = false\n'
        )
    assert load_log_config(str(path))["version"] == 1
    configure_logging(logging.WARNING, "%(message)s", json_lines=True, config_path=str(path))
    assert basic_config == []
    existing.info("kept")
    logging.getLogger("logtest").debug("dropped")
    for handler in logging.getLogger("logtest").handlers:
        handler.flush()
    (line,) = out.read_text().splitlines()
    assert json.loads(line)["message"] == "kept"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("log.json", "{", "invalid JSON"),
        ("log.toml", "x = ", "invalid TOML"),
        ("log.yaml", "version: 1", "must end in .toml or .json"),
        ("log.json", '{"version": 2}', "Unsupported version: 2"),
        (
            "log.json",
            '{"handlers": {"h": {"class": "no.such.Handler"}}}',
            "Unable to configure handler 'h'",
        ),
        ("log.json", '{"root": {"level": "LOUD"}}', "Unknown level: 'LOUD'"),
    ],
)
def test_bad_log_config(
    tmp_path: Path, name: str, text: str, message: str, restore_logging: None
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigFileError) as caught:
        configure_logging(logging.INFO, "%(message)s", config_path=str(path))
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"log config {path}: ")
    assert "\n" not in str(caught.value)
    assert caught.value.status == 1


# -- the CLI -----------------------------------------------------------------------------


def run_cli(*args: str) -> Any:
    cli = RecordingCLI()
    cli.run([*args, "apps.basic:scope_json"])
    return cli.server.init_kwargs["action_logger"]


def test_cli_access_logger_options(basic_config: list) -> None:
    plain = run_cli()
    assert isinstance(plain, AccessLogGenerator) and (plain.format, plain.json) == (None, False)
    formatted = run_cli("--access-log-format", "%(h)s %(D)s")
    assert formatted.format == "%(h)s %(D)s"
    as_json = run_cli("--log-json")
    assert as_json.json is True
    assert isinstance(basic_config[-1]["handlers"][0].formatter, JSONFormatter)


def test_cli_json_and_format_conflict(basic_config: list) -> None:
    with pytest.raises(CLIError, match="--access-log-format and --log-json"):
        run_cli("--log-json", "--access-log-format", "%(h)s")


def test_cli_bad_log_config(tmp_path: Path, basic_config: list) -> None:
    path = tmp_path / "log.json"
    path.write_text("[")
    with pytest.raises(CLIError, match=r"log\.json: invalid JSON") as caught:
        run_cli("--log-config", str(path))
    assert caught.value.status == 1


def test_cli_bad_access_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        run_cli("--access-log-format", "%(h)s %(nope)s")
    assert caught.value.code == 2
    assert "unknown atom %(nope)s" in capsys.readouterr().err


def test_access_log_writes_through(basic_config: list) -> None:
    """The logger the CLI builds writes formatted lines to its stream."""
    logger = run_cli("--access-log-format", "%(m)s %(U)s")
    logger.stream = io.StringIO()
    logger(
        "http",
        "complete",
        {"path": "/x?y", "method": "GET", "status": 200, "client": None, "size": 1},
    )
    assert logger.stream.getvalue() == "GET /x\n"


@pytest.mark.parametrize(
    ("options", "prefixed"),
    [
        ([], False),
        (["--workers", "1"], False),
        (["--workers", "2"], True),
        (["--max-requests", "100"], True),
        (["--reload"], True),
    ],
)
def test_process_id_in_lines_when_several_processes_log(
    basic_config: list, options: list[str], prefixed: bool
) -> None:
    """With workers (or a reloading supervisor) the default line names its process."""
    args = CommandLineInterface().parser.parse_args([*options, "app:app"])
    configure_from_args(args, logging.INFO)
    fmt = basic_config[-1]["format"]
    assert ("[%(process)d]" in fmt) is prefixed
    assert fmt.endswith("%(message)s")


def test_own_log_format_is_kept_with_workers(basic_config: list) -> None:
    args = CommandLineInterface().parser.parse_args(
        ["--workers", "2", "--log-fmt", "%(message)s", "app:app"]
    )
    configure_from_args(args, logging.INFO)
    assert basic_config[-1]["format"] == "%(message)s"
