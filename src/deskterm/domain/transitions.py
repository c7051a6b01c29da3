"""Which status may follow which.

Resolving, closing and reopening have use cases of their own (they need a resolution code or a
reason), so a plain status change refuses them and says which command to use.
"""

from __future__ import annotations

from deskterm.domain.enums import OPEN_STATUSES, Status, status_label
from deskterm.domain.errors import InvalidTransition
from deskterm.i18n import _

_WORK = {Status.IN_PROGRESS, Status.WAITING_CUSTOMER, Status.WAITING_THIRD_PARTY}

ALLOWED: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.ASSIGNED, *_WORK, Status.RESOLVED, Status.CANCELLED}),
    Status.ASSIGNED: frozenset({Status.NEW, *_WORK, Status.RESOLVED, Status.CANCELLED}),
    Status.IN_PROGRESS: frozenset(
        {Status.NEW, Status.ASSIGNED, *_WORK, Status.RESOLVED, Status.CANCELLED}
    ),
    Status.WAITING_CUSTOMER: frozenset(
        {Status.NEW, Status.ASSIGNED, *_WORK, Status.RESOLVED, Status.CANCELLED}
    ),
    Status.WAITING_THIRD_PARTY: frozenset(
        {Status.NEW, Status.ASSIGNED, *_WORK, Status.RESOLVED, Status.CANCELLED}
    ),
    Status.RESOLVED: frozenset({Status.IN_PROGRESS, Status.ASSIGNED, Status.NEW, Status.CLOSED}),
    Status.CLOSED: frozenset(),
    Status.CANCELLED: frozenset(),
}


def check_transition(current: Status | str, target: Status | str, *, plain: bool = True) -> None:
    """Raise ``InvalidTransition`` unless ``current`` may become ``target``.

    ``plain`` is a bare status change, as opposed to resolve, close or reopen. Resolving and
    closing have use cases of their own: a plain change to either says which to use.
    """
    current, target = Status(current), Status(target)
    if current == target:
        raise InvalidTransition(
            _("the ticket is already {status}").format(status=status_label(target))
        )
    if current in (Status.CLOSED, Status.CANCELLED):
        raise InvalidTransition(
            _("a {status} ticket cannot change; open a new ticket and link it instead").format(
                status=status_label(current)
            )
        )
    if plain and target == Status.RESOLVED:
        raise InvalidTransition(
            _(
                "a ticket is not set to {status} directly: resolve it with a resolution code "
                "instead"
            ).format(status=status_label(target))
        )
    if plain and target == Status.CLOSED:
        raise InvalidTransition(
            _(
                "a ticket is not set to {status} directly: close it instead (only a resolved "
                "ticket can be closed)"
            ).format(status=status_label(target))
        )
    if plain and current == Status.RESOLVED:
        raise InvalidTransition(_("a resolved ticket is reopened (with a reason) or closed"))
    if target not in ALLOWED[current]:
        raise InvalidTransition(
            _("a {status} ticket cannot become {target}").format(
                status=status_label(current), target=status_label(target)
            )
        )


def is_open(status: Status | str) -> bool:
    return Status(status) in OPEN_STATUSES


def status_for_holder(status: Status | str, has_assignee: bool) -> Status:
    """Keep ``new``/``assigned`` in step with whether someone holds the ticket.

    ``new`` means "in a group's queue, nobody has it yet"; ``assigned`` means someone has it
    but has not started. Work statuses are left alone.
    """
    status = Status(status)
    if status == Status.NEW and has_assignee:
        return Status.ASSIGNED
    if status in (Status.ASSIGNED, Status.IN_PROGRESS) and not has_assignee:
        return Status.NEW
    return status
