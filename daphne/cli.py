"""The ``daphne`` command line: argparse declaration, option mapping, ``run()``.

Covered by ``tests/unit/test_cli.py`` and ``tests/integration/test_cli_process.py``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from typing import IO, Any

from asgiref.compatibility import guarantee_single_callable

from . import __version__
from ._asgi.proxy import SOURCES
from ._config import trusted_proxies_check
from ._process.config_file import ConfigFileError, parse_with_config_file
from ._process.log_setup import DEFAULT_LOG_FORMAT, access_format_type, configure_from_args
from ._process.log_stream import LoopBatchedStream
from ._process.supervisor import SupervisorError, supervise, supervisor_requested
from ._process.worker import WorkerSettings
from ._reactor import LOOP_CHOICES, LoopUnavailable, install_asyncio_reactor, loop_name
from .access import AccessLogGenerator
from .endpoints import build_endpoint_description_strings
from .utils import import_by_path

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "CommandLineInterface"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000

_LOG_LEVELS = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG, 3: logging.DEBUG}


class CLIError(Exception):
    """A user mistake: reported as one line, exit status ``status``."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def _number(text: str, kind: type) -> Any:
    try:
        return kind(text)
    except ValueError:
        expected = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None


def _positive_int(text: str) -> int:
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def _non_negative_float(text: str) -> float:
    value = _number(text, float)
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = _number(text, float)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def _port(text: str) -> int:
    value = _number(text, int)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number, 0-65535, got {value}")
    return value


def _any_int(text: str) -> int:
    value: int = _number(text, int)
    return value


def _frame_size(text: str) -> int:
    value = _positive_int(text)
    if not 2**14 <= value <= 2**24 - 1:
        raise argparse.ArgumentTypeError(f"must be between 16384 and 16777215, got {value}")
    return value


def _allow_ips(text: str) -> str:
    try:
        trusted_proxies_check(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _where(error: BaseException) -> str:
    """`` (file, line N)`` of the code that raised ``error`` while the app was imported.

    The import machinery's frames and this package's are left out: the place
    worth naming is in the user's code.  Empty when there is none (a module not found).
    """
    if isinstance(error, SyntaxError) and error.filename:
        return f" ({error.filename}, line {error.lineno})"
    skipped = (
        "<frozen",
        os.path.dirname(os.path.abspath(__file__)),
        os.path.dirname(importlib.__file__),
    )
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if not frame.filename.startswith(skipped)
    ]
    if not frames:
        return ""
    return f" ({frames[-1].filename}, line {frames[-1].lineno})"


class _DefaultServerClass:
    """The class attribute ``CommandLineInterface.server_class``: :class:`daphne.server.Server`.

    Importing :mod:`daphne.server` installs the reactor on its event loop, so this
    module does not import it at the top: the loop chosen with ``--loop`` must be
    known first.  Reading the attribute imports the server then; assigning it (a
    subclass, a test's ``monkeypatch``) replaces this descriptor as usual.
    """

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        from .server import Server

        return Server


class _ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line rather than the whole usage text."""

    def error(self, message: str) -> Any:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class CommandLineInterface:
    """Acts as the main CLI entry point for running the server.

    :ivar parser: the ``argparse.ArgumentParser``.
    :ivar server: the server built by the last :meth:`run`.
    """

    description = (
        "HTTP/1.1, HTTP/2 and WebSocket server for ASGI applications (Django, Channels...)"
    )

    #: The server class :meth:`run` instantiates (tests swap in a fake); by
    #: default :class:`daphne.server.Server`, imported when first read.
    server_class: Any = _DefaultServerClass()

    def __init__(self) -> None:
        self.parser = _ArgumentParser(prog="daphne", description=self.description)
        add = self.parser.add_argument
        add(
            "-p",
            "--port",
            type=_port,
            help="Port number to listen on (0: any free port)",
            default=None,
        )
        add(
            "-b",
            "--bind",
            dest="host",
            help="Address to listen on (default 127.0.0.1)",
            default=None,
        )
        add(
            "--websocket_timeout",
            "--websocket-timeout",
            type=_any_int,
            dest="websocket_timeout",
            help="Seconds a WebSocket may stay connected before the server closes it (-1: no limit)",
            default=86400,
        )
        add(
            "--websocket_connect_timeout",
            "--websocket-connect-timeout",
            type=_any_int,
            dest="websocket_connect_timeout",
            help="Seconds the app has to accept or reject a WebSocket handshake (0 or -1: no limit)",
            default=5,
        )
        add(
            "-u",
            "--unix-socket",
            dest="unix_socket",
            help="Listen on this UNIX socket path instead of a TCP host/port",
            default=None,
        )
        add(
            "--fd",
            type=int,
            dest="file_descriptor",
            help="Serve an already-listening socket inherited as this file descriptor (systemd, supervisord, Circus)",
            default=None,
        )
        add(
            "-e",
            "--endpoint",
            dest="socket_strings",
            action="append",
            help="Listen on a Twisted endpoint description, e.g. ssl:443:privateKey=key.pem:certKey=cert.pem (repeatable)",
            default=[],
        )
        add(
            "-v",
            "--verbosity",
            type=int,
            choices=(0, 1, 2, 3),
            help="0: warnings only; 1: info and the access log (default); 2: debug; 3: debug and asyncio debug mode",
            default=1,
        )
        add(
            "-t",
            "--http-timeout",
            type=_non_negative_int,
            help="Seconds the app has to start a response before the client gets 503 (0: no limit, the default)",
            default=None,
        )
        add(
            "--access-log",
            help="Where to write the access log (- for stdout, the default for verbosity=1)",
            default=None,
        )
        # -- log formats and config file (issue #6)
        add(
            "--access-log-format",
            metavar="FORMAT",
            type=access_format_type,
            default=None,
            help="Access log line made of %%(atom)s placeholders, e.g. '%%(h)s \"%%(r)s\" %%(s)s %%(D)s' (see README; default: Daphne's line)",
        )
        add(
            "--log-json",
            action="store_true",
            default=False,
            help="Write access and server log lines as JSON objects, one per line",
        )
        add(
            "--log-config",
            metavar="FILE",
            default=None,
            help="A logging.config.dictConfig dictionary (.json or .toml) that replaces the default server log setup",
        )
        add(
            "--config",
            metavar="FILE",
            default=None,
            help="TOML file setting any of these options (keys: long option names); the command line wins",
        )
        add(
            "--log-fmt",
            help="logging format string of the server log lines",
            default=DEFAULT_LOG_FORMAT,
        )
        add(
            "--ping-interval",
            type=_non_negative_float,
            help="Seconds a WebSocket may be idle before the server pings it (0: no pings)",
            default=20,
        )
        add(
            "--ping-timeout",
            type=_positive_float,
            help="Seconds to wait for the pong before the WebSocket is dropped",
            default=30,
        )
        add(
            "--websocket-max-message-size",
            type=_non_negative_int,
            help="Maximum size of an inbound WebSocket message in bytes (0 for no limit)",
            default=1048576,
        )
        add(
            "--websocket-max-frame-size",
            type=_non_negative_int,
            help="Maximum size of an inbound WebSocket frame in bytes (0 for no limit)",
            default=1048576,
        )
        add(
            "--application-close-timeout",
            type=_non_negative_float,
            help="Seconds an app may run on after its client left before it is cancelled",
            default=10,
        )
        add(
            "--root-path",
            dest="root_path",
            help="root_path of every scope (the prefix the app is mounted under, e.g. /forum)",
            default="",
        )
        add(
            "--proxy-headers",
            dest="proxy_headers",
            help="Enable parsing and using of X-Forwarded-For and X-Forwarded-Port headers and using that as the client address",
            default=False,
            action="store_true",
        )
        self.arg_proxy_host = add(
            "--proxy-headers-host",
            dest="proxy_headers_host",
            help="Specify which header will be used for getting the host part. Can be omitted, requires --proxy-headers to be specified. Default: X-Forwarded-For",
            default=False,
        )
        self.arg_proxy_port = add(
            "--proxy-headers-port",
            dest="proxy_headers_port",
            help="Specify which header will be used for getting the port part. Can be omitted, requires --proxy-headers to be specified. Default: X-Forwarded-Port",
            default=False,
        )
        self.arg_proxy_source = add(
            "--proxy-headers-source",
            dest="proxy_headers_source",
            choices=SOURCES,
            default=None,
            help="Which headers --proxy-headers reads: 'xff' (X-Forwarded-For/-Port/-Proto, the default) "
            "or 'forwarded' (RFC 7239 Forwarded). Only this source is read; the other is ignored",
        )
        add(
            "application",
            help="The ASGI application, as module.path:attribute (e.g. myproject.asgi:application)",
        )
        add(
            "-s",
            "--server-name",
            dest="server_name",
            help="Value of the Server response header (default: daphne)",
            default="daphne",
        )
        add(
            "--no-server-name",
            dest="server_name",
            action="store_const",
            const="",
            help="Send no Server response header",
        )
        add(
            "--threads",
            type=_positive_int,
            default=None,
            help="Threads in the pool that sync_to_async work runs on (default: Python's, or ASGI_THREADS)",
        )
        add(
            "--no-ws-per-message-deflate",
            dest="ws_per_message_deflate",
            action="store_false",
            default=True,
            help="Do not negotiate WebSocket permessage-deflate compression",
        )
        add(
            "--no-h2c",
            dest="h2c",
            action="store_false",
            default=True,
            help="Do not serve HTTP/2 over cleartext (prior knowledge or Upgrade: h2c); TLS ALPN is unaffected",
        )
        add(
            "--h2c-upgrade",
            action="store_true",
            default=False,
            help="Also switch HTTP/1.1 requests with 'Upgrade: h2c' to HTTP/2 (off by default: "
            "a request-smuggling risk behind proxies); needs cleartext HTTP/2 (see --no-h2c)",
        )
        add(
            "--h2-max-concurrent-streams",
            type=_positive_int,
            default=None,
            help="HTTP/2: most streams a client may have open at once (default 100)",
        )
        add(
            "--h2-max-header-list-size",
            type=_positive_int,
            default=None,
            help="HTTP/2: largest decoded request header list in bytes (default 65536)",
        )
        add(
            "--h2-max-frame-size",
            type=_frame_size,
            default=None,
            help="HTTP/2: largest frame payload a client may send, 16384-16777215 (default 16384)",
        )
        add(
            "--lifespan",
            choices=("auto", "on", "off"),
            default="auto",
            help="ASGI lifespan events: auto (run them if the app supports them), on (required), off",
        )
        add(
            "--graceful-timeout",
            type=_non_negative_float,
            default=None,
            help="Seconds in-flight requests and WebSockets get to finish on SIGTERM/SIGINT (default 10)",
        )
        add(
            "--forwarded-allow-ips",
            type=_allow_ips,
            default=None,
            help="Comma-separated IPs/CIDRs of proxies whose --proxy-headers are believed; '*' = any "
            "(the default). When given, only these peers may also set Daphne-Root-Path",
        )
        add(
            "--limit-concurrency",
            type=_positive_int,
            default=None,
            help="Most open connections or running app instances before new requests get 503",
        )
        add(
            "--backlog",
            type=_positive_int,
            default=None,
            help="Listen backlog of the -b/-p and -u listeners (default: Twisted's, 50)",
        )
        add(
            "--keep-alive-timeout",
            type=_non_negative_float,
            default=None,
            help="Seconds an idle keep-alive connection is kept open (default 5)",
        )
        add(
            "--header-read-timeout",
            type=_positive_float,
            default=None,
            help="Seconds a client has to send a whole request head (default 30)",
        )
        add(
            "--body-read-timeout",
            type=_positive_float,
            default=None,
            help="Longest wait in seconds for the next piece of a request body; a stalled "
            "body gets 408 (default 30)",
        )
        add(
            "--limit-request-body",
            type=_non_negative_int,
            default=None,
            help="Largest request body in bytes; larger gets 413 (default: no limit)",
        )
        add(
            "--limit-request-line",
            type=_positive_int,
            default=None,
            help="Longest request line in bytes; longer gets 414 (default 16384)",
        )
        add(
            "--limit-request-fields",
            type=_positive_int,
            default=None,
            help="Most header fields in a request; more gets 431 (default 500)",
        )
        add(
            "--limit-request-field-size",
            type=_positive_int,
            default=None,
            help="Largest header field line in bytes; larger gets 431 (default 16384)",
        )
        # -- worker processes and reload (issue #6)
        add(
            "--workers",
            type=_positive_int,
            default=1,
            help="Worker processes serving the same sockets, under a supervisor (default 1: no supervisor)",
        )
        add(
            "--max-requests",
            type=_positive_int,
            default=None,
            help="Recycle a worker after it served this many requests (plus a random jitter)",
        )
        add(
            "--max-requests-jitter",
            type=_non_negative_int,
            default=0,
            help="Up to this many more requests before a worker is recycled (spreads restarts)",
        )
        add(
            "--reload",
            action="store_true",
            default=False,
            help="Development: restart the server when a watched file changes",
        )
        add(
            "--reload-dir",
            action="append",
            default=[],
            metavar="DIR",
            help="Directory to watch with --reload (repeatable; default: the current directory)",
        )
        add(
            "--reload-include",
            action="append",
            default=[],
            metavar="GLOB",
            help="File names to watch with --reload (repeatable; default: *.py)",
        )
        add(
            "--reload-exclude",
            action="append",
            default=[],
            metavar="GLOB",
            help="File names or directories to ignore with --reload (repeatable)",
        )
        add(
            "--loop",
            choices=LOOP_CHOICES,
            default=None,
            help="Event loop the server runs on: auto (uvloop when installed; the default, "
            "unless the DAPHNE_LOOP environment variable names another), asyncio (the "
            "standard library's) or uvloop",
        )
        add("--version", action="version", version=f"daphne {__version__}")
        self.server: Any = None
        self._argv: list[str] = []

    @classmethod
    def entrypoint(cls) -> None:
        """Main entrypoint for external starts: ``daphne ...`` and ``python -m daphne``."""
        interface = cls()
        try:
            interface.run(sys.argv[1:])
        except argparse.ArgumentError as error:
            interface.parser.error(str(error))
        except CLIError as error:
            print(f"daphne: error: {error}", file=sys.stderr)
            sys.exit(error.status)

    def run(self, args: Sequence[str]) -> None:
        """Parse ``args``, configure logging, build the server and run it."""
        self._argv = list(args)
        try:
            args = parse_with_config_file(self.parser, args)
        except ConfigFileError as error:
            raise CLIError(str(error), error.status) from None
        self._check_proxy_options(args)
        try:
            access_log_options = configure_from_args(args, _LOG_LEVELS[args.verbosity])
        except ConfigFileError as error:
            raise CLIError(str(error), error.status) from None
        access_log_stream = self._access_log_stream(args)
        self._install_reactor(args.loop)
        if args.threads is not None:
            from ._reactor import reactor_loop, set_thread_pool_size

            set_thread_pool_size(reactor_loop(), args.threads)
        # Defaults: nothing at all → 127.0.0.1:8000; a lone host or port gets the other default.
        if not any(
            [
                args.host,
                args.port is not None,
                args.unix_socket,
                args.file_descriptor is not None,
                args.socket_strings,
            ]
        ):
            args.host, args.port = DEFAULT_HOST, DEFAULT_PORT
        elif args.host and args.port is None:
            args.port = DEFAULT_PORT
        elif args.port is not None and not args.host:
            args.host = DEFAULT_HOST
        built = build_endpoint_description_strings(
            host=args.host,
            port=args.port,
            unix_socket=args.unix_socket,
            file_descriptor=args.file_descriptor,
        )
        if args.backlog is not None:
            built = [
                f"{text}:backlog={args.backlog}" if text.startswith(("tcp:", "unix:")) else text
                for text in built
            ]
        endpoints = sorted(args.socket_strings + built)
        action_logger = (
            AccessLogGenerator(access_log_stream, **access_log_options)
            if access_log_stream
            else None
        )
        # -- worker processes and reload (issue #6): supervise workers, or be one
        worker = WorkerSettings.from_environment()
        if worker is None:
            try:
                if supervisor_requested(args):
                    sys.exit(supervise(args, self._argv, endpoints))
            except SupervisorError as error:
                raise CLIError(str(error)) from None
        else:
            endpoints = worker.endpoints
            action_logger = worker.count_requests(action_logger)
        ready_callable = worker.report_ready if worker is not None else None
        sys.path.insert(0, ".")
        application = guarantee_single_callable(self._load_application(args.application))
        logger.info("Starting server at %s", ", ".join(endpoints))
        self.server = self.server_class(
            application=application,
            endpoints=endpoints,
            http_timeout=args.http_timeout,
            ping_interval=args.ping_interval,
            ping_timeout=args.ping_timeout,
            websocket_timeout=args.websocket_timeout,
            websocket_connect_timeout=args.websocket_connect_timeout,
            websocket_handshake_timeout=args.websocket_connect_timeout,
            websocket_max_message_size=args.websocket_max_message_size,
            websocket_max_frame_size=args.websocket_max_frame_size,
            application_close_timeout=args.application_close_timeout,
            action_logger=action_logger,
            ready_callable=ready_callable,
            root_path=args.root_path,
            verbosity=args.verbosity,
            proxy_forwarded_address_header=self._proxy_header(args, "host", "X-Forwarded-For"),
            proxy_forwarded_port_header=self._proxy_header(args, "port", "X-Forwarded-Port"),
            proxy_forwarded_proto_header="X-Forwarded-Proto" if args.proxy_headers else None,
            server_name=args.server_name,
            **({} if args.ws_per_message_deflate else {"websocket_per_message_deflate": False}),
            **({} if args.h2c else {"h2c": False}),
            **({"h2c_upgrade": True} if args.h2c_upgrade else {}),
            **({} if args.lifespan == "off" else {"lifespan": args.lifespan}),
            **self._limit_options(args),
        )
        self.server.run()
        if getattr(self.server, "abort_start", False):
            sys.exit(1)

    # -- helpers -------------------------------------------------------------

    @staticmethod
    def _install_reactor(choice: str | None) -> None:
        """Install the reactor on the ``--loop`` event loop, unless one is installed.

        ``None`` (no ``--loop``): ``DAPHNE_LOOP``, else ``auto``.  Worker
        processes are started with the same arguments and environment, so they
        choose the same way.
        """
        try:
            loop = install_asyncio_reactor(choice)
        except LoopUnavailable as error:
            raise CLIError(str(error)) from None
        if choice in ("asyncio", "uvloop") and loop_name(loop) != choice:
            logger.warning(
                "--loop %s ignored: the reactor was already installed on the %s loop "
                "(daphne.server was imported before the command line was read)",
                choice,
                loop_name(loop),
            )

    def load_asgi_app(self, asgi_app_path: str) -> Any:
        """Import the application object named by ``asgi_app_path`` (``module:attr``).

        A hook: subclasses override it to load applications another way.
        """
        return import_by_path(asgi_app_path)

    def _load_application(self, path: str) -> Any:
        if ":" not in path:
            raise CLIError(
                f"application {path!r} must be given as 'module.path:attribute', e.g. myproject.asgi:application"
            )
        try:
            application = self.load_asgi_app(path)
        except Exception as error:
            raise CLIError(
                f"cannot load application {path!r}: {type(error).__name__}: {error}" + _where(error)
            ) from None
        if not callable(application):
            raise CLIError(
                f"application {path!r} is {type(application).__name__!r}, not an ASGI "
                "application (a callable)"
            )
        return application

    def _check_proxy_options(self, args: argparse.Namespace) -> None:
        for value, action in (
            (args.proxy_headers_host, self.arg_proxy_host),
            (args.proxy_headers_port, self.arg_proxy_port),
        ):
            if value and not args.proxy_headers:
                raise argparse.ArgumentError(
                    action, "--proxy-headers has to be passed for this parameter."
                )
        if args.proxy_headers_source is not None and not args.proxy_headers:
            raise argparse.ArgumentError(
                self.arg_proxy_source, "--proxy-headers has to be passed for this parameter."
            )
        if args.proxy_headers_source == "forwarded":
            for value, action in (
                (args.proxy_headers_host, self.arg_proxy_host),
                (args.proxy_headers_port, self.arg_proxy_port),
            ):
                if value:
                    raise argparse.ArgumentError(
                        action, "only applies to --proxy-headers-source xff (X-Forwarded-*)."
                    )

    @staticmethod
    def _limit_options(args: argparse.Namespace) -> dict[str, Any]:
        """Server keywords for the options beyond Daphne 4.2's, when given."""
        names = {
            "graceful_timeout": args.graceful_timeout,
            "limit_concurrency": args.limit_concurrency,
            "forwarded_allow_ips": args.forwarded_allow_ips,
            "proxy_headers_source": args.proxy_headers_source,
            "keep_alive_timeout": args.keep_alive_timeout,
            "header_read_timeout": args.header_read_timeout,
            "body_read_timeout": args.body_read_timeout,
            "limit_request_body": args.limit_request_body,
            "limit_request_line": args.limit_request_line,
            "limit_request_fields": args.limit_request_fields,
            "limit_request_field_size": args.limit_request_field_size,
            "h2_max_concurrent_streams": args.h2_max_concurrent_streams,
            "h2_max_header_list_size": args.h2_max_header_list_size,
            "h2_max_frame_size": args.h2_max_frame_size,
        }
        return {name: value for name, value in names.items() if value is not None}

    @staticmethod
    def _proxy_header(args: argparse.Namespace, part: str, default: str) -> str | None:
        if not args.proxy_headers:
            return None
        return getattr(args, f"proxy_headers_{part}") or default

    @staticmethod
    def _access_log_stream(args: argparse.Namespace) -> IO[str] | None:
        """Where access lines go, batched per loop iteration (``daphne._process.log_stream``)."""
        stream: IO[str]
        if args.access_log and args.access_log != "-":
            try:
                stream = open(args.access_log, "a")  # noqa: SIM115 - lives as long as the process
            except OSError as error:
                raise CLIError(
                    f"cannot open access log {args.access_log!r}: {error.strerror}"
                ) from None
        elif args.access_log or args.verbosity >= 1:
            stream = sys.stdout
        else:
            return None
        return LoopBatchedStream(stream)  # type: ignore[return-value]
