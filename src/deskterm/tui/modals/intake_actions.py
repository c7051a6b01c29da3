"""Dialogs of the intake screen: a new caller, and a call added to a ticket they already have."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.widgets import Input, Static, TextArea

from deskterm.domain.text import phone_digits
from deskterm.tui.format import clock_face, literal
from deskterm.tui.modals.base import FieldError, FormModal, label
from deskterm.tui.modals.ticket_actions import TicketModal

if TYPE_CHECKING:
    from deskterm.desk.schemas import TicketPublic


class ContactModal(FormModal):
    """A caller the desk does not know yet; what was typed in the lookup fills a field."""

    TITLE_TEXT = "New caller"
    FIELDS = (
        ("name", "Name"),
        ("phone", "Phone"),
        ("email", "Email"),
        ("organization", "Organization"),
    )

    def __init__(self, typed: str = "") -> None:
        super().__init__()
        text = typed.strip()
        if "@" in text:
            self.prefill = {"email": text}
        elif text and len(phone_digits(text)) * 2 >= len(text.replace(" ", "")):
            self.prefill = {"phone": text}
        else:
            self.prefill = {"name": text}

    def fields(self) -> ComposeResult:
        for field, title in self.FIELDS:
            yield label(title)
            yield Input(self.prefill.get(field, ""), id=field, compact=True)
            yield FieldError(field)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#name").focus()

    def request(self) -> tuple[Callable[..., Any], dict[str, Any]]:
        from deskterm.desk.contacts import add_contact

        return add_contact, {
            field: self.query_one(f"#{field}", Input).value or None for field, _ in self.FIELDS
        } | {"name": self.query_one("#name", Input).value}


class AddCallModal(TicketModal):
    """The caller rang about a ticket they already have: the call goes into its log."""

    TITLE_TEXT = "Add this call to"

    def __init__(self, ticket: TicketPublic, seconds: int, note: str = "") -> None:
        super().__init__(ticket, title=f"Add this call to {ticket.ref}")
        self.seconds = seconds
        self.note = note

    def fields(self) -> ComposeResult:
        yield Static(literal(self.ticket.subject, style="bold"))
        yield Static(f"Call so far {clock_face(self.seconds)}", classes="hint")
        yield label("What the caller said (no need to explain again: it is all in the log)")
        area = TextArea(
            self.note, id="outcome", soft_wrap=True, show_line_numbers=False, tab_behavior="focus"
        )
        yield area
        yield FieldError("outcome")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#outcome").focus()

    def request(self) -> tuple[Callable[..., Any], dict[str, Any]]:
        from deskterm.desk.tickets import log_call

        return log_call, {
            **self.base(),
            "direction": "inbound",
            "duration_seconds": self.seconds,
            "outcome": self.query_one("#outcome", TextArea).text or None,
        }
