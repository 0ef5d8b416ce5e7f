"""The public surface Daphne 4.2 users import keeps its names and signatures."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import subprocess
import sys
import warnings

import pytest


def test_server_keywords_and_defaults() -> None:
    """Server takes Daphne 4.2's keyword arguments with the same defaults."""
    from daphne.server import Server

    params = inspect.signature(Server.__init__).parameters
    expected = {
        "endpoints": None,
        "signal_handlers": True,
        "action_logger": None,
        "http_timeout": None,
        "request_buffer_size": 8192,
        "websocket_timeout": 86400,
        "websocket_connect_timeout": 20,
        "ping_interval": 20,
        "ping_timeout": 30,
        "root_path": "",
        "proxy_forwarded_address_header": None,
        "proxy_forwarded_port_header": None,
        "proxy_forwarded_proto_header": None,
        "verbosity": 1,
        "websocket_handshake_timeout": 5,
        "websocket_max_message_size": 1048576,
        "websocket_max_frame_size": 1048576,
        "application_close_timeout": 10,
        "ready_callable": None,
        "server_name": "daphne",
    }
    assert "application" in params
    for name, default in expected.items():
        assert params[name].default == default, name


def test_server_attributes_mirror_keywords() -> None:
    """Constructor keywords stay readable as attributes, as in Daphne."""
    from daphne.server import Server

    server = Server(
        application=None,
        endpoints=["tcp:port=0:interface=127.0.0.1"],
        http_timeout=7,
        root_path="/x",
        server_name="",
    )
    assert server.http_timeout == 7
    assert server.root_path == "/x"
    assert server.server_name == ""
    assert server.request_buffer_size == 8192
    assert server.listening_addresses == []
    assert server.abort_start is False
    assert server.endpoints == ["tcp:port=0:interface=127.0.0.1"]
    with pytest.raises(AttributeError):
        _ = server.no_such_attribute


def test_server_without_endpoints_raises() -> None:
    """An endpoint-less Server is refused with a clear error (Daphne called sys.exit)."""
    from daphne.server import Server

    with pytest.raises(ValueError, match="No endpoints"):
        Server(application=None, endpoints=[])


def test_stop_before_run_aborts_start() -> None:
    """stop() before run() makes run() return without serving."""
    from daphne.server import Server

    server = Server(application=None, endpoints=["tcp:port=0:interface=127.0.0.1"])
    server.stop()
    assert server.abort_start is True


@pytest.mark.parametrize(
    ("module", "names"),
    [
        ("daphne.server", ["Server"]),
        ("daphne.http_protocol", ["WebRequest", "HTTPFactory"]),
        ("daphne.access", ["AccessLogGenerator"]),
        (
            "daphne.utils",
            [
                "import_by_path",
                "header_value",
                "parse_x_forwarded_for",
                "HEADER_NAME_RE",
                "INVALID_HEADER_VALUE_BYTES",
            ],
        ),
    ],
)
def test_public_names(module: str, names: list[str]) -> None:
    """Every public name Daphne exposes is importable from the same module."""
    imported = importlib.import_module(module)
    for name in names:
        assert hasattr(imported, name), f"{module}.{name}"


def test_web_request_initialisation() -> None:
    """WebRequest(channel) works with a bare channel and has no addresses yet."""
    from daphne.http_protocol import WebRequest

    class Channel:
        transport = None

    request = WebRequest(Channel())
    assert request.client_addr is None
    assert request.server_addr is None


def test_http_factory_alpn() -> None:
    """HTTPFactory offers ALPN protocols (TLS endpoints negotiate with it)."""
    from daphne.http_protocol import HTTPFactory

    assert b"http/1.1" in HTTPFactory(None).acceptableProtocols()


def test_importing_server_installs_asyncio_reactor() -> None:
    """Importing daphne.server installs Twisted's asyncio reactor."""
    code = (
        "import daphne.server\n"
        "from twisted.internet import reactor, asyncioreactor\n"
        "assert isinstance(reactor, asyncioreactor.AsyncioSelectorReactor), reactor\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_other_reactor_is_replaced_with_warning() -> None:
    """A non-asyncio reactor installed first is replaced, with Daphne's warning."""
    code = (
        "import warnings\n"
        "from twisted.internet import selectreactor\n"
        "selectreactor.install()\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import daphne.server\n"
        "assert any('non-asyncio Twisted reactor' in str(w.message) for w in caught), caught\n"
        "from twisted.internet import reactor, asyncioreactor\n"
        "assert isinstance(reactor, asyncioreactor.AsyncioSelectorReactor)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize(
    "loop",
    [
        "asyncio",
        pytest.param(
            "uvloop",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("uvloop") is None, reason="uvloop is not installed"
            ),
        ),
    ],
)
def test_asgi_threads_sets_executor(loop: str) -> None:
    """ASGI_THREADS bounds the reactor loop's default executor (on either event loop)."""
    code = (
        "import asyncio, threading, time\n"
        "import daphne.server\n"
        "from daphne._reactor import reactor_loop\n"
        "names = set()\n"
        "def work():\n"
        "    names.add(threading.current_thread().name)\n"
        "    time.sleep(0.05)\n"
        "async def main():\n"
        "    loop = asyncio.get_running_loop()\n"
        "    await asyncio.gather(*(loop.run_in_executor(None, work) for _ in range(8)))\n"
        "reactor_loop().run_until_complete(main())\n"
        "assert len(names) == 3, names\n"
    )
    env = {"ASGI_THREADS": "3", "PATH": "", "DAPHNE_LOOP": loop}
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, env=env)


def test_version() -> None:
    """The package has a version string."""
    import daphne

    assert isinstance(daphne.__version__, str)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert daphne.__version__.count(".") >= 2
