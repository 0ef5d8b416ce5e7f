"""Why a listener could not start, in words that name what the user can fix.

``Server`` logs these instead of Twisted's or OpenSSL's own messages.  Covered
by ``tests/unit/test_cli.py`` and ``tests/integration/test_cli_process.py``.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from twisted.python.failure import Failure

from ._process.listen import split_description

__all__ = ["listen_failure_text", "tls_files_problem"]


def listen_failure_text(failure: Failure, description: str) -> str:
    """Why listening failed, in words that name what the user can fix."""
    text = failure.getErrorMessage()
    kind, args, _kwargs = split_description(description) if description else ("", [], {})
    if kind == "unix" and args:
        directory = os.path.dirname(os.path.abspath(args[0])) or "/"
        if not os.path.isdir(directory):
            return f"cannot listen on UNIX socket {args[0]}: directory {directory} does not exist"
        if not os.access(directory, os.W_OK | os.X_OK):
            return f"cannot listen on UNIX socket {args[0]}: directory {directory} is not writable"
        # Twisted names the path as bytes (b'/run/x.sock'): say it as text, with the reason.
        error = getattr(failure.value, "socketError", None)
        reason = getattr(error, "strerror", None) or text
        if os.path.isdir(args[0]):
            reason = f"{args[0]} is a directory"
        return f"cannot listen on UNIX socket {args[0]}: {reason}"
    return text


def tls_files_problem(description: str) -> str | None:
    """Which TLS file of an ``ssl:`` endpoint cannot be loaded, and why (None: not that).

    OpenSSL's own words (``[('DECODER routines', '', 'unsupported')]``) name
    neither the file nor the option.
    """
    try:
        kind, _args, kwargs = split_description(description)
    except ValueError:
        return None
    if kind != "ssl" or "privateKey" not in kwargs:
        return None
    from OpenSSL import crypto  # only for an ssl: listener that failed: not at start-up

    private_key = kwargs["privateKey"]
    files: list[tuple[str, str, Callable[[int, bytes], object], str]] = [
        ("privateKey", private_key, crypto.load_privatekey, "private key"),
        ("certKey", kwargs.get("certKey", private_key), crypto.load_certificate, "certificate"),
    ]
    for option, path, load, what in files:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as error:
            return f"{option}={path}: cannot read the file: {error.strerror or error}"
        try:
            load(crypto.FILETYPE_PEM, data)
        except crypto.Error:
            return f"{option}={path}: not a PEM {what} (or one OpenSSL cannot load)"
    return None
