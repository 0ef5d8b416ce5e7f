"""The command line's parts: option records, their converters, and the parser built from them.

:class:`Option` says everything about one command-line option: its flags, the
``dest`` it sets (the :class:`~daphne._config.ServerConfig` field or ``Server``
keyword of the same name, for options that reach the server), its converter,
help and default.  A default marked :data:`CONFIG` is read from
``ServerConfig``, and a ``{default}`` in the help text shows it, so no default
is typed twice.  :class:`OptionParser` builds the ``argparse`` parser from a
table of them (``daphne._cli_options.OPTIONS``), and
``daphne._process.config_file`` reads the same records for ``--config`` files.

Each converter turns one command-line (or config-file) string into a value, or
raises ``argparse.ArgumentTypeError`` with a message that names the expected
value.  Its return annotation says what the value is: ``config_file`` reads it
to word its errors ("expected an integer").

Covered by ``tests/unit/test_cli.py``, ``tests/unit/test_worker_cli.py`` and
``tests/unit/test_config_file.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Sequence
from typing import Literal, NoReturn, TypeVar

from ._config import config_default, trusted_proxies_check

__all__ = [
    "CONFIG",
    "Option",
    "OptionParser",
    "allow_ips",
    "any_int",
    "frame_size",
    "non_negative_float",
    "non_negative_int",
    "port_number",
    "positive_float",
    "positive_int",
]

#: How an option's value reaches ``Server``: ``"always"`` as a keyword of the same name
#: (Daphne 4.2's command line passes these on every run); ``"if_changed"`` only when it
#: differs from the default, so that a ``server_class`` written for Daphne 4.2 never gets
#: a keyword it does not know; ``"no"``: the command line uses it itself.
ToServer = Literal["always", "if_changed", "no"]
#: The argparse actions the table uses (``daphne._process.config_file`` handles each).
ActionName = Literal["store", "store_true", "store_false", "store_const", "append", "version"]


class _FromConfig:
    def __repr__(self) -> str:
        return "CONFIG"


#: ``Option.default`` marker: ``ServerConfig``'s default for the option's ``dest``.
CONFIG: object = _FromConfig()


def shown(value: object) -> str:
    """A default as help text shows it: ``5.0`` seconds as ``5``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclasses.dataclass(frozen=True)
class Option:
    """One command-line option (a positional when ``flags`` is empty)."""

    flags: tuple[str, ...]
    dest: str
    #: Help text; ``{default}`` in it becomes the default.  argparse expands ``%``
    #: (so a literal ``%`` is ``%%``).
    help: str
    type: Callable[[str], object] | None = None
    default: object = None
    to_server: ToServer = "no"
    action: ActionName = "store"
    #: The value of ``store_const``; the text of ``version``.
    const: object = None
    choices: Sequence[object] | None = None
    metavar: str | None = None

    def __post_init__(self) -> None:
        if self.default is CONFIG:
            object.__setattr__(self, "default", config_default(self.dest))
        if "{default}" in self.help:
            object.__setattr__(self, "help", self.help.replace("{default}", shown(self.default)))

    def add_to(self, parser: argparse.ArgumentParser) -> argparse.Action:
        """Declare this option on ``parser``; the ``Action`` argparse made of it."""
        if not self.flags:
            return parser.add_argument(self.dest, help=self.help)
        if self.action == "version":
            return parser.add_argument(
                *self.flags, action="version", version=str(self.const), help=self.help
            )
        if self.action in ("store_true", "store_false"):
            return parser.add_argument(
                *self.flags,
                action=self.action,
                dest=self.dest,
                default=self.default,
                help=self.help,
            )
        if self.action == "store_const":
            return parser.add_argument(
                *self.flags, action="store_const", dest=self.dest, const=self.const, help=self.help
            )
        default = self.default
        if isinstance(default, tuple):
            default = list(default)  # a repeatable option's list, new for each parser
        return parser.add_argument(
            *self.flags,
            action=self.action,
            dest=self.dest,
            default=default,
            # str is what argparse's type=None does to a command-line string.
            type=str if self.type is None else self.type,
            choices=self.choices,
            metavar=self.metavar,
            help=self.help,
        )


class OptionParser(argparse.ArgumentParser):
    """argparse built from a table of :class:`Option`; a usage error is one line.

    :ivar option_actions: each option with the ``argparse.Action`` made of it.
    """

    def __init__(self, options: Sequence[Option], prog: str, description: str) -> None:
        super().__init__(prog=prog, description=description)
        self.option_actions = tuple((option, option.add_to(self)) for option in options)

    def action_for(self, flag: str) -> argparse.Action:
        """The ``Action`` of the option with ``flag`` (KeyError if none has it)."""
        for option, action in self.option_actions:
            if flag in option.flags:
                return action
        raise KeyError(flag)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# -- converters (argparse ``type``) ---------------------------------------------

_T = TypeVar("_T", int, float)


def _number(text: str, kind: Callable[[str], _T]) -> _T:
    try:
        return kind(text)
    except ValueError:
        expected = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None


def positive_int(text: str) -> int:
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def non_negative_float(text: str) -> float:
    value = _number(text, float)
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


def positive_float(text: str) -> float:
    value = _number(text, float)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def port_number(text: str) -> int:
    value = _number(text, int)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number, 0-65535, got {value}")
    return value


def any_int(text: str) -> int:
    return _number(text, int)


def frame_size(text: str) -> int:
    value = positive_int(text)
    if not 2**14 <= value <= 2**24 - 1:
        raise argparse.ArgumentTypeError(f"must be between 16384 and 16777215, got {value}")
    return value


def allow_ips(text: str) -> str:
    try:
        trusted_proxies_check(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text
