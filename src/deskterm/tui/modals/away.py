"""Out of office from the queue: mark yourself, or (a supervisor) an analyst of your groups,
away with a backup and, in the same step, hand their open tickets to them; or mark back.

The backup is proposed (their backup, else the least loaded available colleague of their
groups: ``away.best_backup``); typing letters in either list jumps to an analyst."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Checkbox, Input, Select, Static

from deskterm.domain.enums import Availability
from deskterm.domain.errors import InvalidInput
from deskterm.i18n import N_, _, ngettext
from deskterm.tui.format import fill, literal
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

    TITLE_TEXT = N_("Away from the desk")
    DEFAULT_CSS = "AwayModal #going { height: auto; }"

    def __init__(self, login: str | None = None, *, pick: bool = False) -> None:
        super().__init__(title=_("Mark an analyst away") if pick or login else None)
        self.login = login
        self.pick = pick
        #: The analyst at the keyboard's login; None until loaded.
        self.me: str | None = None
        self.people: dict[str, AnalystPublic] = {}

    def fields(self) -> ComposeResult:
        if self.pick:
            yield label(_("Who is away (type a name or login to jump)"))
            yield JumpSelect([], id="login", prompt=_("choose an analyst"), compact=True)
            yield FieldError("login-pick")
        yield Static(id="away-now")
        with Vertical(id="going"):
            yield label(_("Who covers (new tickets meant for them go to the backup)"))
            yield JumpSelect([], id="backup", prompt=_("choose a backup"), compact=True)
            yield FieldError("backup")
            yield label(_("Why (internal: colleagues see it; customers are told only 'away')"))
            yield Input(placeholder=_("holiday until Monday"), id="reason", compact=True)
            yield FieldError("reason")
            yield Checkbox(
                _("Hand their open tickets to the backup now"),
                value=True,
                id="handover",
                compact=True,
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
        held = person.open_tickets
        if person.availability == Availability.AWAY:
            template = ngettext(
                "{name} ({login}, {n} open, away)", "{name} ({login}, {n} open, away)", held
            )
        else:
            template = ngettext("{name} ({login}, {n} open)", "{name} ({login}, {n} open)", held)
        return template.format(name=person.name, login=person.login, n=held)

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
        name = person.name if person else ""
        if person is not None and person.availability == Availability.AWAY:
            # Already away: this dialog brings them back.
            if mine:
                text = Text(_("You are away"), style="bold")
            else:
                text = fill(_("{name} is away"), name=literal(name))
                text.stylize("bold")
            text.append(" ")
            if person.backup:
                text.append_text(fill(_("(backup: {backup})"), backup=literal(person.backup)))
            else:
                text.append(_("(backup: none)"))
            text.append(
                _(". ctrl+s marks you back at the desk.")
                if mine
                else _(". ctrl+s marks them back at the desk.")
            )
            now.update(text)
            self.show_form(False)
            return
        self.show_form(True)
        if person is None:
            now.update("")
            return
        held = person.open_tickets
        if mine:
            text = Text(
                ngettext("You hold {n} open ticket.", "You hold {n} open tickets.", held).format(
                    n=held
                )
            )
        else:
            text = fill(
                ngettext("{name} holds {n} open ticket.", "{name} holds {n} open tickets.", held),
                name=literal(name),
                n=str(held),
            )
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
            raise InvalidInput(_("still loading: a moment"), field="backup")
        if person is None:
            raise InvalidInput(_("choose who is away"), field="login-pick")
        whom = {} if person.login == self.me else {"login": person.login}
        if person.availability == Availability.AWAY:
            from deskterm.desk.analysts import set_back

            return set_back, whom
        from deskterm.desk.away import go_away

        backup = self.query_one("#backup", Select).value
        if not isinstance(backup, str):
            raise InvalidInput(
                _("choose who covers for you") if not whom else _("choose who covers for them"),
                field="backup",
            )
        return go_away, {
            **whom,
            "backup": backup,
            "reason": self.query_one("#reason", Input).value or None,
            "handover": self.query_one("#handover", Checkbox).value,
            "public_reason": self.query_one(TellCustomer).told,
        }
