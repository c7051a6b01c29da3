"""A real headless browser (Debian's ``chromium``, driven by Selenium through Debian's
``chromedriver``) against a real ``deskterm serve web``, for the customer's pages (issue 20).

``browser`` starts one Chromium per test process and hands each test a clean one (no
cookies, desktop width). ``web`` starts ``deskterm serve web`` as a customer's server runs,
in a process of its own on a free loopback port, on the test's database. ``shots`` saves
screenshots to ``test-artefacts/browser/`` (under ``$DESKTERM_ARTEFACTS`` when set), kept
after the run so a person can look at what the customer saw; a failed test adds the page as
it was then and the server's log.

Without Chromium the tests skip with the reason, except in CI (``CI=true``), where they
fail: CI installs it (.ci/run) and a skipped acceptance check would pass unseen.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browsing import DESKTOP, Shots, Web, artefacts_folder

from comms_helpers import free_port
from deskterm.db.engine import Database
from factories import KnownDesk, build_known_desk

#: Debian's packages put them here (``apt-get install chromium chromium-driver``).
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def _missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} is missing: apt-get install chromium chromium-driver"
    return None


@pytest.fixture(scope="session")
def _chromium() -> Iterator[Any]:
    missing = _missing()
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser tests cannot run in CI: {missing}")
        pytest.skip(f"browser tests skipped: {missing}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        # Root in a container has no user namespaces for Chromium's sandbox.
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--lang=en-GB",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
    ):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": "en-GB,en"})
    # The given chromedriver, so that Selenium Manager never looks for (or fetches) another.
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(_chromium: Any) -> Iterator[Any]:
    """The test process's Chromium, at desktop width, with nothing left by an earlier test."""
    _chromium.delete_all_cookies()
    _chromium.set_window_size(*DESKTOP)
    yield _chromium
    _chromium.get("about:blank")


@pytest.fixture
def known(db: Database) -> KnownDesk:
    return build_known_desk(db)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    # Kept on the test so that its fixtures can tell, at teardown, whether it failed.
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _failed(request: pytest.FixtureRequest) -> bool:
    report = getattr(request.node, "report_call", None)
    return report is not None and report.failed


def _prefix(request: pytest.FixtureRequest) -> str:
    callspec = getattr(request.node, "callspec", None)
    backend = callspec.params.get("db_url", "db") if callspec else "db"
    return f"{request.node.originalname.removeprefix('test_')}-{backend}"


@pytest.fixture
def shots(request: pytest.FixtureRequest, browser: Any) -> Iterator[Shots]:
    taken = Shots(artefacts_folder(), _prefix(request), browser, [])
    yield taken
    if _failed(request):
        # What the customer saw when the test gave up.
        taken.take("failed")


@pytest.fixture
def web(request: pytest.FixtureRequest, known: KnownDesk, tmp_path: Path) -> Iterator[Web]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DESKTERM_DATABASE_URL": known.db.url.render_as_string(hide_password=False),
        "DESKTERM_CONFIG_FILE": str(tmp_path / "none.toml"),
    }
    log = (tmp_path / "web.log").open("w+")
    server = subprocess.Popen(  # noqa: S603 - our own command
        [sys.executable, "-m", "deskterm", "serve", "web", "--port", str(port), "--base-url", url],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_until_it_answers(url, server, log)
        yield Web(url, server)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)
        log.close()
        if _failed(request):
            shutil.copy(tmp_path / "web.log", artefacts_folder() / f"{_prefix(request)}-web.log")


def _wait_until_it_answers(url: str, server: subprocess.Popen[str], log: Any) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            pytest.fail(f"deskterm serve web stopped: {log.read()}")
        try:
            with urllib.request.urlopen(f"{url}/static/portal.css", timeout=2):  # noqa: S310
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    log.seek(0)
    pytest.fail(f"deskterm serve web did not answer in 30 s: {log.read()}")
