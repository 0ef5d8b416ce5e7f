"""``--config FILE``: command-line options from a TOML (or JSON) file.

Works from any ``argparse`` parser's own actions, so every option is covered,
including ones added later:

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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

__all__ = ["ConfigFileError", "parse_with_config_file", "read_config_file"]

#: Options that make no sense inside a config file.
_NOT_IN_FILE = (argparse._HelpAction, argparse._VersionAction)


class ConfigFileError(ValueError):
    """A config file that cannot be read or used; the message is one line.

    :ivar status: the exit status the CLI should use.
    """

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message.replace("\n", " "))
        self.status = status


def _load_toml(path: str, status: int, label: str) -> Any:
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
    """The top-level table of a ``.toml`` or ``.json`` file.

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


def _option_table(parser: argparse.ArgumentParser, config_dest: str) -> dict[str, Any]:
    """Config-file key (dashed) → the argparse action it sets."""
    table: dict[str, Any] = {}
    for action in parser._actions:
        if isinstance(action, _NOT_IN_FILE) or action.dest in (config_dest, argparse.SUPPRESS):
            continue
        if not action.option_strings:
            table[action.dest.replace("_", "-")] = action
        for option in action.option_strings:
            if option.startswith("--"):
                table[option[2:].replace("_", "-")] = action
    return table


def _scalar(parser: argparse.ArgumentParser, key: str, action: Any, value: Any) -> Any:
    """One value through the action's ``type`` and ``choices``."""
    # argparse's registry maps type=None to an identity function: strings only.
    convert = (
        None if action.type is None else parser._registry_get("type", action.type, action.type)
    )
    if isinstance(value, bool) and convert is not bool:
        raise ValueError(f"expected {_kind(action)}, got a boolean")
    if convert is None:
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {_toml_type(value)}")
        result = value
    else:
        if not isinstance(value, (str, int, float)):
            raise ValueError(f"expected {_kind(action)}, got {_toml_type(value)}")
        numeric = _kind(action) in ("an integer", "a number")
        if (numeric and isinstance(value, str)) or (
            _kind(action) == "an integer" and isinstance(value, float)
        ):
            # TOML has types: port = "8000" is a mistake worth naming, not a number.
            raise ValueError(f"expected {_kind(action)}, got {value!r}")
        try:
            result = convert(value if isinstance(value, str) else str(value))
        except argparse.ArgumentTypeError as error:
            raise ValueError(str(error)) from None
        except (TypeError, ValueError):
            raise ValueError(f"expected {_kind(action)}, got {value!r}") from None
    if action.choices is not None and result not in action.choices:
        choices = ", ".join(repr(choice) for choice in action.choices)
        raise ValueError(f"{result!r} is not one of {choices}")
    return result


def _kind(action: Any) -> str:
    names = {None: "a string", str: "a string", int: "an integer", float: "a number"}
    if action.type in names:
        return names[action.type]
    # The command line's own converters (daphne.cli._port...) say what they return.
    returns = getattr(action.type, "__annotations__", {}).get("return")
    return {"int": "an integer", "float": "a number", "str": "a string"}.get(
        returns if isinstance(returns, str) else getattr(returns, "__name__", ""), "a valid value"
    )


def _toml_type(value: Any) -> str:
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


def _convert(parser: argparse.ArgumentParser, key: str, action: Any, value: Any) -> Any:
    """The namespace value ``key = value`` stands for, or ``_UNSET`` (leave the default)."""
    if isinstance(action, argparse.BooleanOptionalAction):
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {_toml_type(value)}")
        return value
    if isinstance(action, (argparse._StoreConstAction, argparse._AppendConstAction)):
        # store_true / store_false / store_const: the flag is given, or it is not.
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {_toml_type(value)}")
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            return value if isinstance(action, argparse._StoreTrueAction) else not value
        if not value:
            return _UNSET
        return [action.const] if isinstance(action, argparse._AppendConstAction) else action.const
    if isinstance(action, argparse._CountAction):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"expected a count (0 or more), got {value!r}")
        return value
    repeated = (
        isinstance(action, argparse._AppendAction)
        or action.nargs in ("*", "+")
        or (isinstance(action.nargs, int) and action.nargs > 1)
    )
    if repeated:
        if not isinstance(value, list):
            # A repeatable option is a TOML array, even with one element.
            raise ValueError(f"expected a list (e.g. [{value!r}]), got {_toml_type(value)}")
        items = value
        converted = [_scalar(parser, key, action, item) for item in items]
        if isinstance(action, argparse._AppendAction) and action.nargs not in (None, "?"):
            return [converted]  # append with nargs: a list of lists
        return converted
    if isinstance(value, list):
        raise ValueError("expected one value, got a list")
    return _scalar(parser, key, action, value)


def config_values(
    parser: argparse.ArgumentParser, data: dict[str, Any], path: str, config_dest: str = "config"
) -> dict[str, Any]:
    """``dest → value`` for every key of ``data``; ConfigFileError naming a bad key."""
    table = _option_table(parser, config_dest)
    values: dict[str, Any] = {}
    for key, value in data.items():
        action = table.get(str(key).replace("_", "-"))
        if action is None:
            raise ConfigFileError(f"config file {path}: unknown option {key!r}")
        try:
            converted = _convert(parser, key, action, value)
        except ValueError as error:
            raise ConfigFileError(f"config file {path}: option {key!r}: {error}") from None
        if converted is not _UNSET:
            values[action.dest] = converted
    return values


@contextmanager
def _not_required(parser: argparse.ArgumentParser, dests: Any) -> Iterator[None]:
    """Make the actions for ``dests`` (``None``: every positional) optional for a while."""
    changed = [
        action
        for action in parser._actions
        if action.required
        and (action.dest in dests if dests is not None else not action.option_strings)
    ]
    for action in changed:
        action.required = False
    try:
        yield
    finally:
        for action in changed:
            action.required = True


def parse_with_config_file(
    parser: argparse.ArgumentParser, argv: Sequence[str], config_dest: str = "config"
) -> argparse.Namespace:
    """``parser.parse_args(argv)``, with defaults from the file named by ``--config``.

    :raises ConfigFileError: the file cannot be read, or names an unknown option,
        or gives a value of the wrong type.
    """
    argv = list(argv)
    with _not_required(parser, None):
        known, _ = parser.parse_known_args(argv)
    path = getattr(known, config_dest, None)
    if not path:
        return parser.parse_args(argv)
    values = config_values(parser, read_config_file(path), path, config_dest)
    appended = {
        action.dest
        for action in parser._actions
        if isinstance(action, (argparse._AppendAction, argparse._AppendConstAction))
    }
    lists = {dest: value for dest, value in values.items() if dest in appended}
    with _not_required(parser, set(values)):
        args = parser.parse_args(argv, namespace=argparse.Namespace(**values))
    for dest, from_file in lists.items():
        given = getattr(args, dest)
        if given is not from_file and isinstance(given, list):
            # argparse appended the command line's values to a copy of the file's.
            setattr(args, dest, given[len(from_file) :])
    return args
