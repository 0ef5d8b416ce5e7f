"""--config FILE: every CLI option from a TOML (or JSON) file; the command line wins."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
from cli_fakes import RecordingCLI, keep_logging  # noqa: F401 - keep_logging is an autouse fixture
from hypothesis import given
from hypothesis import strategies as st

from daphne._cli_options import OPTIONS
from daphne._cli_parser import Option
from daphne._process.config_file import (
    ConfigFileError,
    _option_table,
    config_values,
    parse_with_config_file,
    read_config_file,
)
from daphne.cli import CLIError, CommandLineInterface


def write(tmp_path: Path, text: str, name: str = "daphne.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def parse_with(cli: CommandLineInterface, *argv: str) -> argparse.Namespace:
    return parse_with_config_file(cli.parser, list(argv), cli.parser.option_actions)


def parse(*argv: str) -> argparse.Namespace:
    return parse_with(CommandLineInterface(), *argv)


def test_without_config_it_is_parse_args() -> None:
    cli = CommandLineInterface()
    argv = ["-p", "9000", "-e", "tcp:1", "--proxy-headers", "a:b"]
    assert parse_with(cli, *argv) == cli.parser.parse_args(argv)


def test_values_of_every_kind(tmp_path: Path) -> None:
    """Typed, boolean, repeatable, choice, store_false, store_const and positional keys."""
    path = write(
        tmp_path,
        """
application = "mod:app"
port = 8001
bind = "0.0.0.0"
proxy-headers = true
proxy_headers_host = "X-Real-IP"
endpoint = ["tcp:9001", "unix:/tmp/x.sock"]
lifespan = "off"
no-h2c = true
no-ws-per-message-deflate = false
no-server-name = true
graceful-timeout = 3
verbosity = 2
access-log-format = "%(h)s %(s)s"
log-json = false
""",
    )
    args = parse("--config", path)
    assert args.application == "mod:app"
    assert args.port == 8001
    assert args.host == "0.0.0.0"
    assert args.proxy_headers is True
    assert args.proxy_headers_host == "X-Real-IP"
    assert args.socket_strings == ["tcp:9001", "unix:/tmp/x.sock"]
    assert args.lifespan == "off"
    assert args.h2c is False
    assert args.websocket_per_message_deflate is True
    assert args.server_name == ""
    assert args.graceful_timeout == 3.0 and isinstance(args.graceful_timeout, float)
    assert args.verbosity == 2
    assert args.access_log_format == "%(h)s %(s)s"
    assert args.log_json is False
    assert args.config == path


def test_command_line_wins(tmp_path: Path) -> None:
    """Flags, the positional and repeatable options given on the command line override the file."""
    path = write(
        tmp_path,
        'application = "mod:app"\nport = 8001\nendpoint = ["tcp:1"]\nroot-path = "/x"\n',
    )
    args = parse("--config", path, "-p", "9000", "-e", "tcp:2", "-e", "tcp:3", "other:app")
    assert args.port == 9000
    assert args.application == "other:app"
    assert args.socket_strings == ["tcp:2", "tcp:3"]
    assert args.root_path == "/x"
    # --config=FILE and abbreviations are found too.
    assert parse(f"--config={path}").port == 8001
    assert parse("--conf", path).port == 8001


def test_parser_is_left_as_it_was(tmp_path: Path) -> None:
    """Loading a file does not make the positional optional or change defaults for later."""
    cli = CommandLineInterface()
    path = write(tmp_path, 'application = "mod:app"\nport = 8001\n')
    parse_with(cli, "--config", path)
    with pytest.raises(SystemExit):
        cli.parser.parse_args([])
    assert cli.parser.parse_args(["a:b"]).port is None


def test_json_config_file(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps({"port": 8002, "application": "m:a"}), "daphne.json")
    assert parse("--config", path).port == 8002


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("prot = 1", "unknown option 'prot'"),
        ("config = 'x.toml'", "unknown option 'config'"),
        ("help = true", "unknown option 'help'"),
        ("host = '1.2.3.4'", "unknown option 'host'"),  # dest, not an option name
        ("port = 'x'", "option 'port': expected an integer, got 'x'"),
        ("port = true", "option 'port': expected an integer, got a boolean"),
        ("port = 80.5", "option 'port': expected an integer"),
        ("port = [1]", "option 'port': expected one value, got a list"),
        ("bind = 127", "option 'bind': expected a string, got a number"),
        ("proxy-headers = 'yes'", "option 'proxy-headers': expected true or false"),
        ("no-h2c = 1", "option 'no-h2c': expected true or false"),
        ("endpoint = [1]", "option 'endpoint': expected a string"),
        (
            "endpoint = 'tcp:8000'",
            "option 'endpoint': expected a list (e.g. ['tcp:8000']), got a string",
        ),
        ("reload-dir = 'src'", "option 'reload-dir': expected a list"),
        ("lifespan = 'maybe'", "option 'lifespan': 'maybe' is not one of"),
        (
            "proxy-headers-source = 'rfc'",
            "option 'proxy-headers-source': 'rfc' is not one of 'xff', 'forwarded'",
        ),
        ("h2c-upgrade = 'yes'", "option 'h2c-upgrade': expected true or false"),
        ("verbosity = 7", "option 'verbosity': 7 is not one of"),
        ("threads = 0", "option 'threads': must be at least 1, got 0"),
        ("access-log-format = '%(nope)s'", "unknown atom %(nope)s"),
        ("port = 1979-05-27", "option 'port': expected an integer, got date"),
        ("[port]\nx = 1", "option 'port': expected an integer, got a table"),
    ],
)
def test_bad_keys_and_values_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, 'application = "a:b"\n' + text + "\n")
    with pytest.raises(ConfigFileError) as caught:
        parse("--config", path)
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"config file {path}: ")
    assert caught.value.status == 2


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.toml", "port = ", "invalid TOML"),
        ("bad.json", "{", "invalid JSON"),
        ("list.json", "[1]", "the top level must be a table"),
        ("daphne.ini", "port = 1", "must end in .toml or .json"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = write(tmp_path, text, name)
    with pytest.raises(ConfigFileError, match=message) as caught:
        read_config_file(path)
    assert "\n" not in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="cannot read: No such file"):
        parse("--config", str(tmp_path / "none.toml"), "a:b")


def test_every_option_can_be_set() -> None:
    """Keys come from the option table: all options but --version/--config."""
    table = _option_table(OPTIONS, "config")
    for option in OPTIONS:
        if option.dest in ("version", "config"):
            assert option not in table.values()
        else:
            assert option in table.values(), option.flags


def test_options_added_later_are_covered(tmp_path: Path) -> None:
    """An option added to the table (by a subclass) is settable with no extra code."""

    class MoreOptions(CommandLineInterface):
        options = (
            *OPTIONS,
            Option(("--brand-new",), "brand_new", "", int, 1),
            Option(("--new-flag",), "new_flag", "", default=False, action="store_true"),
            Option(("--new-list",), "new_list", "", default=(), action="append"),
        )

    path = write(
        tmp_path, 'brand-new = 4\nnew-flag = true\nnew-list = ["a", "b"]\napplication = "a:b"\n'
    )
    args = parse_with(MoreOptions(), "--config", path)
    assert (args.brand_new, args.new_flag, args.new_list) == (4, True, ["a", "b"])
    assert parse_with(MoreOptions(), "a:b").new_list == []


def test_worker_options_in_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'workers = 4\nmax-requests = 100\nreload-dir = ["a", "b"]\napplication = "a:b"\n',
    )
    args = parse("--config", path, "--workers", "2")
    assert (args.workers, args.max_requests, args.reload_dir) == (2, 100, ["a", "b"])


def test_cli_run_uses_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'application = "apps.basic:scope_json"\nport = 8123\nno-h2c = true\n')
    cli = RecordingCLI()
    cli.run(["--config", path])
    assert cli.server.init_kwargs["endpoints"] == ["tcp:port=8123:interface=127.0.0.1"]
    assert cli.server.init_kwargs["h2c"] is False


def test_trust_options_from_the_file(tmp_path: Path) -> None:
    """proxy-headers-source, h2c-upgrade and forwarded-allow-ips are config-file keys too."""
    path = write(
        tmp_path,
        'application = "apps.basic:scope_json"\nproxy-headers = true\n'
        'proxy-headers-source = "forwarded"\nh2c-upgrade = true\n'
        'forwarded-allow-ips = "10.0.0.0/8"\n',
    )
    cli = RecordingCLI()
    cli.run(["--config", path])
    kwargs = cli.server.init_kwargs
    assert kwargs["proxy_headers_source"] == "forwarded"
    assert kwargs["h2c_upgrade"] is True
    assert kwargs["forwarded_allow_ips"] == "10.0.0.0/8"


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "nope = 1\n")
    with pytest.raises(CLIError, match="nope") as caught:
        RecordingCLI().run(["--config", path, "apps.basic:scope_json"])
    assert caught.value.status == 2


@given(
    st.one_of(
        st.integers(),
        st.floats(allow_nan=True),
        st.text(max_size=10),
        st.booleans(),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    ),
    st.sampled_from(
        ["port", "bind", "proxy-headers", "endpoint", "lifespan", "threads", "verbosity"]
    ),
)
def test_values_are_accepted_or_rejected_cleanly(value: Any, key: str) -> None:
    """Any JSON-ish value either parses or gives a ConfigFileError, nothing else."""
    try:
        config_values(OPTIONS, {key: value}, "x.toml")
    except ConfigFileError as error:
        assert key in str(error)


def test_toml_on_python_310_without_tomli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Python 3.10 with no tomli installed: a clear error, and JSON still works."""
    import sys

    monkeypatch.setattr(sys, "version_info", (3, 10, 14, "final", 0))
    monkeypatch.setitem(sys.modules, "tomli", None)
    with pytest.raises(ConfigFileError, match=r"needs Python 3\.11\+ or the 'tomli' package"):
        read_config_file(write(tmp_path, "port = 1\n"))
    assert read_config_file(write(tmp_path, '{"port": 1}', "d.json")) == {"port": 1}


def test_no_argparse_privates() -> None:
    """The config file works from the option table and public argparse API only: a private
    name (``parser._actions``, ``argparse._StoreTrueAction``, ``_registry_get``) would break
    silently when argparse changes."""
    import inspect
    import re

    from daphne import _cli_parser
    from daphne._process import config_file

    for module in (config_file, _cli_parser):
        source = inspect.getsource(module)
        assert not re.search(r"argparse\._|\._actions\b|_registry_get", source), module
