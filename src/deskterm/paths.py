"""Where deskterm keeps things. Nothing is created at import time."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

APP = "deskterm"


def data_dir() -> Path:
    """The user's data folder (the default database lives here)."""
    from platformdirs import user_data_path

    return user_data_path(APP, appauthor=False)


def config_dir() -> Path:
    from platformdirs import user_config_path

    return user_config_path(APP, appauthor=False)


def cache_dir() -> Path:
    """The user's cache folder (compiled message catalogs): safe to delete at any time."""
    from platformdirs import user_cache_path

    return user_cache_path(APP, appauthor=False)


def shipped_data_dir() -> Path:
    """The shipped defaults: ``deskterm/data`` in a wheel, ``data/`` in a checkout."""
    packaged = Path(str(files("deskterm"))) / "data"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "data"


def data_file(name: str) -> Path:
    """A defaults file, the user's copy in the config folder winning over the shipped one."""
    override = config_dir() / name
    if override.is_file():
        return override
    return shipped_data_dir() / name
