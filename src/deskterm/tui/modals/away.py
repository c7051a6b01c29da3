"""Out of office from the queue: mark yourself, or (a supervisor) an analyst of your groups,
away with a backup and, in the same step, hand their open tickets to them; or mark back.

The backup is proposed (their backup, else the least loaded available colleague of their
groups: ``away.best_backup``); typing letters in either list jumps to an analyst."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Checkbox, Input, Select, Static

from deskterm.domain.enums import Availability
from deskterm.domain.errors import InvalidInput
from deskterm.tui.format import literal
from deskterm.tui.modals.base import FieldError, FormModal, label
from deskterm.tui.widgets.jump import JumpSelect, words_of
from deskterm.tui.widgets.tell import TellCustomer

if TYPE_CHECKING:
    from deskterm.desk.schemas import AnalystPublic


class AwayModal(FormModal):
    """Saves ``away.go_away`` (or ``analysts.set_back`` when the analyst is away already);
    dismisses with what the desk returned.

    ``login``: whom it is about (default: the analyst at the keyboard); ``pick``: choose
    whom from a list first (a supervisor covering for someone)."""

    TITLE_TEXT = "Away from the desk"
    DEFAULT_CSS = "AwayModal #going { height: auto; }"

    def __init__(self, login: str | None = None, *, pick: bool = False) -> None:
        super().__init__(title="Mark an analyst away" if pick or login else None)
        self.login = login
        self.pick = pick
        #: The analyst at the keyboard's login; None until loaded.
        self.me: str | None = None
        self.people: dict[str, AnalystPublic] = {}

    def fields(self) -> ComposeResult:
        if self.pick:
            yield label("Who is away (type a name or login to jump)")
            yield JumpSelect([], id="login", prompt="choose an analyst", compact=True)
            yield FieldError("login-pick")
        yield Static(id="away-now")
        with Vertical(id="going"):
            yield label("Who covers (new tickets meant for them go to the backup)")
            yield JumpSelect([], id="backup", prompt="choose a backup", compact=True)
            yield FieldError("backup")
            yield label("Why (internal: colleagues see it; customers are told only 'away')")
            yield Input(placeholder="holiday until Monday", id="reason", compact=True)
            yield FieldError("reason")
            yield Checkbox(
                "Hand their open tickets to the backup now", value=True, id="handover", compact=True
            )
            yield TellCustomer("assigned", self.preview_context, id="tell-customer")
        yield FieldError("login")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(".dialog").loading = True
        self.load_people()

    @work(thread=True, exclusive=True, exit_on_error=False, group="people")
    def load_people(self) -> None:
        from deskterm.desk.analysts import list_analysts

        desk = self.desk
        people = desk.read(list_analysts)
        self.app.call_from_thread(self.show_people, desk.login, people)

    def show_people(self, login: str, people: list[AnalystPublic]) -> None:
        self.query_one(".dialog").loading = False
        self.me = login
        self.people = {p.login: p for p in people}
        if self.pick:
            who = self.query_one("#login", JumpSelect)
            # Text, never a markup string: "Tom [/] Temp" is a name (a str prompt is parsed).
            who.set_options([(literal(self.describe(p)), p.login) for p in people if p.active])
            who.jump_words = {p.login: words_of(p.name, p.login) for p in people}
            who.focus()
        self.show_whom()

    @staticmethod
    def describe(person: AnalystPublic) -> str:
        away = ", away" if person.availability == Availability.AWAY else ""
        return f"{person.name} ({person.login}, {person.open_tickets} open{away})"

    def whom(self) -> AnalystPublic | None:
        if self.pick:
            chosen = self.query_one("#login", JumpSelect).value
            return self.people.get(chosen) if isinstance(chosen, str) else None
        return self.people.get(self.login or self.me or "")

    @on(Select.Changed, "#login")
    def show_whom(self) -> None:
        from deskterm.desk.away import best_backup

        person = self.whom()
        now = self.query_one("#away-now", Static)
        select = self.query_one("#backup", JumpSelect)
        mine = person is not None and person.login == self.me
        name = "You" if mine else person.name if person else ""
        if person is not None and person.availability == Availability.AWAY:
            # Already away: this dialog brings them back.
            text = literal(f"{name} {'are' if mine else 'is'} away", style="bold")
            text.append(" ")
            text.append_text(literal(f"(backup: {person.backup or 'none'})"))
            text.append(f". ctrl+s marks {'you' if mine else 'them'} back at the desk.")
            now.update(text)
            self.show_form(False)
            return
        self.show_form(True)
        if person is None:
            now.update("")
            return
        held = person.open_tickets
        text = literal(name)
        text.append(f" {'hold' if mine else 'holds'} {held} open ticket{'s' if held != 1 else ''}.")
        now.update(text)
        backups = [
            p
            for p in self.people.values()
            if p.login != person.login and p.availability != Availability.AWAY and p.active
        ]
        select.set_options([(literal(self.describe(p)), p.login) for p in backups])
        select.jump_words = {p.login: words_of(p.name, p.login) for p in backups}
        proposed = best_backup(list(self.people.values()), person.login)
        if proposed in {p.login for p in backups}:
            select.value = proposed
        if not self.pick:
            select.focus()

    def show_form(self, going: bool) -> None:
        self.query_one("#going").display = going

    def preview_context(self) -> dict[str, Any]:
        person = self.whom()
        backup = self.query_one("#backup", JumpSelect).value
        holder = self.people.get(backup) if isinstance(backup, str) else None
        return {
            "holder": holder.name if holder else None,
            "group": None,
            "because": "away",
            "away": person.name if person else None,
        }

    @on(Select.Changed, "#backup")
    def backup_chosen(self) -> None:
        self.query_one(TellCustomer).refresh_preview()

    def request(self) -> tuple[Callable[..., Any], dict[str, Any]]:
        person = self.whom()
        if self.me is None:
            raise InvalidInput("still loading: a moment", field="backup")
        if person is None:
            raise InvalidInput("choose who is away", field="login-pick")
        whom = {} if person.login == self.me else {"login": person.login}
        if person.availability == Availability.AWAY:
            from deskterm.desk.analysts import set_back

            return set_back, whom
        from deskterm.desk.away import go_away

        backup = self.query_one("#backup", Select).value
        if not isinstance(backup, str):
            whose = "you" if not whom else "them"
            raise InvalidInput(f"choose who covers for {whose}", field="backup")
        return go_away, {
            **whom,
            "backup": backup,
            "reason": self.query_one("#reason", Input).value or None,
            "handover": self.query_one("#handover", Checkbox).value,
            "public_reason": self.query_one(TellCustomer).told,
        }
