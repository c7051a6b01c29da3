"""A new call: find the caller, see their open tickets, write one ticket per problem.

The call is timed from the moment the screen opens (or from when the kept draft started);
everything typed is kept in a draft on disk as it is typed. The screen lives as long as the
app (it is the "intake" mode's): each new call starts with the cursor in Caller, whatever
field the last call ended in.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input, OptionList, Select, Static, Tab, Tabs, TextArea
from textual.widgets.option_list import Option
from textual.widgets.select import InvalidSelectValueError
from textual.worker import Worker, WorkerState, get_current_worker

from deskterm import defaults
from deskterm.desk import clock
from deskterm.domain.enums import Impact
from deskterm.domain.errors import DeskError, InvalidInput
from deskterm.i18n import N_, _, ngettext
from deskterm.tui import benchmark
from deskterm.tui.base import DeskScreen
from deskterm.tui.drafts import CallDraft, DraftGone, DraftStore, DraftTaken, Kept, ProblemDraft
from deskterm.tui.format import (
    clock_face,
    fill,
    fit_labels,
    level_label,
    literal,
    priority_text,
    status_label,
)
from deskterm.tui.modals.base import FieldError
from deskterm.tui.widgets.bar import DeskBar
from deskterm.tui.widgets.footer import KeyFooter
from deskterm.tui.widgets.notearea import NoteArea

if TYPE_CHECKING:
    from textual.app import App

    from deskterm.desk.cti import CallPop
    from deskterm.desk.kb import ArticleHit
    from deskterm.desk.schemas import CategoryPublic, ContactPublic, TicketPublic

NARROW = 100


def _levels() -> list[tuple[str, str]]:
    """Impact and urgency choices: the analyst's words, the desk's values."""
    return [(level_label(level.value), level.value) for level in Impact]


#: Every call screen alive (one per app): ctrl+q asks them whether a call is half written.
_CALL_SCREENS: weakref.WeakSet[IntakeScreen] = weakref.WeakSet()

#: One key each for urgency and impact, wherever the cursor is: f5 f6 f7 for urgency high,
#: medium, low; shift with them for impact. Function keys arrive the same through tmux, SSH
#: and the browser; alt+digits do not (Textual reads ESC 1 as "¡", as macOS types it).
LEVEL_KEYS = {"urgency": "", "impact": "shift+"}
#: Each level key's description and tooltip (whole phrases: each language words them).
LEVEL_TEXTS = {
    ("urgency", "high"): (
        N_("Urgency high"),
        N_("Set this problem's urgency to high; the priority follows"),
    ),
    ("urgency", "medium"): (
        N_("Urgency medium"),
        N_("Set this problem's urgency to medium; the priority follows"),
    ),
    ("urgency", "low"): (
        N_("Urgency low"),
        N_("Set this problem's urgency to low; the priority follows"),
    ),
    ("impact", "high"): (
        N_("Impact high"),
        N_("Set this problem's impact to high; the priority follows"),
    ),
    ("impact", "medium"): (
        N_("Impact medium"),
        N_("Set this problem's impact to medium; the priority follows"),
    ),
    ("impact", "low"): (
        N_("Impact low"),
        N_("Set this problem's impact to low; the priority follows"),
    ),
}


def _level_keys() -> list[Binding]:
    keys = []
    for field, modifier in LEVEL_KEYS.items():
        for number, level in enumerate(("high", "medium", "low"), start=5):
            keys.append(
                Binding(
                    f"{modifier}f{number}",
                    f"set_level({field!r}, {level!r})",
                    LEVEL_TEXTS[field, level][0],
                    key_display=f"{'⇧' if modifier else ''}f{number}",
                    tooltip=LEVEL_TEXTS[field, level][1],
                    priority=True,
                    # The footer has room for one: the caller who says "it's urgent".
                    show=(field, level) == ("urgency", "high"),
                    id=f"{field}_{level}",
                )
            )
    return keys


class CallElsewhere(Static):
    """Beside the form: the call another session of this analyst has open (and the key that
    takes it over), or that this one's call was taken over from here."""

    DEFAULT_CSS = """
    CallElsewhere {
        display: none;
        height: auto;
        padding: 0 1;
        background: $boost;
        color: $text-warning;
    }
    CallElsewhere.-shown {
        display: block;
    }
    """


@dataclass
class CallerLoaded(Message):
    contact: ContactPublic
    open_tickets: list[TicketPublic]
    #: The analyst picked this caller just now (not a draft coming back).
    chosen: bool = False


@dataclass
class ArticlesSuggested(Message):
    text: str
    hits: list[ArticleHit]


@dataclass
class MatchesFound(Message):
    text: str
    contacts: list[ContactPublic]


class IntakeScreen(DeskScreen[None]):
    # In the order a newcomer needs them: the footer shows as many as fit, whole, from the
    # first (at 80 columns: save, urgency, another problem, existing); the key help (? or
    # f1) lists every one.
    BINDINGS = [
        Binding(
            "ctrl+s",
            "save",
            N_("Save"),
            tooltip=N_("Save the call: one ticket per problem"),
            priority=True,
            id="save",
        ),
        *_level_keys(),
        Binding(
            "ctrl+t",
            "add_problem",
            N_("Another problem"),
            tooltip=N_("The caller has another problem: a new tab, a ticket of its own"),
            priority=True,
            id="add_problem",
        ),
        Binding(
            "ctrl+g",
            "existing",
            N_("Existing"),
            tooltip=N_("Add this call to one of the caller's open tickets"),
            priority=True,
            id="existing",
        ),
        Binding(
            "escape",
            "leave",
            N_("Queue"),
            tooltip=N_("Back to the queue; the call is kept"),
            id="leave",
        ),
        # Shown where there is room (120 columns); at 80 the key help has them.
        Binding("ctrl+o", "new_contact", N_("New caller"), priority=True, id="new_contact"),
        Binding(
            "ctrl+b",
            "discard",
            N_("Bin call"),
            tooltip=N_("Throw this call away (asks twice)"),
            priority=True,
            id="discard",
        ),
        Binding("ctrl+l", "lookup", N_("Find caller"), priority=True, show=False, id="lookup"),
        Binding(
            "down",
            "browse_matches",
            N_("Other matches"),
            tooltip=N_("From Caller: into the callers found, to take another than the best"),
            show=False,
            id="browse_matches",
        ),
        Binding(
            "f3",
            "read_article",
            N_("Read article"),
            tooltip=N_("Read the best-matching article; l there links it to this problem's ticket"),
            priority=True,
            show=False,
            id="read_article",
        ),
        Binding(
            "ctrl+r",
            "remove_problem",
            N_("Drop problem"),
            priority=True,
            show=False,
            id="remove_problem",
        ),
        Binding(
            "f8",
            "take_over",
            N_("Take over"),
            tooltip=N_("Take over here the unsaved call another session of yours has open"),
            priority=True,
            show=False,
            id="take_over",
        ),
        # Here ctrl+n (the app's "New call") is this very screen: off its footer, which
        # needs the room. Textual runs the app's binding first, so the key does as anywhere.
        Binding("ctrl+n", "app.new_call", N_("New call"), priority=True, show=False, id="new_call"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.draft = CallDraft(started_at=clock.now().isoformat())
        self.current = 0
        self.contact: ContactPublic | None = None
        self.open_tickets: list[TicketPublic] = []
        self.categories: list[CategoryPublic] = []
        self.saving = False
        self.discard_armed = False
        self._filling = False
        self._draft_timer: Timer | None = None
        #: Problem index -> the article to link to that problem's ticket when it is saved.
        self.kb_links: dict[int, int] = {}
        self.kb_hits: list[ArticleHit] = []
        self._kb_timer: Timer | None = None
        #: What the matches shown were found for, and whether enter waits for the next ones.
        self.matches_for: str | None = None
        self.take_when_found = False
        #: The next resume comes from another mode (a new call, or one taken up again), not
        #: from a dialog of this screen closing.
        self._entering = True
        #: Shown at least once: built ahead of the first ctrl+n (see DeskApp.build_mode), a
        #: call screen nobody opened this session has no call under way to ask about.
        self.shown = False
        #: A call left by a session that ended, in the form ahead of the first ctrl+n: taken
        #: up (made this session's) when the screen is shown.
        self._left: Kept | None = None
        #: The call another running session of this analyst has open, told beside the form.
        self.elsewhere: Kept | None = None
        #: Why this session's call is no longer its own (taken over by another session).
        self.lost: str | None = None
        _CALL_SCREENS.add(self)

    @property
    def drafts(self) -> DraftStore:
        """Where the call under way is kept: the app opens it with the desk, before any
        call screen is built."""
        drafts = self.app.drafts
        assert drafts is not None
        return drafts

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield DeskBar(_("New call"), id="bar")
        yield CallElsewhere(id="call-elsewhere", markup=False)
        with Horizontal(id="intake-body"):
            with Vertical(id="caller"):
                yield Static(_("Caller · ⏎ takes the first, ↓ another"), classes="section")
                yield Input(
                    placeholder=_("Name, phone, email or organization"),
                    id="lookup",
                    compact=True,
                )
                yield OptionList(id="matches", classes="-empty")
                yield Static(id="caller-card")
                yield Static(_("Open tickets · ctrl+g ⏎ adds the call"), classes="section")
                # Reached by ctrl+g, or by tab only when it holds a ticket: tab from Caller
                # with nobody picked goes on to the problem, not into an empty list.
                open_list = OptionList(id="open-tickets")
                open_list.can_focus = False
                yield open_list
                # Hidden until the problem's words match an article.
                kb_title = Static(
                    _("Articles · f3 reads, l links"), id="kb-title", classes="section"
                )
                kb_list = OptionList(id="kb-suggestions")
                kb_title.display = kb_list.display = False
                yield kb_title
                yield kb_list
            with Vertical(id="problem"):
                yield Tabs(Tab(_("Problem {n}").format(n=1), id="p-0"), id="problems")
                yield Input(
                    placeholder=_("Subject: the problem in a few words"),
                    id="subject",
                    compact=True,
                )
                yield FieldError("subject")
                with Horizontal(classes="row"):
                    yield Static(_("Category"), classes="row-label")
                    yield Select([], id="category", prompt=_("(none)"), compact=True)
                with Horizontal(classes="row"):
                    yield Static(_("Asset"), classes="row-label")
                    yield Select([], id="asset", prompt=_("(none)"), compact=True)
                with Horizontal(classes="row"):
                    yield Static(_("Impact"), classes="row-label")
                    yield Select(
                        _levels(), id="impact", value="medium", allow_blank=False, compact=True
                    )
                    yield Static("⇧f5 f6 f7", classes="level-keys")
                with Horizontal(classes="row"):
                    yield Static(_("Urgency"), classes="row-label")
                    yield Select(
                        _levels(), id="urgency", value="medium", allow_blank=False, compact=True
                    )
                    yield Static("f5 f6 f7", classes="level-keys")
                yield Static(id="priority")
                yield FieldError("description")
                yield NoteArea(
                    id="description", placeholder=_("What the caller says, what was tried")
                )
        yield KeyFooter()

    def on_mount(self) -> None:
        self.set_class(self.size.width < NARROW, "-narrow")
        # "Category", "Urgency": 9 cells in English (app.tcss), wider where a language needs.
        fit_labels(self.query(".row-label"), 9)
        self.query_one("#problems", Tabs).can_focus = False
        kept = self.drafts.find()
        if kept is not None and not kept.alive:
            # Shown ahead; it becomes this session's when the screen is (on_screen_resume).
            self.draft = kept.draft
            self._left = None if kept.mine else kept
        self.fill_form()
        if self.draft.contact_id is not None:
            self.load_caller(self.draft.contact_id)
        self.load_categories()
        self.set_interval(1, self.tick)
        self.tick()
        self.focus_start()

    def on_resize(self) -> None:
        self.set_class(self.size.width < NARROW, "-narrow")

    def start_field(self) -> str:
        """Where a call starts typing: Caller, unless the caller is known already (a kept
        draft, or another problem from a call just saved)."""
        return "#subject" if self.draft.contact_id is not None else "#lookup"

    def focus_start(self) -> None:
        self.set_focus(self.query_one(self.start_field()), scroll_visible=False)

    def on_screen_suspend(self) -> None:
        if self.app.current_mode == "intake":
            return  # a dialog of the call opened on top: it comes back to the same field
        # Left for another area. Textual gives a screen back its last focused widget when it
        # is resumed, so the next call would begin in Subject or Urgency; put the cursor
        # where a call starts now, so the first key after ctrl+n already lands there.
        self._entering = True
        self.focus_start()
        # Whatever area it went to (f2, f4, another problem of a saved call), the draft on
        # disk is the call as it stands.
        self.read_form()
        self.keep_now()

    async def on_screen_resume(self) -> None:
        if not self._entering:
            return
        self._entering = False
        self.shown = True
        await self.take_up()
        self.focus_start()
        self.tick()
        benchmark.mark(self, "intake")

    async def take_up(self) -> None:
        """The call this screen shows now: its own; another problem from a call just saved;
        a call left by a session that ended (taken up without asking); else a fresh one,
        told beside the form of a call another running session has open."""
        self.elsewhere = None
        pop, self.app.call_to_take = self.app.call_to_take, None
        if pop is not None:
            # The phone system's call (f9, or answered while idle): it is this screen's call.
            await self.take_phone_call(pop, attach=self.app.call_attach)
            self.show_elsewhere()
            return
        if self._left is not None:
            left, self._left = self._left, None
            try:
                self.drafts.adopt(left)
                self.warn_if_interrupted(left)
            except (DraftGone, OSError):
                # Another session took it up first: it is theirs, this one starts clean.
                await self.take_draft(CallDraft(started_at=clock.now().isoformat()))
        if self.draft.is_empty() and self.lost is None:
            kept = self.drafts.find()
            if kept is not None and kept.alive:
                self.elsewhere = kept
            elif kept is not None:
                try:
                    if not kept.mine:
                        self.drafts.adopt(kept)
                        self.warn_if_interrupted(kept)
                    # Another problem from a saved call, or a call left by a session that ended.
                    await self.take_draft(kept.draft)
                except (DraftGone, OSError):
                    pass
            if self.draft.is_empty():
                # A fresh call: the clock starts now, not when the screen was first built.
                self.draft.started_at = clock.now().isoformat()
        self.show_elsewhere()

    async def take_phone_call(self, pop: CallPop, *, attach: bool = True) -> None:
        """The call that popped up becomes this screen's call: on its caller, or with its
        number in Caller for a caller the desk does not know (ctrl+o adds them), timed from
        the PBX's answer (or now, taken while it rings; the answer moves the clock back)."""
        call = pop.call
        self.read_form()
        if not self.draft.is_empty() and self.draft.phone_call != call.id:
            # An empty form or another problem nobody wrote yet: nothing is lost.
            self.drafts.discard()
        started = (call.answered_at if attach else None) or clock.now()
        draft = CallDraft(
            started_at=started.isoformat(),
            contact_id=call.contact_id,
            contact_name=call.contact,
            phone_call=call.id if attach else None,
            phone_number=call.caller_number,
        )
        self.lost = self.elsewhere = None
        self.contact = None
        self.open_tickets = []
        await self.take_draft(draft)
        lookup = self.query_one("#lookup", Input)
        if call.contact_id is None:
            self.query_one("#caller-card", Static).update("")
            self.query_one("#open-tickets", OptionList).clear_options().can_focus = False
            lookup.value = call.caller_number
        else:
            lookup.value = ""
        self.keep_draft()
        self.tick()
        self.set_focus(
            self.query_one("#subject" if call.contact_id else "#lookup"), scroll_visible=False
        )

    def follows_call(self, pop: CallPop) -> bool:
        """Whether this screen's call is ``pop`` (taken while it rang): its clock now starts
        at the PBX's answer."""
        if self.draft.phone_call != pop.call.id:
            return False
        if pop.call.answered_at is not None:
            self.draft.started_at = pop.call.answered_at.isoformat()
            self.keep_draft()
            self.tick()
        return True

    def warn_if_interrupted(self, kept: Kept) -> None:
        """A call whose session ended in the middle of saving it: the desk knows, by the
        draft's key, whether that save went through."""
        if kept.interrupted and self.app.desk is not None:
            self.look_for_saved(kept.draft)

    @work(thread=True, exit_on_error=False, group="saved")
    def look_for_saved(self, draft: CallDraft) -> None:
        from deskterm.desk.saved_calls import saved_call

        tickets = self.desk.read(saved_call, key=draft.key)
        self.app.call_from_thread(self.saved_before, draft, tickets)

    def saved_before(self, draft: CallDraft, tickets: list[TicketPublic] | None) -> None:
        if tickets is None:
            self.notify(
                _(
                    "The session that had this call ended while saving it, before the desk "
                    "had it: nothing of it was saved. Save it when it is ready."
                ),
                title=_("Call draft"),
                timeout=10,
            )
            return
        refs = ", ".join(t.ref for t in tickets)
        if draft is self.draft and not self.saving:
            # It is in the desk: showing it as unsaved would invite a second save.
            self.drafts.discard()
            self.start_afresh()
        self.notify(
            _(
                "The call its ended session was saving is in the desk as {refs}: "
                "nothing to save again."
            ).format(refs=refs),
            title=_("Call logged before"),
            severity="warning",
            timeout=15,
        )

    def show_elsewhere(self) -> None:
        """Tell beside the form about a call of another session, or this call's loss."""
        notice = self.query_one(CallElsewhere)
        said = self.lost
        if said is None and self.elsewhere is not None and self.draft.is_empty():
            said = _(
                "An unsaved call is open in another session (since {since}): f8 takes it "
                "over here, or start a new call."
            ).format(since=self.elsewhere.since_label())
        if said is None:
            notice.remove_class("-shown")
            return
        notice.update(said)
        notice.add_class("-shown")

    async def action_take_over(self) -> None:
        """f8: the call another session of this analyst has open becomes this session's;
        that session can no longer save it."""
        kept = self.elsewhere or self.drafts.find()
        if kept is None or not kept.alive:
            self.notify(_("No unsaved call is open in another session."), title=_("Take over"))
            return
        self.read_form()
        if self.lost is None and not self.draft.is_empty():
            self.notify(
                _(
                    "This session has a call of its own under way: save it or bin it (ctrl+b) "
                    "first."
                ),
                title=_("Take over"),
            )
            return
        try:
            draft = self.drafts.take_over(kept)
        except (DraftGone, OSError) as refused:
            self.elsewhere = None
            self.show_elsewhere()
            self.notify(str(refused), title=_("Not taken over"), severity="warning", markup=False)
            return
        self.lost = self.elsewhere = None
        self.saving = False
        await self.take_draft(draft)
        self.show_elsewhere()
        self.focus_start()
        self.tick()
        self.notify(_("The call is this session's now."), title=_("Taken over"))

    def lose(self, taken: DraftTaken) -> None:
        """Another session took this call over: what was typed stays on screen, but it is
        neither kept nor saved from here any more."""
        self.lost = str(taken)
        if self._draft_timer is not None:
            self._draft_timer.stop()
            self._draft_timer = None
        self.show_elsewhere()

    async def take_draft(self, draft: CallDraft) -> None:
        self.draft = draft
        self.kb_links = {}
        await self.rebuild_tabs(0)
        if draft.contact_id is not None:
            self.load_caller(draft.contact_id)

    def tick(self) -> None:
        seconds = self.seconds()
        said = self.draft.contact_name or self.draft.phone_number
        if said:
            place = _("New call {time} · {caller}").format(time=clock_face(seconds), caller=said)
        else:
            place = _("New call {time}").format(time=clock_face(seconds))
        self.query_one(DeskBar).place = place
        if self.shown:
            self.look_elsewhere()

    def look_elsewhere(self) -> None:
        """Once a second: whether this call was taken over from here, or the other
        session's call was saved or binned meanwhile (a look at a file or two)."""
        try:
            if self.lost is None and not self.draft.is_empty():
                self.drafts.check_not_taken()
            elif self.elsewhere is not None and not self.drafts.holds(self.elsewhere):
                self.elsewhere = None
        except DraftTaken as taken:
            self.lose(taken)
        except OSError:
            return
        self.show_elsewhere()

    def seconds(self) -> int:
        """How long the call has run: since the first ctrl+n, across its saves."""
        return max(0, int((clock.now() - self.draft.started).total_seconds()))

    def seconds_to_log(self) -> int:
        """The call's time its next save logs: what no earlier save of it has logged."""
        return self.draft.seconds_to_log(clock.now())

    # ------------------------------------------------------------------ the form and the draft

    def fill_form(self) -> None:
        """Show the current problem of the draft in the form."""
        problem = self.draft.problems[self.current]
        self._filling = True
        try:
            self.query_one("#subject", Input).value = problem.subject
            self.query_one("#description", TextArea).text = problem.description
            self.query_one("#impact", Select).value = problem.impact
            self.query_one("#urgency", Select).value = problem.urgency
            self.set_select("#category", problem.category)
            self.set_select("#asset", problem.asset_id)
        finally:
            self.call_after_refresh(self._filled)
        self.show_priority()
        self.clear_errors()

    def _filled(self) -> None:
        self._filling = False

    def set_select(self, selector: str, value: Any) -> None:
        select = self.query_one(selector, Select)
        if value is None:
            select.clear()
            return
        try:
            select.value = value
        except InvalidSelectValueError:
            # The option is gone (or not loaded yet); the draft keeps the value.
            select.clear()

    def read_form(self) -> None:
        """Copy the form into the draft's current problem."""
        if self._filling:
            return
        category = self.query_one("#category", Select).value
        asset = self.query_one("#asset", Select).value
        self.draft.problems[self.current] = ProblemDraft(
            subject=self.query_one("#subject", Input).value,
            description=self.query_one("#description", TextArea).text,
            category=category if isinstance(category, str) else None,
            asset_id=asset if isinstance(asset, int) else None,
            impact=str(self.query_one("#impact", Select).value),
            urgency=str(self.query_one("#urgency", Select).value),
        )

    @on(Input.Changed, "#subject")
    @on(TextArea.Changed, "#description")
    @on(Select.Changed)
    def form_changed(self) -> None:
        if self._filling:
            return
        self.read_form()
        self.show_priority()
        self.keep_draft()

    def keep_draft(self) -> None:
        """Write the draft soon: a burst of typing is one write."""
        self.discard_armed = False
        if self._draft_timer is None:
            self._draft_timer = self.set_timer(0.4, self.flush_draft)

    def on_unmount(self) -> None:
        # Quitting mid-call: what was typed in the last moment is kept too.
        if self._draft_timer is not None:
            self._draft_timer.stop()
            self.flush_draft()
        # The session ends: its call (if any) is left for the next session to take up.
        self.drafts.close()

    def keep_now(self) -> None:
        """Write the draft now, not after the pause a burst of typing waits for."""
        if self._draft_timer is not None:
            self._draft_timer.stop()
        self.flush_draft()

    def flush_draft(self) -> None:
        self._draft_timer = None
        if self.lost is not None:
            return
        try:
            self.drafts.save(self.draft)
        except DraftTaken as taken:
            self.lose(taken)
        except OSError as exc:
            self.notify(
                _("The call draft cannot be kept: {error}").format(error=exc),
                severity="warning",
                markup=False,
            )

    def show_priority(self) -> None:
        impact = str(self.query_one("#impact", Select).value)
        urgency = str(self.query_one("#urgency", Select).value)
        matrix = defaults.priority_matrix()
        try:
            number = matrix.priority(impact, urgency)
        except (KeyError, ValueError):
            return
        level = matrix.level(number)
        text = fill(_("Priority {priority}"), priority=priority_text(number, long=True))
        text.append(f" · {level.shown_meaning}", style="dim")
        self.query_one("#priority", Static).update(text)

    def action_set_level(self, field: str, level: str) -> None:
        """One key for urgency or impact, from any field; the priority follows at once."""
        self.query_one(f"#{field}", Select).value = level

    # ------------------------------------------------------------------ problems

    async def action_add_problem(self) -> None:
        self.read_form()
        self.draft.problems.append(ProblemDraft())
        await self.rebuild_tabs(len(self.draft.problems) - 1)
        self.keep_draft()
        self.query_one("#subject").focus()

    async def action_remove_problem(self) -> None:
        if len(self.draft.problems) == 1:
            self.notify(_("A call has at least one problem."), title=_("Drop problem"))
            return
        self.kb_links = {
            (i if i < self.current else i - 1): article
            for i, article in self.kb_links.items()
            if i != self.current
        }
        self.draft.problems.pop(self.current)
        await self.rebuild_tabs(min(self.current, len(self.draft.problems) - 1))
        self.keep_draft()

    async def rebuild_tabs(self, active: int) -> None:
        """One tab per problem, labelled by position (problem 2 becomes 1 when 1 goes)."""
        tabs = self.query_one("#problems", Tabs)
        await tabs.clear()
        for number in range(len(self.draft.problems)):
            await tabs.add_tab(Tab(_("Problem {n}").format(n=number + 1), id=f"p-{number}"))
        self.current = active
        self._activate_tab(active)
        self.fill_form()

    def _activate_tab(self, index: int) -> None:
        self.query_one("#problems", Tabs).active = f"p-{index}"

    @on(Tabs.TabActivated, "#problems")
    def switch_problem(self, event: Tabs.TabActivated) -> None:
        event.stop()
        index = int((event.tab.id or "p-0").removeprefix("p-"))
        if index == self.current or index >= len(self.draft.problems):
            return
        self.read_form()
        self.current = index
        self.fill_form()

    # ------------------------------------------------------------------ caller

    def action_lookup(self) -> None:
        self.focus_lookup()

    def focus_lookup(self) -> None:
        self.query_one("#lookup").focus()

    def action_existing(self) -> None:
        listing = self.query_one("#open-tickets", OptionList)
        if self.contact is None:
            self.notify(
                _("Pick a caller first: type their name, phone or email in Caller."),
                title=_("Existing ticket"),
            )
            self.focus_lookup()
            return
        if not self.open_tickets:
            self.notify(_("This caller has no open ticket."), title=_("Existing ticket"))
            return
        listing.focus()
        if listing.highlighted is None:
            listing.highlighted = 0

    @on(Input.Changed, "#lookup")
    def lookup_as_typed(self, event: Input.Changed) -> None:
        self.find(event.value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="lookup")
    def find(self, text: str) -> None:
        from deskterm.desk.contacts import find_contacts

        app: Any = self.app  # the DeskApp (issue 16 gives screens a typed way to it)
        contacts = app.desk.read(find_contacts, text=text, limit=20, region=app.phone_region)
        if not get_current_worker().is_cancelled:
            self.post_message(MatchesFound(text, contacts))

    @on(MatchesFound)
    def show_matches(self, event: MatchesFound) -> None:
        if event.text != self.query_one("#lookup", Input).value:
            return
        matches = self.query_one("#matches", OptionList)
        matches.clear_options()
        matches.set_class(not event.contacts and len(event.text.strip()) < 2, "-empty")
        for contact in event.contacts:
            # Who first (and how many open tickets they have), then how to tell them apart.
            line = literal(contact.name, style="bold")
            if contact.open_tickets:
                held = contact.open_tickets
                line.append(
                    "  " + ngettext("{n} open", "{n} open", held).format(n=held), style="bold"
                )
            if contact.organization:
                line.append("  ")
                line.append_text(literal(contact.organization, style="dim"))
            details = [v for v in (contact.phone, contact.email) if v]
            if details:
                line.append("\n  ")
                line.append_text(literal(" · ".join(details), style="dim"))
            matches.add_option(Option(line, id=str(contact.id)))
        if not event.contacts and len(event.text.strip()) >= 2:
            matches.add_option(
                Option(Text(_("No caller found: ctrl+o adds one"), style="italic"), disabled=True)
            )
        self.matches_for = event.text
        if event.contacts:
            # The best match is the one enter takes: marked, so the analyst sees who.
            matches.highlighted = 0
            if self.take_when_found:
                self.take_match()
        self.take_when_found = False

    def key_ahead(self, key: str, focused: Widget) -> bool:
        """enter on Caller takes a caller and goes on to Subject at once: what is typed after
        it belongs there, even before the caller's card has come (tui/typeahead.py). Only
        when enter takes one: a caller marked among the matches of what is typed, or matches
        still on their way for two letters or more (the best of them is taken)."""
        if key != "enter" or focused.id != "lookup":
            return False
        typed = self.query_one("#lookup", Input).value
        if self.matches_for != typed:
            if len(typed.strip()) < 2:
                return False
        else:
            matches = self.query_one("#matches", OptionList)
            index = matches.highlighted if matches.highlighted is not None else 0
            if index >= matches.option_count:
                return False
            option = matches.get_option_at_index(index)
            if option.disabled or not (option.id and option.id.isdigit()):
                return False
        self.to_matches()
        self.set_focus(self.query_one("#subject"), scroll_visible=False)
        return True

    @on(Input.Submitted, "#lookup")
    def to_matches(self) -> None:
        """enter takes the best match (the marked one); down chooses another first. Pressed
        before the matches of what was typed have come, it takes the best of those."""
        if self.matches_for != self.query_one("#lookup", Input).value:
            self.take_when_found = True
            return
        self.take_match()

    def take_match(self) -> None:
        matches = self.query_one("#matches", OptionList)
        index = matches.highlighted if matches.highlighted is not None else 0
        option = matches.get_option_at_index(index) if index < matches.option_count else None
        if option is not None and option.id and option.id.isdigit():
            # Straight on to the problem.
            self.load_caller(int(option.id), chosen=True)

    def action_browse_matches(self) -> None:
        """down from Caller: into the matches, to take another than the best."""
        matches = self.query_one("#matches", OptionList)
        if self.focused is self.query_one("#lookup") and matches.option_count:
            matches.focus()
            # The best is what enter takes already: down means the next one.
            current = matches.highlighted
            matches.highlighted = (
                0 if current is None else min(current + 1, matches.option_count - 1)
            )

    @on(OptionList.OptionSelected, "#matches")
    def choose_caller(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id and event.option.id.isdigit():
            self.load_caller(int(event.option.id), chosen=True)

    @work(thread=True, exclusive=True, exit_on_error=False, group="caller")
    def load_caller(self, contact_id: int, chosen: bool = False) -> None:
        from deskterm.desk.contacts import get_contact
        from deskterm.desk.tickets import list_tickets

        def read(session: Any, actor: Any) -> CallerLoaded:
            contact = get_contact(session, actor, key=f"#{contact_id}")
            tickets = list_tickets(session, actor, contact_id=contact_id, limit=50)
            return CallerLoaded(contact, tickets, chosen)

        self.post_message(self.desk.read(read))

    @on(CallerLoaded)
    def show_caller(self, event: CallerLoaded) -> None:
        contact = event.contact
        changed = self.draft.contact_id != contact.id
        if changed and self.draft.call_ref is not None:
            # Another caller is another call: no longer part of the one saved before.
            self.draft.call_ref = self.draft.logged_until = None
            self.draft.started_at = clock.now().isoformat()
        self.contact = contact
        self.open_tickets = event.open_tickets
        self.draft.contact_id, self.draft.contact_name = contact.id, contact.name
        self.query_one("#description", NoteArea).use_caller(contact.name)
        card = literal(contact.name, style="bold")
        if contact.vip:
            card.append(" " + _("VIP"), style="bold reverse")
        for value in (contact.organization, contact.phone or contact.mobile, contact.email):
            if value:
                card.append("\n")
                card.append_text(literal(value))
        for asset in contact.assets:
            card.append("\n")
            card.append_text(literal(f"{asset.product} ({asset.kind})", style="dim"))
            if asset.account_number:
                # Translators: short for "account number", before the number.
                card.append(" " + _("acct") + " ", style="dim")
                card.append_text(literal(asset.account_number, style="dim"))
        self.query_one("#caller-card", Static).update(card)
        assets = self.query_one("#asset", Select)
        assets.set_options(
            [
                (literal(f"{a.product} {a.serial_number or ''}".strip()), a.id)
                for a in contact.assets
            ]
        )
        self.set_select("#asset", self.draft.problems[self.current].asset_id)
        listing = self.query_one("#open-tickets", OptionList)
        listing.clear_options()
        for ticket in event.open_tickets:
            line = Text(f"{ticket.ref} ")
            line.append_text(priority_text(ticket.priority))
            line.append(f" {status_label(ticket.status, short=True)} ", style="dim")
            line.append_text(literal(ticket.subject))
            listing.add_option(Option(line, id=str(ticket.id)))
        if not event.open_tickets:
            listing.add_option(Option(Text(_("none open"), style="italic"), disabled=True))
        listing.can_focus = bool(event.open_tickets)
        self.query_one("#matches", OptionList).clear_options().add_class("-empty")
        self.tick()
        if changed:
            self.keep_draft()
        if event.chosen:
            self.query_one("#subject").focus()

    def action_new_contact(self) -> None:
        from deskterm.tui.modals.intake_actions import ContactModal

        typed = self.query_one("#lookup", Input).value

        def created(contact: ContactPublic | None) -> None:
            if contact is not None:
                self.notify(_("{name} added.").format(name=contact.name), markup=False)
                self.load_caller(contact.id, chosen=True)

        self.app.push_screen(ContactModal(typed), created)

    @on(OptionList.OptionSelected, "#open-tickets")
    def add_call_to_ticket(self, event: OptionList.OptionSelected) -> None:
        from deskterm.tui.modals.intake_actions import AddCallModal

        event.stop()
        ticket = next((t for t in self.open_tickets if str(t.id) == event.option.id), None)
        if ticket is None:
            return
        self.read_form()
        note = self.draft.problems[self.current].description
        if not self.claim():
            return

        def added(result: TicketPublic | None) -> None:
            if result is not None:
                self.finish([result])
            else:
                self.unclaim()

        self.app.push_screen(
            AddCallModal(ticket, self.seconds_to_log, note, phone_call=self.draft.phone_call),
            added,
        )

    # ------------------------------------------------------------------ saving

    def action_save(self) -> None:
        if self.saving:
            return
        self.read_form()
        self.clear_errors()
        if self.draft.contact_id is None and not self.draft.anonymous:
            self.ask_for_caller()
            return
        if not self.claim():
            return
        self.saving = True
        self.query_one(DeskBar).busy = True
        self.record(self.draft, self.seconds_to_log(), dict(self.kb_links))

    def claim(self) -> bool:
        """Before a save: the call is still this session's, and no other session can take it
        over while it is saved. Refused (what was typed stays) when it was taken over."""
        if self._draft_timer is not None:
            self._draft_timer.stop()
            self._draft_timer = None
        try:
            self.drafts.claim(self.draft)
        except DraftTaken as taken:
            self.lose(taken)
            self.notify(str(taken), title=_("Not saved"), severity="error", markup=False)
            return False
        except OSError:
            # Nothing on disk to take over from another session either: the save goes on.
            pass
        return True

    def unclaim(self) -> None:
        """The save did not go through: the call may change hands again."""
        try:
            self.drafts.unclaim()
        except OSError:
            pass

    def ask_for_caller(self) -> None:
        """No caller picked: ask once; whatever the answer, nothing typed is lost."""
        from deskterm.tui.modals.intake_actions import ask_caller

        def answered(answer: str | None) -> None:
            if answer == "anonymous":
                self.draft.anonymous = True
                self.keep_draft()
                self.action_save()
            else:
                self.focus_lookup()

        self.app.push_screen(ask_caller(), answered)

    @work(thread=True, exclusive=True, exit_on_error=False, group="record")
    def record(self, draft: CallDraft, seconds: int, links: dict[int, int] | None = None) -> None:
        from deskterm.desk.cti import save_phone_call
        from deskterm.desk.intake import Problem
        from deskterm.desk.saved_calls import save_call

        links = links or {}
        problems = [
            Problem(
                subject=p.subject,
                description=p.description,
                category=p.category,
                asset_id=p.asset_id,
                impact=p.impact,
                urgency=p.urgency,
                article=links.get(index),
            )
            for index, p in enumerate(draft.problems)
        ]
        # Another problem from a saved call keeps that call's caller.
        contact_id = None if draft.call_ref is not None else draft.contact_id
        if draft.phone_call is not None:
            # The phone system's call: its length is the PBX's, logged once (desk/cti.py).
            saved = self.desk.write(
                save_phone_call,
                phone_call=draft.phone_call,
                key=draft.key,
                problems=problems,
                contact_id=contact_id,
                call=draft.call_ref,
            )
        else:
            saved = self.desk.write(
                save_call,
                key=draft.key,
                problems=problems,
                contact_id=contact_id,
                call=draft.call_ref,
                call_seconds=seconds,
            )
        self.app.call_from_thread(self.finish, saved.tickets, clock.now(), saved.earlier)

    def finish(
        self,
        made: Sequence[TicketPublic],
        saved_at: datetime | None = None,
        earlier: bool = False,
    ) -> None:
        """The call is in the desk: forget the draft, start clean, show the ticket. The
        ticket screen offers another problem from the same call (same caller, same clock).
        ``earlier``: an earlier save of this very draft had gone through already (its answer
        was lost, or the app stopped before forgetting the draft): nothing was opened now."""
        from deskterm.desk.intake import SavedTicket
        from deskterm.tui.screens.ticket import TicketScreen

        call = self.draft
        self.saving = False
        self.query_one(DeskBar).busy = False
        self.drafts.discard()
        # Fresh at once, so leaving puts the cursor in Caller for the next call.
        self.start_afresh()
        refs = [t.ref for t in made]
        if earlier:
            self.notify(
                _("This call was in the desk already as {refs}: nothing was saved twice.").format(
                    refs=", ".join(refs)
                ),
                title=_("Call logged before"),
                severity="warning",
                timeout=10,
            )
        else:
            self.notify(_("Saved {refs}.").format(refs=", ".join(refs)), title=_("Call logged"))
        another = call.another_problem(refs[0], saved_at or clock.now())
        self.app.switch_mode("queue")
        if self.app.desk is not None:
            # What the save handed back paints the ticket's head at once; its story follows.
            first = made[0]
            row = first if isinstance(first, SavedTicket) else None
            self.app.push_screen(TicketScreen(first.id, call=another, row=row, saved=refs[0]))

    def start_afresh(self) -> None:
        """A new, empty call at once; the form follows as soon as it can."""
        self.draft = CallDraft(started_at=clock.now().isoformat())
        self.call_later(self.reset, self.draft)

    async def reset(self, draft: CallDraft) -> None:
        if draft is not self.draft:
            return  # another call was taken up meanwhile (another problem from this one)
        self.contact = None
        self.query_one("#description", NoteArea).use_caller(None)
        self.open_tickets = []
        self.kb_links = {}
        self.query_one("#lookup", Input).value = ""
        self.query_one("#caller-card", Static).update("")
        self.query_one("#open-tickets", OptionList).clear_options().can_focus = False
        self.query_one("#asset", Select).set_options([])
        await self.rebuild_tabs(0)
        self.focus_start()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR or event.worker.group != "record":
            return
        event.stop()
        self.saving = False
        self.query_one(DeskBar).busy = False
        self.unclaim()
        self.show_error(event.worker.error)

    def clear_errors(self) -> None:
        for widget in self.query(".field-error"):
            widget.display = False

    def show_error(self, error: BaseException | None) -> None:
        field = getattr(error, "field", None) or ""
        number, _sep, name = field.partition(".")
        message = str(error) if isinstance(error, DeskError) else self.app.describe_error(error)
        if (
            isinstance(error, InvalidInput)
            and number.isdigit()
            and name in ("subject", "description")
        ):
            index = int(number) - 1
            if index != self.current and index < len(self.draft.problems):
                self.current = index
                self._activate_tab(index)
                self.fill_form()
            box = self.query_one(f"#error-{name}", Static)
            box.update(literal(message))
            box.display = True
            self.query_one(f"#{name}").focus()
            return
        self.notify(message, title=_("Not saved"), severity="error", markup=False)

    # ------------------------------------------------------------------ knowledge base

    @on(Input.Changed, "#subject")
    @on(TextArea.Changed, "#description")
    def suggest_soon(self) -> None:
        """Look for articles once the typing pauses: a burst of keys is one search."""
        if self._kb_timer is not None:
            self._kb_timer.stop()
        self._kb_timer = self.set_timer(0.3, self.suggest_now)

    def suggest_now(self) -> None:
        self._kb_timer = None
        self.suggest(self._problem_text())

    def _problem_text(self) -> str:
        subject = self.query_one("#subject", Input).value
        return f"{subject}\n{self.query_one('#description', TextArea).text}"

    @work(thread=True, exclusive=True, exit_on_error=False, group="kb")
    def suggest(self, text: str) -> None:
        from deskterm.desk.kb import suggest_articles

        try:
            hits = self.desk.read(suggest_articles, text=text, limit=5)
        except Exception:
            # Suggestions are a help, not the call: an outage is for the save to report, not
            # for every keystroke of the description.
            return
        self.post_message(ArticlesSuggested(text, hits))

    @on(ArticlesSuggested)
    def show_articles(self, event: ArticlesSuggested) -> None:
        if event.text != self._problem_text():
            return  # typed on meanwhile; the newer search is on its way
        self.kb_hits = event.hits
        self.show_article_list()

    def show_article_list(self) -> None:
        linked = self.kb_links.get(self.current)
        listing = self.query_one("#kb-suggestions", OptionList)
        listing.clear_options()
        for hit in self.kb_hits:
            label = Text.assemble((hit.key, "bold"), " ")
            label.append_text(literal(hit.title))
            if hit.id == linked:
                label.append(" ✓ " + _("linked"), style="green")
            listing.add_option(Option(label, id=str(hit.id)))
        empty = not self.kb_hits
        listing.display = not empty
        self.query_one("#kb-title").display = not empty
        self.refresh_bindings()

    def action_read_article(self) -> None:
        listing = self.query_one("#kb-suggestions", OptionList)
        index = listing.highlighted if listing.highlighted is not None else 0
        if index < len(self.kb_hits):
            self.read_article(self.kb_hits[index].id)
            return
        self.notify(
            _(
                "No article matches this problem yet: its subject and description find them "
                "as you type; f4 searches them all."
            ),
            title=_("Read article"),
        )

    @on(OptionList.OptionSelected, "#kb-suggestions")
    def open_suggestion(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.read_article(int(event.option.id))

    def read_article(self, article_id: int) -> None:
        from deskterm.tui.screens.article import ArticleScreen

        problem = self.current

        def chosen(result: str | None) -> None:
            if result != "link":
                return
            self.kb_links[problem] = article_id
            key = next((h.key for h in self.kb_hits if h.id == article_id), f"KB-{article_id}")
            self.notify(
                _("{key} will be linked to problem {n} when the call is saved.").format(
                    key=key, n=problem + 1
                ),
                title=_("Solved with"),
                markup=False,
            )
            self.show_article_list()

        self.app.push_screen(ArticleScreen(article_id, can_link=True), chosen)

    # ------------------------------------------------------------------ leaving

    def action_leave(self) -> None:
        self.read_form()
        if self.draft.call_ref is not None and not self.draft.has_text():
            # "Another problem" pressed and nothing written: no call is left half done,
            # and the next ctrl+n is a new call.
            self.start_afresh()
        self.flush_draft()
        self.app.switch_mode("queue")

    def half_written(self) -> bool:
        """A call is under way here (what was typed is kept in the draft either way)."""
        self.read_form()
        return self.draft.has_text() or (
            (self.draft.contact_id is not None or self.draft.phone_call is not None)
            and self.draft.call_ref is None
        )

    def action_discard(self) -> None:
        if not self.discard_armed:
            self.discard_armed = True
            self.notify(_("Press ctrl+b again to throw this call away."), title=_("Bin call"))
            return
        self.discard_armed = False
        self.drafts.discard()
        self.lost = None
        self.start_afresh()
        self.show_elsewhere()
        self.notify(_("Call discarded."))

    @work(thread=True, exclusive=True, exit_on_error=False, group="categories")
    def load_categories(self) -> None:
        from deskterm.desk.setup import list_categories

        categories = self.desk.read(list_categories)
        self.app.call_from_thread(self.show_categories, categories)

    def show_categories(self, categories: list[CategoryPublic]) -> None:
        self.categories = categories
        select = self.query_one("#category", Select)
        self._filling = True
        select.set_options([(literal(c.path), c.path) for c in categories])
        self.set_select("#category", self.draft.problems[self.current].category)
        self.call_after_refresh(self._filled)


def call_under_way(app: App[Any]) -> bool:
    """Whether a new call is half written in this app (a popping call waits for it)."""
    mine = [s for s in list(_CALL_SCREENS) if s.parent is app and s.is_mounted and s.shown]
    return any(screen.half_written() for screen in mine)


def asked_before_quit(app: App[Any]) -> bool:
    """ctrl+q while a call is half written asks once; ``False`` when there is nothing to ask
    (quit now). A second ctrl+q while asking quits: the draft is kept either way."""
    from deskterm.tui.modals.intake_actions import AskModal, ask_quit

    if isinstance(app.screen, AskModal) and app.screen.id == "ask-quit":
        return False
    mine = [s for s in list(_CALL_SCREENS) if s.parent is app and s.is_mounted and s.shown]
    if not any(screen.half_written() for screen in mine):
        return False
    for screen in mine:
        screen.keep_now()

    def answered(answer: str | None) -> None:
        if answer == "quit":
            app.exit()

    question = ask_quit()
    question.id = "ask-quit"
    app.push_screen(question, answered)
    return True
