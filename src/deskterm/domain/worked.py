"""Time worked on a ticket: the minutes a note, call or status change took (issue 21).

One rule for every face: a whole number of minutes from 0 to a day per event, or nothing
(not recorded, which is not 0). A call with a known length counts it, rounded up: a call of
61 seconds took two minutes of someone's time.
"""

from __future__ import annotations

from deskterm.domain.errors import InvalidInput
from deskterm.i18n import _, babel_locale

#: The most one event may carry: a day, as the longest call a ticket logs.
MAX_MINUTES = 24 * 60


def check_minutes(minutes: int | None) -> int | None:
    """``minutes`` when it is a whole number of minutes an event may carry, else refused."""
    if minutes is None:
        return None
    # bool is an int to Python; True minutes is a caller's mistake, not one minute.
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise InvalidInput(_("minutes worked must be a whole number"), field="minutes")
    if not 0 <= minutes <= MAX_MINUTES:
        raise InvalidInput(
            _("minutes worked must be between 0 and {most}").format(most=MAX_MINUTES),
            field="minutes",
        )
    return minutes


def parse_minutes(text: str | None) -> int | None:
    """What an analyst typed in a "Minutes" field: empty is "not recorded"."""
    value = (text or "").strip()
    if not value:
        return None
    if not value.isascii() or not value.isdigit():
        raise InvalidInput(_("minutes worked must be a whole number"), field="minutes")
    return check_minutes(int(value))


def call_minutes(duration_seconds: int | None) -> int | None:
    """The minutes a call of ``duration_seconds`` took, rounded up; None when unknown (0)."""
    if not duration_seconds or duration_seconds <= 0:
        return None
    return min(-(-duration_seconds // 60), MAX_MINUTES)


def format_minutes(minutes: int) -> str:
    """Minutes in hours and minutes for a person: ``1 hr 25 min``, ``1 Std. 25 Min.``."""
    from babel.units import format_unit

    locale = babel_locale()
    hours, rest = divmod(max(minutes, 0), 60)
    parts = []
    if hours:
        parts.append(format_unit(hours, "duration-hour", length="short", locale=locale))
    if rest or not hours:
        parts.append(format_unit(rest, "duration-minute", length="short", locale=locale))
    return " ".join(parts)
