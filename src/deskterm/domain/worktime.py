"""Working time on a calendar: which instants count towards an SLA, and how to add them up.

A ``WorkCalendar`` says when the desk works: weekdays, opening spans in local time, a time
zone, and days off (public holidays from the ``holidays`` package, passed in as data, plus
the desk's own). ``ALWAYS`` counts every second (the around-the-clock priorities).

Everything is computed from each day's working *periods* as UTC instants, so daylight-saving
changes come for free: a span of 08:00-18:00 on the day clocks go forward simply is one hour
shorter in real time, and the arithmetic never has to know. A due time lands inside a period
or exactly at its end (the moment the office closes counts as "within hours").
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from deskterm.domain.errors import InvalidInput
from deskterm.i18n import _

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: How far the arithmetic looks for working time before it decides there is none: a
#: calendar with no working day in ten years is a configuration mistake, not a long wait.
_SEARCH_DAYS = 3660

Period = tuple[datetime, datetime]


@dataclass(frozen=True, eq=False)
class WorkCalendar:
    """When working time runs. ``spans`` are (start, end) minutes of the local day, sorted
    and apart (end may be 1440, midnight at the end of the day)."""

    name: str
    zone: tzinfo = UTC
    weekdays: frozenset[int] = frozenset(range(5))
    spans: tuple[tuple[int, int], ...] = ((8 * 60, 18 * 60),)
    days_off: Collection[date] = frozenset()
    always: bool = False
    _periods: dict[date, tuple[Period, ...]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.always:
            return
        if not self.weekdays or not self.spans:
            raise InvalidInput(
                _("calendar {name!r} has no working time at all").format(name=self.name)
            )
        previous_end = -1
        for start, end in self.spans:
            if not 0 <= start < end <= 1440 or start < previous_end:
                raise InvalidInput(
                    _(
                        "calendar {name!r}: hours must be ascending spans within a day, like "
                        "08:00-12:00, 13:00-17:00"
                    ).format(name=self.name)
                )
            previous_end = end

    # ------------------------------------------------------------------ the periods

    def periods(self, day: date) -> tuple[Period, ...]:
        """The working periods of one local day, as UTC instants, in order."""
        cached = self._periods.get(day)
        if cached is not None:
            return cached
        found: list[Period] = []
        if day.weekday() in self.weekdays and day not in self.days_off:
            for start, end in self.spans:
                begin, finish = self._instant(day, start), self._instant(day, end)
                if found and begin < found[-1][1]:
                    begin = found[-1][1]
                if finish > begin:
                    found.append((begin, finish))
        result = tuple(found)
        if len(self._periods) > 20_000:
            self._periods.clear()
        self._periods[day] = result
        return result

    def _instant(self, day: date, minute: int) -> datetime:
        if minute >= 1440:
            day, minute = day + timedelta(days=1), minute - 1440
        local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self.zone)
        return local.astimezone(UTC)

    def _local_day(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()

    # ------------------------------------------------------------------ questions

    def is_working(self, at: datetime) -> bool:
        """Whether ``at`` lies in working time (a period's closing instant counts)."""
        if self.always:
            return True
        day = self._local_day(at)
        for candidate in (day - timedelta(days=1), day, day + timedelta(days=1)):
            for start, end in self.periods(candidate):
                if start <= at <= end:
                    return True
        return False

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Working time between two instants (zero when ``end`` is not after ``start``)."""
        if end <= start:
            return timedelta(0)
        if self.always:
            return end - start
        total = timedelta(0)
        day = self._local_day(start) - timedelta(days=1)
        last = self._local_day(end)
        while day <= last:
            for begin, finish in self.periods(day):
                overlap = min(finish, end) - max(begin, start)
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The instant ``amount`` of working time after ``start`` (before it, if negative).

        Adding zero returns ``start`` itself.
        """
        if self.always or not amount:
            return start + amount
        if amount > timedelta(0):
            return self._forward(start, amount)
        return self._backward(start, -amount)

    def _forward(self, start: datetime, left: timedelta) -> datetime:
        day = self._local_day(start) - timedelta(days=1)
        for _day in range(_SEARCH_DAYS):
            for begin, finish in self.periods(day):
                if finish <= start:
                    continue
                begin = max(begin, start)
                room = finish - begin
                if left <= room:
                    return begin + left
                left -= room
            day += timedelta(days=1)
        raise InvalidInput(
            _("calendar {name!r} has no working time for ten years").format(name=self.name)
        )

    def _backward(self, start: datetime, left: timedelta) -> datetime:
        day = self._local_day(start) + timedelta(days=1)
        for _day in range(_SEARCH_DAYS):
            for begin, finish in reversed(self.periods(day)):
                if begin >= start:
                    continue
                finish = min(finish, start)
                room = finish - begin
                if left <= room:
                    return finish - left
                left -= room
            day -= timedelta(days=1)
        raise InvalidInput(
            _("calendar {name!r} has no working time for ten years").format(name=self.name)
        )


ALWAYS = WorkCalendar(name="24x7", always=True)


def parse_span(text: str, *, calendar: str) -> tuple[int, int]:
    """``08:00-18:00`` as minutes of the day; ``24:00`` ends a span at midnight."""
    try:
        start_text, end_text = (part.strip() for part in str(text).split("-"))
        start, end = _minute(start_text), _minute(end_text)
    except ValueError:
        raise InvalidInput(
            _("calendar {calendar!r}: {text!r} is not a span of hours like 08:00-18:00").format(
                calendar=calendar, text=text
            )
        ) from None
    if not start < end:
        raise InvalidInput(
            _("calendar {calendar!r}: {text!r} ends before it starts").format(
                calendar=calendar, text=text
            )
        )
    return start, end


def _minute(text: str) -> int:
    hours, _sep, minutes = text.partition(":")
    if not hours.isdigit() or (minutes and not minutes.isdigit()):
        raise ValueError(text)
    value = int(hours) * 60 + int(minutes or 0)
    if int(minutes or 0) > 59 or value > 1440:
        raise ValueError(text)
    return value


def parse_weekdays(names: Sequence[str], *, calendar: str) -> frozenset[int]:
    """``["mon", "tue", ...]`` or ranges like ``["mon-fri"]`` as weekday numbers."""
    days: set[int] = set()
    for raw in names:
        first, _sep, last = str(raw).strip().lower().partition("-")
        try:
            begin = WEEKDAYS.index(first.strip()[:3])
            end = WEEKDAYS.index(last.strip()[:3]) if last else begin
        except ValueError:
            raise InvalidInput(
                _(
                    "calendar {calendar!r}: unknown day {raw!r}: use mon, tue, wed, thu, fri, "
                    "sat, sun or a range like mon-fri"
                ).format(calendar=calendar, raw=raw)
            ) from None
        if end < begin:
            raise InvalidInput(
                _("calendar {calendar!r}: {raw!r} runs backwards").format(
                    calendar=calendar, raw=raw
                )
            )
        days.update(range(begin, end + 1))
    return frozenset(days)


class Timeline:
    """A calendar's working periods over a range of days, in whole seconds since the epoch.

    For bulk work (the demo desk plays a million tickets): the same answers as the calendar
    for whole seconds, by binary search over the periods instead of walking day by day.
    Instants outside the range are handed to the calendar itself.
    """

    def __init__(self, calendar: WorkCalendar, first: date, last: date) -> None:
        self.calendar = calendar
        self.starts: list[int] = []
        self.ends: list[int] = []
        #: Working seconds before each period begins, and when each ends.
        self.before: list[int] = []
        self.through: list[int] = []
        if calendar.always:
            return
        total, day = 0, first
        while day <= last:
            for begin, finish in calendar.periods(day):
                start, end = int(begin.timestamp()), int(finish.timestamp())
                if self.ends and start < self.ends[-1]:
                    start = self.ends[-1]
                if end <= start:
                    continue
                self.starts.append(start)
                self.ends.append(end)
                self.before.append(total)
                total += end - start
                self.through.append(total)
            day += timedelta(days=1)

    def _covers(self, *instants: int) -> bool:
        return bool(self.starts) and all(self.starts[0] <= at <= self.ends[-1] for at in instants)

    def _worked(self, at: int) -> int:
        """Working seconds from the range's start to ``at``."""
        i = bisect.bisect_right(self.ends, at)
        if i == len(self.starts):
            return self.through[-1]
        return self.before[i] + max(0, at - self.starts[i])

    def add(self, at: int, seconds: int) -> int:
        if self.calendar.always or not seconds:
            return at + seconds
        if seconds > 0 and self._covers(at):
            target = self._worked(at) + seconds
            j = bisect.bisect_left(self.through, target)
            if j < len(self.starts):
                return self.starts[j] + (target - self.before[j])
        moved = self.calendar.add(datetime.fromtimestamp(at, UTC), timedelta(seconds=seconds))
        return int(moved.timestamp())

    def elapsed(self, start: int, end: int) -> int:
        if end <= start:
            return 0
        if self.calendar.always:
            return end - start
        if self._covers(start, end):
            return self._worked(end) - self._worked(start)
        spent = self.calendar.elapsed(
            datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
        )
        return int(spent.total_seconds())
