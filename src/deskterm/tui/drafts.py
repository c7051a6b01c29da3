"""The intake draft: what the analyst has typed about a call, kept on disk as they type, so a
crash or an accidental quit loses nothing.

A draft belongs to one session (one running app): an analyst in two terminals has a call in
each, never one call shared by both, so it cannot be saved twice. Each session's draft is
``<data dir>/drafts/<login>/<session>.json``, and the session holds an OS lock
(``flock``) on ``<session>.lock`` while it has one. The lock, not a recorded pid, tells a
running session from one that ended: the kernel lets go of it the moment the process dies
(crash, hang-up, kill), a reused pid cannot fake it, and it holds between two sessions of one
process too (it belongs to the open file, not the process). A call left by a session that
ended is taken up by the next one; a call of a running session is only taken over when asked
(``take_over``), and the session it was taken from can no longer keep or save it. Every
change of hands, and the claim a save makes, runs under one lock per analyst
(``drafts/<login>/.lock``), so no two sessions ever both hold the same call.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sys
import tempfile
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from deskterm.desk import clock
from deskterm.i18n import _, format_time
from deskterm.paths import data_dir

if sys.platform != "win32":
    import fcntl
else:  # pragma: no cover - no flock: every other session's call counts as left (as before)
    fcntl = None


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
    #: What the desk knows this save of the call by (``desk.saved_calls``): a draft saved
    #: again after its save went through (the app stopped before forgetting it) opens
    #: nothing twice. Each save of a call (another problem after a save) has its own.
    key: str = field(default_factory=lambda: secrets.token_hex(16))
    #: The phone system's call this is (its id in the desk's call log), when it popped up:
    #: the save notes its ticket there, and the call's length is the PBX's (desk/cti.py).
    phone_call: int | None = None
    #: The number that called, for a caller the desk does not know yet.
    phone_number: str | None = None

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
            phone_call=self.phone_call,
        )  # and a key of its own: it is another save

    def started_label(self) -> str:
        return format_time(self.started, self.started)

    def is_empty(self) -> bool:
        return (
            self.contact_id is None
            and self.call_ref is None
            and self.phone_call is None
            and not self.has_text()
        )

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
            phone_call=raw["phone_call"] if isinstance(raw.get("phone_call"), int) else None,
            phone_number=raw.get("phone_number")
            if isinstance(raw.get("phone_number"), str)
            else None,
            # A draft kept before calls had keys was never saved under one.
            **({"key": raw["key"]} if isinstance(raw.get("key"), str) else {}),
        )


def _label(stamp: str) -> str:
    """An ISO time as the analyst's local hours and minutes."""
    at = datetime.fromisoformat(stamp)
    return format_time(at, at)


@dataclass(frozen=True)
class Owner:
    """The session that holds a call: for the lock's sake and for a person reading the file."""

    session: str
    pid: int
    host: str
    #: When this session began holding the call (began it, took it up or took it over).
    since: str


@dataclass(frozen=True)
class Kept:
    """A call on disk that this session could show: its own, one left by a session that
    ended, or one another running session holds (``alive``)."""

    draft: CallDraft
    session: str
    mine: bool = False
    alive: bool = False
    #: Its session ended in the middle of saving it: it may be in the desk already.
    interrupted: bool = False

    def since_label(self) -> str:
        return self.draft.started_label()


class DraftTaken(Exception):
    """This session's call was taken over by another session of the same analyst: it is no
    longer kept or saved from here."""

    def __init__(self, at: str | None) -> None:
        self.at = at
        if at:
            said = _(
                "This call was taken over by another session at {time}: it is saved from "
                "there, not from here. What you typed stays on screen; ctrl+b bins this copy."
            ).format(time=_label(at))
        else:
            said = _(
                "This call was taken over by another session: it is saved from there, not "
                "from here. What you typed stays on screen; ctrl+b bins this copy."
            )
        super().__init__(said)


class DraftGone(Exception):
    """The other session's call cannot be had now: it is being saved, or it was saved or
    binned meanwhile."""


class DraftStore:
    """The calls of one analyst not yet saved, and which of them is this session's."""

    def __init__(self, folder: Path | None, login: str, session: str | None = None) -> None:
        root = (folder or data_dir()) / "drafts"
        self.folder = root / login
        #: Where the one draft of an analyst was kept before drafts had sessions: taken up
        #: like the call of a session that ended.
        self.legacy = root / f"{login}.json"
        self.session = session or secrets.token_hex(8)
        self.path = self.folder / f"{self.session}.json"
        self._lock_fd: int | None = None
        self._lock_pid = 0
        #: Lets go of the lock when the store is dropped unclosed (never left held).
        self._release: weakref.finalize[Any, Any] | None = None
        self._since: str | None = None

    # ------------------------------------------------------------------ reading

    def load(self) -> CallDraft | None:
        """This session's call, else one left by a session that ended (not taken up: see
        ``find``); a call another running session holds is not this one's."""
        kept = self.find()
        return kept.draft if kept is not None and not kept.alive else None

    def find(self) -> Kept | None:
        """What a new call here starts from: this session's own call; else one left by a
        session that ended (to take up, as if it were this one's); else the call another
        running session of the analyst has open (to tell about, and take over if asked)."""
        own = self._read(self.path)
        if own is not None:
            return own
        left: Kept | None = None
        running: Kept | None = None
        for session, path in self._others():
            kept = self._read(path, session)
            if kept is None:
                continue
            if not kept.alive:
                left = kept if left is None or kept.draft.started < left.draft.started else left
            elif running is None or kept.draft.started > running.draft.started:
                running = kept
        return left or running

    def _others(self) -> list[tuple[str, Path]]:
        found = [(self.legacy.stem, self.legacy)] if self.legacy.exists() else []
        try:
            names = sorted(os.listdir(self.folder))
        except OSError:
            return found
        for name in names:
            if name.endswith(".json") and not name.startswith("."):
                session = name.removesuffix(".json")
                if session != self.session:
                    found.append((session, self.folder / name))
        return found

    def _read(self, path: Path, session: str | None = None) -> Kept | None:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            legacy = "draft" not in raw
            draft = CallDraft.from_json(raw if legacy else raw["draft"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            # A missing or damaged draft is no draft; the analyst starts a fresh call.
            return None
        if draft.is_empty():
            return None
        if session is None:
            return Kept(draft, self.session, mine=True)
        alive = path != self.legacy and self._alive(session)
        return Kept(draft, session, alive=alive, interrupted=bool(raw.get("saving")))

    def _lock_path(self, session: str) -> Path:
        return self.folder / f"{session}.lock"

    def _alive(self, session: str) -> bool:
        """Whether the session still runs: it holds its lock. When that cannot be told, it
        counts as running: its call is then only taken over when asked, never twice."""
        if fcntl is None:
            return False
        try:
            fd = os.open(self._lock_path(session), os.O_RDONLY)
        except FileNotFoundError:
            return False
        except OSError:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)
        return False

    # ------------------------------------------------------------------ writing

    def save(self, draft: CallDraft) -> None:
        """Keep this session's call as it stands; refused (``DraftTaken``) once another
        session took it over."""
        with self._mutex():
            self.check_not_taken()
            if draft.is_empty():
                self._forget()
                return
            self._write(draft)

    def claim(self, draft: CallDraft) -> None:
        """Before a save goes to the desk: still this session's (else ``DraftTaken``), and
        marked as being saved, so no other session can take it over meanwhile."""
        with self._mutex():
            self.check_not_taken()
            self._write(draft, saving=True)

    def unclaim(self) -> None:
        """The save did not go through: the call can change hands again."""
        with self._mutex():
            kept = self._read(self.path)
            if kept is not None:
                self._write(kept.draft)

    def discard(self) -> None:
        """This session's call is done (saved or binned): the next one is its own again."""
        with self._mutex():
            self._forget()
            self._tombstone(self.session).unlink(missing_ok=True)
        self.close()

    def adopt(self, kept: Kept) -> CallDraft:
        """Take up the call of a session that ended (``DraftGone`` if another session took
        it up first, or it turns out to run)."""
        with self._mutex():
            path = self.legacy if kept.session == self.legacy.stem else self._json(kept.session)
            fresh = self._read(path, kept.session)
            if fresh is None or fresh.alive:
                raise DraftGone(_("That call was taken up meanwhile."))
            self._write(fresh.draft)
            path.unlink(missing_ok=True)
            self._tombstone(kept.session).unlink(missing_ok=True)
            self._lock_path(kept.session).unlink(missing_ok=True)
            return fresh.draft

    def take_over(self, kept: Kept) -> CallDraft:
        """Take the call another running session has open: it is this session's from now,
        as it stands on disk, and the other session is told (``DraftTaken``) when it next
        keeps or saves it."""
        with self._mutex():
            path = self._json(kept.session)
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                raise DraftGone(_("That call was saved or binned meanwhile.")) from None
            if raw.get("saving"):
                raise DraftGone(_("That call is being saved in the other session right now."))
            fresh = self._read(path, kept.session)
            if fresh is None:
                raise DraftGone(_("That call was saved or binned meanwhile."))
            self._tombstone(self.session).unlink(missing_ok=True)
            self._write(fresh.draft)
            stone = {"by": asdict(self._owner()), "at": clock.now().isoformat()}
            _write_json(self._tombstone(kept.session), stone)
            path.unlink()
            return fresh.draft

    def close(self) -> None:
        """The session ends: its call (if any) stays for the next session to take up."""
        if self._lock_fd is None:
            return
        self._tombstone(self.session).unlink(missing_ok=True)
        self._lock_path(self.session).unlink(missing_ok=True)
        if self._release is not None:
            self._release()
        self._lock_fd = self._release = None
        self._since = None

    def holds(self, kept: Kept) -> bool:
        """Whether that other session's call is still on disk (not saved or binned since)."""
        return self._json(kept.session).exists()

    def _json(self, session: str) -> Path:
        return self.folder / f"{session}.json"

    def _tombstone(self, session: str) -> Path:
        return self.folder / f"{session}.taken"

    def check_not_taken(self) -> None:
        """Raises ``DraftTaken`` (saying when) once another session took this one's call over."""
        try:
            raw = json.loads(self._tombstone(self.session).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError):
            raw = {}
        raise DraftTaken(raw.get("at") if isinstance(raw, dict) else None)

    def _forget(self) -> None:
        self.path.unlink(missing_ok=True)

    def _write(self, draft: CallDraft, *, saving: bool = False) -> None:
        self._hold()
        record = {"owner": asdict(self._owner()), "saving": saving, "draft": draft.to_json()}
        _write_json(self.path, record)

    def _owner(self) -> Owner:
        if self._since is None:
            self._since = clock.now().isoformat()
        return Owner(self.session, os.getpid(), socket.gethostname(), self._since)

    def _hold(self) -> None:
        """Hold this session's lock from its first draft on (never before: a process that
        forks sessions from itself holds none to hand down)."""
        if fcntl is None or (self._lock_fd is not None and self._lock_pid == os.getpid()):
            return
        # A fork's copy of its parent's lock is the parent's: this process takes its own.
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path(self.session), os.O_RDWR | os.O_CREAT, 0o600)
        # Waits only while another session looks whether this one runs (microseconds).
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        self._lock_fd, self._lock_pid = fd, os.getpid()
        self._release = weakref.finalize(self, os.close, fd)

    @contextmanager
    def _mutex(self) -> Iterator[None]:
        """One change of hands at a time among the analyst's sessions."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if fcntl is None:
            yield
            return
        with open(self.folder / ".lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield


def _write_json(path: Path, record: dict[str, Any]) -> None:
    """Write atomically: a crash mid-write leaves the previous file, never half of one."""
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".draft-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(record, out, ensure_ascii=False, indent=1)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
