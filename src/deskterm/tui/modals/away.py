"""Out of office from the queue: mark yourself away with a backup and, in the same step,
hand your open tickets to them; or mark yourself back."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.widgets import Checkbox, Input, Select, Static

from deskterm.domain.enums import Availability
from deskterm.domain.errors import InvalidInput
from deskterm.tui.format import literal
from deskterm.tui.modals.base import FieldError, FormModal, label

if TYPE_CHECKING:
    from deskterm.desk.schemas import AnalystPublic


class AwayModal(FormModal):
    """Saves ``away.go_away`` (or ``analysts.set_back`` when the analyst is away already);
    dismisses with what the desk returned."""

    TITLE_TEXT = "Away from the desk"

    def __init__(self) -> None:
        super().__init__()
        #: The analyst as the desk has them; None until loaded.
        self.me: AnalystPublic | None = None

    def fields(self) -> ComposeResult:
        yield Static(id="away-now")
        yield label("Who covers for you (new tickets meant for you go to them)")
        yield Select[str]([], id="backup", prompt="choose a backup")
        yield FieldError("backup")
        yield label("Why (colleagues see it; customers are told you are away)")
        yield Input(placeholder="holiday until Monday", id="reason", compact=True)
        yield FieldError("reason")
        yield Checkbox("Hand my open tickets to my backup now", value=True, id="handover")
        yield FieldError("login")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(".dialog").loading = True
        self.load_people()

    @work(thread=True, exclusive=True, exit_on_error=False, group="people")
    def load_people(self) -> None:
        from deskterm.desk.analysts import list_analysts

        desk = self.app.desk  # type: ignore[attr-defined]
        people = desk.read(list_analysts)
        self.app.call_from_thread(self.show_people, desk.login, people)

    def show_people(self, login: str, people: list[AnalystPublic]) -> None:
        self.query_one(".dialog").loading = False
        self.me = next((p for p in people if p.login == login), None)
        backups = [
            # Text, never a markup string: "Tom [/] Temp" is a name (a str prompt is parsed).
            (literal(f"{p.name} ({p.login}, {p.open_tickets} open)"), p.login)
            for p in people
            if p.login != login and p.availability != Availability.AWAY and p.active
        ]
        select = self.query_one("#backup", Select)
        select.set_options(backups)
        now = self.query_one("#away-now", Static)
        if self.me is not None and self.me.availability == Availability.AWAY:
            # Already away: this dialog brings them back.
            text = Text("You are away", style="bold")
            text.append(" ")
            text.append_text(literal(f"(backup: {self.me.backup or 'none'})"))
            text.append(". ctrl+s marks you back at your desk.")
            now.update(text)
            for widget in self.query("#backup, #reason, #handover, .field-label"):
                widget.display = False
            return
        mine = self.me.open_tickets if self.me else 0
        now.update(Text(f"You hold {mine} open ticket{'s' if mine != 1 else ''}."))
        select.focus()

    def request(self) -> tuple[Callable[..., Any], dict[str, Any]]:
        if self.me is None:
            raise InvalidInput("still loading: a moment", field="backup")
        if self.me.availability == Availability.AWAY:
            from deskterm.desk.analysts import set_back

            return set_back, {}
        from deskterm.desk.away import go_away

        backup = self.query_one("#backup", Select).value
        if not isinstance(backup, str):
            raise InvalidInput("choose who covers for you", field="backup")
        return go_away, {
            "backup": backup,
            "reason": self.query_one("#reason", Input).value or None,
            "handover": self.query_one("#handover", Checkbox).value,
        }
