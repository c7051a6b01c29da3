"""The operations an analyst waits on, each as the app does it and as raw SQL.

The app side is exactly what a face calls: ``Desk.read``/``Desk.write`` with the desk function
the TUI uses, actor loading, ORM and public models included. The raw side is the same work
as SQL text on the driver's connection: the same rows, in as few statements as the work
allows (one where the app's several statements could be one). Before timing, each read
operation's first result is compared with its bound's, so a bound that answers a different
question cannot flatter the app.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from deskterm.bench.desk import LONG_EVENTS, BenchDesk
from deskterm.bench.raw import Raw, ids, in_list, like_escape
from deskterm.desk import clock
from deskterm.desk.context import Desk
from deskterm.domain.enums import OPEN_STATUSES, Status
from deskterm.domain.phone import national

_OPEN = tuple(sorted(s.value for s in OPEN_STATUSES))
_LOOSE = tuple(s for s in _OPEN if s not in (Status.ASSIGNED.value, Status.IN_PROGRESS.value))
PAGE = 100
COUNT_CAP = 1000

# A ticket as a list shows it (``TicketPublic``), from one row.
_COLUMNS = (
    "t.id, t.subject, t.status, t.priority, t.impact, t.urgency, t.level, g.name, h.login, "
    "h.name, c.name, t.contact_id, t.channel, cat.path, t.created_at, t.updated_at, "
    "t.response_due_at, t.resolve_due_at, t.version"
)
_JOINS = (
    "LEFT JOIN support_group g ON g.id = t.group_id "
    "LEFT JOIN analyst h ON h.id = t.assignee_id "
    "LEFT JOIN contact c ON c.id = t.contact_id "
    "LEFT JOIN category cat ON cat.id = t.category_id"
)


@dataclass(frozen=True)
class Operation:
    name: str
    #: Runs sample ``i`` as the app does; returns something ``same`` can compare.
    app: Callable[[int], Any]
    #: Runs sample ``i`` as raw SQL; None where no raw-SQL bound applies.
    raw: Callable[[int], Any] | None = None
    #: Whether the app's and the bound's answers to sample 0 are the same rows.
    same: Callable[[Any, Any], bool] | None = None
    writes: bool = False


@dataclass(frozen=True)
class _Analyst:
    id: int
    level: int
    groups: tuple[int, ...]
    supervisor: bool


class Suite:
    """Everything one run measures on one bench desk, with the inputs drawn once."""

    def __init__(self, bench: BenchDesk, raw: Raw, *, samples: int, seed: int = 1) -> None:
        self.bench = bench
        self.raw = raw
        self.samples = samples
        self.desk = Desk(bench.db, bench.login)
        self.boss = Desk(bench.db, bench.supervisor) if bench.supervisor else None
        # Inputs differ from run to run on purpose (writes must not pile onto the same rows),
        # but within a run the app and its bound see the same ones.
        self.rng = random.Random(seed)
        self.me = self._analyst(bench.login)
        self.boss_row = self._analyst(bench.supervisor) if bench.supervisor else None
        self._draw_inputs()

    # ------------------------------------------------------------------ inputs

    def _analyst(self, login: str) -> _Analyst:
        row = self.raw.one(
            "SELECT id, role, level FROM analyst WHERE login = :login", {"login": login}
        )
        assert row is not None, login
        groups = self.raw.rows(
            "SELECT group_id FROM analyst_group WHERE analyst_id = :id ORDER BY group_id",
            {"id": row[0]},
        )
        self.raw.end_read()
        return _Analyst(
            id=int(row[0]),
            level=int(row[2]),
            groups=tuple(int(g[0]) for g in groups),
            supervisor=row[1] in ("supervisor", "admin"),
        )

    def _draw_inputs(self) -> None:
        raw, rng = self.raw, self.rng
        top = raw.one("SELECT max(id) FROM contact")
        contact_max = int(top[0]) if top and top[0] else 1
        contact_ids = sorted({rng.randrange(1, contact_max + 1) for _ in range(200)})
        contacts = raw.rows(
            f"SELECT name_lower, email, phone_digits, mobile_digits FROM contact "
            f"WHERE id IN {in_list(contact_ids)}"
        )
        rng.shuffle(contacts)
        self.name_prefixes = [name[: rng.randint(3, 6)] for name, *_ in contacts]
        self.emails = [
            email[: email.index("@") + 3] for _n, email, *_ in contacts if email and "@" in email
        ]
        fragments = []
        for _n, _e, phone, mobile in contacts:
            digits = phone or mobile
            if digits and len(digits) >= 6:
                size = rng.randint(4, 6)
                start = rng.randrange(0, len(digits) - size + 1)
                fragments.append(digits[start : start + size])
        self.phone_fragments = fragments
        surnames = [name.split()[-1] for name, *_ in contacts if " " in name]
        self.surnames = [s for s in surnames if len(s) >= 4] or ["smith"]
        # Callers as they introduce themselves (caller lookup, migration 0011): a surname
        # spelt wrong, a desk phone read out in its national format, an organization's name.
        self.misspelt = [_misspelt(rng, s) for s in self.surnames]
        phones = raw.rows(
            f"SELECT phone FROM contact WHERE phone IS NOT NULL AND id IN {in_list(contact_ids)}"
        )
        said = [national(phone) for (phone,) in phones]
        self.national_phones = [p for p in said if p] or ["0118 496 6515"]
        orgs = raw.rows("SELECT name FROM organization ORDER BY id")
        self.org_names = [n.split()[0] for (n,) in orgs if len(n.split()[0]) >= 4] or ["acme"]
        subjects = raw.rows(
            "SELECT subject FROM ticket WHERE status = 'new' ORDER BY id DESC LIMIT 400"
        )
        words = sorted(
            {
                word.lower().strip(".,:;()'\"")
                for (subject,) in subjects
                for word in subject.split()
                if len(word.strip(".,:;()'\"")) >= 5 and word.isascii()
            }
        )
        rng.shuffle(words)
        self.words = words[:60] or ["printer"]
        self.nothing = [f"zq{rng.randrange(10**6):06d}x" for _ in range(60)]
        top = raw.one("SELECT max(id) FROM ticket")
        self.ticket_max = int(top[0]) if top and top[0] else 1
        self.note_tickets = [
            t
            for t in (rng.randrange(1, self.ticket_max + 1) for _ in range(self.samples * 3 + 40))
            if t not in self.bench.long_tickets
        ]
        self.categories = [
            path
            for (path,) in raw.rows(
                "SELECT path FROM category WHERE id NOT IN "
                "(SELECT parent_id FROM category WHERE parent_id IS NOT NULL) ORDER BY path"
            )
        ]
        self.intake_contacts = [rng.randrange(1, contact_max + 1) for _ in range(200)]
        raw.end_read()

    @staticmethod
    def pick(values: Sequence[Any], i: int) -> Any:
        return values[i % len(values)]

    # ------------------------------------------------------------------ the list

    def operations(self) -> list[Operation]:
        ops: list[Operation] = []
        views = ["mine", "groups", "unassigned", "waiting", "callbacks"]
        for view in views:
            ops.append(self.first_page(view, self.desk, self.me))
        if self.boss is not None and self.boss_row is not None:
            ops.append(self.first_page("all", self.boss, self.boss_row))
        ops.append(self.next_page("groups"))
        ops.append(self.counts())
        ops.append(self.filtered("subject word", self.words))
        ops.append(self.filtered("caller surname", self.surnames))
        ops.append(self.filtered("no match", self.nothing))
        ops.extend(self.saved_views())
        ops.append(self.lookup("name prefix", self.name_prefixes))
        ops.append(self.lookup("phone fragment", self.phone_fragments))
        ops.append(self.lookup("email", self.emails))
        ops.append(self.lookup("surname", self.surnames))
        ops.append(self.lookup("misspelt surname", self.misspelt))
        ops.append(self.lookup("phone, national format", self.national_phones))
        ops.append(self.lookup("organization", self.org_names))
        ops.append(self.search_full_text())
        ops.append(self.list_open())
        if self.bench.long_tickets:
            ops.append(self.open_long_ticket())
        ops.append(self.intake())
        ops.append(self.note())
        ops.append(self.pull_next())
        return ops

    # ------------------------------------------------------------------ queue pages

    def _partitions(self, view: str, who: _Analyst) -> list[str]:
        """``desk.views._partitions`` as SQL conditions."""
        me, groups = who.id, who.groups
        if view == "mine":
            return [f"assignee_id = {me} AND status = '{s}'" for s in _OPEN]
        if view == "groups":
            return [f"group_id = {g} AND status = '{s}'" for g in groups for s in _OPEN]
        if view == "unassigned":
            if who.supervisor and not groups:
                return [f"status = '{s}' AND assignee_id IS NULL" for s in _LOOSE]
            return [
                f"group_id = {g} AND status = '{s}' AND assignee_id IS NULL"
                for g in groups
                for s in _LOOSE
            ]
        if view == "waiting":
            waiting = "status = 'waiting_customer'"
            return [f"assignee_id = {me} AND {waiting}"] + [
                f"group_id = {g} AND {waiting}" for g in groups
            ]
        if view == "all":
            return [f"status = '{s}'" for s in _OPEN]
        raise ValueError(view)

    def _keyset(self, key: Any) -> tuple[str, dict[str, Any]]:
        """``desk.views._after`` as SQL: strictly after ``key`` in the database's own order."""
        if key is None:
            return "", {}
        params: dict[str, Any] = {"k_pri": key.priority, "k_id": key.id}
        if key.due is None:
            rest = (
                "(resolve_due_at IS NOT NULL OR (resolve_due_at IS NULL AND id > :k_id))"
                if self.raw.sqlite
                else "(resolve_due_at IS NULL AND id > :k_id)"
            )
        else:
            params["k_due"] = self.raw.stamp(key.due)
            rest = "(resolve_due_at > :k_due OR (resolve_due_at = :k_due AND id > :k_id))"
            if not self.raw.sqlite:
                rest = f"({rest} OR resolve_due_at IS NULL)"
        return f" AND (priority > :k_pri OR (priority = :k_pri AND {rest}))", params

    def _raw_page(self, view: str, who: _Analyst, key: Any = None, text: str | None = None) -> Any:
        limit = PAGE + 1
        extra, params = self._keyset(key)
        if text:
            # As the app filters (desk.views._text_filter): the caller is probed per ticket.
            extra += (
                " AND (lower(subject) LIKE :pat ESCAPE '/' OR (SELECT fc.name_lower FROM "
                "contact fc WHERE fc.id = ticket.contact_id) LIKE :pat ESCAPE '/' "
                "OR assignee_id IN (SELECT id FROM analyst WHERE login LIKE :start ESCAPE '/'))"
            )
            params["pat"] = f"%{like_escape(text.lower())}%"
            params["start"] = f"{like_escape(text.lower())}%"
        # The app's statements (desk.views.queue_page): each partition's keys by its index,
        # merged here in the database's own order, then the shown columns by id. One UNION
        # statement instead was measured slower on PostgreSQL (planning it costs more than
        # the round trips it saves) and no faster on SQLite.
        self.raw.begin_read()
        streams = [
            self.raw.rows(
                f"SELECT priority, resolve_due_at, id FROM ticket WHERE {part}{extra} "
                f"ORDER BY priority, resolve_due_at, id LIMIT {limit}",
                params,
            )
            for part in self._partitions(view, who)
        ]
        keys: list[tuple[Any, ...]] = []
        seen: set[int] = set()
        for row in heapq.merge(*streams, key=self._order):
            if row[2] not in seen:
                seen.add(row[2])
                keys.append(row)
            if len(keys) == PAGE:
                break
        found = {}
        if keys:
            found = {
                row[0]: row
                for row in self.raw.rows(
                    f"SELECT {_COLUMNS} FROM ticket t {_JOINS} "
                    f"WHERE t.id IN {in_list([k[2] for k in keys])}"
                )
            }
        self.raw.end_read()
        return [found[k[2]] for k in keys if k[2] in found]

    def _order(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        """Queue order as the database sorts: NULL due times first on SQLite, last on
        PostgreSQL."""
        priority, due, ticket_id = row
        missing = due is None
        rank = (0 if missing else 1) if self.raw.sqlite else (1 if missing else 0)
        return (priority, rank, due if due is not None else "", ticket_id)

    def _raw_callbacks(self, who: _Analyst) -> Any:
        scope = ""
        if not who.supervisor:
            scope = (
                f" AND (cb.scheduled_by_id = {who.id} OR t.assignee_id = {who.id} OR "
                f"(t.assignee_id IS NULL AND t.group_id IN {in_list(who.groups)}))"
            )
        sql = (
            f"SELECT cb.id, cb.ticket_id, cb.due_at, cb.reason, sb.login, {_COLUMNS} "
            f"FROM callback cb JOIN ticket t ON t.id = cb.ticket_id "
            f"LEFT JOIN analyst sb ON sb.id = cb.scheduled_by_id {_JOINS} "
            f"WHERE cb.done_at IS NULL{scope} ORDER BY cb.due_at, cb.id LIMIT {PAGE + 1}"
        )
        self.raw.begin_read()
        rows = self.raw.rows(sql)
        self.raw.end_read()
        return [row[1:] for row in rows[:PAGE]]

    @staticmethod
    def _same_page(app: Any, raw: Any) -> bool:
        return [r.id for r in app.rows] == ids(raw)

    def first_page(self, view: str, desk: Desk, who: _Analyst) -> Operation:
        from deskterm.desk.views import queue_page

        def app(i: int) -> Any:
            return desk.read(queue_page, view=view)

        def raw(i: int) -> Any:
            if view == "callbacks":
                return self._raw_callbacks(who)
            return self._raw_page(view, who)

        return Operation(f"queue page 1: {view}", app, raw, self._same_page)

    def next_page(self, view: str) -> Operation:
        from deskterm.desk.views import queue_page

        # The keys of successive pages, as ] walks them; read once, before timing.
        keys: list[Any] = []
        key = None
        for _ in range(min(self.samples + 5, 60)):
            page = self.desk.read(queue_page, view=view, after=key)
            if page.next_after is None:
                break
            keys.append(page.next_after)
            key = page.next_after
        if not keys:
            keys = [None]

        def app(i: int) -> Any:
            return self.desk.read(queue_page, view=view, after=self.pick(keys, i))

        def raw(i: int) -> Any:
            return self._raw_page(view, self.me, self.pick(keys, i))

        return Operation(f"queue next page: {view}", app, raw, self._same_page)

    def counts(self) -> Operation:
        from deskterm.desk.views import queue_counts

        who = self.me
        parts = []
        for view in ("mine", "groups", "unassigned", "waiting"):
            where = " OR ".join(f"({p})" for p in self._partitions(view, who))
            parts.append(
                f"(SELECT count(*) FROM (SELECT id FROM ticket WHERE {where} "
                f"LIMIT {COUNT_CAP}) AS v_{view})"
            )
        parts.append(
            "(SELECT count(*) FROM (SELECT cb.id FROM callback cb JOIN ticket t "
            "ON t.id = cb.ticket_id WHERE cb.done_at IS NULL AND "
            f"(cb.scheduled_by_id = {who.id} OR t.assignee_id = {who.id} OR "
            f"(t.assignee_id IS NULL AND t.group_id IN {in_list(who.groups)})) "
            f"LIMIT {COUNT_CAP}) AS v_callbacks)"
        )
        sql = "SELECT " + ", ".join(parts)

        def app(i: int) -> Any:
            counts = self.desk.read(queue_counts)
            return [counts[v] for v in ("mine", "groups", "unassigned", "waiting", "callbacks")]

        def raw(i: int) -> Any:
            self.raw.begin_read()
            row = self.raw.one(sql)
            self.raw.end_read()
            return list(row or ())

        return Operation("queue tab counts (every load)", app, raw, lambda a, b: list(a) == list(b))

    def filtered(self, label: str, texts: Sequence[str]) -> Operation:
        from deskterm.desk.views import queue_page

        def app(i: int) -> Any:
            return self.desk.read(queue_page, view="groups", text=self.pick(texts, i))

        def raw(i: int) -> Any:
            return self._raw_page("groups", self.me, text=self.pick(texts, i))

        return Operation(f"filter as you type: {label}", app, raw, self._same_page)

    # ------------------------------------------------------------------ saved views

    #: Two saved views (issue 21): one the partitions serve whole (groups, statuses and
    #: priorities are index columns, "breached" a range of the due column), one that filters
    #: while walking (a category's subtree and a word of the subject, caller or holder).
    SAVED_VIEWS: tuple[tuple[str, dict[str, Any]], ...] = (
        ("P1-P2 of my groups breached", {"group": "mine", "priority": "P1-P2", "sla": "breached"}),
        ("text + category", {"text": "vpn", "category": "Network"}),
    )

    def saved_views(self) -> list[Operation]:
        from deskterm.desk.saved_views import create_view, list_views, make_filter

        kept = {v.name for v in self.desk.read(list_views)}
        for name, fields in self.SAVED_VIEWS:
            if name not in kept:
                self.desk.write(create_view, name=name, view_filter=make_filter(**fields))
        return [self.saved_view(name) for name, _fields in self.SAVED_VIEWS]

    def saved_view(self, name: str) -> Operation:
        from deskterm.desk.saved_views import saved_view_page

        def app(i: int) -> Any:
            return self.desk.read(saved_view_page, view=name)

        def raw(i: int) -> Any:
            # The same rows as one plain statement: the whole filter, sorted, first page.
            where = [f"t.status IN {in_list(_OPEN)}"]
            params: dict[str, Any] = {}
            if name.startswith("P1-P2"):
                where += [
                    f"t.group_id IN {in_list(self.me.groups)}",
                    "t.priority IN (1, 2)",
                    "t.resolve_due_at <= :now",
                    "t.sla_paused_at IS NULL",
                ]
                params["now"] = self.raw.stamp(clock.now())
            else:
                where += [
                    "t.category_id IN (SELECT id FROM category WHERE lower(path) = :top "
                    "OR lower(path) LIKE :below)",
                    "(lower(t.subject) LIKE :pat ESCAPE '/' OR (SELECT fc.name_lower FROM "
                    "contact fc WHERE fc.id = t.contact_id) LIKE :pat ESCAPE '/' "
                    "OR t.assignee_id IN (SELECT id FROM analyst WHERE login LIKE :start "
                    "ESCAPE '/'))",
                ]
                params |= {
                    "pat": "%vpn%",
                    "start": "vpn%",
                    "top": "network",
                    "below": "network > %",
                }
            self.raw.begin_read()
            rows = self.raw.rows(
                f"SELECT {_COLUMNS} FROM ticket t {_JOINS} WHERE {' AND '.join(where)} "
                f"ORDER BY t.priority, t.resolve_due_at, t.id LIMIT {PAGE}",
                params,
            )
            self.raw.end_read()
            return rows

        return Operation(f"saved view page 1: {name}", app, raw, self._same_page)

    # ------------------------------------------------------------------ callers

    def lookup(self, label: str, texts: Sequence[str]) -> Operation:
        from deskterm.desk.contacts import find_contacts
        from deskterm.desk.lookups import CallerSearch

        def app(i: int) -> Any:
            return self.desk.read(find_contacts, text=self.pick(texts, i), limit=20)

        def raw(i: int) -> Any:
            # As desk.contacts.find_contacts: the lookup's own statements (each way of
            # matching, best first, until 20 are found), then the callers in one statement.
            search = CallerSearch(str(self.pick(texts, i)), limit=20, postgres=not self.raw.sqlite)
            self.raw.begin_read()
            found = [f.id for f in search.run(self.raw.rows)]
            rows = []
            if found:
                rows = self.raw.rows(
                    "SELECT c.id, c.name, c.email, c.phone, c.mobile, o.name, c.location, "
                    "c.language, c.vip, (SELECT count(*) FROM ticket t WHERE t.contact_id = c.id "
                    f"AND t.status IN {in_list(_OPEN)}) FROM contact c "
                    "LEFT JOIN organization o ON o.id = c.organization_id "
                    f"WHERE c.id IN {in_list(found)}"
                )
            self.raw.end_read()
            place = {cid: n for n, cid in enumerate(found)}
            return sorted(rows, key=lambda row: place[row[0]])

        def same(app_rows: Any, raw_rows: Any) -> bool:
            return [(c.id, c.open_tickets) for c in app_rows] == [(r[0], r[9]) for r in raw_rows]

        return Operation(f"caller lookup: {label}", app, raw, same)

    # ------------------------------------------------------------------ searching tickets

    def search_full_text(self) -> Operation:
        """Full-text search of every ticket, open or closed (``desk/search.py``): one word of
        the demo's subjects, as a prefix (the analyst is still typing), newest first."""
        from deskterm.desk.search import RECENT_WINDOW, search_tickets

        # Words of letters and digits only, so the bound's query is the app's query exactly.
        words = [w for w in self.words if w.isalnum()] or ["printer"]
        if self.raw.sqlite:
            sql = (
                f"SELECT {_COLUMNS}, substr(t.description, 1, 4000) FROM ticket_fts "
                f"JOIN ticket t ON t.id = ticket_fts.rowid {_JOINS} "
                "WHERE ticket_fts MATCH :q ORDER BY ticket_fts.rowid DESC LIMIT 50"
            )
            term = '"{}"*'
            recent = None
        else:
            # As the app asks: the newest tickets one by one, then the index when they hold
            # fewer than a page.
            recent = (
                f"SELECT {_COLUMNS}, substr(t.description, 1, 4000) FROM (SELECT * FROM ticket "
                f"ORDER BY id DESC LIMIT {RECENT_WINDOW}) t {_JOINS} "
                "WHERE t.search_vector @@ to_tsquery('simple', :q) ORDER BY t.id DESC LIMIT 50"
            )
            sql = (
                f"SELECT {_COLUMNS}, substr(t.description, 1, 4000) FROM ticket t {_JOINS} "
                "WHERE t.search_vector @@ to_tsquery('simple', :q) ORDER BY t.id DESC LIMIT 50"
            )
            term = "{}:*"

        def app(i: int) -> Any:
            return self.desk.read(search_tickets, query=self.pick(words, i), limit=50)

        def raw(i: int) -> Any:
            params = {"q": term.format(self.pick(words, i))}
            self.raw.begin_read()
            rows = self.raw.rows(recent, params) if recent else []
            if len(rows) < 50:
                rows = self.raw.rows(sql, params)
            self.raw.end_read()
            return rows

        return Operation(
            "ticket search: full text",
            app,
            raw,
            lambda a, b: [t.id for t in a] == ids(b),
        )

    def list_open(self) -> Operation:
        from deskterm.desk.tickets import list_tickets

        sql = (
            f"SELECT {_COLUMNS} FROM ticket t {_JOINS} WHERE t.status IN {in_list(_OPEN)} "
            "ORDER BY t.priority, t.resolve_due_at, t.id LIMIT 50"
        )

        def app(i: int) -> Any:
            return self.desk.read(list_tickets)

        def raw(i: int) -> Any:
            self.raw.begin_read()
            rows = self.raw.rows(sql)
            self.raw.end_read()
            return rows

        return Operation(
            "ticket list: open, most urgent",
            app,
            raw,
            lambda a, b: [t.id for t in a] == ids(b),
        )

    # ------------------------------------------------------------------ one ticket

    def open_long_ticket(self) -> Operation:
        # The ticket screen's own loader: one read of everything the screen shows.
        from deskterm.desk.story import ticket_story

        long_ids = self.bench.long_tickets
        raw = self.raw

        def app(i: int) -> Any:
            return self.desk.read(ticket_story, ref=self.pick(long_ids, i))

        def bound(i: int) -> Any:
            ticket_id = self.pick(long_ids, i)
            p = {"id": ticket_id}
            raw.begin_read()
            head = raw.one(
                f"SELECT {_COLUMNS}, t.description, t.priority_reason, t.resolution_code, "
                "t.resolution_text, t.first_response_at, t.resolved_at, t.closed_at, "
                "cb.login, a.id, a.kind, a.product, a.model_number, a.serial_number, "
                "a.account_number, c.email, c.phone, c.mobile, c.location, c.language, c.vip, "
                "o.name, (SELECT count(*) FROM ticket o2 WHERE o2.contact_id = t.contact_id "
                f"AND o2.status IN {in_list(_OPEN)}) FROM ticket t {_JOINS} "
                "LEFT JOIN analyst cb ON cb.id = t.created_by_id "
                "LEFT JOIN asset a ON a.id = t.asset_id "
                "LEFT JOIN organization o ON o.id = c.organization_id WHERE t.id = :id",
                p,
            )
            assert head is not None
            contact_id = head[11]
            events = raw.rows(
                "SELECT e.id, e.kind, e.at, e.visibility, e.data, e.ticket_version, a.login, "
                "a.name FROM ticket_event e LEFT JOIN analyst a ON a.id = e.actor_id "
                "WHERE e.ticket_id = :id ORDER BY e.id",
                p,
            )
            raw.rows(
                "SELECT l.kind, t.id, t.subject, t.status FROM ticket_link l "
                "JOIN ticket t ON t.id = l.other_id WHERE l.ticket_id = :id ORDER BY l.id",
                p,
            )
            if contact_id is not None:
                raw.rows(
                    "SELECT id, kind, product, model_number, serial_number, account_number "
                    "FROM asset WHERE contact_id = :c ORDER BY id",
                    {"c": contact_id},
                )
                raw.rows(
                    f"SELECT {_COLUMNS} FROM ticket t {_JOINS} WHERE t.contact_id = :c "
                    "ORDER BY t.id DESC LIMIT 9",
                    {"c": contact_id},
                )
            raw.rows(
                "SELECT cb.id, cb.due_at, cb.reason, a.login, cb.scheduled_at FROM callback cb "
                "LEFT JOIN analyst a ON a.id = cb.scheduled_by_id "
                "WHERE cb.ticket_id = :id AND cb.done_at IS NULL ORDER BY cb.due_at, cb.id",
                p,
            )
            raw.rows(
                f"SELECT code, label FROM resolution_code WHERE active = {raw.true} ORDER BY code"
            )
            raw.end_read()
            return events

        return Operation(
            f"open a ticket of {LONG_EVENTS} events",
            app,
            bound,
            lambda a, b: len(a.ticket.events) == len(b),
        )

    # ------------------------------------------------------------------ writes

    def intake(self) -> Operation:
        from deskterm.desk.intake import Problem, record_call

        subjects = (
            "Printer on floor 2 prints blank pages",
            "Cannot log in to the VPN since this morning",
            "Outlook keeps asking for the password",
            "Laptop battery drains in an hour",
            "Shared drive not mapped after reboot",
        )
        raw = self.raw
        me = self.me
        group = me.groups[0] if me.groups else None

        def app(i: int) -> Any:
            problem = Problem(
                subject=self.pick(subjects, i),
                description="Caller describes the problem; steps tried: restart, cable check.",
                category=self.pick(self.categories, i) if self.categories else None,
                impact="medium",
                urgency="high" if i % 3 == 0 else "medium",
            )
            return self.desk.write(
                record_call,
                problems=[problem],
                contact_id=self.pick(self.intake_contacts, i),
                call_seconds=120 + i,
            )

        def bound(i: int) -> Any:
            now = clock.now()
            contact_id = self.pick(self.intake_contacts, i)
            raw.begin_write()
            row = raw.one(
                "INSERT INTO ticket (subject, description, contact_id, category_id, channel, "
                "impact, urgency, priority, status, level, group_id, assignee_id, "
                "created_by_id, created_at, updated_at, first_response_at, response_due_at, "
                "resolve_due_at, version) VALUES (:subject, :description, :contact, "
                "(SELECT id FROM category WHERE path = :category), 'phone', 'medium', "
                ":urgency, 3, 'assigned', 1, :grp, :me, :me, :now, :now, :now, :response, "
                ":resolve, 1) RETURNING id",
                {
                    "subject": self.pick(subjects, i),
                    "description": "Caller describes the problem; steps tried: restart.",
                    "contact": contact_id,
                    "category": self.pick(self.categories, i) if self.categories else None,
                    "urgency": "high" if i % 3 == 0 else "medium",
                    "grp": group,
                    "me": me.id,
                    "now": raw.stamp(now),
                    "response": raw.stamp(now + timedelta(hours=1)),
                    "resolve": raw.stamp(now + timedelta(hours=8)),
                },
            )
            assert row is not None
            created = raw.dumps(
                {"subject": self.pick(subjects, i), "channel": "phone", "status": "assigned"}
            )
            call = raw.dumps({"direction": "inbound", "duration_seconds": 120 + i})
            raw.run(
                "INSERT INTO ticket_event (ticket_id, ticket_version, at, actor_id, kind, "
                f"visibility, data) VALUES (:t, 1, :now, :me, 'created', 'public', "
                f"{raw.json(':d1')}), (:t, 1, :now, :me, 'call_logged', 'public', "
                f"{raw.json(':d2')})",
                {"t": row[0], "now": raw.stamp(now), "me": me.id, "d1": created, "d2": call},
            )
            raw.commit()
            return row[0]

        return Operation("save an intake (1 ticket)", app, bound, writes=True)

    def note(self) -> Operation:
        from deskterm.desk.tickets import add_note

        raw = self.raw
        me = self.me
        text = "Spoke to the caller: the issue is back after the update, logs requested."

        def app(i: int) -> Any:
            return self.desk.write(add_note, ref=self.note_tickets[2 * i], text=text)

        def bound(i: int) -> Any:
            ticket_id = self.note_tickets[2 * i + 1]
            now = raw.stamp(clock.now())
            raw.begin_write()
            row = raw.one(
                f"SELECT version FROM ticket WHERE id = :id{raw.for_update()}", {"id": ticket_id}
            )
            assert row is not None
            version = int(row[0]) + 1
            raw.one(
                "UPDATE ticket SET version = :v, updated_at = :now "
                "WHERE id = :id AND version = :old RETURNING id",
                {"v": version, "now": now, "id": ticket_id, "old": version - 1},
            )
            raw.run(
                "INSERT INTO ticket_event (ticket_id, ticket_version, at, actor_id, kind, "
                f"visibility, data) VALUES (:id, :v, :now, :me, 'note', 'internal', "
                f"{raw.json(':data')})",
                {
                    "id": ticket_id,
                    "v": version,
                    "now": now,
                    "me": me.id,
                    "data": raw.dumps({"text": text}),
                },
            )
            raw.commit()
            return ticket_id

        return Operation("add a note", app, bound, writes=True)

    def pull_next(self) -> Operation:
        from deskterm.desk.queue import claim_next

        raw = self.raw
        me = self.me
        groups = in_list(me.groups)
        # Technicians pull at their level (desk.queue.claim_next); supervisors anything.
        level = "" if me.supervisor else f" AND level <= {me.level}"

        def app(i: int) -> Any:
            return self.desk.write(claim_next)

        def bound(i: int) -> Any:
            now = raw.stamp(clock.now())
            raw.begin_write()
            claimed = raw.one(
                "UPDATE ticket SET assignee_id = :me, status = 'assigned', "
                "version = version + 1, updated_at = :now, "
                "first_response_at = COALESCE(first_response_at, :now) "
                f"WHERE id = (SELECT id FROM ticket WHERE group_id IN {groups} "
                f"AND status = 'new' AND assignee_id IS NULL{level} "
                "ORDER BY priority, resolve_due_at, id LIMIT 1"
                f"{raw.for_update(skip_locked=True)}) AND assignee_id IS NULL "
                "RETURNING id, version, contact_id",
                {"me": me.id, "now": now},
            )
            if claimed is None:
                raw.commit()
                return None
            ticket_id, version, contact_id = claimed
            event = raw.one(
                "INSERT INTO ticket_event (ticket_id, ticket_version, at, actor_id, kind, "
                f"visibility, data) VALUES (:id, :v, :now, :me, 'assigned', 'public', "
                f"{raw.json(':data')}) RETURNING id",
                {
                    "id": ticket_id,
                    "v": version,
                    "now": now,
                    "me": me.id,
                    "data": raw.dumps({"to": self.bench.login, "via": "queue next"}),
                },
            )
            assert event is not None
            if contact_id is not None:
                # The customer's message, as the outbox queues it with the change.
                who = raw.one(
                    "SELECT c.email, c.name, t.subject FROM contact c JOIN ticket t "
                    "ON t.contact_id = c.id WHERE t.id = :id",
                    {"id": ticket_id},
                )
                assert who is not None
                raw.run(
                    "INSERT INTO outbox (ticket_id, event_id, contact_id, kind, channel, "
                    "recipient, context, token, status, attempts, next_attempt_at, created_at) "
                    f"VALUES (:id, :event, :contact, 'assigned', 'email', :to, "
                    f"{raw.json(':context')}, :token, 'pending', 0, :now, :now)",
                    {
                        "id": ticket_id,
                        "event": event[0],
                        "contact": contact_id,
                        "to": who[0],
                        "context": raw.dumps({"name": who[1], "subject": who[2]}),
                        "token": f"{self.rng.getrandbits(64):016x}",
                        "now": now,
                    },
                )
            # What the app hands back: the ticket with its log.
            raw.one(f"SELECT {_COLUMNS} FROM ticket t {_JOINS} WHERE t.id = :id", {"id": ticket_id})
            raw.rows(
                "SELECT e.id, e.kind, e.at, e.visibility, e.data, a.login FROM ticket_event e "
                "LEFT JOIN analyst a ON a.id = e.actor_id WHERE e.ticket_id = :id ORDER BY e.id",
                {"id": ticket_id},
            )
            raw.commit()
            return ticket_id

        return Operation("pull next", app, bound, writes=True)


def _misspelt(rng: random.Random, word: str) -> str:
    """``word`` as a caller's name is often mistyped: one inner letter left out, two
    swapped, or one wrong (never the first: that one is usually heard right)."""
    at = rng.randrange(1, len(word) - 1)
    how = rng.randrange(3) if len(word) >= 6 else 1 + rng.randrange(2)
    if how == 0:
        return word[:at] + word[at + 1 :]
    if how == 1:
        return word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    wrong = "e" if word[at] != "e" else "a"
    return word[:at] + wrong + word[at + 1 :]
