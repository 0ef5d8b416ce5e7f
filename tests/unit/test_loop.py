"""The event loop choice: ``daphne._reactor.new_event_loop``/``loop_name`` and ``--loop``.

The real server on each loop is in ``tests/integration/test_loop_process.py``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

import pytest
from cli_fakes import FakeServer, RecordingCLI, keep_logging  # noqa: F401 - keep_logging is an autouse fixture

from daphne import _reactor
from daphne.cli import CommandLineInterface

try:
    import uvloop
except ImportError:  # pragma: no cover - depends on the environment
    uvloop = None

needs_uvloop = pytest.mark.skipif(uvloop is None, reason="uvloop is not installed")


@pytest.fixture
def no_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import uvloop`` fail, as when it is not installed."""
    monkeypatch.setitem(sys.modules, "uvloop", None)


def test_asyncio_choice_is_the_standard_loop() -> None:
    loop = _reactor.new_event_loop("asyncio")
    try:
        assert type(loop).__module__.startswith("asyncio")
        assert _reactor.loop_name(loop) == "asyncio"
    finally:
        loop.close()


@needs_uvloop
@pytest.mark.parametrize("choice", ["auto", "uvloop"])
def test_uvloop_when_installed(choice: str) -> None:
    loop = _reactor.new_event_loop(choice)
    try:
        assert isinstance(loop, uvloop.Loop)
        assert _reactor.loop_name(loop) == "uvloop"
    finally:
        loop.close()


@pytest.mark.usefixtures("no_uvloop")
def test_auto_without_uvloop_is_asyncio() -> None:
    loop = _reactor.new_event_loop("auto")
    try:
        assert _reactor.loop_name(loop) == "asyncio"
    finally:
        loop.close()


@pytest.mark.usefixtures("no_uvloop")
def test_uvloop_without_uvloop_is_an_error() -> None:
    with pytest.raises(_reactor.LoopUnavailable, match=r"^--loop uvloop: uvloop is not installed"):
        _reactor.new_event_loop("uvloop")


def test_unknown_choice_is_an_error() -> None:
    with pytest.raises(_reactor.LoopUnavailable, match="unknown event loop 'trio'"):
        _reactor.new_event_loop("trio")


def test_importing_the_cli_does_not_install_the_reactor() -> None:
    """``daphne.cli`` must not import the server: ``--loop`` is read before the reactor exists."""
    import subprocess

    code = (
        "import sys, daphne.cli\n"
        "assert 'twisted.internet.reactor' not in sys.modules\n"
        "assert 'daphne.server' not in sys.modules\n"
        "from daphne.cli import CommandLineInterface\n"
        "from daphne.server import Server\n"
        "assert CommandLineInterface.server_class is Server\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_server_class_is_the_server() -> None:
    from daphne.server import Server

    assert CommandLineInterface.server_class is Server
    assert CommandLineInterface().server_class is Server


def test_loop_option_default_and_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    chosen: list[tuple[str | None, bool]] = []
    monkeypatch.setattr(
        "daphne.cli.install_asyncio_reactor",
        lambda choice, tls=True: (
            chosen.append((choice, tls)) or asyncio.get_event_loop_policy().new_event_loop()
        ),
    )
    ssl = ["-e", "ssl:8443:privateKey=key.pem:certKey=cert.pem"]
    for args in ([], ["--loop", "asyncio"], ["--loop", "auto", *ssl], ["-u", "d.sock", *ssl]):
        RecordingCLI().run([*args, "apps.basic:scope_json"])
    # No --loop: None, which install_asyncio_reactor reads as DAPHNE_LOOP, else auto.
    # tls: whether a listener needs TLS (daphne._twisted_tls loads it late otherwise).
    assert chosen == [(None, False), ("asyncio", False), ("auto", True), (None, True)]


def test_daphne_loop_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """``DAPHNE_LOOP`` chooses when nothing else does; an impossible value is an error."""
    monkeypatch.setenv(_reactor.LOOP_ENV, "asyncio")
    created: list[str] = []
    monkeypatch.setattr(
        _reactor,
        "new_event_loop",
        lambda choice: created.append(choice) or asyncio.new_event_loop(),
    )
    monkeypatch.setattr("daphne._asyncio_reactor.install", lambda loop: loop.close())
    monkeypatch.delitem(sys.modules, "twisted.internet.reactor", raising=False)
    _reactor.install_asyncio_reactor()
    _reactor.install_asyncio_reactor("uvloop" if uvloop is not None else "auto")
    assert created == ["asyncio", "uvloop" if uvloop is not None else "auto"]
    monkeypatch.setenv(_reactor.LOOP_ENV, "trio")
    with pytest.raises(_reactor.LoopUnavailable, match="unknown event loop 'trio'"):
        _reactor.install_asyncio_reactor()


def test_loop_from_the_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    chosen: list[str] = []
    monkeypatch.setattr(
        "daphne.cli.install_asyncio_reactor",
        lambda choice, tls=True: (
            chosen.append(choice) or asyncio.get_event_loop_policy().new_event_loop()
        ),
    )
    config = tmp_path / "daphne.toml"
    config.write_text('loop = "asyncio"\n')
    RecordingCLI().run(["--config", str(config), "apps.basic:scope_json"])
    assert chosen == ["asyncio"]


@pytest.mark.usefixtures("no_uvloop")
def test_cli_uvloop_missing_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["daphne", "--loop", "uvloop", "apps.basic:scope_json"])
    monkeypatch.setattr(CommandLineInterface, "server_class", FakeServer)
    with pytest.raises(SystemExit) as info:
        CommandLineInterface.entrypoint()
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("daphne: error: --loop uvloop: uvloop is not installed")
    assert len(err.strip().splitlines()) == 1


def test_cli_unknown_loop_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["daphne", "--loop", "trio", "apps.basic:scope_json"])
    with pytest.raises(SystemExit) as info:
        CommandLineInterface.entrypoint()
    assert info.value.code == 2
    assert "argument --loop: invalid choice: 'trio'" in capsys.readouterr().err


def test_a_loop_that_cannot_be_honoured_is_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The reactor exists already (``daphne.server`` imported first): a warning says so."""
    loop = asyncio.new_event_loop()
    monkeypatch.setattr("daphne.cli.install_asyncio_reactor", lambda choice, tls=True: loop)
    try:
        with caplog.at_level(logging.WARNING, logger="daphne.cli"):
            RecordingCLI().run(["--loop", "uvloop", "apps.basic:scope_json"])
    finally:
        loop.close()
    assert "--loop uvloop ignored: the reactor was already installed on the asyncio loop" in (
        caplog.text
    )
