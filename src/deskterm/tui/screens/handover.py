"""Handover, for supervisors: pick an analyst (say, one who is away), select their open
tickets, and hand them all to another analyst or group with one note.

It follows the desk as the queue does: a ticket resolved or moved by someone else meanwhile
leaves the list (and the handover) at once, the ticks of the others stay as they were."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Select, SelectionList, Static
from textual.widgets.selection_list import Selection
from textual.worker import Worker, WorkerState

from deskterm.domain.enums import Availability
from deskterm.domain.errors import ConflictError, DeskError
from deskterm.i18n import N_, _, ngettext, pgettext
from deskterm.tui.base import DeskScreen
from deskterm.tui.format import clip, fit_labels, literal, priority_text, status_label
from deskterm.tui.messages import DeskUpdated
from deskterm.tui.modals.base import FieldError
from deskterm.tui.widgets.bar import DeskBar
from deskterm.tui.widgets.footer import KeyFooter
from deskterm.tui.widgets.jump import JumpSelect, JumpTable, words_of
from deskterm.tui.widgets.tell import TellCustomer

if TYPE_CHECKING:
    from deskterm.desk.schemas import AnalystPublic, GroupPublic, TicketPublic


class HandoverScreen(DeskScreen[None]):
    BINDINGS = [
        Binding("ctrl+s", "hand_over", N_("Hand over"), priority=True, id="hand_over"),
        # Plain keys: in the note field they are letters, in the lists they tick.
        Binding("a", "select_all", N_("Tick all"), id="select_all"),
        Binding("n", "select_none", N_("Tick none"), id="select_none"),
        Binding("escape", "back", N_("Back"), id="back"),
        Binding(
            "ctrl+w",
            "mark_away",
            N_("Mark away"),
            tooltip=N_("Mark the highlighted analyst away with a backup (or back)"),
            id="mark_away",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.analysts: list[AnalystPublic] = []
        self.versions: dict[int, int] = {}
        #: Whose tickets the list shows (their ticks are the supervisor's to keep).
        self.shown_for: str | None = None
        self.source: str | None = None
        self.saving = False
        #: The desk changed while a dialog was on top: read again when it closes.
        self.stale = False

    def compose(self) -> ComposeResult:
        yield DeskBar(_("Handover"), id="bar")
        with Horizontal(id="handover-body"):
            with Vertical(id="people"):
                yield Static(_("Analysts · type to jump · enter to the note"), classes="section")
                yield JumpTable(id="analysts", cursor_type="row", zebra_stripes=True)
            with Vertical(id="their-tickets"):
                yield Static(_("Open tickets · space ticks"), id="tickets-title", classes="section")
                yield SelectionList[int](id="tickets")
        with Vertical(id="handover-form"):
            with Horizontal(classes="row"):
                yield Static(_("Give to"), classes="row-label")
                yield JumpSelect(
                    [], id="to", prompt=_("(choose an analyst or a group)"), compact=True
                )
            yield FieldError("to")
            with Horizontal(classes="row"):
                yield Static(_("Note"), classes="row-label")
                yield Input(
                    placeholder=_("Why they move (internal: each ticket's log, for colleagues)"),
                    id="note",
                    compact=True,
                )
            yield FieldError("note")
            yield TellCustomer("assigned", self.preview_context, id="tell-customer")
            yield FieldError("tickets")
        yield KeyFooter()

    def on_mount(self) -> None:
        # "Give to", "Note": 10 cells in English (app.tcss), wider where a language needs.
        fit_labels(self.query(".row-label"), 10)
        table = self.query_one("#analysts", DataTable)
        # Wide enough for the header and the words in the column, in the analyst's language.
        here = max(4, cell_len(_("away")), cell_len(_("yes")))
        for key, title, width in (
            ("login", _("Analyst"), 22),
            # Translators: a column: whether the analyst is at the desk ("yes", or "away").
            ("here", _("Here"), here),
            # Translators: a column: how many open tickets the analyst holds.
            ("open", pgettext("tickets held", "Open"), 4),
        ):
            table.add_column(title, key=key, width=max(width, cell_len(title)))
        table.focus()
        self.load_people()

    def action_back(self) -> None:
        self.dismiss()

    @on(DeskUpdated)
    def follow_desk(self) -> None:
        """Someone changed a ticket: read the analysts and the tickets again, now if on
        screen, else when the dialog on top closes."""
        if self.is_current:
            self.reload()
        else:
            self.stale = True

    def on_screen_resume(self) -> None:
        if self.stale:
            self.reload()

    def reload(self) -> None:
        self.stale = False
        self.load_people()
        if self.source:
            self.load_tickets(self.source)

    # ------------------------------------------------------------------ loading

    @work(thread=True, exclusive=True, exit_on_error=False, group="people")
    def load_people(self) -> None:
        from deskterm.desk.analysts import list_analysts, list_groups

        desk = self.desk
        analysts, groups = desk.read(lambda s, a: (list_analysts(s, a), list_groups(s, a)))
        self.app.call_from_thread(self.show_people, analysts, groups)

    def show_people(self, analysts: list[AnalystPublic], groups: list[GroupPublic]) -> None:
        self.analysts = analysts
        table = self.query_one("#analysts", JumpTable)
        # The first time, the cursor starts on the first analyst away with work to hand over.
        kept = self.source or next(
            (a.login for a in analysts if a.availability == Availability.AWAY and a.open_tickets),
            None,
        )
        table.clear()
        for analyst in analysts:
            away = analyst.availability == Availability.AWAY
            table.add_row(
                literal(clip(f"{analyst.name} ({analyst.login})", 22)),
                Text(_("away"), style="bold reverse") if away else Text(_("yes")),
                Text(str(analyst.open_tickets), justify="right"),
                key=analyst.login,
                jump=words_of(analyst.name, analyst.login),
            )
        if kept is not None and any(a.login == kept for a in analysts):
            table.move_cursor(row=table.get_row_index(kept), animate=False)
        targets = self.query_one("#to", JumpSelect)
        current = targets.value
        targets.set_options(
            [(literal(self.describe(a)), f"analyst:{a.login}") for a in analysts]
            + [
                (
                    literal(_("Group queue: {name} (L{level})").format(name=g.name, level=g.level)),
                    f"group:{g.name}",
                )
                for g in groups
            ]
        )
        targets.jump_words = {f"analyst:{a.login}": words_of(a.name, a.login) for a in analysts}
        targets.jump_words.update({f"group:{g.name}": words_of(g.name) for g in groups})
        if isinstance(current, str):
            targets.value = current
        elif self.source:
            self.propose_target(self.source)

    @staticmethod
    def describe(analyst: AnalystPublic) -> str:
        from deskterm.tui.modals.away import AwayModal

        return AwayModal.describe(analyst)

    @on(DataTable.RowHighlighted, "#analysts")
    def choose_source(self, event: DataTable.RowHighlighted) -> None:
        login = event.row_key.value
        if login and login != self.source:
            self.source = login
            self.propose_target(login)
            self.load_tickets(login)

    def propose_target(self, login: str) -> None:
        """Propose "Give to": their backup, or the colleague who would cover best."""
        from deskterm.desk.away import best_backup

        proposed = best_backup(self.analysts, login)
        targets = self.query_one("#to", JumpSelect)
        if proposed is not None and f"analyst:{proposed}" in targets.jump_words:
            targets.value = f"analyst:{proposed}"
        else:
            targets.clear()

    @on(DataTable.RowSelected, "#analysts")
    def to_note(self) -> None:
        # Every ticket is ticked and "Give to" proposed: what is left to do is the note.
        # (tab goes to the tickets, to untick some.)
        chosen = isinstance(self.query_one("#to", Select).value, str)
        self.query_one("#note" if chosen else "#to").focus()

    @on(Select.Changed, "#to")
    def target_changed(self) -> None:
        self.query_one(TellCustomer).refresh_preview()

    def preview_context(self) -> dict[str, Any]:
        people = {a.login: a for a in self.analysts}
        target = self.query_one("#to", Select).value
        kind, _sep, name = target.partition(":") if isinstance(target, str) else ("", "", "")
        holder = people.get(name) if kind == "analyst" else None
        source = people.get(self.source or "")
        away = source if source and source.availability == Availability.AWAY else None
        return {
            "holder": holder.name if holder else None,
            "group": name if kind == "group" else None,
            "because": "away" if away else "team" if kind == "group" else "colleague",
            "away": away.name if away else None,
        }

    def action_mark_away(self) -> None:
        from deskterm.tui.modals.away import AwayModal

        if self.source:
            self.app.push_screen(AwayModal(self.source), self.marked)

    def marked(self, result: Any) -> None:
        if result is not None:
            self.reload()

    @work(thread=True, exclusive=True, exit_on_error=False, group="tickets")
    def load_tickets(self, login: str) -> None:
        from deskterm.desk.tickets import list_tickets

        tickets = self.desk.read(list_tickets, assignee=login, limit=1000)
        self.app.call_from_thread(self.show_tickets, login, tickets)

    def show_tickets(self, login: str, tickets: list[TicketPublic]) -> None:
        if login != self.source:
            return
        listing: SelectionList[int] = self.query_one("#tickets", SelectionList)
        # The same analyst's list read again (the desk changed): the ticks stay as they
        # were; a ticket new to the list is ticked only if every one was.
        again = self.shown_for == login
        ticked = set(listing.selected) if again else set()
        every = not again or len(ticked) == len(self.versions)
        highlighted = listing.highlighted
        at = listing.get_option_at_index(highlighted).value if highlighted is not None else None
        known = set(self.versions) if again else set()
        self.versions = {t.id: t.version for t in tickets}
        self.shown_for = login
        listing.clear_options()
        width = max(20, listing.size.width - 24)
        for ticket in tickets:
            line = Text(f"{ticket.ref} ")
            line.append_text(priority_text(ticket.priority))
            status = status_label(ticket.status, short=True)
            line.append(f" {status}{' ' * max(0, 9 - cell_len(status))}", style="dim")
            line.append_text(literal(clip(ticket.subject, width)))
            tick = ticket.id in ticked or (ticket.id not in known and every)
            listing.add_option(Selection(line, ticket.id, initial_state=tick))
        if at in self.versions:
            listing.highlighted = list(self.versions).index(at)
        title = self.query_one("#tickets-title", Static)
        title.update(
            literal(
                _("Open tickets of {login}: {n} · space ticks").format(login=login, n=len(tickets))
            )
        )

    def action_select_all(self) -> None:
        self.query_one("#tickets", SelectionList).select_all()

    def action_select_none(self) -> None:
        self.query_one("#tickets", SelectionList).deselect_all()

    # ------------------------------------------------------------------ handing over

    def action_hand_over(self) -> None:
        if self.saving:
            return
        chosen = list(self.query_one("#tickets", SelectionList).selected)
        target = self.query_one("#to", Select).value
        note = self.query_one("#note", Input).value
        self.clear_errors()
        kwargs: dict[str, Any] = {
            "versions": {i: self.versions[i] for i in chosen},
            "note": note,
            "public_reason": self.query_one(TellCustomer).told,
        }
        if isinstance(target, str):
            kind, _sep, name = target.partition(":")
            kwargs["to" if kind == "analyst" else "group"] = name
        self.saving = True
        self.query_one(DeskBar).busy = True
        self.hand(kwargs)

    @work(thread=True, exclusive=True, exit_on_error=False, group="handover")
    def hand(self, kwargs: dict[str, Any]) -> None:
        from deskterm.desk.handover import hand_over

        moved = self.desk.write(hand_over, **kwargs)
        self.app.call_from_thread(self.handed, moved)

    def handed(self, moved: list[TicketPublic]) -> None:
        self.saving = False
        self.query_one(DeskBar).busy = False
        holders = sorted({t.assignee or t.group or "" for t in moved})
        self.notify(
            ngettext(
                "Handed {n} ticket to {holders}.", "Handed {n} tickets to {holders}.", len(moved)
            ).format(n=len(moved), holders=", ".join(holders)),
            markup=False,
        )
        self.query_one("#note", Input).value = ""
        self.reload()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        self.query_one(DeskBar).busy = False
        if event.worker.group != "handover":
            return
        event.stop()
        self.saving = False
        error = event.worker.error
        field = getattr(error, "field", None)
        message = str(error) if isinstance(error, DeskError) else self.app.describe_error(error)
        box = next(self.query(f"#error-{field}").results(Static), None) if field else None
        if box is not None:
            box.update(literal(message))
            box.display = True
            return
        self.notify(message, title=_("Not handed over"), severity="error", markup=False)
        if isinstance(error, ConflictError) and self.source:
            # Show the tickets as they are now; the note stays as typed.
            self.load_tickets(self.source)

    def clear_errors(self) -> None:
        for widget in self.query(".field-error"):
            widget.display = False
