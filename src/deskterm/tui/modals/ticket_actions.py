"""The dialogs of the ticket screen: one desk change each."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import (
    Checkbox,
    DataTable,
    Input,
    OptionList,
    RadioButton,
    RadioSet,
    Select,
    Static,
    TextArea,
)
from textual.widgets.option_list import Option

from deskterm.desk import clock
from deskterm.domain.enums import Availability, LinkKind, Status
from deskterm.domain.errors import InvalidInput
from deskterm.domain.transitions import ALLOWED
from deskterm.i18n import N_, _, format_date, format_number, pgettext
from deskterm.tui.format import (
    clock_face,
    fill,
    level_label,
    literal,
    local,
    parse_duration,
    plain,
    status_label,
)
from deskterm.tui.modals.base import FieldError, FormModal, label
from deskterm.tui.widgets.jump import JumpTable
from deskterm.tui.widgets.notearea import NoteArea
from deskterm.tui.widgets.tell import TellCustomer

if TYPE_CHECKING:
    from deskterm.desk.callbacks import CallbackProposal
    from deskterm.desk.schemas import AnalystPublic, GroupPublic, TicketDetail, TicketPublic


class TicketModal(FormModal):
    """A dialog about one ticket, saved against the version the analyst was looking at."""

    def __init__(self, ticket: TicketPublic, **kwargs: Any) -> None:
        title = kwargs.pop("title", None) or _("{title} · {ref}").format(
            title=_(self.TITLE_TEXT), ref=ticket.ref
        )
        super().__init__(title=title, expected_version=ticket.version, **kwargs)
        self.ticket = ticket

    def current_version(self, desk: Any) -> int | None:
        from deskterm.desk.tickets import get_ticket

        return int(desk.read(get_ticket, ref=self.ticket.id).version)

    def base(self) -> dict[str, Any]:
        return {"ref": self.ticket.id, "expected_version": self.expected_version}


def _text_area(field: str, ticket: TicketPublic) -> NoteArea:
    return NoteArea(id=field, ticket=ticket)


def _minutes_field(hint: str = "") -> ComposeResult:
    """The optional "Minutes" worked on the change (issue 21): digits only, a day at most.
    Label and field on one line: on its own the field fell below the fold of the note
    dialog at 80x24."""
    with Horizontal(classes="minutes-row"):
        yield label(_("Minutes worked (optional)"))
        yield Input(id="minutes", restrict=r"[0-9]*", max_length=4, placeholder=hint, compact=True)
    yield FieldError("minutes")


def _minutes(modal: TicketModal) -> int | None:
    from deskterm.domain.worked import parse_minutes

    return parse_minutes(modal.query_one("#minutes", Input).value)


# --------------------------------------------------------------------------- note


class NoteModal(TicketModal):
    TITLE_TEXT = N_("Add a note")

    def fields(self) -> ComposeResult:
        yield label(_("Note"))
        yield _text_area("note", self.ticket)
        yield FieldError("note")
        yield Checkbox(_("Customer-visible (public)"), id="public", compact=True)
        yield from _minutes_field()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#note").focus()

    def request(self) -> tuple[Callable[..., Any], dict[str, Any]]:
        from deskterm.desk.tickets import add_note

        return add_note, {
            **self.base(),
            "text": self.query_one("#note", TextArea).text,
            "public": self.query_one("#public", Checkbox).value,
            "minutes": _minutes(self),
        }


# --------------------------------------------------------------------------- call


class CallModal(TicketModal):
    """Log a call on the ticket; the duration runs from the moment the dialog opened."""

    TITLE_TEXT = N_("Log a call")

    def __init__(self, ticket: TicketDetail, *, outbound: bool = False) -> None:
        super().__init__(ticket)
        self.outbound = outbound
        self.opened = clock.now()
        self.duration_edited = False
        #: What the timer last wrote: any other value was typed by the analyst.
        self.shown = clock_face(0)

    def fields(self) -> ComposeResult:
        yield label(_("Direction"))
        with RadioSet(id="direction", compact=True):
            yield RadioButton(_("Inbound (they called)"), value=not self.outbound, id="inbound")
            yield RadioButton(_("Outbound (we called)"), value=self.outbound, id="outbound")
        yield label(_("Duration (mm:ss, runs while this is open)"))
        yield Input(self.shown, id="duration", compact=True)
        yield FieldError("duration")
        yield label(_("Outcome"))
        yield _text_area("outcome", self.ticket)
        yield FieldError("outcome")
        yield from _minutes_field(_("empty: the duration, rounded up"))

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(1, self.tick)
        self.query_one("#outcome").focus()

    def tick(self) -> None:
        if not self.duration_edited:
            seconds = int((clock.now() - self.opened).total_seconds())
            self.shown = clock_face(seconds)
            self.query_one("#duration", Input).value = self.shown

    @on(Input.Changed, "#duration")
    def stop_timer(self, event: Input.Changed) -> None:
        if event.value != self.shown:
            self.duration_edited = True

    def request(self) -> tuple[Callable[..., Any], dict[str, Any]]:
        from deskterm.desk.tickets import log_call

        try:
            seconds = parse_duration(self.query_one("#duration", Input).value)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="duration") from None
        outbound = self.query_one("#outbound", RadioButton).value
        return log_call, {
            **self.base(),
            "direction": "outbound" if outbound else "inbound",
            "duration_seconds": seconds,
            "outcome": self.query_one("#outcome", TextArea).text,
            "minutes": _minutes(self),
        }


# --------------------------------------------------------------------------- status


class StatusModal(TicketModal):
    TITLE_TEXT = N_("Change status")

    def fields(self) -> ComposeResult:
        current = Status(self.ticket.status)
        targets = [
            s
            for s in Status
            if s in ALLOWED.get(current, frozenset()) and s not in (Status.RESOLVED, Status.CLOSED)
        ]
        yield Static(Text(_("Now: {status}").format(status=status_label(current)), style="dim"))
        yield OptionList(*[Option(status_label(s), id=s.value) for s in targets], id="status")
        yield FieldError("status")
        yield label(_("Reason (needed to cancel)"))
        yield Input(id="reason", compact=True)
        yield FieldError("reason")
        yield from _minutes_field()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#status").focus()

    @on(OptionList.OptionSelected, "#status")
    def to_reason(self) -> None:
        self.query_one("#reason").focus()

    def request(self) -> tuple[Callable[..., Any], dict[str, Any]]:
        from deskterm.desk.tickets import change_status

        options = self.query_one("#status", OptionList)
        if options.highlighted is None:
            raise InvalidInput(_("choose the new status"), field="status")
        target = options.get_option_at_index(options.highlighted).id
        return change_status, {
            **self.base(),
            "status": target,
            "reason": self.query_one("#reason", Input).value or None,
            "minutes": _minutes(self),
        }


# --------------------------------------------------------------------------- callback


class CallbackModal(TicketModal):
    """When and why; the follow-up cadence of the ticket's priority proposes the next call."""

    TITLE_TEXT = N_("Schedule a callback")

    def fields(self) -> ComposeResult:
        # Translators: the examples are what the field understands. It reads English, German,
        # Portuguese and Czech words (desk/callbacks.py): "morgen 9:00", "in 2 Std.",
        # "amanhã 9:00", "em 2 horas", "zítra 9:00", "za 2 h", and day-first dates "26.11.".
        yield label(_("When (15:30, in 2h, tomorrow 9:00, 2026-11-26 10:00)"))
        yield Input(id="when", compact=True)
        yield Static(id="when-preview", classes="hint")
        yield Static(id="cadence", classes="hint")
        yield FieldError("when")
        yield label(_("Why (the customer is told)"))
        yield Input(id="reason", compact=True)
        yield FieldError("reason")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#when").focus()
        self.load_proposal()

    @work(thread=True, exclusive=True, exit_on_error=False, group="proposal")
    def load_proposal(self) -> None:
        from deskterm.desk.callbacks import propose_callback

        proposal = self.desk.read(propose_callback, ref=self.ticket.id)
        if proposal is not None:
            self.app.call_from_thread(self.show_proposal, proposal)

    def show_proposal(self, proposal: CallbackProposal) -> None:
        """Fill in the cadence's proposal unless the analyst has started typing."""
        if proposal.calendar == "24x7":
            said = _("{priority}: call back every {hours} hours")
        else:
            said = _("{priority}: call back every {hours} working hours")
        hours = format_number(proposal.every_hours)
        self.query_one("#cadence", Static).update(
            Text(said.format(priority=proposal.priority, hours=hours))
        )
        when = self.query_one("#when", Input)
        if not when.value:
            when.value = proposal.due_at.astimezone().strftime("%Y-%m-%d %H:%M")
            # Selected, so that typing another time replaces the proposal.
            when.select_all()
        reason = self.query_one("#reason", Input)
        if not reason.value:
            reason.value = plain(proposal.reason)

    def due(self) -> datetime:
        from deskterm.desk.callbacks import parse_when

        return parse_when(self.query_one("#when", Input).value, clock.now().astimezone())

    @on(Input.Changed, "#when")
    def preview(self) -> None:
        preview = self.query_one("#when-preview", Static)
        try:
            due = self.due()
        except InvalidInput:
            preview.update("")
            return
        preview.update(Text(f"→ {local(due, clock.now())} ({format_date(due.astimezone())})"))

    def request(self) -> tuple[Callable[..., Any], dict[str, Any]]:
        from deskterm.desk.callbacks import schedule_callback

        return schedule_callback, {
            **self.base(),
            "due_at": self.due(),
            "reason": self.query_one("#reason", Input).value,
        }


# --------------------------------------------------------------------------- resolve


class ResolveModal(TicketModal):
    TITLE_TEXT = N_("Resolve")

    def __init__(self, ticket: TicketDetail, codes: dict[str, str]) -> None:
        super().__init__(ticket)
        self.codes = codes

    def fields(self) -> ComposeResult:
        yield label(_("Resolution code"))
        yield Select(
            # The desk's codes and labels, as an admin typed them: Text, never markup.
            [(literal(f"{label_} ({code})"), code) for code, label_ in self.codes.items()],
            id="code",
            prompt=_("Choose how it was solved"),
            compact=True,
        )
        yield FieldError("code")
        yield label(_("What was done (the customer reads this)"))
        yield _text_area("resolution", self.ticket)
        yield FieldError("resolution")
        yield from _minutes_field()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#code").focus()

    def request(self) -> tuple[Callable[..., Any], dict[str, Any]]:
        from deskterm.desk.tickets import resolve

        code = self.query_one("#code", Select).value
        if not isinstance(code, str):
            raise InvalidInput(_("choose a resolution code"), field="code")
        return resolve, {
            **self.base(),
            "code": code,
            "text": self.query_one("#resolution", TextArea).text,
            "minutes": _minutes(self),
        }


# --------------------------------------------------------------------------- reason only


class ReasonModal(TicketModal):
    """A change that needs only a reason: reopen, take it from someone else."""

    def __init__(
        self,
        ticket: TicketDetail,
        *,
        title: str,
        prompt: str,
        action: Callable[..., Any],
        **arguments: Any,
    ) -> None:
        super().__init__(ticket, title=_("{title} · {ref}").format(title=title, ref=ticket.ref))
        self.prompt = prompt
        self.action = action
        self.arguments = arguments

    def fields(self) -> ComposeResult:
        yield label(self.prompt)
        yield Input(id="reason", compact=True)
        yield FieldError("reason")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#reason").focus()

    @on(Input.Submitted, "#reason")
    def submit(self) -> None:
        self.action_save()

    def request(self) -> tuple[Callable[..., Any], dict[str, Any]]:
        return self.action, {
            **self.base(),
            **self.arguments,
            "reason": self.query_one("#reason", Input).value,
        }


# --------------------------------------------------------------------------- link


class LinkModal(TicketModal):
    TITLE_TEXT = N_("Link to another ticket")

    KINDS = (
        # Translators: completes "This ticket is …" (the label above the choice).
        (LinkKind.RELATED, N_("related to")),
        (LinkKind.DUPLICATE_OF, N_("a duplicate of")),
        (LinkKind.PARENT_OF, N_("the parent of")),
        (LinkKind.CHILD_OF, N_("a child of")),
    )

    def fields(self) -> ComposeResult:
        yield label(_("This ticket is"))
        yield Select(
            [(_(words), kind.value) for kind, words in self.KINDS],
            value=LinkKind.RELATED.value,
            id="kind",
            allow_blank=False,
            compact=True,
        )
        yield label(_("Other ticket (DT-000123, #123 or 123)"))
        yield Input(id="other", compact=True)
        yield FieldError("other")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#other").focus()

    def request(self) -> tuple[Callable[..., Any], dict[str, Any]]:
        from deskterm.desk.tickets import link

        other = self.query_one("#other", Input).value.strip()
        if not other:
            raise InvalidInput(_("name the other ticket"), field="other")
        # Linking never conflicts: both logs only gain a line.
        return link, {
            "ref": self.ticket.id,
            "other": other,
            "kind": str(self.query_one("#kind", Select).value),
        }


# --------------------------------------------------------------------------- assign


class AssignModal(TicketModal):
    """Reassign to an analyst, seeing who is available and how much each one holds; typing
    letters jumps to an analyst. The reason is internal; the customer is told who has it
    now and why in fixed words, plus what the analyst chooses to tell them."""

    TITLE_TEXT = N_("Reassign")

    def __init__(self, ticket: TicketDetail) -> None:
        super().__init__(ticket)
        self.analysts: list[AnalystPublic] = []

    def fields(self) -> ComposeResult:
        holder = self.ticket.assignee or _("nobody")
        group = self.ticket.group or _("no group")
        yield Static(literal(_("Now with {holder} in {group}").format(holder=holder, group=group)))
        yield Static(Text(_("Type a name or login to jump to it"), style="dim"))
        yield JumpTable(id="to", cursor_type="row", zebra_stripes=True)
        yield FieldError("to")
        yield label(_("Reason (internal, for colleagues)"))
        yield Input(
            placeholder=_("why it moves: stays in the ticket's log"), id="reason", compact=True
        )
        yield FieldError("reason")
        yield TellCustomer("assigned", self.preview_context, id="tell-customer")

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one("#to", JumpTable)
        table.add_column(_("Login"), key="login")
        table.add_column(_("Name"), key="name")
        # Translators: a column: whether the analyst is at the desk ("yes", or "away").
        table.add_column(_("Here"), key="here")
        # Translators: a column: how many open tickets the analyst holds.
        table.add_column(pgettext("tickets held", "Open"), key="open")
        table.add_column(_("Groups"), key="groups")
        table.loading = True
        table.focus()
        self.load_analysts()

    @work(thread=True, exclusive=True, exit_on_error=False, group="analysts")
    def load_analysts(self) -> None:
        from deskterm.desk.analysts import list_analysts

        analysts = self.desk.read(list_analysts)
        self.app.call_from_thread(self.show_analysts, analysts)

    def show_analysts(self, analysts: list[AnalystPublic]) -> None:
        from deskterm.tui.widgets.jump import words_of

        self.analysts = analysts
        table = self.query_one("#to", JumpTable)
        table.loading = False
        table.focus()
        for analyst in analysts:
            away = analyst.availability == Availability.AWAY
            here = Text()
            here.append(_("away") if away else _("yes"), style="bold reverse" if away else "")
            if away and analyst.backup:
                here.append(" → ")
                here.append_text(literal(analyst.backup))
            table.add_row(
                literal(analyst.login),
                literal(analyst.name),
                here,
                Text(str(analyst.open_tickets), justify="right"),
                literal(", ".join(analyst.groups)),
                key=analyst.login,
                jump=words_of(analyst.name, analyst.login),
            )

    @on(DataTable.RowSelected, "#to")
    def to_reason(self) -> None:
        self.query_one("#reason").focus()

    @on(DataTable.RowHighlighted, "#to")
    def chosen(self) -> None:
        self.query_one(TellCustomer).refresh_preview()

    def chosen_login(self) -> str | None:
        table = self.query_one("#to", JumpTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def preview_context(self) -> dict[str, Any]:
        people = {a.login: a for a in self.analysts}
        target = people.get(self.chosen_login() or "")
        holder = people.get(self.ticket.assignee or "")
        away = None
        if target is not None and target.availability == Availability.AWAY and target.backup:
            away, target = target, people.get(target.backup, target)
        elif holder is not None and holder.availability == Availability.AWAY:
            away = holder
        return {
            "holder": target.name if target else None,
            "group": self.ticket.group,
            "because": "away" if away else "colleague" if holder else None,
            "away": away.name if away else None,
            "ref": self.ticket.ref,
            "subject": self.ticket.subject,
            "name": self.ticket.contact or "",
            # The preview in the words the customer will read.
            "language": _contact_language(self.ticket),
        }

    def request(self) -> tuple[Callable[..., Any], dict[str, Any]]:
        from deskterm.desk.tickets import assign

        login = self.chosen_login()
        if login is None:
            raise InvalidInput(_("no analyst to choose"), field="to")
        return assign, {
            **self.base(),
            "to": login,
            "reason": self.query_one("#reason", Input).value or None,
            "public_reason": self.query_one(TellCustomer).told,
        }


# --------------------------------------------------------------------------- escalate


class EscalateModal(TicketModal):
    """Up one level along the path, to a named group, or to a supervisor; always with why."""

    TITLE_TEXT = N_("Escalate")

    def __init__(self, ticket: TicketDetail) -> None:
        super().__init__(ticket)
        self.targets: dict[str, dict[str, Any]] = {}
        #: What the customer's preview needs of each target, beside its desk arguments.
        self.shown: dict[str, dict[str, Any]] = {}

    def fields(self) -> ComposeResult:
        yield Static(
            literal(
                _("Now at level {level} with {group}").format(
                    level=self.ticket.level, group=self.ticket.group or _("no group")
                )
            )
        )
        yield OptionList(id="target")
        yield FieldError("target")
        yield label(_("Reason (required; internal, for colleagues)"))
        yield Input(
            placeholder=_("what is needed, so nobody asks the customer again"),
            id="reason",
            compact=True,
        )
        yield FieldError("reason")
        yield TellCustomer("escalated", self.preview_context, id="tell-customer")

    def preview_context(self) -> dict[str, Any]:
        target = self.target()
        common: dict[str, Any] = {"ref": self.ticket.ref, "subject": self.ticket.subject}
        common["name"] = self.ticket.contact or ""
        common["language"] = _contact_language(self.ticket)
        if "to" in target:
            return {
                **common,
                "notice": "assigned",
                "holder": target.get("name"),
                "group": self.ticket.group,
                "because": "specialist",
            }
        level = int(target.get("level") or target.get("group_level") or self.ticket.level + 1)
        return {
            **common,
            "holder": None,
            "group": target.get("group") or f"level-{level}",
            "because": "specialist",
            "level": level,
        }

    def target(self) -> dict[str, Any]:
        options = self.query_one("#target", OptionList)
        if options.highlighted is None:
            return {}
        key = options.get_option_at_index(options.highlighted).id or ""
        return {**self.targets.get(key, {}), **self.shown.get(key, {})}

    @on(OptionList.OptionHighlighted, "#target")
    def chosen(self) -> None:
        self.query_one(TellCustomer).refresh_preview()

    def on_mount(self) -> None:
        super().on_mount()
        options = self.query_one("#target", OptionList)
        options.loading = True
        options.focus()
        self.load_targets()

    @work(thread=True, exclusive=True, exit_on_error=False, group="targets")
    def load_targets(self) -> None:
        from deskterm.desk.analysts import list_analysts, list_groups

        desk = self.desk
        groups = desk.read(list_groups)
        analysts = desk.read(list_analysts)
        self.app.call_from_thread(self.show_targets, groups, analysts)

    def show_targets(self, groups: list[GroupPublic], analysts: list[AnalystPublic]) -> None:
        options = self.query_one("#target", OptionList)
        options.loading = False
        level = self.ticket.level
        if level < 3:
            self.targets["level"] = {"level": level + 1}
            options.add_option(
                Option(
                    _("Next level: L{level} along the escalation path").format(level=level + 1),
                    "level",
                )
            )
        for group in groups:
            if group.level >= level and group.name != self.ticket.group:
                key = f"group-{group.id}"
                self.targets[key] = {"group": group.name}
                self.shown[key] = {"group_level": group.level}
                said = _("Group: {name} (L{level})").format(name=group.name, level=group.level)
                options.add_option(Option(literal(said), key))
        for analyst in analysts:
            if analyst.role in ("supervisor", "admin") and analyst.login != self.ticket.assignee:
                key = f"sup-{analyst.id}"
                self.targets[key] = {"to": analyst.login}
                self.shown[key] = {"name": analyst.name}
                if analyst.availability == Availability.AWAY:
                    text = _("Supervisor: {name} ({login}, away)")
                else:
                    text = _("Supervisor: {name} ({login}, here)")
                text = text.format(name=analyst.name, login=analyst.login)
                options.add_option(Option(literal(text), key))
        if options.option_count:
            options.highlighted = 0
        options.focus()

    @on(OptionList.OptionSelected, "#target")
    def to_reason(self) -> None:
        self.query_one("#reason").focus()

    def request(self) -> tuple[Callable[..., Any], dict[str, Any]]:
        from deskterm.desk.tickets import assign, escalate

        options = self.query_one("#target", OptionList)
        if options.highlighted is None:
            raise InvalidInput(_("choose where it goes"), field="target")
        key = options.get_option_at_index(options.highlighted).id or ""
        target = self.targets[key]
        reason = self.query_one("#reason", Input).value
        told = self.query_one(TellCustomer).told
        if "to" in target:
            # A supervisor takes it personally; the reason is the escalation's why.
            if not reason.strip():
                raise InvalidInput(_("say why it is escalated"), field="reason")
            return assign, {
                **self.base(),
                "to": target["to"],
                "reason": reason,
                "public_reason": told,
            }
        return escalate, {**self.base(), **target, "reason": reason, "public_reason": told}


# --------------------------------------------------------------------------- priority


class PriorityModal(TicketModal):
    """Impact and urgency, with the priority they give shown live; an override needs a reason."""

    TITLE_TEXT = N_("Impact, urgency, priority")

    def fields(self) -> ComposeResult:
        levels = [(level_label(level), level) for level in ("high", "medium", "low")]
        yield label(_("Impact"))
        yield Select(levels, id="impact", value=self.ticket.impact, allow_blank=False, compact=True)
        yield label(_("Urgency"))
        yield Select(
            levels, id="urgency", value=self.ticket.urgency, allow_blank=False, compact=True
        )
        yield Static(id="derived")
        yield label(_("Override (only with a reason)"))
        overrides = [(_("no override"), "")] + [(f"P{n}", f"P{n}") for n in range(1, 6)]
        yield Select(overrides, id="priority", value="", allow_blank=False, compact=True)
        yield FieldError("priority")
        yield label(_("Reason"))
        yield Input(id="reason", compact=True)
        yield FieldError("reason")

    def on_mount(self) -> None:
        super().on_mount()
        self.show_derived()
        self.query_one("#impact").focus()

    @on(Select.Changed, "#impact")
    @on(Select.Changed, "#urgency")
    def show_derived(self) -> None:
        from deskterm import defaults
        from deskterm.tui.format import priority_text

        matrix = defaults.priority_matrix()
        impact = str(self.query_one("#impact", Select).value)
        urgency = str(self.query_one("#urgency", Select).value)
        number = matrix.priority(impact, urgency)
        text = fill(_("Gives {priority}"), priority=priority_text(number, long=True))
        text.append(f" · {matrix.level(number).shown_meaning}", style="dim")
        self.query_one("#derived", Static).update(text)

    def request(self) -> tuple[Callable[..., Any], dict[str, Any]]:
        from deskterm.desk.tickets import set_priority

        override = str(self.query_one("#priority", Select).value or "")
        return set_priority, {
            **self.base(),
            "impact": str(self.query_one("#impact", Select).value),
            "urgency": str(self.query_one("#urgency", Select).value),
            "priority": override or None,
            "reason": self.query_one("#reason", Input).value or None,
        }


def _contact_language(ticket: TicketPublic) -> str | None:
    """The language the ticket's customer reads our messages in (none: English)."""
    contact = ticket.contact_detail if isinstance(ticket, TicketDetail) else None
    return contact.language if contact else None
