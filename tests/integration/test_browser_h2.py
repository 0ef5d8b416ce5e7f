"""Chromium against daphne's TLS endpoint: HTTP/2 by ALPN and WebSockets over HTTP/2 (RFC 8441).

A real browser is the client that matters most for extended CONNECT: Chromium
opens the page's WebSocket on the same HTTP/2 connection when the server sends
``SETTINGS_ENABLE_CONNECT_PROTOCOL``.  The echo reports its scope's ``http_version``
into the page, and the test reads it back (bounded wait).  Skipped without
Debian's ``chromium`` and ``chromium-driver`` or without selenium.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from processes import DaphneCommand, TLSFiles
from recipes.recipe_support import headless_chromium, require_program

# slow: Chromium over HTTP/2 (`pytest -m "not slow"` leaves it out).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]
WAIT = 20  # seconds the page may take


def test_chromium_websocket_over_http2(tmp_path: Path) -> None:
    pytest.importorskip("selenium.webdriver")
    require_program("chromium"), require_program("chromedriver")
    tls = TLSFiles(tmp_path)
    with DaphneCommand(["-e", tls.endpoint, "apps.browser_apps:app"]) as daphne:
        # --ignore-certificate-errors: the throwaway CA is not in Chromium's store.
        driver = headless_chromium(tmp_path / "profile", "--ignore-certificate-errors")
        try:
            driver.get(f"https://127.0.0.1:{daphne.port}/")
            deadline = time.monotonic() + WAIT
            text = "waiting"
            while text == "waiting" and time.monotonic() < deadline:
                text = driver.find_element("id", "out").text
                time.sleep(0.05)
            protocol = driver.execute_script(
                "return performance.getEntriesByType('navigation')[0].nextHopProtocol"
            )
        finally:
            driver.quit()
        daphne.wait_for_log("WSDISCONNECT /ws")
        log = daphne.output()
    assert protocol == "h2"  # the page itself came over HTTP/2 (ALPN)
    assert text == "hello over HTTP/2"  # the WebSocket ran as an HTTP/2 stream
    assert '"WSCONNECT /ws"' in log and "Traceback" not in log
