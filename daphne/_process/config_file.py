"""``--config FILE``: command-line options from a TOML (or JSON) file.

Works from the command line's table of options (``daphne._cli_options.OPTIONS``,
records of :class:`FileOption`'s shape), so every option is covered, including
ones added to the table later:

* a key is a long option name without ``--`` (``port``, ``proxy-headers``;
  ``_`` and ``-`` are interchangeable) or a positional's name (``application``);
* a value goes through the option's ``type`` and ``choices`` exactly like a
  command-line string would; flags (``store_true``, ``store_false``,
  ``store_const``) take ``true``/``false``; repeatable options (``append``)
  take a list;
* whatever the command line gives wins over the file (for a repeatable
  option, the command line's values replace the file's list).

Covered by ``tests/unit/test_config_file.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

__all__ = [
    "ConfigFileError",
    "FileOption",
    "config_values",
    "parse_with_config_file",
    "read_config_file",
]


class FileOption(Protocol):
    """What this module reads of one command-line option (``daphne._cli_parser.Option``)."""

    @property
    def flags(self) -> tuple[str, ...]: ...  # empty for a positional
    @property
    def dest(self) -> str: ...
    @property
    def action(self) -> str: ...  # "store", "store_true", "store_false", "store_const", "append"...
    @property
    def type(self) -> Callable[[str], object] | None: ...
    @property
    def const(self) -> object: ...
    @property
    def choices(self) -> Sequence[object] | None: ...


#: An option with the ``argparse.Action`` the parser made of it.
OptionAction = tuple[FileOption, argparse.Action]


class ConfigFileError(ValueError):
    """A config file that cannot be read or used; the message is one line.

    :ivar status: the exit status the CLI should use.
    """

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message.replace("\n", " "))
        self.status = status


def _load_toml(path: str, status: int, label: str) -> Any:  # Any: whatever the file holds
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10 only
        try:
            import tomli as tomllib
        except ImportError:
            raise ConfigFileError(
                f"{label} {path}: reading TOML needs Python 3.11+ or the 'tomli' package "
                "(pip install tomli); or use a .json file",
                status,
            ) from None
    with open(path, "rb") as handle:
        try:
            return tomllib.load(handle)
        except tomllib.TOMLDecodeError as error:
            raise ConfigFileError(f"{label} {path}: invalid TOML: {error}", status) from None


def read_config_file(path: str, status: int = 2, label: str = "config file") -> dict[str, Any]:
    """The top-level table of a ``.toml`` or ``.json`` file (Any: its values are of any type).

    :raises ConfigFileError: unreadable, malformed, another extension, or not a table.
    """
    extension = os.path.splitext(path)[1].lower()
    if extension not in (".toml", ".json"):
        raise ConfigFileError(f"{label} {path}: the file name must end in .toml or .json", status)
    try:
        if extension == ".toml":
            data = _load_toml(path, status, label)
        else:
            with open(path, encoding="utf-8") as handle:
                try:
                    data = json.load(handle)
                except ValueError as error:
                    raise ConfigFileError(
                        f"{label} {path}: invalid JSON: {error}", status
                    ) from None
    except OSError as error:
        raise ConfigFileError(
            f"{label} {path}: cannot read: {error.strerror or error}", status
        ) from None
    if not isinstance(data, dict):
        raise ConfigFileError(f"{label} {path}: the top level must be a table/object", status)
    return data


def _option_table(options: Iterable[FileOption], config_dest: str) -> dict[str, FileOption]:
    """Config-file key (dashed) → the option it sets."""
    table: dict[str, FileOption] = {}
    for option in options:
        if option.action == "version" or option.dest == config_dest:
            continue  # makes no sense inside a config file
        if not option.flags:
            table[option.dest.replace("_", "-")] = option
        for flag in option.flags:
            if flag.startswith("--"):
                table[flag[2:].replace("_", "-")] = option
    return table


def _scalar(option: FileOption, value: object) -> object:
    """One value through the option's ``type`` and ``choices``."""
    convert = option.type  # None: strings only
    if isinstance(value, bool) and convert is not bool:
        raise ValueError(f"expected {_kind(option)}, got a boolean")
    result: object
    if convert is None:
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {_toml_type(value)}")
        result = value
    else:
        if not isinstance(value, (str, int, float)):
            raise ValueError(f"expected {_kind(option)}, got {_toml_type(value)}")
        numeric = _kind(option) in ("an integer", "a number")
        if (numeric and isinstance(value, str)) or (
            _kind(option) == "an integer" and isinstance(value, float)
        ):
            # TOML has types: port = "8000" is a mistake worth naming, not a number.
            raise ValueError(f"expected {_kind(option)}, got {value!r}")
        try:
            result = convert(value if isinstance(value, str) else str(value))
        except argparse.ArgumentTypeError as error:
            raise ValueError(str(error)) from None
        except (TypeError, ValueError):
            raise ValueError(f"expected {_kind(option)}, got {value!r}") from None
    if option.choices is not None and result not in option.choices:
        choices = ", ".join(repr(choice) for choice in option.choices)
        raise ValueError(f"{result!r} is not one of {choices}")
    return result


def _kind(option: FileOption) -> str:
    names: dict[object, str] = {
        None: "a string",
        str: "a string",
        int: "an integer",
        float: "a number",
    }
    if option.type in names:
        return names[option.type]
    # The command line's own converters (daphne._cli_parser.port_number...) say what they return.
    returns = getattr(option.type, "__annotations__", {}).get("return")
    return {"int": "an integer", "float": "a number", "str": "a string"}.get(
        returns if isinstance(returns, str) else getattr(returns, "__name__", ""), "a valid value"
    )


def _toml_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__


_UNSET = object()


def _convert(option: FileOption, value: object) -> object:
    """The namespace value ``key = value`` stands for, or ``_UNSET`` (leave the default)."""
    if option.action in ("store_true", "store_false", "store_const"):
        # The flag is given, or it is not.
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {_toml_type(value)}")
        if option.action == "store_true":
            return value
        if option.action == "store_false":
            return not value
        return option.const if value else _UNSET
    if option.action == "append":
        if not isinstance(value, list):
            # A repeatable option is a TOML array, even with one element.
            raise ValueError(f"expected a list (e.g. [{value!r}]), got {_toml_type(value)}")
        return [_scalar(option, item) for item in value]
    if option.action != "store":
        raise ValueError(f"cannot be set in a config file (argparse action {option.action!r})")
    if isinstance(value, list):
        raise ValueError("expected one value, got a list")
    return _scalar(option, value)


def config_values(
    options: Iterable[FileOption], data: dict[str, Any], path: str, config_dest: str = "config"
) -> dict[str, object]:
    """``dest → value`` for every key of ``data``; ConfigFileError naming a bad key."""
    table = _option_table(options, config_dest)
    values: dict[str, object] = {}
    for key, value in data.items():
        option = table.get(str(key).replace("_", "-"))
        if option is None:
            raise ConfigFileError(f"config file {path}: unknown option {key!r}")
        try:
            converted = _convert(option, value)
        except ValueError as error:
            raise ConfigFileError(f"config file {path}: option {key!r}: {error}") from None
        if converted is not _UNSET:
            values[option.dest] = converted
    return values


@contextmanager
def _not_required(options: Iterable[OptionAction], dests: Collection[str] | None) -> Iterator[None]:
    """Make the options for ``dests`` (``None``: every positional) optional for a while.

    ``Action.required`` is the attribute argparse documents for ``add_argument(required=)``;
    positionals cannot be declared optional any other way without changing ``--help``.
    """
    changed = [
        action
        for option, action in options
        if action.required and (option.dest in dests if dests is not None else not option.flags)
    ]
    for action in changed:
        action.required = False
    try:
        yield
    finally:
        for action in changed:
            action.required = True


def parse_with_config_file(
    parser: argparse.ArgumentParser,
    argv: Sequence[str],
    options: Sequence[OptionAction],
    config_dest: str = "config",
) -> argparse.Namespace:
    """``parser.parse_args(argv)``, with defaults from the file named by ``--config``.

    ``options`` are the parser's options, each with the ``argparse.Action`` made of it
    (``OptionParser.option_actions``).

    :raises ConfigFileError: the file cannot be read, or names an unknown option,
        or gives a value of the wrong type.
    """
    argv = list(argv)
    with _not_required(options, None):
        known, _ = parser.parse_known_args(argv)
    path = getattr(known, config_dest, None)
    if not path:
        return parser.parse_args(argv)
    values = config_values(
        (option for option, _ in options), read_config_file(path), path, config_dest
    )
    appended = {option.dest for option, _ in options if option.action == "append"}
    lists = {dest: value for dest, value in values.items() if dest in appended}
    with _not_required(options, set(values)):
        args = parser.parse_args(argv, namespace=argparse.Namespace(**values))
    for dest, from_file in lists.items():
        given = getattr(args, dest)
        if given is not from_file and isinstance(given, list) and isinstance(from_file, list):
            # argparse appended the command line's values to a copy of the file's.
            setattr(args, dest, given[len(from_file) :])
    return args
