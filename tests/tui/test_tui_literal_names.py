"""Names, groups, callers and subjects that look like markup are shown as typed, on every
screen and in every list, and never break the app (issue 13, item 3: "Tom [/] Temp" crashed
the away dialog; "Sam [IT] Okafor" showed as "Sam  Okafor")."""

from __future__ import annotations

import io
import re

import pytest
from helpers import opened, settle, type_text, until
from rich.console import Console
from rich.text import Text
from sqlalchemy import update
from textual.widgets import DataTable, OptionList, Select, SelectionList

from deskterm.db.models import Analyst, ResolutionCode, SupportGroup
from deskterm.desk.analysts import add_analyst, add_group
from deskterm.desk.contacts import add_contact
from deskterm.tui.format import clip, literal, plain
from deskterm.tui.modals.away import AwayModal
from deskterm.tui.modals.ticket_actions import AssignModal, EscalateModal, ResolveModal
from deskterm.tui.screens.dashboard import DashboardScreen
from deskterm.tui.screens.handover import HandoverScreen
from deskterm.tui.screens.intake import IntakeScreen
from deskterm.tui.screens.search import SearchScreen
from deskterm.tui.screens.ticket import TicketScreen
from deskterm.tui.widgets.queuetable import QueueTable
from factories import ADMIN, AGENT, SUPERVISOR

TOM = "Tom [/] Temp"
SAM = "Sam [IT] Okafor"
GROUP = "[b]Ops[/b]"
EVE = "Eve [red]Mallory[/red]"
SUBJECT = "[link=http://x]click[/link] [/]"


@pytest.fixture
def marked(seeded) -> int:
    """The hostile names of the issue, on the seeded desk; the ticket's id."""
    admin = seeded.known.as_(ADMIN)
    admin.write(add_group, name=GROUP, level=1)
    admin.write(add_analyst, login="tom.temp", name=TOM, groups=(GROUP, "Service Desk"))
    admin.write(
        add_analyst,
        login="sam.it",
        name=SAM,
        role="supervisor",
        level=2,
        groups=("Service Desk",),
    )
    eve = admin.write(add_contact, name=EVE, phone="+1 555 0199", organization="[i]Evil[/i] Ltd")
    made = seeded.known.ticket(
        AGENT, subject=SUBJECT, contact_id=eve.id, group=GROUP, assignee="tom.temp"
    )
    return made.id


def drawn(app) -> str:
    """The characters the terminal is sent to draw the screen, line by line (what
    ``export_screenshot`` draws, as text)."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text()


def assert_alive(app) -> None:
    assert app.is_running, f"the app stopped: {app._exception!r}"
    assert app._exception is None, repr(app._exception)


def test_format_helpers_keep_markup_as_text() -> None:
    for name in (TOM, SAM, GROUP, EVE, SUBJECT):
        shown = literal(name, style="bold")
        assert isinstance(shown, Text)
        assert shown.plain == name
        assert plain(name) == name
    # A control sequence never reaches the screen; the markup around it stays.
    assert literal("Tom \x1b]0;x\x07[/] Temp").plain == TOM
    assert plain("a\x1b[2J [b]b[/b]\nc", long=True) == "a [b]b[/b]\nc"
    assert plain("a\x1b[2J\nb") == "a b"


async def test_the_away_dialog_lists_marked_up_names_literally(make_app, marked) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, AwayModal) and app.screen.me)
        select = app.screen.query_one("#backup", Select)
        await pilot.press("enter")  # the backup list opens
        await settle(pilot)
        assert_alive(app)
        assert select.expanded
        assert f"{SAM} (sam.it, 0 open)" in drawn(app)  # was "Sam  Okafor"
        # Down to Tom (by login: ..., sam.it, tom.temp), whose name crashed the app.
        logins = [value for _prompt, value in select._options]
        # From the proposed backup (or the blank line), down to Tom.
        start = logins.index(select.value) if select.value in logins else 0
        await pilot.press(*["down"] * (logins.index("tom.temp") - start))
        await settle(pilot)
        assert f"{TOM} (tom.temp, 1 open)" in drawn(app)
        await pilot.press("enter")
        await settle(pilot)
        assert select.value == "tom.temp"
        assert f"{TOM} (tom.temp, 1 open)" in drawn(app)
        await pilot.press("tab")
        await type_text(pilot, "a [b]holiday[/b]")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, AwayModal), "saved")
        assert_alive(app)
        said = [n.message for n in app._notifications]
        assert any("tom.temp covers for you" in m for m in said), said
        # And back: the dialog says who covers, literally.
        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, AwayModal) and app.screen.me)
        await settle(pilot)
        assert "You are away (backup: tom.temp)" in drawn(app)
        assert_alive(app)


async def test_queue_ticket_and_its_dialogs_show_names_literally(make_app, marked) -> None:
    app = make_app(SUPERVISOR)
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        await pilot.press("6")  # all tickets
        await until(pilot, lambda: marked in app.screen.rows, "the ticket listed")
        table = app.screen.query_one(QueueTable)
        shown = table.row_text(table.row_ids.index(marked))[4:7]
        assert shown == [SUBJECT, clip(EVE, 20), "tom.temp"]
        assert SUBJECT in drawn(app) and clip(EVE, 20) in drawn(app)
        app.open_ticket(marked)
        await until(pilot, lambda: isinstance(app.screen, TicketScreen) and app.screen.ticket)
        shown = drawn(app)
        for said in (SUBJECT, GROUP, f"{TOM} (tom.temp)", EVE, "[i]Evil[/i] Ltd"):
            assert said in shown, said
        assert_alive(app)

        await pilot.press("a")  # reassign
        await until(pilot, lambda: isinstance(app.screen, AssignModal) and app.screen.analysts)
        table = app.screen.query_one("#to", DataTable)
        names = {table.get_row(login)[1].plain for login in ("tom.temp", "sam.it")}
        assert names == {TOM, SAM}
        shown = drawn(app)
        assert TOM in shown and SAM in shown and f"Now with tom.temp in {GROUP}" in shown
        assert_alive(app)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, TicketScreen))

        await pilot.press("e")  # escalate
        await until(
            pilot,
            lambda: (
                isinstance(app.screen, EscalateModal)
                and app.screen.query_one("#target", OptionList).option_count
            ),
        )
        options = app.screen.query_one("#target", OptionList)
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert f"Supervisor: {SAM} (sam.it, here)" in prompts
        options.highlighted = prompts.index(f"Supervisor: {SAM} (sam.it, here)")
        await settle(pilot)
        shown = drawn(app)
        assert f"Supervisor: {SAM} (sam.it, here)" in shown
        assert f"Now at level 1 with {GROUP}" in shown
        assert_alive(app)


async def test_handover_lists_names_and_groups_literally(make_app, marked) -> None:
    app = make_app(SUPERVISOR)
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HandoverScreen) and app.screen.analysts)
        screen = app.screen
        table = screen.query_one("#analysts", DataTable)
        assert table.get_row("tom.temp")[0].plain == clip(f"{TOM} (tom.temp)", 22)
        table.move_cursor(row=0)
        await settle(pilot)
        await pilot.press(*["down"] * table.get_row_index("tom.temp"))
        await until(pilot, lambda: screen.source == "tom.temp" and screen.versions)
        listing = screen.query_one("#tickets", SelectionList)
        assert SUBJECT in listing.get_option_at_index(0).prompt.plain  # type: ignore[union-attr]
        shown = drawn(app)
        assert clip(f"{TOM} (tom.temp)", 22) in shown and SUBJECT in shown
        screen.query_one("#to").focus()
        await pilot.press("enter")  # open "Give to"
        await settle(pilot)
        shown = drawn(app)
        assert f"{SAM} (sam.it, 0 open)" in shown
        assert f"Group queue: {GROUP} (L1)" in shown
        assert_alive(app)


async def test_new_call_lookup_shows_the_caller_literally(make_app, marked) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        await pilot.press("ctrl+n")
        await until(pilot, lambda: isinstance(app.screen, IntakeScreen))
        await type_text(pilot, "Eve [red]")
        matches = app.screen.query_one("#matches", OptionList)
        await until(pilot, lambda: matches.option_count, "a caller found")
        assert EVE in drawn(app)
        await pilot.press("enter")  # the only match: taken
        await until(pilot, lambda: app.screen.contact is not None, "caller chosen")
        shown = drawn(app)
        assert EVE in shown and "[i]Evil[/i] Ltd" in shown and SUBJECT in shown
        assert_alive(app)


async def test_dashboard_and_search_show_names_literally(make_app, marked) -> None:
    app = make_app(SUPERVISOR)
    async with app.run_test(size=(140, 50)) as pilot:
        await opened(pilot)
        await pilot.press("f2")
        await until(
            pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.board, "board"
        )
        backlog = app.screen.query_one("#dash-backlog", DataTable)
        assert backlog.get_row(GROUP)[0].plain == GROUP
        assert GROUP in drawn(app)
        assert_alive(app)

        await pilot.press("ctrl+f")
        await until(pilot, lambda: isinstance(app.screen, SearchScreen))
        await type_text(pilot, "click")
        await until(pilot, lambda: marked in app.screen.hits, "the ticket found")
        shown = drawn(app)
        assert SUBJECT in shown and clip(EVE, 20) in shown
        assert_alive(app)


async def test_the_palette_opens_the_ticket_and_the_away_dialog(make_app, marked) -> None:
    app = make_app(AGENT)
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        await type_text(pilot, str(marked))
        await settle(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TicketScreen) and app.screen.ticket)
        assert SUBJECT in drawn(app)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, TicketScreen))
        await pilot.press("ctrl+p")
        await settle(pilot)
        await type_text(pilot, "away")
        await settle(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, AwayModal) and app.screen.me)
        await pilot.press("enter")
        await settle(pilot)
        assert SAM in drawn(app)
        assert_alive(app)


RAW = "\x1b]0;pwned\x07[/] \x1b[2J"
# Anything a terminal would act on: C0 controls but line breaks, DEL, C1, bidi overrides.
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


async def test_rows_written_around_the_desk_show_literally_and_safely(
    make_app, seeded, marked
) -> None:
    """Rows another tool wrote (an import, a script) with markup and control sequences: the
    bar, the dashboard, the resolve dialog's codes and a toast show their text, nothing
    else."""
    with seeded.known.db.write() as session:
        session.execute(
            update(Analyst).where(Analyst.login == SUPERVISOR).values(name=f"Sam {RAW}Boss")
        )
        session.execute(
            update(SupportGroup).where(SupportGroup.name == GROUP).values(name=f"Ops {RAW}team")
        )
        session.execute(
            update(ResolutionCode)
            .where(ResolutionCode.code == "hardware-replaced")
            .values(label=f"[b]Swapped[/b] {RAW}")
        )
    app = make_app(SUPERVISOR)
    screens = []
    async with app.run_test(size=(140, 50), notifications=True) as pilot:
        await opened(pilot)
        screens.append(drawn(app))
        assert "Sam [/] Boss (supervisor L2)" in screens[-1]
        app.screen.notify(f"{TOM} \x1b[2Jadded")
        await settle(pilot)
        said = [n.message for n in app._notifications]
        assert f"{TOM} added" in said
        assert f"{TOM} added" in drawn(app)
        await pilot.press("f2")
        await until(
            pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.board, "board"
        )
        screens.append(drawn(app))
        assert "Ops [/] team" in screens[-1]
        app.open_ticket(marked)
        await until(pilot, lambda: isinstance(app.screen, TicketScreen) and app.screen.ticket)
        screens.append(drawn(app))
        assert "L1 Ops [/] team" in screens[-1]
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ResolveModal))
        await pilot.press("enter")  # the codes open
        await settle(pilot)
        screens.append(drawn(app))
        assert "[b]Swapped[/b] [/] (hardware-replaced)" in screens[-1]
        assert_alive(app)
    for shown in screens:
        assert not UNSAFE.search(shown), repr(UNSAFE.findall(shown))
        assert "pwned" not in shown


async def test_a_bug_exits_70_with_a_traceback_but_no_local_values(make_app) -> None:
    """An unexpected exception still ends the app (nothing is hidden), but the analyst is not
    shown the values of local variables (a database URL, callers' names), and the shell sees
    an internal error, not success."""
    app = make_app(AGENT)
    # What the terminal shows after the app's screen is gone.
    app.error_console = Console(width=120, file=io.StringIO(), record=True)

    def broken() -> None:
        secret = "postgresql://desk:" + "hunter2"[::-1] + "@db.example/desk"  # noqa: F841
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        async with app.run_test(size=(120, 36)) as pilot:
            await opened(pilot)
            app.call_later(broken)
            await pilot.pause()
            await pilot.pause()
    assert app.exit_code == 70
    printed = app.error_console.export_text()
    assert "RuntimeError" in printed and "a bug" in printed
    assert "2retnuh" not in printed and "locals" not in printed
