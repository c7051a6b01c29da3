"""The screens analysts live in, in German and Czech at 80x24 (issue 19): long words
(Eskalationsstufe, Warteschlange, zpětné volání) must fit without cut labels.

The analyst's own language setting decides, as it does in use: the app puts it in force when
the desk opens.
"""

from __future__ import annotations

import pytest
from helpers import until
from sqlalchemy import create_engine, text
from test_call_flow_screens import _call
from test_keys_help import _keys
from test_screens import _ticket, shoot

from deskterm.tui.screens.dashboard import DashboardScreen
from factories import AGENT, SUPERVISOR

LANGUAGES = [pytest.param("de", id="de"), pytest.param("cs", id="cs")]
SIZE = (80, 24)


def speaks(seeded, login: str, language: str) -> None:
    """Give an analyst of the fixed desk a language (the test's own SQL: no face does this)."""
    engine = create_engine(seeded.url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE analyst SET language = :language WHERE login = :login"),
            {"language": language, "login": login},
        )
    engine.dispose()


@pytest.mark.parametrize("language", LANGUAGES)
def test_queue(snap_compare, make_app, seeded, language) -> None:
    speaks(seeded, AGENT, language)
    assert shoot(snap_compare, make_app(AGENT), SIZE)


@pytest.mark.parametrize("language", LANGUAGES)
def test_new_call(snap_compare, make_app, seeded, language) -> None:
    speaks(seeded, AGENT, language)
    assert shoot(snap_compare, make_app(AGENT), SIZE, _call)


@pytest.mark.parametrize("language", LANGUAGES)
def test_ticket(snap_compare, make_app, seeded, language) -> None:
    speaks(seeded, AGENT, language)
    assert shoot(snap_compare, make_app(AGENT), SIZE, _ticket)


@pytest.mark.parametrize("language", LANGUAGES)
def test_escalation(snap_compare, make_app, seeded, language) -> None:
    async def steps(pilot) -> None:
        await _ticket(pilot)
        await pilot.press("e")
        await until(pilot, lambda: getattr(pilot.app.screen, "targets", None))

    speaks(seeded, AGENT, language)
    assert shoot(snap_compare, make_app(AGENT), SIZE, steps)


@pytest.mark.parametrize("language", LANGUAGES)
def test_dashboard(snap_compare, make_app, seeded, language) -> None:
    async def steps(pilot) -> None:
        await pilot.press("f2")
        await until(
            pilot,
            lambda: (
                isinstance(pilot.app.screen, DashboardScreen) and pilot.app.screen.board is not None
            ),
            "dashboard shown",
        )

    speaks(seeded, SUPERVISOR, language)
    assert shoot(snap_compare, make_app(SUPERVISOR), SIZE, steps)


@pytest.mark.parametrize("language", LANGUAGES)
def test_key_help(snap_compare, make_app, seeded, language) -> None:
    speaks(seeded, AGENT, language)
    assert shoot(snap_compare, make_app(AGENT), SIZE, _keys)
