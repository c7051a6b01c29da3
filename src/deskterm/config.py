"""Settings: ``DESKTERM_*`` environment variables, then the ``[desk]`` table of the config
file (``deskterm.toml`` in the config folder, or the file ``DESKTERM_CONFIG_FILE`` names),
then built-in defaults. Nothing is read at import time.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import StringConstraints, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from deskterm.domain.errors import InvalidInput
from deskterm.paths import config_dir, default_database_path

#: How the desk knows who is acting: what the person says (``--as``, ``DESKTERM_USER``,
#: the OS login), or the database login they connect with (PostgreSQL only).
Identity = Literal["claimed", "database"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DESKTERM_", extra="ignore")

    database_url: str | None = None
    user: str | None = None
    identity: Identity = "claimed"
    #: Where a phone number written without a country code is (ISO 3166 code, e.g. GB, DE,
    #: US): ``0118 496 6515`` is stored as +441184966515 under GB. GB by default, as the
    #: demo desk. Numbers are normalised when written, so change it before the desk fills.
    phone_region: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$")] = "GB"
    #: Read from the environment only: it says where the rest is.
    config_file: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        named = env_settings().get("config_file")
        path = Path(named).expanduser() if named else config_dir() / "deskterm.toml"
        return (init_settings, env_settings, _DeskTable(settings_cls, path))

    def resolved_database_url(self, override: str | None = None) -> str:
        if override:
            return override
        if self.database_url:
            return self.database_url
        return f"sqlite:///{default_database_path()}"


class _DeskTable(TomlConfigSettingsSource):
    """The config file's ``[desk]`` table; the other tables belong to the mail settings."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        try:
            super().__init__(settings_cls, toml_file=path, toml_table_header=("desk",))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
            raise InvalidInput(f"{path}: {exc}", field="config") from None

    def __call__(self) -> dict[str, Any]:
        # Where the file is comes from the environment alone: a file cannot move itself.
        return {k: v for k, v in super().__call__().items() if k != "config_file"}


def load_settings() -> Settings:
    """The settings in force; a config file or value that cannot be used is one clear line."""
    try:
        return Settings()
    except ValidationError as exc:
        problem = exc.errors()[0]
        name = "_".join(str(part) for part in problem["loc"]).upper()
        raise InvalidInput(
            f"DESKTERM_{name} (or `{name.lower()}` in [desk] of the config file): "
            f"{problem['input']!r} is not valid: {problem['msg']}",
            field=name.lower(),
        ) from None
