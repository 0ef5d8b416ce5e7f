"""Server (error) log setup for the CLI: plain, JSON (``--log-json``) or a dictConfig file.

Covered by ``tests/unit/test_logging.py``.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any, TypedDict

from ..access import JSONFormatter, _compile_format
from .config_file import ConfigFileError, read_config_file
from .supervisor import several_processes

__all__ = [
    "DEFAULT_LOG_FORMAT",
    "AccessLogOptions",
    "JSONFormatter",
    "access_format_type",
    "configure_from_args",
    "configure_logging",
    "load_log_config",
]

#: ``--log-fmt``'s default (Daphne's).
DEFAULT_LOG_FORMAT = "%(asctime)-15s %(levelname)-8s %(message)s"
#: What the default becomes when several processes share the output (``--workers``,
#: ``--max-requests``, ``--reload``): each line says which process wrote it.
PROCESS_LOG_FORMAT = "%(asctime)-15s %(levelname)-8s [%(process)d] %(message)s"


class AccessLogOptions(TypedDict):
    """The keyword arguments of :class:`daphne.access.AccessLogGenerator` the options give."""

    format: str | None
    json: bool


def load_log_config(path: str) -> dict[str, Any]:  # Any: dictConfig's free-form schema
    """Read a ``logging.config.dictConfig`` dictionary from ``path`` (.json or .toml).

    :raises ConfigFileError: (status 1) the file cannot be read.

    ``version`` defaults to 1 and ``disable_existing_loggers`` to false, so
    that Daphne's own loggers (created at import time) keep working unless the
    file says otherwise.
    """
    config = read_config_file(path, status=1, label="log config")
    config.setdefault("version", 1)
    config.setdefault("disable_existing_loggers", False)
    return config


def _one_line(error: BaseException) -> str:
    """``error`` and its causes (dictConfig chains them) as one line."""
    parts: list[str] = []
    seen: BaseException | None = error
    while seen is not None and len(parts) < 4:
        text = str(seen) or type(seen).__name__
        if text not in parts:
            parts.append(text)
        seen = seen.__cause__ or seen.__context__
    return ": ".join(parts).replace("\n", " ")


def configure_logging(
    level: int, fmt: str, *, json_lines: bool = False, config_path: str | None = None
) -> None:
    """Set up the server log.

    * ``config_path``: ``dictConfig`` from that file, nothing else (``level``,
      ``fmt`` and ``json_lines`` are the file's business);
    * ``json_lines``: like ``logging.basicConfig`` but with :class:`JSONFormatter`;
    * otherwise exactly ``logging.basicConfig(level=level, format=fmt)``.

    :raises ConfigFileError: (status 1) the file cannot be read or applied.
    """
    if config_path is not None:
        config = load_log_config(config_path)
        try:
            from logging.config import dictConfig  # imported only for --log-config

            dictConfig(config)
        except (ValueError, TypeError, AttributeError, ImportError) as error:
            raise ConfigFileError(f"log config {config_path}: {_one_line(error)}", 1) from None
    elif json_lines:
        handler = logging.StreamHandler()
        handler.setFormatter(JSONFormatter())
        logging.basicConfig(level=level, handlers=[handler])
    else:
        logging.basicConfig(level=level, format=fmt)


def access_format_type(text: str) -> str:
    """argparse ``type`` of ``--access-log-format``: the format, checked."""
    try:
        _compile_format(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def configure_from_args(args: argparse.Namespace, level: int) -> AccessLogOptions:
    """Set up the server log from the CLI's options; return the access log's keywords.

    :raises ConfigFileError: a bad ``--log-config`` file, or options that contradict.
    """
    if args.log_json and args.access_log_format is not None:
        raise ConfigFileError("--access-log-format and --log-json cannot be used together")
    fmt = args.log_fmt
    if fmt == DEFAULT_LOG_FORMAT and several_processes(args):
        fmt = PROCESS_LOG_FORMAT
    configure_logging(level, fmt, json_lines=args.log_json, config_path=args.log_config)
    return {"format": args.access_log_format, "json": args.log_json}
