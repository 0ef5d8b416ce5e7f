"""``ServerConfig`` is the one source of defaults: ``Server``'s literals and the CLI agree with it."""

from __future__ import annotations

import ast
import dataclasses
import inspect

import pytest
from compat.daphne42_api import DAPHNE_42

from daphne._config import ServerConfig, config_default
from daphne.server import Server

FIELDS = {field.name: field for field in dataclasses.fields(ServerConfig)}


def _daphne_server_defaults() -> dict[str, object]:
    """Daphne 4.2's ``Server.__init__`` parameter -> default, from the compat table."""
    text = DAPHNE_42["daphne.server"]["Server.__init__"]
    function = ast.parse(f"def f{text}: pass").body[0]
    assert isinstance(function, ast.FunctionDef)
    names = [arg.arg for arg in function.args.args]
    defaults = [ast.literal_eval(default) for default in function.args.defaults]
    return dict(zip(names[len(names) - len(defaults) :], defaults, strict=True))


DAPHNE_DEFAULTS = _daphne_server_defaults()

#: Server.__init__'s parameters that set a ServerConfig field of the same name.
SERVER_CONFIG_PARAMETERS = [
    parameter
    for name, parameter in inspect.signature(Server.__init__).parameters.items()
    if name in FIELDS
]


def test_config_default_is_the_field_default() -> None:
    for name, field in FIELDS.items():
        assert config_default(name) == field.default
        assert config_default(name) == getattr(ServerConfig(), name)


def test_config_default_of_an_unknown_field() -> None:
    with pytest.raises(KeyError, match="ServerConfig has no field 'max_request_line'"):
        config_default("max_request_line")


def test_server_keywords_beyond_daphne_are_config_fields() -> None:
    """Only Daphne 4.2's keywords are typed out in Server.__init__: the rest go to ServerConfig."""
    ours = inspect.signature(Server.__init__).parameters
    assert set(ours) - set(DAPHNE_DEFAULTS) == {"self", "application", "lifespan", "options"}
    assert ours["options"].kind is inspect.Parameter.VAR_KEYWORD
    assert {p.name for p in SERVER_CONFIG_PARAMETERS} <= set(DAPHNE_DEFAULTS)


@pytest.mark.parametrize("parameter", SERVER_CONFIG_PARAMETERS, ids=lambda p: p.name)
def test_server_literal_defaults_equal_the_config_defaults(parameter: inspect.Parameter) -> None:
    """Server.__init__ keeps Daphne 4.2's literal defaults (tests/compat); they must not drift
    from ServerConfig's, which everything else reads."""
    assert parameter.default == config_default(parameter.name)
    assert DAPHNE_DEFAULTS[parameter.name] == config_default(parameter.name)


def test_server_without_keywords_has_the_config_defaults() -> None:
    async def app(scope: object, receive: object, send: object) -> None:
        pass

    assert Server(app, endpoints=["tcp:0"]).config == ServerConfig()


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"request_buffer_size": 0}, "request_buffer_size must be positive"),
        ({"h2_max_frame_size": 100}, "h2_max_frame_size must be between"),
        ({"ping_timeout": 0}, "ping_timeout must be positive"),
        ({"graceful_timeout": float("nan")}, "graceful_timeout must not be negative"),
        ({"body_read_timeout": 0}, "body_read_timeout must be positive"),
        ({"proxy_headers_source": "rfc"}, "proxy_headers_source must be one of"),
        ({"proxy_forwarded_port_header": "X-P"}, "need proxy_forwarded_address_header"),
    ],
)
def test_bad_values_are_refused(keywords: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ServerConfig(**keywords)  # type: ignore[arg-type]
