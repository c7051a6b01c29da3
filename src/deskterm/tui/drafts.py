"""The intake draft: what the analyst has typed about a call, kept on disk as they type, so a
crash or an accidental quit loses nothing. One draft per analyst, as JSON in the data folder."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from deskterm.paths import data_dir


@dataclass
class ProblemDraft:
    subject: str = ""
    description: str = ""
    category: str | None = None
    asset_id: int | None = None
    impact: str = "medium"
    urgency: str = "medium"


@dataclass
class CallDraft:
    started_at: str
    contact_id: int | None = None
    contact_name: str | None = None
    problems: list[ProblemDraft] = field(default_factory=lambda: [ProblemDraft()])
    #: The analyst chose to save it without a caller: not asked again for this call.
    anonymous: bool = False
    #: The call was saved already and this is another problem from it: the call's first
    #: ticket (the new ones are linked to it) and until when its time is logged.
    call_ref: str | None = None
    logged_until: str | None = None

    @property
    def started(self) -> datetime:
        return datetime.fromisoformat(self.started_at)

    def seconds_to_log(self, now: datetime) -> int:
        """The call's time not logged yet: since it began, or since its last save."""
        since = datetime.fromisoformat(self.logged_until) if self.logged_until else self.started
        return max(0, int((now - since).total_seconds()))

    def another_problem(self, call_ref: str, saved_at: datetime) -> CallDraft:
        """The same call after a save: same caller and clock, a fresh problem."""
        return CallDraft(
            started_at=self.started_at,
            contact_id=self.contact_id,
            contact_name=self.contact_name,
            anonymous=self.anonymous,
            call_ref=self.call_ref or call_ref,
            logged_until=saved_at.isoformat(),
        )

    def started_label(self) -> str:
        return self.started.astimezone().strftime("%H:%M")

    def is_empty(self) -> bool:
        return self.contact_id is None and self.call_ref is None and not self.has_text()

    def has_text(self) -> bool:
        return any(p.subject.strip() or p.description.strip() for p in self.problems)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> CallDraft:
        problems = [ProblemDraft(**p) for p in raw.get("problems") or []] or [ProblemDraft()]
        return cls(
            started_at=str(raw["started_at"]),
            contact_id=raw.get("contact_id"),
            contact_name=raw.get("contact_name"),
            problems=problems,
            anonymous=bool(raw.get("anonymous")),
            call_ref=raw.get("call_ref"),
            logged_until=raw.get("logged_until"),
        )


class DraftStore:
    """Where one analyst's call draft lives: ``<data dir>/drafts/<login>.json``."""

    def __init__(self, folder: Path | None, login: str) -> None:
        self.path = (folder or data_dir()) / "drafts" / f"{login}.json"

    def load(self) -> CallDraft | None:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            draft = CallDraft.from_json(raw)
        except (OSError, ValueError, KeyError, TypeError):
            # A missing or damaged draft is no draft; the analyst starts a fresh call.
            return None
        return None if draft.is_empty() else draft

    def save(self, draft: CallDraft) -> None:
        """Write atomically: a crash mid-write leaves the previous draft, never half a file."""
        if draft.is_empty():
            self.discard()
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".draft-")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(draft.to_json(), out, ensure_ascii=False, indent=1)
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)
