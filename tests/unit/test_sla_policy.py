"""The SLA policy file, its validation, the alarms of a clock and escalation rules (pure)."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from deskterm import defaults
from deskterm.domain.errors import InvalidInput
from deskterm.domain.sla import (
    Alert,
    Clock,
    ClockState,
    SlaPolicy,
    SlaTargets,
    Trigger,
    alarms_due,
    describe_rules,
    next_alarm,
    schedule,
)
from deskterm.paths import shipped_data_dir

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


def _shipped() -> dict[str, Any]:
    with (shipped_data_dir() / "sla.toml").open("rb") as handle:
        return tomllib.load(handle)


def _policy(raw: dict[str, Any]) -> SlaPolicy:
    return SlaPolicy.from_mapping(raw, holidays=defaults.public_holidays, zone=defaults.time_zone)


def test_the_shipped_policy_counts_p1_around_the_clock_and_the_rest_in_office_hours() -> None:
    policy = _policy(_shipped())
    assert policy.warning_share == 0.75
    assert policy.calendar(1).always
    office = policy.calendar(3)
    assert not office.always and office.name == "office"
    # 24 office hours from Monday 09:00 London (UTC in March): 9 + 10 + 5 hours.
    assert policy.due_times(T0, 3) == (
        T0 + timedelta(hours=4),
        datetime(2026, 3, 4, 13, 0, tzinfo=UTC),
    )
    assert policy.due_times(T0, 1) == (T0 + timedelta(minutes=15), T0 + timedelta(hours=4))
    assert [r.when for r in policy.rules] == [
        Trigger.UNASSIGNED,
        Trigger.RESOLUTION_BREACHED,
        Trigger.RESOLUTION_BREACHED,
    ]
    assert describe_rules(policy.rules[:1]) == [
        "P1 waiting for a taker: P1 unassigned for 10 minutes → escalate to level 2 and "
        "tell the group's supervisors"
    ]


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mangle(raw: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = raw
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return mangle


_DELETE = object()


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (_set("warning_share", 1.5), "warning_share must be between 0.05 and 0.99, not 1.5"),
        (_set("warning_share", "most"), "warning_share must be a number"),
        (_set("P3", _DELETE), "no targets for P3"),
        (_set("P2.resolution_hours", _DELETE), "P2 needs response_hours and resolution_hours"),
        (_set("P2.resolution_hours", 0.5), "P2: resolution_hours is shorter than response_hours"),
        (_set("P2.calendar", "ofice"), "P2 uses calendar 'ofice', which is not defined"),
        (_set("P2.respones_hours", 1), "P2: unknown setting 'respones_hours'"),
        (_set("calendars.office.time_zone", "Europe/Londn"), "unknown time zone 'Europe/Londn'"),
        (_set("calendars.office.holidays", "XX"), "calendar 'office': holidays:"),
        (_set("calendars.office.hours", ["18:00-08:00"]), "'18:00-08:00' ends before it starts"),
        (_set("calendars.office.days", ["mon-fry"]), "unknown day 'mon-fry'"),
        (_set("calendars.office.extra_holidays", ["24.12."]), "'24.12.' is not a date"),
        (_set("calendars.24x7", {}), "calendar '24x7' is built in"),
        (_set("sla_typo", 1), "unknown setting 'sla_typo'"),
        (_set("escalation.0.when", "late"), "'when' must be one of unassigned"),
        (_set("escalation.0.after_minutes", -5), "after_minutes must be at least 0"),
        (_set("escalation.0.escalate_to_level", 5), "escalate_to_level must be 2 or 3"),
        (_set("escalation.0.priorities", ["P9"]), "unknown priority 'P9'"),
        (_set("escalation.1.after_minutes", 5), "after_minutes only goes with when"),
        (_set("escalation.2.tell_supervisor", False), "does nothing"),
        (_set("escalation.1.name", "P1 waiting for a taker"), "same name"),
    ],
)
def test_a_broken_policy_file_is_refused_with_what_is_wrong(
    mangle: Callable[[dict[str, Any]], None], message: str
) -> None:
    raw = copy.deepcopy(_shipped())
    mangle(raw)
    with pytest.raises(InvalidInput) as err:
        _policy(raw)
    assert message in str(err.value)
    assert str(err.value).startswith("sla: ")


def test_the_loader_names_the_file_that_is_wrong(tmp_path, monkeypatch) -> None:
    config = tmp_path / "deskterm"
    config.mkdir()
    (config / "sla.toml").write_text("warning_share = 2\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    defaults.sla_policy.cache_clear()
    try:
        with pytest.raises(InvalidInput) as err:
            defaults.sla_policy()
        assert str(config / "sla.toml") in str(err.value)
        assert "warning_share must be between" in str(err.value)
    finally:
        defaults.sla_policy.cache_clear()


def test_extra_closing_days_and_a_subdivisions_holidays_are_days_off() -> None:
    raw = copy.deepcopy(_shipped())
    raw["calendars"]["office"]["extra_holidays"] = ["2026-03-03"]
    raw["calendars"]["office"]["subdivision"] = "SCT"
    calendar = _policy(raw).calendar(3)
    assert date(2026, 3, 3) in calendar.days_off
    assert date(2026, 11, 30) in calendar.days_off  # St Andrew's Day, in Scotland only


# --------------------------------------------------------------------------- alarms

TARGETS = SlaTargets(response=timedelta(hours=1), resolution=timedelta(hours=8))


def test_a_clock_warns_then_breaches_each_once() -> None:
    plan = schedule(ClockState.start(T0), TARGETS, 0.75)
    assert plan.resolution_warn == T0 + timedelta(hours=6)
    alerts = Alert.NONE

    raised, alerts = alarms_due(
        plan, alerts, answered=True, running=True, now=T0 + timedelta(hours=6)
    )
    assert [(r.clock, r.breach) for r in raised] == [(Clock.RESOLUTION, False)]
    again, alerts = alarms_due(
        plan, alerts, answered=True, running=True, now=T0 + timedelta(hours=7)
    )
    assert again == []
    assert next_alarm(plan, alerts, answered=True, running=True) == T0 + timedelta(hours=8)

    raised, alerts = alarms_due(
        plan, alerts, answered=True, running=True, now=T0 + timedelta(hours=9)
    )
    assert [(r.clock, r.breach, r.at) for r in raised] == [
        (Clock.RESOLUTION, True, T0 + timedelta(hours=8))
    ]
    assert next_alarm(plan, alerts, answered=True, running=True) is None


def test_a_breach_found_late_is_logged_without_its_warning() -> None:
    plan = schedule(ClockState.start(T0), TARGETS, 0.75)
    raised, alerts = alarms_due(
        plan, Alert.NONE, answered=False, running=True, now=T0 + timedelta(days=1)
    )
    assert {(r.clock, r.breach) for r in raised} == {
        (Clock.RESPONSE, True),
        (Clock.RESOLUTION, True),
    }
    assert alerts == Alert.RESPONSE_WARNED | Alert.RESPONSE_BREACHED | (
        Alert.RESOLUTION_WARNED | Alert.RESOLUTION_BREACHED
    )


def test_a_paused_clock_raises_nothing_and_a_given_response_stops_its_clock() -> None:
    plan = schedule(ClockState.start(T0), TARGETS, 0.75)
    late = T0 + timedelta(days=1)
    assert alarms_due(plan, Alert.NONE, answered=False, running=False, now=late) == ([], Alert.NONE)
    assert next_alarm(plan, Alert.NONE, answered=False, running=False) is None
    assert next_alarm(plan, Alert.NONE, answered=True, running=True) == plan.resolution_warn
    assert next_alarm(plan, Alert.NONE, answered=False, running=True) == plan.response_warn


def test_a_raised_priority_can_put_the_due_time_in_the_past() -> None:
    ran = ClockState.start(T0).rebase(T0 + timedelta(hours=3), TARGETS.calendar)
    assert ran.used == timedelta(hours=3)
    urgent = SlaTargets(response=timedelta(minutes=15), resolution=timedelta(hours=2))
    plan = schedule(ran, urgent, 0.75)
    assert plan.resolution_due == T0 + timedelta(hours=2)


def test_the_cadence_proposes_the_next_call_in_working_hours() -> None:
    policy = _policy(_shipped())
    friday_five = datetime(2026, 3, 6, 17, 0, tzinfo=UTC)
    # P3: every 10 office hours: 1 on Friday, 9 on Monday.
    assert policy.propose_callback(friday_five, 3) == datetime(2026, 3, 9, 17, 0, tzinfo=UTC)
    assert policy.propose_callback(friday_five, 1) == friday_five + timedelta(hours=1)
    assert policy.propose_callback(friday_five, 5) is None
