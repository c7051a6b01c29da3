"""Working-time arithmetic and the SLA clock: property tests over calendars, zones with
daylight-saving changes and holidays, and worked examples a person can check by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from deskterm import defaults
from deskterm.domain.errors import InvalidInput
from deskterm.domain.sla import ClockState, SlaTargets, schedule
from deskterm.domain.worktime import ALWAYS, Timeline, WorkCalendar, parse_span, parse_weekdays

# Zones with a DST change of an hour (both hemispheres), half an hour (Lord Howe), none, and
# an odd offset.
ZONES = [
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Chatham",
]


@st.composite
def calendars(draw: st.DrawFn) -> WorkCalendar:
    # Span boundaries on a quarter-hour grid, paired off in order: 1 to 3 spans a day.
    marks = sorted(draw(st.sets(st.integers(0, 96), min_size=2, max_size=6)))
    if len(marks) % 2:
        marks = marks[:-1]
    spans = tuple((marks[i] * 15, marks[i + 1] * 15) for i in range(0, len(marks), 2))
    weekdays = draw(st.frozensets(st.integers(0, 6), min_size=1))
    # At least an hour a week, so the longest target fits in the ten years searched.
    assume(sum(end - start for start, end in spans) * len(weekdays) >= 60)
    return WorkCalendar(
        name="drawn",
        zone=ZoneInfo(draw(st.sampled_from(ZONES))),
        weekdays=weekdays,
        spans=spans,
        days_off=draw(st.frozensets(st.dates(date(2025, 1, 1), date(2028, 12, 31)), max_size=40)),
    )


instants = st.datetimes(
    min_value=datetime(2025, 6, 1), max_value=datetime(2027, 6, 1), timezones=st.just(UTC)
)
#: Up to 300 working hours (more than the longest shipped target), to the microsecond.
amounts = st.integers(1, 300 * 3600 * 10**6).map(lambda us: timedelta(microseconds=us))


@given(calendars(), instants, amounts)
def test_a_due_time_is_always_within_working_hours(
    calendar: WorkCalendar, start: datetime, amount: timedelta
) -> None:
    due = calendar.add(start, amount)
    assert due > start
    assert calendar.is_working(due)


@given(calendars(), instants, amounts)
def test_the_working_time_up_to_a_due_time_is_exactly_what_was_added(
    calendar: WorkCalendar, start: datetime, amount: timedelta
) -> None:
    due = calendar.add(start, amount)
    assert calendar.elapsed(start, due) == amount
    # Going back the same working time finds where the counting began (the start itself,
    # or the opening of the first working period after it).
    back = calendar.add(due, -amount)
    assert back >= start and calendar.elapsed(start, back) == timedelta(0)
    assert calendar.elapsed(back, due) == amount


@given(calendars(), instants, amounts, amounts)
def test_adding_more_working_time_never_gives_an_earlier_due_time(
    calendar: WorkCalendar, start: datetime, a: timedelta, b: timedelta
) -> None:
    small, large = sorted((a, b))
    assert calendar.add(start, small) <= calendar.add(start, large)
    if small < large:
        assert calendar.add(start, small) < calendar.add(start, large)


@given(calendars(), instants, instants, amounts)
def test_starting_later_never_gives_an_earlier_due_time(
    calendar: WorkCalendar, a: datetime, b: datetime, amount: timedelta
) -> None:
    early, late = sorted((a, b))
    assert calendar.add(early, amount) <= calendar.add(late, amount)


@given(calendars(), instants, st.integers(0, 40 * 86400), st.integers(0, 40 * 86400))
def test_working_time_adds_up_over_consecutive_stretches(
    calendar: WorkCalendar, start: datetime, first: int, second: int
) -> None:
    middle = start + timedelta(seconds=first)
    end = middle + timedelta(seconds=second)
    assert calendar.elapsed(start, end) == calendar.elapsed(start, middle) + calendar.elapsed(
        middle, end
    )
    assert calendar.elapsed(start, end) <= end - start


@settings(max_examples=60)
@given(
    calendars(),
    instants,
    st.integers(0, 30 * 86400),
    st.integers(0, 30 * 86400),
    st.integers(1, 200),
)
def test_pausing_never_shortens_a_deadline(
    calendar: WorkCalendar, opened: datetime, ran: int, waited: int, target_hours: int
) -> None:
    targets = SlaTargets(
        response=timedelta(hours=1), resolution=timedelta(hours=target_hours), calendar=calendar
    )
    never_paused = schedule(ClockState.start(opened), targets, 0.75)
    paused_at = opened + timedelta(seconds=ran)
    resumed_at = paused_at + timedelta(seconds=waited)
    clock = ClockState.start(opened).pause(paused_at, calendar).resume(resumed_at)
    after_pause = schedule(clock, targets, 0.75)

    assert after_pause.resolution_due is not None and never_paused.resolution_due is not None
    assert after_pause.resolution_due >= never_paused.resolution_due
    if never_paused.resolution_due > paused_at:
        # Paused in time: the deadline moved by exactly the working time we waited.
        moved = calendar.elapsed(never_paused.resolution_due, after_pause.resolution_due)
        assert moved == calendar.elapsed(paused_at, resumed_at)
    assert after_pause.resolution_warn is not None
    assert after_pause.resolution_warn <= after_pause.resolution_due


@given(instants, amounts)
def test_around_the_clock_is_plain_addition(start: datetime, amount: timedelta) -> None:
    assert ALWAYS.add(start, amount) == start + amount
    assert ALWAYS.elapsed(start, start + amount) == amount
    assert ALWAYS.is_working(start)


# --------------------------------------------------------------------------- worked examples

LONDON = ZoneInfo("Europe/London")
OFFICE = WorkCalendar(name="office", zone=LONDON, spans=((8 * 60, 18 * 60),))


def _london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON).astimezone(UTC)  # type: ignore[misc]


def test_a_friday_evening_call_is_due_on_monday() -> None:
    friday_five = _london(2026, 3, 6, 17, 0)
    assert OFFICE.add(friday_five, timedelta(hours=4)) == _london(2026, 3, 9, 11, 0)


def test_hours_after_the_clocks_go_forward_are_office_hours_in_local_time() -> None:
    # Clocks go forward on Sunday 29 March 2026: Monday's 08:00 is 07:00 UTC.
    friday_five = _london(2026, 3, 27, 17, 0)
    due = OFFICE.add(friday_five, timedelta(hours=2))
    assert due == _london(2026, 3, 30, 9, 0)
    assert due == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


def test_a_whole_day_calendar_has_a_23_hour_and_a_25_hour_day() -> None:
    every_hour = WorkCalendar(
        name="all day", zone=LONDON, weekdays=frozenset(range(7)), spans=((0, 1440),)
    )
    spring, autumn = date(2026, 3, 29), date(2026, 10, 25)
    for day, hours in ((spring, 23), (autumn, 25)):
        start = _london(day.year, day.month, day.day, 0, 0)
        end = _london(day.year, day.month, day.day + 1, 0, 0)
        assert every_hour.elapsed(start, end) == timedelta(hours=hours)


def test_public_holidays_from_the_holidays_package_are_days_off() -> None:
    english = defaults.public_holidays("GB", "ENG")
    office = WorkCalendar(name="office", zone=LONDON, spans=((9 * 60, 17 * 60),), days_off=english)
    # Christmas Day is a Friday in 2026 and Boxing Day's holiday moves to Monday the 28th.
    thursday_four = _london(2026, 12, 24, 16, 0)
    assert office.add(thursday_four, timedelta(hours=2)) == _london(2026, 12, 29, 10, 0)
    assert not office.is_working(_london(2026, 12, 28, 12, 0))


def test_the_desks_own_closing_days_count_too() -> None:
    office = WorkCalendar(
        name="office", zone=LONDON, spans=((9 * 60, 17 * 60),), days_off={date(2026, 3, 9)}
    )
    friday_four = _london(2026, 3, 6, 16, 0)
    assert office.add(friday_four, timedelta(hours=2)) == _london(2026, 3, 10, 10, 0)


def test_a_lunch_break_does_not_count() -> None:
    split = WorkCalendar(name="split", zone=LONDON, spans=((8 * 60, 12 * 60), (13 * 60, 17 * 60)))
    eleven = _london(2026, 3, 2, 11, 0)
    assert split.add(eleven, timedelta(hours=2)) == _london(2026, 3, 2, 14, 0)
    assert split.elapsed(eleven, _london(2026, 3, 2, 14, 0)) == timedelta(hours=2)


def test_a_calendar_without_working_time_is_refused() -> None:
    with pytest.raises(InvalidInput, match="no working time"):
        WorkCalendar(name="never", weekdays=frozenset())
    with pytest.raises(InvalidInput, match="ascending spans"):
        WorkCalendar(name="odd", spans=((600, 700), (650, 800)))


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("08:00-18:00", (480, 1080)), ("9-17", (540, 1020)), ("00:00-24:00", (0, 1440))],
)
def test_spans_of_hours(text: str, minutes: tuple[int, int]) -> None:
    assert parse_span(text, calendar="c") == minutes


@pytest.mark.parametrize("text", ["18:00-08:00", "8am-5pm", "08:00", "25:00-26:00", "08:61-09:00"])
def test_spans_that_are_not_spans(text: str) -> None:
    with pytest.raises(InvalidInput, match="calendar 'c'"):
        parse_span(text, calendar="c")


def test_weekdays_by_name_and_range() -> None:
    assert parse_weekdays(["mon-fri"], calendar="c") == frozenset(range(5))
    assert parse_weekdays(["Saturday", "sun"], calendar="c") == frozenset({5, 6})
    with pytest.raises(InvalidInput, match="unknown day 'funday'"):
        parse_weekdays(["funday"], calendar="c")


@settings(max_examples=50)
@given(
    calendars(),
    st.integers(
        int(datetime(2025, 6, 1, tzinfo=UTC).timestamp()),
        int(datetime(2027, 6, 1, tzinfo=UTC).timestamp()),
    ),
    st.integers(1, 300 * 3600),
    st.integers(0, 60 * 86400),
)
def test_the_bulk_timeline_agrees_with_the_calendar(
    calendar: WorkCalendar, at: int, seconds: int, span: int
) -> None:
    timeline = Timeline(calendar, date(2025, 5, 1), date(2027, 9, 1))
    moment = datetime.fromtimestamp(at, UTC)
    assert timeline.add(at, seconds) == int(
        calendar.add(moment, timedelta(seconds=seconds)).timestamp()
    )
    later = datetime.fromtimestamp(at + span, UTC)
    assert timeline.elapsed(at, at + span) == int(calendar.elapsed(moment, later).total_seconds())
