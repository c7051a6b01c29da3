"""The text area of every note, description and reply: a ``TextArea`` that inserts text
modules (``::`` and a few letters) and hands its text to the analyst's editor (``ctrl+e``).

Text modules (desk/texts.py) are read in a worker once per app and again when a minute old,
with the values they name (the ticket's caller, the analyst), so choosing one renders it at
once, without a round trip: no key ever waits for the database.
"""

from __future__ import annotations

import re
import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual import on, work
from textual.app import App, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.events import Key
from textual.fuzzy import Matcher
from textual.message import Message
from textual.widgets import OptionList, TextArea
from textual.widgets.option_list import Option

from deskterm.i18n import N_, _

if TYPE_CHECKING:
    from deskterm.desk.schemas import TicketPublic
    from deskterm.desk.texts import TextModulePublic
    from deskterm.tui.app import DeskApp

#: ``::`` then the letters typed so far, at the start of a line or after a space.
_TRIGGER = re.compile(r"(?:^|(?<=\s))::([\w.-]*)$")
#: The module list is read again when older than this (a module added meanwhile shows).
REFRESH_SECONDS = 60.0
#: At most this many suggestions under the cursor.
SHOWN = 8


@dataclass
class _Modules:
    modules: list[TextModulePublic] = field(default_factory=list)
    read_at: float = 0.0
    problem: str | None = None


#: The modules each app has read (one per app: the SSH server runs one app per process,
#: tests run several in one).
_READ: weakref.WeakKeyDictionary[App[Any], _Modules] = weakref.WeakKeyDictionary()


def matching(modules: list[TextModulePublic], typed: str) -> list[TextModulePublic]:
    """The modules whose name matches ``typed``, best first: names that start with it, then
    fuzzy matches (letters in order), each by score; the same name once (the first, which
    ``list_texts`` orders the analyst's own first)."""
    seen: dict[str, TextModulePublic] = {}
    for module in modules:
        seen.setdefault(module.name, module)
    if not typed:
        return list(seen.values())
    matcher = Matcher(typed.lower())
    scored = []
    for module in seen.values():
        score = matcher.match(module.name)
        if module.name.startswith(typed.lower()):
            score += 1_000
        if score > 0:
            scored.append((-score, module.name, module))
    return [module for *_key, module in sorted(scored, key=lambda row: row[:2])]


class ModuleChoices(OptionList):
    """The suggestions under the cursor; the keys stay in the text area."""

    DEFAULT_CSS = """
    ModuleChoices {
        overlay: screen;
        position: absolute;
        constrain: inside inside;
        width: 48;
        height: auto;
        max-height: 10;
        border: round $accent;
        background: $surface;
        padding: 0;
        /* One line each: the start of the text is enough to tell modules apart. */
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """
    can_focus = False


class NoteArea(TextArea):
    """A note, description or reply. ``ticket``: the ticket it is about (modules name its
    caller); on the intake form the caller is told with ``use_caller``."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+e",
            "open_editor",
            N_("Editor"),
            tooltip=N_("Write this text in $VISUAL or $EDITOR, then come back with it"),
            id="open_editor",
        ),
    ]

    @dataclass
    class ModulesRead(Message):
        """A worker read the text modules and the values they name."""

        area: NoteArea
        modules: list[TextModulePublic] | None
        values: dict[str, dict[str, str]] | None
        problem: str | None = None

        @property
        def control(self) -> NoteArea:
            return self.area

    def __init__(
        self,
        text: str = "",
        *,
        ticket: TicketPublic | None = None,
        id: str | None = None,  # noqa: A002
        placeholder: str = "",
        classes: str | None = None,
    ) -> None:
        super().__init__(
            text,
            id=id,
            classes=classes,
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            placeholder=placeholder,
        )
        self.ticket = ticket
        #: What the modules' variables stand for, once read.
        self.values: dict[str, dict[str, str]] = {}
        #: The caller the intake form names (overrides the ticket's).
        self._caller: str | None = None
        #: Where the ``::`` being completed starts (row, column), while suggestions show.
        self._trigger: tuple[int, int] | None = None
        #: A ``::`` the analyst closed with escape: not offered again until typed anew.
        self._dismissed: tuple[int, int] | None = None
        self._choices: ModuleChoices | None = None

    # --- loading -------------------------------------------------------------------

    def on_mount(self) -> None:
        self.refresh_modules()

    def refresh_modules(self, *, force: bool = False) -> None:
        """Read the modules again if they are stale (or ``force``), and this ticket's values."""
        read = _READ.get(self.app)
        stale = force or read is None or time.monotonic() - read.read_at > REFRESH_SECONDS
        self._read(stale)

    @work(thread=True, exclusive=True, exit_on_error=False, group="text-modules")
    def _read(self, modules_too: bool) -> None:
        from deskterm.desk.texts import list_texts, text_values
        from deskterm.domain.errors import DeskError

        desk = cast("DeskApp", self.app).desk
        if desk is None:
            return
        ticket_id = self.ticket.id if self.ticket is not None else None
        try:
            modules = desk.read(list_texts) if modules_too else None
            values = desk.read(text_values, ticket=ticket_id)
        except DeskError as exc:
            # Said when the analyst asks for a module, not as they open a dialog.
            self.post_message(self.ModulesRead(self, None, None, str(exc)))
            return
        self.post_message(self.ModulesRead(self, modules, values))

    @on(ModulesRead)
    def _keep(self, event: ModulesRead) -> None:
        event.stop()
        read = _READ.setdefault(self.app, _Modules())
        read.problem = event.problem
        if event.modules is not None:
            read.modules, read.read_at = event.modules, time.monotonic()
        if event.values is not None:
            self.values = event.values

    def use_caller(self, name: str | None) -> None:
        """The caller whose first name modules insert (the intake form's, as it changes)."""
        self._caller = name

    def _rendering_values(self) -> dict[str, dict[str, str]]:
        from deskterm.desk.texts import first_name

        values = {root: dict(fields) for root, fields in self.values.items()}
        if self._caller is not None:
            values["contact"] = {"first_name": first_name(self._caller), "name": self._caller}
        for root, fields in (
            ("contact", ("first_name", "name")),
            ("ticket", ("ref", "subject", "group")),
            ("me", ("name", "first_name")),
        ):
            for name in fields:
                values.setdefault(root, {}).setdefault(name, "")
        return values

    @property
    def modules(self) -> list[TextModulePublic]:
        read = _READ.get(self.app)
        return read.modules if read is not None else []

    # --- suggestions ---------------------------------------------------------------

    def _typed_trigger(self) -> tuple[int, int, str] | None:
        if not self.selection.is_empty:
            return None
        row, column = self.cursor_location
        before = self.document.get_line(row)[:column]
        match = _TRIGGER.search(before)
        if match is None:
            return None
        return row, match.start(), match[1]

    @on(TextArea.Changed)
    def _offer(self, event: TextArea.Changed) -> None:
        if event.text_area is not self:
            return
        found = self._typed_trigger()
        if found is None:
            self._dismissed = None
            self._close()
            return
        row, start, typed = found
        if self._dismissed == (row, start):
            return
        self._dismissed = None
        self._show(row, start, typed)

    @on(TextArea.SelectionChanged)
    def _follow(self, event: TextArea.SelectionChanged) -> None:
        if event.text_area is not self or self._trigger is None:
            return
        found = self._typed_trigger()
        if found is None or found[:2] != self._trigger:
            self._close()

    def _show(self, row: int, start: int, typed: str) -> None:
        read = _READ.get(self.app)
        if self._trigger is None and (
            read is None or time.monotonic() - read.read_at > REFRESH_SECONDS
        ):
            # A screen kept for the whole session (the new call) reads them anew now and then;
            # this list shows what is known already.
            self.refresh_modules()
        if read is not None and read.problem and not read.modules:
            self.notify(
                _("Text modules could not be read: {problem}").format(problem=read.problem),
                severity="warning",
            )
        found = matching(self.modules, typed)[:SHOWN]
        if not found:
            self._close()
            return
        self._trigger = (row, start)
        # Tab chooses while the list shows: the app moves the focus at once on tab from a
        # text area whose tab means "next field" (tui/typeahead.py), so it must not mean that.
        self.tab_behavior = "indent"
        options = []
        for module in found:
            line = Text(module.name, style="bold")
            line.append("  ")
            line.append(" ".join(module.body.split())[:60], style="dim")
            options.append(Option(line, id=str(module.id)))
        if self._choices is None:
            self._choices = ModuleChoices()
            self.screen.mount(self._choices)
        choices = self._choices
        choices.set_options(options)
        choices.highlighted = 0
        offset = self.cursor_screen_offset
        choices.styles.offset = (max(0, offset.x - len(typed) - 2), offset.y + 1)

    def _close(self) -> None:
        self._trigger = None
        self.tab_behavior = "focus"
        if self._choices is not None:
            self._choices.remove()
            self._choices = None

    def on_blur(self) -> None:
        self._close()

    def on_unmount(self) -> None:
        self._close()

    async def _on_key(self, event: Key) -> None:
        choices = self._choices
        if choices is not None and self._trigger is not None:
            key = event.key
            if key in ("up", "down", "enter", "tab", "escape"):
                event.stop()
                event.prevent_default()
                if key == "up":
                    choices.action_cursor_up()
                elif key == "down":
                    choices.action_cursor_down()
                elif key == "escape":
                    self._dismissed = self._trigger
                    self._close()
                else:
                    index = choices.highlighted or 0
                    self._insert_chosen(choices.get_option_at_index(index).id or "")
                return
        # Not handled here: TextArea's own ``_on_key`` runs next (Textual walks the MRO).

    @on(OptionList.OptionSelected)
    def _clicked(self, event: OptionList.OptionSelected) -> None:
        if event.option_list is self._choices:
            event.stop()
            self._insert_chosen(event.option.id or "")

    def _insert_chosen(self, option_id: str) -> None:
        module = next((m for m in self.modules if str(m.id) == option_id), None)
        trigger = self._trigger
        self._close()
        if module is None:
            return
        if trigger is None:
            start = end = self.cursor_location
        else:
            start, end = trigger, self.cursor_location
        self.insert_module(module, start=start, end=end)

    def insert_module(
        self,
        module: TextModulePublic,
        *,
        start: tuple[int, int] | None = None,
        end: tuple[int, int] | None = None,
    ) -> None:
        """Put ``module`` rendered for this ticket in place of ``start``..``end`` (the
        ``::word`` typed), or at the cursor."""
        from deskterm.desk.texts import pick, render

        # Of several modules by that name, the analyst's own, else the ticket's group's.
        group = self._rendering_values()["ticket"]["group"] or None
        chosen = pick(self.modules, module.name, group) or module
        text = render(chosen.body, self._rendering_values())
        here = self.cursor_location
        result = self.replace(text, start or here, end or here, maintain_selection_offset=False)
        self.move_cursor(result.end_location)

    def choose_module(self) -> None:
        """Offer every module at the cursor (the palette's "Insert text module…")."""
        self.refresh_modules(force=True)
        self.focus()
        row, column = self.cursor_location
        self._dismissed = None
        self.insert("::")
        self._show(row, column, "")
        if self._choices is None:
            self.notify(
                _("No text modules yet: add your own with `deskterm text add NAME --body TEXT`."),
                severity="warning",
            )

    # --- the editor ----------------------------------------------------------------

    def action_open_editor(self) -> None:
        """Hand the text to ``$VISUAL``/``$EDITOR`` with the app suspended; what it saved
        replaces the text, and if it failed or saved nothing, the text stays."""
        from deskterm.editor import EditorFailed, edit, served_over_ssh

        self._close()
        if served_over_ssh():
            self.notify(
                _(
                    "No editor over deskterm's SSH server: it would run on the server, as "
                    "the server's account. Type or paste the text here."
                ),
                severity="warning",
            )
            return
        app = self.app
        try:
            try:
                with app.suspend():
                    result = edit(self.text)
            except SuspendNotSupported:
                if not app.is_headless:
                    self.notify(
                        _("This terminal cannot hand the screen to an editor (ctrl+e)."),
                        severity="warning",
                    )
                    return
                # No terminal to hand over (tests, scripted editors): it runs as it is.
                result = edit(self.text)
        except EditorFailed as exc:
            self.notify(
                _("{problem}. The text is as it was.").format(problem=exc), severity="error"
            )
            return
        written = result.text.rstrip("\n")
        if not written.strip():
            if self.text.strip():
                self.notify(
                    _("The editor saved no text: the text is as it was."), severity="warning"
                )
            return
        if written != self.text:
            self.replace(written, self.document.start, self.document.end)
            self.move_cursor(self.document.end)
