"""Articles while a call is taken: the best match appears beside the problem as it is typed,
f3 shows it rendered, l links it, and the saved ticket says "solved with"."""

from __future__ import annotations

from helpers import opened, settle, type_text, until
from test_tui_intake import start_call
from test_tui_ticket import open_ticket
from textual.widgets import DataTable, Markdown, OptionList

from deskterm.desk.kb import add_article, search_articles
from deskterm.desk.kb import gaps as kb_gaps
from deskterm.tui.screens.article import (
    ArticleForm,
    ArticleScreen,
    KnowledgeScreen,
    TicketArticleModal,
)
from deskterm.tui.screens.intake import IntakeScreen
from deskterm.tui.screens.ticket import TicketScreen
from factories import AGENT, SUPERVISOR


def _articles(seeded) -> dict[str, str]:
    desk = seeded.known.as_(SUPERVISOR)
    made = [
        desk.write(
            add_article,
            title="Webcam not detected after an update",
            body="# Fix\n\nReinstall the **camera driver** from Device Manager.",
            tags="webcam camera",
            status="published",
        ),
        desk.write(
            add_article,
            title="Printer offline",
            body="Power-cycle the printer.",
            status="published",
        ),
        desk.write(add_article, title="Webcam draft notes", body="Not reviewed yet."),
    ]
    return {a.title: a.key for a in made}


def suggestions(screen: IntakeScreen) -> list[str]:
    listing = screen.query_one("#kb-suggestions", OptionList)
    if not listing.display:
        return []
    return [str(listing.get_option_at_index(i).prompt) for i in range(listing.option_count)]


async def test_a_matching_article_is_read_and_linked_to_the_new_ticket(make_app, seeded) -> None:
    keys = _articles(seeded)
    webcam = keys["Webcam not detected after an update"]
    app = make_app(AGENT)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await start_call(pilot, "carol")
        assert suggestions(screen) == []
        await type_text(pilot, "Webcam broken")
        await until(pilot, lambda: suggestions(screen), "articles suggested")
        # Published articles only, the matching one; the draft and the printer stay out.
        assert [s.split(" ")[0] for s in suggestions(screen)] == [webcam]

        await pilot.press("f3")
        await until(
            pilot,
            lambda: isinstance(app.screen, ArticleScreen) and app.screen.article is not None,
            "article shown",
        )
        await settle(pilot)
        body = app.screen.query_one(Markdown)
        # Rendered: the heading and the bold words are blocks and styles, not # and **.
        assert "camera driver" in str(body.source) and app.screen.query("MarkdownH1")
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, IntakeScreen), "back to the call")
        assert screen.kb_links == {0: int(webcam.split("-")[1])}
        assert "✓ linked" in suggestions(screen)[0]

        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, TicketScreen) and app.screen.ticket)
        made = app.screen.ticket
    linked = [e for e in made.events if e.kind == "kb_linked"]
    assert [e.data["article"] for e in linked] == [webcam]
    assert linked[0].summary.startswith(f"solved it with {webcam}")


async def test_closing_an_article_links_nothing(make_app, seeded) -> None:
    _articles(seeded)
    app = make_app(AGENT)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start_call(pilot, "carol")
        await type_text(pilot, "Printer says offline")
        await until(pilot, lambda: suggestions(screen), "articles suggested")
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, ArticleScreen), "article shown")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, IntakeScreen), "back to the call")
        assert screen.kb_links == {}
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, TicketScreen) and app.screen.ticket)
        assert not [e for e in app.screen.ticket.events if e.kind == "kb_linked"]


async def test_write_find_and_edit_an_article_in_the_app(make_app, seeded) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(100, 30)) as pilot:
        await opened(pilot)
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, KnowledgeScreen), "articles shown")
        browser = app.screen
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, ArticleForm), "form shown")
        await type_text(pilot, "Map a network drive")
        await pilot.press("tab", "tab", "tab")  # category, tags, on to the status
        await pilot.press("enter", "down", "enter")  # published: an agent may not
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen.query_one("#form-error").display, "refused")
        assert "supervisor" in str(app.screen.query_one("#form-error").render())
        # The refusal names the status, and the cursor is there: back to draft.
        assert app.focused.id == "status"
        await pilot.press("enter", "up", "enter")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is browser, "saved")
        await until(pilot, lambda: browser.query_one(DataTable).row_count == 1, "listed")

        await type_text(pilot, "netw")  # the search field has the cursor
        await until(pilot, lambda: browser.query_one(DataTable).row_count == 1, "found")
        await pilot.press("ctrl+e")
        await until(pilot, lambda: isinstance(app.screen, ArticleForm), "edit form shown")
        await pilot.press("tab", "tab", "tab", "tab")  # to the body
        await type_text(pilot, "Open Explorer")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is browser, "edit saved")
    [hit] = seeded.known.as_(AGENT).read(search_articles, query="explorer", drafts=True)
    assert (hit.title, hit.status) == ("Map a network drive", "draft")


async def test_on_a_ticket_k_links_an_article_or_flags_one_needed(make_app, seeded) -> None:
    desk = seeded.known.as_(SUPERVISOR)
    outlook = desk.write(
        add_article,
        title="Outlook keeps asking for the password",
        body="Clear the stored credentials.",
        status="published",
    )
    app = make_app(AGENT)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_ticket(pilot, seeded.refs["outlook"])
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, TicketArticleModal), "dialog open")
        dialog = app.screen
        # The ticket's subject is the first search.
        hits = dialog.query_one("#kb-hits", OptionList)
        await until(pilot, lambda: hits.option_count, "articles found")
        assert str(hits.get_option_at_index(0).prompt).startswith(outlook.key)
        await pilot.press("enter", "enter")
        await until(pilot, lambda: isinstance(app.screen, ArticleScreen) and app.screen.article)
        await pilot.press("l")
        await until(pilot, lambda: app.screen is screen, "linked")
        await settle(pilot)
        assert screen.ticket.events[-1].kind == "kb_linked"

        await pilot.press("escape")
        printer = await open_ticket(pilot, seeded.refs["printer"])
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, TicketArticleModal), "dialog open")
        await pilot.press("tab", "tab")  # past the search and its hits
        await type_text(pilot, "Tray 2 jams")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is printer, "flagged")
    gaps = seeded.known.as_(AGENT).read(kb_gaps)
    assert [(g.topic, g.tickets) for g in gaps] == [("Tray 2 jams", 1)]
