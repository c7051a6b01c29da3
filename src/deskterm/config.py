"""Settings: ``DESKTERM_*`` environment variables, then built-in defaults."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from deskterm.paths import default_database_path


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DESKTERM_", extra="ignore")

    database_url: str | None = None
    user: str | None = None

    def resolved_database_url(self, override: str | None = None) -> str:
        if override:
            return override
        if self.database_url:
            return self.database_url
        return f"sqlite:///{default_database_path()}"


def load_settings() -> Settings:
    return Settings()
