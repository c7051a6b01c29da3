"""The desk speaks the analyst's language: its refusals, the words of the ticket's story and
the SLA clocks come out of the catalog in force, with their values filled in.

A fake catalog wraps every message it is asked for in «»: a message that comes out wrapped
was looked up (it is marked and reaches gettext whole), and the values around it prove the
placeholders were filled after the lookup, not before.
"""

from __future__ import annotations

import gettext
from datetime import UTC, datetime, timedelta

import pytest

from deskterm import i18n
from deskterm.desk.tickets import get_ticket, resolve
from deskterm.domain.due import clock_words, ticket_due
from deskterm.domain.enums import EventKind, Status, status_label
from deskterm.domain.errors import ChangeSeen, ConflictError, InvalidTransition, PermissionDenied
from deskterm.domain.events import describe
from deskterm.domain.transitions import check_transition
from factories import AGENT, AGENT2, KnownDesk


class Marked(gettext.NullTranslations):
    """A catalog that translates every message by wrapping it in «»."""

    def gettext(self, message: str) -> str:
        return f"«{message}»"

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return f"«{msgid1 if n == 1 else msgid2}»"

    def pgettext(self, context: str, message: str) -> str:
        return f"«{message}»"


@pytest.fixture
def marked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake catalog in force for the test (the suite's own fixture puts English back)."""
    monkeypatch.setattr(i18n, "_current", Marked())


NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def test_a_permission_refusal_is_translated_with_its_values(known: KnownDesk, marked: None) -> None:
    ticket = known.ticket(AGENT)
    with pytest.raises(PermissionDenied) as caught:
        known.as_(AGENT2).write(resolve, ref=ticket.id, code="fixed", text="x")
    said = str(caught.value)
    # The sentence is the catalog's; the ticket, its holder and the action are filled in.
    assert said.startswith(f"«{ticket.ref} is held by someone else ({AGENT}): ")
    assert said.endswith("may «resolve it»»")


def test_a_transition_refusal_names_the_status_in_the_analysts_words(marked: None) -> None:
    with pytest.raises(InvalidTransition) as caught:
        check_transition(Status.CLOSED, Status.IN_PROGRESS)
    assert str(caught.value) == (
        "«a «closed» ticket cannot change; open a new ticket and link it instead»"
    )
    assert status_label("waiting_customer") == "«waiting customer»"


def test_a_conflict_is_whole_translated_sentences_with_a_counted_tail(marked: None) -> None:
    changes = [ChangeSeen(actor=f"user{n}", at=f"10:0{n}", what=f"did {n}") for n in range(5)]
    err = ConflictError("DT-000007", changes)
    assert err.seen == (
        "«DT-000007 was changed meanwhile: "
        "««user2 did 2 at 10:02»; «user3 did 3 at 10:03»; «user4 did 4 at 10:04» "
        "(and 2 earlier changes)». Nothing was saved.»"
    )
    one = ConflictError("DT-000007", changes[:4])
    assert "(and 1 earlier change)»" in str(one)
    assert str(ConflictError("DT-000007")) == (
        "«DT-000007 was changed by someone else meanwhile. Nothing was saved.»"
    )


def test_a_story_line_is_translated_with_its_values(marked: None) -> None:
    assert describe(EventKind.ASSIGNED, {"to": "bob", "reason": "away"}) == (
        "««assigned it to bob» («away»)»"
    )
    assert describe(EventKind.STATUS_CHANGED, {"from": "in_progress", "to": "resolved"}) == (
        "«set status «in progress» → «resolved»»"
    )
    assert describe(EventKind.NOTE, {"text": "printer\n jammed"}) == "«noted: printer jammed»"


def test_the_story_of_a_real_ticket_reads_in_the_analysts_language(
    known: KnownDesk, marked: None
) -> None:
    ticket = known.ticket(AGENT)
    story = known.as_(AGENT).read(get_ticket, ref=ticket.id)
    assert story.events
    assert all(e.summary.startswith("«") for e in story.events), [e.summary for e in story.events]


def test_an_sla_clock_reads_in_the_analysts_language(marked: None) -> None:
    running = clock_words(NOW + timedelta(hours=3, minutes=5), NOW)
    assert (running.text, running.short) == ("«due in 3h05m»", "3h05m")
    breached = clock_words(NOW - timedelta(hours=26), NOW)
    assert (breached.text, breached.short) == ("«breached by 1d2h»", "-1d2h")
    missed = clock_words(NOW, NOW, done=True, finished=NOW + timedelta(hours=2))
    assert (missed.text, missed.short) == ("«missed by 2h00m»", "«late»")
    assert clock_words(NOW, NOW, done=True).text == "«met»"
    assert clock_words(NOW, NOW, paused=True).short == "«paused»"


def test_a_paused_clock_says_what_is_left_in_the_analysts_language(marked: None) -> None:
    class Paused:
        status = Status.WAITING_CUSTOMER
        response_due_at = resolve_due_at = NOW + timedelta(hours=4)
        response_warn_at = resolve_warn_at = None
        first_response_at = resolved_at = None
        sla_paused_at = NOW
        sla_left_seconds = 3 * 3600

    due = ticket_due(Paused(), NOW)
    assert due.left == "«3h00m left»"
    assert due.resolve.text == "«paused»"
