"""What the customer is told when their case changes hands, in the dialog that changes it.

The reason an analyst types for a handover, a reassignment or an escalation is internal.
This block says so, and shows the customer's message as it will go out; ticking "tell the
customer" opens a second field whose text is added to that message (``public_reason``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Checkbox, Input, Static

from deskterm.i18n import _
from deskterm.tui.modals.base import FieldError


class TellCustomer(Vertical):
    """``context()`` gives ``outbox.preview``'s arguments for the change as chosen now."""

    DEFAULT_CSS = """
    TellCustomer { height: auto; }
    TellCustomer #public_reason, TellCustomer #tell-preview { display: none; }
    TellCustomer.-telling #public_reason, TellCustomer.-telling #tell-preview { display: block; }
    TellCustomer #tell-preview { max-height: 9; overflow-y: auto; color: $text-muted; }
    """

    def __init__(self, notice: str, context: Callable[[], dict[str, Any]], **kwargs: Any):
        super().__init__(**kwargs)
        self.notice = notice
        self.context = context

    def compose(self) -> ComposeResult:
        yield Static(
            Text(
                _(
                    "Internal: the reason stays in the ticket's log for colleagues. The "
                    "customer is told who has the case now and why, in fixed words."
                ),
                style="dim",
            ),
            id="tell-hint",
        )
        yield Checkbox(_("Tell the customer something too"), id="tell", compact=True)
        yield Input(
            placeholder=_("what the customer should read"),
            id="public_reason",
            compact=True,
        )
        yield FieldError("public_reason")
        yield Static(id="tell-preview")

    @property
    def told(self) -> str | None:
        """The words for the customer, or None while "tell the customer" is not ticked."""
        if not self.query_one("#tell", Checkbox).value:
            return None
        return self.query_one("#public_reason", Input).value or None

    @on(Checkbox.Changed, "#tell")
    def toggle(self, event: Checkbox.Changed) -> None:
        event.stop()
        self.set_class(event.value, "-telling")
        # Shown at once (a style set here, not only by the class at the next CSS pass): a
        # hidden input does not take focus, and the words typed next would be lost.
        field = self.query_one("#public_reason", Input)
        field.display = event.value
        self.query_one("#tell-preview").display = event.value
        if event.value:
            field.focus()
        # After the focus moved: the first preview loads the templates, and what the analyst
        # types meanwhile must land in the field, not on the checkbox.
        self.call_after_refresh(self.refresh_preview)

    @on(Input.Changed, "#public_reason")
    def typed(self, event: Input.Changed) -> None:
        event.stop()
        self.refresh_preview()

    def refresh_preview(self) -> None:
        if not self.has_class("-telling"):
            return
        from deskterm.desk.outbox import preview

        context = dict(self.context())
        body = preview(context.pop("notice", self.notice), told=self.told, **context).strip()
        if not context.get("name"):
            # Many customers (a handover): their greeting line says nothing here.
            body = body.partition("\n\n")[2] or body
        text = Text(_("The customer gets:") + "\n", style="bold")
        # The message as plain text: names and typed words are data, never markup.
        text.append(body)
        self.query_one("#tell-preview", Static).update(text)
