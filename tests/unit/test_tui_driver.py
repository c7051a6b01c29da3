"""Escape arrives in tens of milliseconds, and keys that begin with ESC still arrive whole."""

from __future__ import annotations

import time

import pytest
from textual import constants, events
from textual._xterm_parser import XTermParser

from deskterm.tui.driver import ESCAPE_SECONDS, escape_delay


@pytest.fixture
def short_delay(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.delenv("ESCDELAY", raising=False)
    monkeypatch.setattr(constants, "ESCAPE_DELAY", constants.ESCAPE_DELAY)
    escape_delay()
    return float(constants.ESCAPE_DELAY)


def _keys(messages: object) -> list[str]:
    return [m.key for m in messages if isinstance(m, events.Key)]  # type: ignore[attr-defined]


def test_the_wait_after_a_lone_escape_is_ours_unless_escdelay_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(constants, "ESCAPE_DELAY", 0.1)
    monkeypatch.setenv("ESCDELAY", "100")
    escape_delay()
    assert constants.ESCAPE_DELAY == 0.1  # the analyst's own ESCDELAY wins
    monkeypatch.delenv("ESCDELAY")
    escape_delay()
    assert constants.ESCAPE_DELAY == ESCAPE_SECONDS < 0.1


def test_a_lone_escape_is_escape_once_the_short_wait_is_over(short_delay: float) -> None:
    parser = XTermParser()
    assert _keys(parser.feed("\x1b")) == []  # it could still be the start of an arrow key
    assert parser._timeout_time is not None
    assert parser._timeout_time - time.monotonic() <= short_delay
    time.sleep(short_delay + 0.01)
    assert _keys(parser.tick()) == ["escape"]


def test_keys_sent_whole_are_not_split_into_escape_and_letters(short_delay: float) -> None:
    parser = XTermParser()
    assert _keys(parser.feed("\x1b[A")) == ["up"]
    assert _keys(parser.feed("\x1bOP")) == ["f1"]
    assert _keys(parser.feed("\x1b[15~")) == ["f5"]
    assert _keys(parser.feed("\x1b[1;2Q")) == ["shift+f2"]
