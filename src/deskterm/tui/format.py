"""How values look on screen: outside text literally, times short, SLA clocks coloured.

Every string that came from a caller, an email or another analyst goes through ``literal`` (a
``rich.text.Text``, which interprets no markup) after ``clean_line``/``clean_long`` strip any
control sequence that slipped past the desk (old rows, another writer).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.text import Text

from deskterm import defaults
from deskterm.domain import enums
from deskterm.domain.due import clock_words
from deskterm.domain.due import span as span  # where the screens have always found it
from deskterm.domain.enums import Status
from deskterm.domain.text import clean_line, clean_long
from deskterm.i18n import N_, _, babel_locale, format_time

# Shared with the CLI (deskterm/looks.py); the screens find them here as they always did.
from deskterm.looks import due_text as due_text
from deskterm.looks import fill as fill  # sentences with styled parts, as the CLI has them
from deskterm.looks import priority_style as priority_style

if TYPE_CHECKING:
    from textual.widget import Widget

# Short forms for narrow tables (a word of about nine cells at most); the ticket screen
# spells statuses out.
_STATUS_SHORT = {
    # Translators: a ticket's status in a narrow table column: one short word.
    Status.NEW: N_("new"),
    Status.ASSIGNED: N_("assigned"),
    Status.IN_PROGRESS: N_("working"),
    Status.WAITING_CUSTOMER: N_("waiting"),
    # Translators: short for "waiting for a third party" (a supplier), in a table column.
    Status.WAITING_THIRD_PARTY: N_("3rd pty"),
    Status.RESOLVED: N_("resolved"),
    Status.CLOSED: N_("closed"),
    Status.CANCELLED: N_("cancelled"),
}


def fit_labels(labels: Iterable[Widget], least: int, *, gap: int = 1) -> None:
    """Give labels in a column one width: ``least`` cells (the stylesheet's, right for
    English), or wider where a translation needs it, so no label is cut."""
    from textual.widgets import Static

    shown = [label for label in labels if isinstance(label, Static)]
    widest = max((cell_len(str(label.render())) for label in shown), default=0)
    if widest + gap > least:
        for label in shown:
            label.styles.width = widest + gap


def literal(value: object, *, style: str = "", long: bool = False) -> Text:
    """Outside text, shown exactly as typed (minus control characters)."""
    raw = "" if value is None else str(value)
    text = Text(clean_long(raw) if long else clean_line(raw), end="")
    if style:
        # A span, not the base style: text appended later keeps its own look.
        text.stylize(style)
    return text


def plain(value: object, *, long: bool = False) -> str:
    """Outside text for the places that take a ``str`` (toasts, input fields), cleaned as
    ``literal`` cleans it; give it where markup is off (``notify(..., markup=False)``)."""
    raw = "" if value is None else str(value)
    return clean_long(raw) if long else clean_line(raw)


def clip(text: str, width: int) -> str:
    if width <= 1:
        return text[: max(width, 0)]
    return text if len(text) <= width else text[: width - 1] + "…"


def status_label(status: str, *, short: bool = False) -> str:
    """A status in the analyst's words: spelled out as everywhere (``domain.enums``), or
    one short word for a narrow table column."""
    try:
        value = Status(status)
    except ValueError:
        return clean_line(status)
    return _(_STATUS_SHORT[value]) if short else enums.status_label(value)


def role_label(role: object) -> str:
    """An analyst's role in the analyst's words (``agent``, ``supervisor``)."""
    return clean_line(enums.role_label(str(role)))


def level_label(level: object) -> str:
    """An impact or urgency (``high``, ``medium``, ``low``) in the analyst's words."""
    return clean_line(enums.level_label(str(getattr(level, "value", level))))


def priority_text(priority: str | int, *, long: bool = False) -> Text:
    number = int(str(priority).lstrip("Pp") or 0)
    code = f"P{number}"
    levels = defaults.priority_matrix().levels
    if long and number in levels:
        code = f"{code} {levels[number].shown_label}"
    return Text(code, style=priority_style(number), end="")


def age(created: datetime, now: datetime) -> str:
    """How long ago, in its largest unit only: ``12m``, ``5h``, ``3d``."""
    seconds = max(0, int((now - created).total_seconds()))
    if seconds >= 86400:
        # Translators: an age in a narrow table column, in days: "3d".
        return _("{n}d").format(n=seconds // 86400)
    if seconds >= 3600:
        # Translators: an age in a narrow table column, in hours: "5h".
        return _("{n}h").format(n=seconds // 3600)
    if seconds >= 60:
        # Translators: an age in a narrow table column, in minutes: "12m".
        return _("{n}m").format(n=seconds // 60)
    # Translators: an age in a narrow table column, in seconds: "40s".
    return _("{n}s").format(n=seconds)


def sla_text(
    due: datetime | None,
    now: datetime,
    *,
    warn_at: datetime | None = None,
    paused: bool = False,
    done: bool = False,
    finished: datetime | None = None,
) -> Text:
    """Time left on an SLA clock: plain, yellow from its warning time (``warn_at``: the
    warning share of the target, in working time), red and reversed once breached (reverse
    still shows without colour). A paused clock says so; a finished one whether it was met."""
    words = clock_words(due, now, warn_at=warn_at, paused=paused, done=done, finished=finished)
    return due_text(words)


def local(at: datetime | None, now: datetime | None = None) -> str:
    """A time in the analyst's zone and language: ``14:05`` today, ``Tue 14:05`` this week,
    else a date with the time (``i18n.format_time``)."""
    return format_time(at, now)


def short_day(day: date) -> str:
    """A day in a title, month and day only: ``Nov 25``, ``25. Nov.``."""
    from babel.dates import format_skeleton

    return format_skeleton("MMMd", day, locale=babel_locale())


def clock_face(seconds: int) -> str:
    minutes, secs = divmod(max(seconds, 0), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def parse_duration(text: str) -> int:
    """Seconds from ``mm:ss``, ``h:mm:ss``, ``90`` (seconds) or ``5m``."""
    raw = text.strip().lower()
    if not raw:
        return 0
    if raw.endswith("m") and raw[:-1].isdigit():
        return int(raw[:-1]) * 60
    parts = raw.split(":")
    if not all(p.isdigit() for p in parts) or len(parts) > 3:
        raise ValueError(_("{text} is not a duration (mm:ss)").format(text=repr(text)))
    total = 0
    for part in parts:
        total = total * 60 + int(part)
    return total
