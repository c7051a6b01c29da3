"""The queue: the analyst's home. One page of tickets from the database, most urgent first."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.reactive import var
from textual.widgets import Input, Static, Tab, Tabs
from textual.worker import Worker, WorkerState, get_current_worker

from deskterm.desk import clock
from deskterm.desk.views import COUNT_CAP
from deskterm.domain.enums import OPEN_STATUSES
from deskterm.i18n import N_, _, ngettext, pgettext
from deskterm.tui import benchmark
from deskterm.tui.base import DeskScreen
from deskterm.tui.format import (
    age,
    clip,
    fill,
    literal,
    local,
    priority_text,
    sla_text,
    status_label,
)
from deskterm.tui.messages import CallsChanged, DeskUpdated
from deskterm.tui.widgets.bar import DeskBar
from deskterm.tui.widgets.footer import KeyFooter
from deskterm.tui.widgets.queuetable import Column, Landing, QueueTable

if TYPE_CHECKING:
    from deskterm.desk.cti import CallPublic, MissedPage
    from deskterm.desk.saved_views import SavedViewPublic, ViewFilter
    from deskterm.desk.views import QueueKey, QueuePage, QueueRow

# The views in tab order with their keys; "all" is offered to supervisors only.
# Tab labels are short (an agent's six tabs with their counts fit 80 columns): a word or two.
VIEWS = (
    # Translators: a queue tab: the tickets assigned to me.
    ("mine", "1", N_("Mine")),
    ("groups", "2", N_("My groups")),
    ("unassigned", "3", N_("Unassigned")),
    # Translators: a queue tab: tickets waiting on the customer or a third party.
    ("waiting", "4", N_("Waiting")),
    ("callbacks", "5", N_("Callbacks")),
    ("all", "6", N_("All")),
    # Phone calls nobody answered (issue 18): calls, not tickets. Last, so that the keys
    # of the ticket views stay as they were; for an analyst it follows Callbacks.
    # Translators: a queue tab: missed phone calls.
    ("missed", "7", N_("Missed")),
)
_HOLDER_IMPLIED = ("mine", "unassigned")
#: Saved views' tabs follow the built-in ones (issue 21); the first three have these keys.
SAVED_KEYS = ("8", "9", "0")
#: A saved view's tab shows at most this much of its name, so that tabs stay short.
SAVED_LABEL_CELLS = 14
#: A saved view's tab and view are keyed ``saved-<id>`` (``saved_views.KEY_PREFIX``).
_SAVED = "saved-"
#: Seconds between a stale queue shown again and its new read.
RELOAD_AFTER_RESUME = 0.05
#: A page holds the rows the table shows, within what the desk serves in one page.
MIN_PAGE, MAX_PAGE = 5, 500
#: Lines around the table before the first layout: the bar, the tabs (two), the table's
#: header, the status line and the footer.
_CHROME = 6


def _column(key: str, label: str, width: int) -> Column:
    """A column at least as wide as its (translated) header, so no header is cut."""
    return Column(key, label, max(width, cell_len(label)))


def _status_cells(statuses: Iterable[str]) -> int:
    """Cells the widest short status word takes, at most 12 (the subject needs room)."""
    return min(12, max(cell_len(status_label(s, short=True)) for s in statuses))


def _clock_cells() -> int:
    """Cells the SLA cell's words take in the analyst's language ("pausiert"), at most 9;
    a running clock's "-1d23h" takes 6."""
    words = (pgettext("sla clock", w) for w in ("paused", "met", "late"))
    return min(9, max(6, *(cell_len(w) for w in words)))


def columns_for(width: int, view: str) -> list[Column]:
    """Column widths for a table ``width`` cells wide: the subject takes what is left.
    Headers are short words; a language whose header is wider than its column widens it."""
    if view == "missed":
        fixed = [_column("when", _("When"), 9), _column("number", _("Number"), 17)]
        tail = [
            # Translators: a column of missed calls: how often the caller rang ("3×").
            _column("rang", _("Rang"), 5),
            # Translators: a column of missed calls: whose phones rang.
            _column("whom", _("Rang for"), 12 if width >= 110 else 8),
        ]
        used = sum(c.width + 2 for c in fixed + tail) + 2 + 2
        return [*fixed, _column("caller", _("Caller"), max(10, width - used)), *tail]
    wide = width >= 110
    show_holder = view not in _HOLDER_IMPLIED
    contact = 20 if wide else 11
    holder = 12 if wide else 7
    fixed = [
        # Translators: a column: the ticket's reference (DT-000123); keep it short.
        _column("ref", _("Ref"), 9),
        # Translators: a narrow column: the priority (P1..P5); three letters at most.
        _column("priority", _("Pri"), 3),
        # As wide as the open statuses' short words in the analyst's language (English: 8).
        _column("status", _("Status"), max(9 if wide else 8, _status_cells(OPEN_STATUSES))),
        _column(
            "sla",
            _("Callback") if view == "callbacks" else _("SLA"),
            8 if view == "callbacks" else _clock_cells(),
        ),
    ]
    tail = [_column("contact", _("Contact"), contact)]
    if show_holder:
        # Translators: a column: the analyst the ticket is assigned to.
        tail.append(_column("assignee", _("Holder"), holder))
    # Translators: a narrow column: how old the ticket is ("3d").
    tail.append(_column("age", _("Age"), 4))
    # Each column has one cell of padding either side; two more for the scrollbar.
    used = sum(c.width + 2 for c in fixed + tail) + 2 + 2
    subject = max(12, width - used)
    return [*fixed, Column("subject", _("Subject"), subject), *tail]


class ViewTabs(Tabs):
    """The view tabs, their underline moved at once: its slide (0.3 s of frames) was drawn
    while the view's first page was being painted, and made the key feel slower."""

    def _highlight_active(self, animate: bool = True) -> None:
        super()._highlight_active(animate=False)

    def reveal_active(self) -> None:
        """After tabs were added: underline the active one and scroll it into view once the
        new tabs are laid out (activating a tab the same moment it is added found it at no
        place yet, so a new saved view stayed off the right edge at 80 columns)."""
        self.call_after_refresh(self._highlight_active)
        self.call_after_refresh(self._scroll_active_tab)


class ViewTab(Tab):
    """A view's tab. When its count changes its width, the underline follows the active
    tab's new width and place: Textual's Tabs moves it only when another tab becomes active
    or the whole bar is resized, so it stayed as wide as the label was before its count."""

    def on_resize(self) -> None:
        tabs = next((a for a in self.ancestors if isinstance(a, ViewTabs)), None)
        if tabs is not None:
            tabs._highlight_active()


class QueueScreen(DeskScreen[None]):
    """Queue views, filter as you type, pull next, pages of as many rows as fit."""

    BINDINGS = [
        Binding(
            "enter",
            "open",
            N_("Open"),
            tooltip=N_("Open the highlighted ticket"),
            priority=True,
            id="open",
        ),
        Binding(
            "p",
            "pull_next",
            N_("Pull next"),
            tooltip=N_("Take the most urgent unassigned ticket of your groups and open it"),
            id="pull_next",
        ),
        Binding(
            "slash", "filter", N_("Filter"), tooltip=N_("Filter this view as you type"), id="filter"
        ),
        Binding(
            "c",
            "call_back",
            N_("Call back"),
            tooltip=N_("Call the missed caller back: logged on their open ticket, or a new call"),
            id="call_back",
        ),
        Binding(
            "t",
            "take",
            N_("Take"),
            tooltip=N_("Assign the highlighted ticket to yourself"),
            id="take",
        ),
        Binding(
            "h",
            "handover",
            N_("Handover"),
            tooltip=N_("Hand many tickets to another analyst or group (supervisors)"),
            id="handover",
        ),
        Binding(
            "w",
            "away",
            N_("Away"),
            tooltip=N_(
                "Mark yourself away with a backup and hand them your open tickets (or back)"
            ),
            id="away",
            # Off the footer, which is full; in the key help, the palette and the README.
            show=False,
        ),
        Binding(
            "W",
            "away_someone",
            N_("Mark away"),
            tooltip=N_("Mark an analyst of your groups away with a backup (supervisors)"),
            id="away_someone",
            show=False,
        ),
        # Off the footer: the status line under the table says "] next page · [ previous".
        Binding("right_square_bracket", "next_page", N_("Next page"), show=False, id="next_page"),
        Binding(
            "left_square_bracket", "previous_page", N_("Prev page"), show=False, id="prev_page"
        ),
        Binding("escape", "clear_filter", N_("Clear filter"), show=False, id="clear_filter"),
        *[
            Binding(
                key,
                f"view('{view}')",
                label,
                tooltip=N_("Show this view (the tabs above the list)"),
                show=False,
                id=f"view_{view}",
            )
            for view, key, label in VIEWS
        ],
        Binding(
            "ctrl+s",
            "save_view",
            N_("Save view"),
            tooltip=N_("Save this view and its filter as a tab of its own"),
            show=False,
            id="save_view",
        ),
        Binding(
            "R",
            "rename_view",
            N_("Rename view"),
            tooltip=N_("Rename the saved view on screen"),
            show=False,
            id="rename_view",
        ),
        Binding(
            "X",
            "delete_view",
            N_("Delete view"),
            tooltip=N_("Delete the saved view on screen (asks first)"),
            show=False,
            id="delete_view",
        ),
        *[
            Binding(
                key,
                f"saved_view({n})",
                N_("Saved view"),
                tooltip=N_("Show this saved view (the tabs after the built-in ones)"),
                show=False,
                id=f"saved_view_{n + 1}",
            )
            for n, key in enumerate(SAVED_KEYS)
        ],
    ]

    @dataclass
    class PageLoaded(Message):
        view: str
        text: str
        start: QueueKey | None
        limit: int
        page: QueuePage
        counts: dict[str, int] | None
        #: The saved views' tabs, read with the counts (None: not read this time).
        saved: list[SavedViewPublic] | None = None

    @dataclass
    class MissedLoaded(Message):
        start: QueueKey | None
        limit: int
        page: MissedPage
        counts: dict[str, int] | None
        saved: list[SavedViewPublic] | None = None

    view: var[str] = var("mine", init=False)
    """The view on screen (a tab): a new one starts at its first page."""
    text: var[str] = var("", init=False, always_update=True)
    """What the filter holds, trimmed: each key typed in it starts again at the first page
    (even one that left the words as they were, as it always did)."""

    def __init__(self) -> None:
        super().__init__()
        #: Where each page of the current view starts: the last is the page on screen.
        self.starts: list[QueueKey | None] = [None]
        #: How many rows each page before the one on screen held (pages follow the window).
        self.sizes: list[int] = []
        self.page: QueuePage | None = None
        self.rows: dict[int, QueueRow] = {}
        self.stale = False
        #: Rows asked of the desk for the page on its way or on screen.
        self.limit = 0
        self._layout: tuple[int, str] | None = None
        #: The view, filter and start of the page on screen.
        self._shown: tuple[str, str, QueueKey | None] | None = None
        #: What was last painted, to tell a reload that changed nothing.
        self._painted: tuple[Hashable, ...] = ()
        #: Where the cursor goes on the page on its way (down past the last row: its first).
        self._landing: Landing = "keep"
        #: The time the rows on screen were drawn for (their SLA clocks and ages).
        self._now = clock.now()
        #: The tabs' counts are to be read with the next page.
        self._counts_owed = True
        #: The missed-calls view's rows (calls, keyed by the call's id) and how often each
        #: caller rang unanswered.
        self.calls: dict[int, CallPublic] = {}
        self.rang: dict[int, int] = {}
        #: The saved views this analyst sees, in tab order (read with the counts).
        self.saved: list[SavedViewPublic] = []
        #: The tabs' counts last read, for tabs added after them.
        self._counts: dict[str, int] = {}
        #: A view just saved: its tab becomes the active one once it is there.
        self._activate: str | None = None

    def compose(self) -> ComposeResult:
        yield DeskBar(_("Queue"), id="bar")
        views = self.allowed_views()
        yield ViewTabs(
            *[ViewTab(f"{key} {_(label)}", id=f"tab-{view}") for view, key, label in views],
            id="views",
        )
        yield Input(
            placeholder=_("Filter: ref, subject, caller or holder"), id="filter", compact=True
        )
        yield QueueTable(self.row_cells, id="queue")
        yield Static(id="queue-status")
        yield KeyFooter()

    def focus_table(self) -> None:
        table = self.query_one(QueueTable)
        if not table.has_focus:
            # Focusing the focused table again repaints it whole.
            table.focus()

    def allowed_views(self) -> list[tuple[str, str, str]]:
        actor = self.app.actor
        supervisor = actor is not None and actor.is_supervisor
        return [v for v in VIEWS if v[0] != "all" or supervisor]

    def on_mount(self) -> None:
        tabs = self.query_one(Tabs)
        tabs.can_focus = False
        self.query_one("#filter", Input).display = False
        self.focus_table()
        self.load()
        poll = self.app.poll_seconds
        if poll:
            # SLA clocks and callbacks come due without any event: repaint from the desk.
            self.set_interval(30, self.load)

    def on_screen_resume(self) -> None:
        if self.page is not None:
            # The page under the screen that closed is still drawn: it is back at once, and
            # `deskterm bench` times that; a stale one is read again after.
            self.mark_painted()
        if self.stale:
            self.stale = False
            # After the old page is on the terminal: a read started now shares the
            # interpreter with that paint and held escape back by 30-60 ms (`deskterm
            # bench`, a 1M desk).
            self.set_timer(RELOAD_AFTER_RESUME, self.load)

    @on(DeskUpdated)
    def reload_changed(self) -> None:
        """Someone changed a ticket: reload now if on screen, else when we come back."""
        if self.is_current:
            self.load()
        else:
            self.stale = True

    @on(CallsChanged)
    def calls_changed(self) -> None:
        """A call came, was answered or ended: a missed one counts in its tab at once."""
        if self.is_current:
            self.load()
        else:
            self.stale = True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        actor = self.app.actor
        if action == "call_back":
            return self.view == "missed"
        if action in ("take", "filter") and self.view == "missed":
            return False
        if action == "handover":
            return actor is not None and actor.is_supervisor
        if action == "view" and parameters and parameters[0] == "all":
            return actor is not None and actor.is_supervisor
        if action == "save_view":
            return self.view != "missed"
        if action in ("rename_view", "delete_view"):
            shown = self.saved_shown()
            return shown is not None and shown.can_change
        if action == "saved_view":
            return bool(parameters) and int(str(parameters[0])) < len(self.saved)
        if action == "next_page":
            return self.page is not None and self.page.next_after is not None
        if action == "previous_page":
            return len(self.starts) > 1
        return True

    # ------------------------------------------------------------------ loading

    def page_size(self) -> int:
        """The rows the table shows (before its first layout, what the window leaves it)."""
        rows = self.query_one(QueueTable).visible_rows
        if not rows:
            field = self.query_one("#filter", Input)
            rows = self.app.size.height - _CHROME - (1 if field.display else 0)
        return max(MIN_PAGE, min(MAX_PAGE, rows))

    def load(self, *, counts: bool = True) -> None:
        """Read the page on screen (or on its way) again; ``counts``: the tabs' counts too
        (a page turned within a view leaves them as they were)."""
        self.query_one(DeskBar).busy = True
        self.limit = self.page_size()
        # Counts asked for by a read that a newer one replaced are still owed.
        self._counts_owed = self._counts_owed or counts
        self.fetch(self.view, self.text, self.starts[-1], self.limit, self._counts_owed)

    @work(thread=True, exclusive=True, exit_on_error=False, group="queue")
    def fetch(
        self, view: str, text: str, start: QueueKey | None, limit: int, counted: bool
    ) -> None:
        from deskterm.desk.cti import count_missed, missed_page
        from deskterm.desk.pages import CountedPage, page_and_counts
        from deskterm.desk.saved_views import saved_view_page, saved_view_tabs
        from deskterm.desk.views import QueuePage, queue_counts
        from deskterm.domain.errors import NotFound

        saved: list[SavedViewPublic] | None = None

        def with_saved(session: Any, actor: Any, counts: dict[str, int] | None) -> None:
            # The saved views' tabs and counts, in the same transaction as the others'.
            nonlocal saved
            if counts is not None:
                saved, saved_counts = saved_view_tabs(session, actor)
                counts |= saved_counts

        if view == "missed":

            def missed(session: Any, actor: Any) -> tuple[MissedPage, dict[str, int] | None]:
                before = None if start is None or start.due is None else (start.due, start.id)
                page = missed_page(session, actor, limit=limit, before=before)
                counts = None
                if counted:
                    counts = {
                        **queue_counts(session, actor),
                        "missed": count_missed(session, actor),
                    }
                with_saved(session, actor, counts)
                return page, counts

            page, counts = self.desk.read(missed)
            if not get_current_worker().is_cancelled:
                self.post_message(self.MissedLoaded(start, limit, page, counts, saved))
            return

        def tickets(session: Any, actor: Any) -> Any:
            if view.startswith(_SAVED):
                try:
                    page = saved_view_page(
                        session,
                        actor,
                        view=int(view.removeprefix(_SAVED)),
                        after=start,
                        text=text,
                        limit=limit,
                    )
                    counts = queue_counts(session, actor) if counted else None
                except NotFound:
                    # Deleted meanwhile (by a supervisor, or in another window): the tabs
                    # read now no longer have it, and the queue goes back to the first.
                    page, counts = QueuePage(view=view, rows=[]), queue_counts(session, actor)
                read = CountedPage(page=page, counts=counts)
            else:
                read = page_and_counts(
                    session, actor, view=view, after=start, text=text, limit=limit, counted=counted
                )
            if read.counts is not None:
                read.counts["missed"] = count_missed(session, actor, cap=COUNT_CAP)
            with_saved(session, actor, read.counts)
            return read

        read = self.desk.read(tickets)
        if not get_current_worker().is_cancelled:
            self.post_message(
                self.PageLoaded(view, text, start, limit, read.page, read.counts, saved)
            )

    @on(MissedLoaded)
    def show_missed(self, event: MissedLoaded) -> None:
        from deskterm.desk.views import QueueKey, QueuePage

        asked = ("missed", self.text, event.start, event.limit)
        if asked != (self.view, self.text, self.starts[-1], self.limit):
            return  # a newer request is on its way
        self.query_one(DeskBar).busy = False
        after = event.page.next_before
        self.page = QueuePage(
            view="missed",
            rows=[],
            next_after=None if after is None else QueueKey(due=after[0], id=after[1]),
        )
        self.rows = {}
        self.calls = {call.id: call for call in event.page.calls}
        self.rang = event.page.rang
        self.fill_table(same_page=self._shown == asked[:3])
        self._shown = asked[:3]
        self.counts_loaded(event.counts, event.saved)
        self.refresh_bindings()

    @on(PageLoaded)
    def show_page(self, event: PageLoaded) -> None:
        asked = (event.view, event.text, event.start, event.limit)
        if asked != (self.view, self.text, self.starts[-1], self.limit):
            return  # a newer request is on its way
        self.query_one(DeskBar).busy = False
        self.page = event.page
        self.rows = {row.id: row for row in event.page.rows}
        self.calls = {}
        self.fill_table(same_page=self._shown == asked[:3])
        self._shown = asked[:3]
        self.counts_loaded(event.counts, event.saved)
        self.refresh_bindings()

    def counts_loaded(
        self, counts: dict[str, int] | None, saved: list[SavedViewPublic] | None
    ) -> None:
        if counts is None:
            return
        self._counts_owed = False
        self._counts = counts
        if saved is not None and [(v.key, v.name) for v in saved] != [
            (v.key, v.name) for v in self.saved
        ]:
            # Tabs added or taken away re-lay out the bar: only when the views changed.
            self.call_later(self.sync_saved, saved)
        elif saved is not None:
            self.saved = saved
        self.show_counts(counts)

    def mark_painted(self) -> None:
        """For `deskterm bench`: the page on screen is on the terminal with the next frame."""
        benchmark.mark(self, *self.painted_mark())

    def painted_mark(self) -> tuple[str, ...]:
        more = self.page is not None and self.page.next_after is not None
        return ("queue", self.view, str(len(self.rows)), "more" if more else "last")

    def show_counts(self, counts: dict[str, int]) -> None:
        tabs = self.query_one(ViewTabs)
        for view, key, label in self.allowed_views():
            count = counts.get(view)
            if view == "missed" and not count:
                # Missed calls are news only when there are some; without the 0, an agent's
                # six tabs fit 80 columns.
                count = None
            shown = "" if count is None else f" {count}" if count < COUNT_CAP else f" {COUNT_CAP}+"
            tab = tabs.query_one(f"#tab-{view}", Tab)
            text = f"{key} {_(label)}{shown}"
            # A relabelled tab re-lays out the whole screen; most page loads change no count,
            # and must not pay for that before the rows paint (`deskterm bench`: key to
            # painted page).
            if tab.label_text != text:
                tab.label = text
        for n, saved in enumerate(self.saved):
            saved_tab = next(tabs.query(f"#tab-{saved.key}").results(Tab), None)
            if saved_tab is None:
                continue  # on its way (sync_saved)
            saved_label = self.saved_label(n, saved, counts.get(saved.key))
            if saved_tab.label_text != saved_label.plain:
                saved_tab.label = saved_label

    # ------------------------------------------------------------------ saved views

    @staticmethod
    def saved_label(n: int, saved: SavedViewPublic, count: int | None = None) -> Text:
        """``8 P1-P2 breac… 12``: its key (the first three), its name cut short, its count.
        The name is data: a ``[`` in it is a bracket."""
        label = Text(f"{SAVED_KEYS[n]} " if n < len(SAVED_KEYS) else "")
        label.append_text(literal(clip(saved.name, SAVED_LABEL_CELLS)))
        if count is not None:
            label.append(f" {count}" if count < COUNT_CAP else f" {COUNT_CAP}+")
        return label

    async def sync_saved(self, saved: list[SavedViewPublic]) -> None:
        """Show ``saved`` as the tabs after the built-in ones, in its order."""
        tabs = self.query_one(ViewTabs)
        self.saved = saved
        keys = {v.key for v in saved}
        for tab in list(tabs.query(ViewTab)):
            if (tab.id or "").startswith(f"tab-{_SAVED}"):
                await tabs.remove_tab(tab)
        for n, view in enumerate(saved):
            await tabs.add_tab(ViewTab(self.saved_label(n, view), id=f"tab-{view.key}"))
        self.show_counts(self._counts)
        wanted, self._activate = self._activate, None
        if wanted in keys:
            tabs.active = f"tab-{wanted}"
        elif self.view.startswith(_SAVED) and self.view not in keys:
            tabs.active = "tab-mine"
            self.view = "mine"
        elif self.view.startswith(_SAVED):
            tabs.active = f"tab-{self.view}"
        tabs.reveal_active()
        self.refresh_bindings()

    def saved_shown(self) -> SavedViewPublic | None:
        return next((v for v in self.saved if v.key == self.view), None)

    def action_saved_view(self, n: int) -> None:
        if n < len(self.saved):
            self.action_view(self.saved[n].key)

    def view_filter(self) -> ViewFilter:
        """The view on screen and what the filter holds, as a saved view's filter."""
        from deskterm.desk.saved_views import make_filter

        shown = self.saved_shown()
        if shown is not None:
            return shown.filter.model_copy(update={"text": self.text or shown.filter.text})
        by_view: dict[str, dict[str, Any]] = {
            "mine": {"assignee": "me"},
            "groups": {"group": "mine"},
            "unassigned": {"group": "mine", "assignee": "nobody"},
            "waiting": {"group": "mine", "statuses": ["waiting_customer"]},
            "callbacks": {"callbacks_due": True},
        }
        return make_filter(text=self.text or None, **by_view.get(self.view, {}))

    def action_save_view(self) -> None:
        from deskterm.desk.saved_views import describe
        from deskterm.tui.modals.views import SaveViewModal

        if self.view == "missed":
            return
        actor = self.app.actor
        groups: list[str] = []
        if actor is not None and actor.is_supervisor and actor.seats:
            groups = sorted(seat.name for seat in actor.seats)
        view_filter = self.view_filter()
        self.app.push_screen(
            SaveViewModal(view_filter, summary=describe(view_filter), groups=groups),
            self.view_saved,
        )

    def view_saved(self, result: SavedViewPublic | None) -> None:
        if result is None:
            return
        self.notify(_("Saved: the view has a tab of its own."), title=result.name, markup=False)
        self._activate = result.key
        if self.text:
            # The filter is in the view now: the tab shows it without the typing.
            self.query_one("#filter", Input).value = ""
            self.action_clear_filter()
        self.load()

    def action_rename_view(self) -> None:
        from deskterm.tui.modals.views import RenameViewModal

        shown = self.saved_shown()
        if shown is not None and shown.can_change:
            self.app.push_screen(RenameViewModal(shown), self.view_changed)

    def action_delete_view(self) -> None:
        from deskterm.tui.modals.views import DeleteViewModal

        shown = self.saved_shown()
        if shown is not None and shown.can_change:
            self.app.push_screen(DeleteViewModal(shown), self.view_changed)

    def view_changed(self, result: SavedViewPublic | None) -> None:
        if result is not None:
            self.load()

    def fill_table(self, *, same_page: bool = False) -> None:
        """Show ``self.rows``: rows that look as before are not rendered again, and the cursor
        stays on its ticket (on a page turned by a key: where the key sends it)."""
        table = self.query_one(QueueTable)
        width = table.content_size.width or self.size.width
        if (width, self.view) != self._layout:
            self._layout = (width, self.view)
            table.set_columns(columns_for(width, self.view))
        self._now = clock.now()
        looks: list[tuple[int, Hashable]]
        if self.view == "missed":
            looks = [(call.id, self.call_look(call)) for call in self.calls.values()]
        else:
            looks = [(row.id, self.look(row)) for row in self.rows.values()]
        ids = [row_id for row_id, _look in looks]
        landing, self._landing = self._landing, "keep"
        kept = table.highlighted_id
        if landing == "first":
            index = 0
        elif landing == "last":
            index = len(looks) - 1
        elif kept in ids:
            index = ids.index(kept)
        else:
            index = table.cursor_row
        table.show_rows(looks, cursor=index)
        status = self.status_text() if ids else self.empty_text()
        self.query_one("#queue-status", Static).update(status, layout=False)
        painted = (self.view, self.text, *looks)
        if not same_page or painted != self._painted:
            # A reload that changed nothing paints nothing, and says nothing to the bench.
            self._painted = painted
            self.mark_painted()

    def look(self, row: QueueRow) -> Hashable:
        """Everything a row's cells show: the row is rendered again only when it changes."""
        return (
            row.id,
            row.version,
            row.ref,
            row.priority,
            row.status,
            row.subject,
            row.contact,
            row.assignee,
            *self.sla_look(row),
            age(row.created_at, self._now),
        )

    def call_look(self, call: CallPublic) -> Hashable:
        return (
            call.id,
            call.contact,
            call.caller_number,
            local(call.started_at, self._now),
            self.rang.get(call.id, 1),
            tuple(call.ringing),
        )

    def call_cells(self, call: CallPublic, widths: dict[str, int]) -> list[Text]:
        """A missed call's cells: when, the number, who (or "unknown"), how often they rang
        unanswered, whom it rang. The number and the name are data (``literal``)."""
        times = self.rang.get(call.id, 1)
        return [
            Text(local(call.started_at, self._now), end=""),
            literal(clip(call.caller_number, widths["number"])),
            literal(clip(call.contact, widths["caller"]))
            if call.contact
            else Text(_("unknown"), style="italic", end=""),
            Text(f"{times}×", style="bold" if times > 1 else "", end=""),
            literal(clip(", ".join(call.ringing) or "—", widths["whom"])),
        ]

    def sla_look(self, row: QueueRow) -> tuple[str, str]:
        cell = self.sla_cell(row)
        return cell.plain, str(cell.style)

    def sla_cell(self, row: QueueRow) -> Text:
        if self.view == "callbacks":
            return sla_text(row.callback_due_at, self._now)
        return sla_text(
            row.resolve_due_at,
            self._now,
            warn_at=row.resolve_warn_at,
            paused=row.sla_paused_at is not None,
        )

    def row_cells(self, ticket_id: int) -> list[Text]:
        """The cells of a row, cut to the table's columns (the table asks once per look)."""
        widths = {c.key: c.width for c in self.query_one(QueueTable).columns}
        if self.view == "missed":
            return self.call_cells(self.calls[ticket_id], widths)
        return self.cells(self.rows[ticket_id], widths, self._now)

    def cells(self, row: QueueRow, widths: dict[str, int], now: Any) -> list[Text]:
        cells: list[Text] = [
            Text(row.ref, end=""),
            priority_text(row.priority),
            Text(status_label(row.status, short=True), end=""),
            self.sla_cell(row),
            literal(clip(row.subject, widths["subject"])),
            literal(clip(row.contact or "—", widths["contact"])),
        ]
        if "assignee" in widths:
            cells.append(literal(clip(row.assignee or "—", widths["assignee"])))
        cells.append(Text(age(row.created_at, now), style="dim", end=""))
        return cells

    def empty_text(self) -> Text:
        if self.text:
            return fill(
                _("Nothing in this view matches “{words}”. escape clears the filter."),
                words=literal(self.text),
            )
        if self.view in ("mine", "groups", "unassigned"):
            # One line at 80 columns: the keys a newcomer needs first, the search among them.
            return Text(
                _("Nothing waiting. p pull next · ctrl+n new call · ctrl+f find any ticket")
            )
        if self.view == "missed":
            return Text(_("No missed calls wait for a call back."))
        return Text(_("Nothing here right now."))

    @on(QueueTable.RowHighlighted, "#queue")
    def describe_highlighted(self) -> None:
        if self.rows or self.calls:
            self.query_one("#queue-status", Static).update(self.status_text(), layout=False)

    def status_text(self) -> Text:
        first = sum(self.sizes) + 1
        last = first + len(self.calls if self.view == "missed" else self.rows) - 1
        more = self.page is not None and self.page.next_after is not None
        text = Text(no_wrap=True, overflow="ellipsis")
        # The highlighted row in full: subjects are clipped in the table, reasons not shown.
        row = self.rows.get(self.highlighted() or 0)
        if row is not None:
            text.append(f"{row.ref} ", style="bold")
            if row.callback_due_at is not None:
                when = local(row.callback_due_at, clock.now())
                text.append(_("call back {time}").format(time=when) + " ")
                text.append_text(literal(f"({row.callback_by}): {row.callback_reason}"))
            else:
                text.append_text(literal(row.subject))
            text.append(" · ")
        call = self.calls.get(self.highlighted() or 0) if self.view == "missed" else None
        if call is not None:
            text.append_text(literal(call.contact or call.caller_number, style="bold"))
            text.append(" " + _("rang {time}").format(time=local(call.started_at, clock.now())))
            text.append(" · ")
        text.append(f"{first}–{last}")
        if more:
            text.append(" · " + _("] next page"))
        if len(self.starts) > 1:
            text.append(" · " + _("[ previous"))
        if self.text:
            text.append(" · " + _("filter:") + " ")
            text.append(literal(self.text))
        return text

    @on(QueueTable.Resized, "#queue")
    def follow_size(self, event: QueueTable.Resized) -> None:
        if not event.rows or not self.limit:
            return
        if self.page_size() != self.limit:
            # As many rows as now fit, from the same first row (at start: the first page
            # was asked before the table had a size, if the guess was wrong).
            self.load(counts=False)
        elif self.rows and (event.width, self.view) != self._layout:
            self.fill_table(same_page=True)

    # ------------------------------------------------------------------ views and pages

    def action_view(self, view: str) -> None:
        if view == self.view:
            return
        self.query_one(Tabs).active = f"tab-{view}"

    @on(Tabs.TabActivated)
    def switch_view(self, event: Tabs.TabActivated) -> None:
        event.stop()
        self.view = (event.tab.id or "tab-mine").removeprefix("tab-")

    def watch_view(self, old: str, new: str) -> None:
        self.starts, self.sizes = [None], []
        if "missed" in (old, new):
            # Calls and tickets are keyed by ids of their own: a ticket's id kept as the
            # cursor would land on whichever call has the same number.
            self._landing = "first"
        self.load()
        self.focus_table()

    def action_next_page(self, landing: Landing = "keep") -> None:
        # Only from the page on screen: a second key before it came would skip none.
        on_screen = self._shown == (self.view, self.text, self.starts[-1])
        if on_screen and self.page is not None and self.page.next_after is not None:
            self.sizes.append(len(self.rows))
            self.starts.append(self.page.next_after)
            self._landing = landing
            self.load(counts=False)

    def action_previous_page(self, landing: Landing = "keep") -> None:
        if len(self.starts) > 1:
            self.starts.pop()
            self.sizes.pop()
            self._landing = landing
            self.load(counts=False)

    @on(QueueTable.PageTurned, "#queue")
    def turn_page(self, event: QueueTable.PageTurned) -> None:
        table = event.table
        if event.forward:
            if self.page is not None and self.page.next_after is not None:
                self.action_next_page(event.landing)
            elif event.landing == "keep":
                table.move_cursor(row=table.row_count - 1)  # page down on the last page
        elif len(self.starts) > 1:
            self.action_previous_page(event.landing)
        elif event.landing == "keep":
            table.move_cursor(row=0)

    # ------------------------------------------------------------------ filter

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        field.focus()

    def action_clear_filter(self) -> None:
        field = self.query_one("#filter", Input)
        if field.value:
            field.value = ""
        field.display = False
        self.focus_table()

    @on(Input.Changed, "#filter")
    def filter_as_typed(self, event: Input.Changed) -> None:
        self.text = event.value.strip()

    def watch_text(self) -> None:
        self.starts, self.sizes = [None], []
        self.load()

    @on(Input.Submitted, "#filter")
    def back_to_table(self) -> None:
        self.focus_table()

    # ------------------------------------------------------------------ acting

    def highlighted(self) -> int | None:
        return self.query_one(QueueTable).highlighted_id

    @on(QueueTable.RowSelected, "#queue")
    def open_selected(self, event: QueueTable.RowSelected) -> None:
        event.stop()
        if self.view == "missed":
            self.action_call_back()
        else:
            self.app.open_ticket(event.id)

    def action_open(self) -> None:
        if self.view == "missed":
            self.action_call_back()
            return
        ticket_id = self.highlighted()
        if ticket_id is not None:
            self.app.open_ticket(ticket_id)

    def action_call_back(self) -> None:
        call_id = self.highlighted()
        if self.view != "missed" or call_id not in self.calls:
            return
        self.query_one(DeskBar).busy = True
        self.call_back(call_id)

    @work(thread=True, exclusive=True, exit_on_error=False, group="call-back")
    def call_back(self, call_id: int) -> None:
        from deskterm.desk.cti import call_back_caller

        result = self.desk.write(call_back_caller, call=call_id)
        self.app.call_from_thread(self.called_back, result)

    def called_back(self, result: Any) -> None:
        """Logged on the caller's open ticket; or, with none open, a new call for them."""
        from deskterm.desk.cti import CallPop

        self.query_one(DeskBar).busy = False
        call = result.call
        who = call.contact or call.caller_number
        if result.ticket_ref is not None:
            self.notify(
                _("Call back to {who} logged on {ref}.").format(who=who, ref=result.ticket_ref),
                title=_("Called back"),
            )
        else:
            self.notify(
                _("{who} has no open ticket: a new call for them.").format(who=who),
                title=_("Called back"),
            )
            self.app.take_call(CallPop(call=call), attach=False)
        self.load()

    def action_pull_next(self) -> None:
        self.query_one(DeskBar).busy = True
        self.claim()

    @work(thread=True, exclusive=True, exit_on_error=False, group="claim")
    def claim(self) -> None:
        from deskterm.desk.queue import claim_next

        # The list row is enough: the ticket screen reads the card itself.
        result = self.desk.write(claim_next, card=False)
        self.app.call_from_thread(self.claimed, result)

    def claimed(self, result: Any) -> None:
        self.query_one(DeskBar).busy = False
        if result.ticket is None:
            if result.groups:
                said = _("Nothing waiting in {groups}.").format(groups=", ".join(result.groups))
            else:
                said = _("Nothing waiting in your groups (you are in none).")
            self.notify(said, title=_("Pull next"), markup=False)
            return
        self.notify(_("{ref} is yours now.").format(ref=result.ticket.ref), title=_("Pull next"))
        self.app.open_ticket(result.ticket.id)
        self.stale = True

    def action_take(self) -> None:
        ticket_id = self.highlighted()
        if ticket_id is None:
            return
        row = self.rows[ticket_id]
        self.query_one(DeskBar).busy = True
        self.take(ticket_id, row.version)

    @work(thread=True, exclusive=True, exit_on_error=False, group="take")
    def take(self, ticket_id: int, version: int) -> None:
        from deskterm.desk.tickets import assign

        result = self.desk.write(assign, ref=ticket_id, to="me", expected_version=version)
        self.app.call_from_thread(
            self.notify, _("{ref} is yours now.").format(ref=result.ref), title=_("Taken")
        )
        self.app.call_from_thread(self.load)

    def action_handover(self) -> None:
        from deskterm.tui.screens.handover import HandoverScreen

        self.app.push_screen(HandoverScreen())

    def action_away(self) -> None:
        from deskterm.tui.modals.away import AwayModal

        self.app.push_screen(AwayModal(), self.away_saved)

    def action_away_someone(self) -> None:
        from deskterm.tui.modals.away import AwayModal

        self.app.push_screen(AwayModal(pick=True), self.away_saved)

    def away_saved(self, result: Any) -> None:
        from deskterm.desk.away import AwayResult

        if result is None:
            return
        mine = self.desk.login
        me = (result.analyst if isinstance(result, AwayResult) else result).login == mine
        if isinstance(result, AwayResult):
            moved = len(result.handed_over)
            backup = result.analyst.backup or _("nobody")
            if me and moved:
                said = ngettext(
                    "You are away; {backup} covers for you and now has your {n} open ticket.",
                    "You are away; {backup} covers for you and now has your {n} open tickets.",
                    moved,
                )
            elif me:
                said = _("You are away; {backup} covers for you.")
            elif moved:
                said = ngettext(
                    "{login} is away; {backup} covers and now has their {n} open ticket.",
                    "{login} is away; {backup} covers and now has their {n} open tickets.",
                    moved,
                )
            else:
                said = _("{login} is away; {backup} covers.")
            said = said.format(login=result.analyst.login, backup=backup, n=moved)
            self.app.notify(said, title=_("Away"), markup=False)
        elif me:
            self.app.notify(
                _("Welcome back: tickets meant for you come to you again."), title=_("Back")
            )
        else:
            self.app.notify(
                _("{login} is back at the desk.").format(login=result.login),
                title=_("Back"),
                markup=False,
            )
        self.load()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Failures go on to the app, which tells the analyst; here the busy sign goes off.
        if event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            self.query_one(DeskBar).busy = False
