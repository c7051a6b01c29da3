"""Hearing the desk change while a face is open: the channels a live queue and the presence
marks listen on, and the listener that waits on them (PostgreSQL ``LISTEN``; see db/notify.py).

A face reaches the database only through the desk (the import-linter contracts in
pyproject.toml), so it takes these from here rather than from ``deskterm.db``.
"""

from __future__ import annotations

from deskterm.db.notify import EVENTS_CHANNEL, PRESENCE_CHANNEL, Listener, Notice

__all__ = ["EVENTS_CHANNEL", "PRESENCE_CHANNEL", "Listener", "Notice"]
