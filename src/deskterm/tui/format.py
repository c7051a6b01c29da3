"""How values look on screen: outside text literally, times short, SLA clocks coloured.

Every string that came from a caller, an email or another analyst goes through ``literal`` (a
``rich.text.Text``, which interprets no markup) after ``clean_line``/``clean_long`` strip any
control sequence that slipped past the desk (old rows, another writer).
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from deskterm import defaults
from deskterm.domain.due import clock_words
from deskterm.domain.due import span as span  # where the screens have always found it
from deskterm.domain.enums import Status
from deskterm.domain.text import clean_line, clean_long

# Shared with the CLI (deskterm/looks.py); the screens find them here as they always did.
from deskterm.looks import due_text as due_text
from deskterm.looks import priority_style as priority_style

# Short forms for narrow tables; the ticket screen spells statuses out.
_STATUS_SHORT = {
    Status.NEW: "new",
    Status.ASSIGNED: "assigned",
    Status.IN_PROGRESS: "working",
    Status.WAITING_CUSTOMER: "waiting",
    Status.WAITING_THIRD_PARTY: "3rd pty",
    Status.RESOLVED: "resolved",
    Status.CLOSED: "closed",
    Status.CANCELLED: "cancelled",
}


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
    try:
        value = Status(status)
    except ValueError:
        return clean_line(status)
    return _STATUS_SHORT[value] if short else value.label


def priority_text(priority: str | int, *, long: bool = False) -> Text:
    number = int(str(priority).lstrip("Pp") or 0)
    code = f"P{number}"
    levels = defaults.priority_matrix().levels
    if long and number in levels:
        code = f"{code} {levels[number].label}"
    return Text(code, style=priority_style(number), end="")


def age(created: datetime, now: datetime) -> str:
    """How long ago, in its largest unit only: ``12m``, ``5h``, ``3d``."""
    seconds = max(0, int((now - created).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


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
    """A time in the analyst's zone: ``14:05`` today, ``Tue 14:05`` this week, else a date."""
    if at is None:
        return "—"
    mine = at.astimezone()
    if now is None:
        return mine.strftime("%Y-%m-%d %H:%M")
    today = now.astimezone().date()
    if mine.date() == today:
        return mine.strftime("%H:%M")
    if abs((mine.date() - today).days) < 7:
        return mine.strftime("%a %H:%M")
    return mine.strftime("%Y-%m-%d %H:%M")


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
        raise ValueError(f"{text!r} is not a duration (mm:ss)")
    total = 0
    for part in parts:
        total = total * 60 + int(part)
    return total
