"""Hearing the desk change while a face is open: the channels a live queue and the presence
marks listen on, and the listener that waits on them (PostgreSQL ``LISTEN``; see db/notify.py).

A face reaches the database only through the desk (the import-linter contracts in
pyproject.toml), so it takes these from here rather than from ``deskterm.db``.
"""

from __future__ import annotations

from deskterm.db.notify import EVENTS_CHANNEL, PRESENCE_CHANNEL, Listener, Notice, RelayGone

__all__ = ["EVENTS_CHANNEL", "PRESENCE_CHANNEL", "LivePace", "Listener", "Notice", "RelayGone"]


class LivePace:
    """When an open screen looks at the desk again after changes were announced.

    The first notice after a quiet spell is answered at once: live updates stay fast. While
    notices keep coming, a look waits until ``first`` seconds after the last one (what came
    meanwhile is seen by the next look, nothing is lost), and the wait doubles up to
    ``busiest``. A contact centre of 200 open apps and 500 changes a second would otherwise
    read the desk 100,000 times a second; at the busiest pace each app rests long enough
    between looks for its pooled connection to go back to the server (``pool_idle_seconds``),
    which is what lets 200 apps share a server of 100 connections. The app and the load
    bench's app sessions (bench/apps.py) keep the same pace.
    """

    FIRST = 0.5
    BUSIEST = 2.0

    def __init__(self, first: float = FIRST, busiest: float = BUSIEST) -> None:
        self.first = first
        self.busiest = busiest
        self.interval = first
        self.looked_at = float("-inf")

    def wait(self, pending: bool, idle: float, now: float) -> float:
        """How long to wait for notices: ``idle`` with nothing pending, else until the next
        look is due."""
        if not pending:
            return idle
        return max(0.0, self.looked_at + self.interval - now)

    def due(self, pending: bool, now: float) -> bool:
        """Whether to look now, with notices ``pending`` since the last look."""
        since = now - self.looked_at
        if not pending:
            if since > self.interval:
                self.interval = self.first  # a quiet spell
            return False
        if since < self.interval:
            return False  # coalesced into the next look
        if since < 2 * self.interval:
            # Changes kept coming since the last look: look less often, up to a bound.
            self.interval = min(self.interval * 2, self.busiest)
        return True

    def looked(self, now: float) -> None:
        self.looked_at = now
