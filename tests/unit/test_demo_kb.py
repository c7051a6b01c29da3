"""The demo desk's knowledge base: published articles a caller's problem finds, linked from
the tickets they solved, with logs that still replay to every ticket row."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from deskterm.db.engine import Database
from deskterm.db.models import Analyst, Category, KbArticle, KbTicket, Ticket, TicketEvent
from deskterm.desk import clock
from deskterm.desk.consistency import check_log, check_storage
from deskterm.desk.context import Desk
from deskterm.desk.demo import build_demo
from deskterm.desk.demo_kb import load_articles
from deskterm.desk.kb import (
    add_article,
    get_article,
    link_article,
    search_articles,
    suggest_articles,
    ticket_articles,
)
from deskterm.domain.enums import ArticleStatus, EventKind, Role, Status
from deskterm.domain.permissions import SYSTEM
from deskterm.paths import data_file

SIZE = 300
FROZEN = datetime(2026, 11, 25, 10, 30, 15, 123456, tzinfo=UTC)
#: A sample for the placeholders of tickets.toml's subjects.
SAMPLE = {
    "first": "Ann",
    "name": "Ann Lee",
    "org": "Northwind Logistics",
    "site": "London HQ, floor 3",
    "asset": "ERP user account (SAP S/4HANA)",
    "serial": "SAP10001",
}


@pytest.fixture
def demo(db: Database) -> Database:
    with clock.use_clock(lambda: FROZEN):
        build_demo(db, tickets=SIZE, me="kim.tester")
    return db


def test_the_demo_publishes_20_to_40_articles_written_by_its_supervisors(demo: Database) -> None:
    with demo.read() as session:
        rows = session.execute(
            select(
                KbArticle.title,
                KbArticle.body,
                KbArticle.tags,
                KbArticle.created_at,
                Category.path,
                Analyst.role,
            )
            .outerjoin(Category, Category.id == KbArticle.category_id)
            .outerjoin(Analyst, Analyst.id == KbArticle.created_by_id)
            .where(KbArticle.status == ArticleStatus.PUBLISHED)
        ).all()
        first_ticket = session.scalar(select(Ticket.created_at).order_by(Ticket.id).limit(1))
    assert 20 <= len(rows) <= 40
    assert first_ticket is not None
    for title, body, tags, created_at, path, role in rows:
        assert body.startswith("# "), title
        assert len(body.splitlines()) >= 5, title
        assert path is not None, title
        assert tags, title
        assert role in (Role.SUPERVISOR, Role.ADMIN), title
        assert created_at < first_ticket, title
    # Written for the German-speaking callers too.
    assert any("zurücksetzen" in row.title for row in rows)


def test_resolved_tickets_link_the_article_that_solved_them_as_the_desk_would(
    demo: Database,
) -> None:
    articles = dict(enumerate(load_articles(), start=1))
    with demo.read() as session:
        links = session.execute(
            select(
                KbTicket.article_id,
                KbTicket.ticket_id,
                KbTicket.linked_at,
                KbTicket.linked_by_id,
                Ticket.subject,
            )
            .join(Ticket, Ticket.id == KbTicket.ticket_id)
            .order_by(KbTicket.ticket_id)
        ).all()
        events = session.execute(
            select(
                TicketEvent.ticket_id,
                TicketEvent.kind,
                TicketEvent.at,
                TicketEvent.actor_id,
                TicketEvent.visibility,
                TicketEvent.data,
            )
            .where(TicketEvent.kind.in_([EventKind.KB_LINKED, EventKind.RESOLVED]))
            .order_by(TicketEvent.id)
        ).all()
    linked = {e.ticket_id: e for e in events if e.kind == EventKind.KB_LINKED}
    resolutions = {(e.ticket_id, e.at, e.actor_id) for e in events if e.kind == EventKind.RESOLVED}
    assert len(links) >= 10
    assert len(linked) == len(links)
    for article_id, ticket_id, linked_at, linked_by, subject in links:
        article = articles[article_id]
        assert any(part in subject.lower() for part in article.solves), (subject, article.title)
        event = linked[ticket_id]
        # The log says what the row says: who linked which article when, internally ...
        assert event.data == {"article": f"KB-{article_id}", "title": article.title}
        assert (event.actor_id, event.at, event.visibility) == (linked_by, linked_at, "internal")
        # ... just before they resolved the ticket with it.
        assert (ticket_id, linked_at, linked_by) in resolutions
    article_id, ticket_id = links[0].article_id, links[0].ticket_id
    solved = Desk(demo, "maria.schmidt").read(ticket_articles, ref=ticket_id)
    assert [a.id for a in solved] == [article_id]
    used = Desk(demo, "maria.schmidt").read(get_article, key=article_id).used
    assert used >= 1


def test_the_demo_desk_with_its_articles_is_what_its_logs_say(demo: Database) -> None:
    with demo.read() as session:
        summary = check_log(session, SYSTEM)
    assert summary.tickets == SIZE
    assert summary.ok, summary
    with demo.read() as session:
        assert check_storage(session, SYSTEM).ok


def test_a_search_for_vpn_809_finds_the_vpn_article(demo: Database) -> None:
    hits = Desk(demo, "anna.berg").read(search_articles, query="vpn 809")
    assert any(h.title.startswith("VPN error 809") for h in hits), hits
    assert all(h.category == "Network > VPN" for h in hits)


def test_the_new_call_suggestions_find_an_article_for_the_demos_common_problems(
    demo: Database,
) -> None:
    articles = load_articles()
    with data_file("demo/tickets.toml").open("rb") as handle:
        issues = tomllib.load(handle)["issue"]
    desk = Desk(demo, "anna.berg")
    tried = 0
    for issue in issues:
        subject = issue["subject"].format_map(SAMPLE)
        solving = {
            n
            for n, a in enumerate(articles, start=1)
            if a.status == ArticleStatus.PUBLISHED and any(p in subject.lower() for p in a.solves)
        }
        if not solving:
            continue
        tried += 1
        hits = desk.read(suggest_articles, text=subject, limit=3)
        assert {h.id for h in hits} & solving, (subject, [h.title for h in hits])
    assert tried >= 30


def test_articles_written_after_the_demo_get_the_next_key(demo: Database) -> None:
    # The demo numbers its articles itself: PostgreSQL's sequence must have moved on.
    count = len(load_articles())
    desk = Desk(demo, "maria.schmidt")
    article = desk.write(
        add_article,
        title="Teams meeting room display shows no calendar",
        body="# Steps\n\n1. Restart the display.",
        category="Applications > Collaboration",
        status="published",
    )
    assert article.id == count + 1
    with demo.read() as session:
        ticket_id = session.scalar(
            select(Ticket.id).where(Ticket.status == Status.IN_PROGRESS).limit(1)
        )
    assert ticket_id is not None
    desk.write(link_article, ref=ticket_id, key=article.key)
    with demo.read() as session:
        assert check_log(session, SYSTEM, ticket_ids=[ticket_id]).ok
