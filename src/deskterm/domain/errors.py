"""Errors the desk raises. Each carries a message a person can read as it stands."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


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
            said = "; ".join(f"{c.actor} {c.what} at {c.at}" for c in self.changes[-3:])
            more = len(self.changes) - 3
            if more > 0:
                said = f"{said} (and {more} earlier change{'s' if more > 1 else ''})"
            #: What happened, without the advice: a form that keeps the text gives its own.
            self.seen = f"{ref} was changed meanwhile: {said}. Nothing was saved."
            message = f"{self.seen[:-1]}; reload and retry."
        else:
            self.seen = message = f"{ref} was changed by someone else meanwhile. Nothing was saved."
        super().__init__(message)
