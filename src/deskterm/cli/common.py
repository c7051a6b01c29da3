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
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, cast

import typer

from deskterm.i18n import _

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from deskterm.cli.speaking import AnalystDesk
    from deskterm.db.engine import Database
    from deskterm.desk.identity import Identity
    from deskterm.domain.permissions import Actor


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

    def desk(self) -> AnalystDesk:
        from deskterm.cli.speaking import AnalystDesk

        return AnalystDesk(self.database(), self.acting_login())

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


#: ``--csv`` of every list command (``print_rows``).
CsvOpt = Annotated[
    bool,
    typer.Option("--csv", help=_("Print CSV for spreadsheets: a header row of the --json keys.")),
]

#: What a spreadsheet reads as the start of a formula (OWASP's "CSV injection" list): a
#: cell ``=HYPERLINK(...)`` from a customer's subject would run when the file is opened.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """One CSV cell: a value as ``--json`` gives it, written out for a spreadsheet.

    None is empty, true/false stay words, a list or object is its JSON, a time is UTC ISO
    8601; text carries no character that acts on a terminal, and text a spreadsheet would
    take for a formula gets a leading ``'`` (then it shows as text, and the quote with it
    in the raw file: a script reading the CSV strips it)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        value = value.astimezone(UTC).isoformat()
    elif isinstance(value, list | tuple | dict):
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    from deskterm.domain.text import visible

    text = _JSON_RAW.sub("", visible(str(value)))
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def print_csv(records: list[dict[str, Any]], columns: list[str] | None = None) -> None:
    """Records as CSV on stdout: a header row of their keys (``columns`` when there are no
    records to take them from), then one row each, in full (no truncation, no colour)."""
    import csv

    names = list(columns or ())
    for record in records:
        names.extend(key for key in record if key not in names)
    if not names:
        return
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(names)
    writer.writerows([csv_cell(record.get(name)) for name in names] for record in records)


def _columns_of(reader: Any) -> list[str] | None:
    """The ``--json`` keys of the rows a desk function returns (``-> list[TicketPublic]``),
    for the header of an empty CSV; None when its annotation does not say."""
    from typing import get_args, get_type_hints

    try:
        (row,) = get_args(get_type_hints(reader)["return"])
        fields = dict.fromkeys(row.model_fields)
        return list(row.model_construct(**fields).to_json())
    except Exception:  # an unannotated reader: an empty list prints nothing
        return None


def print_rows(rows: Any, *, as_json: bool, as_csv: bool, of: Any = None) -> bool:
    """A list command's rows as ``--json`` or ``--csv`` ask (both: refused), with the same
    keys; False when neither was asked, and the command prints its table. ``of`` is the
    desk function that read them: its return type names the columns when there are none."""
    if as_json and as_csv:
        fail(_("give --json or --csv, not both"), 2)
    if not (as_json or as_csv):
        return False
    records = [row.to_json() for row in rows]
    if as_json:
        print_json(records)
    else:
        print_csv(records, None if records or of is None else _columns_of(of))
    return True


def literal(value: Any) -> Text:
    """Outside text as a Rich renderable that interprets no markup and carries no control
    sequence to the terminal (rows written by another tool may hold one)."""
    from rich.text import Text

    from deskterm.domain.text import visible

    return Text(visible("" if value is None else str(value)))


def speak(actor: Actor | None) -> None:
    """Say everything from here on in ``actor``'s language (their ``analyst edit
    --language``), else the locale's: output and refusals alike. The ``system`` actor and an
    unknown one leave the language as it is."""
    if actor is None or actor.is_system:
        return
    from deskterm import i18n

    i18n.use(actor.language)


def when(value: datetime | None, *, now: datetime | None = None) -> str:
    """A short time in the analyst's words and zone: ``14:05`` today, ``Mon 14:05`` this
    week, ``Mon, Nov 21, 14:05`` this year (i18n.format_time)."""
    if value is None:
        return "-"
    from deskterm.i18n import format_time

    return format_time(value, now or datetime.now(UTC))


def span(seconds: int) -> str:
    """A length of time in its largest unit, as short as the locale writes it: ``45m``,
    ``6h``, ``12d`` (``45 Min.``, ``6h``, ``12 T`` in German)."""
    from babel.units import format_unit

    from deskterm.i18n import babel_locale

    seconds = max(seconds, 0)
    if seconds < 3600:
        value, unit = seconds // 60, "duration-minute"
    elif seconds < 86400:
        value, unit = seconds // 3600, "duration-hour"
    else:
        value, unit = seconds // 86400, "duration-day"
    return format_unit(value, unit, length="narrow", locale=babel_locale())


def age(value: datetime, *, now: datetime | None = None) -> str:
    """How long ago, in the largest unit that fits: ``45m``, ``6h``, ``12d``."""
    return span(int(((now or datetime.now(UTC)) - value).total_seconds()))


def due_in(value: datetime | None, *, now: datetime | None = None) -> Text:
    """Time left to a due time, red once it has passed."""
    from rich.text import Text

    if value is None:
        return Text("-")
    seconds = int((value - (now or datetime.now(UTC))).total_seconds())
    amount = span(abs(seconds))
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
        raise typer.BadParameter(_("must not be empty"))
    return value


def read_text(path: str, *, field: str) -> str:
    """A file's text, or standard input's for ``-``: UTF-8, refused in one line when it is
    not (the same for both, so a pipe cannot slip in what a file may not)."""
    from deskterm.domain.errors import InvalidInput
    from deskterm.i18n import format_number

    where = _("standard input") if path == "-" else path
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as handle:
                data = handle.read()
    except OSError as exc:
        raise InvalidInput(
            _("cannot read {where}: {reason}").format(where=where, reason=exc.strerror or exc),
            field=field,
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            _("{where} is not UTF-8 text (byte {byte} is not): save it as UTF-8").format(
                where=where, byte=format_number(exc.start + 1)
            ),
            field=field,
        ) from None
