"""The ``daphne`` command line: ``run()`` and its steps.

The options are declared as a table in :mod:`daphne._cli_options`, which also
builds the parser.  Covered by ``tests/unit/test_cli.py`` and
``tests/integration/test_cli_process.py``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING, Any

from ._cli_options import DEFAULT_HOST, DEFAULT_PORT, OPTIONS
from ._cli_parser import Option, OptionParser
from ._compat import single_callable
from ._process.config_file import ConfigFileError, parse_with_config_file
from ._process.log_setup import configure_from_args
from ._process.log_stream import LoopBatchedStream
from ._process.malloc import tune_malloc
from ._process.supervisor import SupervisorError, supervise, supervisor_requested
from ._process.worker import WorkerSettings
from ._reactor import LoopUnavailable, install_asyncio_reactor, loop_name
from ._twisted_tls import needs_tls
from ._types import ActionLogger, KeywordASGIApp
from .access import AccessLogGenerator
from .endpoints import build_endpoint_description_strings
from .utils import import_by_path

if TYPE_CHECKING:
    from .server import Server

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "CommandLineInterface"]

_LOG_LEVELS = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG, 3: logging.DEBUG}


class CLIError(Exception):
    """A user mistake: reported as one line, exit status ``status``."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


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

    def __get__(self, instance: object, owner: type | None = None) -> type[Server]:
        from .server import Server

        return Server


class CommandLineInterface:
    """Acts as the main CLI entry point for running the server.

    :ivar parser: the ``argparse.ArgumentParser``, built from :attr:`options`.
    :ivar server: the server built by the last :meth:`run`.
    """

    description = (
        "HTTP/1.1, HTTP/2 and WebSocket server for ASGI applications (Django, Channels...)"
    )

    #: The server class :meth:`run` instantiates (tests swap in a fake); by
    #: default :class:`daphne.server.Server`, imported when first read.
    server_class = _DefaultServerClass()

    #: The options, in ``--help`` order (``--config`` files accept the same).
    options: tuple[Option, ...] = OPTIONS

    def __init__(self) -> None:
        self.parser = OptionParser(self.options, prog="daphne", description=self.description)
        # Daphne 4.2's names for these options' argparse actions.
        self.arg_proxy_host = self.parser.action_for("--proxy-headers-host")
        self.arg_proxy_port = self.parser.action_for("--proxy-headers-port")
        self.arg_proxy_source = self.parser.action_for("--proxy-headers-source")
        self.server: Server | None = None
        self._argv: list[str] = []

    @classmethod
    def entrypoint(cls) -> None:
        """Main entrypoint for external starts: ``daphne ...`` and ``python -m daphne``."""
        tune_malloc()  # the process is the server's (daphne._process.malloc)
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
        options = self._parse(self._argv)
        action_logger = self._access_logger(options)
        endpoints = self._endpoints(options)
        worker = WorkerSettings.from_environment()
        # Twisted without pyOpenSSL (loaded on first use) unless a listener needs TLS.
        self._prepare_loop(options, tls=needs_tls(worker.endpoints if worker else endpoints))
        endpoints, action_logger, ready_callable = self._process_role(
            options, endpoints, action_logger, worker
        )
        sys.path.insert(0, ".")
        application = self._load_application(options.application)
        logger.info("Starting server at %s", ", ".join(endpoints))
        self.server = self.server_class(
            application=application,
            endpoints=endpoints,
            action_logger=action_logger,
            ready_callable=ready_callable,
            **self._server_keywords(options),
        )
        self.server.run()
        if getattr(self.server, "abort_start", False):
            sys.exit(1)

    # -- the steps of run() ----------------------------------------------------

    def _parse(self, argv: list[str]) -> argparse.Namespace:
        """The options of ``argv`` (and of its ``--config`` file), checked."""
        try:
            options = parse_with_config_file(self.parser, argv, self.parser.option_actions)
        except ConfigFileError as error:
            raise CLIError(str(error), error.status) from None
        self._check_proxy_options(options)
        return options

    def _access_logger(self, options: argparse.Namespace) -> ActionLogger | None:
        """Configure the server log; the access logger (None: no access log)."""
        try:
            access_log_options = configure_from_args(options, _LOG_LEVELS[options.verbosity])
        except ConfigFileError as error:
            raise CLIError(str(error), error.status) from None
        stream = self._access_log_stream(options)
        return AccessLogGenerator(stream, **access_log_options) if stream else None

    def _prepare_loop(self, options: argparse.Namespace, *, tls: bool = True) -> None:
        """Install the reactor on the chosen event loop and size its thread pool.

        ``tls=False``: no listener needs TLS (see :mod:`daphne._twisted_tls`).
        """
        self._install_reactor(options.loop, tls=tls)
        if options.threads is not None:
            from ._reactor import reactor_loop, set_thread_pool_size

            set_thread_pool_size(reactor_loop(), options.threads)

    @staticmethod
    def _endpoints(options: argparse.Namespace) -> list[str]:
        """The sorted endpoint descriptions the options name."""
        host, port = options.host, options.port
        # Nothing at all: 127.0.0.1:8000; a lone host or port gets the other default.
        if not any(
            [
                host,
                port is not None,
                options.unix_socket,
                options.file_descriptor is not None,
                options.socket_strings,
            ]
        ):
            host, port = DEFAULT_HOST, DEFAULT_PORT
        elif host and port is None:
            port = DEFAULT_PORT
        elif port is not None and not host:
            host = DEFAULT_HOST
        built = build_endpoint_description_strings(
            host=host,
            port=port,
            unix_socket=options.unix_socket,
            file_descriptor=options.file_descriptor,
        )
        if options.backlog is not None:
            built = [
                f"{text}:backlog={options.backlog}" if text.startswith(("tcp:", "unix:")) else text
                for text in built
            ]
        return sorted(options.socket_strings + built)

    def _process_role(
        self,
        options: argparse.Namespace,
        endpoints: list[str],
        action_logger: ActionLogger | None,
        worker: WorkerSettings | None,
    ) -> tuple[list[str], ActionLogger | None, Callable[[], None] | None]:
        """Supervise worker processes (and exit), or serve as one process or one worker.

        ``worker``: this process's settings if it is a worker.

        :returns: the endpoints to serve, the access logger and the ``ready_callable``.
        """
        if worker is not None:
            return worker.endpoints, worker.count_requests(action_logger), worker.report_ready
        try:
            if supervisor_requested(options):
                sys.exit(supervise(options, self._argv, endpoints))
        except SupervisorError as error:
            raise CLIError(str(error)) from None
        return endpoints, action_logger, None

    def _server_keywords(self, options: argparse.Namespace) -> dict[str, Any]:
        """``Server`` keywords for the options (beyond the app, endpoints and callables)."""
        keywords: dict[str, Any] = {}  # Any: each option's converter type; Server checks them
        for option in self.options:
            if option.to_server == "no":
                continue
            value = getattr(options, option.dest)
            if option.to_server == "always" or value != option.default:
                keywords[option.dest] = value
        # Daphne's command line: one option for both WebSocket handshake timeouts.
        keywords["websocket_handshake_timeout"] = options.websocket_connect_timeout
        keywords["proxy_forwarded_address_header"] = self._proxy_header(
            options, "host", "X-Forwarded-For"
        )
        keywords["proxy_forwarded_port_header"] = self._proxy_header(
            options, "port", "X-Forwarded-Port"
        )
        keywords["proxy_forwarded_proto_header"] = (
            "X-Forwarded-Proto" if options.proxy_headers else None
        )
        if options.lifespan != "off":  # "off" is Server's default: nothing to pass
            keywords["lifespan"] = options.lifespan
        return keywords

    # -- helpers -------------------------------------------------------------

    @staticmethod
    def _install_reactor(choice: str | None, *, tls: bool = True) -> None:
        """Install the reactor on the ``--loop`` event loop, unless one is installed.

        ``None`` (no ``--loop``): ``DAPHNE_LOOP``, else ``auto``.  Worker
        processes are started with the same arguments and environment, so they
        choose the same way.
        """
        try:
            loop = install_asyncio_reactor(choice, tls=tls)
        except LoopUnavailable as error:
            raise CLIError(str(error)) from None
        if choice in ("asyncio", "uvloop") and loop_name(loop) != choice:
            logger.warning(
                "--loop %s ignored: the reactor was already installed on the %s loop "
                "(daphne.server was imported before the command line was read)",
                choice,
                loop_name(loop),
            )

    def load_asgi_app(self, asgi_app_path: str) -> object:
        """Import the application object named by ``asgi_app_path`` (``module:attr``).

        A hook: subclasses override it to load applications another way.
        """
        loaded: object = import_by_path(asgi_app_path)
        return loaded

    def _load_application(self, path: str) -> KeywordASGIApp:
        """The application ``path`` names, as an ASGI 3 callable (ASGI 2 ones are wrapped)."""
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
        return single_callable(application)

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
        # LoopBatchedStream has the write() and flush() the access log uses, not all of IO.
        return LoopBatchedStream(stream)  # type: ignore[return-value]
