"""Service levels: targets per priority on a working calendar, the clock a ticket carries,
the warnings and breaches it raises, escalation rules and the callback cadence.

A ticket's clock counts working time (see ``worktime``) from when it was opened, except while
it waits on the customer or is finished: then it is paused, and the time it has used is kept.
Both targets (first response and resolution) run on the same clock, so one number of used
seconds and the instant the current running stretch began are all a ticket needs:

    due = calendar.add(anchor, target - used)

where the anchor is the start of the running stretch (or the pause, while paused). A change
of priority or calendar folds the stretch so far into ``used`` and starts a new one, so the
time already spent is never forgotten and a raised priority can put a due time in the past.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from enum import IntFlag, StrEnum
from typing import Any

from deskterm.domain.errors import InvalidInput
from deskterm.domain.priority import PRIORITIES, parse_priority
from deskterm.domain.worktime import ALWAYS, WorkCalendar, parse_span, parse_weekdays
from deskterm.i18n import _, ngettext


class Clock(StrEnum):
    RESPONSE = "first_response"
    RESOLUTION = "resolution"

    @property
    def label(self) -> str:
        return "first response" if self == Clock.RESPONSE else "resolution"


class Alert(IntFlag):
    """What has been written to a ticket's log already: each at most once per ticket."""

    NONE = 0
    RESPONSE_WARNED = 1
    RESPONSE_BREACHED = 2
    RESOLUTION_WARNED = 4
    RESOLUTION_BREACHED = 8

    @staticmethod
    def warned(clock: Clock) -> Alert:
        return Alert.RESPONSE_WARNED if clock == Clock.RESPONSE else Alert.RESOLUTION_WARNED

    @staticmethod
    def breached(clock: Clock) -> Alert:
        return Alert.RESPONSE_BREACHED if clock == Clock.RESPONSE else Alert.RESOLUTION_BREACHED


@dataclass(frozen=True)
class SlaTargets:
    response: timedelta
    resolution: timedelta
    calendar: WorkCalendar = ALWAYS
    #: How often to call the customer back while the case is open (None: no cadence).
    callback_every: timedelta | None = None


# --------------------------------------------------------------------------- the clock


@dataclass(frozen=True)
class ClockState:
    """A ticket's SLA clock: running since an instant, or paused at one, with the working
    time used before that instant."""

    running_since: datetime | None
    paused_at: datetime | None = None
    used: timedelta = timedelta(0)

    @classmethod
    def start(cls, at: datetime) -> ClockState:
        return cls(running_since=at)

    @property
    def running(self) -> bool:
        return self.running_since is not None

    @property
    def anchor(self) -> datetime | None:
        return self.running_since or self.paused_at

    def used_at(self, calendar: WorkCalendar, now: datetime) -> timedelta:
        if self.running_since is None:
            return self.used
        return self.used + calendar.elapsed(self.running_since, now)

    def pause(self, at: datetime, calendar: WorkCalendar) -> ClockState:
        if self.running_since is None:
            return self
        return ClockState(running_since=None, paused_at=at, used=self.used_at(calendar, at))

    def resume(self, at: datetime) -> ClockState:
        if self.running_since is not None:
            return self
        return ClockState(running_since=at, paused_at=None, used=self.used)

    def rebase(self, at: datetime, calendar: WorkCalendar) -> ClockState:
        """The same clock, its running stretch so far folded into ``used`` (before the
        calendar or the targets change)."""
        if self.running_since is None or at <= self.running_since:
            return self
        return ClockState(running_since=at, paused_at=None, used=self.used_at(calendar, at))


@dataclass(frozen=True)
class Schedule:
    """Due and warning instants of both clocks (while paused: as if resumed at the pause)."""

    response_due: datetime | None = None
    response_warn: datetime | None = None
    resolution_due: datetime | None = None
    resolution_warn: datetime | None = None

    def due(self, clock: Clock) -> datetime | None:
        return self.response_due if clock == Clock.RESPONSE else self.resolution_due

    def warn(self, clock: Clock) -> datetime | None:
        return self.response_warn if clock == Clock.RESPONSE else self.resolution_warn


def schedule(state: ClockState, targets: SlaTargets | None, warning_share: float) -> Schedule:
    anchor = state.anchor
    if targets is None or anchor is None:
        return Schedule()
    calendar = targets.calendar

    def at(amount: timedelta) -> datetime:
        return calendar.add(anchor, amount - state.used)

    return Schedule(
        response_due=at(targets.response),
        response_warn=at(targets.response * warning_share),
        resolution_due=at(targets.resolution),
        resolution_warn=at(targets.resolution * warning_share),
    )


@dataclass(frozen=True)
class Raised:
    clock: Clock
    breach: bool
    #: When it happened: the due (or warning) instant, not when the check noticed.
    at: datetime


def pending_clocks(answered: bool) -> tuple[Clock, ...]:
    """The clocks still ticking for alarms: first response only until it was given."""
    return (Clock.RESOLUTION,) if answered else (Clock.RESPONSE, Clock.RESOLUTION)


def alarms_due(
    plan: Schedule, alerts: Alert, *, answered: bool, running: bool, now: datetime
) -> tuple[list[Raised], Alert]:
    """Warnings and breaches that have come by ``now`` and were not logged yet, and the
    alerts flags afterwards. A breach found late swallows its own warning: telling someone
    a deadline is near after it has passed helps nobody."""
    raised: list[Raised] = []
    if not running:
        return raised, alerts
    for clock in pending_clocks(answered):
        due, warn = plan.due(clock), plan.warn(clock)
        if due is not None and due <= now and not alerts & Alert.breached(clock):
            raised.append(Raised(clock, True, due))
            alerts |= Alert.breached(clock) | Alert.warned(clock)
        elif warn is not None and warn <= now and not alerts & Alert.warned(clock):
            raised.append(Raised(clock, False, warn))
            alerts |= Alert.warned(clock)
    return raised, alerts


def next_alarm(plan: Schedule, alerts: Alert, *, answered: bool, running: bool) -> datetime | None:
    """When the check must next look at the ticket (None: nothing can happen until it
    changes)."""
    if not running:
        return None
    moments: list[datetime] = []
    for clock in pending_clocks(answered):
        warn, due = plan.warn(clock), plan.due(clock)
        if warn is not None and not alerts & Alert.warned(clock):
            moments.append(warn)
        if due is not None and not alerts & Alert.breached(clock):
            moments.append(due)
    return min(moments) if moments else None


# --------------------------------------------------------------------------- escalation rules


class Trigger(StrEnum):
    UNASSIGNED = "unassigned"
    RESPONSE_WARNING = "response_warning"
    RESPONSE_BREACHED = "response_breached"
    RESOLUTION_WARNING = "resolution_warning"
    RESOLUTION_BREACHED = "resolution_breached"

    @staticmethod
    def for_alarm(raised: Raised) -> Trigger:
        if raised.clock == Clock.RESPONSE:
            return Trigger.RESPONSE_BREACHED if raised.breach else Trigger.RESPONSE_WARNING
        return Trigger.RESOLUTION_BREACHED if raised.breach else Trigger.RESOLUTION_WARNING


@dataclass(frozen=True)
class EscalationRule:
    """When a ticket (of some priorities) meets ``when``: send it up and/or tell the
    supervisors of its group."""

    name: str
    when: Trigger
    priorities: frozenset[int] = frozenset()
    after: timedelta | None = None
    to_level: int | None = None
    up: int = 0
    tell_supervisor: bool = False

    def applies_to(self, priority: int) -> bool:
        return not self.priorities or priority in self.priorities

    def target_level(self, level: int) -> int | None:
        """The level the ticket goes to, or None when this rule moves nothing from here."""
        wanted = self.to_level if self.to_level is not None else level + self.up
        wanted = min(wanted, 3)
        return wanted if wanted > level else None

    def condition(self, scope: str) -> str:
        """What the rule waits for, e.g. ``P1 unassigned for 10 minutes``: in English, as the
        ticket's log keeps it (data; ``condition_words`` says it to an analyst)."""
        if self.when == Trigger.UNASSIGNED:
            minutes = int((self.after or timedelta(0)).total_seconds() // 60)
            return f"{scope} unassigned for {minutes} minutes"
        clock = "first response" if self.when.value.startswith("response") else "resolution"
        state = "breached" if self.when.value.endswith("breached") else "nearly used up"
        return f"{scope} {clock} SLA {state}"

    def condition_words(self, scope: str) -> str:
        """What the rule waits for, in the analyst's language; ``scope`` is like ``P1``."""
        if self.when == Trigger.UNASSIGNED:
            minutes = int((self.after or timedelta(0)).total_seconds() // 60)
            return ngettext(
                "{scope} unassigned for {minutes} minute",
                "{scope} unassigned for {minutes} minutes",
                minutes,
            ).format(scope=scope, minutes=minutes)
        response = self.when.value.startswith("response")
        if self.when.value.endswith("breached"):
            if response:
                said = _("{scope} first response SLA breached")
            else:
                said = _("{scope} resolution SLA breached")
        elif response:
            said = _("{scope} first response SLA nearly used up")
        else:
            said = _("{scope} resolution SLA nearly used up")
        return said.format(scope=scope)

    def reason_for(self, priority: int) -> str:
        """Why this rule fired on a ticket of ``priority``: the reason in its log (English,
        data; ``reason_words`` says it to an analyst)."""
        return f"{self.condition(f'P{priority}')} (rule {self.name!r})"

    def reason_words(self, priority: int) -> str:
        """Why this rule fired on a ticket of ``priority``, in the analyst's language."""
        return _("{condition} (rule {rule})").format(
            condition=self.condition_words(f"P{priority}"), rule=repr(self.name)
        )


_RULE_KEYS = frozenset(
    {
        "name",
        "when",
        "priorities",
        "after_minutes",
        "escalate_to_level",
        "escalate_levels",
        "tell_supervisor",
    }
)


def _rule(raw: Any, index: int) -> EscalationRule:
    where = _("escalation rule {number}").format(number=index)
    if not isinstance(raw, Mapping):
        raise InvalidInput(_("sla: {where} must be a table ([[escalation]])").format(where=where))
    name = str(raw.get("name") or "").strip()
    if not name:
        raise InvalidInput(_("sla: {where} needs a name").format(where=where))
    where = _("escalation rule {name}").format(name=repr(name))
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise InvalidInput(
            _("sla: {where}: unknown setting {unknown!r}").format(where=where, unknown=unknown[0])
        )
    try:
        when = Trigger(str(raw.get("when", "")).strip().lower())
    except ValueError:
        allowed = ", ".join(t.value for t in Trigger)
        raise InvalidInput(
            _("sla: {where}: 'when' must be one of {allowed}").format(where=where, allowed=allowed)
        ) from None
    priorities = raw.get("priorities", [])
    if isinstance(priorities, str):
        priorities = [priorities]
    if not isinstance(priorities, list):
        raise InvalidInput(
            _('sla: {where}: priorities must be a list like ["P1", "P2"]').format(where=where)
        )
    chosen = frozenset(_priority(p, where) for p in priorities)
    after = None
    if when == Trigger.UNASSIGNED:
        minutes = _number(raw.get("after_minutes"), f"{where}: after_minutes", low=0)
        after = timedelta(minutes=minutes)
    elif "after_minutes" in raw:
        raise InvalidInput(
            _('sla: {where}: after_minutes only goes with when = "unassigned"').format(where=where)
        )
    to_level = raw.get("escalate_to_level")
    up = raw.get("escalate_levels", 0)
    if to_level is not None and up:
        raise InvalidInput(
            _("sla: {where}: give escalate_to_level or escalate_levels, not both").format(
                where=where
            )
        )
    if to_level is not None and (not isinstance(to_level, int) or to_level not in (2, 3)):
        raise InvalidInput(_("sla: {where}: escalate_to_level must be 2 or 3").format(where=where))
    if not isinstance(up, int) or not 0 <= up <= 2:
        raise InvalidInput(_("sla: {where}: escalate_levels must be 1 or 2").format(where=where))
    tell = raw.get("tell_supervisor", False)
    if not isinstance(tell, bool):
        raise InvalidInput(
            _("sla: {where}: tell_supervisor must be true or false").format(where=where)
        )
    if to_level is None and not up and not tell:
        raise InvalidInput(
            _(
                "sla: {where} does nothing: give escalate_to_level, escalate_levels or "
                "tell_supervisor = true"
            ).format(where=where)
        )
    return EscalationRule(
        name=name,
        when=when,
        priorities=chosen,
        after=after,
        to_level=to_level,
        up=up,
        tell_supervisor=tell,
    )


def _priority(value: Any, where: str) -> int:
    try:
        return parse_priority(value)
    except InvalidInput:
        raise InvalidInput(
            _("sla: {where}: unknown priority {value!r}: use P1 to P5").format(
                where=where, value=value
            )
        ) from None


def _number(value: Any, where: str, *, low: float, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(_("sla: {where} must be a number").format(where=where))
    if value < low or (high is not None and value > high):
        if high is not None:
            said = _("sla: {where} must be between {low:g} and {high:g}, not {value:g}")
        else:
            said = _("sla: {where} must be at least {low:g}, not {value:g}")
        raise InvalidInput(said.format(where=where, low=low, high=high, value=value))
    return float(value)


# --------------------------------------------------------------------------- the policy

HolidaySource = Callable[[str, "str | None"], Collection[date]]
ZoneSource = Callable[[str], tzinfo]


@dataclass(frozen=True)
class SlaPolicy:
    targets: Mapping[int, SlaTargets]
    warning_share: float = 0.75
    rules: tuple[EscalationRule, ...] = ()
    calendars: Mapping[str, WorkCalendar] = field(default_factory=lambda: {ALWAYS.name: ALWAYS})

    def for_priority(self, priority: int) -> SlaTargets | None:
        return self.targets.get(priority)

    def calendar(self, priority: int) -> WorkCalendar:
        target = self.targets.get(priority)
        return target.calendar if target else ALWAYS

    def due_times(self, start: datetime, priority: int) -> tuple[datetime | None, datetime | None]:
        """(first response due, resolution due) for a ticket opened at ``start`` that never
        waited on its customer."""
        plan = schedule(ClockState.start(start), self.targets.get(priority), self.warning_share)
        return plan.response_due, plan.resolution_due

    def propose_callback(self, now: datetime, priority: int) -> datetime | None:
        """The next call to the customer by the cadence of the priority, in working time."""
        target = self.targets.get(priority)
        if target is None or target.callback_every is None:
            return None
        return target.calendar.add(now, target.callback_every)

    def rules_for(self, trigger: Trigger, priority: int) -> list[EscalationRule]:
        return [r for r in self.rules if r.when == trigger and r.applies_to(priority)]

    @classmethod
    def from_mapping(
        cls, raw: Mapping[str, Any], *, holidays: HolidaySource, zone: ZoneSource
    ) -> SlaPolicy:
        """Build and validate a policy from its TOML form (see data/sla.toml).

        ``holidays(country, subdivision)`` gives a country's public holidays (the
        ``holidays`` package, in the desk layer); ``zone(name)`` a time zone.
        """
        known = {"warning_share", "calendars", "escalation", *(f"P{n}" for n in PRIORITIES)}
        unknown = sorted(str(k) for k in raw if str(k).upper() not in known and k not in known)
        if unknown:
            raise InvalidInput(
                _(
                    "sla: unknown setting {unknown!r} (expected warning_share, "
                    "[calendars.NAME], [P1] to [P5] and [[escalation]])"
                ).format(unknown=unknown[0])
            )
        share = _number(raw.get("warning_share", 0.75), "warning_share", low=0.05, high=0.99)
        calendars = {ALWAYS.name: ALWAYS}
        specs = raw.get("calendars", {})
        if not isinstance(specs, Mapping):
            raise InvalidInput(_("sla: [calendars] must be a table, like [calendars.office]"))
        for name, spec in specs.items():
            if name == ALWAYS.name:
                raise InvalidInput(
                    _("sla: calendar {name!r} is built in; name yours otherwise").format(name=name)
                )
            calendars[str(name)] = _calendar(str(name), spec, holidays=holidays, zone=zone)
        targets: dict[int, SlaTargets] = {}
        for key, spec in raw.items():
            if str(key).upper() not in {f"P{n}" for n in PRIORITIES}:
                continue
            targets[parse_priority(key)] = _targets(str(key).upper(), spec, calendars)
        missing = [f"P{n}" for n in PRIORITIES if n not in targets]
        if missing:
            raise InvalidInput(_("sla: no targets for {names}").format(names=", ".join(missing)))
        rules = raw.get("escalation", [])
        if not isinstance(rules, list):
            raise InvalidInput(_("sla: escalation rules are written [[escalation]]"))
        parsed = tuple(_rule(spec, index) for index, spec in enumerate(rules, start=1))
        names = [r.name for r in parsed]
        if len(set(names)) != len(names):
            raise InvalidInput(_("sla: two escalation rules have the same name"))
        return cls(targets=targets, warning_share=share, rules=parsed, calendars=calendars)


_TARGET_KEYS = frozenset({"response_hours", "resolution_hours", "calendar", "callback_every_hours"})
_CALENDAR_KEYS = frozenset(
    {"time_zone", "days", "hours", "holidays", "subdivision", "extra_holidays"}
)


def _targets(code: str, spec: Any, calendars: Mapping[str, WorkCalendar]) -> SlaTargets:
    if not isinstance(spec, Mapping):
        raise InvalidInput(_("sla: [{code}] must be a table").format(code=code))
    unknown = sorted(set(spec) - _TARGET_KEYS)
    if unknown:
        raise InvalidInput(
            _("sla: {code}: unknown setting {unknown!r}").format(code=code, unknown=unknown[0])
        )
    for key in ("response_hours", "resolution_hours"):
        if key not in spec:
            raise InvalidInput(
                _("sla: {code} needs response_hours and resolution_hours").format(code=code)
            )
    response = _number(spec["response_hours"], f"{code}: response_hours", low=0.01)
    resolution = _number(spec["resolution_hours"], f"{code}: resolution_hours", low=0.01)
    if resolution < response:
        raise InvalidInput(
            _("sla: {code}: resolution_hours is shorter than response_hours").format(code=code)
        )
    name = str(spec.get("calendar", ALWAYS.name))
    if name not in calendars:
        known = ", ".join(sorted(calendars))
        raise InvalidInput(
            _("sla: {code} uses calendar {name!r}, which is not defined ({known})").format(
                code=code, name=name, known=known
            )
        )
    every = spec.get("callback_every_hours")
    cadence = (
        None
        if every is None
        else timedelta(hours=_number(every, f"{code}: callback_every_hours", low=0.25))
    )
    return SlaTargets(
        response=timedelta(hours=response),
        resolution=timedelta(hours=resolution),
        calendar=calendars[name],
        callback_every=cadence,
    )


def _calendar(name: str, spec: Any, *, holidays: HolidaySource, zone: ZoneSource) -> WorkCalendar:
    where = _("calendar {name}").format(name=repr(name))
    if not isinstance(spec, Mapping):
        raise InvalidInput(_("sla: [calendars.{name}] must be a table").format(name=name))
    unknown = sorted(set(spec) - _CALENDAR_KEYS)
    if unknown:
        raise InvalidInput(
            _("sla: {where}: unknown setting {unknown!r}").format(where=where, unknown=unknown[0])
        )
    zone_name = str(spec.get("time_zone", "UTC"))
    try:
        tz = zone(zone_name)
    except InvalidInput as exc:
        raise InvalidInput(_("sla: {where}: {exc}").format(where=where, exc=exc)) from None
    days = spec.get("days", ["mon-fri"])
    hours = spec.get("hours", ["08:00-18:00"])
    if isinstance(days, str):
        days = [days]
    if isinstance(hours, str):
        hours = [hours]
    if not isinstance(days, list) or not isinstance(hours, list):
        raise InvalidInput(
            _('sla: {where}: days and hours are lists, like ["mon-fri"]').format(where=where)
        )
    try:
        weekdays = parse_weekdays(days, calendar=name)
        spans = tuple(sorted(parse_span(h, calendar=name) for h in hours))
    except InvalidInput as exc:
        raise InvalidInput(_("sla: {exc}").format(exc=exc)) from None
    off: set[date] = set()
    for raw_day in spec.get("extra_holidays", []):
        off.add(_day(raw_day, where))
    country = spec.get("holidays")
    public: Collection[date] = frozenset()
    if country:
        try:
            public = holidays(str(country), spec.get("subdivision"))
        except InvalidInput as exc:
            raise InvalidInput(_("sla: {where}: {exc}").format(where=where, exc=exc)) from None
    try:
        return WorkCalendar(
            name=name,
            zone=tz,
            weekdays=weekdays,
            spans=spans,
            days_off=_DaysOff(public, frozenset(off)),
        )
    except InvalidInput as exc:
        raise InvalidInput(_("sla: {exc}").format(exc=exc)) from None


def _day(value: Any, where: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(
            _("sla: {where}: {value!r} is not a date like 2026-12-24").format(
                where=where, value=value
            )
        ) from None


class _DaysOff(Collection[date]):
    """Public holidays (possibly computed year by year, as the ``holidays`` package does)
    and the desk's own closing days."""

    def __init__(self, public: Collection[date], extra: frozenset[date]) -> None:
        self.public = public
        self.extra = extra

    def __contains__(self, day: object) -> bool:
        return day in self.extra or day in self.public

    def __iter__(self) -> Any:
        yield from self.extra
        yield from self.public

    def __len__(self) -> int:
        return len(self.extra) + len(self.public)


def describe_rules(rules: Iterable[EscalationRule]) -> list[str]:
    """One line per rule, for ``deskterm config check``, in the analyst's language."""
    lines = []
    for rule in rules:
        actions = []
        if rule.to_level is not None:
            actions.append(_("escalate to level {level}").format(level=rule.to_level))
        elif rule.up:
            actions.append(
                ngettext("escalate {n} level", "escalate {n} levels", rule.up).format(n=rule.up)
            )
        if rule.tell_supervisor:
            actions.append(_("tell the group's supervisors"))
        scope = "/".join(f"P{n}" for n in sorted(rule.priorities)) or _("any priority")
        # Translators: a list of what an escalation rule does: "escalate to level 2 and tell
        # the group's supervisors".
        done = _(" and ").join(actions)
        lines.append(
            _("{rule}: {condition} → {actions}").format(
                rule=rule.name, condition=rule.condition_words(scope), actions=done
            )
        )
    return lines
