"""The demo desk: a realistic desk to try deskterm on, from a few hundred tickets to millions.

Every ticket lives through a small simulation that makes exactly the changes the desk's own
use cases make (``tickets.create_ticket``, ``assign``, ``escalate``, ``change_status``,
``add_note``, ``log_call``, ``resolve``, ``reopen``, ``close``, ``link``, ``set_priority`` and
``queue.claim_next``): the same statuses, event kinds and event data, one version per change,
``first_response_at`` set by the same rule. So the log replays to the ticket row, and every
screen shows a history that could have happened. People, products and texts come from
``data/demo/*.toml``.

Rows are generated in streaming batches and written in bulk past the ORM (``executemany``
on SQLite, ``COPY`` on PostgreSQL) by a writer thread, so the database works while the next
batch is generated. Ids are explicit, from 1; PostgreSQL's sequences are moved past them at
the end. Events get their ids in time order across the whole desk, as a live desk would have
given them: generated events wait in a heap until no ticket still to come can have an
earlier one (tickets are generated in order of creation).

The whole demo is one transaction on either database: a build interrupted at any moment,
even by ``kill -9``, leaves the desk as empty as it was, and the demo can simply be run
again. ``check_demo_target`` tells a desk the demo may fill (or leave alone, with
``--if-empty``) from one an older, interrupted build left half done.
"""

from __future__ import annotations

import bisect
import heapq
import queue
import random
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import text

from deskterm import defaults
from deskterm.db.engine import Database
from deskterm.db.types import sqlite_timestamp
from deskterm.desk import clock, ledger
from deskterm.desk.contacts import name_key
from deskterm.desk.demo_kb import LINK_SHARE, DemoArticle, Solver, load_articles
from deskterm.desk.demo_kb import key as article_key
from deskterm.desk.search import SQLITE_TRIGGERS, quote_name
from deskterm.domain import payloads as p
from deskterm.domain.enums import (
    LIVE_CHANNELS,
    ArticleStatus,
    AssetKind,
    Availability,
    CallDirection,
    Channel,
    Impact,
    LinkKind,
    Role,
    Status,
    Urgency,
    Visibility,
)
from deskterm.domain.errors import InvalidInput
from deskterm.domain.names import name_words
from deskterm.domain.phone import stored_numbers
from deskterm.domain.refs import format_ref
from deskterm.domain.replay import CLAIM_VIA
from deskterm.domain.text import phone_digits
from deskterm.domain.transitions import ALLOWED, status_for_holder
from deskterm.domain.worktime import Timeline
from deskterm.paths import data_file

MAX_TICKETS = 5_000_000

T = TypeVar("T")

#: ``progress(stage, done, total)``, called regularly while the demo is built.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DemoSummary:
    analysts: int
    groups: int
    contacts: int
    organizations: int
    assets: int
    tickets: int
    events: int
    seconds: float
    me: str | None


_LOGIN = re.compile(r"^[a-z][a-z0-9._-]{0,63}$")

# Rows per write: one round of executemany on SQLite, one of COPYs on PostgreSQL.
_BATCH_ROWS = 10_000

# Plain strings rather than enum members: they go straight into DBAPI rows and JSON.
_NEW = Status.NEW.value
_ASSIGNED = Status.ASSIGNED.value
_IN_PROGRESS = Status.IN_PROGRESS.value
_WAITING_CUSTOMER = Status.WAITING_CUSTOMER.value
_WAITING_THIRD_PARTY = Status.WAITING_THIRD_PARTY.value
_RESOLVED = Status.RESOLVED.value
_CLOSED = Status.CLOSED.value
_CANCELLED = Status.CANCELLED.value

_PUBLIC = Visibility.PUBLIC.value
_INTERNAL = Visibility.INTERNAL.value
_INBOUND = CallDirection.INBOUND.value
_OUTBOUND = CallDirection.OUTBOUND.value

_LIVE = frozenset(c.value for c in LIVE_CHANNELS)
#: Who may publish an article (``kb._may_publish``: ``Actor.is_supervisor``).
_MAY_PUBLISH = frozenset({Role.SUPERVISOR.value, Role.ADMIN.value})
# The domain's transition table as plain pairs: checking millions of changes with enums costs.
_MAY_BECOME = frozenset((a.value, b.value) for a, targets in ALLOWED.items() for b in targets)
_PHONE = Channel.PHONE.value

_CHANNELS = (
    (Channel.PHONE.value, 42),
    (Channel.EMAIL.value, 28),
    (Channel.PORTAL.value, 14),
    (Channel.CHAT.value, 9),
    (Channel.WALK_IN.value, 4),
    (Channel.SMS.value, 3),
)
_IMPACTS = ((Impact.LOW.value, 45), (Impact.MEDIUM.value, 45), (Impact.HIGH.value, 10))
_URGENCIES = ((Urgency.LOW.value, 30), (Urgency.MEDIUM.value, 50), (Urgency.HIGH.value, 20))
_PREFERRED = ((Channel.PHONE.value, 55), (Channel.EMAIL.value, 35), (Channel.CHAT.value, 10))

# How fast work moves, by priority: a P1 is worked around the clock, a P5 when there is time.
_PACE = (0.0, 0.1, 0.3, 1.0, 1.5, 2.5)

_HOUR = 3600
_DAY = 86400
#: Statuses in which a ticket's SLA clock stands still (desk/sla_clock.py ``PAUSED``).
_SLA_PAUSED = frozenset({_WAITING_CUSTOMER, _RESOLVED, _CLOSED, _CANCELLED})

# The status the "me" tickets stop at, so the person trying the demo finds work of every kind.
_MY_STORIES = (
    _IN_PROGRESS,
    _WAITING_CUSTOMER,
    _ASSIGNED,
    "claimed",
    _WAITING_THIRD_PARTY,
    _IN_PROGRESS,
)
# When those tickets came in, in hours before now.
_MY_HOURS = (27, 22, 7, 4.5, 49, 1.2)


# --------------------------------------------------------------------------- definitions


@dataclass(frozen=True)
class _Product:
    product: str
    model: str | None
    serial: str | None
    account: str | None


@dataclass(frozen=True)
class _Slot:
    name: str
    kind: str
    generic: str
    share: float
    products: tuple[_Product, ...]


@dataclass(frozen=True)
class _CategoryDef:
    weight: float
    slot: str | None
    codes: tuple[str, ...]


@dataclass(frozen=True)
class DemoTextModule:
    """A text module of texts.toml."""

    name: str
    group: str | None
    author: str | None
    body: str


@dataclass(frozen=True)
class Definitions:
    """The demo's TOML files, read and checked."""

    analysts: list[dict[str, Any]]
    names: dict[str, tuple[list[str], list[str]]]
    organizations: list[dict[str, Any]]
    private_share: float
    private_sites: list[str]
    mobile_prefix: dict[str, str]
    slots: dict[str, _Slot]
    categories: dict[str, _CategoryDef]
    issues: dict[str, list[tuple[str, str]]]
    work: dict[str, list[str]]
    #: The knowledge base (kb.toml).
    articles: list[DemoArticle] = field(default_factory=list)
    #: The text modules (texts.toml).
    modules: list[DemoTextModule] = field(default_factory=list)

    def texts(self, key: str) -> list[str]:
        try:
            return self.work[key]
        except KeyError:
            raise InvalidInput(f"demo work.toml: {key!r} is missing") from None


# Every placeholder a text may use, with a sample value to check the templates when loading.
_PLACEHOLDERS = {
    "first": "Ann",
    "name": "Ann Lee",
    "org": "Org",
    "site": "Site",
    "asset": "laptop",
    "serial": "X1",
    "vendor": "Vendor",
    "case": "1",
    "group": "Group",
    "to": "Bo",
    "away": "Cy",
    "backup": "Di",
    "other": "DT-000001",
}


def _read(name: str) -> tuple[str, dict[str, Any]]:
    path = data_file(f"demo/{name}")
    return str(path), defaults.read_toml(path)


def _need(where: str, table: Any, key: str, kind: type) -> Any:
    value = table.get(key) if isinstance(table, dict) else None
    if not isinstance(value, kind) or (isinstance(value, list | str | dict) and not value):
        raise InvalidInput(f"{where}: {key!r} is missing or empty")
    return value


def _template(where: str, text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(f"{where}: expected a text, found {text!r}")
    try:
        text.format_map(_PLACEHOLDERS)
    except (KeyError, ValueError, IndexError) as exc:
        raise InvalidInput(f"{where}: {text!r} has an unknown placeholder {exc}") from None
    return text


def load_definitions() -> Definitions:
    """Read ``data/demo/*.toml`` (a copy in the config folder wins), refusing a broken file."""
    where, raw = _read("analysts.toml")
    analysts = _need(where, raw, "analyst", list)
    for spec in analysts:
        for key in ("login", "name"):
            _need(where, spec, key, str)
        _need(where, spec, "groups", list)

    where, raw = _read("names.toml")
    names: dict[str, tuple[list[str], list[str]]] = {}
    for language, table in raw.items():
        names[language] = (
            _need(f"{where} [{language}]", table, "first", list),
            _need(f"{where} [{language}]", table, "last", list),
        )
    if "en" not in names:
        raise InvalidInput(f"{where}: needs names for [en]")

    where, orgs_raw = _read("organizations.toml")
    organizations = _need(where, orgs_raw, "organization", list)
    for spec in organizations:
        for key in ("name", "domain", "phone_prefix", "language"):
            _need(where, spec, key, str)
        _need(where, spec, "sites", list)
        if spec["language"] not in names:
            raise InvalidInput(f"{where}: no names for language {spec['language']!r}")
    mobile_prefix = dict(_need(where, orgs_raw, "mobile_prefix", dict))
    if "en" not in mobile_prefix:
        raise InvalidInput(f"{where}: [mobile_prefix] needs en")

    where, raw = _read("assets.toml")
    slots: dict[str, _Slot] = {}
    kinds = {k.value for k in AssetKind}
    for slot_name, spec in _need(where, raw, "slots", dict).items():
        here = f"{where} [slots.{slot_name}]"
        products = tuple(
            _Product(
                product=_need(here, p, "product", str),
                model=p.get("model"),
                serial=p.get("serial"),
                account=p.get("account"),
            )
            for p in _need(here, spec, "products", list)
        )
        kind = str(spec.get("kind", AssetKind.HARDWARE.value))
        if kind not in kinds:
            raise InvalidInput(f"{here}: unknown kind {kind!r} (use {', '.join(sorted(kinds))})")
        slots[slot_name] = _Slot(
            name=slot_name,
            kind=kind,
            generic=str(spec.get("generic", slot_name)),
            share=float(spec.get("share", 0.5)),
            products=products,
        )

    where, raw = _read("tickets.toml")
    categories: dict[str, _CategoryDef] = {}
    for path, spec in _need(where, raw, "category", dict).items():
        slot = spec.get("asset")
        if slot is not None and slot not in slots:
            raise InvalidInput(f"{where}: {path!r} names asset slot {slot!r}, not in assets.toml")
        categories[path] = _CategoryDef(
            weight=float(spec.get("weight", 1)),
            slot=slot,
            codes=tuple(spec.get("codes", ())),
        )
    issues: dict[str, list[tuple[str, str]]] = {}
    for spec in _need(where, raw, "issue", list):
        path = _need(where, spec, "category", str)
        subject = _template(where, spec.get("subject"))
        description = _template(where, spec.get("description"))
        issues.setdefault(path, []).append((subject, description))

    where, raw = _read("work.toml")
    work: dict[str, list[str]] = {
        "vendors": [_template(where, v) for v in _need(where, raw, "vendors", list)]
    }
    for section in ("notes", "calls", "reasons", "resolutions"):
        for key, value in _need(where, raw, section, dict).items():
            subs = value.items() if isinstance(value, dict) else [(None, value)]
            for sub, texts in subs:
                name = f"{section}.{key}" + (f".{sub}" if sub else "")
                if not isinstance(texts, list) or not texts:
                    raise InvalidInput(f"{where}: {name} must be a list of texts")
                work[name] = [_template(where, t) for t in texts]
    return Definitions(
        analysts=analysts,
        names=names,
        organizations=organizations,
        private_share=float(orgs_raw.get("private_share", 0.0)),
        private_sites=list(orgs_raw.get("private_sites") or ["Home office"]),
        mobile_prefix=mobile_prefix,
        slots=slots,
        categories=categories,
        issues=issues,
        work=work,
        articles=load_articles(),
        modules=load_text_modules(),
    )


def load_text_modules() -> list[DemoTextModule]:
    """``texts.toml``, each module checked as ``deskterm text add`` checks it."""
    from deskterm.desk.texts import check_body, valid_name

    where, raw = _read("texts.toml")
    modules: list[DemoTextModule] = []
    seen: set[tuple[str, str | None]] = set()
    for spec in raw.get("module", []):
        name = valid_name(_need(where, spec, "name", str))
        group = spec.get("group")
        if (name, group) in seen:
            raise InvalidInput(f"{where}: two modules {name!r} for {group or 'everyone'}")
        seen.add((name, group))
        modules.append(
            DemoTextModule(
                name=name,
                group=str(group) if group else None,
                author=str(spec["author"]).lower() if spec.get("author") else None,
                body=check_body(_need(where, spec, "body", str).strip()),
            )
        )
    return modules


# --------------------------------------------------------------------------- the desk's cast


@dataclass(eq=False)
class _Group:
    id: int
    name: str
    level: int
    escalation: _Group | None = None


@dataclass(eq=False)
class _Person:
    id: int
    login: str
    name: str
    role: str
    level: int
    groups: list[_Group]
    away_from: int | None = None
    away_until: int | None = None
    away_reason: str | None = None
    backup: _Person | None = None

    @property
    def first(self) -> str:
        return self.name.split()[0]

    def away_at(self, at: int) -> bool:
        return self.away_from is not None and at >= self.away_from


@dataclass(eq=False)
class _Cat:
    id: int
    path: str
    group: _Group
    specialist: _Group
    weight: float
    slot: str | None
    codes: tuple[str, ...]
    issues: list[tuple[str, str]]
    first_contact: float
    escalate: float


@dataclass(eq=False)
class _Caller:
    id: int
    name: str
    first: str
    org: str
    org_index: int
    site: str
    assets: dict[str, tuple[int, str, str]] = field(default_factory=dict)


class _Tk:
    """One ticket as the simulation plays it: the row's fields and where its story is."""

    id: int
    subject: str
    description: str
    caller: _Caller
    asset_id: int | None
    cat: _Cat
    channel: str
    impact: str
    urgency: str
    priority: int
    status: str
    level: int
    group: _Group
    assignee: _Person | None
    code: str | None
    resolution: str | None
    created_by: _Person | None
    created: int
    updated: int
    first_response: int | None
    resolved: int | None
    closed: int | None
    response_due: int | None
    resolve_due: int | None
    version: int
    # The SLA clock, as desk/sla_clock.py keeps it (whole seconds).
    sla_priority: int
    sla_run: int | None
    sla_paused: int | None
    sla_used: int
    response_warn: int | None
    resolve_warn: int | None
    unassigned: int | None
    #: The time of its latest change: the next one comes after it.
    t: int
    #: The values its texts are filled with.
    ctx: dict[str, str]

    __slots__ = tuple(__annotations__)

    def __init__(self, ticket_id: int) -> None:
        self.id = ticket_id
        self.asset_id = None
        self.assignee = None
        self.created_by = None
        self.code = None
        self.resolution = None
        self.first_response = None
        self.resolved = None
        self.closed = None
        self.version = 1
        self.response_due = self.resolve_due = None
        self.response_warn = self.resolve_warn = None


# --------------------------------------------------------------------------- writing


_TABLES: dict[str, tuple[str, ...]] = {
    table: tuple(columns.split())
    for table, columns in (
        (
            "analyst",
            "id login name email role level availability away_reason away_until backup_id "
            "active created_at",
        ),
        ("analyst_group", "analyst_id group_id"),
        (
            "kb_article",
            "id title body category_id tags status created_at updated_at created_by_id "
            "updated_by_id",
        ),
        ("text_module", "id name body group_id owner_id scope created_by_id updated_at"),
        ("organization", "id name phone email_domain notes"),
        (
            "contact",
            "id name name_lower email phone phone_digits mobile mobile_digits organization_id "
            "location language preferred_channel vip created_at phone_e164 mobile_e164 "
            "dial_digits name_key",
        ),
        ("contact_word", "contact_id word name_lower"),
        (
            "asset",
            "id contact_id organization_id kind product model_number serial_number "
            "account_number notes",
        ),
        (
            "ticket",
            "id subject description contact_id asset_id category_id channel impact urgency "
            "priority priority_reason status level group_id assignee_id resolution_code "
            "resolution_text created_by_id created_at updated_at first_response_at resolved_at "
            "closed_at response_due_at resolve_due_at version sla_running_since sla_paused_at "
            "sla_used_seconds response_warn_at resolve_warn_at sla_alerts sla_next_at "
            "unassigned_since",
        ),
        ("ticket_link", "id ticket_id other_id kind created_at created_by_id"),
        ("kb_ticket", "article_id ticket_id linked_at linked_by_id"),
        ("ticket_event", "id ticket_id ticket_version at actor_id kind visibility data"),
    )
}

# Tables whose ids the demo sets itself (PostgreSQL's sequences must be moved past them).
_SEQUENCED = (
    "analyst",
    "kb_article",
    "text_module",
    "organization",
    "contact",
    "asset",
    "ticket",
    "ticket_link",
    "ticket_event",
)

Batch = list[tuple[str, list[tuple[Any, ...]]]]

#: A ticket's story: yields the time of its next change and makes it when resumed.
Story = Generator[int, None, None]


class _Sink(Protocol):
    true: Any
    false: Any

    def stamp(self, seconds: int) -> str: ...
    def write(self, batch: Batch) -> None: ...
    def finish(self, last_ids: dict[str, int]) -> None: ...
    def close(self) -> None: ...


class _Stamps:
    """Timestamps as the database stores them, from whole seconds since the epoch.

    ``strftime`` per value would cost more than the rest of an event row; a day's prefix is
    cached and the time of day comes from a table of 86,400 strings.
    """

    def __init__(self, day: Callable[[datetime], str], clock_suffix: str) -> None:
        self._day = day
        self._days: dict[int, str] = {}
        self._times = [
            f" {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}{clock_suffix}" for s in range(_DAY)
        ]

    def __call__(self, seconds: int) -> str:
        day, rest = divmod(seconds, _DAY)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = self._days[day] = self._day(datetime.fromtimestamp(day * _DAY, UTC))
        return prefix + self._times[rest]


class _SqliteSink:
    """The whole demo in one transaction, as on PostgreSQL: a load killed at any moment
    leaves the desk as it was (empty), never a partial desk.

    The search index's triggers (migration 0008) kept the index row by row and made loading
    tickets some forty times slower: they are dropped inside that transaction and made again,
    with the index built once from every ticket, just before its COMMIT. So no commit ever
    leaves the desk without them. (An older deskterm dropped them outside the load's
    transactions; a desk it left half built is refused by ``check_demo_target``.)

    One transaction costs disk, not time: the WAL grows to about the size of the new desk
    until the final checkpoint folds it in (a desk of a million tickets: 2.5 GB, twice for
    a moment)."""

    true, false = 1, 0

    def __init__(self, db: Database) -> None:
        self._raw = db.engine.raw_connection()
        self._conn: Any = self._raw.driver_connection
        assert self._conn is not None
        self.stamp = _Stamps(lambda d: sqlite_timestamp(d)[:10], ".000000")
        self._cache = None
        try:
            self._prepare()
        except BaseException:
            self.close()
            raise

    def _prepare(self) -> None:
        # Index pages of a million-ticket desk do not fit SQLite's default 2 MB cache. And a
        # desk still being built is worth nothing after a crash of the machine (a killed
        # process loses nothing committed either way), so the load skips the syncs;
        # ``finish`` syncs the finished desk once.
        self._cache = self._conn.execute("PRAGMA cache_size").fetchone()[0]
        self._conn.execute("PRAGMA cache_size = -262144")
        self._conn.execute("PRAGMA synchronous = OFF")
        sample = 1_764_000_123
        assert self.stamp(sample) == sqlite_timestamp(datetime.fromtimestamp(sample, UTC))
        # Table and column names are the constants of _TABLES, values are bound parameters.
        self._sql = {
            table: f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"  # nosec B608
            for table, cols in _TABLES.items()
        }
        self._conn.execute("BEGIN IMMEDIATE")
        for (name,) in self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'ticket' "
            "AND name LIKE 'ticket\\_fts\\_%' ESCAPE '\\'"
        ).fetchall():
            self._conn.execute(f"DROP TRIGGER {quote_name(name)}")

    def write(self, batch: Batch) -> None:
        cursor = self._conn.cursor()
        try:
            for table, rows in batch:
                if rows:
                    cursor.executemany(self._sql[table], rows)
        finally:
            cursor.close()

    def finish(self, last_ids: dict[str, int]) -> None:
        # No sequences to move: INTEGER PRIMARY KEY continues after the highest rowid.
        # The triggers as deskterm defines them, not as found: a desk whose triggers an
        # older loader lost gets them back here.
        for sql in SQLITE_TRIGGERS.values():
            self._conn.execute(sql)
        self._conn.execute("INSERT INTO ticket_fts(ticket_fts) VALUES ('rebuild')")
        self._conn.execute("COMMIT")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        try:
            if self._conn.in_transaction:
                # Everything loaded goes, and the dropped triggers come back with it.
                self._conn.execute("ROLLBACK")
            if self._cache is not None:
                self._conn.execute(f"PRAGMA cache_size = {int(self._cache)}")
            self._conn.execute("PRAGMA synchronous = NORMAL")
        finally:
            self._raw.close()


class _PostgresSink:
    """``COPY`` in one transaction. The foreign keys of the loaded tables are dropped for the
    load and added back (from their own catalog definitions) before the commit: checking them
    row by row more than doubles the server's work, adding them back checks every row in one
    pass, and a failure anywhere rolls the whole demo back, constraints included."""

    true, false = True, False

    def __init__(self, db: Database) -> None:
        self._raw = db.engine.raw_connection()
        self._conn: Any = self._raw.driver_connection
        assert self._conn is not None
        self.stamp = _Stamps(lambda d: d.strftime("%Y-%m-%d"), "+00")
        self._done = False
        try:
            self._foreign_keys = self._drop_foreign_keys()
        except BaseException:
            self.close()
            raise

    def _drop_foreign_keys(self) -> list[tuple[str, str, str]]:
        import psycopg

        with self._conn.cursor() as cursor:
            keys: list[tuple[str, str, str]] = cursor.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) "
                "ORDER BY conrelid, conname",
                (list(_TABLES),),
            ).fetchall()
            cursor.execute("SAVEPOINT deskterm_demo")
            try:
                for table, name, _definition in keys:
                    cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {_quote(name)}")
            except psycopg.errors.InsufficientPrivilege:
                # Not the tables' owner (a shared database): load with the checks on, slower.
                cursor.execute("ROLLBACK TO SAVEPOINT deskterm_demo")
                return []
            cursor.execute("RELEASE SAVEPOINT deskterm_demo")
        return keys

    def write(self, batch: Batch) -> None:
        with self._conn.cursor() as cursor:
            for table, rows in batch:
                if not rows:
                    continue
                columns = ", ".join(_TABLES[table])
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)

    def finish(self, last_ids: dict[str, int]) -> None:
        with self._conn.cursor() as cursor:
            for table, name, definition in self._foreign_keys:
                cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {_quote(name)} {definition}")
            for table in _SEQUENCED:
                last = last_ids.get(table, 0)
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, %s)",
                    (table, max(last, 1), last > 0),
                )
        self._conn.commit()
        self._done = True
        # Fresh statistics, or the planner guesses on the first queue page; and a vacuum,
        # which sets the visibility map: until autovacuum gets round to rows loaded by COPY,
        # no index-only scan is one (each row is read from the table too), and the queue
        # pages took twice as long at a million tickets. VACUUM runs outside a transaction.
        self._conn.autocommit = True
        try:
            with self._conn.cursor() as cursor:
                for table in _TABLES:
                    cursor.execute(f"VACUUM (ANALYZE) {table}")
        finally:
            # The connection goes back to the pool: left in autocommit, the next session
            # on it would run outside a transaction (its SAVEPOINTs refused).
            self._conn.autocommit = False

    def close(self) -> None:
        try:
            if not self._done:
                self._conn.rollback()
        finally:
            self._raw.close()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Writer:
    """Writes batches from a thread of its own, so the database works while Python generates.

    PostgreSQL's server works in a process of its own and psycopg waits for it without the
    GIL: generation and loading overlap well. sqlite3 holds the GIL while it binds each row,
    so there the overlap is small (measured: 10.7 s instead of 11.9 s for 100k tickets).
    """

    def __init__(self, sink: _Sink) -> None:
        self._sink = sink
        self._queue: queue.Queue[Batch | None] = queue.Queue(maxsize=3)
        self._error: BaseException | None = None
        self._abandoned = False
        self._thread = threading.Thread(target=self._run, name="deskterm-demo-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            if self._error is None and not self._abandoned:
                try:
                    self._sink.write(batch)
                except BaseException as exc:  # handed to the generating thread
                    self._error = exc

    def put(self, batch: Batch) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(batch)

    def close(self, *, abandon: bool = False) -> None:
        self._abandoned = abandon
        self._queue.put(None)
        self._thread.join()
        if self._error is not None and not abandon:
            raise self._error


# --------------------------------------------------------------------------- building


def build_demo(
    db: Database,
    *,
    tickets: int = 2000,
    seed: int = 7,
    me: str | None = None,
    progress: Progress | None = None,
) -> DemoSummary:
    """Fill an empty desk with a team, callers, assets and ``tickets`` tickets with histories.

    The same seed, size and ``clock.now()`` give the same desk. ``me`` (the person trying the
    demo) joins as a first-line agent holding a few open tickets, unless it is a demo login.
    """
    started = time.perf_counter()
    if isinstance(tickets, bool) or not 0 <= tickets <= MAX_TICKETS:
        raise InvalidInput(
            f"the demo holds between 0 and {MAX_TICKETS:,} tickets, not {tickets:,}",
            field="tickets",
        )
    login = None
    if me is not None:
        login = me.strip().lower()
        if not _LOGIN.match(login):
            raise InvalidInput(
                f"{me!r} cannot be an analyst's login (a letter, then a-z, 0-9, '.', '_' or '-'): "
                "choose one with --as LOGIN",
                field="me",
            )
    definitions = load_definitions()
    world = _read_desk(db)
    sink: _Sink = _SqliteSink(db) if db.is_sqlite else _PostgresSink(db)
    writer = _Writer(sink)
    report = progress or (lambda _stage, _done, _total: None)
    try:
        builder = _Builder(
            definitions, world, sink, writer, report, tickets=tickets, seed=seed, me=login
        )
        builder.build()
        writer.close()
    except BaseException:
        writer.close(abandon=True)
        sink.close()
        raise
    # Adding PostgreSQL's foreign keys back and ANALYZE, or SQLite's final checkpoint: a few
    # seconds for a million tickets, worth a line of its own on the progress display.
    report("finishing", 0, 1)
    try:
        sink.finish(builder.last_ids)
    finally:
        sink.close()
    report("finishing", 1, 1)
    return DemoSummary(
        analysts=len(builder.people),
        groups=len(world.groups),
        contacts=len(builder.callers),
        organizations=builder.organizations,
        assets=builder.last_ids.get("asset", 0),
        tickets=tickets,
        events=builder.last_ids.get("ticket_event", 0),
        seconds=round(time.perf_counter() - started, 3),
        me=builder.me.login if builder.me else login,
    )


#: How many of the newest tickets ``check_demo_target`` replays: a half-built demo desk
#: shows it there first (its newest tickets wait for events never written).
_TARGET_CHECK = 200


def check_demo_target(db: Database) -> bool:
    """True when the desk is empty, so a demo may fill it; False when it holds a whole desk,
    to be left as it is. A desk that is not whole (its search index not kept, or its newest
    tickets not what their logs say), as an interrupted demo build of an older deskterm
    left it, is refused: building on it, or taking it for a finished desk, would hide that."""
    from deskterm.desk.analysts import desk_is_empty
    from deskterm.desk.consistency import check_log
    from deskterm.desk.search import search_index_faults
    from deskterm.domain.errors import Inconsistent
    from deskterm.domain.permissions import SYSTEM

    if desk_is_empty(db):
        return True
    with db.read() as session:
        summary = check_log(session, SYSTEM, limit=_TARGET_CHECK)
    with db.read() as session:
        faults = search_index_faults(session)
    if summary.differing:
        faults.append(
            f"{summary.differing:,} of its {summary.tickets:,} newest tickets differ from their log"
        )
    if faults:
        raise Inconsistent(
            f"{db.describe()} holds a desk that is not whole ({'; '.join(faults)}), as an "
            "interrupted demo build leaves it: to start the demo over, give it a new "
            "database file or URL (or delete this one); to keep it, see `deskterm db check`"
        )
    return False


@dataclass
class _World:
    """What the desk holds already: its groups, categories and resolution codes."""

    groups: dict[str, _Group]
    categories: list[tuple[int, str, int | None, int | None]]
    codes: set[str]


def _read_desk(db: Database) -> _World:
    with db.read() as session:
        found = [
            label
            for table, label in (
                ("analyst", "analysts"),
                ("ticket", "tickets"),
                ("contact", "contacts"),
                ("organization", "organizations"),
                ("asset", "assets"),
                # The demo numbers its articles from 1, as it does tickets.
                ("kb_article", "knowledge-base articles"),
                ("text_module", "text modules"),
            )
            # The table names are the constants above, never input.
            if session.execute(text(f"SELECT 1 FROM {table} LIMIT 1")).first() is not None  # nosec B608
        ]
        if found:
            raise InvalidInput(
                f"the demo fills an empty desk only, and {db.describe()} already has "
                f"{' and '.join(found[:2])}: give it a new database file or URL",
                field="database",
            )
        groups: dict[int, _Group] = {}
        escalations: dict[int, int | None] = {}
        for group_id, name, level, escalation in session.execute(
            text("SELECT id, name, level, escalation_group_id FROM support_group ORDER BY id")
        ):
            groups[group_id] = _Group(id=group_id, name=name, level=level)
            escalations[group_id] = escalation
        for group_id, target in escalations.items():
            if target is not None and target in groups:
                groups[group_id].escalation = groups[target]
        categories = [
            (cat_id, path, parent, group)
            for cat_id, path, parent, group in session.execute(
                text("SELECT id, path, parent_id, default_group_id FROM category ORDER BY id")
            )
        ]
        codes = set(session.scalars(text("SELECT code FROM resolution_code WHERE active")).all())
    if not groups:
        raise InvalidInput("the desk has no support groups: open it with deskterm first")
    return _World(groups={g.name: g for g in groups.values()}, categories=categories, codes=codes)


def _ascii(text: str) -> str:
    text = text.translate(_GERMAN)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


_GERMAN = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ı": "i"}
)


def _weighted(rng: random.Random, table: Sequence[tuple[T, float]]) -> Callable[[], T]:
    values = [v for v, _ in table]
    cum: list[float] = []
    total = 0.0
    for _, weight in table:
        total += weight
        cum.append(total)

    def pick() -> T:
        return values[bisect.bisect_right(cum, rng.random() * total)]

    return pick


class _Builder:
    """Generates the desk in order (team, callers, tickets) and hands rows to the writer."""

    def __init__(
        self,
        definitions: Definitions,
        world: _World,
        sink: _Sink,
        writer: _Writer,
        progress: Progress,
        *,
        tickets: int,
        seed: int,
        me: str | None,
    ) -> None:
        self.defs = definitions
        self.world = world
        self.sink = sink
        self.stamp = sink.stamp
        self.writer = writer
        self.progress = progress
        self.tickets = tickets
        self.seed = seed
        self.me_login = me
        self.me: _Person | None = None
        self.now_dt = clock.now()
        self.now = int(self.now_dt.timestamp())
        # Small desks cover the last few months, a million tickets about two years.
        self.span_days = min(730, max(45, round(90 * (max(tickets, 1) / 2000) ** 0.4)))
        self.start = self.now - self.span_days * _DAY
        self.people: list[_Person] = []
        self.callers: list[_Caller] = []
        self.organizations = 0
        self.articles: list[tuple[int, DemoArticle]] = []
        self.last_ids: dict[str, int] = {}
        self.batch: dict[str, list[tuple[Any, ...]]] = {name: [] for name in _TABLES}
        self.rows = 0

    # ----------------------------------------------------------------- plumbing

    def emit(self, table: str, row: tuple[Any, ...]) -> None:
        self.batch[table].append(row)
        self.rows += 1
        if self.rows >= _BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        # Parents before children: a batch is written table by table in this order.
        self.writer.put([(name, rows) for name, rows in self.batch.items() if rows])
        self.batch = {name: [] for name in _TABLES}
        self.rows = 0

    def build(self) -> None:
        self._team()
        self._articles()
        self._modules()
        self._callers()
        self.flush()
        if self.tickets:
            _Desk(self).run()
        self.flush()

    # ----------------------------------------------------------------- the team

    def _group(self, name: str) -> _Group:
        group = self.world.groups.get(name)
        if group is None:
            raise InvalidInput(
                f"the demo team works in the shipped groups, and this desk has no group "
                f"named {name!r}"
            )
        return group

    def _team(self) -> None:
        rng = random.Random(f"{self.seed}:team")
        specs = list(self.defs.analysts)
        logins = {str(spec["login"]).lower() for spec in specs}
        if self.me_login and self.me_login not in logins:
            specs.append(
                {
                    "login": self.me_login,
                    "name": self.me_login.replace(".", " ").replace("_", " ").title(),
                    "role": Role.AGENT.value,
                    "level": 1,
                    "groups": ["Service Desk"],
                    "me": True,
                }
            )
            logins.add(self.me_login)
        specs += self._extra_staff(rng, logins)
        hired = self.start - 120 * _DAY
        by_login: dict[str, _Person] = {}
        for number, spec in enumerate(specs, start=1):
            role = str(spec.get("role", Role.AGENT.value))
            if role not in {r.value for r in Role}:
                raise InvalidInput(f"demo analyst {spec['login']!r} has an unknown role {role!r}")
            person = _Person(
                id=number,
                login=str(spec["login"]).lower(),
                name=str(spec["name"]),
                role=role,
                level=int(spec.get("level", 1)),
                groups=[self._group(g) for g in spec["groups"]],
            )
            if spec.get("away"):
                person.away_reason = str(spec["away"])
                person.away_from = self._morning(
                    self.now - int(float(spec.get("away_since_days", 2)) * _DAY)
                )
                person.away_until = self._morning(
                    self.now + int(float(spec.get("away_for_days", 5)) * _DAY)
                )
            if spec.get("me"):
                self.me = person
            self.people.append(person)
            by_login[person.login] = person
        for spec, person in zip(specs, self.people, strict=True):
            if spec.get("backup"):
                backup = by_login.get(str(spec["backup"]).lower())
                if backup is None or backup.away_from is not None:
                    raise InvalidInput(
                        f"demo analyst {person.login!r} names a backup who is not on the team "
                        "or is away too"
                    )
                person.backup = backup
        # An away analyst's row names their backup: backups go first for SQLite's checks.
        for person in sorted(self.people, key=lambda p: (p.backup is not None, p.id)):
            self.emit(
                "analyst",
                (
                    person.id,
                    person.login,
                    person.name,
                    f"{person.login}@servicedesk.example",
                    person.role,
                    person.level,
                    Availability.AWAY.value if person.away_from else Availability.AVAILABLE.value,
                    person.away_reason,
                    self.stamp(person.away_until) if person.away_until else None,
                    person.backup.id if person.backup else None,
                    self.sink.true,
                    self.stamp(hired + rng.randrange(60 * _DAY)),
                ),
            )
            for group in person.groups:
                self.emit("analyst_group", (person.id, group.id))
        self.last_ids["analyst"] = len(self.people)
        self.progress("analysts", len(self.people), len(self.people))

    def _extra_staff(self, rng: random.Random, logins: set[str]) -> list[dict[str, Any]]:
        """More hands for very large desks, so that queues per analyst stay believable."""
        extra = min(150, self.tickets // 20_000)
        first_line = [g for g in self.world.groups.values() if g.level == 1]
        second = [g for g in self.world.groups.values() if g.level == 2]
        third = [g for g in self.world.groups.values() if g.level == 3]
        staff: list[dict[str, Any]] = []
        firsts, lasts = self.defs.names["en"]
        for number in range(extra):
            first, last = rng.choice(firsts), rng.choice(lasts)
            base = _ascii(f"{first}.{last}").lower().replace(" ", "")
            login, n = base, 1
            while login in logins or not _LOGIN.match(login):
                n += 1
                login = f"{base}{n}"
            logins.add(login)
            kind = number % 10
            if kind < 5 and first_line:
                role, level, groups = Role.AGENT.value, 1, [first_line[number % len(first_line)]]
            elif kind < 9 and second:
                role, level, groups = Role.TECHNICIAN.value, 2, [second[number % len(second)]]
            elif third:
                role, level, groups = Role.TECHNICIAN.value, 3, [third[number % len(third)]]
            else:
                continue
            staff.append(
                {
                    "login": login,
                    "name": f"{first} {last}",
                    "role": role,
                    "level": level,
                    "groups": [g.name for g in groups],
                }
            )
        return staff

    def _morning(self, at: int) -> int:
        return at - at % _DAY + 7 * _HOUR

    # ----------------------------------------------------------------- knowledge base

    def _articles(self) -> None:
        """The team's articles, written (and most of them last revised) before the first
        ticket: a published one by a supervisor, as ``kb.add_article`` demands."""
        rng = random.Random(f"{self.seed}:kb")
        by_login = {p.login: p for p in self.people}
        leads = [p for p in self.people if p.role == Role.SUPERVISOR.value] or [
            p for p in self.people if p.role == Role.ADMIN.value
        ]
        categories = {path: cat_id for cat_id, path, _parent, _group in self.world.categories}
        published = ArticleStatus.PUBLISHED.value
        self.articles = []
        for article_id, article in enumerate(self.defs.articles, start=1):
            author = by_login.get(article.author)
            if author is None or (article.status == published and author.role not in _MAY_PUBLISH):
                author = rng.choice(leads) if leads else None
            created = self.start - rng.randrange(20 * _DAY, 400 * _DAY)
            updated = created + rng.randrange(0, self.start - created)
            self.emit(
                "kb_article",
                (
                    article_id,
                    article.title,
                    article.body,
                    categories.get(article.category),
                    article.tags,
                    article.status,
                    self.stamp(created),
                    self.stamp(updated),
                    author.id if author else None,
                    author.id if author else None,
                ),
            )
            self.articles.append((article_id, article))
        self.last_ids["kb_article"] = len(self.articles)

    # ----------------------------------------------------------------- text modules

    def _modules(self) -> None:
        """The desk's canned answers, as ``texts.add_text`` writes them: everyone's by an
        admin, a group's by one of its supervisors (else an admin)."""
        rng = random.Random(f"{self.seed}:texts")
        by_login = {p.login: p for p in self.people}
        admins = [p for p in self.people if p.role == Role.ADMIN.value]
        for module_id, module in enumerate(self.defs.modules, start=1):
            group = self._group(module.group) if module.group else None
            author = by_login.get(module.author or "")
            may = author is not None and (
                author.role == Role.ADMIN.value
                or (
                    group is not None
                    and author.role == Role.SUPERVISOR.value
                    and group in author.groups
                )
            )
            if not may:
                author = admins[0] if admins else None
            written = self.start - rng.randrange(10 * _DAY, 200 * _DAY)
            self.emit(
                "text_module",
                (
                    module_id,
                    module.name,
                    module.body,
                    group.id if group else None,
                    None,
                    group.id if group else 0,
                    author.id if author else None,
                    self.stamp(written),
                ),
            )
        self.last_ids["text_module"] = len(self.defs.modules)

    # ----------------------------------------------------------------- callers

    def _callers(self) -> None:
        rng = random.Random(f"{self.seed}:callers")
        defs = self.defs
        count = min(100_000, max(50, self.tickets // 10))
        orgs = defs.organizations
        org_pick = _weighted(rng, [(i, float(o.get("weight", 1))) for i, o in enumerate(orgs)])
        preferred = _weighted(rng, _PREFERRED)
        for number, spec in enumerate(orgs, start=1):
            self.emit(
                "organization",
                (
                    number,
                    spec["name"],
                    f"{spec['phone_prefix']}0000",
                    spec["domain"],
                    spec.get("notes"),
                ),
            )
        self.organizations = len(orgs)
        self.last_ids["organization"] = len(orgs)
        slots = list(defs.slots.values())
        emails: set[str] = set()
        asset_id = 0
        every = max(1, count // 20)
        for contact_id in range(1, count + 1):
            private = rng.random() < defs.private_share
            org_index = -1 if private else org_pick()
            org: dict[str, Any] | None = orgs[org_index] if org_index >= 0 else None
            language = org["language"] if org else "en"
            if org and language != "en" and rng.random() < 0.06:
                language = "en"
            firsts, lasts = defs.names[language]
            first, last = rng.choice(firsts), rng.choice(lasts)
            name = f"{first} {last}"
            domain = org["domain"] if org else "mail.example"
            base = _ascii(f"{first}.{last}").lower().replace(" ", "")
            email, n = f"{base}@{domain}", 1
            while email in emails:
                n += 1
                email = f"{base}{n}@{domain}"
            emails.add(email)
            phone = f"{org['phone_prefix']}{rng.randrange(1, 10_000):04d}" if org else None
            mobile = None
            if not org or rng.random() < 0.5:
                prefix = defs.mobile_prefix.get(language, defs.mobile_prefix["en"])
                mobile = f"{prefix}{rng.randrange(100_000):05d}"
            site = rng.choice(org["sites"] if org else defs.private_sites)
            self.emit(
                "contact",
                (
                    contact_id,
                    name,
                    name.lower(),
                    email,
                    phone,
                    phone_digits(phone) or None,
                    mobile,
                    phone_digits(mobile) or None,
                    org_index + 1 if org else None,
                    site,
                    language,
                    preferred(),
                    self.sink.true if rng.random() < 0.02 else self.sink.false,
                    self.stamp(self.start - rng.randrange(30 * _DAY, 400 * _DAY)),
                    *stored_numbers(phone, mobile),
                    # Where the contact list puts the caller (migration 0015).
                    name_key(name),
                ),
            )
            # The words a caller is found by (migration 0011), written with the caller.
            for word in name_words(name):
                self.emit("contact_word", (contact_id, word, name.lower()))
            caller = _Caller(
                id=contact_id,
                name=name,
                first=first,
                org=org["name"] if org else "private",
                org_index=org_index,
                site=site,
            )
            for slot in slots:
                if rng.random() >= slot.share:
                    continue
                product = rng.choice(slot.products)
                asset_id += 1
                serial = (
                    f"{product.serial}{_code(rng, 8 - min(4, len(product.serial)))}"
                    if product.serial
                    else None
                )
                account = (
                    f"{product.account}{rng.randrange(10_000, 100_000)}"
                    if product.account
                    else None
                )
                self.emit(
                    "asset",
                    (
                        asset_id,
                        contact_id,
                        org_index + 1 if org else None,
                        slot.kind,
                        product.product,
                        product.model,
                        serial,
                        account,
                        None,
                    ),
                )
                caller.assets[slot.name] = (asset_id, product.product, serial or account or "")
            self.callers.append(caller)
            if contact_id % every == 0 or contact_id == count:
                self.progress("contacts", contact_id, count)
        self.last_ids["contact"] = count
        self.last_ids["asset"] = asset_id


_CODE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"


def _code(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(_CODE_CHARS) for _ in range(length))


# --------------------------------------------------------------------------- the simulation


def _check(current: str, target: str) -> None:
    """A story must only make changes the desk allows; a slip is a bug here, not bad input."""
    if (current, target) not in _MAY_BECOME:
        raise AssertionError(f"demo story made a ticket go from {current} to {target}")


class _Arrivals:
    """When each ticket comes in: busy weekday office hours, quiet nights and weekends, and a
    desk that grows a little over the period. Slot ``n`` is the n-th ticket of the desk."""

    def __init__(self, builder: _Builder, rng: random.Random) -> None:
        self.rng = rng
        self.total = max(builder.tickets, 1)
        now, start = builder.now, builder.start
        self.starts: list[int] = []
        self.lengths: list[int] = []
        self.cum: list[float] = []
        weight = 0.0
        hour = start - start % _HOUR
        while hour < now:
            length = min(_HOUR, now - hour)
            day, rest = divmod(hour, _DAY)
            busy = _WEEKDAY[(day + 3) % 7] * _HOURS[rest // _HOUR]
            growth = 0.8 + 0.4 * (hour - start) / max(1, now - start)
            weight += busy * growth * length / _HOUR
            self.starts.append(hour)
            self.lengths.append(length)
            self.cum.append(weight)
            hour += _HOUR
        self.weight = weight
        self._times: dict[int, int] = {}
        self._next = 0
        self._last = self.starts[0]

    def at(self, slot: int) -> int:
        """The creation time of slot ``slot``; slots are asked for in order (a few ahead)."""
        while self._next <= slot:
            share = (self._next + self.rng.random()) / self.total * self.weight
            hour = min(bisect.bisect_right(self.cum, share), len(self.cum) - 1)
            before = self.cum[hour - 1] if hour else 0.0
            width = self.cum[hour] - before
            offset = int((share - before) / width * self.lengths[hour]) if width > 0 else 0
            moment = max(self._last, self.starts[hour] + min(offset, self.lengths[hour] - 1))
            self._last = moment
            self._times[self._next] = moment
            self._times.pop(self._next - 16, None)
            self._next += 1
        return self._times[slot]

    def slot_near(self, moment: int, total: int) -> int:
        """The slot that arrives about at ``moment``."""
        hour = max(0, bisect.bisect_right(self.starts, moment) - 1)
        before = self.cum[hour - 1] if hour else 0.0
        share = before + (self.cum[hour] - before) * min(
            1.0, max(0, moment - self.starts[hour]) / self.lengths[hour]
        )
        return max(0, min(total - 1, int(share / self.weight * total)))


# Tickets per hour relative to the busiest: by weekday (Monday first) and by hour of the day.
_WEEKDAY = (1.0, 0.95, 0.9, 0.9, 0.8, 0.12, 0.08)
_HOURS = (
    0.04, 0.03, 0.03, 0.03, 0.04, 0.06, 0.15, 0.5, 0.95, 1.0, 1.0, 0.95,
    0.7, 0.85, 0.95, 0.9, 0.8, 0.55, 0.3, 0.18, 0.12, 0.1, 0.07, 0.05,
)  # fmt: skip


class _Desk:
    """Plays every ticket's story, in order of creation, and writes what happened."""

    def __init__(self, builder: _Builder) -> None:
        self.b = builder
        self.rng = random.Random(f"{builder.seed}:tickets")
        self.random = self.rng.random
        self.now = builder.now
        self.stamp = builder.stamp
        self.defs = builder.defs
        world = builder.world
        self.codes = world.codes
        fallback: str | None = next(
            (c for c in ("fixed", "solved-first-contact") if c in world.codes), None
        )
        if fallback is None and world.codes:
            fallback = min(world.codes)
        if fallback is None:
            raise InvalidInput("the desk has no resolution codes: open it with deskterm first")
        self.fallback_code = fallback
        matrix = defaults.priority_matrix()
        self.priorities = {
            (i.value, u.value): matrix.priority(i, u) for i in Impact for u in Urgency
        }
        policy = defaults.sla_policy()
        self.sla_share = policy.warning_share
        # Working time by binary search over the calendar's periods: a million tickets
        # cannot afford walking the calendar day by day.
        first = datetime.fromtimestamp(builder.start - 2 * _DAY, UTC).date()
        last = datetime.fromtimestamp(self.now + 400 * _DAY, UTC).date()
        timelines: dict[str, Timeline] = {}
        self.sla: list[tuple[int, int, Timeline] | None] = [None]
        for number in range(1, 6):
            target = policy.targets.get(number)
            if target is None:
                self.sla.append(None)
                continue
            name = target.calendar.name
            if name not in timelines:
                timelines[name] = Timeline(target.calendar, first, last)
            self.sla.append(
                (
                    int(target.response.total_seconds()),
                    int(target.resolution.total_seconds()),
                    timelines[name],
                )
            )
        self.service_desk = self._first_line(world)
        self.members: dict[int, list[_Person]] = {g.id: [] for g in world.groups.values()}
        leads: dict[int, list[_Person]] = {g.id: [] for g in world.groups.values()}
        supervisors: list[_Person] = []
        for person in builder.people:
            if person is builder.me:
                continue  # the person trying the demo gets stories of their own
            lead = person.role in (Role.SUPERVISOR.value, Role.ADMIN.value)
            for group in person.groups:
                (leads if lead else self.members)[group.id].append(person)
            if person.role == Role.SUPERVISOR.value:
                supervisors.append(person)
        if not supervisors:
            supervisors = [p for p in builder.people if p.role == Role.ADMIN.value]
        self.leads = {gid: people or supervisors for gid, people in leads.items()}
        for gid, people in self.members.items():
            if not people:
                self.members[gid] = self.leads[gid] or list(builder.people)
        aways = [p.away_from for p in builder.people if p.away_from is not None]
        self.first_absence = min(aways) if aways else self.now + 1
        self.categories = self._categories(world)
        self.pick_category = _weighted(self.rng, [(c, c.weight) for c in self.categories])
        self.pick_channel = _weighted(self.rng, _CHANNELS)
        self.pick_impact = _weighted(self.rng, _IMPACTS)
        self.pick_urgency = _weighted(self.rng, _URGENCIES)
        self.by_org: dict[int, list[_Caller]] = {}
        for caller in builder.callers:
            self.by_org.setdefault(caller.org_index, []).append(caller)
        self.texts = self.defs.work
        self.vendors = self.defs.texts("vendors")
        self.heap: list[tuple[Any, ...]] = []
        self.pending: list[tuple[Any, ...]] = []
        self.played: list[_Tk] = []
        self.links: list[tuple[Any, ...]] = []
        self.kb = Solver(builder.articles, builder.seed)
        #: kb_ticket rows of the tickets just played.
        self.kb_links: list[tuple[Any, ...]] = []
        self.languages = [str(o["language"]) for o in self.defs.organizations]
        self.seq = 0
        self.event_id = 0
        self.link_id = 0
        self.arrivals = _Arrivals(builder, random.Random(f"{builder.seed}:arrivals"))

    def _first_line(self, world: _World) -> _Group:
        first = world.groups.get("Service Desk")
        if first is None:
            first = min(world.groups.values(), key=lambda g: (g.level, g.name))
        return first

    def _categories(self, world: _World) -> list[_Cat]:
        rows = {row[0]: row for row in world.categories}
        groups = {g.id: g for g in world.groups.values()}
        parents = {row[2] for row in world.categories if row[2] is not None}
        found: list[_Cat] = []
        for cat_id, path, _parent, _group in world.categories:
            spec = self.defs.categories.get(path)
            issues = self.defs.issues.get(path)
            if cat_id in parents or spec is None or not issues:
                continue
            # The group the category routes to (its own or its parent's), and the specialists
            # it goes to when first line cannot solve it: the first group above first line up
            # the tree, else first line's escalation path.
            group: _Group | None = None
            specialist: _Group | None = None
            node = rows.get(cat_id)
            while node is not None:
                candidate = groups.get(node[3]) if node[3] is not None else None
                if candidate is not None:
                    group = group or candidate
                    if candidate.level > 1:
                        specialist = candidate
                        break
                node = rows.get(node[2]) if node[2] is not None else None
            group = group or self.service_desk
            specialist = specialist or self.service_desk.escalation or group
            codes = tuple(c for c in spec.codes if c in self.codes) or (self.fallback_code,)
            first_line = group.level == 1
            found.append(
                _Cat(
                    id=cat_id,
                    path=path,
                    group=group,
                    specialist=specialist,
                    weight=spec.weight,
                    slot=spec.slot,
                    codes=codes,
                    issues=issues,
                    first_contact=0.6 if first_line else 0.05 if group.level == 3 else 0.3,
                    escalate=0.15 if first_line else 0.85 if group.level == 3 else 0.5,
                )
            )
        if not found:
            raise InvalidInput(
                "no category of this desk has demo tickets in data/demo/tickets.toml"
            )
        return found

    # ----------------------------------------------------------------- the run

    def run(self) -> None:
        total = self.b.tickets
        mine = self._my_slots(total) if self.b.me is not None else {}
        queued = self._queued_slots(total, mine)
        special = set(mine) | set(queued)
        step = max(1, min(10_000, total // 100))
        report = step
        rng = self.rng
        slot = 0
        while slot < total:
            created = self.arrivals.at(slot)
            follows = slot + 1 < total and slot + 1 not in special
            if slot in mine:
                stories = [self._my_story(self._ticket(slot), created, mine[slot])]
            elif slot in queued:
                stories = [self._queued(self._ticket(slot), created, queued[slot])]
            else:
                chance = rng.random()
                if chance < 0.035 and follows:
                    more = (
                        2 if chance < 0.007 and slot + 2 < total and slot + 2 not in special else 1
                    )
                    stories = self._split_call(slot, more, created)
                elif chance < 0.055 and follows:
                    original = self._ticket(slot)
                    copy = self._ticket(slot + 1)
                    stories = [
                        self._story(original, created),
                        self._duplicate(copy, self.arrivals.at(slot + 1), original),
                    ]
                else:
                    stories = [self._story(self._ticket(slot), created)]
            self._play(stories)
            slot += len(self.played)
            for ticket in self.played:
                self._write_ticket(ticket)
            for link in self.links:
                self.b.emit("ticket_link", link)
            for solved in self.kb_links:
                self.b.emit("kb_ticket", solved)
            for event in self.pending:
                heapq.heappush(self.heap, event)
            self.played, self.links, self.pending, self.kb_links = [], [], [], []
            self._release(self.arrivals.at(slot) if slot < total else self.now + 1)
            if slot >= report or slot >= total:
                self.b.progress("tickets", slot, total)
                report = slot + step
        self._release(self.now + 1)
        self.b.last_ids["ticket"] = total
        self.b.last_ids["ticket_event"] = self.event_id
        self.b.last_ids["ticket_link"] = self.link_id

    def _my_slots(self, total: int) -> dict[int, str]:
        slots: dict[int, str] = {}
        for story, hours in zip(_MY_STORIES, _MY_HOURS, strict=True):
            slot = self.arrivals.slot_near(self.now - int(hours * _HOUR), total)
            while slot in slots and slot + 1 < total:
                slot += 1
            slots.setdefault(slot, story)
        return slots

    def _queued_slots(self, total: int, mine: dict[int, str]) -> dict[int, bool]:
        """The newest few tickets (not the demo user's) wait in a queue, as on any desk:
        two fresh ones in first line's, one escalated in a specialist group's."""
        slots = [s for s in range(total - 1, max(-1, total - 20), -1) if s not in mine][:3]
        return {slot: slot == slots[-1] for slot in slots}

    def _play(self, stories: list[Story]) -> None:
        """Run the stories of one ticket, or of a few tickets that touch each other, change by
        change in time order up to now: a change due later has not happened yet."""
        now = self.now
        if len(stories) == 1:
            story = stories[0]
            at = next(story)
            try:
                while at < now:
                    at = story.send(None)
            except StopIteration:
                pass
            return
        running: list[list[Any]] = [[next(s), i, s] for i, s in enumerate(stories)]
        while running:
            item = min(running)
            if item[0] >= now:
                return
            try:
                item[0] = item[2].send(None)
            except StopIteration:
                running.remove(item)

    def _release(self, frontier: int) -> None:
        """Write the events that no ticket still to come can precede, giving them their ids."""
        heap, emit, stamp = self.heap, self.b.emit, self.stamp
        while heap and heap[0][0] < frontier:
            at, _seq, ticket_id, version, actor, kind, visibility, data = heapq.heappop(heap)
            self.event_id += 1
            emit(
                "ticket_event",
                (self.event_id, ticket_id, version, stamp(at), actor, kind, visibility, data),
            )

    def _write_ticket(self, tk: _Tk) -> None:
        stamp = self.stamp
        alerts, next_alarm = self._sla_alarms(tk)
        self.b.emit(
            "ticket",
            (
                tk.id,
                tk.subject,
                tk.description,
                tk.caller.id,
                tk.asset_id,
                tk.cat.id,
                tk.channel,
                tk.impact,
                tk.urgency,
                tk.priority,
                None,
                tk.status,
                tk.level,
                tk.group.id,
                tk.assignee.id if tk.assignee else None,
                tk.code,
                tk.resolution,
                tk.created_by.id if tk.created_by else None,
                stamp(tk.created),
                stamp(tk.updated),
                None if tk.first_response is None else stamp(tk.first_response),
                None if tk.resolved is None else stamp(tk.resolved),
                None if tk.closed is None else stamp(tk.closed),
                None if tk.response_due is None else stamp(tk.response_due),
                None if tk.resolve_due is None else stamp(tk.resolve_due),
                tk.version,
                None if tk.sla_run is None else stamp(tk.sla_run),
                None if tk.sla_paused is None else stamp(tk.sla_paused),
                tk.sla_used,
                None if tk.response_warn is None else stamp(tk.response_warn),
                None if tk.resolve_warn is None else stamp(tk.resolve_warn),
                alerts,
                None if next_alarm is None else stamp(next_alarm),
                None if tk.unassigned is None else stamp(tk.unassigned),
            ),
        )

    # ----------------------------------------------------------------- choosing

    def _ticket(self, slot: int) -> _Tk:
        ticket = _Tk(slot + 1)
        self.played.append(ticket)
        return ticket

    def one(self, items: Sequence[T]) -> T:
        """``random.choice``, without its Python-level overhead (called millions of times)."""
        return items[int(self.random() * len(items))]

    def _caller(self) -> _Caller:
        # A few callers call often: the oldest contacts are the desk's regulars.
        callers = self.b.callers
        return callers[int(len(callers) * self.rng.random() ** 1.6)]

    def _pick(self, group: _Group, at: int) -> _Person:
        """Someone of ``group`` who is at work at ``at``."""
        people = self.members[group.id]
        if at >= self.first_absence:
            people = [p for p in people if not p.away_at(at)] or self.leads[group.id]
        return self.one(people)

    def _colleague(self, tk: _Tk, at: int) -> _Person | None:
        people = [
            p for p in self.members[tk.group.id] if p is not tk.assignee and not p.away_at(at)
        ]
        return self.one(people) if people else None

    def _lead(self, group: _Group) -> _Person:
        return self.one(self.leads[group.id])

    def _say(self, key: str, tk: _Tk, **extra: str) -> str:
        texts = self.texts.get(key) or self.texts["reasons.escalate.default"]
        ctx = tk.ctx
        if extra:
            ctx = {**ctx, **extra}
        return self.one(texts).format_map(ctx)

    def _seconds(self, low: int, high: int) -> int:
        return int(low * (high / low) ** self.rng.random())

    def _after(self, tk: _Tk, low: int, high: int, office: bool = True) -> int:
        at = tk.t + 1 + int(self._seconds(low, high) * _PACE[tk.priority])
        if office and tk.priority >= 3:
            at = self._office(at)
        return at

    def _office(self, at: int) -> int:
        """``at``, or the next morning the desk is open when it falls outside office hours."""
        day, rest = divmod(at, _DAY)
        weekday = (day + 3) % 7
        if weekday < 5 and 7 * _HOUR <= rest < 18 * _HOUR:
            return at
        if weekday >= 5 or rest >= 18 * _HOUR:
            day += 1
            while (day + 3) % 7 >= 5:
                day += 1
        return day * _DAY + 7 * _HOUR + self.rng.randrange(90 * 60)

    def _when(self, tk: _Tk, low: int, high: int, office: bool = True) -> Generator[int, None, int]:
        """Wait for the next step; if the holder has gone away meanwhile, a supervisor first
        hands the ticket to the holder's backup, who then takes the step."""
        at = self._after(tk, low, high, office)
        yield at
        holder = tk.assignee
        if (
            holder is not None
            and holder.backup is not None
            and holder.away_at(at)
            and tk.status not in (_RESOLVED, _CLOSED, _CANCELLED)
        ):
            reason = self._say("reasons.away", tk, away=holder.first, backup=holder.backup.first)
            self._assign(tk, at, self._lead(tk.group), holder.backup, reason)
            at = self._after(tk, 900, 4 * _HOUR, office)
            yield at
        return at

    # ----------------------------------------------------------------- the desk's changes
    # Each mirrors one use case of desk/tickets/ or desk/queue.py: the same state change,
    # the same event kinds and data, one version per change.

    def _log(
        self,
        tk: _Tk,
        at: int,
        actor: _Person | None,
        payload: p.Payload,
        visible: bool | None = None,
    ) -> None:
        # The ledger's own data and visibility: the demo bulk-loads, it does not rewrite.
        kind, data = payload.kind.value, ledger.encode(payload)
        visibility = ledger.visibility(payload, visible).value
        visible = visibility == _PUBLIC
        self.seq += 1
        self.pending.append(
            (
                at,
                self.seq,
                tk.id,
                tk.version,
                actor.id if actor else None,
                kind,
                visibility,
                data,
            )
        )
        if visible and actor is not None and tk.first_response is None:
            if not isinstance(payload, p.Created):
                tk.first_response = at
        # Every change logs, so the clock follows here, as it does in tickets.Change.save().
        if tk.priority != tk.sla_priority or (tk.sla_run is None) == (tk.status not in _SLA_PAUSED):
            self._sla_follow(tk, at)
        if tk.assignee is not None:
            tk.unassigned = None
        elif tk.unassigned is None:
            tk.unassigned = at

    def _sla_follow(self, tk: _Tk, at: int) -> None:
        if tk.priority != tk.sla_priority:
            old = self.sla[tk.sla_priority]
            if tk.sla_run is not None and old is not None:
                tk.sla_used += old[2].elapsed(tk.sla_run, at)
                tk.sla_run = at
            tk.sla_priority = tk.priority
        plan = self.sla[tk.priority]
        if tk.status not in _SLA_PAUSED:
            if tk.sla_run is None:
                tk.sla_run, tk.sla_paused = at, None
        elif tk.sla_run is not None:
            if plan is not None:
                tk.sla_used += plan[2].elapsed(tk.sla_run, at)
            tk.sla_run, tk.sla_paused = None, at
        self._sla_plan(tk)

    def _sla_plan(self, tk: _Tk) -> None:
        """Due and warning times from the clock (domain/sla.py ``schedule``)."""
        plan = self.sla[tk.priority]
        anchor = tk.sla_run if tk.sla_run is not None else tk.sla_paused
        if plan is None or anchor is None:
            tk.response_due = tk.resolve_due = tk.response_warn = tk.resolve_warn = None
            return
        response, resolution, timeline = plan
        used, share = tk.sla_used, self.sla_share
        if tk.first_response is None or tk.response_due is None:
            tk.response_due = timeline.add(anchor, response - used)
            tk.response_warn = timeline.add(anchor, int(response * share) - used)
        tk.resolve_due = timeline.add(anchor, resolution - used)
        tk.resolve_warn = timeline.add(anchor, int(resolution * share) - used)

    def _sla_alarms(self, tk: _Tk) -> tuple[int, int | None]:
        """(alerts, next alarm): alarms already past count as recorded, as if the SLA check
        had been running all along (the demo writes no log lines for them); the next one is
        left for the check."""
        running = tk.sla_run is not None
        horizon = self.now if running else (tk.sla_paused or self.now)
        answered = tk.first_response
        response_end = horizon if answered is None else min(horizon, answered)
        alerts, upcoming = 0, []
        for warn, due, warned, breached, end, pending in (
            (tk.response_warn, tk.response_due, 1, 2, response_end, answered is None),
            (tk.resolve_warn, tk.resolve_due, 4, 8, horizon, True),
        ):
            if due is not None and due <= end:
                alerts |= warned | breached
            elif warn is not None and warn <= end:
                alerts |= warned
            if running and pending:
                if warn is not None and not alerts & warned:
                    upcoming.append(warn)
                if due is not None and not alerts & breached:
                    upcoming.append(due)
        return alerts, min(upcoming) if upcoming else None

    def _change(self, tk: _Tk, at: int) -> None:
        tk.version += 1
        tk.updated = tk.t = at

    def _open(
        self,
        tk: _Tk,
        at: int,
        creator: _Person | None,
        channel: str,
        caller: _Caller,
        cat: _Cat,
        *,
        issue: tuple[str, str] | None = None,
        parent: _Tk | None = None,
    ) -> None:
        """``create_ticket``: by an analyst on a live channel (they keep it, in their first
        group), or by the intake (``system``) into first line's queue."""
        rng = self.rng
        asset = caller.assets.get(cat.slot) if cat.slot else None
        slot = self.defs.slots.get(cat.slot) if cat.slot else None
        tk.ctx = {
            "first": caller.first,
            "name": caller.name,
            "org": caller.org,
            "site": caller.site,
            "asset": asset[1] if asset else slot.generic if slot else "device",
            "serial": (asset[2] if asset else "") or "unknown",
            "vendor": self.one(self.vendors),
            "case": str(rng.randrange(100_000, 10_000_000)),
            "group": "",
            "to": "",
            "away": "",
            "backup": "",
            "other": "",
        }
        subject, description = issue or self.one(cat.issues)
        tk.subject = subject.format_map(tk.ctx)[:200]
        tk.description = description.format_map(tk.ctx)
        tk.caller, tk.cat, tk.channel = caller, cat, channel
        tk.asset_id = asset[0] if asset else None
        tk.impact, tk.urgency = self.pick_impact(), self.pick_urgency()
        tk.priority = self.priorities[(tk.impact, tk.urgency)]
        if creator is not None:
            group = min(creator.groups, key=lambda g: (g.level, g.name))
        else:
            group = self.service_desk
        holder = creator if creator is not None and group in creator.groups else None
        tk.group, tk.level, tk.assignee, tk.created_by = group, group.level, holder, creator
        tk.status = _ASSIGNED if holder is not None else _NEW
        tk.created = tk.updated = tk.t = at
        tk.first_response = at if channel in _LIVE else None
        tk.sla_priority, tk.sla_run, tk.sla_paused, tk.sla_used = tk.priority, at, None, 0
        tk.unassigned = None if holder is not None else at
        self._sla_plan(tk)
        self._log(
            tk,
            at,
            creator,
            p.Created(
                subject=tk.subject,
                channel=channel,
                contact=caller.name,
                contact_id=caller.id,
                category=cat.path,
                impact=tk.impact,
                urgency=tk.urgency,
                priority=f"P{tk.priority}",
                status=tk.status,
                level=tk.level,
                group=group.name,
                assignee=holder.login if holder else None,
            ),
        )
        if channel == _PHONE and parent is None:
            self._log(
                tk,
                at,
                creator,
                p.CallLogged(direction=_INBOUND, duration_seconds=self._seconds(45, 1500)),
            )
        if parent is not None:
            self._link_pair(tk, parent, at, creator, LinkKind.SPLIT_FROM)

    def _claim(self, tk: _Tk, at: int, actor: _Person) -> None:
        """``queue.claim_next``: the assignment is public, so it is the first response."""
        self._change(tk, at)
        tk.assignee, tk.status = actor, _ASSIGNED
        self._log(
            tk,
            at,
            actor,
            p.Assigned(to=actor.login, via=CLAIM_VIA, status=_ASSIGNED),
        )

    def _assign(
        self, tk: _Tk, at: int, actor: _Person, target: _Person | None, reason: str | None = None
    ) -> None:
        previous = tk.assignee
        self._change(tk, at)
        tk.assignee = target
        tk.status = status_for_holder(tk.status, target is not None).value
        kind: type[p.HolderChange] = (
            p.Unassigned if target is None else p.Assigned if previous is None else p.Reassigned
        )
        self._log(
            tk,
            at,
            actor,
            kind(
                from_=previous.login if previous else None,
                to=target.login if target else None,
                reason=reason,
                status=tk.status,
            ),
        )

    def _escalate(self, tk: _Tk, at: int, actor: _Person, target: _Group, reason: str) -> None:
        current, previous = tk.group, tk.assignee
        self._change(tk, at)
        from_level = tk.level
        tk.group, tk.level, tk.assignee = target, target.level, None
        tk.unassigned = at
        if tk.status in (_ASSIGNED, _IN_PROGRESS):
            tk.status = _NEW
        self._log(
            tk,
            at,
            actor,
            p.Escalated(
                from_group=current.name,
                to_group=target.name,
                from_level=from_level,
                to_level=target.level,
                from_assignee=previous.login if previous else None,
                status=tk.status,
                reason=reason,
            ),
        )

    def _status(
        self, tk: _Tk, at: int, actor: _Person, target: str, reason: str | None = None
    ) -> None:
        _check(tk.status, target)
        self._change(tk, at)
        previous = tk.status
        if target == _NEW and tk.assignee is not None:
            self._log(tk, at, actor, p.Unassigned(from_=tk.assignee.login, status=_NEW))
            tk.assignee = None
        elif target in (_ASSIGNED, _IN_PROGRESS) and tk.assignee is None:
            tk.assignee = actor
            self._log(tk, at, actor, p.Assigned(to=actor.login, status=target))
        tk.status = target
        if target == _CANCELLED:
            tk.closed = at
        self._log(tk, at, actor, p.StatusChanged(from_=previous, to=target, reason=reason))

    def _note(self, tk: _Tk, at: int, actor: _Person, text: str, public: bool = False) -> None:
        self._change(tk, at)
        self._log(tk, at, actor, p.Note(text=text), visible=public)

    def _call(
        self, tk: _Tk, at: int, actor: _Person, direction: str, seconds: int, outcome: str
    ) -> None:
        self._change(tk, at)
        self._log(
            tk,
            at,
            actor,
            p.CallLogged(direction=direction, duration_seconds=seconds, outcome=outcome),
        )

    def _resolve(self, tk: _Tk, at: int, actor: _Person, code: str) -> None:
        _check(tk.status, _RESOLVED)
        if code != "duplicate":
            self._solved_with(tk, at, actor)
        text = self._say(f"resolutions.{code}", tk)
        self._change(tk, at)
        previous = tk.status
        if tk.assignee is None:
            tk.assignee = actor
        tk.status, tk.code, tk.resolution, tk.resolved = _RESOLVED, code, text, at
        self._log(
            tk,
            at,
            actor,
            p.Resolved(from_=previous, code=code, text=text, assignee=tk.assignee.login),
        )

    def _solved_with(self, tk: _Tk, at: int, actor: _Person) -> None:
        """``kb.link_article`` for a share of the tickets an article solves, by whoever
        resolves it, just before: a change of its own, an internal event."""
        index = tk.caller.org_index
        language = self.languages[index] if index >= 0 else "en"
        found = self.kb.solving(tk.subject, language)
        if not found or self.kb.random() >= LINK_SHARE:
            return
        if any(row[1] == tk.id for row in self.kb_links):
            return  # resolved again after a reopen: linked already
        article_id, title = found[int(self.kb.random() * len(found))]
        self._change(tk, at)
        self.kb_links.append((article_id, tk.id, self.stamp(at), actor.id))
        self._log(tk, at, actor, p.KbLinked(article=article_key(article_id), title=title))

    def _reopen(self, tk: _Tk, at: int, actor: _Person, reason: str) -> None:
        target = _IN_PROGRESS if tk.assignee else _NEW
        self._change(tk, at)
        tk.status, tk.code, tk.resolution, tk.resolved = target, None, None, None
        self._log(tk, at, actor, p.Reopened(from_=_RESOLVED, to=target, reason=reason))

    def _close(self, tk: _Tk, at: int, actor: _Person | None) -> None:
        _check(tk.status, _CLOSED)
        self._change(tk, at)
        tk.status, tk.closed = _CLOSED, at
        self._log(tk, at, actor, p.Closed(from_=_RESOLVED, to=_CLOSED))

    def _raise_urgency(self, tk: _Tk, at: int, actor: _Person, reason: str) -> None:
        """``set_priority`` with a higher urgency: the priority follows the matrix."""
        urgency = Urgency.HIGH.value if tk.urgency == Urgency.MEDIUM.value else "medium"
        derived = self.priorities[(tk.impact, urgency)]
        changes = [("urgency", tk.urgency, urgency)]
        if derived != tk.priority:
            changes.append(("priority", f"P{tk.priority}", f"P{derived}"))
        self._change(tk, at)
        tk.urgency = urgency
        # The SLA clock follows in _log, from the working time used so far.
        tk.priority = derived
        for name, old, new in changes:
            self._log(tk, at, actor, p.FieldChanged(field=name, from_=old, to=new, reason=reason))

    def _link(self, tk: _Tk, other: _Tk, at: int, actor: _Person, kind: LinkKind) -> None:
        self._change(tk, at)
        self._link_pair(tk, other, at, actor, kind)

    def _link_pair(
        self, tk: _Tk, other: _Tk, at: int, actor: _Person | None, kind: LinkKind
    ) -> None:
        created, by = self.stamp(at), actor.id if actor else None
        self.links.append((self.link_id + 1, tk.id, other.id, kind.value, created, by))
        self.links.append((self.link_id + 2, other.id, tk.id, kind.inverse.value, created, by))
        self.link_id += 2
        event: type[p.Linked | p.Split] = p.Split if kind == LinkKind.SPLIT_FROM else p.Linked
        self._log(tk, at, actor, event(link=kind, other=format_ref(other.id)))
        self._change(other, at)
        self._log(other, at, actor, event(link=kind.inverse, other=format_ref(tk.id)))

    # ----------------------------------------------------------------- stories

    def _story(
        self,
        tk: _Tk,
        created: int,
        *,
        creator: _Person | None = None,
        channel: str | None = None,
        caller: _Caller | None = None,
        parent: _Tk | None = None,
    ) -> Story:
        yield created
        channel = channel or self.pick_channel()
        if creator is None and channel in _LIVE:
            creator = self._pick(self.service_desk, created)
        category = self.pick_category()
        self._open(tk, created, creator, channel, caller or self._caller(), category, parent=parent)
        yield from self._life(tk)

    def _life(self, tk: _Tk) -> Story:
        rng = self.rng
        cat = tk.cat
        if tk.assignee is None:
            # Came in by mail, portal or SMS: it waits in first line's queue.
            at = yield from self._when(tk, 120, 4 * _HOUR)
            if rng.random() < 0.03:
                actor = self._pick(tk.group, at)
                self._status(tk, at, actor, _CANCELLED, self._say("reasons.cancel", tk))
                return
            self._take(tk, at)
        elif rng.random() < cat.first_contact:
            yield from self._first_contact(tk)
            return
        if rng.random() < 0.45:
            at = yield from self._when(tk, 60, 2 * _HOUR)
            self._status(tk, at, self._holder(tk, at), _IN_PROGRESS)
        if rng.random() >= cat.escalate:
            yield from self._work(tk, self.one((0, 1, 1, 2)))
            if tk.status == _CANCELLED:
                return
        else:
            yield from self._work(tk, self.one((0, 0, 0, 1)))
            if tk.status == _CANCELLED:
                return
            target = cat.specialist
            at = yield from self._when(tk, 300, 3 * _HOUR)
            reason = self._say(f"reasons.escalate.{target.name}", tk)
            self._escalate(tk, at, tk.assignee or self._lead(tk.group), target, reason)
            yield from self._specialists(tk)
            if tk.status == _CANCELLED:
                return
            further = tk.group.escalation
            if tk.level == 2 and further is not None and rng.random() < 0.12:
                at = yield from self._when(tk, _HOUR, 2 * _DAY)
                reason = self._say("reasons.escalate_l3", tk)
                self._escalate(tk, at, tk.assignee or self._lead(tk.group), further, reason)
                yield from self._specialists(tk)
                if tk.status == _CANCELLED:
                    return
        at = yield from self._when(tk, 600, 8 * _HOUR)
        self._resolve(tk, at, self._holder(tk, at), self.one(cat.codes))
        yield from self._closing(tk)

    def _holder(self, tk: _Tk, at: int) -> _Person:
        return tk.assignee or self._pick(tk.group, at)

    def _take(self, tk: _Tk, at: int) -> None:
        """Someone of the ticket's group takes it from the queue: "next" mostly, sometimes by
        assigning it to themselves, sometimes a supervisor hands it out."""
        person = self._pick(tk.group, at)
        chance = self.rng.random()
        if chance < 0.75:
            self._claim(tk, at, person)
        elif chance < 0.9:
            self._assign(tk, at, person, person)
        else:
            self._assign(tk, at, self._lead(tk.group), person)

    def _first_contact(self, tk: _Tk) -> Story:
        rng = self.rng
        if rng.random() < 0.4:
            at = yield from self._when(tk, 30, 300, office=False)
            self._note(tk, at, self._holder(tk, at), self._say("notes.first_contact", tk))
        at = yield from self._when(tk, 60, 900, office=False)
        codes = tk.cat.codes
        if "password-reset" in codes:
            code = "password-reset"
        elif "user-training" in codes and rng.random() < 0.3:
            code = "user-training"
        elif "solved-first-contact" in self.codes:
            code = "solved-first-contact"
        else:
            code = self.one(codes)
        self._resolve(tk, at, self._holder(tk, at), code)
        yield from self._closing(tk)

    def _specialists(self, tk: _Tk) -> Story:
        """The ticket waits in a specialist group's queue, is taken and worked."""
        rng = self.rng
        at = yield from self._when(tk, 600, 2 * _DAY)
        if rng.random() < 0.02:
            self._status(tk, at, self._lead(tk.group), _CANCELLED, self._say("reasons.cancel", tk))
            return
        self._take(tk, at)
        at = yield from self._when(tk, 120, 4 * _HOUR)
        self._status(tk, at, self._holder(tk, at), _IN_PROGRESS)
        yield from self._work(tk, self.one((0, 1, 1, 2, 3)))

    def _work(self, tk: _Tk, steps: int) -> Story:
        """A few steps of work by whoever holds the ticket."""
        rng = self.rng
        for _ in range(steps):
            chance = rng.random()
            at = yield from self._when(tk, 600, _DAY)
            holder = self._holder(tk, at)
            if chance < 0.30:
                self._note(tk, at, holder, self._say("notes.internal", tk))
            elif chance < 0.42:
                self._note(tk, at, holder, self._say("notes.public", tk), public=True)
            elif chance < 0.54:
                outcome = self._say("calls.outbound", tk)
                self._call(tk, at, holder, _OUTBOUND, self._seconds(30, 900), outcome)
            elif chance < 0.66:
                yield from self._wait(tk, at, holder, _WAITING_CUSTOMER)
            elif chance < 0.74 and tk.level > 1:
                yield from self._wait(tk, at, holder, _WAITING_THIRD_PARTY)
            elif chance < 0.80:
                # The customer chases; whoever answers the phone in first line logs it.
                agent = self._pick(self.service_desk, at)
                outcome = self._say("calls.chase", tk)
                self._call(tk, at, agent, _INBOUND, self._seconds(40, 600), outcome)
            elif chance < 0.85 and tk.assignee is not None:
                colleague = self._colleague(tk, at)
                if colleague is not None:
                    reason = self._say("reasons.handover", tk, to=colleague.first)
                    self._assign(tk, at, tk.assignee, colleague, reason)
            elif chance < 0.88 and tk.assignee is not None:
                colleague = self._colleague(tk, at)
                if colleague is not None:
                    reason = self._say("reasons.workload", tk, to=colleague.first)
                    self._assign(tk, at, self._lead(tk.group), colleague, reason)
            elif chance < 0.90 and tk.assignee is not None:
                self._assign(tk, at, tk.assignee, None, self._say("reasons.unassign", tk))
                at = yield from self._when(tk, 600, 8 * _HOUR)
                self._take(tk, at)
                at = yield from self._when(tk, 120, 2 * _HOUR)
                self._status(tk, at, self._holder(tk, at), _IN_PROGRESS)
            elif chance < 0.93 and tk.urgency != Urgency.HIGH.value:
                self._raise_urgency(tk, at, holder, self._say("reasons.urgency", tk))
            elif chance < 0.95:
                self._status(tk, at, holder, _CANCELLED, self._say("reasons.cancel", tk))
                return
            else:
                self._note(tk, at, holder, self._say("notes.internal", tk))

    def _wait(self, tk: _Tk, at: int, holder: _Person, waiting: str) -> Story:
        """Waiting for the customer or a third party, then back to work when they answer."""
        customer = waiting == _WAITING_CUSTOMER
        self._status(
            tk,
            at,
            holder,
            waiting,
            self._say(
                "reasons.waiting_customer" if customer else "reasons.waiting_third_party", tk
            ),
        )
        if self.rng.random() < 0.004:
            # Forgotten: still waiting today, however old the ticket.
            yield self.now + 3650 * _DAY
        if customer:
            at = yield from self._when(tk, 2 * _HOUR, 3 * _DAY)
        else:
            at = yield from self._when(tk, _DAY, 10 * _DAY)
        holder = self._holder(tk, at)
        if customer and self.rng.random() < 0.5:
            outcome = self._say("calls.reply", tk)
            self._call(tk, at, holder, _INBOUND, self._seconds(40, 600), outcome)
        reason = self._say(
            "reasons.resume_customer" if customer else "reasons.resume_third_party", tk
        )
        self._status(tk, at, holder, _IN_PROGRESS, reason)

    def _closing(self, tk: _Tk, reopen: bool = True) -> Story:
        """After the resolution: sometimes the customer calls back and it is reopened; then the
        holder closes it once the customer confirms, or the nightly job after five days."""
        rng = self.rng
        if reopen and rng.random() < 0.06:
            at = yield from self._when(tk, 2 * _HOUR, 4 * _DAY)
            agent = self._pick(self.service_desk, at)
            reason = self._say("reasons.reopen", tk)
            self._call(tk, at, agent, _INBOUND, self._seconds(60, 900), reason)
            self._reopen(tk, at, agent, reason)
            at = yield from self._when(tk, 1800, _DAY)
            self._note(tk, at, self._holder(tk, at), self._say("notes.internal", tk))
            at = yield from self._when(tk, 1800, 2 * _DAY)
            self._resolve(tk, at, self._holder(tk, at), self.one(tk.cat.codes))
        if rng.random() < 0.3:
            at = yield from self._when(tk, _HOUR, 2 * _DAY)
            holder = tk.assignee
            self._close(tk, at, holder if holder and not holder.away_at(at) else None)
            return
        resolved = tk.resolved or tk.t
        at = resolved - resolved % _DAY + 6 * _DAY + 2 * _HOUR + rng.randrange(1800)
        yield at
        self._close(tk, at, None)

    def _duplicate(self, tk: _Tk, created: int, original: _Tk) -> Story:
        """The same problem again, from a colleague of the caller or the caller themselves:
        linked as a duplicate of the first ticket and resolved as such."""
        rng = self.rng
        yield created
        peers = self.by_org.get(original.caller.org_index) or [original.caller]
        caller = self.one(peers) if rng.random() < 0.7 else original.caller
        channel = self.pick_channel()
        creator = self._pick(self.service_desk, created) if channel in _LIVE else None
        issue = next(
            (i for i in original.cat.issues if i[0].format_map(original.ctx) == original.subject),
            None,
        )
        self._open(tk, created, creator, channel, caller, original.cat, issue=issue)
        if tk.assignee is None:
            at = yield from self._when(tk, 120, 2 * _HOUR)
            self._take(tk, at)
        at = yield from self._when(tk, 120, _HOUR)
        holder = self._holder(tk, at)
        self._link(tk, original, at, holder, LinkKind.DUPLICATE_OF)
        at = yield from self._when(tk, 30, 900)
        code = "duplicate" if "duplicate" in self.codes else self.fallback_code
        tk.ctx["other"] = format_ref(original.id)
        self._resolve(tk, at, self._holder(tk, at), code)
        yield from self._closing(tk, reopen=False)

    def _split_call(self, slot: int, more: int, created: int) -> list[Story]:
        """One call, several problems: one ticket each, the later ones split from the first
        (as ``intake.record_call`` does, all at the moment the call is saved)."""
        first = self._ticket(slot)
        agent = self._pick(self.service_desk, created)
        caller = self._caller()
        stories = [self._story(first, created, creator=agent, channel=_PHONE, caller=caller)]
        for offset in range(1, more + 1):
            stories.append(
                self._story(
                    self._ticket(slot + offset),
                    created,
                    creator=agent,
                    channel=_PHONE,
                    caller=caller,
                    parent=first,
                )
            )
        return stories

    def _queued(self, tk: _Tk, created: int, escalated: bool) -> Story:
        """One of the newest tickets: still in first line's queue, or escalated by the agent
        who took the call and waiting in the specialists' queue."""
        yield created
        if not escalated:
            channel = self.one((Channel.EMAIL.value, Channel.PORTAL.value))
            self._open(tk, created, None, channel, self._caller(), self.pick_category())
            return
        category = self.pick_category()
        for _ in range(20):
            if category.specialist.level > 1:
                break
            category = self.pick_category()
        agent = self._pick(self.service_desk, created)
        self._open(tk, created, agent, _PHONE, self._caller(), category)
        at = created + (self.now - created) // 3
        yield at
        reason = self._say(f"reasons.escalate.{category.specialist.name}", tk)
        self._escalate(tk, at, agent, category.specialist, reason)

    def _my_story(self, tk: _Tk, created: int, goal: str) -> Story:
        """A recent ticket of the person trying the demo, stopped at ``goal``."""
        me = self.b.me
        assert me is not None
        yield created
        span = self.now - created

        def moment(share: float) -> int:
            return created + int(span * share)

        category = self.pick_category()
        if goal == "claimed":
            self._open(tk, created, None, Channel.EMAIL.value, self._caller(), category)
            at = moment(0.3)
            yield at
            self._claim(tk, at, me)
            at = moment(0.6)
            yield at
            self._status(tk, at, me, _IN_PROGRESS)
            return
        self._open(tk, created, me, _PHONE, self._caller(), category)
        if goal == _ASSIGNED:
            at = moment(0.4)
            yield at
            self._note(tk, at, me, self._say("notes.internal", tk))
            return
        at = moment(0.2)
        yield at
        self._status(tk, at, me, _IN_PROGRESS)
        at = moment(0.45)
        yield at
        if goal == _WAITING_CUSTOMER:
            self._note(tk, at, me, self._say("notes.public", tk), public=True)
        else:
            self._note(tk, at, me, self._say("notes.internal", tk))
        at = moment(0.7)
        yield at
        if goal == _IN_PROGRESS:
            self._call(
                tk, at, me, _OUTBOUND, self._seconds(30, 600), self._say("calls.outbound", tk)
            )
        else:
            key = "customer" if goal == _WAITING_CUSTOMER else "third_party"
            self._status(tk, at, me, goal, self._say(f"reasons.waiting_{key}", tk))
