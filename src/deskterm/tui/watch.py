"""The desk as the terminal uses it: every call watched for the database going away.

Whichever screen's worker meets the outage first, the app hears of it once (``DeskLost``) and
shows it on every screen; the first call that works again says so (``DeskReached``). Screens
keep doing their own error handling: a dialog still shows why its save failed and keeps the
text, so nothing typed is lost while the database is away.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from deskterm.db.engine import Database
from deskterm.desk.context import BootstrapCase, Desk, P, R, UseCase
from deskterm.domain.errors import DatabaseUnavailable

#: Told ``(reached, reason)`` when the database is lost (False) or reached again (True).
Watcher = Callable[[bool, str], None]


class WatchedDesk(Desk):
    def __init__(self, db: Database, login: str | None, watcher: Watcher) -> None:
        super().__init__(db, login)
        self._watcher = watcher
        self._lost = False
        self._lock = threading.Lock()

    def read(self, fn: UseCase[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._watched(lambda: Desk.read(self, fn, *args, **kwargs))

    def write(self, fn: UseCase[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._watched(lambda: Desk.write(self, fn, *args, **kwargs))

    def bootstrap(self, fn: BootstrapCase[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._watched(lambda: Desk.bootstrap(self, fn, *args, **kwargs))

    @property
    def lost(self) -> bool:
        return self._lost

    def _watched(self, call: Callable[[], R]) -> R:
        try:
            result = call()
        except DatabaseUnavailable as exc:
            self._turn(lost=True, reason=str(exc))
            raise
        self._turn(lost=False, reason="")
        return result

    def _turn(self, *, lost: bool, reason: str) -> None:
        # Only changes are told: a dozen workers failing together make one banner, not twelve.
        with self._lock:
            if self._lost == lost:
                return
            self._lost = lost
        self._watcher(not lost, reason)
