"""The CLI maps options onto Server keywords exactly as Daphne 4.2 does (no sockets)."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import sys
from typing import Any

import pytest
from cli_fakes import FakeServer, RecordingCLI, keep_logging, run_cli  # noqa: F401 - keep_logging is an autouse fixture

from daphne import __version__
from daphne._cli_options import OPTIONS
from daphne._config import ServerConfig, config_default
from daphne.cli import DEFAULT_HOST, DEFAULT_PORT, CommandLineInterface
from daphne.server import Server


async def asgi3_app(scope: Any, receive: Any, send: Any) -> None:
    """A module-level ASGI 3 app for the CLI to import."""


class Asgi2App:
    """An ASGI 2 double-callable app."""

    def __init__(self, scope: Any) -> None:
        self.scope = scope

    async def __call__(self, receive: Any, send: Any) -> None:
        pass


def test_defaults_listen_on_localhost_8000() -> None:
    """Nothing given: 127.0.0.1:8000 and Daphne's defaults for everything else."""
    server = run_cli()
    assert server.endpoints == [f"tcp:port={DEFAULT_PORT}:interface={DEFAULT_HOST}"]
    kwargs = server.init_kwargs
    assert kwargs["http_timeout"] is None
    assert kwargs["websocket_timeout"] == 86400
    assert kwargs["websocket_connect_timeout"] == 5
    assert kwargs["websocket_handshake_timeout"] == 5
    assert kwargs["ping_interval"] == 20
    assert kwargs["ping_timeout"] == 30
    assert kwargs["websocket_max_message_size"] == 1048576
    assert kwargs["websocket_max_frame_size"] == 1048576
    assert kwargs["application_close_timeout"] == 10
    assert kwargs["root_path"] == ""
    assert kwargs["verbosity"] == 1
    assert kwargs["server_name"] == "daphne"
    assert kwargs["proxy_forwarded_address_header"] is None
    assert kwargs["proxy_forwarded_port_header"] is None
    assert kwargs["proxy_forwarded_proto_header"] is None


@pytest.mark.parametrize(
    ("args", "endpoints"),
    [
        (["-b", "10.0.0.1"], ["tcp:port=8000:interface=10.0.0.1"]),
        (["-p", "8080"], ["tcp:port=8080:interface=127.0.0.1"]),
        (["-p", "0"], ["tcp:port=0:interface=127.0.0.1"]),
        (["-b", "", "-p", "9"], ["tcp:port=9:interface=127.0.0.1"]),
        (["-b", "::1", "-p", "9"], [r"tcp:port=9:interface=\:\:1"]),
        (["-b", "[::1]"], [r"tcp:port=8000:interface=\:\:1"]),
        (["-u", "/tmp/s.sock"], ["unix:/tmp/s.sock"]),
        (["--fd", "3"], ["fd:fileno=3"]),
        (["-e", "tcp:port=1"], ["tcp:port=1"]),
        (
            ["-e", "unix:/b", "-e", "tcp:port=2", "-u", "/a", "-p", "1"],
            ["tcp:port=1:interface=127.0.0.1", "tcp:port=2", "unix:/a", "unix:/b"],
        ),
    ],
)
def test_endpoints(args: list[str], endpoints: list[str]) -> None:
    """Address options become sorted endpoint strings; -u/--fd/-e alone add no TCP."""
    assert run_cli(*args).endpoints == endpoints


def test_option_mapping() -> None:
    """Each option reaches the Server keyword Daphne passes it as."""
    server = run_cli(
        "-t", "7", "--websocket_timeout", "11", "--websocket_connect_timeout", "12",
        "--ping-interval", "13", "--ping-timeout", "14", "--websocket-max-message-size", "15",
        "--websocket-max-frame-size", "16", "--application-close-timeout", "17",
        "--root-path", "/r%20x", "-s", "srv", "-v", "2",
    )  # fmt: skip
    kwargs = server.init_kwargs
    assert kwargs["http_timeout"] == 7
    assert kwargs["websocket_timeout"] == 11
    assert kwargs["websocket_connect_timeout"] == 12
    assert kwargs["websocket_handshake_timeout"] == 12
    assert kwargs["ping_interval"] == 13
    assert kwargs["ping_timeout"] == 14
    assert kwargs["websocket_max_message_size"] == 15
    assert kwargs["websocket_max_frame_size"] == 16
    assert kwargs["application_close_timeout"] == 17
    assert kwargs["root_path"] == "/r%20x"  # verbatim, as Daphne
    assert kwargs["server_name"] == "srv"
    assert kwargs["verbosity"] == 2


def test_dashed_spellings() -> None:
    """--websocket-timeout and --websocket-connect-timeout are accepted too."""
    kwargs = run_cli("--websocket-timeout", "3", "--websocket-connect-timeout", "4").init_kwargs
    assert kwargs["websocket_timeout"] == 3
    assert kwargs["websocket_connect_timeout"] == 4


def test_no_server_name() -> None:
    """--no-server-name sends an empty server name."""
    assert run_cli("--no-server-name").init_kwargs["server_name"] == ""


def test_proxy_headers() -> None:
    """--proxy-headers turns on the three X-Forwarded-* headers; host/port names override."""
    kwargs = run_cli("--proxy-headers").init_kwargs
    assert kwargs["proxy_forwarded_address_header"] == "X-Forwarded-For"
    assert kwargs["proxy_forwarded_port_header"] == "X-Forwarded-Port"
    assert kwargs["proxy_forwarded_proto_header"] == "X-Forwarded-Proto"
    kwargs = run_cli(
        "--proxy-headers",
        "--proxy-headers-host",
        "X-Real-IP",
        "--proxy-headers-port",
        "X-Real-Port",
    ).init_kwargs
    assert kwargs["proxy_forwarded_address_header"] == "X-Real-IP"
    assert kwargs["proxy_forwarded_port_header"] == "X-Real-Port"


@pytest.mark.parametrize("option", ["--proxy-headers-host", "--proxy-headers-port"])
def test_proxy_header_names_need_proxy_headers(option: str) -> None:
    """run() raises ArgumentError with Daphne's argument name and message."""
    with pytest.raises(argparse.ArgumentError) as info:
        run_cli(option, "X-Something")
    assert info.value.argument_name == option
    assert info.value.message == "--proxy-headers has to be passed for this parameter."


def test_asgi2_application_is_wrapped() -> None:
    """A double-callable application is converted to a single callable."""
    cli = RecordingCLI()
    cli.run([f"{__name__}:Asgi2App"])
    assert cli.server.application is not Asgi2App
    cli.run([f"{__name__}:asgi3_app"])
    assert cli.server.application is asgi3_app


def test_load_asgi_app_hook() -> None:
    """Subclasses can load the application their own way."""

    class HookCLI(RecordingCLI):
        def load_asgi_app(self, path: str) -> Any:
            assert path == "anything:goes"
            return asgi3_app

    cli = HookCLI()
    cli.run(["anything:goes"])
    assert cli.server.application is asgi3_app


def test_access_log_destinations(tmp_path: Any) -> None:
    """Access log: a file, '-' for stdout, stdout by default, none at verbosity 0."""
    path = tmp_path / "access.log"
    assert run_cli("--access-log", str(path)).init_kwargs["action_logger"] is not None
    assert path.exists()
    # Lines are batched per loop turn (daphne._process.log_stream) on their way to stdout.
    assert run_cli("--access-log", "-").init_kwargs["action_logger"].stream.target is sys.stdout
    assert run_cli().init_kwargs["action_logger"].stream.target is sys.stdout
    assert run_cli("-v", "0").init_kwargs["action_logger"] is None


def test_threads_sets_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """--threads N sizes the reactor loop's default executor."""
    calls = []
    monkeypatch.setattr("daphne._reactor.set_thread_pool_size", lambda loop, n: calls.append(n))
    run_cli("--threads", "4")
    # (Installing the reactor first applies ASGI_THREADS, unset here: None.)
    assert [n for n in calls if n is not None] == [4]


def entrypoint(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["daphne", *args])
    monkeypatch.setattr(CommandLineInterface, "server_class", FakeServer)
    with pytest.raises(SystemExit) as info:
        CommandLineInterface.entrypoint()
    return info.value.code


@pytest.mark.parametrize(
    ("args", "status", "text"),
    [
        (["nocolon"], 1, "must be given as 'module.path:attribute'"),
        (["no_such_module_xyz:app"], 1, "No module named 'no_such_module_xyz'"),
        (["daphne:no_such_attribute"], 1, "no attribute 'no_such_attribute'"),
        (["daphne:__version__"], 1, "application 'daphne:__version__' is 'str', not an ASGI"),
        (["-v", "9", "apps.basic:scope_json"], 2, "invalid choice"),
        (["-p", "x", "apps.basic:scope_json"], 2, "expected a whole number"),
        (["--threads", "0", "apps.basic:scope_json"], 2, "at least 1"),
        (
            ["--forwarded-allow-ips", "10.0.0.0/99", "apps.basic:scope_json"],
            2,
            "forwarded_allow_ips",
        ),
        (
            ["--proxy-headers-port", "X", "apps.basic:scope_json"],
            2,
            "--proxy-headers has to be passed",
        ),
        (
            ["--proxy-headers", "--proxy-headers-source", "rfc", "apps.basic:scope_json"],
            2,
            "argument --proxy-headers-source: invalid choice: 'rfc'",
        ),
        (
            ["--proxy-headers-source", "forwarded", "apps.basic:scope_json"],
            2,
            "argument --proxy-headers-source: --proxy-headers has to be passed",
        ),
        (
            [
                "--proxy-headers",
                "--proxy-headers-source",
                "forwarded",
                "--proxy-headers-host",
                "X-Real-IP",
                "apps.basic:scope_json",
            ],
            2,
            "argument --proxy-headers-host: only applies to --proxy-headers-source xff",
        ),
        (
            ["--access-log", "/nonexistent-dir/x.log", "apps.basic:scope_json"],
            1,
            "cannot open access log",
        ),
    ],
)
def test_user_mistakes_are_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    status: int,
    text: str,
) -> None:
    """Mistakes give one line on stderr naming the problem, and a non-zero exit."""
    assert entrypoint(monkeypatch, *args) == status
    err = capsys.readouterr().err
    assert text in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_version(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """--version prints the version and exits 0."""
    assert entrypoint(monkeypatch, "--version") == 0
    assert capsys.readouterr().out.strip() == f"daphne {__version__}"


def test_abort_start_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that could not start makes the CLI exit with status 1."""

    class FailingServer(FakeServer):
        def run(self) -> None:
            self.abort_start = True

    monkeypatch.setattr(RecordingCLI, "server_class", FailingServer)
    with pytest.raises(SystemExit) as info:
        RecordingCLI().run(["apps.basic:scope_json"])
    assert info.value.code == 1


def test_no_ws_per_message_deflate() -> None:
    """--no-ws-per-message-deflate turns compression off; by default nothing is passed."""
    assert "websocket_per_message_deflate" not in run_cli().init_kwargs
    assert (
        run_cli("--no-ws-per-message-deflate").init_kwargs["websocket_per_message_deflate"] is False
    )


def test_no_h2c() -> None:
    """--no-h2c turns cleartext HTTP/2 off; by default nothing is passed."""
    assert "h2c" not in run_cli().init_kwargs
    assert run_cli("--no-h2c").init_kwargs["h2c"] is False


def test_limit_options() -> None:
    """The limit and timeout options map onto Server keywords of the same name, only when
    they differ from ServerConfig's defaults."""
    kwargs = run_cli().init_kwargs
    assert not {"keep_alive_timeout", "limit_request_body", "graceful_timeout"} & set(kwargs)
    kwargs = run_cli(
        "--keep-alive-timeout", "7", "--header-read-timeout", "9", "--limit-request-body", "100",
        "--limit-request-line", "200", "--limit-request-fields", "20", "--limit-request-field-size", "300",
        "--graceful-timeout", "3", "--body-read-timeout", "11",
    ).init_kwargs  # fmt: skip
    assert kwargs["keep_alive_timeout"] == 7
    assert kwargs["header_read_timeout"] == 9
    assert kwargs["body_read_timeout"] == 11
    assert kwargs["limit_request_body"] == 100
    assert kwargs["limit_request_line"] == 200
    assert kwargs["limit_request_fields"] == 20
    assert kwargs["limit_request_field_size"] == 300
    assert kwargs["graceful_timeout"] == 3


def test_h2c_upgrade() -> None:
    """--h2c-upgrade opts in to Upgrade: h2c; by default nothing is passed (the Server says no)."""
    assert "h2c_upgrade" not in run_cli().init_kwargs
    assert run_cli("--h2c-upgrade").init_kwargs["h2c_upgrade"] is True
    assert ServerConfig().h2c_upgrade is False
    server = Server(asgi3_app, endpoints=["tcp:0"])
    assert server.h2c_upgrade is False
    assert Server(asgi3_app, endpoints=["tcp:0"], h2c_upgrade=True).config.h2c_upgrade is True


def test_proxy_headers_source() -> None:
    """--proxy-headers-source reaches the server only when given; Server takes the keyword."""
    assert "proxy_headers_source" not in run_cli("--proxy-headers").init_kwargs
    kwargs = run_cli("--proxy-headers", "--proxy-headers-source", "forwarded").init_kwargs
    assert kwargs["proxy_headers_source"] == "forwarded"
    assert kwargs["proxy_forwarded_address_header"] == "X-Forwarded-For"
    server = Server(
        asgi3_app,
        endpoints=["tcp:0"],
        proxy_forwarded_address_header="X-Forwarded-For",
        proxy_headers_source="forwarded",
    )
    assert server.proxy_headers_source == "forwarded"
    assert Server(asgi3_app, endpoints=["tcp:0"]).proxy_headers_source == "xff"


def test_new_trust_options_are_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    """The options of issue 11 show in daphne --help."""
    with pytest.raises(SystemExit):
        CommandLineInterface().parser.parse_args(["--help"])
    out = capsys.readouterr().out
    for option in (
        "--proxy-headers-source {xff,forwarded}",
        "--h2c-upgrade",
        "--forwarded-allow-ips",
    ):
        assert option in out


def test_forwarded_allow_ips() -> None:
    """--forwarded-allow-ips reaches the server."""
    assert (
        run_cli("--proxy-headers", "--forwarded-allow-ips", "10.0.0.0/8").init_kwargs[
            "forwarded_allow_ips"
        ]
        == "10.0.0.0/8"
    )


def test_backlog_and_limit_concurrency() -> None:
    """--backlog is added to the built tcp/unix endpoints; --limit-concurrency reaches the server."""
    server = run_cli("-p", "80", "-u", "/tmp/s", "--backlog", "1024", "--limit-concurrency", "50")
    assert server.endpoints == [
        "tcp:port=80:interface=127.0.0.1:backlog=1024",
        "unix:/tmp/s:backlog=1024",
    ]
    assert server.init_kwargs["limit_concurrency"] == 50


def test_an_error_importing_the_app_names_its_file_and_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    """An exception raised by the app's module while it is imported: one line with file:line."""
    (tmp_path / "broken_app_mod.py").write_text("x = 1\nraise RuntimeError('settings missing')\n")
    (tmp_path / "syntax_app_mod.py").write_text("def app(:\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert entrypoint(monkeypatch, "broken_app_mod:app") == 1
    err = capsys.readouterr().err
    assert "RuntimeError: settings missing" in err, err
    assert f"({tmp_path / 'broken_app_mod.py'}, line 2)" in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert entrypoint(monkeypatch, "syntax_app_mod:app") == 1
    err = capsys.readouterr().err
    assert "SyntaxError" in err and f"({tmp_path / 'syntax_app_mod.py'}, line 1)" in err, err


def test_http_timeout_zero_means_no_limit() -> None:
    """Daphne 4.2: -t 0 is "no timeout" (it was a 503 for every request)."""
    assert ServerConfig(http_timeout=0).http_timeout is None
    assert run_cli("-t", "0").init_kwargs["http_timeout"] == 0


def test_tls_file_problems_name_the_option_and_file(tmp_path: Any) -> None:
    """OpenSSL's "DECODER routines" becomes which file, for which option, and why."""
    from daphne._listen_errors import tls_files_problem as _tls_files_problem

    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key\n")
    missing = tmp_path / "missing.pem"
    assert _tls_files_problem(f"ssl:0:privateKey={missing}") == (
        f"privateKey={missing}: cannot read the file: No such file or directory"
    )
    assert _tls_files_problem(f"ssl:0:privateKey={garbage}:certKey={garbage}") == (
        f"privateKey={garbage}: not a PEM private key (or one OpenSSL cannot load)"
    )
    assert _tls_files_problem("tcp:8000") is None


# -- the option table: names and defaults line up with ServerConfig and Server -------------

#: Options the command line uses itself: they set no ServerConfig field or Server keyword.
CLI_ONLY = {
    # Where to listen: built into endpoint descriptions (Daphne's dests).
    "port", "host", "unix_socket", "file_descriptor", "socket_strings", "backlog",
    # Logging and the config file, set up before the server exists.
    "access_log", "access_log_format", "log_json", "log_config", "config", "log_fmt",
    # Daphne's proxy switches, turned into the proxy_forwarded_*_header keywords.
    "proxy_headers", "proxy_headers_host", "proxy_headers_port",
    # Process level: the thread pool, the event loop, workers and reload.
    "threads", "loop", "workers", "max_requests", "max_requests_jitter",
    "reload", "reload_dir", "reload_include", "reload_exclude",
    # argparse's own.
    "help", "version",
}  # fmt: skip

#: Options whose default is deliberately not ServerConfig's default for their dest.
OWN_DEFAULTS = {
    # Daphne's CLI: one option for the connect and the handshake timeout, defaulting to the
    # handshake timeout's (5), not Server's websocket_connect_timeout (20).
    "websocket_connect_timeout": config_default("websocket_handshake_timeout"),
    # None = not given, so that --proxy-headers-source without --proxy-headers is refused.
    "proxy_headers_source": None,
}

SERVER_KEYWORDS = set(inspect.signature(Server.__init__).parameters) - {"self", "options"}
CONFIG_FIELDS = {field.name for field in dataclasses.fields(ServerConfig)}


def test_every_dest_is_a_config_field_a_server_keyword_or_cli_only() -> None:
    """Each option's argparse dest is the name of what it sets (no --limit-request-line ->
    max_request_line drift)."""
    parser = CommandLineInterface().parser
    for option, action in parser.option_actions:
        dest = "version" if option.action == "version" else action.dest
        assert dest == option.dest or option.action == "version"
        if option.to_server == "no":
            assert dest in CLI_ONLY | SERVER_KEYWORDS, option.flags
        else:
            assert dest in CONFIG_FIELDS | SERVER_KEYWORDS, option.flags
        assert not (dest in CLI_ONLY and dest in CONFIG_FIELDS | SERVER_KEYWORDS), dest
    assert {option.dest for option in OPTIONS} >= CLI_ONLY - {"help"}


def test_limit_option_names_are_config_field_names() -> None:
    for flag, field in [
        ("--limit-request-line", "limit_request_line"),
        ("--limit-request-fields", "limit_request_fields"),
        ("--limit-request-field-size", "limit_request_field_size"),
        ("--limit-request-body", "limit_request_body"),
        ("--no-ws-per-message-deflate", "websocket_per_message_deflate"),
    ]:
        assert CommandLineInterface().parser.action_for(flag).dest == field
        assert field in CONFIG_FIELDS


@pytest.mark.parametrize(
    "option",
    [
        option
        for option in OPTIONS
        if option.dest in CONFIG_FIELDS and option.action != "store_const"
    ],
    ids=lambda option: option.flags[0],
)
def test_defaults_come_from_server_config(option: Any) -> None:
    """The command line's default for a config field is ServerConfig's (or a listed exception)."""
    expected = OWN_DEFAULTS.get(option.dest, config_default(option.dest))
    assert option.default == expected
    assert CommandLineInterface().parser.parse_args(["a:b"]).__dict__[option.dest] == expected


def test_help_shows_the_config_defaults() -> None:
    """A default in --help is ServerConfig's, shown without a needless .0."""
    parser = CommandLineInterface().parser
    line = parser.action_for("--limit-request-line").help or ""
    assert line.endswith(f"(default {ServerConfig().limit_request_line})")
    keep_alive = parser.action_for("--keep-alive-timeout").help or ""
    assert keep_alive.endswith(f"(default {int(ServerConfig().keep_alive_timeout)})")
    assert "(default: daphne)" in (parser.action_for("--server-name").help or "")


def test_only_changed_extras_reach_the_server() -> None:
    """Options beyond Daphne 4.2's are passed only when they differ from the default, so a
    server class written for Daphne 4.2 gets Daphne's keywords (plus lifespan) by default."""
    daphne_keywords = {
        "application", "endpoints", "http_timeout", "ping_interval", "ping_timeout",
        "websocket_timeout", "websocket_connect_timeout", "websocket_handshake_timeout",
        "websocket_max_message_size", "websocket_max_frame_size", "application_close_timeout",
        "action_logger", "ready_callable", "root_path", "verbosity",
        "proxy_forwarded_address_header", "proxy_forwarded_port_header",
        "proxy_forwarded_proto_header", "server_name",
    }  # fmt: skip
    assert set(run_cli().init_kwargs) == daphne_keywords | {"lifespan"}
    assert set(run_cli("--lifespan", "off").init_kwargs) == daphne_keywords
    kwargs = run_cli("--h2-max-frame-size", "16384", "--graceful-timeout", "2").init_kwargs
    assert "h2_max_frame_size" not in kwargs  # the default, given explicitly
    assert kwargs["graceful_timeout"] == 2


def test_proxy_headers_source_xff_still_needs_proxy_headers() -> None:
    with pytest.raises(argparse.ArgumentError, match="--proxy-headers has to be passed"):
        run_cli("--proxy-headers-source", "xff")
