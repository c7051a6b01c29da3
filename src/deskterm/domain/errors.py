"""Errors the desk raises. Each carries a message a person can read as it stands."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from deskterm.i18n import _, ngettext


class DeskError(Exception):
    """A refusal: nothing was changed. ``str(err)`` is one readable line."""

    exit_code = 1


class NotFound(DeskError):
    pass


class UnknownAnalyst(NotFound):
    pass


class UnknownActor(UnknownAnalyst):
    """Who is acting cannot be established (an unknown or deactivated login, an empty
    ``--as``, a database login that is no analyst): refused like a permission."""

    exit_code = 3


class InvalidInput(DeskError):
    """Bad input for one field; ``field`` names it so a screen can show it beside the input."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidTransition(DeskError):
    pass


class PermissionDenied(DeskError):
    exit_code = 3


class DatabaseUnavailable(DeskError):
    exit_code = 4


class SchemaMismatch(DeskError):
    exit_code = 4


class Inconsistent(DeskError):
    """The desk's data breaks its own rules: a ticket row that is not what its log says, a
    log with a version missing, a ticket claimed twice. Reported, never repaired."""

    exit_code = 6


@dataclass(frozen=True)
class ChangeSeen:
    """One change someone else made, as a stale writer is told about it."""

    actor: str
    at: str
    what: str


class ConflictError(DeskError):
    """Someone else changed the ticket since this analyst loaded it; nothing was written."""

    exit_code = 5

    def __init__(self, ref: str, changes: Sequence[ChangeSeen] = ()) -> None:
        self.ref = ref
        self.changes = tuple(changes)
        if self.changes:
            # Translators: one change someone else made: "bob noted: called back at 14:30".
            # {what} is an event of the ticket's log in words, said of {actor}.
            said = "; ".join(
                _("{actor} {what} at {time}").format(actor=c.actor, what=c.what, time=c.at)
                for c in self.changes[-3:]
            )
            more = len(self.changes) - 3
            if more > 0:
                said = ngettext(
                    "{changes} (and {n} earlier change)",
                    "{changes} (and {n} earlier changes)",
                    more,
                ).format(changes=said, n=more)
            #: What happened, without the advice: a form that keeps the text gives its own.
            self.seen = _("{ref} was changed meanwhile: {changes}. Nothing was saved.").format(
                ref=ref, changes=said
            )
            message = _(
                "{ref} was changed meanwhile: {changes}. Nothing was saved; reload and retry."
            ).format(ref=ref, changes=said)
        else:
            self.seen = message = _(
                "{ref} was changed by someone else meanwhile. Nothing was saved."
            ).format(ref=ref)
        super().__init__(message)
