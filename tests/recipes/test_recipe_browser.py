"""Recipe: Channels' ``ChannelsLiveServerTestCase`` with headless Chromium (selenium).

``ChannelsLiveServerTestCase`` runs the project's ASGI application in
``daphne.testing.DaphneProcess``, unchanged, with static files served.  Chromium loads a page
from it whose script (a static file) opens WebSockets to the echo and room consumers and
writes what it receives into the page; the test waits, bounded, for that text.

pytest-django is not needed: a module fixture points ``DJANGO_SETTINGS_MODULE`` at the test
project, runs ``django.setup()`` and creates the test database (a private SQLite file, as
the live server process cannot share an in-memory one), as Django's test runner would.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from recipe_support import CHROMIUM_FLAGS, PROJECT_DIR, require_program

pytest.importorskip("channels")
pytest.importorskip("selenium")
httpx = pytest.importorskip("httpx")

from channels.testing import ChannelsLiveServerTestCase  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

# slow: Chromium against the recipe (`pytest -m "not slow"` leaves it out).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]
WAIT = 20  # seconds any one browser-side expectation may take


@pytest.fixture(scope="module", autouse=True)
def django_test_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Django set up for the test project, with a test database in a private directory."""
    require_program("chromium")
    require_program("chromedriver")
    import django
    from django.conf import settings
    from django.test.utils import (
        setup_databases,
        setup_test_environment,
        teardown_databases,
        teardown_test_environment,
    )

    directory = tmp_path_factory.mktemp("browser")
    if settings.configured and os.environ.get("DJANGO_SETTINGS_MODULE") != "djproject.settings":
        pytest.skip("Django is already configured with other settings in this process")
    if PROJECT_DIR not in sys.path:
        sys.path.insert(0, PROJECT_DIR)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_SETTINGS_MODULE", "djproject.settings")
        patch.setenv("DJPROJECT_TEST_DB", str(directory / "test.sqlite3"))
        django.setup()
        setup_test_environment()
        databases = setup_databases(verbosity=0, interactive=False)
        try:
            yield directory
        finally:
            teardown_databases(databases, verbosity=0)
            teardown_test_environment()


def start_chromium(directory: Path) -> Any:
    """Headless Chromium under chromedriver, with a fresh profile in ``directory``."""
    options = webdriver.ChromeOptions()
    options.binary_location = require_program("chromium")
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={directory / 'profile'}"]:
        options.add_argument(flag)
    service = webdriver.ChromeService(
        executable_path=require_program("chromedriver"),
        log_output=str(directory / "chromedriver.log"),
    )
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(WAIT)
    driver.set_script_timeout(WAIT)
    return driver


def texts(driver: Any, selector: str) -> list[str]:
    return [element.text for element in driver.find_elements(By.CSS_SELECTOR, selector)]


class BrowserWebSocketTests(ChannelsLiveServerTestCase):
    """A real browser talking to the consumers through ``daphne.testing.DaphneProcess``."""

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        try:
            cls.driver = start_chromium(Path(os.environ["DJPROJECT_TEST_DB"]).parent)
        except BaseException:
            super().tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        cls.driver.quit()
        super().tearDownClass()

    def wait_for(self, condition: Any, what: str) -> Any:
        return WebDriverWait(self.driver, WAIT).until(condition, f"page never showed {what}")

    def test_page_shows_websocket_messages(self) -> None:
        """The page's script (a static file) gets its echo back and a room message that an
        HTTP view sent to the group, and writes both into the DOM."""
        self.driver.get(f"{self.live_server_url}/websocket-page/")
        self.wait_for(
            lambda d: d.find_element(By.ID, "status").text == "joined live as AnonymousUser",
            "the room greeting",
        )
        self.wait_for(
            lambda d: "ping from the browser" in texts(d, "#echo li"), "the echoed message"
        )
        response = httpx.post(
            f"{self.live_server_url}/broadcast/live", content="hello, browser", timeout=10
        )
        self.assertEqual(response.status_code, 200)
        self.wait_for(lambda d: "hello, browser" in texts(d, "#room li"), "the room message")
