"""The command line without a server: a fake ``Server`` that records its keywords.

Shared by the unit tests of ``daphne.cli`` (options, config file, workers,
logging, event loop).  ``keep_logging`` is an autouse fixture for a module to
import: the CLI's ``logging.basicConfig`` must not reconfigure pytest's logging.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from daphne.cli import CommandLineInterface

#: An importable ASGI application for the CLI to load.
APP = "apps.basic:scope_json"


class FakeServer:
    """Records its keyword arguments instead of serving."""

    def __init__(self, **kwargs: Any) -> None:
        self.__dict__.update(kwargs)
        self.init_kwargs = kwargs
        self.abort_start = False

    def run(self) -> None:
        pass


class RecordingCLI(CommandLineInterface):
    server_class = FakeServer


def run_cli(*args: str) -> FakeServer:
    """Run the CLI on ``args`` and :data:`APP`; return the fake server it built."""
    cli = RecordingCLI()
    cli.run([*args, APP])
    return cli.server  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def keep_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logging, "basicConfig", lambda **kwargs: None)
