"""Dialogs of the intake screen: a new caller, a call added to a ticket they already have,
and the short questions a call asks (no caller? quit mid-call?)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Static, TextArea

from deskterm.domain.text import phone_digits
from deskterm.i18n import N_, _
from deskterm.tui.base import DeskModal
from deskterm.tui.format import clock_face, literal
from deskterm.tui.modals.base import FieldError, FormModal, label
from deskterm.tui.modals.ticket_actions import TicketModal
from deskterm.tui.widgets.footer import KeyFooter
from deskterm.tui.widgets.notearea import NoteArea

if TYPE_CHECKING:
    from deskterm.desk.schemas import TicketPublic


class ContactModal(FormModal):
    """A caller the desk does not know yet; what was typed in the lookup fills a field."""

    TITLE_TEXT = N_("New caller")
    FIELDS = (
        ("name", N_("Name")),
        ("phone", N_("Phone")),
        ("email", N_("Email")),
        ("organization", N_("Organization")),
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
            yield label(_(title))
            yield Input(self.prefill.get(field, ""), id=field, compact=True)
            yield FieldError(field)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#name").focus()

    def request(self) -> tuple[Callable[..., Any], dict[str, Any]]:
        from deskterm.desk.contacts import add_contact

        return add_contact, {
            field: self.query_one(f"#{field}", Input).value or None for field, _title in self.FIELDS
        } | {
            "name": self.query_one("#name", Input).value,
            "region": self.app.phone_region,
        }


class AddCallModal(TicketModal):
    """The caller rang about a ticket they already have: the call goes into its log.

    The call runs on while the analyst writes here: ``seconds`` is asked again at the save,
    so the log holds the call until it was saved, not until this dialog opened."""

    TITLE_TEXT = N_("Add this call to")

    def __init__(
        self,
        ticket: TicketPublic,
        seconds: Callable[[], int],
        note: str = "",
        *,
        phone_call: int | None = None,
    ) -> None:
        super().__init__(ticket, title=_("Add this call to {ref}").format(ref=ticket.ref))
        self.seconds = seconds
        self.note = note
        #: The phone system's call this is: its length is the PBX's (desk/cti.py).
        self.phone_call = phone_call
        #: The minutes the call's timer last wrote; any other value was typed by the analyst.
        self.minutes_shown = self._timer_minutes()

    def fields(self) -> ComposeResult:
        yield Static(literal(self.ticket.subject, style="bold"))
        yield Static(self._so_far(), id="call-so-far", classes="hint")
        yield label(_("What the caller said (no need to explain again: it is all in the log)"))
        yield NoteArea(self.note, id="outcome", ticket=self.ticket)
        yield FieldError("outcome")
        if self.phone_call is None:
            # The phone system's call counts the PBX's length by itself (desk/cti.py).
            yield label(_("Minutes worked (the call's timer, rounded up; yours if typed)"))
            yield Input(
                self.minutes_shown, id="minutes", restrict=r"[0-9]*", max_length=4, compact=True
            )
            yield FieldError("minutes")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#outcome").focus()
        self.set_interval(1, self._tick)

    def _so_far(self) -> str:
        return _("Call so far {time}").format(time=clock_face(self.seconds()))

    def _timer_minutes(self) -> str:
        from deskterm.domain.worked import call_minutes

        return str(call_minutes(self.seconds()) or 0)

    def _tick(self) -> None:
        self.query_one("#call-so-far", Static).update(self._so_far())
        if self.phone_call is not None:
            return
        field = self.query_one("#minutes", Input)
        if field.value == self.minutes_shown:
            # Not typed over: the timer keeps counting the minutes begun.
            self.minutes_shown = self._timer_minutes()
            field.value = self.minutes_shown

    def request(self) -> tuple[Callable[..., Any], dict[str, Any]]:
        from deskterm.desk.tickets import log_call

        if self.phone_call is not None:
            from deskterm.desk.cti import add_phone_call

            return add_phone_call, {
                **self.base(),
                "phone_call": self.phone_call,
                "outcome": self.query_one("#outcome", TextArea).text or None,
            }
        from deskterm.domain.worked import parse_minutes

        minutes_field = self.query_one("#minutes", Input)
        seconds = self.seconds()
        # Untouched, the minutes are the call's own at the save: the desk rounds them.
        typed = minutes_field.value != self.minutes_shown
        return log_call, {
            **self.base(),
            "direction": "inbound",
            "duration_seconds": seconds,
            "outcome": self.query_one("#outcome", TextArea).text or None,
            "minutes": parse_minutes(minutes_field.value) if typed else None,
        }


class AskModal(DeskModal[str | None]):
    """One short question answered by one key; every answer is on screen and in the footer.

    ``choices``: (key, answer, what it does) in the order shown. No answer hides behind
    ``enter``, which a busy analyst presses without reading; ``escape`` answers ``None``
    unless a choice takes it."""

    DEFAULT_CSS = """
    AskModal {
        align: center middle;
    }
    AskModal > Vertical {
        width: 64;
        max-width: 100%;
        height: auto;
        padding: 0 1;
        border: thick $accent;
        background: $surface;
    }
    AskModal #ask-title {
        text-style: bold;
        margin-bottom: 1;
    }
    AskModal #ask-choices {
        margin-top: 1;
    }
    """

    def __init__(self, title: str, question: str, choices: Sequence[tuple[str, str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.choices = list(choices)
        for key, answer, said in self.choices:
            self._bindings.bind(key, f"answer({answer!r})", said, priority=True)
        if not any(key == "escape" for key, _answer, _said in self.choices):
            self._bindings.bind("escape", "answer(None)", _("Cancel"), show=False)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, id="ask-title", markup=False)
            yield Static(literal(self.question, long=True), id="ask-question")
            lines = Text()
            for key, _answer, said in self.choices:
                lines.append(f"{self.app.get_key_display(Binding(key, ''))}", style="bold")
                lines.append(f"  {said}\n")
            lines.rstrip()
            yield Static(lines, id="ask-choices")
        yield KeyFooter()

    def action_answer(self, answer: str | None) -> None:
        self.dismiss(answer)


def ask_caller() -> AskModal:
    """A call about to be saved without a caller: asked once, the typed text stays."""
    return AskModal(
        _("No caller on this call"),
        _("Nobody is picked as the caller. Save it for an anonymous caller, or pick one first?"),
        [
            ("a", "anonymous", _("Save as an anonymous caller")),
            ("p", "pick", _("Pick a caller")),
            ("escape", "pick", _("Back to the call")),
        ],
    )


def ask_quit() -> AskModal:
    """Quitting while a call is half written; the draft is kept whatever the answer."""
    return AskModal(
        _("A call is half written"),
        _("Quit anyway? The draft is kept: ctrl+n brings it back next time."),
        [
            ("y", "quit", _("Quit anyway")),
            ("n", "stay", _("Stay with the call")),
            ("escape", "stay", _("Stay")),
        ],
    )
