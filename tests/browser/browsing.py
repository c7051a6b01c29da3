"""What the browser tests share besides their fixtures: a running web server and the
screenshots of a test."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
