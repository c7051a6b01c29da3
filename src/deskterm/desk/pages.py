"""A page of a queue view with the tabs' counts beside it, read in one transaction: the
analyst is loaded once, and the counts agree with the page they are shown beside.

The queue screen asks for it at every page it shows; ``page_and_counts`` adds no query to
``queue_page`` and ``queue_counts``, whose speed ``deskterm bench`` measures.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from deskterm.desk.schemas import Public
from deskterm.desk.views import QueueKey, QueuePage, queue_counts, queue_page
from deskterm.domain.permissions import Actor


class CountedPage(Public):
    """One page of a view, and how many tickets each view holds (``None``: not asked)."""

    page: QueuePage
    counts: dict[str, int] | None = None


def page_and_counts(
    session: Session,
    actor: Actor,
    *,
    view: str,
    after: QueueKey | None = None,
    text: str | None = None,
    limit: int,
    counted: bool = True,
) -> CountedPage:
    """The page of ``view`` after ``after`` (filtered by ``text``), and with ``counted`` the
    counts of every view this analyst may open."""
    page = queue_page(session, actor, view=view, after=after, text=text or None, limit=limit)
    return CountedPage(page=page, counts=queue_counts(session, actor) if counted else None)
