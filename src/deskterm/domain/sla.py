"""Service-level targets and the due times they give."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class SlaTargets:
    response: timedelta
    resolution: timedelta


@dataclass(frozen=True)
class SlaPolicy:
    targets: Mapping[int, SlaTargets]
    warning_share: float = 0.75

    def due_times(self, start: datetime, priority: int) -> tuple[datetime | None, datetime | None]:
        """(first response due, resolution due) for a ticket opened at ``start``."""
        target = self.targets.get(priority)
        if target is None:
            return None, None
        return start + target.response, start + target.resolution
