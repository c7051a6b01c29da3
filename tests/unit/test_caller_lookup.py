"""Finding a caller the way they introduce themselves (issue 14), on both databases.

"Schmitt here", a surname spelt wrong, a number in any spoken format or a few of its digits,
the company's name, an address: each finds the right caller, the best match first. The same
function serves ``deskterm contact find``, the new-call screen and ``ticket new -c``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from clirun import run_deskterm
from deskterm.db import migrate
from deskterm.db.engine import Database
from deskterm.desk.contacts import add_contact, find_contacts
from deskterm.desk.lookups import contact_by_key
from deskterm.domain.errors import InvalidInput
from deskterm.domain.names import likeness, name_words
from deskterm.domain.phone import dial_digits, e164, national
from factories import AGENT, KnownDesk

KLAUS = "Klaus Schmitt"


@pytest.fixture
def callers(known: KnownDesk) -> KnownDesk:
    desk = known.as_(AGENT)
    desk.write(
        add_contact,
        name=KLAUS,
        phone="0118 496 6515",  # as the analyst typed it: national, no country code
        email="klaus.schmitt@riverside.example",
        organization="Riverside City Council",
    )
    desk.write(add_contact, name="Lena Schmittke", phone="+49 711 5550 1234")
    desk.write(add_contact, name="Anna Schmidt", mobile="+49 1575 5533 210")
    desk.write(add_contact, name="Jean-Luc Müller", email="jl@lumiere.example")
    return known


def _found(known: KnownDesk, typed: str, **kwargs: Any) -> list[tuple[str, str | None]]:
    rows = known.as_(AGENT).read(find_contacts, text=typed, **kwargs)
    return [(c.name, c.matched) for c in rows]


def _first(known: KnownDesk, typed: str) -> tuple[str, str | None]:
    found = _found(known, typed)
    assert found, f"{typed!r} found nobody"
    return found[0]


# --------------------------------------------------------------------------- the pure parts


def test_numbers_are_normalised_once_in_every_spoken_form() -> None:
    for said in ("0118 496 6515", "+441184966515", "+44 (0)118 496 6515", "0044 118 4966515"):
        assert e164(said, "GB") == "+441184966515", said
    assert e164("0711 5550 1234", "DE") == "+4971155501234"
    assert e164("ext. 12", "GB") is None
    assert national("+441184966515") == "0118 496 6515"
    # E.164, national and as typed: any run of digits is in one of them.
    assert dial_digits("+44 (0)118 496 6515") == "441184966515 01184966515 4401184966515"


def test_name_words_fold_case_accents_and_joins() -> None:
    assert name_words("Jean-Luc  MÜLLER") == ["jean", "luc", "jeanluc", "muller"]
    assert name_words("O'Brien, Straße") == ["o", "brien", "obrien", "strasse"]
    assert likeness("schmitt", "shmitt") > 0.3 > likeness("schmitt", "smith")


# --------------------------------------------------------------------------- finding


@pytest.mark.parametrize(
    ("typed", "matched"),
    [
        ("Schmitt", "name"),  # the surname alone: any word of the name
        ("schmitt klaus", "name"),  # surname first
        ("Klaus Schm", "name prefix"),
        ("Schmit", "name prefix"),
        ("Shmitt", "similar name"),  # misspelt
        ("Klaus Shmitt", "similar name"),
        ("0118 496 6515", "phone"),  # the three ways callers say it
        ("+441184966515", "phone"),
        ("+44 (0)118 496 6515", "phone"),
        ("6515", "phone digits"),  # any run of 4+ digits
        ("496 65", "phone digits"),
        ("Riverside", "organization"),
        ("riverside council", "organization"),
        ("klaus.schmitt@riverside.example", "email"),
        ("KLAUS.SCHMITT@", "name"),  # the words of the address are his name's
        ("@riverside.example", "email domain"),
    ],
)
def test_a_caller_is_found_the_way_they_introduce_themselves(
    callers: KnownDesk, typed: str, matched: str
) -> None:
    assert _first(callers, typed) == (KLAUS, matched)


def test_accents_hyphens_and_apostrophes_need_not_be_typed(callers: KnownDesk) -> None:
    assert _first(callers, "muller") == ("Jean-Luc Müller", "name")
    assert _first(callers, "Müller") == ("Jean-Luc Müller", "name")
    assert _first(callers, "jeanluc") == ("Jean-Luc Müller", "name")
    assert _first(callers, "mueller") == ("Jean-Luc Müller", "similar name")
    assert _first(callers, "JL@lum") == ("Jean-Luc Müller", "email prefix")


def test_best_matches_come_first(callers: KnownDesk) -> None:
    # The whole word, then a word it starts, then a name spelt alike.
    assert _found(callers, "schmitt") == [
        (KLAUS, "name"),
        ("Lena Schmittke", "name prefix"),
        ("Anna Schmidt", "similar name"),
    ]
    # The whole number before a number that merely holds the digits.
    other = callers.as_(AGENT).write(add_contact, name="Zoe Zed", phone="+44 20 7946 6515")
    found = _found(callers, "0118 496 6515")
    assert found[0] == (KLAUS, "phone")
    assert (other.name, "phone digits") not in found  # a run must be in one number
    assert _found(callers, "6515")[:2] == [(KLAUS, "phone digits"), (other.name, "phone digits")]


def test_the_region_says_where_a_number_without_a_country_code_is(callers: KnownDesk) -> None:
    assert _first(callers, "0711 5550 1234") == ("Lena Schmittke", "phone digits")
    assert _found(callers, "0711 5550 1234", region="de")[0] == ("Lena Schmittke", "phone")
    with pytest.raises(InvalidInput, match="not a phone region"):
        _found(callers, "0711 5550 1234", region="XX")


def test_nothing_short_or_unknown_is_guessed(callers: KnownDesk) -> None:
    for typed in ("s", "  ", "%", "zzzzqqq", "9999999", "@", "x@"):
        assert _found(callers, typed) == [], typed


# --------------------------------------------------------------------------- a key


def test_bare_digits_are_a_phone_never_an_id(callers: KnownDesk) -> None:
    def key(typed: str) -> str:
        with callers.db.read() as session:
            return contact_by_key(session, typed).name

    assert key("0118 496 6515") == KLAUS
    assert key("4966515") == KLAUS  # a run of digits only his number has
    with pytest.raises(InvalidInput, match="write an id as #1"):
        key("1")
    callers.as_(AGENT).write(add_contact, name="Zoe Zed", phone="+44 20 7946 6515")
    with pytest.raises(InvalidInput, match="matches several contacts") as err:
        key("6515")
    assert "Klaus Schmitt" in str(err.value) and "Zoe Zed" in str(err.value)
    assert "\n" not in str(err.value)


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def cli_desk(known: KnownDesk, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Any:
    known.as_(AGENT).write(add_contact, name=KLAUS, phone="0118 496 6515")
    known.as_(AGENT).write(add_contact, name="Zoe Zed", phone="+44 20 7946 6515")
    monkeypatch.setenv("DESKTERM_DATABASE_URL", db_url)
    monkeypatch.setenv("DESKTERM_USER", AGENT)

    def run(*args: str) -> tuple[int, str, str]:
        return run_deskterm(monkeypatch, capsys, *args)

    return run


def test_contact_find_json_lists_the_best_first_with_ids(cli_desk: Any) -> None:
    code, out, err = cli_desk("contact", "find", "Shmitt", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert rows[0]["name"] == KLAUS and isinstance(rows[0]["id"], int)
    assert rows[0]["matched"] == "similar name"
    code, out, _ = cli_desk("contact", "find", "+44 (0)118 496 6515", "--json")
    assert [r["name"] for r in json.loads(out)] == [KLAUS]


def test_a_ticket_needs_a_caller_or_an_explicit_anonymous(cli_desk: Any) -> None:
    code, out, err = cli_desk("ticket", "new", "-s", "Printer jams")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "--contact" in err and "--anonymous" in err
    code, _, err = cli_desk("ticket", "new", "-s", "x", "-c", KLAUS, "--anonymous")
    assert code == 1 and "not both" in err

    code, out, err = cli_desk("ticket", "new", "-s", "Printer jams", "--anonymous", "--json")
    assert code == 0, err
    assert json.loads(out)["contact"] is None


def test_ticket_new_reads_bare_digits_as_a_phone(cli_desk: Any) -> None:
    code, out, err = cli_desk("ticket", "new", "-s", "VPN", "-c", "4966515", "--json")
    assert code == 0, err
    assert json.loads(out)["contact"] == KLAUS
    # Digits two numbers share: refused, naming both, in one line; no ticket made.
    code, out, err = cli_desk("ticket", "new", "-s", "VPN", "-c", "6515")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "Klaus Schmitt" in err and "Zoe Zed" in err
    code, _, err = cli_desk("ticket", "new", "-s", "VPN", "-c", "12")
    assert code == 1 and "#12" in err


# --------------------------------------------------------------------------- the migration


def test_the_migration_fills_the_contacts_already_there(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESKTERM_PHONE_REGION", "GB")
    db = Database(db_url)
    try:
        migrate.upgrade(db, "0010_event_writer")
        with db.engine.begin() as conn:
            for n, (name, phone) in enumerate(
                [(KLAUS, "0118 496 6515"), ("Jean-Luc Müller", None)], start=1
            ):
                conn.execute(
                    text(
                        "INSERT INTO contact (id, name, name_lower, phone, vip, created_at) "
                        "VALUES (:id, :name, :low, :phone, false, '2026-01-01 00:00:00')"
                    ),
                    {"id": n, "name": name, "low": name.lower(), "phone": phone},
                )
        migrate.upgrade(db)
        with db.engine.connect() as conn:
            row = conn.execute(
                text("SELECT phone_e164, dial_digits FROM contact WHERE id = 1")
            ).one()
        assert tuple(row) == ("+441184966515", "441184966515 01184966515")
        from deskterm.desk.context import Desk

        system = Desk(db, None)
        assert [c.name for c in system.read(find_contacts, text="+441184966515")] == [KLAUS]
        assert [c.name for c in system.read(find_contacts, text="schmit")] == [KLAUS]
        assert [c.name for c in system.read(find_contacts, text="shmitt")] == [KLAUS]
        assert [c.name for c in system.read(find_contacts, text="luc")] == ["Jean-Luc Müller"]
    finally:
        db.dispose()
