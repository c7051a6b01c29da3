"""A dialog that saves one change through the desk.

The save runs in a thread worker; a refusal is shown beside the field it names
(``InvalidInput.field``) or above the keys, and the dialog stays open with everything the
analyst typed. A stale ticket says who changed what; saving again then writes on top of
those changes, because the analyst has now seen them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from deskterm.domain.errors import ConflictError, DeskError, InvalidInput
from deskterm.i18n import N_, _
from deskterm.tui.base import DeskModal
from deskterm.tui.format import literal
from deskterm.tui.widgets.footer import KeyFooter


class FieldError(Static):
    """The line under an input where its refusal appears."""

    def __init__(self, field: str) -> None:
        super().__init__(id=f"error-{field}", classes="field-error")
        self.display = False


class FormModal(DeskModal[Any]):
    BINDINGS = [
        Binding("ctrl+s", "save", N_("Save"), priority=True, id="save"),
        Binding("escape", "cancel", N_("Cancel"), id="cancel"),
    ]

    #: The dialog's title; subclasses set it or pass ``title``.
    TITLE_TEXT = ""

    def __init__(self, *, title: str | None = None, expected_version: int | None = None) -> None:
        super().__init__()
        self.title_text = title or (_(self.TITLE_TEXT) if self.TITLE_TEXT else "")
        self.expected_version = expected_version
        self.saving = False

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", can_focus=False):
            yield Static(literal(self.title_text, style="bold"), classes="dialog-title")
            yield from self.fields()
            yield Static(id="form-error", classes="form-error")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#form-error").display = False

    def fields(self) -> ComposeResult:
        """The inputs; give each the id of the desk parameter it fills, and a FieldError."""
        raise NotImplementedError

    def request(self) -> tuple[Callable[..., Any], dict[str, Any]]:
        """The desk function to call and its arguments; raise InvalidInput(field=...) for
        what can be checked before asking the desk."""
        raise NotImplementedError

    # ------------------------------------------------------------------ saving

    def action_save(self) -> None:
        if self.saving:
            return
        try:
            fn, kwargs = self.request()
        except InvalidInput as exc:
            self.show_error(exc)
            return
        self.clear_errors()
        self.saving = True
        self.query_one(".dialog").loading = True
        self.save(fn, kwargs)

    @work(thread=True, exclusive=True, exit_on_error=False, group="form")
    def save(self, fn: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        desk = self.desk
        try:
            result = desk.write(fn, **kwargs)
        except ConflictError as exc:
            current = self.current_version(desk)
            self.app.call_from_thread(self.conflicted, exc, current)
            return
        self.app.call_from_thread(self.dismiss, result)

    def current_version(self, desk: Any) -> int | None:
        """The ticket's version now, so a second save lands on top of what was seen."""
        return None

    def conflicted(self, error: ConflictError, current: int | None) -> None:
        self.saving = False
        self.query_one(".dialog").loading = False
        if current is not None:
            self.expected_version = current
        # Not the CLI's "reload and retry": the dialog already holds the change to retry.
        self.show_error(
            error, message=error.seen, hint=_("Your text is kept: ctrl+s saves it on top of that.")
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "form" or event.state != WorkerState.ERROR:
            return
        event.stop()
        self.saving = False
        self.query_one(".dialog").loading = False
        self.show_error(event.worker.error)

    # ------------------------------------------------------------------ errors

    def clear_errors(self) -> None:
        for widget in self.query(".field-error, .form-error"):
            widget.display = False

    def show_error(
        self, error: BaseException | None, *, message: str | None = None, hint: str = ""
    ) -> None:
        self.clear_errors()
        if message is None and isinstance(error, DeskError):
            message = str(error)
        elif message is None:
            message = self.app.describe_error(error)
        field = getattr(error, "field", None)
        target = self.query(f"#error-{field}").results(Static) if field else None
        box = next(target, None) if target is not None else None
        if box is not None:
            box.update(literal(message))
            box.display = True
            self.focus_field(field)
            return
        box = self.query_one("#form-error", Static)
        text = literal(message)
        if hint:
            text.append("\n")
            text.append(hint, style="bold")
        box.update(text)
        box.display = True

    def focus_field(self, field: str | None) -> None:
        if not field:
            return
        found = self.query(f"#{field}")
        if found:
            widget: Widget = found.first()
            widget.focus()

    def action_cancel(self) -> None:
        self.dismiss(None)


def label(text: str) -> Static:
    # Some labels name an analyst ("Why take it from tom?"): literal, like any outside text.
    return Static(literal(text, style="bold"), classes="field-label")
