"""The ticket screen's story of a mail thread: quotes and signatures folded to one line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from helpers import until
from test_screens import SIZES, shoot

from factories import AGENT

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tui"))

from test_tui_mail_folds import mail_ticket  # noqa: E402


@pytest.mark.parametrize("size", SIZES)
def test_ticket_with_folded_mail(snap_compare, make_app, seeded, size) -> None:
    ref = mail_ticket(seeded)

    async def steps(pilot) -> None:
        pilot.app.open_ticket(ref)
        await until(pilot, lambda: getattr(pilot.app.screen, "loaded", None) is not None)

    assert shoot(snap_compare, make_app(AGENT), size, steps)
