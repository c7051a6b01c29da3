"""The top line of every screen: where you are, who you are, and whether the desk is live.

While the phone rings for the analyst (or a call they answered waits to be taken), two more
lines under it say who is calling: the screen-pop. Every screen has this bar, so the call
shows wherever the analyst is, and the cursor stays where it was.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Static

from deskterm.desk import clock
from deskterm.i18n import _, ngettext
from deskterm.tui.format import (
    fill,
    literal,
    local,
    priority_text,
    role_label,
    sla_text,
    status_label,
)

#: Seconds a worker may talk to the database before the bar says "working…": most answers
#: come sooner, and the word flashing on and off at every key cost two repaints of the bar.
BUSY_AFTER = 0.2


class DeskBar(Static):
    """``deskterm · Queue ···· Alice Agent (agent L1) · live``"""

    place: reactive[str] = reactive("", init=False)
    """What this screen is, as the analyst would say it."""
    busy: reactive[bool] = reactive(False, init=False)
    """A worker of this screen is talking to the database."""

    def __init__(self, place: str, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.set_reactive(DeskBar.place, place)
        self._shown: Text | None = None
        #: Whether "working…" is on the bar (``busy`` for longer than ``BUSY_AFTER``).
        self._busy_shown = False
        self._busy_timer: Timer | None = None

    def on_mount(self) -> None:
        self.set_interval(1.0, self.refresh_state)
        self.refresh_state()

    def refresh_state(self) -> None:
        bar = self._render_bar()
        pops = getattr(self.app, "pops", None)
        if pops:
            bar = Text("\n").join([bar, *self._render_call(pops)])
        if bar == self._shown:
            return  # the timer's tick most seconds, and a worker's busy sign turned back
        self._shown = bar
        ringing = bool(pops)
        relaid = ringing != self.has_class("-ringing")
        self.set_class(ringing, "-ringing")
        # One line whatever it says: repainted, never laid out again (a layout of the
        # screen at every page load and every second, otherwise); three while a call shows.
        self.update(bar, layout=relaid)

    def _render_call(self, pops: list[Any]) -> list[Text]:
        """Who is calling, in two lines: the caller, and their open tickets with their SLA
        clocks (or the number the desk does not know). Everything from the PBX or a person
        is data (``literal``)."""
        pop = pops[0]
        call = pop.call
        now = clock.now()
        head = Text(no_wrap=True, overflow="ellipsis")
        if call.state == "answered":
            said = _("answered {time}").format(time=local(call.answered_at, now))
            head.append(f"☎ {said} ", style="bold reverse")
        else:
            head.append(f"☎ {_('ringing')} ", style="bold reverse")
        head.append(" ")
        if call.contact:
            head.append_text(literal(call.contact, style="bold"))
            if pop.vip:
                head.append(f" {_('VIP')}", style="bold reverse")
            if pop.organization:
                head.append(" · ")
                head.append_text(literal(pop.organization))
            head.append(" · ")
            head.append_text(literal(call.caller_number))
        else:
            head.append_text(
                fill(_("unknown number {number}"), number=literal(call.caller_number, style="bold"))
            )
        if len(pops) > 1:
            more = len(pops) - 1
            head.append(
                " " + ngettext("(+{n} more)", "(+{n} more)", more).format(n=more), style="dim"
            )
        keys = Text("  " + _("f9 take · f10 dismiss"), style="bold")
        room = self.size.width - 2 - keys.cell_len if self.size.width else 0
        if room > 10:
            head.truncate(room, overflow="ellipsis", pad=True)
        head.append_text(keys)
        tickets = Text(no_wrap=True, overflow="ellipsis")
        if call.contact_id is None:
            tickets.append(
                "  " + _("f9 opens a new call with this number in Caller (ctrl+o adds them)")
            )
        elif not pop.tickets:
            tickets.append("  " + _("no open tickets"), style="italic")
        for index, ticket in enumerate(pop.tickets[:3]):
            tickets.append(" · " if index else "  ")
            tickets.append(f"{ticket.ref} ")
            tickets.append_text(priority_text(ticket.priority))
            tickets.append(f" {status_label(ticket.status, short=True)} ", style="dim")
            tickets.append_text(
                sla_text(
                    ticket.resolve_due_at,
                    now,
                    warn_at=ticket.resolve_warn_at,
                    paused=ticket.sla_paused_at is not None,
                )
            )
            tickets.append(" ")
            tickets.append_text(literal(ticket.subject[:30]))
        if len(pop.tickets) > 3:
            tickets.append(f" · +{len(pop.tickets) - 3}", style="dim")
        return [head, tickets]

    def watch_place(self) -> None:
        self.refresh_state()

    def watch_busy(self, busy: bool) -> None:
        if self._busy_timer is not None:
            self._busy_timer.stop()
            self._busy_timer = None
        if busy:
            self._busy_timer = self.set_timer(BUSY_AFTER, self._show_busy)
        elif self._busy_shown:
            self._busy_shown = False
            self.refresh_state()

    def _show_busy(self) -> None:
        self._busy_timer = None
        self._busy_shown = True
        self.refresh_state()

    def _render_bar(self) -> Text:
        app = self.app
        actor = getattr(app, "actor", None)
        offline = getattr(app, "offline", False)
        # The place can hold a caller's name (the new call's bar), the right side the analyst's.
        left = Text.assemble(("deskterm", "bold"), " · ", literal(self.place))
        right = Text()
        if self._busy_shown:
            right.append(_("working…") + " ", style="bold")
        if actor is not None:
            # Translators: the analyst in the top bar: "Alice Agent (agent L1)".
            who = _("{name} ({role} L{level})").format(
                name=actor.name, role=role_label(actor.role), level=actor.level
            )
            right.append_text(literal(who))
        right.append(" · ")
        right.append(
            # Translators: the top bar's state: the database is unreachable / answering.
            _("OFFLINE") if offline else _("live"),
            style="bold reverse" if offline else "",
        )
        self.set_class(offline, "-offline")
        if offline:
            # The banner: the line every screen has says what is wrong and that typing is
            # safe; on a narrow screen that matters more than whose session it is.
            said = Text(_("database unreachable, retrying; what you type is kept") + " · ", "bold")
            tail = Text.assemble(said, (_("OFFLINE"), "bold reverse"))
            room = self.size.width - left.cell_len - 1
            right = Text.assemble(said, right) if room >= said.cell_len + right.cell_len else tail
            if room < right.cell_len:
                right = Text.assemble(
                    (_("retrying") + " · ", "bold"), (_("OFFLINE"), "bold reverse")
                )
        gap = max(1, self.size.width - left.cell_len - right.cell_len)
        return Text.assemble(left, " " * gap, right)

    def on_resize(self) -> None:
        self.refresh_state()
