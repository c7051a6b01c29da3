"""What every command shares: the database and analyst in use, output, and errors.

Heavy modules (SQLAlchemy, the desk) are imported inside functions, so that
``deskterm --help`` answers at once and the TUI can paint before the database layer loads.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn, cast

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from deskterm.db.engine import Database
    from deskterm.desk.context import Desk
    from deskterm.desk.identity import Identity


class _LazyConsole:
    """A Rich console made at its first use: a command that prints JSON or one line never
    loads Rich's console and rendering (a tenth of a CLI call's start)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def made(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.made(), name)

    # Dunder methods are looked up on the type, never through __getattr__: ``Live`` and
    # ``Progress`` enter their console.
    def __enter__(self) -> Console:
        return self.made().__enter__()

    def __exit__(self, *exc: object) -> None:
        self.made().__exit__(*exc)


def rich_console(console: Console) -> Console:
    """``out`` or ``err`` as the Console itself, for Rich objects that take one (``Progress``
    enters it as a context manager, which the stand-in cannot be)."""
    lazy: Any = console
    return lazy.made() if isinstance(lazy, _LazyConsole) else console


out = cast("Console", _LazyConsole(highlight=False, soft_wrap=False))
err = cast("Console", _LazyConsole(stderr=True, highlight=False, soft_wrap=True))


@dataclass
class State:
    """Options of the root command, handed to every subcommand through Typer's context."""

    db_url: str | None = None
    login: str | None = None
    _db: Database | None = field(default=None, repr=False)

    def database_url(self) -> str:
        from deskterm.config import load_settings

        settings = load_settings()
        url = settings.resolved_database_url(self.db_url)
        if not self.db_url and not settings.database_url:
            # The default desk lives in the data folder; make the folder on first use.
            settings.data_folder().mkdir(parents=True, exist_ok=True)
        return url

    def identity(self) -> Identity:
        """How the desk knows who is acting (the ``identity`` setting), and who this
        command says it is (``--as``, ``DESKTERM_USER``)."""
        from deskterm.config import load_settings
        from deskterm.desk.identity import Identity

        settings = load_settings()
        return Identity(mode=settings.identity, given=self.login, configured=settings.user)

    def acting_login(self) -> str:
        """The analyst acting: their claim in claimed identity; their database login, and
        a claim only if it is that login, in database identity."""
        identity = self.identity()
        local = identity.local_login()
        return local if local is not None else identity.login(self.database())

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


# What ``json.dumps(ensure_ascii=False)`` leaves raw although no text should carry it to a
# terminal: DEL and the C1 controls (U+009B starts a CSI sequence on many terminals), bidi
# overrides and isolates, and lone surrogates (which no UTF-8 stdout can even write). C0
# controls it escapes itself; letters of any script stay as they are.
_JSON_RAW = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def json_text(data: Any) -> str:
    """One JSON document whose strings hold no character that acts on a terminal."""
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    # Those characters appear only inside strings, where a \uXXXX escape means the same.
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def print_json(data: Any) -> None:
    """JSON on stdout, one document, for scripts."""
    sys.stdout.write(json_text(data) + "\n")


def literal(value: Any) -> Text:
    """Outside text as a Rich renderable that interprets no markup and carries no control
    sequence to the terminal (rows written by another tool may hold one)."""
    from rich.text import Text

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
    from rich.text import Text

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


#: How much of what someone typed a message quotes back; a 100 KB paste is not repeated.
QUOTE_MAX = 80
#: A whole message at most (a safety net: every message is far shorter).
MESSAGE_MAX = 1000
# A quoted value as ``{text!r}`` writes it, longer than QUOTE_MAX.
_LONG_QUOTE = re.compile(
    rf"'(?:[^'\\]|\\.){{{QUOTE_MAX + 1},}}'|\"(?:[^\"\\]|\\.){{{QUOTE_MAX + 1},}}\""
)


def _shorten(match: re.Match[str]) -> str:
    quote, inner = match[0][0], match[0][1:-1]
    return f"{quote}{inner[: QUOTE_MAX - 1]}…{quote}"


def quoted(value: str) -> str:
    """``value`` quoted as a message shows it, cut at ``QUOTE_MAX`` characters."""
    return _LONG_QUOTE.sub(_shorten, repr(value))


def fail(message: str, code: int = 1) -> NoReturn:
    """One plain line on stderr (never wrapped, never markup, no control sequence: a message
    may quote what someone typed, and quotes at most ``QUOTE_MAX`` characters of it) and
    exit ``code``."""
    from deskterm.domain.text import visible

    said = _LONG_QUOTE.sub(_shorten, one_line(visible(message)))
    if len(said) > MESSAGE_MAX:
        said = f"{said[: MESSAGE_MAX - 1]}…"
    sys.stderr.write(f"deskterm: {said}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def not_blank(value: str | None) -> str | None:
    """A Typer callback: an option that is given must say something (``--priority ''``
    is a slip of the script, not "no priority")."""
    if value is not None and not value.strip():
        import typer

        raise typer.BadParameter("must not be empty")
    return value


def read_text(path: str, *, field: str) -> str:
    """A file's text, or standard input's for ``-``: UTF-8, refused in one line when it is
    not (the same for both, so a pipe cannot slip in what a file may not)."""
    from deskterm.domain.errors import InvalidInput

    where = "standard input" if path == "-" else path
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as handle:
                data = handle.read()
    except OSError as exc:
        raise InvalidInput(f"cannot read {where}: {exc.strerror or exc}", field=field) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{where} is not UTF-8 text (byte {exc.start + 1:,} is not): save it as UTF-8",
            field=field,
        ) from None
