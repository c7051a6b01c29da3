"""The phone's screens at 80x24 (issue 18): the caller in the header while it rings, an
unknown number, and the missed-calls view. Look at a changed snapshot before accepting it."""

from __future__ import annotations

import pytest
from helpers import opened, settle, steady, until

from deskterm.desk.cti import add_token, receive, set_extension
from factories import AGENT, SUPERVISOR

SIZE = (80, 24)


def calls(seeded, *posts: dict[str, str]) -> None:
    """The PBX's events, as the server hands them to the desk."""
    known = seeded.known
    known.as_(SUPERVISOR).write(set_extension, login=AGENT, extension="201")
    secret = known.as_(SUPERVISOR).write(add_token).secret
    for fields in posts:
        known.as_(None).write(
            lambda session, actor, f=fields: receive(
                session, actor, secret=secret, fields=f, region="GB"
            )
        )


def ring(call_id: str, number: str) -> dict[str, str]:
    return {"event": "newCall", "callId": call_id, "direction": "in", "from": number, "to": "201"}


def shoot(snap_compare, app, steps) -> bool:
    async def run_before(pilot) -> None:
        await opened(pilot)
        await steps(pilot)
        await settle(pilot)
        steady(pilot)
        await pilot.pause()

    return snap_compare(app, terminal_size=SIZE, run_before=run_before)


async def _popped(pilot) -> None:
    pilot.app.read_calls(always=True)
    await until(pilot, lambda: pilot.app.pops, "the call in the header")


def test_a_known_caller_rings(snap_compare, make_app, seeded) -> None:
    calls(seeded, ring("snap-1", "020 7946 0958"))
    assert shoot(snap_compare, make_app(AGENT), _popped)


def test_an_unknown_number_rings(snap_compare, make_app, seeded) -> None:
    calls(seeded, ring("snap-2", "+49 30 901820"))
    assert shoot(snap_compare, make_app(AGENT), _popped)


@pytest.mark.parametrize("size", [SIZE])
def test_missed_calls_view(snap_compare, make_app, seeded, size) -> None:
    calls(
        seeded,
        ring("snap-3", "020 7946 0958"),
        {"event": "hangup", "callId": "snap-3", "cause": "noAnswer"},
        ring("snap-4", "+49 30 901820"),
        {"event": "hangup", "callId": "snap-4", "cause": "busy"},
    )

    async def steps(pilot) -> None:
        await pilot.press("7")
        await until(pilot, lambda: pilot.app.screen.page.view == "missed")

    assert shoot(snap_compare, make_app(AGENT), steps)
