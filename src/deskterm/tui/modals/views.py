"""Saved views from the queue (issue 21): name the view on screen with its filter and keep it
as a tab (a supervisor may share it with a group), rename the active one, or delete it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Select, Static

from deskterm.domain.errors import InvalidInput
from deskterm.i18n import N_, _
from deskterm.tui.format import fill, literal
from deskterm.tui.modals.base import FieldError, FormModal, label

if TYPE_CHECKING:
    from deskterm.desk.saved_views import SavedViewPublic, ViewFilter


class SaveViewModal(FormModal):
    """Saves ``saved_views.create_view``; dismisses with the view saved.

    ``groups``: the groups a supervisor may share it with (none: no choice offered)."""

    TITLE_TEXT = N_("Save as a view")

    def __init__(self, view_filter: ViewFilter, *, summary: str, groups: Sequence[str]) -> None:
        super().__init__()
        self.view_filter = view_filter
        self.summary = summary
        self.groups = list(groups)

    def fields(self) -> ComposeResult:
        yield Static(literal(self.summary, style="dim"), id="view-summary")
        yield label(_("Name (the tab shows it)"))
        yield Input(placeholder=_("P1-P2 breached"), id="name", compact=True, max_length=40)
        yield FieldError("name")
        if self.groups:
            yield label(_("Who sees it"))
            options = [(_("Only me"), "")] + [
                (_("Shared with {group}").format(group=g), g) for g in self.groups
            ]
            yield Select(options, id="share", value="", allow_blank=False, compact=True)
            yield FieldError("share")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#name", Input).focus()

    # One line to type: enter saves, as in the other one-field dialogs (ctrl+s still does).
    @on(Input.Submitted, "#name")
    def submit(self) -> None:
        self.action_save()

    def request(self) -> tuple[Callable[..., Any], dict[str, Any]]:
        from deskterm.desk.saved_views import create_view

        name = self.query_one("#name", Input).value
        if not name.strip():
            raise InvalidInput(_("give the view a name"), field="name")
        share = None
        if self.groups:
            value = self.query_one("#share", Select).value
            share = value if isinstance(value, str) and value else None
        return create_view, {"name": name, "view_filter": self.view_filter, "share_with": share}


class RenameViewModal(FormModal):
    """Saves ``saved_views.rename_view``; dismisses with the view renamed."""

    TITLE_TEXT = N_("Rename the view")

    def __init__(self, view: SavedViewPublic) -> None:
        super().__init__()
        self.view = view

    def fields(self) -> ComposeResult:
        yield label(_("New name"))
        yield Input(self.view.name, id="name", compact=True, max_length=40)
        yield FieldError("name")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#name", Input).focus()

    # One line to type: enter saves, as in the other one-field dialogs (ctrl+s still does).
    @on(Input.Submitted, "#name")
    def submit(self) -> None:
        self.action_save()

    def request(self) -> tuple[Callable[..., Any], dict[str, Any]]:
        from deskterm.desk.saved_views import rename_view

        return rename_view, {"view": self.view.id, "name": self.query_one("#name", Input).value}


class DeleteViewModal(FormModal):
    """Asks first, then ``saved_views.delete_view``; dismisses with the view deleted."""

    TITLE_TEXT = N_("Delete the view")
    BINDINGS = [
        Binding(
            "enter",
            "save",
            N_("Delete"),
            tooltip=N_("Delete this saved view (its tickets stay as they are)"),
            priority=True,
            id="confirm_delete_view",
        ),
    ]

    def __init__(self, view: SavedViewPublic) -> None:
        super().__init__()
        self.view = view

    def fields(self) -> ComposeResult:
        said = fill(_("Delete the view “{name}”?"), name=literal(self.view.name))
        if self.view.group:
            said.append("\n")
            said.append_text(
                fill(
                    _("It is shared: everyone in {group} loses the tab."),
                    group=literal(self.view.group),
                )
            )
        yield Static(said, id="delete-question")

    def request(self) -> tuple[Callable[..., Any], dict[str, Any]]:
        from deskterm.desk.saved_views import delete_view

        return delete_view, {"view": self.view.id}
