"""The bench desk: a demo desk of a given size, made once and reused by every later run.

A small table ``deskterm_bench`` (key, value) outside the migrations says that a database is
a bench desk, of how many tickets, from which seed, and whether it was finished. It is
written first (``state = building``) and marked ``ready`` last, so an interrupted build is
recognised and never measured. Reading it costs one primary-key lookup, where counting a
million tickets would cost a scan; and the count would drift anyway, since every run adds a
few hundred tickets and events through the write operations it measures.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from deskterm.db.engine import Database, translate_errors
from deskterm.db.migrate import KNOWN, schema_state, upgrade
from deskterm.desk import clock
from deskterm.desk.callbacks import schedule_callback
from deskterm.desk.context import Desk
from deskterm.desk.demo import MAX_TICKETS, Progress, build_demo
from deskterm.desk.tickets import add_note, create_ticket
from deskterm.domain.enums import OPEN_STATUSES
from deskterm.domain.errors import InvalidInput
from deskterm.domain.permissions import Actor

MARKER = "deskterm_bench"
#: The analyst the bench acts as: a first-line agent of the Service Desk, as on the phone.
LOGIN = "deskterm-bench"
#: The smallest desk whose queues fill more than one page in every view.
MIN_TICKETS = 1000
#: "Open a ticket with 200 log events": this many tickets are brought to that length.
LONG_TICKETS = 5
LONG_EVENTS = 200
#: Pending callbacks: promised by the bench's agent, and by others on other groups' tickets.
CALLBACKS_MINE = 150
CALLBACKS_OTHERS = 350

_NOTE_PARTS = (
    ("Called back,", "Spoke to the caller,", "Checked remotely,", "Customer reports", "Update:"),
    (
        "the printer still drops jobs from tray 2",
        "VPN connects but drops after ten minutes",
        "Outlook asks for the password again after the update",
        "the laptop fan runs loud since the BIOS update",
        "the shared drive mapping is lost at each logon",
        "the licence server answers again after a restart",
    ),
    (
        "- waiting for the next occurrence.",
        "- asked for a screenshot of the error.",
        "- logs attached to the vendor case.",
        "- workaround given, watching it.",
        "- no change since yesterday.",
    ),
)


@dataclass(frozen=True)
class BenchDesk:
    db: Database
    url: str
    tickets: int
    seed: int
    #: Who acts: the bench's own agent; ``supervisor`` opens the "all" view.
    login: str
    supervisor: str | None
    long_tickets: tuple[int, ...]
    #: Seconds spent building it in this run; None when an existing bench desk was reused.
    built_seconds: float | None


def default_url(tickets: int) -> str:
    """The bench's own SQLite file in the data folder: never the analyst's desk."""
    from deskterm.paths import data_dir

    folder = data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / f'bench-{tickets}.db'}"


def check_size(tickets: int) -> None:
    if isinstance(tickets, bool) or not MIN_TICKETS <= tickets <= MAX_TICKETS:
        raise InvalidInput(
            f"a bench desk holds between {MIN_TICKETS:,} and {MAX_TICKETS:,} tickets, "
            f"not {tickets:,}",
            field="tickets",
        )


def prepare(
    url: str,
    *,
    tickets: int,
    seed: int = 7,
    own_file: bool = False,
    progress: Progress | None = None,
) -> BenchDesk:
    """Open the bench desk at ``url``, building it first if the database is empty.

    ``own_file``: ``url`` is the bench's default file, which it may delete and build again
    when an earlier build was interrupted. A database given by the user is never deleted.
    """
    check_size(tickets)
    db = Database(url)
    try:
        with translate_errors(db):
            marker = _read_marker(db)
            if marker is not None and marker.get("state") != "ready" and own_file:
                db.dispose()
                _delete_sqlite_file(db)
                db = Database(url)
                marker = None
            build = _decide(db, marker, tickets)
        db.dispose()
        from deskterm.desk.setup import open_database

        db = open_database(url)
        built: float | None = None
        if build:
            built = _build(db, tickets=tickets, seed=seed, progress=progress)
        marker = _read_marker(db) or {}
        with db.read() as session:
            supervisor = session.scalar(
                text(
                    "SELECT login FROM analyst WHERE role = 'supervisor' AND active "
                    "ORDER BY id LIMIT 1"
                )
            )
    except BaseException:
        db.dispose()
        raise
    long_ids = tuple(int(i) for i in marker.get("long_tickets", "").split(",") if i)
    return BenchDesk(
        db=db,
        url=url,
        tickets=int(marker.get("tickets", tickets)),
        seed=int(marker.get("seed", seed)),
        login=LOGIN,
        supervisor=supervisor,
        long_tickets=long_ids,
        built_seconds=built,
    )


def _decide(db: Database, marker: dict[str, str] | None, tickets: int) -> bool:
    """True to build a new bench desk; refuses a database that is anything else."""
    state = schema_state(db)
    where = db.describe()
    if marker is None:
        if state.empty or (state.current and _desk_is_empty(db)):
            return True
        raise InvalidInput(
            f"{where} holds a desk that is not a bench desk: the bench fills a database of "
            "its own (leave out --db, or give it an empty database)",
            field="database",
        )
    if marker.get("state") != "ready":
        raise InvalidInput(
            f"{where} holds a bench desk whose build did not finish: give the bench a new, "
            "empty database",
            field="database",
        )
    held = int(marker.get("tickets", "0"))
    if held != tickets:
        raise InvalidInput(
            f"{where} holds a bench desk of {held:,} tickets, not {tickets:,}: run with "
            f"--tickets {held}, or give another database",
            field="tickets",
        )
    # Only the bench's own desk is migrated without being asked: nobody works on it.
    if not state.current and state.revision in KNOWN:
        upgrade(db)
    return False


def _desk_is_empty(db: Database) -> bool:
    with db.read() as session:
        return all(
            session.execute(text(f"SELECT 1 FROM {table} LIMIT 1")).first() is None
            for table in ("analyst", "ticket", "contact")
        )


def _read_marker(db: Database) -> dict[str, str] | None:
    with db.engine.connect() as conn:
        if not inspect(conn).has_table(MARKER):
            return None
        rows = conn.execute(text(f"SELECT key, value FROM {MARKER}")).all()
        conn.rollback()
    return {str(key): str(value) for key, value in rows}


def write_marker(db: Database, values: dict[str, str], *, table: str = MARKER) -> None:
    """Set keys of a marker table (the bench's, or the load test's), made on first use."""
    with db.engine.begin() as conn:
        conn.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {table} "
                "(key VARCHAR(40) PRIMARY KEY, value VARCHAR(400) NOT NULL)"
            )
        )
        for key, value in values.items():
            conn.execute(text(f"DELETE FROM {table} WHERE key = :key"), {"key": key})
            conn.execute(
                text(f"INSERT INTO {table} (key, value) VALUES (:key, :value)"),
                {"key": key, "value": value},
            )


def _delete_sqlite_file(db: Database) -> None:
    name = db.url.database or ""
    if not db.is_sqlite or not name or name == ":memory:":
        return
    for suffix in ("", "-wal", "-shm"):
        Path(name + suffix).unlink(missing_ok=True)


def _build(db: Database, *, tickets: int, seed: int, progress: Progress | None) -> float:
    started = time.perf_counter()
    write_marker(db, {"state": "building", "tickets": str(tickets), "seed": str(seed)})
    build_demo(db, tickets=tickets, seed=seed, me=LOGIN, progress=progress)
    long_ids = _lengthen(db, tickets=tickets, seed=seed, progress=progress)
    _promise_callbacks(db, seed=seed, progress=progress)
    seconds = time.perf_counter() - started
    write_marker(
        db,
        {
            "long_tickets": ",".join(str(i) for i in long_ids),
            "built_seconds": f"{seconds:.1f}",
            "state": "ready",
        },
    )
    return seconds


def _lengthen(db: Database, *, tickets: int, seed: int, progress: Progress | None) -> list[int]:
    """Bring a few tickets to ``LONG_EVENTS`` events with the desk's own ``add_note``.

    The demo's histories are short (a handful of events), so the long ones the issue asks to
    open are made here, spread over the desk, each with a caller (the ticket screen then also
    lists the caller's other tickets).
    """
    rng = random.Random(f"{seed}:bench-long")
    desk = Desk(db, LOGIN)
    chosen: list[int] = []
    with db.read() as session:
        for k in range(1, LONG_TICKETS + 1):
            found = session.execute(
                text(
                    "SELECT id FROM ticket WHERE id >= :start AND contact_id IS NOT NULL "
                    "ORDER BY id LIMIT 1"
                ),
                {"start": tickets * k // (LONG_TICKETS + 1)},
            ).scalar()
            if found is not None and found not in chosen:
                chosen.append(int(found))
    for done, ticket_id in enumerate(chosen):
        with db.read() as session:
            have = session.execute(
                text("SELECT count(*) FROM ticket_event WHERE ticket_id = :id"), {"id": ticket_id}
            ).scalar_one()
        notes = [
            " ".join(rng.choice(part) for part in _NOTE_PARTS)
            for _ in range(max(0, LONG_EVENTS - int(have)))
        ]
        desk.write(_add_notes, ticket_id=ticket_id, notes=notes)
        if progress is not None:
            progress("long tickets", done + 1, len(chosen))
    return chosen


def _add_notes(session: Session, actor: Actor, *, ticket_id: int, notes: list[str]) -> None:
    for number, note in enumerate(notes):
        add_note(session, actor, ref=ticket_id, text=note, public=number % 4 == 0)


def _promise_callbacks(db: Database, *, seed: int, progress: Progress | None) -> None:
    """Pending callbacks, which the demo does not make: some promised by the bench's agent
    on its groups' tickets (its "callbacks" view shows them), more by others elsewhere (the
    view's scope must pass over them)."""
    rng = random.Random(f"{seed}:bench-callbacks")
    open_list = ", ".join(f"'{s.value}'" for s in sorted(OPEN_STATUSES))
    with db.read() as session:
        mine_groups = (
            "SELECT ag.group_id FROM analyst_group ag JOIN analyst a ON a.id = ag.analyst_id "
            "WHERE a.login = :login"
        )
        mine = session.scalars(
            text(
                f"SELECT id FROM ticket WHERE status IN ({open_list}) AND group_id IN "
                f"({mine_groups}) ORDER BY id DESC LIMIT {CALLBACKS_MINE}"
            ),
            {"login": LOGIN},
        ).all()
        others = session.scalars(
            text(
                f"SELECT id FROM ticket WHERE status IN ({open_list}) AND group_id NOT IN "
                f"({mine_groups}) ORDER BY id DESC LIMIT {CALLBACKS_OTHERS}"
            ),
            {"login": LOGIN},
        ).all()
    now = clock.now()
    for done, (login, ticket_ids) in enumerate(((LOGIN, mine), (None, others))):
        promises = [
            (int(t), now + timedelta(minutes=5 * rng.randrange(6, 12 * 72))) for t in ticket_ids
        ]
        Desk(db, login).write(_schedule, promises=promises)
        if progress is not None:
            progress("callbacks", done + 1, 2)


def _schedule(session: Session, actor: Actor, *, promises: list[tuple[int, datetime]]) -> None:
    for ticket_id, due in promises:
        schedule_callback(
            session, actor, ref=ticket_id, due_at=due, reason="Customer asked to be called back"
        )


def refill_queue(bench: BenchDesk, *, wanted: int) -> int:
    """Put new unassigned tickets in the bench agent's groups until ``wanted`` wait there.

    "Pull next" takes one per sample, and the demo's queues hold only a few dozen new
    tickets: without this a second run would time an empty queue. Returns how many were
    added (as the system, with the desk's own ``create_ticket``).
    """
    db = bench.db
    with db.read() as session:
        row = session.execute(
            text(
                "SELECT min(g.name), count(t.id) FROM analyst a "
                "JOIN analyst_group ag ON ag.analyst_id = a.id "
                "JOIN support_group g ON g.id = ag.group_id "
                "LEFT JOIN ticket t ON t.group_id = g.id AND t.status = 'new' "
                "AND t.assignee_id IS NULL AND t.level <= a.level "
                "WHERE a.login = :login"
            ),
            {"login": bench.login},
        ).one()
    group, waiting = row
    missing = max(0, wanted - int(waiting or 0))
    if group is None or not missing:
        return 0
    rng = random.Random()
    Desk(db, None).write(
        _open_tickets, group=str(group), subjects=[rng.choice(_SUBJECTS) for _ in range(missing)]
    )
    return missing


_SUBJECTS = (
    "Cannot print to the second floor printer",
    "Password expired, locked out",
    "New starter needs a laptop by Monday",
    "Teams calls drop after a few minutes",
    "Invoice app shows an error on save",
)


def _open_tickets(session: Session, actor: Actor, *, group: str, subjects: list[str]) -> None:
    for number, subject in enumerate(subjects):
        create_ticket(
            session,
            actor,
            subject=subject,
            group=group,
            assignee="none",
            impact=("low", "medium", "high")[number % 3],
            urgency=("medium", "high", "low")[number % 3],
        )
