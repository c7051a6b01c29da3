"""``deskterm db check``: every ticket row against the replay of its log.

Tickets are read in id order, a batch at a time, each batch with its events in one more
statement (the ``(ticket_id, id)`` index serves it), so memory stays bounded on a desk of
millions. The whole pass reads one snapshot: a change committed meanwhile cannot show up as
a row that is ahead of its log.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session
from sqlmodel import col

from deskterm.db.models import Analyst, Category, SupportGroup, Ticket, TicketEvent
from deskterm.desk.identity import forged_events
from deskterm.desk.search import search_index_faults
from deskterm.domain.enums import Visibility
from deskterm.domain.errors import InvalidInput, NotFound
from deskterm.domain.permissions import Actor
from deskterm.domain.refs import format_ref
from deskterm.domain.replay import Event, TicketState, compare, replay
from deskterm.i18n import _, format_number, ngettext

#: Tickets per batch: about 7,000 events on a demo desk, a few MB in memory.
BATCH = 1000
#: Ticket ids per ``IN (...)`` list when a given set of tickets is checked.
_ID_CHUNK = 500


@dataclass(frozen=True)
class Finding:
    """One way a ticket's row or log is wrong: a field whose row and log differ (``row``
    and ``log`` say what each holds), a fault of the log itself (``field`` is ``log``), or a
    ticket claimed while someone held it (``claim``)."""

    ticket_id: int
    field: str
    row: str | None
    log: str

    @property
    def ref(self) -> str:
        return format_ref(self.ticket_id)

    def line(self) -> str:
        """The finding in the analyst's words (``to_json`` keeps the values as they are)."""
        if self.row is None:
            return f"{self.ref} {self.log}"
        # Translators: a consistency finding: a ticket's field holds one value in the ticket's
        # row and another in what its log says ("DT-000012 status: row resolved, log new").
        return _("{ref} {field}: row {row}, log {log}").format(
            ref=self.ref, field=self.field, row=self.row, log=self.log
        )

    def to_json(self) -> dict[str, Any]:
        return {"ref": self.ref, "field": self.field, "row": self.row, "log": self.log}


@dataclass(frozen=True)
class CheckSummary:
    tickets: int
    events: int
    differing: int
    findings: int
    seconds: float

    @property
    def ok(self) -> bool:
        return self.findings == 0


OnFinding = Callable[[Finding], None]
#: (tickets checked, tickets to check)
OnProgress = Callable[[int, int], None]


def check_log(
    session: Session,
    actor: Actor,
    *,
    ticket_ids: Collection[int] | None = None,
    limit: int | None = None,
    on_finding: OnFinding | None = None,
    on_progress: OnProgress | None = None,
    batch: int = BATCH,
    writers: bool = False,
) -> CheckSummary:
    """Replay the log of every ticket (or of ``ticket_ids``, or of the ``limit`` newest) and
    compare it with the ticket's row; each finding goes to ``on_finding`` as it is found.

    Call it with the system actor (``Desk(db, None).read``): the check reads every ticket
    of a database, whoever its analysts are, and must be the transaction's first statement
    to read one snapshot on PostgreSQL.
    """
    started = time.perf_counter()
    if limit is not None and limit < 1:
        raise InvalidInput(
            _("limit must be at least 1, not {limit}").format(limit=limit), field="limit"
        )
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    names = _Names.load(session)
    wanted = sorted(set(ticket_ids)) if ticket_ids is not None else None
    if wanted is not None:
        # Asked about a ticket that is not there: "not found", like any command, never a
        # difference found in zero tickets.
        missing = sorted(set(wanted) - set(_present(session, wanted)))
        if missing:
            refs = ", ".join(format_ref(ticket_id) for ticket_id in missing[:5])
            if len(missing) > 5:
                more = len(missing) - 5
                raise NotFound(
                    ngettext(
                        "no ticket {refs} and {more} more",
                        "no ticket {refs} and {more} more",
                        more,
                    ).format(refs=refs, more=format_number(more))
                )
            raise NotFound(_("no ticket {refs}").format(refs=refs))
        total = len(wanted)
        batches = _chunks(session, wanted, batch)
    else:
        start = 0
        total = session.scalar(select(func.count()).select_from(Ticket)) or 0
        if limit is not None and limit < total:
            # The newest tickets: what changed lately is where a fault is likeliest.
            start = (
                session.scalar(
                    select(col(Ticket.id)).order_by(col(Ticket.id).desc()).offset(limit).limit(1)
                )
                or 0
            )
            total = limit
        batches = _ranges(session, start, batch)
    checked = events_read = differing = found = 0
    for rows in batches:
        by_ticket = _events(session, rows, names, dense=wanted is None)
        events_read += sum(len(e) for e in by_ticket.values())
        # With database identity: each event's actor against the login that wrote it.
        forged: dict[int, list[Finding]] = {}
        for f in forged_events(session, [row.id for row in rows]) if writers else ():
            forged.setdefault(f.ticket_id, []).append(Finding(f.ticket_id, "writer", None, f.said))
        for row in rows:
            findings = _check_one(row, by_ticket.get(row.id, []), names) + forged.get(row.id, [])
            if findings:
                differing += 1
                found += len(findings)
                if on_finding is not None:
                    for finding in findings:
                        on_finding(finding)
        checked += len(rows)
        if on_progress is not None:
            on_progress(checked, total)
    return CheckSummary(
        tickets=checked,
        events=events_read,
        differing=differing,
        findings=found,
        seconds=time.perf_counter() - started,
    )


@dataclass(frozen=True)
class _Names:
    logins: dict[int, str]
    groups: dict[int, str]
    levels: dict[str, int]
    categories: dict[int, str]

    @classmethod
    def load(cls, session: Session) -> _Names:
        # Rows read back always have their ids: the columns are the tables' primary keys.
        group_rows = session.execute(
            select(col(SupportGroup.id), col(SupportGroup.name), col(SupportGroup.level))
        ).all()
        logins = session.execute(select(col(Analyst.id), col(Analyst.login))).all()
        categories = session.execute(select(col(Category.id), col(Category.path))).all()
        return cls(
            logins={aid: login for aid, login in logins if aid is not None},
            groups={gid: name for gid, name, _level in group_rows if gid is not None},
            levels={name: level for _gid, name, level in group_rows},
            categories={cid: path for cid, path in categories if cid is not None},
        )


_TICKET_ID = col(Ticket.id)
_ROW_COLUMNS = (
    _TICKET_ID,
    col(Ticket.version),
    col(Ticket.status),
    col(Ticket.assignee_id),
    col(Ticket.group_id),
    col(Ticket.level),
    col(Ticket.impact),
    col(Ticket.urgency),
    col(Ticket.priority),
    col(Ticket.priority_reason),
    col(Ticket.subject),
    col(Ticket.channel),
    col(Ticket.contact_id),
    col(Ticket.category_id),
    col(Ticket.resolution_code),
    col(Ticket.resolution_text),
    col(Ticket.created_by_id),
    col(Ticket.created_at),
    col(Ticket.updated_at),
    col(Ticket.first_response_at),
    col(Ticket.resolved_at),
    col(Ticket.closed_at),
    col(Ticket.unassigned_since),
)


def _ranges(session: Session, start: int, size: int) -> Iterator[Sequence[Any]]:
    after = start
    while True:
        rows = session.execute(
            select(*_ROW_COLUMNS).where(_TICKET_ID > after).order_by(_TICKET_ID).limit(size)
        ).all()
        if not rows:
            return
        yield rows
        after = rows[-1].id


def _chunks(session: Session, wanted: list[int], size: int) -> Iterator[Sequence[Any]]:
    step = min(size, _ID_CHUNK)
    for at in range(0, len(wanted), step):
        rows = session.execute(
            select(*_ROW_COLUMNS).where(_TICKET_ID.in_(wanted[at : at + step])).order_by(_TICKET_ID)
        ).all()
        if rows:
            yield rows


def _present(session: Session, wanted: list[int]) -> list[int]:
    found: list[int] = []
    for at in range(0, len(wanted), _ID_CHUNK):
        found += [
            ticket_id
            for ticket_id in session.scalars(
                select(_TICKET_ID).where(_TICKET_ID.in_(wanted[at : at + _ID_CHUNK]))
            )
            if ticket_id is not None
        ]
    return found


def _events(
    session: Session, rows: Sequence[Any], names: _Names, *, dense: bool
) -> dict[int, list[Event]]:
    query = select(
        col(TicketEvent.ticket_id),
        col(TicketEvent.id),
        col(TicketEvent.ticket_version),
        col(TicketEvent.at),
        col(TicketEvent.actor_id),
        col(TicketEvent.kind),
        col(TicketEvent.visibility),
        col(TicketEvent.data),
    )
    if dense:
        # A range reads the index in one sweep; the batch's ids are consecutive rows.
        query = query.where(col(TicketEvent.ticket_id).between(rows[0].id, rows[-1].id))
    else:
        query = query.where(col(TicketEvent.ticket_id).in_([row.id for row in rows]))
    by_ticket: dict[int, list[Event]] = {}
    logins = names.logins
    for ticket_id, event_id, version, at, actor_id, kind, visibility, data in session.execute(
        query.order_by(col(TicketEvent.ticket_id), col(TicketEvent.id))
    ):
        by_ticket.setdefault(ticket_id, []).append(
            Event(
                id=event_id,
                version=version,
                at=at,
                actor=None if actor_id is None else logins.get(actor_id, f"#{actor_id}"),
                kind=kind,
                public=visibility == Visibility.PUBLIC,
                data=data or {},
            )
        )
    return by_ticket


def _check_one(row: Any, events: list[Event], names: _Names) -> list[Finding]:
    told = replay(events, group_levels=names.levels)
    findings = [Finding(row.id, "log", None, fault) for fault in told.faults]
    findings += [Finding(row.id, "claim", None, fault) for fault in told.double_claims]
    if not events:
        return findings
    state = _row_state(row, names)
    findings += [Finding(row.id, d.field, d.row, d.log) for d in compare(state, told)]
    return findings


def _row_state(row: Any, names: _Names) -> TicketState:
    def login(analyst_id: int | None) -> str | None:
        return None if analyst_id is None else names.logins.get(analyst_id, f"#{analyst_id}")

    return TicketState(
        version=row.version,
        status=row.status,
        assignee=login(row.assignee_id),
        group=None if row.group_id is None else names.groups.get(row.group_id),
        level=row.level,
        impact=row.impact,
        urgency=row.urgency,
        priority=row.priority,
        priority_reason=row.priority_reason,
        subject=row.subject,
        channel=row.channel,
        contact_id=row.contact_id,
        category=None if row.category_id is None else names.categories.get(row.category_id),
        resolution_code=row.resolution_code,
        resolution_text=row.resolution_text,
        created_by=login(row.created_by_id),
        created_at=row.created_at,
        updated_at=row.updated_at,
        first_response_at=row.first_response_at,
        resolved_at=row.resolved_at,
        closed_at=row.closed_at,
        unassigned_since=row.unassigned_since,
    )


# --------------------------------------------------------------------------- the storage

#: Problems ``PRAGMA integrity_check`` lists at most: a damaged file can have thousands.
_DAMAGE_SHOWN = 20


@dataclass(frozen=True)
class StorageCheck:
    """What ``db check`` finds beside the tickets: damage to the database file (SQLite),
    and faults of the ticket search index. One readable line each; none when sound."""

    damage: list[str]
    search: list[str]

    @property
    def ok(self) -> bool:
        return not self.damage and not self.search


def check_storage(session: Session, actor: Actor, *, whole: bool = True) -> StorageCheck:
    """The file's pages and indexes (SQLite, ``whole`` only) and the search index.

    ``integrity_check`` rather than ``quick_check``: it also proves every index holds
    exactly its table's rows, and a queue page read through a damaged index is silently
    wrong, which is what a check is for. It reads the whole file (0.3 s at 30,000 tickets,
    where replaying their logs takes 7 s), so a check of chosen tickets (``whole`` false)
    leaves it out and keeps only the search index's cheap checks.
    """
    damage: list[str] = []
    if whole and session.get_bind().dialect.name == "sqlite":
        try:
            said = session.execute(text(f"PRAGMA integrity_check({_DAMAGE_SHOWN})")).scalars()
            damage = [line for line in said if line != "ok"]
        except DatabaseError as exc:
            # Damage deep enough that the check itself cannot read the file.
            damage = [str(exc.orig or exc).strip()]
        if damage:
            return StorageCheck(damage=damage, search=[])
    return StorageCheck(damage=damage, search=search_index_faults(session))
