"""The Textual app: paints at once, opens the desk in a worker, then shows the queue.

Importing this module stays light: SQLAlchemy and the desk load inside workers, while the
first screen is already on the terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.reactive import var
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import AwaitMount
from textual.worker import Worker, WorkerState, get_current_worker

from deskterm import i18n
from deskterm.i18n import N_, _, ngettext
from deskterm.tui import benchmark
from deskterm.tui.base import localize_bindings
from deskterm.tui.commands import DeskCommands, TicketJumpProvider, palette_commands
from deskterm.tui.messages import (
    CallsChanged,
    CallsNoticed,
    CallsRead,
    DeskChanged,
    DeskLost,
    DeskOpened,
    DeskReached,
    DeskUpdated,
    Listening,
    PresenceChanged,
    PresenceNoticed,
    SlaChecked,
)
from deskterm.tui.screens.loading import LoadingScreen
from deskterm.tui.typeahead import route_key

if TYPE_CHECKING:
    from rich.console import RenderableType
    from textual.driver import Driver
    from textual.notifications import SeverityLevel

    from deskterm.desk.context import Desk
    from deskterm.desk.cti import CallPop
    from deskterm.desk.identity import Identity
    from deskterm.domain.permissions import Actor
    from deskterm.tui.drafts import DraftStore


#: The areas opened by a key, by mode: their screen's module and class. Imported and built
#: after the queue's first paint (``DeskApp._warm_when_idle``), so that neither the start nor
#: the first key waits for them.
LATER_MODES = {
    "intake": ("deskterm.tui.screens.intake", "IntakeScreen"),
    "dashboard": ("deskterm.tui.screens.dashboard", "DashboardScreen"),
    "kb": ("deskterm.tui.screens.article", "KnowledgeScreen"),
}
#: What the first of each key needs beyond its screen's module: imported with them.
WARM_MODULES = (
    "deskterm.tui.screens.ticket",
    "deskterm.tui.modals.intake_actions",
    "deskterm.desk.intake",
    "deskterm.desk.contacts",
    "deskterm.desk.kb",
    "deskterm.desk.callbacks",
    "deskterm.desk.presence",
)
#: How often to look whether the start has settled (the queue's first page read and shown),
#: and how long at most to wait for it before warming anyway.
WARM_LOOK = 0.05
WARM_WAIT = 3.0


class DeskApp(App[None]):
    """One analyst at one desk."""

    offline: var[bool] = var(False, init=False)
    """The database stopped answering: every screen's bar says so until it answers again."""

    #: One wait for a notification: the listener stops within this once told to.
    LISTEN_WAIT = 0.25
    #: After the listening connection broke, the first try again; doubled up to the last.
    RELISTEN_FIRST = 2.0
    RELISTEN_LAST = 60.0

    CSS_PATH = "app.tcss"
    TITLE = "deskterm"
    # DeskCommands lists Textual's own commands too, after deskterm's: it replaces
    # Textual's SystemCommandsProvider, which sorts them all by name and repeats "Quit".
    COMMANDS = {DeskCommands, TicketJumpProvider}
    BINDINGS = [
        # Off the footer: ctrl+c says how to quit, the key help and the palette list it.
        Binding(
            "ctrl+q",
            "quit",
            N_("Quit"),
            tooltip=N_("Leave deskterm (a half-written call asks first)"),
            priority=True,
            id="quit",
            show=False,
        ),
        Binding(
            "ctrl+n",
            "new_call",
            N_("New call"),
            tooltip=N_("Take a new call: find the caller, open one ticket per problem"),
            priority=True,
            id="new_call",
        ),
        Binding(
            "f2",
            "dashboard",
            N_("Dashboard"),
            tooltip=N_("SLA, backlog, analysts and satisfaction; each number opens its tickets"),
            id="dashboard",
            # Off the footer (every screen's footer is full); in the palette and README.
            show=False,
        ),
        Binding(
            "ctrl+f",
            "search_tickets",
            N_("Search tickets"),
            tooltip=N_("Find any ticket, open or closed, by words of its subject or description"),
            priority=True,
            id="search_tickets",
            # Off the footer (every screen's footer is full); in the palette and README.
            show=False,
        ),
        Binding(
            "f4",
            "knowledge",
            N_("Articles"),
            tooltip=N_("The knowledge base: search, read, write and edit articles"),
            id="knowledge",
            # Off the footer (every screen's footer is full); in the palette and README.
            show=False,
        ),
        # The key help opens from every screen and dialog (priority). A text field that takes
        # "?" as a letter still gets it: Textual drops a key the focused widget consumes from
        # every binding above it, priority or not; f1 works there.
        Binding(
            "question_mark",
            "keys",
            N_("Keys"),
            tooltip=N_("Every key of this screen and what it does"),
            priority=True,
            id="keys",
        ),
        Binding(
            "f1",
            "keys",
            N_("Keys"),
            tooltip=N_("Every key of this screen and what it does"),
            priority=True,
            id="keys",
        ),
        # The phone: shown in the header while a call rings or waits (never stealing focus);
        # function keys, so that a field being typed in never takes them as letters.
        Binding(
            "f9",
            "take_call",
            N_("Take call"),
            tooltip=N_("Open the new call on the caller in the header (ringing or answered)"),
            priority=True,
            id="take_call",
        ),
        Binding(
            "f10",
            "dismiss_call",
            N_("Dismiss call"),
            tooltip=N_("Take the call in the header off the screen"),
            priority=True,
            id="dismiss_call",
            show=False,
        ),
    ]

    def __init__(
        self,
        database_url: str,
        login: str | None,
        *,
        identity: Identity | None = None,
        phone_region: str | None = None,
        data_dir: Path | None = None,
        poll_seconds: float | None = 1.0,
        sla_seconds: float | None = 60.0,
        listen: bool = True,
        presence_seconds: float | None = 3.0,
        warm_screens: bool = True,
        calls_seconds: float | None = 0.5,
        missed_alert_minutes: int = 15,
        keymap: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        localize_bindings(self)
        #: The desk's keys (``[keys]`` in the settings), in force from the first screen; the
        #: analyst's own go over them once the desk says who they are.
        self.desk_keymap = dict(keymap or {})
        self.set_keymap(self.desk_keymap)
        #: How often SQLite (or PostgreSQL while not listening) is asked about this analyst's
        #: phone calls: a pop shows within a second of the PBX's ``newCall``. One index read
        #: (``newest_call_id``) while nothing rings.
        self.calls_seconds = calls_seconds
        #: Minutes after which a missed call nobody called back is brought up (0: never).
        self.missed_alert_minutes = missed_alert_minutes
        #: The calls shown in the header: ringing for this analyst, or answered by them and
        #: not in a ticket yet; newest first, less those taken or dismissed.
        self.pops: list[CallPop] = []
        #: Calls taken (f9, or opened on answer) or dismissed (f10): never shown again.
        self.calls_done: set[int] = set()
        #: Answered calls already offered to the new-call screen (opened, or left waiting).
        self.calls_offered: set[int] = set()
        #: The call the new-call screen takes up the next time it is shown.
        self.call_to_take: CallPop | None = None
        self.call_attach = True
        self._newest_call = -1
        #: Missed calls already brought up: each once.
        self.missed_nagged: set[int] = set()
        #: After the queue's first paint, import and build the new-call and dashboard screens
        #: in idle time, so that their first key only switches to them.
        self.warm_screens = warm_screens
        self._warming: Timer | None = None
        self._opened_at = 0.0
        self._quiet_looks = 0
        self._switching_ready = False
        self.database_url = database_url
        #: Who acts; ``None`` while only the database can say (``identity``, database mode).
        self.login = login
        self.identity = identity
        #: Where a phone number without a country code is (the ``phone_region`` setting);
        #: ``None``: the desk's default.
        self.phone_region = phone_region
        self.data_dir = data_dir
        #: How often to look for changes (SQLite; PostgreSQL while not listening).
        self.poll_seconds = poll_seconds
        #: On PostgreSQL, hear changes as they commit (LISTEN) instead of polling for them.
        self.listen = listen
        #: While listening, the poll is only a safety net: this many seconds between looks.
        self.safety_seconds = 15.0
        self.listening = False
        #: The listening connection's server process, for ``pg_stat_activity`` readers.
        self.listener_pid: int | None = None
        self._listener: Worker[None] | None = None
        self._relisten_seconds = self.RELISTEN_FIRST
        self._polled_at = 0.0
        #: How often an open ticket tells the desk it is still open, and looks who else has it.
        self.presence_seconds = presence_seconds
        #: This terminal among all of the desk's: presence is kept per app session, so one
        #: analyst in two terminals is seen in both, and leaving one leaves only that one.
        self.app_session = secrets.token_hex(8)
        #: How often the SLA check and the callback reminders run (with live polling only).
        self.sla_seconds = sla_seconds
        #: Callbacks already brought up: each due callback is mentioned once.
        self.nagged: set[int] = set()
        self.sla_failed = False
        self.desk: Desk | None = None
        self.actor: Actor | None = None
        self.drafts: DraftStore | None = None
        self.last_event_id: int | None = None
        #: While the database is away, how often to try it again (None: only when asked).
        self.retry_seconds: float | None = 2.0
        self._retrying: Timer | None = None
        self.exit_code = 0

    # ------------------------------------------------------------------ opening

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver for the platform; on a terminal of Linux or macOS, one that hands
        the escape key over when it is due, not up to 0.1 s later (see tui/driver.py)."""
        driver = super().get_driver_class()
        from textual.drivers.linux_driver import LinuxDriver

        if driver is LinuxDriver:
            from deskterm.tui.driver import PromptDriver, escape_delay

            escape_delay()
            return PromptDriver
        return driver

    def _display(self, screen: Screen[Any], renderable: RenderableType | None) -> None:
        """Textual's frame writer; then the bench's marks waiting for this frame are true."""
        super()._display(screen, renderable)
        if renderable is not None and not self._batch_count:
            benchmark.displayed()

    def get_default_screen(self) -> Screen[Any]:
        return LoadingScreen(self._where())

    def _where(self) -> str:
        url = self.database_url
        # Never show a password on screen; the desk's own describe() needs SQLAlchemy.
        if "@" in url and "://" in url:
            scheme, rest = url.split("://", 1)
            url = f"{scheme}://…@{rest.rsplit('@', 1)[1]}"
        if self.login:
            return _("the desk at {url} as {login}").format(url=url, login=self.login)
        return _("the desk at {url} as your database login").format(url=url)

    async def on_event(self, event: events.Event) -> None:
        # Keys typed ahead of the screen: see tui/typeahead.py.
        if isinstance(event, events.Key) and not event.is_forwarded and route_key(self, event):
            return
        await super().on_event(event)

    def on_mount(self) -> None:
        self.open_desk()

    @work(thread=True, exclusive=True, exit_on_error=False, group="open")
    def open_desk(self) -> None:
        from deskterm.desk.keymaps import analyst_keymap
        from deskterm.desk.setup import open_database
        from deskterm.tui.watch import WatchedDesk

        db = open_database(self.database_url)
        try:
            login = self.login
            if login is None:
                from deskterm.desk.identity import Identity

                login = (self.identity or Identity()).login(db)
            desk = WatchedDesk(db, login, self._database_turned)
            actor = desk.whoami()
            keymap = desk.read(analyst_keymap) if actor.id is not None else {}
        except BaseException:
            db.dispose()
            raise
        self.post_message(DeskOpened(desk, actor, keymap))

    @on(DeskOpened)
    def show_desk(self, event: DeskOpened) -> None:
        from deskterm.tui.drafts import DraftStore
        from deskterm.tui.screens.queue import QueueScreen

        self.desk, self.actor = event.desk, event.actor
        # The analyst's language, before any screen of theirs is built (the loading screen
        # spoke the locale's). None set: the locale's, else English.
        i18n.use(event.actor.language)
        localize_bindings(self)
        # The analyst's keys over the desk's, before their first screen is built.
        self.set_keymap({**self.desk_keymap, **event.keymap})
        self.login = event.actor.login
        self.drafts = DraftStore(self.data_dir, self.login)
        self.add_mode("queue", QueueScreen)
        # The other areas are imported after the queue's first paint (_warm_when_idle).
        for mode, (module, name) in LATER_MODES.items():
            self.add_mode(mode, _later(module, name))
        # Everything imported so far lives as long as the app: out of the collector's sight,
        # a full collection no longer walks it (it paused the app 50-110 ms at a time,
        # measured by `deskterm bench` as key-to-painted-page outliers).
        gc.freeze()
        # Built first, then shown: Textual's own first switch to a mode parses and applies
        # the whole stylesheet twice over (see build_mode).
        self.build_mode("queue")
        self.switch_mode("queue")
        if self.warm_screens:
            self._opened_at = time.monotonic()
            self._warming = self.set_interval(WARM_LOOK, self._warm_when_idle)
        self.start_listening()
        if self.calls_seconds and self.poll_seconds:
            # With live polling only (as the SLA check): a test's app moves when told.
            self.set_interval(self.calls_seconds, self.poll_calls)
        if self.poll_seconds:
            self.set_interval(self.poll_seconds, self.poll_changes)
            if self.sla_seconds:
                self.set_interval(self.sla_seconds, self.check_sla)
        draft = self.drafts.load()
        if draft is not None:
            self.notify(
                _("An unsaved call from {started} was kept: ctrl+n resumes it.").format(
                    started=draft.started_label()
                ),
                title=_("Call draft"),
                markup=False,
                timeout=10,
            )

    # ------------------------------------------------------------------ warming up

    def _warm_when_idle(self) -> None:
        """Once the start has settled (no worker reading for two looks in a row: the queue's
        first page is read and shown), warm the other screens up; never before, so the
        first paint does not share the processor with them."""
        busy = any(w.is_running and w.group not in ("listen", "calls") for w in self.workers)
        self._quiet_looks = 0 if busy else self._quiet_looks + 1
        if self._quiet_looks < 2 and time.monotonic() - self._opened_at < WARM_WAIT:
            return
        if self._warming is not None:
            self._warming.stop()
            self._warming = None
        self.call_after_refresh(self._import_screens)

    @work(thread=True, exclusive=True, exit_on_error=False, group="warm")
    def _import_screens(self) -> None:
        """Pure Python modules, imported in a thread: the event loop keeps answering keys."""
        from deskterm import defaults

        modules = [module for module, _name in LATER_MODES.values()]
        for module in (*modules, *WARM_MODULES):
            importlib.import_module(module)
        # The SLA policy and its holiday calendars: the first save of a call starts the new
        # ticket's clocks with them (0.2-0.3 s to load, measured, paid by that save before).
        defaults.sla_policy()
        self.call_from_thread(self._build_screens)

    def _build_screens(self) -> None:
        modes = ["intake"]
        if self.actor is not None and self.actor.is_supervisor:
            modes.append("dashboard")
        self._build_ahead(modes)

    @work(exclusive=True, exit_on_error=False, group="warm-build")
    async def _build_ahead(self, modes: list[str]) -> None:
        """Build each mode's screen as its first key would, in steps with the event loop
        free between them (a key pressed meanwhile waits for one step at most): compose
        and mount; lay out at the terminal's size; render each widget's lines once, which
        its first paint then finds ready. Measured in tmux: the first ctrl+n went from
        0.14-0.25 s with the screen only mounted to 0.05-0.07 s, as fast as the second.
        """
        for mode in modes:
            screen = self.build_mode(mode)
            if screen is None:
                continue
            await AwaitMount(screen, [screen])
            await asyncio.sleep(0)
            if screen.is_current or not screen.is_attached:
                continue  # shown meanwhile: its own paint lays it out
            screen._refresh_layout(self.size)
            for _rendered in screen._compositor._get_renders():
                await asyncio.sleep(0)
                if screen.is_current:
                    break
        # For `deskterm bench`: from here on, ctrl+n (and a supervisor's f2) only show.
        benchmark.write("warm")

    def switch_mode(self, mode: str) -> AwaitMount:
        """Textual's, without its 50 ms pause of every update (``delay_update``, which masks
        a screen still being composed) when the screen switched to is built already: the
        modes are built ahead (``build_mode``), so the pause only held every ctrl+n, f2 and
        return to the queue back by 50 ms (measured in tmux, key to frame written)."""
        stack = self._screen_stacks.get(mode)
        self._switching_ready = bool(stack and stack[-1].is_mounted)
        try:
            return super().switch_mode(mode)
        finally:
            self._switching_ready = False

    def delay_update(self, delay: float = 0.05) -> None:
        if not self._switching_ready:
            super().delay_update(delay)

    def build_mode(self, mode: str) -> Screen[Any] | None:
        """Compose and mount a mode's screen without showing it: its first ``switch_mode``
        then only shows it. ``None`` when it is built already (or opened meanwhile).

        Textual builds a mode's screen on its first switch (``App._init_mode``), there and
        then; this does the same, less the resume (the screen resumes when shown) and less
        the full restyle that a screen built while another is current would get on its
        first switch (parsing and applying every rule again, 150 ms measured in tmux): its
        widgets take the current stylesheet as they mount, so it is current.
        """
        if not self.is_running or mode in self._screen_stacks or mode not in self._modes:
            return None
        make = self._modes[mode]
        screen = make() if callable(make) else self.get_screen(make)
        self._load_screen_css(screen)
        self._register(self, screen)
        screen._screen_resized(self.size)
        screen._css_update_count = self._css_update_count
        self._screen_stacks[mode] = [screen]
        return screen

    def _open_failed(self, error: BaseException | None) -> None:
        from deskterm.domain.errors import DeskError, UnknownAnalyst

        if isinstance(error, UnknownAnalyst):
            title, code = _("Unknown analyst"), error.exit_code
        elif isinstance(error, DeskError):
            title, code = _("The desk cannot open"), error.exit_code
        else:
            title, code = _("The database cannot be opened"), 4
        detail = str(error).strip().splitlines()[0] if error and str(error).strip() else repr(error)
        self.exit_code = code
        screen = self.screen
        if isinstance(screen, LoadingScreen):
            screen.show_failure(title, detail)

    # ------------------------------------------------------------------ live refresh

    def poll_changes(self) -> None:
        if self.desk is None:
            return
        now = time.monotonic()
        if self.listening and now - self._polled_at < self.safety_seconds:
            return
        self._polled_at = now
        self._read_latest()

    @work(thread=True, exclusive=True, exit_on_error=False, group="poll")
    def _read_latest(self) -> None:
        from deskterm.desk.views import latest_event_id

        assert self.desk is not None
        self.post_message(DeskChanged(self.desk.read(latest_event_id)))

    @on(DeskChanged)
    def spread_change(self, event: DeskChanged) -> None:
        if self.last_event_id == event.latest_event_id and not event.recheck:
            return
        first = self.last_event_id is None
        self.last_event_id = event.latest_event_id
        if first:
            return
        # Every screen of the current mode hears it; the ones underneath refresh on resume.
        self.tell_screens(DeskUpdated)

    def start_listening(self) -> None:
        """On PostgreSQL, hear every change as it commits; SQLite keeps polling."""
        if (
            self.desk is None
            or not self.listen
            or self.desk.db.is_sqlite
            or self.listening
            or self.offline
            or not self.is_running
            or (self._listener is not None and self._listener.is_running)
        ):
            return
        self._listener = self.listen_for_changes()

    @work(thread=True, exclusive=True, exit_on_error=False, group="listen")
    def listen_for_changes(self) -> None:
        from deskterm.desk.live import RelayGone

        worker = get_current_worker()
        # The process that listened for this one (db/notify.py) ended: the database may be
        # fine, and one of its peers becomes the next relay in a moment, so listen again at
        # once, jittered, instead of after the pause of a broken database. Once in a row.
        for attempt in range(2):
            try:
                self._listen_until_cancelled(worker)
                return
            except RelayGone:
                if attempt or worker.is_cancelled:
                    raise
            time.sleep(0.02 + secrets.randbelow(180) / 1000)

    def _listen_until_cancelled(self, worker: Worker[None]) -> None:
        from deskterm.desk.cti import CALLS_CHANNEL
        from deskterm.desk.live import EVENTS_CHANNEL, PRESENCE_CHANNEL, Listener, LivePace
        from deskterm.desk.views import latest_event_id

        desk = self.desk
        assert desk is not None
        channels = (EVENTS_CHANNEL, PRESENCE_CHANNEL, CALLS_CHANNEL)
        with Listener(desk.db, channels) as listener:
            self.post_message(Listening(listener.backend_pid))
            # What changed while nobody listened was announced to nobody: look once now.
            self.post_message(DeskChanged(desk.read(latest_event_id), recheck=True))
            self.post_message(PresenceNoticed(None))
            self.post_message(CallsNoticed())
            pace = LivePace()
            pending: list[int] = []
            while not worker.is_cancelled:
                # While a look is pending, more changes need not wake this thread (the look
                # will see them); a call must, at once. Never longer than LISTEN_WAIT, so
                # the worker still stops soon when told to.
                notices = listener.wait(
                    min(
                        self.LISTEN_WAIT,
                        pace.wait(bool(pending), self.LISTEN_WAIT, time.monotonic()),
                    ),
                    wake=(CALLS_CHANNEL,) if pending else None,
                )
                tickets = frozenset(
                    int(n.payload)
                    for n in notices
                    if n.channel == PRESENCE_CHANNEL and n.payload.isdigit()
                )
                if tickets:
                    self.post_message(PresenceNoticed(tickets))
                if any(n.channel == CALLS_CHANNEL for n in notices):
                    # The phone rings now: answered at once, not at the queue's pace.
                    self.post_message(CallsNoticed())
                pending += [
                    int(n.payload)
                    for n in notices
                    if n.channel == EVENTS_CHANNEL and n.payload.isdigit()
                ]
                if not pace.due(bool(pending), time.monotonic()):
                    continue
                # The channel is shared by every desk (schema) of the database: a notice is
                # a hint, our own newest event is the news. An event id above ours is
                # another desk's; one at or below it may be ours committed late.
                latest = desk.read(latest_event_id)
                pace.looked(time.monotonic())
                self.post_message(DeskChanged(latest, recheck=min(pending) <= latest))
                pending = []

    @on(Listening)
    def hearing_changes(self, event: Listening) -> None:
        self.listening = True
        self.listener_pid = event.backend_pid
        self._relisten_seconds = self.RELISTEN_FIRST

    def listener_stopped(self, error: BaseException | None) -> None:
        """The listening connection broke (or was stopped): poll at the regular pace again,
        look now, and listen again later; a lost database shows in the banner as always."""
        from deskterm.domain.errors import DatabaseUnavailable

        self.listening = False
        self.listener_pid = None
        self._polled_at = 0.0
        if not self.is_running or self.desk is None:
            return
        if error is not None and not isinstance(error, DatabaseUnavailable):
            self.log.warning(f"listener stopped: {error!r}")
        # Through the watched desk: if the database is gone, this raises the banner.
        self._read_latest()
        delay, self._relisten_seconds = (
            self._relisten_seconds,
            min(self._relisten_seconds * 2, self.RELISTEN_LAST),
        )
        self.set_timer(delay, self.start_listening)

    # ------------------------------------------------------------------ the phone

    def poll_calls(self) -> None:
        """SQLite's way (and PostgreSQL's while not listening) to hear the phone ring."""
        if self.desk is None or self.offline or self.listening:
            return
        self.read_calls()

    @on(CallsNoticed)
    def calls_noticed(self) -> None:
        if self.desk is not None and not self.offline:
            self.read_calls(always=True)

    @work(thread=True, exclusive=True, exit_on_error=False, group="calls")
    def read_calls(self, always: bool = False) -> None:
        """This analyst's calls, when anything may have changed: a new call (its id is the
        newest), or news of a call shown (answered, hung up)."""
        from deskterm.desk.cti import my_calls, newest_call_id

        desk = self.desk
        if desk is None:
            return
        tracking = bool(self.pops)
        newest = desk.read(newest_call_id)
        if not always and not tracking and newest == self._newest_call:
            return
        self.post_message(CallsRead(desk.read(my_calls), newest))

    @on(CallsRead)
    def calls_read(self, event: CallsRead) -> None:
        self._newest_call = event.newest
        pops = [p for p in event.pops if p.call.id not in self.calls_done]
        shown = [(p.call.id, p.call.state) for p in self.pops]
        self.pops = pops
        if shown != [(p.call.id, p.call.state) for p in pops]:
            self.refresh_bars()
            # f9 and f10 show in the footer while a call does.
            self.refresh_bindings()
            self.tell_screens(CallsChanged)
        for pop in pops:
            if pop.call.state == "answered" and pop.call.id not in self.calls_offered:
                self.calls_offered.add(pop.call.id)
                self.answered(pop)

    def answered(self, pop: CallPop) -> None:
        """The analyst took the call on the phone: the new-call screen opens on the caller,
        timed from the PBX's answer; unless they are typing, then it waits in the header."""
        from deskterm.tui.screens.intake import IntakeScreen

        screen = self.screen
        if isinstance(screen, IntakeScreen) and screen.follows_call(pop):
            self.calls_done.add(pop.call.id)
            self._drop_pop(pop.call.id)
            return
        if self.busy_typing():
            return  # waits in the header: f9 takes it
        self.take_call(pop)

    def busy_typing(self) -> bool:
        """Whether a call popping up now would take the analyst away from something they
        are in the middle of: a dialog, a field with text in it, or a call under way."""
        from textual.screen import ModalScreen
        from textual.widgets import Input, TextArea

        from deskterm.tui.screens.intake import call_under_way

        if isinstance(self.screen, ModalScreen) or call_under_way(self):
            return True
        focused = self.focused
        if isinstance(focused, Input) and focused.value.strip():
            return True
        return isinstance(focused, TextArea) and bool(focused.text.strip())

    def take_call(self, pop: CallPop, *, attach: bool = True) -> None:
        """Open the new-call screen on ``pop``'s caller (or its number, unknown).
        ``attach``: the call is that phone call (its length the PBX's); not for calling a
        missed caller back, a call of its own, timed by the screen."""
        from deskterm.tui.screens.intake import IntakeScreen, call_under_way

        if call_under_way(self):
            self.notify(
                _(
                    "A call is under way in New call: save it or bin it (ctrl+b) before taking "
                    "this one; it stays in the header."
                ),
                title=_("Call waiting"),
            )
            return
        self.calls_done.add(pop.call.id)
        self.calls_offered.add(pop.call.id)
        self._drop_pop(pop.call.id)
        screen = self.screen
        if isinstance(screen, IntakeScreen):
            self.call_later(screen.take_phone_call, pop, attach=attach)
            return
        self.call_to_take, self.call_attach = pop, attach
        # Dialogs and pushed screens (a ticket, search) close first: the call is the work now.
        while len(self.screen_stack) > 1 and not isinstance(self.screen, IntakeScreen):
            self.pop_screen()
        self.switch_mode("intake")

    def _drop_pop(self, call_id: int) -> None:
        self.pops = [p for p in self.pops if p.call.id != call_id]
        self.refresh_bars()
        self.refresh_bindings()
        self.tell_screens(CallsChanged)

    def action_take_call(self) -> None:
        if self.pops:
            self.take_call(self.pops[0])

    def action_dismiss_call(self) -> None:
        if self.pops:
            self.calls_done.add(self.pops[0].call.id)
            self._drop_pop(self.pops[0].call.id)

    @on(PresenceNoticed)
    def spread_presence(self, event: PresenceNoticed) -> None:
        self.tell_screens(lambda: PresenceChanged(event.ticket_ids))

    def tell_screens(self, message: Callable[[], Message]) -> None:
        """Post a new ``message()`` to each screen of the current mode (a message is handled
        once: each screen gets its own)."""
        for screen in self.screen_stack:
            screen.post_message(message())

    # ------------------------------------------------------------------ presence

    def leave_ticket(self, ticket_id: int) -> None:
        """A ticket screen closed: the others stop seeing this analyst there."""
        if self.desk is not None and not self.offline and self.is_running:
            self._leave(ticket_id)

    @work(thread=True, exit_on_error=False, group="presence")
    def _leave(self, ticket_id: int) -> None:
        from deskterm.desk.presence import leave_ticket

        assert self.desk is not None
        self.desk.write(leave_ticket, ticket_id=ticket_id, app_session=self.app_session)

    async def on_unmount(self) -> None:
        """Leave every ticket this terminal had open, so nobody sees a ghost for the next
        seconds. Not for long: a database that just went away must not hold the exit."""
        if self.desk is None or self.offline:
            return
        leaving = threading.Thread(
            target=_leave_all, args=(self.desk, self.app_session), daemon=True
        )
        leaving.start()
        await asyncio.to_thread(leaving.join, 1.0)

    # ------------------------------------------------------------------ losing the database

    def _database_turned(self, reached: bool, reason: str) -> None:
        """Called from whichever worker thread met the change."""
        self.post_message(DeskReached() if reached else DeskLost(reason))

    @on(DeskLost)
    def went_offline(self, event: DeskLost) -> None:
        """Every screen shows it at the top (see DeskBar); dialogs and the new call keep what
        was typed; the database is tried again until it answers."""
        if self.offline:
            return
        self.offline = True
        self.notify(
            _(
                "{reason}. Nothing you type is lost: deskterm keeps trying and says when "
                "the database is back."
            ).format(reason=event.reason),
            title=_("Database unreachable"),
            severity="error",
            markup=False,
            timeout=8,
        )
        if self.retry_seconds and self._retrying is None:
            self._retrying = self.set_interval(self.retry_seconds, self.try_again)

    def try_again(self) -> None:
        """Ask the database for its newest change; an answer brings the app back online."""
        if self.desk is not None:
            self._read_latest()

    @on(DeskReached)
    def came_back(self, _event: DeskReached) -> None:
        if not self.offline:
            return
        self.offline = False
        if self._retrying is not None:
            self._retrying.stop()
            self._retrying = None
        self.notify(_("The database is back."), title=_("Connected"), timeout=4)
        self.start_listening()
        # What failed to load meanwhile loads now.
        self.tell_screens(DeskUpdated)

    def watch_offline(self) -> None:
        self.refresh_bars()

    def refresh_bars(self) -> None:
        from deskterm.tui.widgets.bar import DeskBar

        # Every mode's screens: the header of the one shown next must not show an old call.
        stacks = [s for stack in self._screen_stacks.values() for s in stack]
        for screen in stacks or self.screen_stack:
            for bar in screen.query(DeskBar):
                bar.refresh_state()

    # ------------------------------------------------------------------ SLA and callbacks

    @work(thread=True, exclusive=True, exit_on_error=False, group="sla")
    def check_sla(self) -> None:
        """Warnings, breaches and escalation rules (as ``deskterm sla check``), then this
        analyst's callbacks that have come due."""
        from deskterm.desk.callbacks import due_callbacks
        from deskterm.desk.cti import missed_unreturned
        from deskterm.desk.sla_check import run_check

        if self.desk is None or self.offline:
            return
        result = run_check(self.desk.db)
        missed = (
            self.desk.read(missed_unreturned, minutes=self.missed_alert_minutes)
            if self.missed_alert_minutes
            else []
        )
        self.post_message(SlaChecked(result, self.desk.read(due_callbacks), missed))

    @on(SlaChecked)
    def remind(self, event: SlaChecked) -> None:
        """A gentle nag: each due callback once, a few at a time; and a supervisor hears of
        the escalation rules that told them."""
        self.sla_failed = False
        fresh = [c for c in event.callbacks if c.id not in self.nagged]
        self.nagged.update(c.id for c in fresh)
        for callback in fresh[:3]:
            if callback.contact:
                text = _("{ref} {contact}: {reason}").format(
                    ref=callback.ref, contact=callback.contact, reason=callback.reason
                )
            else:
                text = _("{ref}: {reason}").format(ref=callback.ref, reason=callback.reason)
            self.notify(
                text,
                title=_("Callback due"),
                markup=False,
                timeout=12,
            )
        if len(fresh) > 3:
            more = len(fresh) - 3
            self.notify(
                ngettext(
                    "{n} more callback is due: see the callbacks queue (5).",
                    "{n} more callbacks are due: see the callbacks queue (5).",
                    more,
                ).format(n=more),
                title=_("Callbacks due"),
                timeout=12,
            )
        self.remind_missed(event.missed or [])
        for firing in event.result.firings:
            if self.actor is not None and self.actor.login in firing.told:
                self.notify(
                    _("{ref}: {reason}: {summary}").format(
                        ref=firing.ref, reason=firing.reason, summary=firing.summary
                    ),
                    title=_("Escalation rule"),
                    severity="warning",
                    markup=False,
                    timeout=15,
                )

    def remind_missed(self, missed: list[Any]) -> None:
        """A missed caller nobody called back within the alert's minutes: told once to the
        analysts it rang and to supervisors (who see the whole desk's)."""
        actor = self.actor
        if actor is None:
            return
        mine = [
            c
            for c in missed
            if c.id not in self.missed_nagged and (actor.is_supervisor or actor.login in c.ringing)
        ]
        self.missed_nagged.update(c.id for c in mine)
        for call in mine[:3]:
            who = call.contact or _("unknown number {number}").format(number=call.caller_number)
            self.notify(
                ngettext(
                    "{who} ({number}) rang at {time} and has not been called back for "
                    "{minutes} min: see Missed calls (7).",
                    "{who} ({number}) rang at {time} and has not been called back for "
                    "{minutes} min: see Missed calls (7).",
                    self.missed_alert_minutes,
                ).format(
                    who=who,
                    number=call.caller_number,
                    time=i18n.format_time(call.started_at, call.started_at),
                    minutes=self.missed_alert_minutes,
                ),
                title=_("Missed call"),
                severity="warning",
                timeout=15,
            )
        if len(mine) > 3:
            more = len(mine) - 3
            self.notify(
                ngettext(
                    "{n} more missed call waits for a call back: see Missed calls (7).",
                    "{n} more missed calls wait for a call back: see Missed calls (7).",
                    more,
                ).format(n=more),
                title=_("Missed calls"),
                severity="warning",
                timeout=15,
            )

    # ------------------------------------------------------------------ failures

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is self._listener and event.state in (
            WorkerState.ERROR,
            WorkerState.SUCCESS,
            WorkerState.CANCELLED,
        ):
            self._listener = None
            self.listener_stopped(event.worker.error)
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if event.worker.group == "open":
            self._open_failed(error)
        elif event.worker.group == "sla":
            # A background job: say it once, not every minute; an outage is said elsewhere.
            if not self.sla_failed and not self.offline:
                self.sla_failed = True
                self.notify(
                    self.describe_error(error), title=_("SLA check failed"), severity="warning"
                )
        elif event.worker.group in ("presence", "listen", "calls"):
            pass  # a courtesy and a hint: an outage shows in the banner, never as a popup
        elif event.worker.group in ("warm", "warm-build"):
            pass  # a head start: whatever failed fails again, and says so, at its own key
        elif event.worker.group == "poll":
            if not self.offline:
                # A failure that is no outage (an outage comes as DeskLost): say it once.
                from deskterm.domain.errors import DatabaseUnavailable

                if not isinstance(error, DatabaseUnavailable):
                    self.notify(self.describe_error(error), title=_("Offline"), severity="error")
        else:
            self.show_error(error)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every toast is plain text, whatever the caller asked: toasts carry names, subjects,
        reasons and the desk's refusals, which quote them ("[" in a name is data), and
        ``Widget.notify`` asks for markup by default. No control sequence gets through."""
        from deskterm.tui.format import plain

        super().notify(
            plain(message, long=True),
            title=plain(title),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    def _fatal_error(self) -> None:
        """A bug reached the event loop: Textual exits and prints the traceback, but without
        the values of local variables (they hold the database URL, callers' names and mail)
        unless run in dev mode; and deskterm exits 70, an internal error, as the CLI does."""
        import rich
        from rich.segment import Segments
        from rich.traceback import Traceback

        self.exit_code = self.exit_code or 70
        self.bell()
        traceback = Traceback(
            show_locals="debug" in self.features, width=None, locals_max_length=5, suppress=[rich]
        )
        self._exit_renderables.append(
            Segments(self.console.render(traceback, self.console.options))
        )
        self._close_messages_no_wait()

    def describe_error(self, error: BaseException | None) -> str:
        from deskterm.domain.errors import DeskError

        if isinstance(error, DeskError):
            return str(error)
        text = str(error).strip().splitlines()[0] if error and str(error).strip() else ""
        return _("Something went wrong: {kind}: {text}").format(
            kind=type(error).__name__, text=text
        )

    def show_error(self, error: BaseException | None) -> None:
        from deskterm.domain.errors import ConflictError, PermissionDenied

        title = (
            _("Changed meanwhile")
            if isinstance(error, ConflictError)
            else _("Not allowed")
            if isinstance(error, PermissionDenied)
            else _("Refused")
        )
        self.notify(self.describe_error(error), title=title, severity="error", markup=False)

    # ------------------------------------------------------------------ navigation

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "new_call":
            return self.desk is not None
        if action == "knowledge":
            return self.desk is not None
        if action == "dashboard":
            return self.actor is not None and self.actor.is_supervisor
        if action in ("take_call", "dismiss_call"):
            return bool(self.pops)
        return True

    def action_help_quit(self) -> None:
        """ctrl+c: how to quit, in the analyst's language (Textual's own says it in English,
        with markup that a plain toast would show as it is)."""
        for key, active in self.active_bindings.items():
            if active.binding.action in ("quit", "app.quit"):
                self.notify(
                    _("Press {key} to quit the app").format(key=key),
                    title=_("Do you want to quit?"),
                )
                return

    def action_new_call(self) -> None:
        if self.desk is not None:
            self.switch_mode("intake")

    async def action_quit(self) -> None:
        """A half-written call asks once first (its draft is kept either way)."""
        from deskterm.tui.screens.intake import asked_before_quit

        if not asked_before_quit(self):
            self.exit()

    def action_knowledge(self) -> None:
        if self.desk is not None:
            self.switch_mode("kb")

    def action_search_tickets(self) -> None:
        from deskterm.tui.screens.search import SearchScreen

        if self.desk is not None and not isinstance(self.screen, SearchScreen):
            self.push_screen(SearchScreen())

    def action_dashboard(self) -> None:
        if self.actor is not None and self.actor.is_supervisor:
            self.switch_mode("dashboard")

    def open_ticket(self, ticket_id: int) -> None:
        from deskterm.tui.screens.ticket import TicketScreen

        if self.desk is not None:
            self.push_screen(TicketScreen(ticket_id))

    def action_keys(self) -> None:
        """The key help over the screen at hand; pressed again there, it closes."""
        from deskterm.tui.modals.keys import KeysScreen

        if isinstance(self.screen, KeysScreen):
            self.screen.dismiss(None)
        else:
            self.push_screen(KeysScreen(self.screen))

    def palette_commands(self, screen: Screen[Any]) -> list[tuple[SystemCommand, bool]]:
        """The palette's commands, deskterm's (flagged True) before Textual's, each title
        once (see commands.py)."""
        return list(palette_commands(self, screen, super().get_system_commands(screen)))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        for command, _ours in self.palette_commands(screen):
            yield command


def _leave_all(desk: Desk, app_session: str) -> None:
    from deskterm.desk.presence import leave_all

    # The terminal is closing: if this fails, the rows go stale within seconds anyway.
    with contextlib.suppress(Exception):
        desk.write(leave_all, app_session=app_session)


def _later(module: str, name: str) -> Callable[[], Screen[Any]]:
    """A mode's screen, imported the first time the mode is opened."""

    def make() -> Screen[Any]:
        screen: type[Screen[Any]] = getattr(importlib.import_module(module), name)
        return screen()

    return make


def run(database_url: str, who: Identity | str | None = None) -> int:
    """Open the analyst's terminal; the exit code says whether the desk could open.

    ``who``: a login, or how to find it (``None``: the settings in force, as the CLI reads
    them). A claimed login is known at once; a database login once the desk is open.
    """
    from deskterm.config import load_settings
    from deskterm.desk.identity import Identity

    settings = load_settings()
    if who is None:
        who = Identity(mode=settings.identity, configured=settings.user)
    if isinstance(who, str):
        login: str | None = who.strip().lower()
        identity = None
    else:
        login, identity = who.local_login(), who
    app = DeskApp(
        database_url,
        login,
        identity=identity,
        phone_region=settings.phone_region,
        data_dir=settings.data_folder(),
        missed_alert_minutes=settings.missed_call_alert_minutes,
        keymap=settings.keys.keymap(),
    )
    gc.freeze()  # what the start imported, as in show_desk: no full collection walks it again
    app.run()
    if app.desk is not None:
        app.desk.db.dispose()
    return app.exit_code
