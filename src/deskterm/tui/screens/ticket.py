"""One ticket: who has it and how urgent it is, the caller, and the whole story."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from deskterm.desk import clock
from deskterm.domain.due import ticket_due
from deskterm.domain.enums import OPEN_STATUSES, Status, link_label
from deskterm.domain.payloads import CallLogged, CustomerMessage, Note, Resolved
from deskterm.domain.refs import format_ref
from deskterm.domain.worked import format_minutes
from deskterm.i18n import N_, _, ngettext
from deskterm.tui import benchmark
from deskterm.tui.base import DeskScreen
from deskterm.tui.format import (
    due_text,
    fill,
    level_label,
    literal,
    local,
    priority_text,
    sla_text,
    status_label,
)
from deskterm.tui.messages import DeskUpdated, PresenceChanged
from deskterm.tui.widgets.bar import DeskBar
from deskterm.tui.widgets.footer import KeyFooter
from deskterm.tui.widgets.presence import PresenceLine

if TYPE_CHECKING:
    from deskterm.desk.callbacks import CallbackPublic
    from deskterm.desk.intake import SavedTicket
    from deskterm.desk.presence import Viewer
    from deskterm.desk.schemas import EventPublic, TicketDetail
    from deskterm.desk.story import TicketStory
    from deskterm.tui.drafts import CallDraft

#: Below this width the caller's card sits above the timeline instead of beside it.
NARROW = 100


class TicketScreen(DeskScreen[None]):
    # In the order a newcomer needs them: the footer shows as many as fit, whole, from the
    # first; the key help (?) lists them all. Keys that do nothing now are left out
    # (check_action), so "reopen" and "close" take the place of "resolve" when resolved.
    BINDINGS = [
        Binding("escape", "back", N_("Back"), id="back"),
        Binding(
            "p",
            "another_problem",
            N_("Another problem"),
            tooltip=N_(
                "Another problem from this call: the same caller, linked to it as split "
                "from the same call, the call's time running on"
            ),
            id="another_problem",
        ),
        Binding(
            "n",
            "note",
            N_("Note"),
            tooltip=N_("Add a note, internal or customer-visible"),
            id="note",
        ),
        Binding(
            "r",
            "resolve",
            N_("Resolve"),
            tooltip=N_("Resolve with a resolution code"),
            id="resolve",
        ),
        Binding("o", "reopen", N_("Reopen"), tooltip=N_("Reopen a resolved ticket"), id="reopen"),
        Binding(
            "x",
            "close_ticket",
            N_("Close"),
            tooltip=N_("Close a resolved ticket"),
            id="close_ticket",
        ),
        Binding(
            "e", "escalate", N_("Escalate"), tooltip=N_("Escalate with a reason"), id="escalate"
        ),
        Binding("c", "call", N_("Call"), tooltip=N_("Log an inbound or outbound call"), id="call"),
        Binding("t", "take", N_("Take"), tooltip=N_("Assign the ticket to yourself"), id="take"),
        Binding(
            "a",
            "reassign",
            N_("Reassign"),
            tooltip=N_("Reassign to another analyst"),
            id="reassign",
        ),
        Binding("s", "status", N_("Status"), tooltip=N_("Change the status"), id="status"),
        Binding("b", "callback", N_("Callback"), tooltip=N_("Schedule a callback"), id="callback"),
        Binding(
            "i",
            "priority",
            N_("Priority"),
            tooltip=N_("Change impact and urgency, or override the priority"),
            show=False,
            id="priority",
        ),
        Binding(
            "l", "link", N_("Link"), tooltip=N_("Link to another ticket"), show=False, id="link"
        ),
        Binding(
            "k",
            "articles",
            N_("Articles"),
            tooltip=N_("Link the article that solved it, or flag that one is needed"),
            show=False,
            id="articles",
        ),
        Binding(
            "z",
            "toggle_folds",
            N_("Unfold mail"),
            tooltip=N_(
                "Show the customer's mail whole, quoted text and signatures too, or fold it"
            ),
            show=False,
            id="unfold_mail",
        ),
    ]

    @dataclass
    class Loaded(Message):
        loaded: TicketStory

    @dataclass
    class ViewersSeen(Message):
        """Who else has this ticket open, as the desk said just now."""

        viewers: list[Viewer]

    def __init__(
        self,
        ticket_id: int,
        *,
        call: CallDraft | None = None,
        row: SavedTicket | None = None,
        saved: str | None = None,
    ) -> None:
        super().__init__()
        self.ticket_id = ticket_id
        #: Opened by saving a call: that call, ready for another problem from it.
        self.call = call
        #: The ticket as a saved call handed it back: the head is painted from it at once,
        #: the story follows.
        self.row = row
        #: Opened by saving a call: what the toast said (for ``deskterm bench``).
        self.saved = saved
        self.loaded: TicketStory | None = None
        #: A dialog of this screen is open on the ticket: the others see "editing".
        self.editing = False
        #: Mail shown whole, quotes and signatures unfolded (``z``).
        self.unfolded = False
        self.viewers: list[Viewer] = []

    @property
    def ticket(self) -> TicketDetail | None:
        return self.loaded.ticket if self.loaded else None

    def compose(self) -> ComposeResult:
        yield DeskBar(_("Ticket"), id="bar")
        yield Static(id="ticket-head")
        yield PresenceLine(id="presence")
        with Horizontal(id="ticket-body"):
            yield VerticalScroll(id="timeline", can_focus=True)
            yield VerticalScroll(Static(id="card"), id="side")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.set_class(self.size.width < NARROW, "-narrow")
        self.query_one("#ticket-body").loading = True
        self.query_one("#timeline").focus()
        if self.row is not None:
            self.query_one(DeskBar).place = _("Ticket {ref}").format(ref=self.row.ref)
            self.query_one("#ticket-head", Static).update(self.head_of(self.row, []))
        if self.saved is not None:
            benchmark.mark(self, "saved", self.saved)
        self.load()
        self.be_seen()
        heartbeat = self.app.presence_seconds
        if heartbeat:
            self.set_interval(heartbeat, self.be_seen)

    def on_unmount(self) -> None:
        self.app.leave_ticket(self.ticket_id)

    def on_resize(self) -> None:
        self.set_class(self.size.width < NARROW, "-narrow")

    def load(self) -> None:
        self.query_one(DeskBar).busy = True
        self.fetch()

    @work(thread=True, exclusive=True, exit_on_error=False, group="ticket")
    def fetch(self) -> None:
        from deskterm.desk.story import ticket_story

        self.post_message(self.Loaded(self.desk.read(ticket_story, ref=self.ticket_id)))

    @on(DeskUpdated)
    def look_for_changes(self) -> None:
        """Someone changed some ticket: read this one again if it is among them."""
        self.check_version()

    @work(thread=True, exclusive=True, exit_on_error=False, group="ticket-version")
    def check_version(self) -> None:
        from deskterm.desk.views import ticket_version

        desk = self.desk
        version = desk.read(ticket_version, ticket_id=self.ticket_id)
        if self.ticket is None or version != self.ticket.version:
            self.app.call_from_thread(self.load)

    # ------------------------------------------------------------------ who else is here

    def be_seen(self) -> None:
        """Tell the desk this ticket is (still) open here, and hear who else has it open."""
        if self.app.desk is None or self.app.offline:
            return  # the banner says the desk is away; the next heartbeat after it is back
        self.heartbeat(self.editing)

    @work(thread=True, exclusive=True, exit_on_error=False, group="presence")
    def heartbeat(self, editing: bool) -> None:
        from deskterm.desk.presence import see_ticket

        found = self.desk.write(
            see_ticket,
            ticket_id=self.ticket_id,
            app_session=self.app.app_session,
            editing=editing,
        )
        self.post_message(self.ViewersSeen(found))

    @on(PresenceChanged)
    def look_who_is_here(self, event: PresenceChanged) -> None:
        """Someone came, went, or opened a dialog on some ticket: look, if it is this one."""
        if event.ticket_ids is None or self.ticket_id in event.ticket_ids:
            self.look_around()

    @work(thread=True, exclusive=True, exit_on_error=False, group="presence-read")
    def look_around(self) -> None:
        from deskterm.desk.presence import viewers

        found = self.desk.read(viewers, ticket_id=self.ticket_id, app_session=self.app.app_session)
        self.post_message(self.ViewersSeen(found))

    @on(ViewersSeen)
    def show_viewers(self, event: TicketScreen.ViewersSeen) -> None:
        self.viewers = event.viewers
        actor = self.app.actor
        ref = self.ticket.ref if self.ticket else format_ref(self.ticket_id)
        self.query_one(PresenceLine).show_viewers(
            event.viewers, ref, actor.login if actor else None
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        if event.worker.group in ("presence", "presence-read"):
            # Presence is a courtesy: never a popup every heartbeat. An outage shows in the
            # banner (the watched desk); anything else leaves the line as it was.
            event.stop()
            return
        self.query_one(DeskBar).busy = False
        if event.worker.group == "ticket" and self.loaded is None:
            # Nothing to show (no such ticket, database gone): say why and go back.
            event.stop()
            self.app.show_error(event.worker.error)
            self.dismiss()

    @on(Loaded)
    def show(self, event: TicketScreen.Loaded) -> None:
        self.loaded = event.loaded
        ticket = event.loaded.ticket
        self.query_one(DeskBar).busy = False
        self.query_one(DeskBar).place = _("Ticket {ref}").format(ref=ticket.ref)
        self.query_one("#ticket-body").loading = False
        self.query_one("#ticket-head", Static).update(self.head())
        self.query_one("#card", Static).update(self.card())
        self.show_timeline(ticket)
        self.refresh_bindings()
        benchmark.mark(self, "ticket", ticket.id)

    # ------------------------------------------------------------------ rendering

    def head(self) -> Text:
        assert self.loaded is not None
        return self.head_of(self.loaded.ticket, self.loaded.callbacks)

    @staticmethod
    def head_of(ticket: SavedTicket | TicketDetail, callbacks: list[CallbackPublic]) -> Text:
        """Who has it, how urgent, what about and when due: what a save hands back has it."""
        now = clock.now()
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(ticket.ref, style="bold")
        text.append("  ")
        text.append_text(priority_text(ticket.priority, long=True))
        text.append("  ")
        text.append(status_label(ticket.status), style="bold")
        text.append(f"  L{ticket.level} ")
        text.append_text(literal(ticket.group or _("no group")))
        text.append("  → ")
        if ticket.assignee:
            text.append_text(literal(f"{ticket.assignee_name} ({ticket.assignee})", style="bold"))
        else:
            text.append(_("unassigned"), style="italic")
        text.append("\n")
        text.append_text(literal(ticket.subject, style="bold"))
        text.append("\n")
        # The same words as `deskterm ticket show` (domain/due.py).
        due = ticket_due(ticket, now)
        # Translators: the ticket head's SLA line: "Response met  Resolve 3h left (14:30)".
        text.append_text(fill(_("Response {clock}"), clock=due_text(due.response, long=True)))
        text.append("  ")
        text.append_text(fill(_("Resolve {clock}"), clock=due_text(due.resolve, long=True)))
        if due.left is not None:
            # The clock waits with the customer: what is left is working time, not a date.
            since = _("(since {time}, {left})").format(
                time=local(ticket.sla_paused_at, now), left=due.left
            )
            text.append(f" {since}", style="dim")
        else:
            at = local(ticket.resolve_due_at, now)
            when = f"({at})" if due.resolve.running else _("(due {time})").format(time=at)
            text.append(f" {when}", style="dim")
        if callbacks:
            first = callbacks[0]
            text.append("  " + _("Callback") + " ")
            text.append_text(sla_text(first.due_at, now))
            text.append(f" ({local(first.due_at, now)})", style="dim")
        if ticket.minutes_worked:
            # Translators: the ticket head's total of minutes worked: "Worked 1 hr 25 min".
            worked = format_minutes(ticket.minutes_worked)
            text.append("  " + _("Worked {time}").format(time=worked))
        return text

    def card(self) -> Text:
        assert self.loaded is not None
        ticket, now = self.loaded.ticket, clock.now()
        text = Text()
        contact = ticket.contact_detail
        if contact is None:
            text.append(_("No caller on this ticket.") + "\n", style="italic")
        else:
            text.append_text(literal(contact.name, style="bold"))
            if contact.vip:
                text.append(" " + _("VIP"), style="bold reverse")
            text.append("\n")
            for value in (contact.organization, contact.phone, contact.mobile, contact.email):
                if value:
                    text.append_text(literal(value))
                    text.append("\n")
        if ticket.asset is not None:
            asset = ticket.asset
            text.append(_("Asset") + " ", style="bold")
            text.append_text(literal(f"{asset.product} ({asset.kind})"))
            if asset.serial_number:
                # Translators: short for "serial number".
                text.append(" · " + _("s/n") + " ")
                text.append_text(literal(asset.serial_number))
            text.append("\n")
        if ticket.category:
            text.append(_("Category") + " ", style="bold")
            text.append_text(literal(ticket.category))
            text.append("\n")
        text.append(
            _("Impact {impact} · urgency {urgency}").format(
                impact=level_label(ticket.impact), urgency=level_label(ticket.urgency)
            )
            + "\n"
        )
        if ticket.priority_reason:
            text.append_text(
                literal(_("Priority set by hand: {reason}").format(reason=ticket.priority_reason))
            )
            text.append("\n")
        for callback in self.loaded.callbacks:
            text.append(_("Callback") + " ", style="bold")
            text.append_text(
                literal(
                    _("{time} by {who}: {reason}").format(
                        time=local(callback.due_at, now),
                        who=callback.scheduled_by,
                        reason=callback.reason,
                    )
                )
            )
            text.append("\n")
        if ticket.links:
            text.append(_("Linked") + "\n", style="bold")
            for linked in ticket.links:
                kind = linked.kind
                words = link_label(kind)
                text.append(f" {linked.ref} {words} ")
                text.append(status_label(linked.status, short=True), style="dim")
                text.append(" ")
                text.append_text(literal(linked.subject))
                text.append("\n")
        if self.loaded.others:
            text.append(_("Caller's other tickets") + "\n", style="bold")
            for other in self.loaded.others:
                text.append(f" {other.ref} ")
                text.append(status_label(other.status, short=True), style="dim")
                text.append(" ")
                text.append_text(literal(other.subject))
                text.append("\n")
        text.rstrip()
        return text

    def show_timeline(self, ticket: TicketDetail) -> None:
        timeline = self.query_one("#timeline", VerticalScroll)
        at_end = timeline.scroll_y >= timeline.max_scroll_y
        timeline.remove_children()
        now = clock.now()
        entries = [
            Static(self.entry(event, now, unfolded=self.unfolded), classes=self.classes_for(event))
            for event in ticket.events
        ]
        if ticket.description:
            description = Text()
            description.append(_("Description") + "\n", style="bold")
            first = next(
                (
                    e.payload
                    for e in ticket.events
                    if isinstance(e.payload, CustomerMessage) and e.payload.text is None
                ),
                None,
            )
            description.append_text(self.mail_text(ticket.description, first, self.unfolded))
            entries.insert(1, Static(description, classes="event -description"))
        timeline.mount_all(entries)
        if at_end or self.loaded is None:
            timeline.call_after_refresh(timeline.scroll_end, animate=False)

    @staticmethod
    def classes_for(event: EventPublic) -> str:
        return f"event -{event.visibility}"

    @staticmethod
    def mail_text(shown: str, mail: CustomerMessage | None, unfolded: bool) -> Text:
        """A mail's new part and a dim line for what is folded; unfolded, the whole mail."""
        if mail is None or not mail.full_text or not mail.folded:
            return literal(shown, long=True)
        if unfolded:
            return literal(mail.full_text, long=True)
        text = literal(shown, long=True)
        text.append(
            "\n"
            # Translators: under a customer's mail on the ticket screen; z unfolds it.
            + ngettext(
                "… {count} quoted line folded (z shows it)",
                "… {count} quoted lines folded (z shows them)",
                mail.folded,
            ).format(count=mail.folded),
            style="dim",
        )
        return text

    @staticmethod
    def entry(event: EventPublic, now: Any, *, unfolded: bool = False) -> Text:
        text = Text()
        text.append(local(event.at, now), style="bold")
        text.append("  ")
        text.append_text(literal(f"{event.actor_name} ({event.actor})"))
        if event.visibility == "public":
            text.append("  " + _("customer-visible"), style="bold")
        else:
            text.append("  " + _("internal"), style="dim italic")
        if event.minutes is not None:
            text.append("  " + format_minutes(event.minutes), style="dim")
        text.append("\n")
        payload = event.payload
        long_text = None
        if isinstance(payload, Note):
            # Translators: an entry of the ticket's story: "Alice (alice) noted:" + the note.
            summary, long_text = _("noted:"), payload.text
        elif isinstance(payload, Resolved):
            summary = _("resolved it: {code}").format(code=payload.code)
            long_text = payload.text
        elif isinstance(payload, CallLogged) and payload.outcome:
            summary = event.summary.split(":", 1)[0] + ":"
            long_text = payload.outcome
        elif isinstance(payload, CustomerMessage) and payload.text:
            # The new part whole, as `ticket show` prints it; what it repeats is one line.
            text.append_text(literal(event.summary.split(":", 1)[0] + ":"))
            text.append("\n")
            text.append_text(TicketScreen.mail_text(payload.text, payload, unfolded))
            if payload.attachments:
                names = ", ".join(str(f.name or "?") for f in payload.attachments)
                text.append("\n")
                text.append_text(literal(_("[attached: {files}]").format(files=names)))
            return text
        else:
            summary = event.summary
        text.append_text(literal(summary))
        if long_text:
            text.append("\n")
            text.append_text(literal(long_text, long=True))
        return text

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "another_problem":
            return self.call is not None
        ticket = self.ticket
        if ticket is None:
            return action == "back"
        is_open = ticket.status in OPEN_STATUSES
        actor = self.app.actor
        mine = actor is not None and ticket.assignee == actor.login
        if action in ("status", "callback", "escalate", "reassign", "priority"):
            return is_open
        if action == "close_ticket":
            return ticket.status == Status.RESOLVED
        if action == "resolve":
            return is_open
        if action == "reopen":
            return ticket.status == Status.RESOLVED
        if action == "take":
            return is_open and not mine
        return True

    def action_back(self) -> None:
        self.dismiss()

    def action_toggle_folds(self) -> None:
        """Show every mail of the story whole, or fold quotes and signatures away again."""
        self.unfolded = not self.unfolded
        if self.ticket is not None:
            self.show_timeline(self.ticket)

    def action_another_problem(self) -> None:
        """The caller has another problem, on the call just saved: a new problem on the
        new-call screen, the caller filled in, linked to the call when saved."""
        call = self.call
        drafts = self.app.drafts
        if call is None or drafts is None:
            return
        kept = drafts.load()
        if kept is not None and kept.call_ref != call.call_ref:
            self.notify(
                _("Another call is half written: ctrl+n takes it up; save or bin it first."),
                title=_("Another problem"),
            )
            return
        if kept is None:
            try:
                drafts.save(call)
            except OSError as exc:
                self.notify(
                    _("The call cannot be kept: {error}").format(error=exc), severity="warning"
                )
                return
        # Once: the next save opens a ticket screen that carries the call on.
        self.call = None
        self.refresh_bindings()
        self.app.switch_mode("intake")

    def _open(self, modal: Any, done: str) -> None:
        """``done``: what the toast says once saved, a sentence with ``{ref}``."""

        def after(result: Any) -> None:
            self.editing = False
            self.be_seen()
            if result is not None:
                self.notify(done.format(ref=self.ticket.ref if self.ticket else ""), markup=False)
                self.load()

        self.editing = True
        self.be_seen()
        self.app.push_screen(modal, after)

    def action_note(self) -> None:
        from deskterm.tui.modals.ticket_actions import NoteModal

        if self.ticket:
            self._open(NoteModal(self.ticket), _("{ref}: note added."))

    def action_call(self) -> None:
        from deskterm.tui.modals.ticket_actions import CallModal

        if self.ticket:
            outbound = bool(self.loaded and self.loaded.callbacks)
            self._open(CallModal(self.ticket, outbound=outbound), _("{ref}: call logged."))

    def action_status(self) -> None:
        from deskterm.tui.modals.ticket_actions import StatusModal

        if self.ticket:
            self._open(StatusModal(self.ticket), _("{ref}: status changed."))

    def action_callback(self) -> None:
        from deskterm.tui.modals.ticket_actions import CallbackModal

        if self.ticket:
            self._open(CallbackModal(self.ticket), _("{ref}: callback scheduled."))

    def action_resolve(self) -> None:
        from deskterm.tui.modals.ticket_actions import ResolveModal

        if self.ticket and self.loaded:
            self._open(ResolveModal(self.ticket, self.loaded.codes), _("{ref}: resolved."))

    def action_reopen(self) -> None:
        from deskterm.desk.tickets import reopen
        from deskterm.tui.modals.ticket_actions import ReasonModal

        if self.ticket:
            modal = ReasonModal(
                self.ticket,
                title=_("Reopen"),
                prompt=_("Why does it need more work?"),
                action=reopen,
            )
            self._open(modal, _("{ref}: reopened."))

    def action_articles(self) -> None:
        from deskterm.tui.screens.article import TicketArticleModal

        if self.ticket:
            self._open(TicketArticleModal(self.ticket), _("{ref}: knowledge base updated."))

    def action_link(self) -> None:
        from deskterm.tui.modals.ticket_actions import LinkModal

        if self.ticket:
            self._open(LinkModal(self.ticket), _("{ref}: linked."))

    def action_escalate(self) -> None:
        from deskterm.tui.modals.ticket_actions import EscalateModal

        if self.ticket:
            self._open(EscalateModal(self.ticket), _("{ref}: escalated."))

    def action_reassign(self) -> None:
        from deskterm.tui.modals.ticket_actions import AssignModal

        if self.ticket:
            self._open(AssignModal(self.ticket), _("{ref}: reassigned."))

    def action_priority(self) -> None:
        from deskterm.tui.modals.ticket_actions import PriorityModal

        if self.ticket:
            self._open(PriorityModal(self.ticket), _("{ref}: priority changed."))

    def action_close_ticket(self) -> None:
        if self.ticket:
            self.query_one(DeskBar).busy = True
            self.close_it(self.ticket.id, self.ticket.version)

    @work(thread=True, exclusive=True, exit_on_error=False, group="close")
    def close_it(self, ticket_id: int, version: int) -> None:
        from deskterm.desk.tickets import close

        self.desk.write(close, ref=ticket_id, expected_version=version)
        self.app.call_from_thread(self.notify, _("Closed."), title=_("Closed"))
        self.app.call_from_thread(self.load)

    def action_take(self) -> None:
        from deskterm.desk.tickets import assign
        from deskterm.tui.modals.ticket_actions import ReasonModal

        ticket = self.ticket
        if ticket is None:
            return
        if ticket.assignee is None:
            self.query_one(DeskBar).busy = True
            self.take(ticket.id, ticket.version)
            return
        modal = ReasonModal(
            ticket,
            title=_("Take it over"),
            prompt=_("Why take it from {login}? (the customer is told)").format(
                login=ticket.assignee
            ),
            action=assign,
            to="me",
        )
        self._open(modal, _("{ref}: it is yours now."))

    @work(thread=True, exclusive=True, exit_on_error=False, group="take")
    def take(self, ticket_id: int, version: int) -> None:
        from deskterm.desk.tickets import assign

        desk = self.desk
        desk.write(assign, ref=ticket_id, to="me", expected_version=version)
        self.app.call_from_thread(self.notify, _("It is yours now."), title=_("Taken"))
        self.app.call_from_thread(self.load)
