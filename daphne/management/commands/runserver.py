"""``manage.py runserver`` served by this server (ASGI, HTTP and WebSocket).

Keeps Django's options and adds ``--noasgi`` (Django's own WSGI server),
``--http_timeout``, ``--websocket_handshake_timeout`` and, with staticfiles
installed, ``--nostatic``/``--insecure``.  Covered by ``tests/django/``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import logging
import sys
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError
from django.core.management.color import color_style
from django.core.management.commands.runserver import Command as RunserverCommand
from django.db import connections
from django.utils import autoreload

from daphne import __version__
from daphne.access import log_safe
from daphne.endpoints import build_endpoint_description_strings
from daphne.server import Server

if TYPE_CHECKING:
    from daphne._types import ASGIApp

logger = logging.getLogger("django.channels.server")


def get_default_application() -> ASGIApp:
    """The object named by ``settings.ASGI_APPLICATION`` (``"module.attribute"``)."""
    path = getattr(settings, "ASGI_APPLICATION", None)
    if not path:
        raise ImproperlyConfigured("Cannot find ASGI_APPLICATION setting.")
    module_path, _, name = path.rpartition(".")
    try:
        module = importlib.import_module(module_path)
    except ImportError as error:
        raise ImproperlyConfigured(
            f"Cannot import ASGI_APPLICATION module {module_path!r}"
        ) from error
    try:
        application: ASGIApp = getattr(module, name)
    except AttributeError:
        raise ImproperlyConfigured(
            f"Cannot find {name!r} in ASGI_APPLICATION module {module_path}"
        ) from None
    return application


class Command(RunserverCommand):
    protocol = "http"
    server_cls = Server

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--noasgi",
            action="store_false",
            dest="use_asgi",
            default=True,
            help="Run the old WSGI-based runserver rather than the ASGI-based one",
        )
        parser.add_argument(
            "--http_timeout",
            action="store",
            dest="http_timeout",
            type=int,
            default=None,
            help="Specify the daphne http_timeout interval in seconds (default: no timeout)",
        )
        parser.add_argument(
            "--websocket_handshake_timeout",
            action="store",
            dest="websocket_handshake_timeout",
            type=int,
            default=5,
            help="Specify the daphne websocket_handshake_timeout interval in seconds (default: 5)",
        )
        if apps.is_installed("django.contrib.staticfiles"):
            parser.add_argument(
                "--nostatic",
                action="store_false",
                dest="use_static_handler",
                help="Tells Django to NOT automatically serve static files at STATIC_URL.",
            )
            parser.add_argument(
                "--insecure",
                action="store_true",
                dest="insecure_serving",
                help="Allows serving static files even if DEBUG is False.",
            )

    # Any: the parsed options' values, of every type.
    def handle(self, *args: str, **options: Any) -> None:
        self.http_timeout = options.get("http_timeout")
        self.websocket_handshake_timeout = options.get("websocket_handshake_timeout", 5)
        if options.get("use_asgi", True) and not getattr(settings, "ASGI_APPLICATION", None):
            raise CommandError(
                "You have not set ASGI_APPLICATION, which is needed to run the server."
            )
        if options.get("use_asgi", True):
            try:
                self.get_application(options)
            except ImproperlyConfigured as error:
                raise CommandError(str(error)) from error
        super().handle(*args, **options)

    # Any: the parsed options' values, of every type.
    def inner_run(self, *args: object, **options: Any) -> None:
        if not options.get("use_asgi", True):
            # Django's own WSGI development server: its inner_run builds self.server_cls.
            self.server_cls = RunserverCommand.server_cls
            super().inner_run(*args, **options)
            return
        autoreload.raise_last_exception()
        if not options.get("skip_checks", False):
            self.stdout.write("Performing system checks...\n\n")
            self.check(display_num_errors=True)
        self.check_migrations()
        for connection in connections.all(initialized_only=True):
            connection.close()
        quit_command = "CTRL-BREAK" if sys.platform == "win32" else "CONTROL-C"
        # Django's handle() leaves an IPv6 literal (given, or the -6 default ::1) in self.addr
        # without brackets; nothing else it accepts has a colon.  (Django's own banner reads
        # its private _raw_ipv6 flag for the same thing.)
        address = (
            f"[{self.addr}]" if ":" in self.addr else ("0.0.0.0" if self.addr == "0" else self.addr)
        )
        self.stdout.write(
            "{now}\nDjango version {django}, using settings {settings!r}\n"
            "Starting ASGI/Daphne version {daphne} development server at {protocol}://{addr}:{port}/\n"
            "Quit the server with {quit}.\n".format(
                now=datetime.datetime.now().strftime("%B %d, %Y - %X"),
                django=self.get_version(),
                settings=settings.SETTINGS_MODULE,
                daphne=__version__,
                protocol=self.protocol,
                addr=address,
                port=self.port,
                quit=quit_command,
            )
        )
        self.stdout.write(
            "HTTP/2 support enabled (cleartext with prior knowledge; runserver has no TLS)\n"
        )
        host = "0.0.0.0" if self.addr == "0" else self.addr
        endpoints = build_endpoint_description_strings(host=host, port=int(self.port))
        try:
            server = self.server_cls(
                application=self.get_application(options),
                endpoints=endpoints,
                signal_handlers=not options["use_reloader"],
                action_logger=self.log_action,
                http_timeout=self.http_timeout,
                root_path=getattr(settings, "FORCE_SCRIPT_NAME", "") or "",
                websocket_handshake_timeout=self.websocket_handshake_timeout,
            )
            server.run()
            if getattr(server, "abort_start", False):
                self.stderr.write(
                    "Error: the server could not listen on {}".format(", ".join(endpoints))
                )
                sys.exit(1)
            logger.debug("Daphne exited")
        except KeyboardInterrupt:
            shutdown_message = options.get("shutdown_message", "")
            if shutdown_message:
                self.stdout.write(shutdown_message)
            return

    def get_application(self, options: dict[str, Any]) -> ASGIApp:  # Any: as in handle()
        """The ASGI application, wrapped to serve static files when appropriate."""
        from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

        application = get_default_application()
        use_static_handler = options.get("use_static_handler", True)
        insecure_serving = options.get("insecure_serving", False)
        if (
            apps.is_installed("django.contrib.staticfiles")
            and use_static_handler
            and (settings.DEBUG or insecure_serving)
        ):
            static_files: ASGIApp = ASGIStaticFilesHandler(application)
            return static_files
        return application

    # Any: the free-form access-log details (daphne._types.ActionLogger).
    def log_action(self, protocol: str, action: str, details: dict[str, Any]) -> None:
        """Log a request or WebSocket event in Django's runserver style."""
        style = color_style()
        msg = "[{}] ".format(datetime.datetime.now().strftime("%d/%b/%Y %H:%M:%S"))
        if protocol == "http" and action == "complete":
            msg += log_safe(
                "HTTP {method} {path} {status} [{time_taken:.2f}, {client}]".format(**details)
            )
            status = details["status"]
            if 200 <= status < 300:
                msg, level = style.HTTP_SUCCESS(msg), logging.INFO
            elif 100 <= status < 200:
                msg, level = style.HTTP_INFO(msg), logging.INFO
            elif status == 304:
                msg, level = style.HTTP_NOT_MODIFIED(msg), logging.INFO
            elif 300 <= status < 400:
                msg, level = style.HTTP_REDIRECT(msg), logging.INFO
            elif status == 404:
                msg, level = style.HTTP_NOT_FOUND(msg), logging.WARNING
            elif 400 <= status < 500:
                msg, level = style.HTTP_BAD_REQUEST(msg), logging.WARNING
            else:
                msg, level = style.HTTP_SERVER_ERROR(msg), logging.ERROR
            logger.log(level, msg)
            return
        names = {
            "connecting": "HANDSHAKING",
            "connected": "CONNECT",
            "rejected": "REJECT",
            "disconnected": "DISCONNECT",
        }
        if protocol == "websocket" and action in names:
            msg += log_safe(
                "WebSocket {} {} [{}]".format(names[action], details["path"], details["client"])
            )
            logger.info(msg)
