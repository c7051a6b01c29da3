"""What the browser tests share besides their fixtures: a running web server and the
screenshots of a test."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

#: What a phone and a laptop show (CSS pixels).
PHONE = (375, 812)
DESKTOP = (1280, 900)

#: The project's folder: artefacts go under it unless DESKTERM_ARTEFACTS names another.
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Shots:
    """Screenshots of one test, named ``{prefix}-{step}-{width}.png``."""

    folder: Path
    prefix: str
    driver: Any
    taken: list[Path]

    def take(self, step: str) -> None:
        """The page as a laptop and as a phone show it, whole (not only the first screen)."""
        for label, (width, height) in (("desktop", DESKTOP), ("phone", PHONE)):
            self.driver.set_window_size(width, height)
            full = self.driver.execute_script("return document.documentElement.scrollHeight")
            self.driver.set_window_size(width, max(height, min(int(full) + 150, 6000)))
            path = self.folder / f"{self.prefix}-{step}-{label}.png"
            assert self.driver.save_screenshot(str(path)), path
            self.taken.append(path)
        self.driver.set_window_size(*DESKTOP)


def artefacts_folder() -> Path:
    base = os.environ.get("DESKTERM_ARTEFACTS")
    folder = (Path(base) if base else ROOT / "test-artefacts") / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass(frozen=True)
class Web:
    """A running ``deskterm serve web``: customers reach it at ``url``."""

    url: str
    process: subprocess.Popen[str]


def submit(driver: WebDriver, button: WebElement, *, seconds: float = 15) -> None:
    """Click a form's button and wait for the page the answer brings."""
    old = driver.find_element(By.TAG_NAME, "html")
    button.click()
    # Mid-navigation Chrome may answer a look at the old page's node with an inspector error
    # ("Node with given id does not belong to the document") instead of "stale": look again.
    WebDriverWait(driver, seconds, ignored_exceptions=(WebDriverException,)).until(
        expected_conditions.staleness_of(old)
    )
    WebDriverWait(driver, 15).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )
