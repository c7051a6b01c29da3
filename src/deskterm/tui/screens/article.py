"""The knowledge base in the terminal: an article with its Markdown rendered (over whatever
screen asked for it), the form that writes or edits one, and the screen that lists and
searches them.

``ArticleScreen`` dismisses with ``"link"`` when the analyst chooses to record the article
against the ticket at hand (the caller offers that by passing ``can_link``), else ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.events import Key
from textual.message import Message
from textual.widgets import (
    DataTable,
    Input,
    Markdown,
    OptionList,
    Select,
    Static,
    TextArea,
)
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from deskterm.domain.enums import article_status_label
from deskterm.i18n import N_, _, ngettext
from deskterm.tui.base import DeskModal, DeskScreen
from deskterm.tui.format import literal, plain
from deskterm.tui.modals.base import FieldError, FormModal, label
from deskterm.tui.modals.ticket_actions import TicketModal
from deskterm.tui.widgets.bar import DeskBar
from deskterm.tui.widgets.footer import KeyFooter
from deskterm.tui.widgets.notearea import NoteArea

if TYPE_CHECKING:
    from deskterm.desk.kb import ArticleHit, ArticlePublic


class ArticleScreen(DeskModal[str | None]):
    BINDINGS = [
        Binding("escape", "close", N_("Close"), id="close"),
        Binding(
            "l",
            "link",
            N_("Link to ticket"),
            tooltip=N_("Record that this article solves the problem (logged on the ticket)"),
            id="link_article",
        ),
    ]

    @dataclass
    class Loaded(Message):
        article: ArticlePublic

    def __init__(self, article_id: int, *, can_link: bool = False) -> None:
        super().__init__()
        self.article_id = article_id
        self.can_link = can_link
        self.article: ArticlePublic | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="article"):
            yield Static(id="article-head")
            # Links in an article are shown, never followed from the desk.
            yield Markdown(id="article-body", open_links=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#article").loading = True
        self.fetch()

    @work(thread=True, exclusive=True, exit_on_error=False, group="article")
    def fetch(self) -> None:
        from deskterm.desk.kb import get_article

        desk = self.desk
        self.post_message(self.Loaded(desk.read(get_article, key=self.article_id)))

    @on(Loaded)
    async def show(self, event: ArticleScreen.Loaded) -> None:
        self.article = article = event.article
        head = Text.assemble((article.key, "bold"), " · ")
        head.append_text(literal(article.title, style="bold"))
        facts = [article_status_label(article.status), article.category or _("no category")]
        if article.tags:
            facts.append(", ".join(article.tags))
        facts.append(
            ngettext("solved {n} ticket", "solved {n} tickets", article.used).format(n=article.used)
        )
        head.append("\n")
        head.append_text(literal(" · ".join(facts), style="dim"))
        self.query_one("#article-head", Static).update(head)
        await self.query_one("#article-body", Markdown).update(article.body)
        self.query_one("#article").loading = False
        self.refresh_bindings()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.group == "article":
            self.dismiss(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "link":
            return self.can_link and self.article is not None
        return True

    def action_close(self) -> None:
        self.dismiss(None)

    def action_link(self) -> None:
        if self.can_link and self.article is not None:
            self.dismiss("link")


# --------------------------------------------------------------------------- writing


class ArticleForm(FormModal):
    """A new article, or changes to one; the desk decides who may publish."""

    TITLE_TEXT = N_("New article")

    def __init__(self, article: ArticlePublic | None = None) -> None:
        title = _("Edit {key}").format(key=article.key) if article else None
        super().__init__(title=title)
        self.article = article

    def fields(self) -> ComposeResult:
        article = self.article
        yield label(_("Title"))
        # Input shows its value as it is: cleaned here, as the desk cleans what it stores.
        yield Input(value=plain(article.title) if article else "", id="title", compact=True)
        yield FieldError("title")
        yield label(_("Category (a path like Hardware > Printer; empty for none)"))
        yield Input(value=plain(article.category) if article else "", id="category", compact=True)
        yield FieldError("category")
        yield label(_("Tags (words)"))
        yield Input(value=plain(" ".join(article.tags)) if article else "", id="tags", compact=True)
        yield FieldError("tags")
        yield label(_("Status"))
        yield Select(
            [(_("draft"), "draft"), (_("published (supervisors)"), "published")],
            value=article.status if article else "draft",
            allow_blank=False,
            id="status",
            compact=True,
        )
        yield FieldError("status")
        yield label(_("Body (Markdown)"))
        yield NoteArea(
            plain(article.body, long=True) if article else "", id="body", classes="article-body"
        )
        yield FieldError("body")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#title").focus()

    def request(self) -> tuple[Callable[..., Any], dict[str, Any]]:
        from deskterm.desk.kb import add_article, edit_article

        values: dict[str, Any] = {
            "title": self.query_one("#title", Input).value,
            "category": self.query_one("#category", Input).value.strip(),
            "tags": self.query_one("#tags", Input).value,
            "status": str(self.query_one("#status", Select).value),
            "body": self.query_one("#body", TextArea).text,
        }
        if self.article is None:
            values["category"] = values["category"] or None
            return add_article, values
        return edit_article, {"key": self.article.id, **values}


# --------------------------------------------------------------------------- browsing


class KnowledgeScreen(DeskScreen[None]):
    """Every article, or those matching what is typed, best first; read, write, edit.

    People come here to find something, so typing always searches: the search field has
    the cursor, and a letter typed in the list goes on into the search. The list's actions
    are on keys nobody types into a search (enter, ctrl+o, ctrl+e), so they work from the
    search field and the list alike; plain letters never fire anything here.
    """

    BINDINGS = [
        Binding(
            "enter",
            "read",
            N_("Read"),
            tooltip=N_("Read the highlighted article (the best match while you type)"),
            priority=True,
            id="open_article",
        ),
        # ctrl+o is "new ..." on the new call too (a new caller); ctrl+n stays the new call.
        Binding(
            "ctrl+o",
            "new",
            N_("New article"),
            tooltip=N_("Write a new article"),
            priority=True,
            id="new_article",
        ),
        Binding(
            "ctrl+e",
            "edit",
            N_("Edit"),
            tooltip=N_("Edit the highlighted article"),
            priority=True,
            id="edit_article",
        ),
        Binding("escape", "back", N_("Queue"), tooltip=N_("Back to the queue"), id="back"),
        Binding(
            "down",
            "to_list",
            N_("To the list"),
            tooltip=N_("From the search to the articles found"),
            show=False,
            id="to_list",
        ),
        Binding(
            "slash",
            "search",
            N_("Search"),
            tooltip=N_("Back to the search field (typing anywhere searches too)"),
            show=False,
            id="search_articles",
        ),
    ]

    @dataclass
    class Found(Message):
        text: str
        hits: list[ArticleHit]

    def compose(self) -> ComposeResult:
        yield DeskBar(_("Knowledge base"), id="bar")
        # Not selected on focus: a letter typed in the list goes on at the end of the words.
        yield Input(
            placeholder=_("Type to search titles, tags and text"),
            id="kb-search",
            select_on_focus=False,
        )
        yield DataTable(id="kb-list", cursor_type="row")
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, name in (
            # Translators: a column: the article's key (KB-12).
            ("key", _("Key")),
            ("title", _("Title")),
            ("category", _("Category")),
            ("status", _("Status")),
        ):
            table.add_column(name, key=key)
        self.query_one("#kb-search").focus()
        self.find("")

    def on_screen_resume(self) -> None:
        self.find(self.query_one("#kb-search", Input).value)

    def on_key(self, event: Key) -> None:
        """Type-to-search from the list: the letter goes on into the search field (before
        any binding could read it as a command)."""
        if not event.is_printable or event.character is None:
            return
        if not isinstance(self.focused, DataTable):
            return
        event.stop()
        event.prevent_default()
        search = self.query_one("#kb-search", Input)
        search.focus()
        if event.character != "/":
            search.cursor_position = len(search.value)
            search.insert_text_at_cursor(event.character)

    @work(thread=True, exclusive=True, exit_on_error=False, group="kb-find")
    def find(self, text: str) -> None:
        from deskterm.desk.kb import list_articles, search_articles

        desk = self.desk
        if text.strip():
            hits = desk.read(search_articles, query=text, drafts=True, limit=100)
        else:
            hits = desk.read(list_articles, limit=200)
        self.post_message(self.Found(text, hits))

    @on(Found)
    def show(self, event: KnowledgeScreen.Found) -> None:
        if event.text != self.query_one("#kb-search", Input).value:
            return
        table = self.query_one(DataTable)
        table.clear()
        for hit in event.hits:
            table.add_row(
                Text(hit.key, style="bold"),
                literal(hit.title),
                literal(hit.category or "—"),
                Text(
                    article_status_label(hit.status),
                    style="" if hit.status == "published" else "yellow",
                ),
                key=str(hit.id),
            )
        self.refresh_bindings()  # read and edit dim while nothing is listed

    @on(Input.Changed, "#kb-search")
    def search_as_typed(self, event: Input.Changed) -> None:
        self.find(event.value)

    def highlighted(self) -> int | None:
        tables = self.query(DataTable)
        table = tables.first() if tables else None
        if table is None or not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return int(key) if key is not None else None

    @on(DataTable.RowSelected)
    def read(self, event: DataTable.RowSelected) -> None:
        # A click on a row (enter itself is the screen's "read").
        event.stop()
        if event.row_key.value is not None:
            self.app.push_screen(ArticleScreen(int(event.row_key.value)))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("read", "edit"):
            # Dim on the footer while nothing is listed.
            return self.highlighted() is not None or None
        return True

    def action_back(self) -> None:
        self.app.switch_mode("queue")

    def action_search(self) -> None:
        self.query_one("#kb-search").focus()

    def action_to_list(self) -> None:
        self.query_one(DataTable).focus()

    def action_read(self) -> None:
        article_id = self.highlighted()
        if article_id is not None:
            self.app.push_screen(ArticleScreen(article_id))

    def action_new(self) -> None:
        self.app.push_screen(ArticleForm(), self.saved)

    def action_edit(self) -> None:
        article_id = self.highlighted()
        if article_id is not None:
            self.load_for_edit(article_id)

    @work(thread=True, exclusive=True, exit_on_error=False, group="kb-edit")
    def load_for_edit(self, article_id: int) -> None:
        from deskterm.desk.kb import get_article

        article = self.desk.read(get_article, key=article_id)
        self.app.call_from_thread(self.app.push_screen, ArticleForm(article), self.saved)

    def saved(self, article: ArticlePublic | None) -> None:
        if article is not None:
            self.notify(
                _("{key} saved ({status}).").format(
                    key=article.key, status=article_status_label(article.status)
                ),
                title=_("Article"),
                markup=False,
            )
            self.find(self.query_one("#kb-search", Input).value)


# --------------------------------------------------------------------------- on a ticket


class TicketArticleModal(TicketModal):
    """Articles for a ticket: find one and link it ("solved with KB-12"), or, when none fits,
    flag the ticket "article needed" with what it should cover (``deskterm kb gaps``)."""

    TITLE_TEXT = N_("Knowledge base")

    @dataclass
    class Found(Message):
        text: str
        hits: list[ArticleHit]

    def fields(self) -> ComposeResult:
        yield label(_("Find an article · enter reads it, l there links it"))
        yield Input(value=plain(self.ticket.subject), id="kb-query", compact=True)
        yield OptionList(id="kb-hits")
        yield label(_("None fits? What should an article cover · ctrl+s flags it as needed"))
        yield Input(placeholder=_("e.g. Reset a VPN token"), id="topic", compact=True)
        yield FieldError("topic")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#kb-query").focus()
        self.find(plain(self.ticket.subject))

    @on(Input.Changed, "#kb-query")
    def search_as_typed(self, event: Input.Changed) -> None:
        event.stop()
        self.find(event.value)

    @on(Input.Submitted, "#kb-query")
    def to_hits(self, event: Input.Submitted) -> None:
        event.stop()
        hits = self.query_one("#kb-hits", OptionList)
        if hits.option_count and hits.highlighted is None:
            hits.highlighted = 0
        hits.focus()

    @work(thread=True, exclusive=True, exit_on_error=False, group="kb-find")
    def find(self, text: str) -> None:
        from deskterm.desk.kb import suggest_articles

        desk = self.desk
        self.post_message(self.Found(text, desk.read(suggest_articles, text=text, limit=8)))

    @on(Found)
    def show_hits(self, event: TicketArticleModal.Found) -> None:
        if event.text != self.query_one("#kb-query", Input).value:
            return
        hits = self.query_one("#kb-hits", OptionList)
        hits.clear_options()
        for hit in event.hits:
            prompt = Text.assemble((hit.key, "bold"), " ")
            prompt.append_text(literal(hit.title))
            hits.add_option(Option(prompt, id=str(hit.id)))

    @on(OptionList.OptionSelected, "#kb-hits")
    def read_hit(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is None:
            return
        article_id = int(event.option.id)

        def chosen(result: str | None) -> None:
            if result == "link":
                from deskterm.desk.kb import link_article

                self.saving = True
                self.query_one(".dialog").loading = True
                self.save(link_article, {**self.base(), "key": article_id})

        self.app.push_screen(ArticleScreen(article_id, can_link=True), chosen)

    def request(self) -> tuple[Callable[..., Any], dict[str, Any]]:
        from deskterm.desk.kb import flag_article_needed

        return flag_article_needed, {**self.base(), "topic": self.query_one("#topic", Input).value}
