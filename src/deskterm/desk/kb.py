"""The knowledge base: articles, full-text search, articles that solved tickets, and the
articles the team still has to write.

Search runs in the database: SQLite's FTS5 (``bm25`` over title, tags and body) or
PostgreSQL's ``tsvector`` (``ts_rank_cd`` over the weighted ``search_vector``). What the user
typed is reduced to plain words before it reaches either query language, so no input can be
a syntax error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select, text
from sqlalchemy.orm import Session
from sqlmodel import col

from deskterm.db.models import Analyst, Category, KbArticle, KbNeed, KbTicket, Ticket
from deskterm.desk import clock
from deskterm.desk.lookups import category_by_path
from deskterm.desk.schemas import Public, TicketPublic
from deskterm.desk.tickets import Change, load, summary
from deskterm.domain.enums import ArticleStatus
from deskterm.domain.errors import InvalidInput, NotFound, PermissionDenied
from deskterm.domain.payloads import KbLinked, KbNeeded
from deskterm.domain.permissions import Actor, may_edit_draft
from deskterm.domain.refs import format_ref, parse_ref
from deskterm.domain.text import long_text, optional_line, required_line
from deskterm.i18n import N_, _

PREFIX = "KB"
_KEY = re.compile(r"^\s*(?:(?P<prefix>[A-Za-z]+)-?|#)?(?P<num>[0-9]{1,9})\s*$")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
#: Words a description is full of that say nothing about the problem.
_STOP = frozenset(
    "the and for with that this from have has had not but are was were can cannot could "
    "would should will just they them their there then than when what which who she her his "
    "him our you your its it's all any some again still also does did doing done into onto "
    "out off about after before very too please thanks thank hello get got says said".split()
)
#: A prefix search over a handful of letters matches too much to rank (TECH-NOTES).
_PREFIX_MIN = 3
_SUGGEST_WORDS = 16
BODY_MAX = 200_000


class ArticlePublic(Public):
    id: int
    key: str
    title: str
    body: str
    category: str | None
    tags: list[str]
    status: str
    created_at: datetime
    updated_at: datetime
    author: str | None = None
    #: Tickets this article solved.
    used: int = 0


class ArticleHit(Public):
    """One search result: enough to list it and to decide whether to open it."""

    id: int
    key: str
    title: str
    category: str | None
    status: str
    excerpt: str
    rank: float


class GapPublic(Public):
    """Tickets resolved without an article, counted by category and topic."""

    category: str | None
    topic: str
    tickets: int
    latest: datetime


def format_key(article_id: int) -> str:
    return f"{PREFIX}-{article_id}"


def parse_key(value: str | int) -> int:
    """The article id in ``KB-12``, ``kb12``, ``#12`` or ``12``."""
    if isinstance(value, int):
        return value
    match = _KEY.match(value or "")
    if match is None or (match["prefix"] and match["prefix"].upper() != PREFIX):
        raise InvalidInput(
            _("{value!r} is not an article key (like {prefix}-12)").format(
                value=value, prefix=PREFIX
            ),
            field="article",
        )
    return int(match["num"])


def _tags(value: str | list[str] | None) -> str:
    """Tags stored as lower-case words separated by spaces (so search sees them as words)."""
    if value is None:
        return ""
    raw = value if isinstance(value, str) else " ".join(value)
    words = [w.strip().lower() for w in re.split(r"[,\s]+", raw) if w.strip()]
    seen = list(dict.fromkeys(words))
    return optional_line(" ".join(seen), field="tags", limit=400) or ""


def _status(value: str) -> ArticleStatus:
    try:
        return ArticleStatus(value.strip().lower())
    except ValueError:
        allowed = ", ".join(s.value for s in ArticleStatus)
        raise InvalidInput(
            _("unknown status {value!r}: use {allowed}").format(value=value, allowed=allowed),
            field="status",
        ) from None


def _article(session: Session, key: str | int) -> KbArticle:
    article_id = parse_key(key)
    article = session.get(KbArticle, article_id)
    if article is None:
        raise NotFound(_("no article {key}").format(key=format_key(article_id)))
    return article


def _public(session: Session, article: KbArticle) -> ArticlePublic:
    assert article.id is not None
    category = session.get(Category, article.category_id) if article.category_id else None
    author = session.get(Analyst, article.created_by_id) if article.created_by_id else None
    used = session.scalar(
        select(func.count()).select_from(KbTicket).where(col(KbTicket.article_id) == article.id)
    )
    return ArticlePublic(
        id=article.id,
        key=format_key(article.id),
        title=article.title,
        body=article.body,
        category=category.path if category else None,
        tags=article.tags.split() if article.tags else [],
        status=article.status,
        created_at=article.created_at,
        updated_at=article.updated_at,
        author=author.login if author else None,
        used=used or 0,
    )


def _may_publish(actor: Actor, refused: str) -> None:
    """``refused`` is the whole refusal, marked with ``N_``."""
    # A published article is what analysts read to customers: a supervisor vouches for it.
    if not actor.is_supervisor:
        raise PermissionDenied(_(refused))


# --------------------------------------------------------------------------- writing


def add_article(
    session: Session,
    actor: Actor,
    *,
    title: str,
    body: str = "",
    category: str | None = None,
    tags: str | list[str] | None = None,
    status: str = ArticleStatus.DRAFT,
) -> ArticlePublic:
    """Any analyst may write a draft; publishing it takes a supervisor."""
    chosen = _status(status)
    if chosen == ArticleStatus.PUBLISHED:
        _may_publish(actor, N_("only a supervisor may publish an article"))
    now = clock.now()
    article = KbArticle(
        title=required_line(title, field="title"),
        body=long_text(body, field="body", limit=BODY_MAX),
        category_id=category_by_path(session, category).id if category else None,
        tags=_tags(tags),
        status=chosen,
        created_at=now,
        updated_at=now,
        created_by_id=actor.id,
        updated_by_id=actor.id,
    )
    session.add(article)
    session.flush()
    return _public(session, article)


def edit_article(
    session: Session,
    actor: Actor,
    *,
    key: str | int,
    title: str | None = None,
    body: str | None = None,
    category: str | None = None,
    tags: str | list[str] | None = None,
    status: str | None = None,
) -> ArticlePublic:
    """Change what is given. A published article, and publishing, need a supervisor."""
    article = _article(session, key)
    chosen = _status(status) if status is not None else ArticleStatus(article.status)
    if article.status == ArticleStatus.PUBLISHED or chosen == ArticleStatus.PUBLISHED:
        _may_publish(actor, N_("only a supervisor may change a published article or publish one"))
    elif not may_edit_draft(actor, article.created_by_id):
        author = session.get(Analyst, article.created_by_id) if article.created_by_id else None
        if author is not None:
            said = _("{key} is a draft of {login}: only its author or a supervisor may change it")
        else:
            said = _("{key} is a draft: only its author or a supervisor may change it")
        raise PermissionDenied(
            said.format(key=format_key(article.id or 0), login=author.login if author else None)
        )
    changed = False
    if title is not None:
        article.title, changed = required_line(title, field="title"), True
    if body is not None:
        article.body, changed = long_text(body, field="body", limit=BODY_MAX), True
    if category is not None:
        # An empty category takes the article out of any category.
        article.category_id = category_by_path(session, category).id if category.strip() else None
        changed = True
    if tags is not None:
        article.tags, changed = _tags(tags), True
    if status is not None:
        article.status, changed = chosen, True
    if not changed:
        raise InvalidInput(_("nothing to change"), field="article")
    article.updated_at = clock.now()
    article.updated_by_id = actor.id
    session.flush()
    return _public(session, article)


# --------------------------------------------------------------------------- reading


def get_article(session: Session, actor: Actor, *, key: str | int) -> ArticlePublic:
    return _public(session, _article(session, key))


def list_articles(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    category: str | None = None,
    limit: int = 100,
) -> list[ArticleHit]:
    """Newest changes first."""
    query = (
        select(
            col(KbArticle.id),
            col(KbArticle.title),
            col(Category.path),
            col(KbArticle.status),
            col(KbArticle.body),
        )
        .outerjoin(Category, col(Category.id) == col(KbArticle.category_id))
        .order_by(col(KbArticle.updated_at).desc(), col(KbArticle.id).desc())
        .limit(max(1, min(limit, 1000)))
    )
    if status:
        query = query.where(col(KbArticle.status) == _status(status))
    if category:
        query = query.where(col(KbArticle.category_id) == category_by_path(session, category).id)
    return _hits(session.execute(query))


def _hits(rows: Iterable[Row[int | None, str, str | None, str, str]]) -> list[ArticleHit]:
    """Listed articles (id, title, category path, status, body) as hits in that order."""
    hits = []
    for aid, title, path, state, body in rows:
        assert aid is not None
        hits.append(
            ArticleHit(
                id=aid,
                key=format_key(aid),
                title=title,
                category=path,
                status=state,
                excerpt=_excerpt(body),
                rank=0.0,
            )
        )
    return hits


def _excerpt(body: str, width: int = 160) -> str:
    # The first lines of Markdown without its heading and list marks.
    words = " ".join(
        line.strip().lstrip("#>*-+ ").strip() for line in body.splitlines() if line.strip()
    ).split()
    said = " ".join(words)
    return said if len(said) <= width else said[: width - 1].rstrip() + "…"


def search_words(query: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(query or "")]


def search_articles(
    session: Session,
    actor: Actor,
    *,
    query: str,
    limit: int = 10,
    drafts: bool = False,
) -> list[ArticleHit]:
    """Articles with every word of ``query`` (the last one also as a prefix, for typing),
    best first: a word in the title counts most, then tags, then the body."""
    words = search_words(query)
    if not words:
        return []
    return _search(session, words, every=True, limit=limit, drafts=drafts)


def suggest_articles(
    session: Session, actor: Actor, *, text: str, limit: int = 5
) -> list[ArticleHit]:
    """Published articles for a caller's description as it is typed: any of its telling
    words may match, and articles matching more of them (in titles above all) come first."""
    words = [w for w in search_words(text) if len(w) >= _PREFIX_MIN and w not in _STOP]
    chosen = list(dict.fromkeys(words))[-_SUGGEST_WORDS:]
    if not chosen:
        return []
    return _search(session, chosen, every=False, limit=limit, drafts=False)


def _search(
    session: Session, words: list[str], *, every: bool, limit: int, drafts: bool
) -> list[ArticleHit]:
    limit = max(1, min(limit, 100))
    status_filter = "" if drafts else "AND a.status = 'published'"
    dialect = session.get_bind().dialect.name
    params: dict[str, Any] = {"limit": limit}
    if dialect == "postgresql":
        terms = list(words)
        if every and len(terms[-1]) >= _PREFIX_MIN:
            terms[-1] = f"{terms[-1]}:*"
        params["q"] = (" & " if every else " | ").join(terms)
        # to_tsquery drops stop words itself; the words are bare letters and digits.
        # (Only status_filter, one of two constants, is formatted into the text.)
        sql = f"""
            SELECT a.id, a.title, c.path, a.status, substr(a.body, 1, 400) AS body,
                   ts_rank_cd(a.search_vector, q.query) AS rank
            FROM kb_article a
            CROSS JOIN (SELECT to_tsquery('english', :q) AS query) q
            LEFT JOIN category c ON c.id = a.category_id
            WHERE a.search_vector @@ q.query {status_filter}
            ORDER BY rank DESC, a.id
            LIMIT :limit
        """  # nosec B608
    else:
        terms = [f'"{w}"' for w in words]
        if every and len(words[-1]) >= _PREFIX_MIN:
            terms[-1] = f'"{words[-1]}"*'
        params["q"] = (" AND " if every else " OR ").join(terms)
        # bm25 is lower for better matches; column weights: title, tags, body.
        # (Only status_filter, one of two constants, is formatted into the text.)
        sql = f"""
            SELECT a.id, a.title, c.path, a.status, substr(a.body, 1, 400) AS body,
                   -bm25(kb_article_fts, 10.0, 4.0, 1.0) AS rank
            FROM kb_article_fts
            JOIN kb_article a ON a.id = kb_article_fts.rowid
            LEFT JOIN category c ON c.id = a.category_id
            WHERE kb_article_fts MATCH :q {status_filter}
            ORDER BY bm25(kb_article_fts, 10.0, 4.0, 1.0), a.id
            LIMIT :limit
        """  # nosec B608
    return [
        ArticleHit(
            id=aid,
            key=format_key(aid),
            title=title,
            category=path,
            status=state,
            excerpt=_excerpt(body or ""),
            rank=float(rank),
        )
        for aid, title, path, state, body, rank in session.execute(text(sql), params)
    ]


# --------------------------------------------------------------------------- tickets


def link_article(
    session: Session,
    actor: Actor,
    *,
    ref: str | int,
    key: str | int,
    expected_version: int | None = None,
) -> TicketPublic:
    """Record that ``key`` solved the ticket ("solved with KB-12"); the ticket's log says so.
    Anyone on the desk may, like a note; an "article needed" flag on the ticket is lifted."""
    article = _article(session, key)
    ticket = load(session, ref, expected_version)
    assert article.id is not None and ticket.id is not None
    if session.get(KbTicket, (article.id, ticket.id)) is not None:
        raise InvalidInput(
            _("{ref} is linked to {key} already").format(
                ref=format_ref(ticket.id), key=format_key(article.id)
            ),
            field="article",
        )
    change = Change(session, actor, ticket)
    session.add(
        KbTicket(
            article_id=article.id, ticket_id=ticket.id, linked_at=change.at, linked_by_id=actor.id
        )
    )
    need = session.get(KbNeed, ticket.id)
    if need is not None:
        session.delete(need)
    change.log(KbLinked(article=format_key(article.id), title=article.title), visible=False)
    change.save()
    return summary(session, ticket)


def ticket_articles(session: Session, actor: Actor, *, ref: str | int) -> list[ArticleHit]:
    """The articles linked to a ticket, in the order they were linked."""
    # A read: the ticket is looked up, not locked (reads are READ ONLY on PostgreSQL).
    ticket_id = ref if isinstance(ref, int) else parse_ref(ref)
    if session.get(Ticket, ticket_id) is None:
        raise NotFound(_("no ticket {ref}").format(ref=format_ref(ticket_id)))
    rows = session.execute(
        select(
            col(KbArticle.id),
            col(KbArticle.title),
            col(Category.path),
            col(KbArticle.status),
            col(KbArticle.body),
        )
        .join(KbTicket, col(KbTicket.article_id) == col(KbArticle.id))
        .outerjoin(Category, col(Category.id) == col(KbArticle.category_id))
        .where(col(KbTicket.ticket_id) == ticket_id)
        .order_by(col(KbTicket.linked_at), col(KbArticle.id))
    )
    return _hits(rows)


def flag_article_needed(
    session: Session,
    actor: Actor,
    *,
    ref: str | int,
    topic: str,
    expected_version: int | None = None,
) -> TicketPublic:
    """Mark a ticket as solved without an article that should exist, on ``topic``.

    Flagging again replaces the topic; a ticket that already has an article is refused."""
    about = required_line(topic, field="topic", limit=200)
    ticket = load(session, ref, expected_version)
    assert ticket.id is not None
    linked = session.scalar(
        select(col(KbTicket.article_id)).where(col(KbTicket.ticket_id) == ticket.id)
    )
    if linked is not None:
        raise InvalidInput(
            _("{ref} was solved with {key} already").format(
                ref=format_ref(ticket.id), key=format_key(linked)
            ),
            field="topic",
        )
    change = Change(session, actor, ticket)
    need = session.get(KbNeed, ticket.id)
    if need is None:
        need = KbNeed(ticket_id=ticket.id, topic=about, topic_key="", flagged_at=change.at)
        session.add(need)
    need.topic = about
    # Grouping key: case and spacing must not split one topic into several rows.
    need.topic_key = " ".join(about.lower().split())
    need.category_id = ticket.category_id
    need.flagged_at = change.at
    need.flagged_by_id = actor.id
    change.log(KbNeeded(topic=about), visible=False)
    change.save()
    return summary(session, ticket)


def gaps(
    session: Session,
    actor: Actor,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
) -> list[GapPublic]:
    """Which articles to write next: flagged tickets counted by category and topic, the
    most wanted first."""
    tickets = func.count(col(KbNeed.ticket_id))
    latest = func.max(col(KbNeed.flagged_at))
    query = (
        select(col(Category.path), func.min(col(KbNeed.topic)), tickets, latest)
        .select_from(KbNeed)
        .outerjoin(Category, col(Category.id) == col(KbNeed.category_id))
        .group_by(col(KbNeed.category_id), col(Category.path), col(KbNeed.topic_key))
        .order_by(tickets.desc(), latest.desc(), col(KbNeed.topic_key))
        .limit(max(1, min(limit, 1000)))
    )
    if since is not None:
        query = query.where(col(KbNeed.flagged_at) >= since)
    if until is not None:
        query = query.where(col(KbNeed.flagged_at) < until)
    return [
        GapPublic(category=path, topic=topic, tickets=count, latest=last)
        for path, topic, count, last in session.execute(query)
    ]
