"""The base of every screen and dialog: the app they run in, typed.

Textual types ``self.app`` as any ``App``; deskterm's screens only ever run in a
``DeskApp``, so they say so once here instead of ``# type: ignore`` at each use. The
declaration is Textual's own (``textual.getters.app``) and is for the type checker only:
at run time ``app`` stays Textual's property, with no check at every use (the queue reads
it at every page).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, TypeVar

from textual.binding import Binding, BindingsMap
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen

from deskterm.i18n import _

if TYPE_CHECKING:
    from textual import getters

    from deskterm.desk.context import Desk
    from deskterm.tui.app import DeskApp

ResultT = TypeVar("ResultT")


def localized_binding(binding: Binding) -> Binding:
    """``binding`` with its description and tooltip in the language in force."""
    return dataclasses.replace(
        binding,
        description=_(binding.description) if binding.description else "",
        tooltip=_(binding.tooltip) if binding.tooltip else "",
    )


def localize_bindings(node: DOMNode) -> None:
    """Put ``node``'s key texts (``BINDINGS`` are class attributes, written in English and
    marked ``N_``) in the language in force; called again after a change of language, it
    translates from the English it kept."""
    source: BindingsMap | None = node.__dict__.get("_english_bindings")
    if source is None:
        source = node._bindings.copy()
        node.__dict__["_english_bindings"] = source
    node._bindings = BindingsMap.from_keys(
        {
            key: [localized_binding(binding) for binding in bindings]
            for key, bindings in source.key_to_bindings.items()
        }
    )


class LocalBindings(DOMNode):
    """A widget of deskterm whose ``BINDINGS`` show in the analyst's language."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        localize_bindings(self)


def _open_desk(app: DeskApp) -> Desk:
    desk = app.desk
    if desk is None:
        # Screens that read are shown once the desk is open (DeskApp.show_desk).
        raise RuntimeError("the desk is not open yet")
    return desk


class DeskScreen(Screen[ResultT]):
    """A screen of deskterm: ``app`` is the ``DeskApp``, ``desk`` the open desk."""

    if TYPE_CHECKING:
        app = getters.app(DeskApp)

    def __init__(
        self,
        name: str | None = None,
        id: str | None = None,  # noqa: A002
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        localize_bindings(self)

    @property
    def desk(self) -> Desk:
        """The open desk (from a worker thread too)."""
        return _open_desk(self.app)


class DeskModal(ModalScreen[ResultT]):
    """A dialog of deskterm: ``app`` is the ``DeskApp``, ``desk`` the open desk; it
    dismisses with a ``ResultT``."""

    if TYPE_CHECKING:
        app = getters.app(DeskApp)

    def __init__(
        self,
        name: str | None = None,
        id: str | None = None,  # noqa: A002
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        localize_bindings(self)

    @property
    def desk(self) -> Desk:
        """The open desk (from a worker thread too)."""
        return _open_desk(self.app)
