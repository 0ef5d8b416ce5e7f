"""The ``daphne`` command line's options, as a table of :class:`~daphne._cli_parser.Option`.

An option that reaches the server sets the ``ServerConfig`` field or ``Server``
keyword named by its ``dest``, and takes its default from ``ServerConfig``
(:data:`~daphne._cli_parser.CONFIG`).  ``CommandLineInterface`` builds its parser
from :data:`OPTIONS` and passes the values on by each option's ``to_server``.

Covered by ``tests/unit/test_cli.py`` and ``tests/unit/test_config_file.py``.
"""

from __future__ import annotations

from . import __version__
from ._asgi.proxy import SOURCES
from ._cli_parser import (
    CONFIG,
    Option,
    allow_ips,
    any_int,
    frame_size,
    non_negative_float,
    non_negative_int,
    port_number,
    positive_float,
    positive_int,
)
from ._config import config_default
from ._process.log_setup import DEFAULT_LOG_FORMAT, access_format_type
from ._reactor import LOOP_CHOICES

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "OPTIONS"]

#: Where the command line listens when given no address at all (Daphne's).
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


#: Every option of ``daphne``, in ``--help`` order.
OPTIONS: tuple[Option, ...] = (
    Option(("-p", "--port"), "port", "Port number to listen on (0: any free port)", port_number),
    Option(("-b", "--bind"), "host", f"Address to listen on (default {DEFAULT_HOST})"),
    Option(
        ("--websocket_timeout", "--websocket-timeout"), "websocket_timeout",
        "Seconds a WebSocket may stay connected before the server closes it (-1: no limit)",
        any_int, CONFIG, "always",
    ),
    Option(
        ("--websocket_connect_timeout", "--websocket-connect-timeout"), "websocket_connect_timeout",
        "Seconds the app has to accept or reject a WebSocket handshake (0 or -1: no limit)",
        # Daphne's command line passes this option as both the connect and the handshake
        # timeout, so its default is the handshake timeout's (not Server's 20 s).
        any_int, config_default("websocket_handshake_timeout"), "always",
    ),
    Option(
        ("-u", "--unix-socket"), "unix_socket",
        "Listen on this UNIX socket path instead of a TCP host/port",
    ),
    Option(
        ("--fd",), "file_descriptor",
        "Serve an already-listening socket inherited as this file descriptor (systemd, supervisord, Circus)",
        int,
    ),
    Option(
        ("-e", "--endpoint"), "socket_strings",
        "Listen on a Twisted endpoint description, e.g. ssl:443:privateKey=key.pem:certKey=cert.pem (repeatable)",
        default=(), action="append",
    ),
    Option(
        ("-v", "--verbosity"), "verbosity",
        "0: warnings only; 1: info and the access log (default); 2: debug; 3: debug and asyncio debug mode",
        int, CONFIG, "always", choices=(0, 1, 2, 3),
    ),
    Option(
        ("-t", "--http-timeout"), "http_timeout",
        "Seconds the app has to start a response before the client gets 503 (0: no limit, the default)",
        non_negative_int, CONFIG, "always",
    ),
    Option(
        ("--access-log",), "access_log",
        "Where to write the access log (- for stdout, the default for verbosity=1)",
    ),
    Option(
        ("--access-log-format",), "access_log_format",
        "Access log line made of %%(atom)s placeholders, e.g. '%%(h)s \"%%(r)s\" %%(s)s %%(D)s' (see README; default: Daphne's line)",
        access_format_type, metavar="FORMAT",
    ),
    Option(
        ("--log-json",), "log_json",
        "Write access and server log lines as JSON objects, one per line",
        default=False, action="store_true",
    ),
    Option(
        ("--log-config",), "log_config",
        "A logging.config.dictConfig dictionary (.json or .toml) that replaces the default server log setup",
        metavar="FILE",
    ),
    Option(
        ("--config",), "config",
        "TOML file setting any of these options (keys: long option names); the command line wins",
        metavar="FILE",
    ),
    Option(
        ("--log-fmt",), "log_fmt", "logging format string of the server log lines",
        default=DEFAULT_LOG_FORMAT,
    ),
    Option(
        ("--ping-interval",), "ping_interval",
        "Seconds a WebSocket may be idle before the server pings it (0: no pings)",
        non_negative_float, CONFIG, "always",
    ),
    Option(
        ("--ping-timeout",), "ping_timeout",
        "Seconds to wait for the pong before the WebSocket is dropped",
        positive_float, CONFIG, "always",
    ),
    Option(
        ("--websocket-max-message-size",), "websocket_max_message_size",
        "Maximum size of an inbound WebSocket message in bytes (0 for no limit)",
        non_negative_int, CONFIG, "always",
    ),
    Option(
        ("--websocket-max-frame-size",), "websocket_max_frame_size",
        "Maximum size of an inbound WebSocket frame in bytes (0 for no limit)",
        non_negative_int, CONFIG, "always",
    ),
    Option(
        ("--application-close-timeout",), "application_close_timeout",
        "Seconds an app may run on after its client left before it is cancelled",
        non_negative_float, CONFIG, "always",
    ),
    Option(
        ("--root-path",), "root_path",
        "root_path of every scope (the prefix the app is mounted under, e.g. /forum)",
        default=CONFIG, to_server="always",
    ),
    Option(
        ("--proxy-headers",), "proxy_headers",
        "Enable parsing and using of X-Forwarded-For and X-Forwarded-Port headers and using that as the client address",
        default=False, action="store_true",
    ),
    Option(
        ("--proxy-headers-host",), "proxy_headers_host",
        "Specify which header will be used for getting the host part. Can be omitted, requires --proxy-headers to be specified. Default: X-Forwarded-For",
        default=False,
    ),
    Option(
        ("--proxy-headers-port",), "proxy_headers_port",
        "Specify which header will be used for getting the port part. Can be omitted, requires --proxy-headers to be specified. Default: X-Forwarded-Port",
        default=False,
    ),
    Option(
        ("--proxy-headers-source",), "proxy_headers_source",
        "Which headers --proxy-headers reads: 'xff' (X-Forwarded-For/-Port/-Proto, the default) "
        "or 'forwarded' (RFC 7239 Forwarded). Only this source is read; the other is ignored",
        # None: not given (then it is not passed, and ServerConfig's "xff" applies), so that
        # a --proxy-headers-source without --proxy-headers is caught even when it says xff.
        to_server="if_changed", choices=SOURCES,
    ),
    Option(
        (), "application",
        "The ASGI application, as module.path:attribute (e.g. myproject.asgi:application)",
    ),
    Option(
        ("-s", "--server-name"), "server_name",
        "Value of the Server response header (default: {default})",
        default=CONFIG, to_server="always",
    ),
    Option(
        ("--no-server-name",), "server_name", "Send no Server response header",
        action="store_const", const="",
    ),
    Option(
        ("--threads",), "threads",
        "Threads in the pool that sync_to_async work runs on (default: Python's, or ASGI_THREADS)",
        positive_int,
    ),
    Option(
        ("--no-ws-per-message-deflate",), "websocket_per_message_deflate",
        "Do not negotiate WebSocket permessage-deflate compression",
        default=CONFIG, to_server="if_changed", action="store_false",
    ),
    Option(
        ("--no-h2c",), "h2c",
        "Do not serve HTTP/2 over cleartext (prior knowledge or Upgrade: h2c); TLS ALPN is unaffected",
        default=CONFIG, to_server="if_changed", action="store_false",
    ),
    Option(
        ("--h2c-upgrade",), "h2c_upgrade",
        "Also switch HTTP/1.1 requests with 'Upgrade: h2c' to HTTP/2 (off by default: "
        "a request-smuggling risk behind proxies); needs cleartext HTTP/2 (see --no-h2c)",
        default=CONFIG, to_server="if_changed", action="store_true",
    ),
    Option(
        ("--h2-max-concurrent-streams",), "h2_max_concurrent_streams",
        "HTTP/2: most streams a client may have open at once (default {default})",
        positive_int, CONFIG, "if_changed",
    ),
    Option(
        ("--h2-max-header-list-size",), "h2_max_header_list_size",
        "HTTP/2: largest decoded request header list in bytes (default {default})",
        positive_int, CONFIG, "if_changed",
    ),
    Option(
        ("--h2-max-frame-size",), "h2_max_frame_size",
        "HTTP/2: largest frame payload a client may send, 16384-16777215 (default {default})",
        frame_size, CONFIG, "if_changed",
    ),
    Option(
        ("--lifespan",), "lifespan",
        "ASGI lifespan events: auto (run them if the app supports them), on (required), off",
        # The command line runs lifespan when the app supports it; Server's own
        # default, for Python callers, is "off" (CommandLineInterface passes it).
        default="auto", choices=("auto", "on", "off"),
    ),
    Option(
        ("--graceful-timeout",), "graceful_timeout",
        "Seconds in-flight requests and WebSockets get to finish on SIGTERM/SIGINT (default {default})",
        non_negative_float, CONFIG, "if_changed",
    ),
    Option(
        ("--forwarded-allow-ips",), "forwarded_allow_ips",
        "Comma-separated IPs/CIDRs of proxies whose --proxy-headers are believed; '*' = any "
        "(the default). When given, only these peers may also set Daphne-Root-Path",
        allow_ips, CONFIG, "if_changed",
    ),
    Option(
        ("--limit-concurrency",), "limit_concurrency",
        "Most open connections or running app instances before new requests get 503",
        positive_int, CONFIG, "if_changed",
    ),
    Option(
        ("--backlog",), "backlog",
        "Listen backlog of the -b/-p and -u listeners (default: Twisted's, 50)",
        positive_int,
    ),
    Option(
        ("--keep-alive-timeout",), "keep_alive_timeout",
        "Seconds an idle keep-alive connection is kept open (default {default})",
        non_negative_float, CONFIG, "if_changed",
    ),
    Option(
        ("--header-read-timeout",), "header_read_timeout",
        "Seconds a client has to send a whole request head (default {default})",
        positive_float, CONFIG, "if_changed",
    ),
    Option(
        ("--body-read-timeout",), "body_read_timeout",
        "Longest wait in seconds for the next piece of a request body; a stalled "
        "body gets 408 (default {default})",
        positive_float, CONFIG, "if_changed",
    ),
    Option(
        ("--limit-request-body",), "limit_request_body",
        "Largest request body in bytes; larger gets 413 (default: no limit)",
        non_negative_int, CONFIG, "if_changed",
    ),
    Option(
        ("--limit-request-line",), "limit_request_line",
        "Longest request line in bytes; longer gets 414 (default {default})",
        positive_int, CONFIG, "if_changed",
    ),
    Option(
        ("--limit-request-fields",), "limit_request_fields",
        "Most header fields in a request; more gets 431 (default {default})",
        positive_int, CONFIG, "if_changed",
    ),
    Option(
        ("--limit-request-field-size",), "limit_request_field_size",
        "Largest header field line in bytes; larger gets 431 (default {default})",
        positive_int, CONFIG, "if_changed",
    ),
    Option(
        ("--workers",), "workers",
        "Worker processes serving the same sockets, under a supervisor (default {default}: no supervisor)",
        positive_int, 1,
    ),
    Option(
        ("--max-requests",), "max_requests",
        "Recycle a worker after it served this many requests (plus a random jitter)",
        positive_int,
    ),
    Option(
        ("--max-requests-jitter",), "max_requests_jitter",
        "Up to this many more requests before a worker is recycled (spreads restarts)",
        non_negative_int, 0,
    ),
    Option(
        ("--reload",), "reload",
        "Development: restart the server when a watched file changes",
        default=False, action="store_true",
    ),
    Option(
        ("--reload-dir",), "reload_dir",
        "Directory to watch with --reload (repeatable; default: the current directory)",
        default=(), action="append", metavar="DIR",
    ),
    Option(
        ("--reload-include",), "reload_include",
        "File names to watch with --reload (repeatable; default: *.py)",
        default=(), action="append", metavar="GLOB",
    ),
    Option(
        ("--reload-exclude",), "reload_exclude",
        "File names or directories to ignore with --reload (repeatable)",
        default=(), action="append", metavar="GLOB",
    ),
    Option(
        ("--loop",), "loop",
        "Event loop the server runs on: auto (uvloop when installed; the default, "
        "unless the DAPHNE_LOOP environment variable names another), asyncio (the "
        "standard library's) or uvloop",
        choices=LOOP_CHOICES,
    ),
    Option(
        ("--version",), "version", "show program's version number and exit",
        action="version", const=f"daphne {__version__}",
    ),
)  # fmt: skip
