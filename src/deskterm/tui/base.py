"""The base of every screen and dialog: the app they run in, typed.

Textual types ``self.app`` as any ``App``; deskterm's screens only ever run in a
``DeskApp``, so they say so once here instead of ``# type: ignore`` at each use. The
declaration is Textual's own (``textual.getters.app``) and is for the type checker only:
at run time ``app`` stays Textual's property, with no check at every use (the queue reads
it at every page).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from textual.screen import ModalScreen, Screen

if TYPE_CHECKING:
    from textual import getters

    from deskterm.desk.context import Desk
    from deskterm.tui.app import DeskApp

ResultT = TypeVar("ResultT")


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

    @property
    def desk(self) -> Desk:
        """The open desk (from a worker thread too)."""
        return _open_desk(self.app)


class DeskModal(ModalScreen[ResultT]):
    """A dialog of deskterm: ``app`` is the ``DeskApp``, ``desk`` the open desk; it
    dismisses with a ``ResultT``."""

    if TYPE_CHECKING:
        app = getters.app(DeskApp)

    @property
    def desk(self) -> Desk:
        """The open desk (from a worker thread too)."""
        return _open_desk(self.app)
