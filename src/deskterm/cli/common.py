"""What every command shares: the database and analyst in use, output, and errors.

Heavy modules (SQLAlchemy, the desk) are imported inside functions, so that
``deskterm --help`` answers at once and the TUI can paint before the database layer loads.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:
    from deskterm.db.engine import Database
    from deskterm.desk.context import Desk

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class State:
    """Options of the root command, handed to every subcommand through Typer's context."""

    db_url: str | None = None
    login: str | None = None
    _db: Database | None = field(default=None, repr=False)

    def database_url(self) -> str:
        from deskterm.config import load_settings
        from deskterm.paths import default_database_path

        url = load_settings().resolved_database_url(self.db_url)
        if not self.db_url and not load_settings().database_url:
            # The default desk lives in the user's data folder; make the folder on first use.
            default_database_path().parent.mkdir(parents=True, exist_ok=True)
        return url

    def acting_login(self) -> str:
        if self.login:
            return self.login.strip().lower()
        from deskterm.config import load_settings

        return (load_settings().user or getpass.getuser()).strip().lower()

    def database(self) -> Database:
        if self._db is None:
            from deskterm.desk.setup import open_database

            self._db = open_database(self.database_url())
        return self._db

    def desk(self) -> Desk:
        from deskterm.desk.context import Desk

        return Desk(self.database(), self.acting_login())

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()
            self._db = None


def print_json(data: Any) -> None:
    """JSON on stdout, one document, for scripts."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def literal(value: Any) -> Text:
    """Outside text as a Rich renderable that interprets no markup and carries no control
    sequence to the terminal (rows written by another tool may hold one)."""
    from deskterm.domain.text import visible

    return Text(visible("" if value is None else str(value)))


def when(value: datetime | None, *, now: datetime | None = None) -> str:
    """A short local-agnostic time: ``14:05`` today, ``Nov 21 14:05`` otherwise (UTC)."""
    if value is None:
        return "-"
    now = now or datetime.now(UTC)
    value = value.astimezone(UTC)
    if value.date() == now.date():
        return value.strftime("%H:%M")
    if value.year == now.year:
        return value.strftime("%b %d %H:%M")
    return value.strftime("%Y-%m-%d")


def age(value: datetime, *, now: datetime | None = None) -> str:
    """How long ago, in the largest unit that fits: ``45m``, ``6h``, ``12d``."""
    seconds = int(((now or datetime.now(UTC)) - value).total_seconds())
    if seconds < 3600:
        return f"{max(seconds, 0) // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def due_in(value: datetime | None, *, now: datetime | None = None) -> Text:
    """Time left to a due time, red once it has passed."""
    if value is None:
        return Text("-")
    seconds = int((value - (now or datetime.now(UTC))).total_seconds())
    span = abs(seconds)
    amount = (
        f"{span // 60}m"
        if span < 3600
        else f"{span // 3600}h"
        if span < 86400
        else f"{span // 86400}d"
    )
    if seconds < 0:
        return Text(f"-{amount}", style="bold red")
    return Text(amount, style="yellow" if seconds < 3600 else "")


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def fail(message: str, code: int = 1) -> NoReturn:
    """One plain line on stderr (never wrapped, never markup, no control sequence: a message
    may quote what someone typed) and exit ``code``."""
    from deskterm.domain.text import visible

    sys.stderr.write(f"deskterm: {one_line(visible(message))}\n")
    sys.stderr.flush()
    raise SystemExit(code)
