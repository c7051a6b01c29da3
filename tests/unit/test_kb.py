"""The knowledge base on both databases: writing, search ranking, links to tickets, gaps."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from deskterm.cli import app
from deskterm.desk import kb
from deskterm.desk.tickets import get_ticket, resolve
from deskterm.domain.enums import EventKind
from deskterm.domain.errors import InvalidInput, NotFound, PermissionDenied
from factories import AGENT, AGENT2, SUPERVISOR, KnownDesk

#: A fixed article set: titles, tags and bodies that overlap on purpose, so that ranking is
#: what decides the order.
ARTICLES = (
    (
        "Reset an expired VPN token",
        "vpn token remote",
        "When the **VPN token** has expired the client refuses to connect. Open the portal, "
        "choose *Security*, and request a new token.",
    ),
    (
        "VPN drops every few minutes",
        "vpn wifi",
        "Usually a power-saving Wi-Fi adapter. Turn off power saving for the adapter.",
    ),
    (
        "Printer shows paper jam",
        "printer hardware",
        "Open tray 2, remove the sheet, close the tray. If the printer is on the VPN "
        "floor network nothing else is needed.",
    ),
    (
        "Outlook asks for the password again and again",
        "outlook mail password",
        "Remove the stored credentials in Windows Credential Manager and restart Outlook.",
    ),
)


@pytest.fixture
def articles(known: KnownDesk) -> list[kb.ArticlePublic]:
    desk = known.as_(SUPERVISOR)
    return [
        desk.write(kb.add_article, title=title, tags=tags, body=body, status="published")
        for title, tags, body in ARTICLES
    ]


def keys(hits: list[kb.ArticleHit]) -> list[str]:
    return [hit.key for hit in hits]


def test_an_article_is_written_and_read_back_with_its_key(known: KnownDesk) -> None:
    made = known.as_(AGENT).write(
        kb.add_article,
        title="  Map a network drive ",
        body="1. Open *Explorer*\n2. Map drive",
        category="Hardware > Printer",
        tags="Network, drive  network",
    )
    assert made.key == f"KB-{made.id}" and made.status == "draft" and made.author == AGENT
    shown = known.as_(AGENT2).read(kb.get_article, key=made.key.lower())
    assert shown.title == "Map a network drive"
    assert shown.body == "1. Open *Explorer*\n2. Map drive"
    assert shown.tags == ["network", "drive"] and shown.category == "Hardware > Printer"


def test_only_a_supervisor_publishes_or_changes_a_published_article(known: KnownDesk) -> None:
    agent = known.as_(AGENT)
    with pytest.raises(PermissionDenied):
        agent.write(kb.add_article, title="Draft", status="published")
    draft = agent.write(kb.add_article, title="Draft", body="first")
    edited = agent.write(kb.edit_article, key=draft.key, body="second", tags="a b")
    assert edited.body == "second" and edited.tags == ["a", "b"]
    with pytest.raises(PermissionDenied):
        agent.write(kb.edit_article, key=draft.key, status="published")
    published = known.as_(SUPERVISOR).write(kb.edit_article, key=draft.key, status="published")
    assert published.status == "published"
    with pytest.raises(PermissionDenied):
        agent.write(kb.edit_article, key=draft.key, title="Sneaky")
    assert agent.read(kb.get_article, key=draft.key).title == "Draft"


def test_bad_article_input_is_refused(known: KnownDesk) -> None:
    desk = known.as_(SUPERVISOR)
    with pytest.raises(InvalidInput):
        desk.write(kb.add_article, title="   ")
    with pytest.raises(InvalidInput):
        desk.write(kb.add_article, title="x", status="archived")
    with pytest.raises(NotFound):
        desk.read(kb.get_article, key="KB-999")
    with pytest.raises(InvalidInput):
        desk.read(kb.get_article, key="DT-000001")
    made = desk.write(kb.add_article, title="x")
    with pytest.raises(InvalidInput, match="nothing to change"):
        desk.write(kb.edit_article, key=made.key)


def test_search_ranks_title_matches_above_body_mentions(
    known: KnownDesk, articles: list[kb.ArticlePublic]
) -> None:
    vpn_token, vpn_drops, printer, _outlook = articles
    hits = known.as_(AGENT).read(kb.search_articles, query="vpn")
    # Both VPN articles say it in the title; the printer article only in passing.
    assert set(keys(hits[:2])) == {vpn_token.key, vpn_drops.key}
    assert keys(hits)[2:] == [printer.key]
    assert hits[0].rank >= hits[1].rank > hits[2].rank


def test_search_needs_every_word_and_reads_the_last_as_a_prefix(
    known: KnownDesk, articles: list[kb.ArticlePublic]
) -> None:
    vpn_token, _drops, _printer, outlook = articles
    desk = known.as_(AGENT)
    assert keys(desk.read(kb.search_articles, query="VPN tok")) == [vpn_token.key]
    assert keys(desk.read(kb.search_articles, query="expired tokens")) == [vpn_token.key]
    assert keys(desk.read(kb.search_articles, query="outlook passwo")) == [outlook.key]
    assert desk.read(kb.search_articles, query="printer outlook") == []


def test_search_survives_query_syntax_and_keeps_drafts_apart(
    known: KnownDesk, articles: list[kb.ArticlePublic]
) -> None:
    desk = known.as_(AGENT)
    draft = desk.write(kb.add_article, title="Printer toner empty", body="Order toner.")
    for nasty in ('"', "printer AND (", "NEAR(x y", "*", "' OR 1=1 --", "vpn:* & !"):
        desk.read(kb.search_articles, query=nasty)
    assert draft.key not in keys(desk.read(kb.search_articles, query="toner"))
    assert keys(desk.read(kb.search_articles, query="toner", drafts=True)) == [draft.key]


def test_an_edit_is_searchable_at_once(known: KnownDesk, articles: list[kb.ArticlePublic]) -> None:
    desk = known.as_(SUPERVISOR)
    outlook = articles[3]
    assert desk.read(kb.search_articles, query="thunderbird") == []
    desk.write(kb.edit_article, key=outlook.key, title="Thunderbird asks for the password")
    assert keys(desk.read(kb.search_articles, query="thunderbird")) == [outlook.key]
    # "again" was only in the old title: the index forgot it with the edit.
    assert desk.read(kb.search_articles, query="again") == []


def test_suggestions_for_a_description_put_the_closest_article_first(
    known: KnownDesk, articles: list[kb.ArticlePublic]
) -> None:
    vpn_token, vpn_drops, printer, outlook = articles
    desk = known.as_(AGENT)
    said = "Caller says the VPN will not connect, it tells her the token has expired."
    hits = desk.read(kb.suggest_articles, text=said)
    assert keys(hits)[0] == vpn_token.key
    assert outlook.key not in keys(hits)
    assert desk.read(kb.suggest_articles, text="it is the and but") == []
    jammed = desk.read(kb.suggest_articles, text="the printer has a paper jam again")
    assert keys(jammed)[0] == printer.key and vpn_drops.key not in keys(jammed)


def test_linking_an_article_is_logged_on_the_ticket_once(
    known: KnownDesk, articles: list[kb.ArticlePublic]
) -> None:
    ticket = known.ticket()
    article = articles[0]
    after = known.as_(AGENT2).write(kb.link_article, ref=ticket.ref, key=article.key)
    assert after.version == ticket.version + 1
    event = known.events(ticket.id)[-1]
    assert event.kind == EventKind.KB_LINKED and event.data["article"] == article.key
    assert event.visibility == "internal"
    with pytest.raises(InvalidInput, match="already"):
        known.as_(AGENT).write(kb.link_article, ref=ticket.ref, key=article.key)
    linked = known.as_(AGENT).read(kb.ticket_articles, ref=ticket.ref)
    assert keys(linked) == [article.key]
    assert known.as_(AGENT).read(kb.get_article, key=article.key).used == 1


def test_gaps_count_flagged_tickets_by_category_and_topic(
    known: KnownDesk, articles: list[kb.ArticlePublic]
) -> None:
    desk = known.as_(AGENT)
    printers = [known.ticket(category="Hardware > Printer") for _ in range(3)]
    other = known.ticket()
    desk.write(resolve, ref=printers[0].ref, code="fixed", text="Replaced the toner cartridge")
    desk.write(kb.flag_article_needed, ref=printers[0].ref, topic="Toner replacement")
    desk.write(kb.flag_article_needed, ref=printers[1].ref, topic="  toner   REPLACEMENT ")
    desk.write(kb.flag_article_needed, ref=printers[2].ref, topic="Duplex unit")
    desk.write(kb.flag_article_needed, ref=other.ref, topic="Toner replacement")
    assert known.events(printers[0].id)[-1].kind == EventKind.KB_NEEDED

    found = [(g.category, g.topic.lower(), g.tickets) for g in desk.read(kb.gaps)]
    assert found == [
        ("Hardware > Printer", "toner replacement", 2),
        ("Hardware > Printer", "duplex unit", 1),
        (None, "toner replacement", 1),
    ] or found == [
        ("Hardware > Printer", "toner replacement", 2),
        (None, "toner replacement", 1),
        ("Hardware > Printer", "duplex unit", 1),
    ]
    # An article linked later fills the gap; a ticket with an article cannot be flagged.
    desk.write(kb.link_article, ref=printers[2].ref, key=articles[2].key)
    assert ("Hardware > Printer", "duplex unit", 1) not in [
        (g.category, g.topic.lower(), g.tickets) for g in desk.read(kb.gaps)
    ]
    with pytest.raises(InvalidInput, match="solved with"):
        desk.write(kb.flag_article_needed, ref=printers[2].ref, topic="Duplex unit")


def test_the_kb_commands(known: KnownDesk, tmp_path) -> None:  # noqa: ANN001
    url = known.db.url.render_as_string(hide_password=False)
    runner = CliRunner()

    def kb_cmd(*args: str, login: str = SUPERVISOR) -> Any:
        result = runner.invoke(app, ["--db", url, "--as", login, "kb", *args])
        assert result.exit_code == 0, (args, result.output, result.exception)
        return result

    made = json.loads(
        kb_cmd(
            "add", "--title", "Reset a VPN token", "--tags", "vpn,token", "--json", login=AGENT
        ).stdout
    )
    key = made["key"]
    body = tmp_path / "body.md"
    body.write_text("# Steps\n\n1. Open the **portal**\n", encoding="utf-8")
    kb_cmd("edit", key, "--body-file", str(body), "--status", "published")
    shown = kb_cmd("show", key).stdout
    # Piped, the Markdown is handed on as written.
    assert "Reset a VPN token" in shown and "1. Open the **portal**" in shown
    found = json.loads(kb_cmd("search", "vpn", "tok", "--json").stdout)
    assert [hit["key"] for hit in found] == [key]
    listed = json.loads(kb_cmd("list", "--status", "published", "--json").stdout)
    assert [hit["key"] for hit in listed] == [key]

    solved, unsolved = known.ticket(), known.ticket()
    kb_cmd("link", solved.ref, key)
    assert (
        "solved it with " + key
        in known.as_(AGENT).read(get_ticket, ref=solved.ref).events[-1].summary
    )
    kb_cmd("need", unsolved.ref, "Token for contractors")
    gaps = json.loads(kb_cmd("gaps", "--json").stdout)
    assert [(g["topic"], g["tickets"]) for g in gaps] == [("Token for contractors", 1)]
    refused = runner.invoke(app, ["--db", url, "--as", AGENT, "kb", "edit", key, "--title", "x"])
    assert isinstance(refused.exception, PermissionDenied)
