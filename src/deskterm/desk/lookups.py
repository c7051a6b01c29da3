"""Finding rows by the names people type, with a clear refusal when nothing matches."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from sqlmodel import col

from deskterm.db.models import Analyst, Category, Contact, ResolutionCode, SupportGroup
from deskterm.db.types import ACCENTED, PLAIN
from deskterm.domain.errors import InvalidInput, NotFound, UnknownAnalyst
from deskterm.domain.names import ALIKE, inner_grams, likeness, name_words, query_words
from deskterm.domain.phone import digits, e164, looks_like_phone, region_code
from deskterm.domain.refs import INT_ID_MAX, ascii_number
from deskterm.domain.text import SHORT_MAX, clean_line, email_address, limit_length
from deskterm.i18n import _


def analyst_by_login(session: Session, login: str) -> Analyst:
    # Logins are stored lower-case; people type them any way. Every name typed is cleaned
    # before it reaches a query: PostgreSQL refuses a NUL byte even in a WHERE clause.
    wanted = clean_line(login).lower()
    analyst = session.scalars(select(Analyst).where(col(Analyst.login) == wanted)).first()
    if analyst is None:
        raise UnknownAnalyst(_("no analyst with login {login!r}").format(login=login))
    return analyst


def group_by_name(session: Session, name: str) -> SupportGroup:
    wanted = clean_line(name)
    group = session.scalars(
        select(SupportGroup).where(func.lower(col(SupportGroup.name)) == wanted.lower())
    ).first()
    if group is None:
        names = ", ".join(
            session.scalars(select(col(SupportGroup.name)).order_by(col(SupportGroup.name)))
        )
        raise NotFound(
            _("no group named {name!r} (groups: {names})").format(
                name=name, names=names or _("none yet")
            )
        )
    return group


def category_by_path(session: Session, text: str) -> Category:
    wanted = " > ".join(part.strip() for part in clean_line(text).replace("/", ">").split(">"))
    category = session.scalars(
        select(Category).where(func.lower(col(Category.path)) == wanted.lower())
    ).first()
    if category is None:
        # "Printer" alone is fine when only one leaf is called that.
        matches = session.scalars(
            select(Category).where(func.lower(col(Category.name)) == wanted.lower())
        ).all()
        if len(matches) == 1:
            return matches[0]
        raise NotFound(_("no category {text!r} (see `deskterm category list`)").format(text=text))
    return category


def resolution_code(session: Session, code: str) -> ResolutionCode:
    row = session.get(ResolutionCode, clean_line(code).lower())
    if row is None or not row.active:
        codes = ", ".join(
            session.scalars(
                select(col(ResolutionCode.code))
                .where(col(ResolutionCode.active))
                .order_by(col(ResolutionCode.code))
            )
        )
        raise InvalidInput(
            _("unknown resolution code {code!r} (codes: {codes})").format(code=code, codes=codes),
            field="code",
        )
    return row


def contact_by_key(session: Session, key: str, *, region: str | None = None) -> Contact:
    """A contact by id (``#12``), email, phone number (any spoken form, or a run of 4+ of its
    digits: ``1775``) or exact name.

    Bare digits are a phone number, never an id: ids are written ``#12`` everywhere.
    Ambiguous keys are refused with the candidates, never guessed.
    """
    typed = clean_line(key)
    if not typed:
        raise InvalidInput(_("name a contact by id (#12), phone, email or name"), field="contact")
    if typed.startswith("#"):
        number = ascii_number(typed[1:])
        # An id past the column's range names no contact (PostgreSQL would refuse the query).
        contact = (
            session.get(Contact, number) if number is not None and number <= INT_ID_MAX else None
        )
        if contact is None:
            raise NotFound(_("no contact with id {id}").format(id=typed))
        return contact
    if "@" in typed:
        address = email_address(typed, field="contact")
        rows = list(session.scalars(select(Contact).where(col(Contact.email) == address).limit(5)))
    elif looks_like_phone(typed):
        rows = _by_phone(session, typed, region)
    elif ascii_number(typed) is not None:
        raise InvalidInput(
            _(
                "{key!r} is no contact: write an id as #{typed}, a phone number with at least "
                "4 digits"
            ).format(key=key, typed=typed),
            field="contact",
        )
    else:
        rows = list(
            session.scalars(
                select(Contact).where(col(Contact.name_lower) == typed.lower()).limit(5)
            )
        )
    if not rows:
        raise NotFound(
            _("no contact matches {key!r} (try `deskterm contact find`)").format(key=key)
        )
    if len(rows) > 1:
        names = "; ".join(
            f"#{c.id} {c.name} <{c.email or c.phone or c.mobile or '-'}>" for c in rows
        )
        raise InvalidInput(
            _("{key!r} matches several contacts: {names}; use the id").format(key=key, names=names),
            field="contact",
        )
    return rows[0]


def _by_phone(session: Session, typed: str, region: str | None) -> list[Contact]:
    """The callers whose number this is (the whole number first, else a run of digits)."""
    search = CallerSearch(
        typed, limit=5, postgres=session.get_bind().dialect.name == "postgresql", region=region
    )
    found = search.run(session_execute(session), phones_only=True)
    whole = [f.id for f in found if f.matched == "phone"]
    ids = whole or [f.id for f in found]
    return [c for c in (session.get(Contact, i) for i in ids) if c is not None]


def session_execute(session: Session) -> Execute:
    """The lookup's statements run in ``session``."""

    def execute(sql: str, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
        return session.execute(text(sql), params).all()

    return execute


# --------------------------------------------------------------------------- callers

#: Fewer characters than this find nobody: a one-letter prefix would match half the desk.
MIN_SEARCH = 2

#: What a caller was found by, best first; a result's rank is its position here.
MATCHES = (
    "phone",  # the whole number, however said (E.164)
    "email",  # the whole address
    "name",  # every word typed is a whole word of the name
    "name prefix",  # ... or the start of one
    "organization",  # every word typed starts a word of the organization's name
    "email prefix",  # the start of the address (its local part)
    "phone digits",  # a run of 4+ digits of a number, in any spoken form
    "email domain",  # the address's domain
    "similar name",  # a word of the name spelt alike (trigram likeness)
)

#: Statements run by a lookup: text and parameters, so the benchmark's bound runs the
#: very same SQL on the driver's connection (``bench/ops.py``).
Execute = Callable[[str, dict[str, Any]], Sequence[Sequence[Any]]]

#: Misspellings considered per word, the most alike first.
_ALIKE_WORDS = 6
#: Neighbours read from the vocabulary per misspelt word, before they are ranked here.
_NEIGHBOURS = 64


@dataclass(frozen=True)
class Found:
    id: int
    matched: str


def _like(text: str) -> str:
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


def _after(prefix: str) -> str:
    """The least text after every text that starts with ``prefix`` (code point order)."""
    last = ord(prefix[-1])
    return prefix[:-1] + chr(min(last + 1, 0x10FFFF))


def _fts_phrase(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


class CallerSearch:
    """Finding a caller the way they introduce themselves (``find_contacts``).

    Each way of matching is one or two statements, each read by an index and cut at the
    limit; they run best first and stop once the limit is reached, so a surname that a
    thousand callers share costs one index range. Indexes: migration 0011. The statements
    are plain SQL text for both databases, run through ``execute``.
    """

    def __init__(self, text: str, *, limit: int, postgres: bool, region: str | None = None) -> None:
        self.text = clean_line(text)
        self.limit = limit
        self.postgres = postgres
        try:
            self.region = region_code(region)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="phone_region") from None
        self.words = query_words(self.text)
        self.phone_like = looks_like_phone(self.text)
        self.found: dict[int, str] = {}

    # ------------------------------------------------------------------ running

    def run(self, execute: Execute, *, phones_only: bool = False) -> list[Found]:
        text = self.text
        if len(text) < MIN_SEARCH:
            return []
        # Nothing stored is longer than an address (SHORT_MAX): a longer text matches no
        # one, and is refused in one line (SQLite refuses a LIKE pattern of 50,000 bytes).
        limit_length(text, field="search text", limit=SHORT_MAX)
        steps: list[tuple[str, Callable[[Execute], None]]] = []
        if self.phone_like:
            steps += [("phone", self._phone), ("phone digits", self._phone_digits)]
        if not phones_only:
            lowered = text.lower()
            if "@" in lowered:
                steps.append(("email", self._email))
            if self.words and not self.phone_like:
                steps += [("name", self._names), ("name prefix", self._names)]
                steps.append(("organization", self._organizations))
            if " " not in lowered and len(lowered) >= 3:
                steps.append(("email prefix", self._email_prefix))
                if lowered.startswith("@") or ("." in lowered and "@" not in lowered):
                    steps.append(("email domain", self._email_domain))
            if self.words and not self.phone_like:
                steps.append(("similar name", self._similar))
        order = {name: i for i, name in enumerate(MATCHES)}
        steps.sort(key=lambda step: order[step[0]])
        for name, step in steps:
            if len(self.found) >= self.limit:
                break
            self._step = name
            step(execute)
        return [Found(cid, matched) for cid, matched in self.found.items()][: self.limit]

    def _add(self, rows: Sequence[Sequence[Any]]) -> None:
        for row in rows:
            cid = int(row[0])
            if cid not in self.found and len(self.found) < self.limit:
                self.found[cid] = self._step

    @property
    def _left(self) -> int:
        return self.limit - len(self.found)

    def _c(self, column: str) -> str:
        """``column`` in code point order: a prefix is a range there (0006, 0011)."""
        return f'{column} COLLATE "C"' if self.postgres else column

    # ------------------------------------------------------------------ phones and mail

    def _phone(self, execute: Execute) -> None:
        number = e164(self.text, self.region)
        if number is None:
            return
        self._add(
            execute(
                "SELECT id FROM contact WHERE phone_e164 = :e OR mobile_e164 = :e "
                "ORDER BY name_lower, id LIMIT :n",
                {"e": number, "n": self._left},
            )
        )

    def _phone_digits(self, execute: Execute) -> None:
        run = digits(self.text)
        # Ordered by id, not name: a common run (a company's prefix) matches thousands of
        # callers, and the first ones in id order are read straight from the index.
        if self.postgres:
            sql = "SELECT id FROM contact WHERE dial_digits LIKE :p ESCAPE '/' ORDER BY id LIMIT :n"
            params: dict[str, Any] = {"p": f"%{_like(run)}%", "n": self._left}
        else:
            sql = "SELECT rowid FROM contact_fts WHERE contact_fts MATCH :m ORDER BY rowid LIMIT :n"
            params = {"m": f"dial_digits : {_fts_phrase(run)}", "n": self._left}
        self._add(execute(sql, params))

    def _email(self, execute: Execute) -> None:
        self._add(
            execute(
                "SELECT id FROM contact WHERE email = :e LIMIT :n",
                {"e": self.text.lower(), "n": self._left},
            )
        )

    def _email_prefix(self, execute: Execute) -> None:
        key, low = self._c("email"), self.text.lower()
        self._add(
            execute(
                # Only this module's own column names are formatted in; values are bound.
                f"SELECT id FROM contact WHERE {key} >= :lo AND {key} < :hi "  # nosec B608
                f"ORDER BY {key}, id LIMIT :n",
                {"lo": low, "hi": _after(low), "n": self._left},
            )
        )

    def _email_domain(self, execute: Execute) -> None:
        domain = self.text.lower().lstrip("@")
        if len(domain) < 3:
            return
        suffix = f"%@{_like(domain)}"
        if self.postgres:
            sql = "SELECT id FROM contact WHERE email LIKE :s ESCAPE '/' ORDER BY id LIMIT :n"
            params: dict[str, Any] = {"s": suffix, "n": self._left}
        else:
            sql = (
                "SELECT c.id FROM contact_fts f JOIN contact c ON c.id = f.rowid "
                "WHERE contact_fts MATCH :m AND c.email LIKE :s ESCAPE '/' "
                "ORDER BY f.rowid LIMIT :n"
            )
            params = {"m": f"email : {_fts_phrase('@' + domain)}", "s": suffix, "n": self._left}
        self._add(execute(sql, params))

    # ------------------------------------------------------------------ names

    def _names(self, execute: Execute) -> None:
        prefix = self._step == "name prefix"
        conditions = ["prefix" if prefix else "exact"] * len(self.words)
        self._add(execute(*self._words_sql(conditions, {})))

    def _words_sql(
        self, modes: list[str], alike: dict[int, list[str]], driving: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Callers whose name has a word for each word typed, by ``modes[i]``: ``exact``,
        ``prefix``, ``alike`` (one of ``alike[i]``) or ``prefix|alike``. The longest word
        drives: read from the word index in its order (``driving`` replaces its text)."""
        words = self.words
        lead = max(range(len(words)), key=lambda i: len(words[i]))
        order = [lead, *(i for i in range(len(words)) if i != lead)]
        params: dict[str, Any] = {"n": self._left * 2 + 10}
        parts: list[str] = []
        for position, i in enumerate(order):
            column = self._c(f"w{position}.word")
            word = driving if (position == 0 and driving is not None) else words[i]
            mode = "exact" if (position == 0 and driving is not None) else modes[i]
            tests = []
            if mode == "exact":
                params[f"w{i}"] = word
                tests.append(f"{column} = :w{i}")
            if "prefix" in mode:
                params[f"lo{i}"], params[f"hi{i}"] = word, _after(word)
                tests.append(f"({column} >= :lo{i} AND {column} < :hi{i})")
            if "alike" in mode:
                names = []
                for j, other in enumerate(alike.get(i, [])):
                    params[f"a{i}_{j}"] = other
                    names.append(f":a{i}_{j}")
                if names:
                    tests.append(f"{column} IN ({', '.join(names)})")
            parts.append(" OR ".join(tests) or "1 = 0")
        joins = "".join(
            f" JOIN contact_word w{p} ON w{p}.contact_id = w0.contact_id AND ({parts[p]})"
            for p in range(1, len(order))
        )
        mode0 = "exact" if driving is not None else modes[lead]
        ranked = "w0.name_lower" if mode0 == "exact" else f"{self._c('w0.word')}, w0.name_lower"
        # Built of this module's own fragments and numbered placeholders; every typed word is
        # a bound parameter.
        sql = (
            f"SELECT w0.contact_id FROM contact_word w0{joins} WHERE {parts[0]} "  # nosec B608
            f"ORDER BY {ranked}, w0.contact_id LIMIT :n"
        )
        return sql, params

    def _similar(self, execute: Execute) -> None:
        """Callers whose name has words spelt like the ones typed ("Shmitt": Schmitt)."""
        alike = {
            i: self._alike_words(execute, word)
            for i, word in enumerate(self.words)
            if len(word) >= 4
        }
        if not any(alike.values()):
            return
        words = self.words
        lead = max(range(len(words)), key=lambda i: len(words[i]))
        modes = ["prefix|alike"] * len(words)
        if len(words) > 1 and any(alike.get(i) for i in range(len(words)) if i != lead):
            # Another word misspelt, the longest right ("klauss schmitt").
            self._add(execute(*self._words_sql(modes, alike)))
        for other in alike.get(lead, []):
            if self._left <= 0:
                return
            self._add(execute(*self._words_sql(modes, alike, driving=other)))

    def _alike_words(self, execute: Execute, word: str) -> list[str]:
        """Words of the desk's names spelt like ``word``, most alike first: neighbours by
        shared three-letter pieces from the trigram index, ranked by pg_trgm's likeness."""
        pieces = inner_grams(word)
        if not pieces:
            return []
        params: dict[str, Any] = {"n": _NEIGHBOURS}
        score = []
        for k, piece in enumerate(pieces):
            params[f"g{k}"] = f"%{piece}%"
            score.append(f"CASE WHEN word LIKE :g{k} THEN 1 ELSE 0 END")
        if self.postgres:
            where = " OR ".join(f"word LIKE :g{k}" for k in range(len(pieces)))
        else:
            params["m"] = " OR ".join(_fts_phrase(piece) for piece in pieces)
            where = "rowid IN (SELECT rowid FROM name_word_fts WHERE name_word_fts MATCH :m)"
        # Numbered placeholders only: the pieces of the word are bound parameters.
        rows = execute(
            f"SELECT word FROM name_word WHERE {where} "  # nosec B608
            f"ORDER BY {' + '.join(score)} DESC, word LIMIT :n",
            params,
        )
        ranked = sorted(
            (
                (-likeness(word, other), other)
                for (other,) in rows
                if not str(other).startswith(word)
            ),
        )
        return [other for score_, other in ranked if -score_ >= ALIKE][:_ALIKE_WORDS]

    # ------------------------------------------------------------------ organizations

    def _organizations(self, execute: Execute) -> None:
        """Callers of an organization whose name has a word starting with each word typed
        (organizations are few: read the candidates, check the words here)."""
        longest = max(self.words, key=len)
        if len(longest) < MIN_SEARCH:
            return
        # The name folded as the words typed were (``names.fold``), so "backerei" finds
        # "Bäckerei": on SQLite by the engine's ``deskterm_fold`` (db/engine.py), on
        # PostgreSQL by the accent table (db/types.py) and ß as ss.
        params: dict[str, Any] = {"p": f"%{_like(longest[:3])}%"}
        if self.postgres:
            folded = "replace(lower(translate(name, :accented, :plain)), 'ß', 'ss')"
            params |= {"accented": ACCENTED, "plain": PLAIN}
        else:
            folded = "deskterm_fold(name)"
        rows = execute(
            # Only one of the two constant texts above is formatted in; values are bound.
            f"SELECT id, name FROM organization WHERE {folded} LIKE :p ESCAPE '/' "  # nosec B608
            "ORDER BY id LIMIT 500",
            params,
        )
        ids = []
        for org_id, name in rows:
            have = name_words(str(name))
            if all(any(w.startswith(typed) for w in have) for typed in self.words):
                ids.append(int(org_id))
        if not ids:
            return
        params = {f"o{k}": org for k, org in enumerate(ids[:50])}
        params["n"] = self._left
        names = ", ".join(f":o{k}" for k in range(len(ids[:50])))
        self._add(
            execute(
                # Numbered placeholders only: the organization ids are bound parameters.
                f"SELECT id FROM contact WHERE organization_id IN ({names}) "  # nosec B608
                "ORDER BY name_lower, id LIMIT :n",
                params,
            )
        )
