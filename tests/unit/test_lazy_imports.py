"""Start-up imports only what every server needs (measured with bench/startup.py).

The HTTP/2 stack loads with the first HTTP/2 connection, ``logging.config``
only for ``--log-config``.
"""

from __future__ import annotations

import subprocess
import sys


def test_server_import_leaves_out_http2_and_logging_config() -> None:
    code = (
        "import sys\n"
        "import daphne.cli, daphne.server, daphne.http_protocol, daphne.ws_protocol\n"
        "late = [m for m in ('h2', 'hpack', 'hyperframe', 'daphne._wire.http2', "
        "'logging.config') if m in sys.modules]\n"
        "assert not late, late\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_switch_preface_is_the_http2_preface() -> None:
    from daphne._wire import http2, switch

    assert switch.PREFACE == http2.PREFACE == b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
