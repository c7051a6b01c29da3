"""Who may do what to a ticket. Pure decisions; the desk layer raises on a "no"."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from deskterm.domain.enums import Role


@dataclass(frozen=True)
class Actor:
    """The analyst acting, as the rules need to see them. ``id`` is None for ``system``."""

    id: int | None
    login: str
    name: str
    role: Role
    level: int
    group_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_system(self) -> bool:
        return self.id is None

    @property
    def is_supervisor(self) -> bool:
        return self.is_system or self.role in (Role.SUPERVISOR, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.is_system or self.role == Role.ADMIN


SYSTEM = Actor(id=None, login="system", name="system", role=Role.ADMIN, level=3)


@dataclass(frozen=True)
class TicketHold:
    """What the rules need to know about a ticket."""

    assignee_id: int | None
    group_id: int | None


def works_on(actor: Actor, ticket: TicketHold) -> bool:
    """The actor holds the ticket, or it sits unassigned in one of their groups."""
    if ticket.assignee_id is not None:
        return ticket.assignee_id == actor.id
    return ticket.group_id is None or ticket.group_id in actor.group_ids


def may_work(actor: Actor, ticket: TicketHold) -> bool:
    """Change status, resolve, escalate: the holder, their group while it is unassigned, or a
    supervisor."""
    return actor.is_supervisor or works_on(actor, ticket)


def may_assign(actor: Actor, ticket: TicketHold, target_id: int | None) -> bool:
    """Agents and technicians take unassigned tickets and hand over their own; supervisors
    move anything."""
    if actor.is_supervisor:
        return True
    if ticket.assignee_id is None:
        return target_id == actor.id or ticket.group_id in actor.group_ids
    return ticket.assignee_id == actor.id


def may_manage_analysts(actor: Actor) -> bool:
    return actor.is_admin


def may_set_away(actor: Actor, analyst_id: int) -> bool:
    return actor.id == analyst_id or actor.is_supervisor


def in_groups(actor: Actor, group_ids: Collection[int]) -> bool:
    return bool(actor.group_ids & set(group_ids))
