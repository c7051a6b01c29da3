"""The desk as a command sees it: once the acting analyst is read, the command speaks their
language (``analyst edit --language``), its output and its refusals alike."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from deskterm.cli.common import speak
from deskterm.desk.context import Desk

if TYPE_CHECKING:
    from deskterm.domain.permissions import Actor


class AnalystDesk(Desk):
    """A ``Desk`` that switches the process to the analyst's language as it reads them, at
    the start of each call's transaction: a refusal the use case raises is in it too.

    Imported only when a command opens the desk (it brings in SQLAlchemy)."""

    #: The analyst as last read (None until a call has read them).
    actor: Actor | None = None

    # The session is only handed on: the faces never import SQLAlchemy (import-linter).
    def _actor(self, session: Any) -> Actor:
        actor = super()._actor(session)
        self.actor = actor
        speak(actor)
        return actor
