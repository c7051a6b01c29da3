"""Who may do what to a ticket. Pure decisions; the desk layer raises on a "no"."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from deskterm.domain.enums import Role


@dataclass(frozen=True)
class Seat:
    """One of the actor's support groups, as read with the actor."""

    id: int
    name: str
    level: int


@dataclass(frozen=True)
class Actor:
    """The analyst acting, as the rules need to see them. ``id`` is None for ``system``.

    ``seats`` come with the actor when the desk reads it (the statement that loads it, at
    the start of the same transaction): the groups' names and levels a use case would
    otherwise ask for again cost no round trip. ``None`` when they were not read (an actor
    made by hand): a use case then reads what it needs itself, and takes nothing about the
    analyst's row for granted.
    """

    id: int | None
    login: str
    name: str
    role: Role
    level: int
    group_ids: frozenset[int] = field(default_factory=frozenset)
    seats: tuple[Seat, ...] | None = None
    #: Whether the analyst was away when loaded (read with ``seats``; meaningless without).
    away: bool = False
    #: The language the analyst reads deskterm in (``de``, ``pt-BR``); ``None``: their
    #: locale's. Read with the rest of the actor, so a face can ``i18n.use`` it at no cost.
    language: str | None = None

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
    level: int = 1


def supervises(actor: Actor, ticket: TicketHold) -> bool:
    """Admins oversee the whole desk; a supervisor the tickets of their own groups (and those
    in no group, which belong to the whole desk)."""
    if actor.is_admin:
        return True
    if actor.role != Role.SUPERVISOR:
        return False
    return ticket.group_id is None or ticket.group_id in actor.group_ids


def works_on(actor: Actor, ticket: TicketHold) -> bool:
    """The actor holds the ticket, or it waits unassigned in one of their groups at a level
    they work at (a ticket in no group is anyone's to take)."""
    if ticket.assignee_id is not None:
        return ticket.assignee_id == actor.id
    if ticket.group_id is not None and ticket.group_id not in actor.group_ids:
        return False
    return ticket.level <= actor.level


def may_work(actor: Actor, ticket: TicketHold) -> bool:
    """Change status, priority, resolve, close, escalate: the holder, an analyst of its group
    while it is unassigned and at their level, or a supervisor of its group."""
    return supervises(actor, ticket) or works_on(actor, ticket)


def may_record_survey(actor: Actor, ticket: TicketHold) -> bool:
    """The customer's scores for a case: whoever may work it (its holder; an analyst of its
    group while it is unassigned; a supervisor of its group). Anyone else could overwrite a
    colleague's CSAT and NPS, which the dashboard credits to the holder."""
    return may_work(actor, ticket)


def may_edit_draft(actor: Actor, author_id: int | None) -> bool:
    """A knowledge-base draft is its author's until published: its author, and supervisors
    (who vouch for what is published). A draft with no author is the supervisors'."""
    return actor.is_supervisor or (author_id is not None and actor.id == author_id)


def may_assign(actor: Actor, ticket: TicketHold, target_id: int | None) -> bool:
    """Take an unassigned ticket one may work, or hand on one's own; a supervisor of the
    ticket's group moves it whoever holds it."""
    if supervises(actor, ticket):
        return True
    if ticket.assignee_id is None:
        return works_on(actor, ticket)
    return ticket.assignee_id == actor.id


def may_hand_over(actor: Actor, ticket: TicketHold) -> bool:
    """Bulk reassignment: supervisors, for the tickets of their groups."""
    return supervises(actor, ticket)


def may_pull_from(actor: Actor, group_id: int) -> bool:
    """Pull the next ticket of a group: its members, and admins."""
    return actor.is_admin or group_id in actor.group_ids


def may_see_dashboard(actor: Actor) -> bool:
    """The desk's dashboard and the queue of every group: supervisors and admins."""
    return actor.is_supervisor


def may_manage_analysts(actor: Actor) -> bool:
    return actor.is_admin


def may_manage_desk(actor: Actor) -> bool:
    """Groups, categories, SLA targets, templates, backups and exports: admins."""
    return actor.is_admin


def may_manage_keys(actor: Actor, analyst_id: int) -> bool:
    """Add or remove the SSH keys that sign an analyst in: admins, and the analyst their own."""
    return actor.is_admin or actor.id == analyst_id


def may_see_keys(actor: Actor, analyst_id: int) -> bool:
    """Who signs in with which key (and when last): supervisors, and the analyst their own."""
    return actor.is_supervisor or actor.id == analyst_id


def may_set_away(actor: Actor, analyst_id: int, analyst_groups: Collection[int] = ()) -> bool:
    """Mark an analyst away or back: oneself; a supervisor the analysts who share one of
    their groups; an admin anyone. An analyst in no group is the admins' (fails closed)."""
    if actor.is_admin or actor.id == analyst_id:
        return True
    return actor.role == Role.SUPERVISOR and in_groups(actor, analyst_groups)


def in_groups(actor: Actor, group_ids: Collection[int]) -> bool:
    return bool(actor.group_ids & set(group_ids))
