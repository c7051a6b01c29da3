"""Full-text search of every ticket, open or closed, by the words of its subject and
description (migration 0008: FTS5 on SQLite, a GIN-indexed ``tsvector`` on PostgreSQL).

What the analyst typed is reduced to plain words (``kb.search_words``) before it reaches
either query language, so no input can be a syntax error. The index answers with ids; the
rows are then read the way every ticket list reads them (``rows.public_rows``).

Accents are no part of a word on either database: "Dvorak" finds "Dvořák" and the other way
round. SQLite's tokenizer folds them (``remove_diacritics 2``) in the text and the query;
PostgreSQL's vector holds the text folded (migration 0015) and the query's words are folded
here with the same table (``db.types.fold_accents``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from deskterm.db.types import fold_accents
from deskterm.desk.kb import search_words
from deskterm.desk.rows import _public_fields, _statuses, public_rows
from deskterm.desk.schemas import TicketPublic
from deskterm.domain.enums import OPEN_STATUSES
from deskterm.domain.errors import Inconsistent, InvalidInput, PermissionDenied
from deskterm.domain.permissions import Actor
from deskterm.i18n import N_, _, format_number, ngettext

LIMIT_MAX = 200
_OPEN = frozenset(s.value for s in OPEN_STATUSES)
#: A shorter last word is matched whole only: a prefix of one or two letters matches most of
#: the desk, and reading that many postings is slow (TECH-NOTES: 1.3 s for 600k rows).
PREFIX_MIN = 3
#: How many of the newest tickets PostgreSQL tests one by one before it asks the index.
RECENT_WINDOW = 10_000
EXCERPT_WIDTH = 100
#: How much of a description the excerpt is cut from (descriptions may run to pages).
_EXCERPT_SOURCE = 4000


class TicketHit(TicketPublic):
    """A ticket as a list shows it, with the piece of its description around the first
    word found there (or its start, when the words are all in the subject)."""

    excerpt: str = ""


def search_tickets(
    session: Session,
    actor: Actor,
    *,
    query: str,
    statuses: Sequence[str] = ("all",),
    limit: int = 50,
) -> list[TicketHit]:
    """Tickets whose subject and description hold every word of ``query``, the last word
    also as a prefix (for typing) once it has ``PREFIX_MIN`` characters. Newest first.

    Newest first, not ranked: it is what keeps a common word fast at a million tickets on
    both databases (FTS5 reads its postings from the highest id down, PostgreSQL tests the
    newest tickets first, and both stop at ``limit``, where ranking must score every
    match), and the ticket an analyst looks for is most often the recent one.
    ``statuses`` as ``list_tickets`` takes them (``all`` by default: the earlier ticket is
    usually closed). Whoever may list tickets may search them: any analyst on the desk.
    """
    if not 1 <= limit <= LIMIT_MAX:
        raise InvalidInput(
            _("limit must be between 1 and {most}, not {limit}").format(
                most=LIMIT_MAX, limit=limit
            ),
            field="limit",
        )
    wanted = _statuses(statuses)
    words = search_words(query)
    if not words:
        return []
    # A word said twice narrows nothing; the last one stays last, the prefix.
    words = [*dict.fromkeys(words[:-1]), words[-1]]
    params: dict[str, Any] = {"limit": limit}
    status_filter = ""
    if wanted is not None:
        params["statuses"] = sorted(wanted)
        status_filter = "AND t.status IN :statuses"
    if session.get_bind().dialect.name == "postgresql":
        terms = [fold_accents(w) for w in words]
        if len(terms[-1]) >= PREFIX_MIN:
            terms[-1] = f"{terms[-1]}:*"
        params["q"] = " & ".join(terms)
        params["window"] = RECENT_WINDOW
        # The newest tickets first, each tested against its stored vector (the LIMIT in the
        # subquery keeps the planner to that walk); when they hold fewer hits than asked
        # for, the whole index answers. The planner alone takes the GIN index whenever it
        # thinks the words rare, and two common words together it always thinks rare (it
        # multiplies their shares): at a million tickets "printer tray" read 13,000 rows
        # to keep 50, 33 ms against 1.8 ms for the walk. A word in none of the newest
        # tickets costs the walk, about 3-6 ms, on top of the index's answer.
        # (Only status_filter, one of a few constants, is formatted into the texts.)
        tries = [
            f"""
            SELECT t.id, substr(t.description, 1, {_EXCERPT_SOURCE})
            FROM (
                SELECT id, status, description, search_vector FROM ticket
                ORDER BY id DESC LIMIT :window
            ) t
            WHERE t.search_vector @@ to_tsquery('simple', :q) {status_filter}
            ORDER BY t.id DESC
            LIMIT :limit
            """,  # nosec B608
            f"""
            SELECT t.id, substr(t.description, 1, {_EXCERPT_SOURCE})
            FROM ticket t
            WHERE t.search_vector @@ to_tsquery('simple', :q) {status_filter}
            ORDER BY t.id DESC
            LIMIT :limit
            """,  # nosec B608
        ]
    else:
        terms = [f'"{w}"' for w in words]
        if len(words[-1]) >= PREFIX_MIN:
            terms[-1] = f'"{words[-1]}"*'
        params["q"] = " AND ".join(terms)
        if wanted is not None and wanted <= _OPEN:
            # Open tickets are few beside the closed ones: their ids, read from the queue
            # index into one list, are cheaper to test each match against than the ticket
            # row (at a million tickets "tray" among the open ones: 2 ms instead of 15 ms
            # warm, and no page read per match cold). The unary + keeps SQLite from handing
            # the list to FTS5 as rowids to look up one by one (10 s for "printer").
            status_filter = (
                "AND +ticket_fts.rowid IN (SELECT id FROM ticket WHERE status IN :statuses)"
            )
        # FTS5 walks its postings in rowid order, either way round, and stops at the limit.
        tries = [
            f"""
            SELECT t.id, substr(t.description, 1, {_EXCERPT_SOURCE})
            FROM ticket_fts
            JOIN ticket t ON t.id = ticket_fts.rowid
            WHERE ticket_fts MATCH :q {status_filter}
            ORDER BY ticket_fts.rowid DESC
            LIMIT :limit
            """  # nosec B608
        ]
    found: list[Any] = []
    for sql in tries:
        statement = text(sql)
        if wanted is not None:
            statement = statement.bindparams(bindparam("statuses", expanding=True))
        found = list(session.execute(statement, params).all())
        if len(found) == limit:
            break
    rows = public_rows(session, [ticket_id for ticket_id, _excerpt in found])
    return [
        TicketHit(**_public_fields(rows[ticket_id]), excerpt=excerpt(description or "", words))
        for ticket_id, description in found
        if ticket_id in rows
    ]


def excerpt(description: str, words: Sequence[str], width: int = EXCERPT_WIDTH) -> str:
    """One line of ``description`` around the first of ``words`` in it, else its start."""
    flat = " ".join(description.split())
    if not flat:
        return ""
    # Accents off both sides, letter for letter: "dvorak" is found in "Dvořák" where it is.
    lowered = fold_accents(flat.lower())
    found = [at for at in (lowered.find(fold_accents(w)) for w in words) if at >= 0]
    start = 0
    if found and min(found) > width * 3 // 4:
        # A few words of what comes before, so the hit reads in its sentence.
        start = min(found) - width // 4
        space = flat.find(" ", start)
        start = space + 1 if 0 <= space < min(found) else start
    lead = "…" if start else ""
    room = width - len(lead)
    piece = flat[start : start + room]
    if start + room < len(flat):
        piece = piece[: room - 1].rstrip() + "…"
    return lead + piece


# --------------------------------------------------------------------------- the index itself

#: SQLite's index and the triggers that keep it in step with ``ticket``, as migration 0008
#: creates them, word for word (a test holds the two equal). A lost trigger is made again
#: from here, never copied from whatever the file still holds: a demo load killed by an
#: older deskterm left no trigger to copy, and search found nothing new from then on.
SQLITE_FTS_TABLE = (
    "CREATE VIRTUAL TABLE ticket_fts USING fts5("
    "subject, description, content='ticket', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2', prefix='3 4')"
)
SQLITE_TRIGGERS: dict[str, str] = {
    "ticket_fts_ad": "CREATE TRIGGER ticket_fts_ad AFTER DELETE ON ticket BEGIN "
    "INSERT INTO ticket_fts(ticket_fts, rowid, subject, description) "
    "VALUES ('delete', old.id, old.subject, old.description); END",
    "ticket_fts_ai": "CREATE TRIGGER ticket_fts_ai AFTER INSERT ON ticket BEGIN "
    "INSERT INTO ticket_fts(rowid, subject, description) "
    "VALUES (new.id, new.subject, new.description); END",
    "ticket_fts_au": "CREATE TRIGGER ticket_fts_au AFTER UPDATE OF subject, description ON "
    "ticket BEGIN "
    "INSERT INTO ticket_fts(ticket_fts, rowid, subject, description) "
    "VALUES ('delete', old.id, old.subject, old.description); "
    "INSERT INTO ticket_fts(rowid, subject, description) "
    "VALUES (new.id, new.subject, new.description); END",
}
#: PostgreSQL's index (migration 0008): a GIN index on the generated ``search_vector``.
PG_INDEX = "ix_ticket_search"
#: What to run when the index is broken (``rebuild_search_index``).
REPAIR_HINT = N_("`deskterm db reindex` rebuilds it")


def quote_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _has_fts_table(session: Session) -> bool:
    return (
        session.execute(
            text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ticket_fts'")
        ).first()
        is not None
    )


def sqlite_search_triggers(session: Session) -> dict[str, str]:
    """The ticket search triggers the SQLite file holds now: name -> CREATE text."""
    return dict(
        session.execute(
            text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'ticket' AND name LIKE 'ticket\\_fts\\_%' ESCAPE '\\'"
            )
        ).all()
    )


def search_index_faults(session: Session) -> list[str]:
    """What is wrong with the ticket search index, one readable line each; none when whole.

    Cheap (the catalog and, on SQLite, two counts), so ``demo --if-empty`` can ask too.
    FTS5's own 'integrity-check' would also compare every word with the tickets' text, but
    it is an INSERT: it would take the write lock in the middle of a read-only check.
    """
    if session.get_bind().dialect.name == "postgresql":
        return _pg_index_faults(session)
    faults: list[str] = []
    if not _has_fts_table(session):
        return ["ticket search index (ticket_fts) missing"]
    have = sqlite_search_triggers(session)
    missing = [name for name in SQLITE_TRIGGERS if name not in have]
    if missing:
        faults.append(
            _("ticket search misses new and changed tickets (trigger {names} missing)").format(
                names=", ".join(missing)
            )
        )
    altered = [name for name, sql in have.items() if SQLITE_TRIGGERS.get(name) != sql]
    if altered:
        faults.append(
            _("ticket search triggers differ from deskterm's: {names}").format(
                names=", ".join(altered)
            )
        )
    tickets = session.scalar(text("SELECT count(*) FROM ticket")) or 0
    # One docsize row per indexed ticket (asked ``count(*)``, an external-content index
    # counts the ticket table itself).
    indexed = session.scalar(text("SELECT count(*) FROM ticket_fts_docsize")) or 0
    if indexed != tickets:
        faults.append(
            ngettext(
                "ticket search index holds {indexed} of {tickets} ticket",
                "ticket search index holds {indexed} of {tickets} tickets",
                tickets,
            ).format(indexed=format_number(indexed), tickets=format_number(tickets))
        )
    return faults


def _pg_index_faults(session: Session) -> list[str]:
    generated = session.scalar(
        text(
            "SELECT attgenerated FROM pg_attribute "
            "WHERE attrelid = 'ticket'::regclass AND attname = 'search_vector' "
            "AND NOT attisdropped"
        )
    )
    if generated != "s":
        return [
            _(
                "the ticket search column ({column}) is missing or not generated: "
                "restore the desk from a backup (`deskterm db restore`)"
            ).format(column="ticket.search_vector")
        ]
    valid = session.scalar(
        text(
            "SELECT i.indisvalid AND i.indisready FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = 'ticket'::regclass AND c.relname = :name"
        ),
        {"name": PG_INDEX},
    )
    if valid is None:
        return [
            _("the ticket search index ({index}) is missing: search reads every ticket").format(
                index=PG_INDEX
            )
        ]
    if not valid:
        return [
            _("the ticket search index ({index}) is invalid (an interrupted build?)").format(
                index=PG_INDEX
            )
        ]
    return []


@dataclass(frozen=True)
class ReindexSummary:
    tickets: int
    #: What was wrong before the rebuild (``search_index_faults``).
    repaired: list[str]


def rebuild_search_index(session: Session, actor: Actor) -> ReindexSummary:
    """Make the ticket search index whole again: on SQLite its triggers as deskterm defines
    them and its contents read afresh from every ticket; on PostgreSQL the GIN index
    rebuilt. Changes no ticket; an admin's job, since it holds the desk's write lock (SQLite)
    or the ticket table's (PostgreSQL) while it runs: seconds at a million tickets."""
    if not actor.is_admin:
        raise PermissionDenied(_("only an admin may rebuild the search index"))
    faults = search_index_faults(session)
    if session.get_bind().dialect.name == "postgresql":
        if faults and "search_vector" in faults[0]:
            raise Inconsistent(faults[0])
        exists = session.scalar(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": PG_INDEX})
        if exists:
            session.execute(text(f"REINDEX INDEX {PG_INDEX}"))
        else:
            session.execute(text(f"CREATE INDEX {PG_INDEX} ON ticket USING GIN (search_vector)"))
    else:
        if not _has_fts_table(session):
            session.execute(text(SQLITE_FTS_TABLE))
        for name in sqlite_search_triggers(session):
            session.execute(text(f"DROP TRIGGER {quote_name(name)}"))
        for sql in SQLITE_TRIGGERS.values():
            session.execute(text(sql))
        session.execute(text("INSERT INTO ticket_fts(ticket_fts) VALUES ('rebuild')"))
    tickets = session.scalar(text("SELECT count(*) FROM ticket")) or 0
    return ReindexSummary(tickets=tickets, repaired=faults)
