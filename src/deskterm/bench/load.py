"""``deskterm bench load``: many analysts at once, each a process of its own, then the proof.

Every simulated analyst is a separate process (``spawn``, its own engine and connections)
logged in as its own analyst. They start together and, for a fixed time and without pause,
do what a desk does all day, in a weighted mix: log a call (one to three problems), pull the
next ticket of their groups, add a note, move a ticket they hold along (in progress, waiting
on the customer, resolved), and hand one on with a reason. Each change is sent with the
version the analyst last read, as the app does; a stale refusal is a conflict, not an error:
the analyst reads the ticket again and retries once.

Each process keeps the time every operation took, and a record of every change that was
saved (ticket, the version it produced, who) and of every claim. Afterwards three checks:

- no ticket was claimed twice: each recorded claim is a "pull next" in the log, and no claim
  in the log took a ticket someone held;
- no update was lost: each recorded change is in the log at its version, by its analyst, and
  no two saved changes produced the same version of a ticket;
- every touched ticket is what the replay of its log says (``deskterm db check``).

The report names the database it ran on (password hidden), and gives per operation the
saves a second, p50/p95/p99 of the save, conflicts and errors; ``lost_updates`` and
``double_claims`` count what the first two checks found (0 to pass).
"""

from __future__ import annotations

import multiprocessing
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, inspect, select, text
from sqlmodel import col

from deskterm.bench.desk import MARKER as BENCH_MARKER  # a bench desk is fair game too
from deskterm.bench.desk import write_marker
from deskterm.db.engine import Database, translate_errors
from deskterm.db.migrate import schema_state
from deskterm.db.models import Analyst, SupportGroup, Ticket, TicketEvent
from deskterm.desk.analysts import add_analyst
from deskterm.desk.consistency import Finding, check_log
from deskterm.desk.context import Desk, load_actor
from deskterm.desk.demo import build_demo
from deskterm.desk.intake import Problem, record_call
from deskterm.desk.queue import claim_next
from deskterm.desk.tickets import add_note, assign, change_status, create_ticket, resolve
from deskterm.domain.enums import EventKind, Role, Status
from deskterm.domain.errors import ConflictError, InvalidInput
from deskterm.domain.permissions import Actor
from deskterm.domain.refs import format_ref, parse_ref
from deskterm.domain.replay import ANNOTATIONS, CLAIM_VIA

#: The operations, and how often each comes up in an analyst's day (weights).
MIX: tuple[tuple[str, int], ...] = (
    ("intake", 15),
    ("pull next", 20),
    ("note", 30),
    ("status", 25),
    ("reassign", 10),
)
OPERATIONS = tuple(name for name, _weight in MIX)

MARKER = "deskterm_load"
LOGIN_PREFIX = "load-"
MAX_ANALYSTS = 64
MAX_SECONDS = 3600
MIN_TICKETS, MAX_TICKETS = 100, 1_000_000
#: Unassigned tickets waiting per analyst and second of the run, so "pull next" never runs
#: dry: a pull is about a fifth of the operations, a few per second per analyst at most.
QUEUE_PER_ANALYST_SECOND = 3
QUEUE_MAX = 2000

_NOTES = (
    "Called the customer, no answer; left a voicemail.",
    "Customer confirms the issue since this morning.",
    "Remote session: cleared the cache, asked them to retry.",
    "Vendor case opened, waiting on their reply.",
    "Checked the logs, nothing unusual before the error.",
)
_SUBJECTS = (
    "Laptop will not boot after update",
    "Cannot print to the second floor printer",
    "VPN drops every ten minutes",
    "Password expired, locked out",
    "Outlook asks for the password again",
    "Teams calls drop after a few minutes",
)


# --------------------------------------------------------------------------- the desk


@dataclass(frozen=True)
class Persona:
    login: str
    role: str
    level: int
    group: str


@dataclass(frozen=True)
class LoadDesk:
    url: str
    #: The URL with its password hidden, for the report.
    where: str
    analysts: tuple[Persona, ...]
    built_seconds: float | None
    queued: int


def default_url() -> str:
    """The load test's own SQLite file in the data folder: never the analyst's desk."""
    from deskterm.paths import data_dir

    folder = data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'bench-load.db'}"


def check_options(*, analysts: int, seconds: float, tickets: int) -> None:
    if not 1 <= analysts <= MAX_ANALYSTS:
        raise InvalidInput(
            f"between 1 and {MAX_ANALYSTS} analysts, not {analysts}", field="analysts"
        )
    if not 1 <= seconds <= MAX_SECONDS:
        raise InvalidInput(
            f"a load run lasts between 1 and {MAX_SECONDS} seconds, not {seconds:g}",
            field="seconds",
        )
    if not MIN_TICKETS <= tickets <= MAX_TICKETS:
        raise InvalidInput(
            f"a load desk holds between {MIN_TICKETS:,} and {MAX_TICKETS:,} tickets, "
            f"not {tickets:,}",
            field="tickets",
        )


def prepare(url: str, *, analysts: int, seconds: float, tickets: int, seed: int = 7) -> LoadDesk:
    """Open the load desk at ``url``: an empty database becomes a demo desk of ``tickets``
    tickets; a desk made by an earlier load run or by ``deskterm bench`` is reused; any other
    desk is refused, untouched, so that nobody load-tests the desk their team works on."""
    from deskterm.desk.setup import open_database

    probe = Database(url)
    try:
        with translate_errors(probe):
            build = _decide(probe)
    finally:
        probe.dispose()
    db = open_database(url)
    try:
        built: float | None = None
        if build:
            started = time.perf_counter()
            write_marker(db, {"state": "building", "tickets": str(tickets)}, table=MARKER)
            build_demo(db, tickets=tickets, seed=seed)
            write_marker(db, {"state": "ready"}, table=MARKER)
            built = time.perf_counter() - started
        personas = _staff(db, analysts)
        queued = _fill_queues(db, personas, per_group=_queue_size(personas, seconds))
        _settle(db)
        where = db.describe()
    finally:
        db.dispose()
    return LoadDesk(url=url, where=where, analysts=personas, built_seconds=built, queued=queued)


def _settle(db: Database) -> None:
    """Fresh statistics and no dead rows on PostgreSQL before the analysts start.

    A desk just built or refilled, and the earlier runs' updates, leave the planner guessing
    from stale counts until autovacuum comes round (never, where it is off): it then picked
    a scan of every open ticket to count one caller's, on every ticket read. A desk in use
    is in this state; a load run should start from it, not measure the planner's guess."""
    if db.is_sqlite:
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def _decide(db: Database) -> bool:
    """True to build a load desk here; refuses a database holding any other desk."""
    where = db.describe()
    with db.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        markers: dict[str, dict[str, str]] = {
            name: dict(conn.execute(text(f"SELECT key, value FROM {name}")).all())  # noqa: S608
            for name in (MARKER, BENCH_MARKER)
            if name in tables
        }
        conn.rollback()
    if not markers:
        state = schema_state(db)
        if state.empty or (state.current and _desk_is_empty(db)):
            return True
        raise InvalidInput(
            f"{where} holds a desk that is not a load or bench desk: the load test fills a "
            "database of its own (leave out --db, or give it an empty database)",
            field="database",
        )
    if any(m.get("state") != "ready" for m in markers.values()):
        raise InvalidInput(
            f"{where} holds a load or bench desk whose build did not finish: give the load "
            "test a new, empty database",
            field="database",
        )
    return False


def _desk_is_empty(db: Database) -> bool:
    with db.read() as session:
        return all(
            session.execute(text(f"SELECT 1 FROM {table} LIMIT 1")).first() is None  # noqa: S608
            for table in ("analyst", "ticket", "contact")
        )


def _staff(db: Database, count: int) -> tuple[Persona, ...]:
    """``count`` analysts of the load test's own, spread over the groups and their levels:
    first-line agents, technicians at level 2 and 3, and a supervisor in every fifth seat."""
    with db.read() as session:
        groups = session.execute(
            select(col(SupportGroup.name), col(SupportGroup.level)).order_by(
                col(SupportGroup.level), col(SupportGroup.name)
            )
        ).all()
        existing = set(
            session.scalars(
                select(col(Analyst.login)).where(col(Analyst.login).like(f"{LOGIN_PREFIX}%"))
            )
        )
    if not groups:
        raise InvalidInput(f"{db.describe()} has no support groups", field="database")
    # Half the seats on the first line, where the calls come in; the rest over the others.
    first_line = [g for g in groups if g[1] == 1] or groups[:1]
    others = [g for g in groups if g[1] > 1] or first_line
    personas: list[Persona] = []
    for n in range(count):
        seats = first_line if n % 2 == 0 else others
        name, level = seats[(n // 2) % len(seats)]
        role = Role.SUPERVISOR if n % 5 == 4 else Role.AGENT if level == 1 else Role.TECHNICIAN
        personas.append(Persona(f"{LOGIN_PREFIX}{n + 1:02d}", role.value, level, name))
    system = Desk(db, None)
    for persona in personas:
        if persona.login not in existing:
            system.write(
                add_analyst,
                login=persona.login,
                name=f"Load Analyst {persona.login[len(LOGIN_PREFIX) :]}",
                role=persona.role,
                level=persona.level,
                groups=[persona.group],
            )
    return tuple(personas)


def _queue_size(personas: Sequence[Persona], seconds: float) -> int:
    return min(QUEUE_MAX, max(20, int(len(personas) * seconds * QUEUE_PER_ANALYST_SECOND)))


def _fill_queues(db: Database, personas: Sequence[Persona], *, per_group: int) -> int:
    """Unassigned tickets in every group an analyst pulls from, ``per_group`` spread over
    the groups by their share of analysts, opened as the system with the desk's own
    ``create_ticket``."""
    seats = Counter(p.group for p in personas)
    added = 0
    rng = random.Random()
    for group, taken in sorted(seats.items()):
        wanted = max(10, per_group * taken // len(personas))
        with db.read() as session:
            waiting = session.scalar(
                select(text("count(*)"))
                .select_from(Ticket)
                .join(SupportGroup, col(SupportGroup.id) == col(Ticket.group_id))
                .where(
                    col(SupportGroup.name) == group,
                    col(Ticket.status) == Status.NEW,
                    col(Ticket.assignee_id).is_(None),
                )
            )
        missing = wanted - int(waiting or 0)
        if missing > 0:
            Desk(db, None).write(
                _open_tickets,
                group=group,
                subjects=[rng.choice(_SUBJECTS) for _ in range(missing)],
            )
            added += missing
    return added


def _open_tickets(session: Any, actor: Actor, *, group: str, subjects: list[str]) -> None:
    for number, subject in enumerate(subjects):
        create_ticket(
            session,
            actor,
            subject=subject,
            group=group,
            assignee="none",
            channel="email",
            impact=("low", "medium", "high")[number % 3],
            urgency=("medium", "high", "low")[number % 3],
        )


# --------------------------------------------------------------------------- one analyst


@dataclass(frozen=True)
class Write:
    """A change that was saved: the ticket, the version it produced, who, and what it was."""

    ticket_id: int
    version: int
    login: str
    operation: str


@dataclass
class WorkerReport:
    login: str
    #: Seconds per successful operation, by operation.
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    conflicts: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    #: The first few errors, as one line each.
    error_lines: list[str] = field(default_factory=list)
    #: "pull next" that found every queue of the analyst empty.
    empty_pulls: int = 0
    writes: list[Write] = field(default_factory=list)
    claims: list[Write] = field(default_factory=list)
    failed: str | None = None
    #: When this analyst started and stopped working (``time.monotonic``, the same clock in
    #: every process): the run's length is from the first start to the last stop.
    began: float = 0.0
    ended: float = 0.0


def worker(
    url: str, login: str, seconds: float, seed: int, start: Any, turn: Any, out: Any
) -> None:
    """The body of one analyst's process (module level: ``spawn`` imports it by name).

    ``start`` is the barrier all analysts and the parent pass together; ``turn`` a lock that
    lets one analyst at a time rehearse before it."""
    report = WorkerReport(login=login)
    try:
        db = Database(url)
        try:
            _Analyst(db, login, random.Random(seed), report).run(start, turn, seconds)
        finally:
            db.dispose()
    except BaseException as exc:  # reported to the parent, which shows it; never lost
        # The others (and the parent) must not wait at the start for an analyst who is gone.
        start.abort()
        report.failed = f"{type(exc).__name__}: {exc}".strip()
    report.times = dict(report.times)
    out.put(report)


class _Rehearsed(Exception):
    """Ends the rehearsal: its transaction rolls back."""


class _Analyst:
    def __init__(self, db: Database, login: str, rng: random.Random, report: WorkerReport):
        self.db = db
        self.desk = Desk(db, login)
        self.login = login
        self.rng = rng
        self.report = report
        self.mine: list[int] = []
        #: The ticket a conflict refused a change to: the retry reads it again.
        self.again: int | None = None
        self.others: list[str] = []
        self.groups: list[str] = []
        names, weights = zip(*MIX, strict=True)
        self.names, self.weights = list(names), list(weights)

    def run(self, start: Any, turn: Any, seconds: float) -> None:
        with self.db.read() as session:
            self.others = list(
                session.scalars(
                    select(col(Analyst.login))
                    .where(
                        col(Analyst.login).like(f"{LOGIN_PREFIX}%"),
                        col(Analyst.login) != self.login,
                    )
                    .order_by(col(Analyst.login))
                )
            )
        self._refresh_mine()
        # One at a time: twenty rehearsals at once would only queue for SQLite's write lock.
        with turn:
            self._rehearse()
        start.wait(300)
        self.report.began = time.monotonic()
        deadline = time.perf_counter() + seconds
        operations = {
            "intake": self._intake,
            "pull next": self._pull,
            "note": self._note,
            "status": self._status,
            "reassign": self._reassign,
        }
        done = 0
        while time.perf_counter() < deadline:
            name = self.rng.choices(self.names, self.weights)[0]
            self._timed(name, operations[name])
            done += 1
            if done % 25 == 0:
                # Now and then the analyst looks at their own queue: tickets handed to them
                # by others show up there.
                self._refresh_mine()
        self.report.ended = time.monotonic()

    def _rehearse(self) -> None:
        """Each operation once, rolled back: the first call of a process pays for imports,
        templates, holiday calendars and prepared statements, which is not what an analyst
        at work waits for. Nothing of it is saved."""
        try:
            with self.db.write() as session:
                actor = load_actor(session, self.login)
                made = record_call(
                    session,
                    actor,
                    problems=[Problem(subject=s) for s in _SUBJECTS[:2]],
                    call_seconds=60,
                )
                ref = made[0].id
                add_note(session, actor, ref=ref, text=_NOTES[0], expected_version=2)
                change_status(session, actor, ref=ref, status=Status.IN_PROGRESS.value)
                assign(session, actor, ref=ref, to="none", reason="rehearsal")
                claim_next(session, actor)
                raise _Rehearsed
        except _Rehearsed:
            pass

    def _timed(self, name: str, operation: Callable[[], float | None]) -> None:
        for attempt in (1, 2):
            try:
                took = operation()
            except ConflictError as exc:
                self.report.conflicts[name] += 1
                if attempt == 2:
                    return
                # As the app does: show the ticket again, and let the analyst redo it.
                self.again = parse_ref(exc.ref)
                continue
            except Exception as exc:
                self._error(name, exc)
                return
            if took is not None:
                self.report.times[name].append(took)
            return

    def _error(self, name: str, exc: BaseException) -> None:
        self.report.errors[name] += 1
        if len(self.report.error_lines) < 5:
            self.report.error_lines.append(f"{self.login} {name}: {type(exc).__name__}: {exc}")

    # The analyst has the ticket open: what they see decides what they do, and the version
    # they see goes with their change.
    def _open(self, ticket_id: int) -> tuple[int, str, str | None] | None:
        with self.db.read() as session:
            row = session.execute(
                select(col(Ticket.version), col(Ticket.status), col(Analyst.login))
                .outerjoin(Analyst, col(Analyst.id) == col(Ticket.assignee_id))
                .where(col(Ticket.id) == ticket_id)
            ).first()
        return None if row is None else (row[0], row[1], row[2])

    def _refresh_mine(self) -> None:
        with self.db.read() as session:
            self.mine = list(
                session.scalars(
                    select(col(Ticket.id))
                    .join(Analyst, col(Analyst.id) == col(Ticket.assignee_id))
                    .where(
                        col(Analyst.login) == self.login,
                        col(Ticket.status).in_(
                            [
                                Status.ASSIGNED.value,
                                Status.IN_PROGRESS.value,
                                Status.WAITING_CUSTOMER.value,
                                Status.WAITING_THIRD_PARTY.value,
                            ]
                        ),
                    )
                    .order_by(col(Ticket.id).desc())
                    .limit(50)
                )
            )

    def _held(self) -> tuple[int, int, str] | None:
        """One of the analyst's open tickets as they see it now: (id, version, status)."""
        if self.again is not None:
            ticket_id, self.again = self.again, None
            seen = self._open(ticket_id)
            if seen is not None and seen[2] == self.login and seen[1] != Status.RESOLVED:
                return ticket_id, seen[0], seen[1]
        while self.mine:
            ticket_id = self.rng.choice(self.mine)
            seen = self._open(ticket_id)
            if seen is not None and seen[2] == self.login and seen[1] != Status.RESOLVED:
                return ticket_id, seen[0], seen[1]
            self.mine.remove(ticket_id)
        return None

    def _forget(self, ticket_id: int) -> None:
        if ticket_id in self.mine:
            self.mine.remove(ticket_id)

    def _save(self, fn: Any, **kwargs: Any) -> tuple[float, Any]:
        began = time.perf_counter()
        result = self.desk.write(fn, **kwargs)
        return time.perf_counter() - began, result

    def _wrote(self, name: str, ticket_id: int, version: int) -> None:
        self.report.writes.append(Write(ticket_id, version, self.login, name))

    def _intake(self) -> float:
        problems = [
            Problem(
                subject=self.rng.choice(_SUBJECTS),
                description="Caller on the phone; details in the notes.",
                impact=self.rng.choice(("low", "medium", "high")),
                urgency=self.rng.choice(("low", "medium", "high")),
            )
            for _ in range(self.rng.choice((1, 1, 1, 2, 3)))
        ]
        took, created = self._save(
            record_call, problems=problems, call_seconds=self.rng.randrange(30, 900)
        )
        for ticket in created:
            self._wrote("intake", ticket.id, 1)
        # Each further problem of the call is split from the first ticket: a change of it.
        for version in range(2, len(created) + 1):
            self._wrote("intake", created[0].id, version)
        self.mine += [t.id for t in created if t.assignee == self.login]
        return took

    def _pull(self) -> float | None:
        # As the queue screen pulls: it opens the ticket next, and reads its card there.
        took, result = self._save(claim_next, card=False)
        if result.ticket is None:
            self.report.empty_pulls += 1
            return took
        claim = Write(result.ticket.id, result.ticket.version, self.login, "pull next")
        self.report.claims.append(claim)
        self.report.writes.append(claim)
        self.mine.append(result.ticket.id)
        return took

    def _note(self) -> float | None:
        # Half on their own tickets, half on a colleague's: anyone adds to a case's story.
        held = self._held() if self.again is not None or self.rng.random() < 0.5 else None
        if held is None:
            target = self._someone_elses()
            if target is None:
                return None
            ticket_id, version = target
        else:
            ticket_id, version = held[0], held[1]
        took, result = self._save(
            add_note,
            ref=ticket_id,
            text=self.rng.choice(_NOTES),
            public=self.rng.random() < 0.3,
            expected_version=version,
        )
        self._wrote("note", ticket_id, result.version)
        return took

    def _someone_elses(self) -> tuple[int, int] | None:
        if self.again is not None:
            ticket_id, self.again = self.again, None
            seen = self._open(ticket_id)
            return None if seen is None else (ticket_id, seen[0])
        # One of the newest tickets: where the desk is busy and analysts collide. One
        # statement: the newest id and the pick were two round trips for one glance.
        newest = select(func.max(col(Ticket.id))).scalar_subquery()
        with self.db.read() as session:
            row = session.execute(
                select(col(Ticket.id), col(Ticket.version))
                .where(col(Ticket.id) >= newest - self.rng.randrange(1, 300))
                .order_by(col(Ticket.id))
                .limit(1)
            ).first()
        if row is None:
            return None
        newest_id, version = row
        assert newest_id is not None
        return newest_id, version

    def _status(self) -> float | None:
        held = self._held()
        if held is None:
            return None
        ticket_id, version, status = held
        if status in (Status.ASSIGNED, Status.WAITING_CUSTOMER, Status.WAITING_THIRD_PARTY):
            took, result = self._save(
                change_status,
                ref=ticket_id,
                status=Status.IN_PROGRESS.value,
                expected_version=version,
            )
        elif self.rng.random() < 0.5:
            took, result = self._save(
                change_status,
                ref=ticket_id,
                status=Status.WAITING_CUSTOMER.value,
                reason="Asked the customer for the error message",
                expected_version=version,
            )
        else:
            took, result = self._save(
                resolve,
                ref=ticket_id,
                code="fixed",
                text="Fixed with the customer on the phone.",
                expected_version=version,
            )
            self._forget(ticket_id)
        self._wrote("status", ticket_id, result.version)
        return took

    def _reassign(self) -> float | None:
        held = self._held()
        if held is None:
            return None
        ticket_id, version, _status = held
        # Mostly to a colleague, sometimes back to the group's queue for whoever is free.
        to = self.rng.choice(self.others) if self.others and self.rng.random() < 0.7 else "none"
        took, result = self._save(
            assign,
            ref=ticket_id,
            to=to,
            reason="Needs someone who knows this system",
            expected_version=version,
        )
        self._forget(ticket_id)
        self._wrote("reassign", ticket_id, result.version)
        return took


# --------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class OperationStats:
    operation: str
    count: int
    per_second: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    #: Optimistic-lock refusals: a colleague changed the ticket first (each retry counts).
    conflicts: int
    errors: int

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "count": self.count,
            "per_second": round(self.per_second, 1),
            "p50_ms": None if self.p50_ms is None else round(self.p50_ms, 2),
            "p95_ms": None if self.p95_ms is None else round(self.p95_ms, 2),
            "p99_ms": None if self.p99_ms is None else round(self.p99_ms, 2),
            "conflicts": self.conflicts,
            "errors": self.errors,
        }


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    #: What was checked, in a few words.
    checked: str
    #: What broke, one line each (the first few).
    problems: tuple[str, ...] = ()
    #: How many problems there were in all.
    found: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.name,
            "passed": self.passed,
            "checked": self.checked,
            "found": self.found,
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class LoadResult:
    dialect: str
    url: str
    #: The URL with its password hidden: the report says where it ran.
    where: str
    analysts: int
    seconds: float
    operations: tuple[OperationStats, ...]
    checks: tuple[Check, ...]
    #: Analysts whose process failed, and the first errors met, one line each.
    errors: tuple[str, ...]
    empty_pulls: int
    writes: int
    claims: int

    @property
    def total(self) -> int:
        return sum(op.count for op in self.operations)

    @property
    def per_second(self) -> float:
        return self.total / self.seconds if self.seconds else 0.0

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def found(self, check: str) -> int:
        return sum(c.found for c in self.checks if c.name == check)

    def to_json(self) -> dict[str, Any]:
        return {
            "database": self.where,
            "dialect": self.dialect,
            "analysts": self.analysts,
            "seconds": round(self.seconds, 2),
            "operations": [op.to_json() for op in self.operations],
            "total": {"count": self.total, "per_second": round(self.per_second, 1)},
            "empty_pulls": self.empty_pulls,
            "writes": self.writes,
            "claims": self.claims,
            "conflicts": sum(op.conflicts for op in self.operations),
            "lost_updates": self.found(LOST_UPDATE),
            "double_claims": self.found(CLAIMED_TWICE),
            "checks": [check.to_json() for check in self.checks],
            "errors": list(self.errors),
            "passed": self.passed,
        }


Report = Callable[[str], None]


def run_load(
    desk: LoadDesk, *, seconds: float, seed: int = 7, report: Report | None = None
) -> LoadResult:
    """Start one process per analyst, let them work ``seconds``, then check what they did."""
    import threading

    say = report or (lambda _message: None)
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(len(desk.analysts) + 1)
    turn = context.Lock()
    out = context.Queue()
    processes = [
        context.Process(
            target=worker,
            args=(desk.url, persona.login, seconds, seed * 1000 + n, start, turn, out),
            name=f"deskterm-load-{persona.login}",
            daemon=True,
        )
        for n, persona in enumerate(desk.analysts)
    ]
    say(f"starting {len(processes)} analysts")
    for process in processes:
        process.start()
    try:
        start.wait(300 + 5 * len(processes))
    except threading.BrokenBarrierError:
        # An analyst failed before the start (it aborted the barrier); its report says why.
        pass
    began = time.perf_counter()
    say(f"{len(processes)} analysts working for {seconds:g} s")
    reports: list[WorkerReport] = []
    try:
        for _ in processes:
            reports.append(out.get(timeout=seconds + 120))
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    # The window in which the analysts worked; the wait for processes to report is not in it.
    starts = [r.began for r in reports if r.began]
    ends = [r.ended for r in reports if r.ended]
    elapsed = max(ends) - min(starts) if starts and ends else time.perf_counter() - began
    say("checking the log")
    from deskterm.desk.setup import open_database

    db = open_database(desk.url)
    try:
        checks = verify(db, reports)
        dialect = db.dialect
    finally:
        db.dispose()
    return _result(desk, reports, checks, elapsed, dialect)


def _result(
    desk: LoadDesk,
    reports: Sequence[WorkerReport],
    checks: Sequence[Check],
    elapsed: float,
    dialect: str,
) -> LoadResult:
    from deskterm.bench.run import percentile

    operations = []
    for name in OPERATIONS:
        times = [t for r in reports for t in r.times.get(name, [])]
        operations.append(
            OperationStats(
                operation=name,
                count=len(times),
                per_second=len(times) / elapsed if elapsed else 0.0,
                p50_ms=percentile(times, 0.50) * 1000 if times else None,
                p95_ms=percentile(times, 0.95) * 1000 if times else None,
                p99_ms=percentile(times, 0.99) * 1000 if times else None,
                conflicts=sum(r.conflicts[name] for r in reports),
                errors=sum(r.errors[name] for r in reports),
            )
        )
    errors = [f"{r.login} stopped: {r.failed}" for r in reports if r.failed]
    errors += [line for r in reports for line in r.error_lines]
    return LoadResult(
        dialect=dialect,
        url=desk.url,
        where=desk.where,
        analysts=len(desk.analysts),
        seconds=elapsed,
        operations=tuple(operations),
        checks=tuple(checks),
        errors=tuple(errors),
        empty_pulls=sum(r.empty_pulls for r in reports),
        writes=sum(len(r.writes) for r in reports),
        claims=sum(len(r.claims) for r in reports),
    )


# --------------------------------------------------------------------------- the checks

#: Problems listed per check; the count says how many there were in all.
_SHOWN = 10
CLAIMED_TWICE = "no ticket claimed twice"
LOST_UPDATE = "no lost update"


def verify(db: Database, reports: Sequence[WorkerReport]) -> list[Check]:
    """The three checks over what the analysts recorded and what the log holds."""
    writes = [w for r in reports for w in r.writes]
    claims = [c for r in reports for c in r.claims]
    touched = sorted({w.ticket_id for w in writes})
    logged = _logged_changes(db, touched)

    findings: list[Finding] = []
    Desk(db, None).read(check_log, ticket_ids=touched, on_finding=findings.append)

    claim_problems = [
        f"{format_ref(c.ticket_id)} version {c.version}: {c.login}'s claim is not in the log"
        for c in claims
        if logged.get((c.ticket_id, c.version)) != (c.login, True)
    ]
    claim_problems += [f.line() for f in findings if f.field == "claim"]

    lost: list[str] = []
    for (ticket_id, version), count in Counter((w.ticket_id, w.version) for w in writes).items():
        if count > 1:
            who = sorted(
                w.login for w in writes if (w.ticket_id, w.version) == (ticket_id, version)
            )
            lost.append(
                f"{format_ref(ticket_id)} version {version} was saved {count} times "
                f"({', '.join(who)})"
            )
    for w in writes:
        seen = logged.get((w.ticket_id, w.version))
        if seen is None or seen[0] != w.login:
            said = "is not in the log" if seen is None else f"is {seen[0] or 'system'}'s"
            lost.append(
                f"{format_ref(w.ticket_id)} version {w.version} ({w.operation} by {w.login}) {said}"
            )
    lost += [f.line() for f in findings if f.field == "log" and "written by" in f.log]

    differing = [f.line() for f in findings if f.field != "claim" and f.line() not in lost]
    return [
        Check(
            CLAIMED_TWICE,
            not claim_problems,
            f"{len(claims):,} claims",
            tuple(claim_problems[:_SHOWN]),
            len(claim_problems),
        ),
        Check(
            LOST_UPDATE,
            not lost,
            f"{len(writes):,} saved changes",
            tuple(lost[:_SHOWN]),
            len(lost),
        ),
        Check(
            "every ticket is its log's replay",
            not differing,
            f"{len(touched):,} tickets",
            tuple(differing[:_SHOWN]),
            len(differing),
        ),
    ]


def _logged_changes(db: Database, ticket_ids: Sequence[int]) -> dict[tuple[int, int], tuple]:
    """(ticket, version) → (who made that change, whether it was a "pull next" claim)."""
    found: dict[tuple[int, int], tuple] = {}
    annotations = sorted(str(kind) for kind in ANNOTATIONS)
    with db.read() as session:
        for at in range(0, len(ticket_ids), 500):
            rows = session.execute(
                select(
                    col(TicketEvent.ticket_id),
                    col(TicketEvent.ticket_version),
                    col(Analyst.login),
                    col(TicketEvent.kind),
                    col(TicketEvent.data),
                )
                .outerjoin(Analyst, col(Analyst.id) == col(TicketEvent.actor_id))
                .where(
                    col(TicketEvent.ticket_id).in_(ticket_ids[at : at + 500]),
                    col(TicketEvent.kind).not_in(annotations),
                )
                .order_by(col(TicketEvent.id))
            )
            for ticket_id, version, login, kind, data in rows:
                claim = kind == EventKind.ASSIGNED and (data or {}).get("via") == CLAIM_VIA
                key = (ticket_id, version)
                if key not in found or claim:
                    found[key] = (login, claim)
    return found
