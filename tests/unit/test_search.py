"""Full-text ticket search on both databases: words of the subject and the description, every
word, the last as a prefix, the index following edits, statuses, hostile text, order, limit."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from deskterm.db.models import Ticket
from deskterm.desk.search import TicketHit, excerpt, search_tickets
from deskterm.desk.tickets import assign, change_status, close, resolve
from deskterm.domain.errors import InvalidInput
from factories import AGENT, AGENT2, SUPERVISOR, KnownDesk


def refs(hits: list[TicketHit]) -> list[int]:
    return [hit.id for hit in hits]


@pytest.fixture
def tickets(known: KnownDesk) -> dict[str, int]:
    made = {
        "vpn": known.ticket(
            subject="VPN error 809 at home",
            description="Windows says error 809 when she connects from the hotel.",
        ),
        "printer": known.ticket(
            subject="Printer tray 2 jams",
            description="The second tray on the 3rd floor printer pulls two sheets at once.",
        ),
        "laptop": known.ticket(
            subject="Laptop will not boot",
            description="Black screen after the BIOS logo; part E-1234 was replaced in May.",
        ),
        "accent": known.ticket(
            subject="Drucker im Büro",
            description="Der Drucker im zweiten Stock druckt nur leere Seiten.",
        ),
    }
    return {name: ticket.id for name, ticket in made.items()}


def search(known: KnownDesk, query: str, **options: object) -> list[int]:
    return refs(known.as_(AGENT).read(search_tickets, query=query, **options))


def test_finds_by_a_word_of_the_subject_or_of_the_description(
    known: KnownDesk, tickets: dict[str, int]
) -> None:
    assert search(known, "printer") == [tickets["printer"]]
    assert search(known, "hotel") == [tickets["vpn"]]
    # Product codes and numbers as typed, whatever the case or the punctuation around them.
    assert search(known, "809") == [tickets["vpn"]]
    assert search(known, "e-1234") == [tickets["laptop"]]
    assert search(known, "BIOS") == [tickets["laptop"]]
    assert search(known, "Büro") == [tickets["accent"]]
    [hit] = known.as_(AGENT).read(search_tickets, query="tray 2")
    assert hit.ref.startswith("DT-") and hit.subject == "Printer tray 2 jams"
    assert hit.excerpt.startswith("The second tray")


def test_every_word_must_match(known: KnownDesk, tickets: dict[str, int]) -> None:
    assert search(known, "vpn error 809") == [tickets["vpn"]]
    assert search(known, "vpn printer") == []
    assert search(known, "printer tray 3") == []
    # A word said twice is one condition; the last word stays the prefix.
    assert search(known, "printer tray printer tray") == [tickets["printer"]]
    assert search(known, "tray tray pri") == [tickets["printer"]]


def test_the_last_word_is_also_a_prefix_from_three_letters(
    known: KnownDesk, tickets: dict[str, int]
) -> None:
    assert search(known, "print") == [tickets["printer"]]
    assert search(known, "tray pri") == [tickets["printer"]]
    assert search(known, "lap") == [tickets["laptop"]]
    # Two letters are a whole word only: "la" is no word of any ticket.
    assert search(known, "la") == []
    # Only the last word: a leading fragment must be a whole word.
    assert search(known, "lap boot") == []


def test_a_changed_subject_is_found_by_its_new_words_only(
    known: KnownDesk, tickets: dict[str, int]
) -> None:
    with known.db.write() as session:
        session.execute(
            update(Ticket)
            .where(Ticket.id == tickets["printer"])
            .values(subject="Scanner feeds crooked", description="Only the scanner part.")
        )
    assert search(known, "scanner") == [tickets["printer"]]
    assert search(known, "printer") == []
    assert search(known, "tray") == []


def test_status_and_holder_changes_leave_the_index_alone(
    known: KnownDesk, tickets: dict[str, int]
) -> None:
    desk = known.as_(AGENT)
    desk.write(assign, ref=tickets["vpn"], to=AGENT2, reason="she knows the VPN")
    known.as_(AGENT2).write(change_status, ref=tickets["vpn"], status="in_progress")
    assert search(known, "809") == [tickets["vpn"]]
    assert search(known, "hotel") == [tickets["vpn"]]


def test_closed_tickets_are_found_unless_only_open_ones_are_asked_for(
    known: KnownDesk, tickets: dict[str, int]
) -> None:
    desk = known.as_(AGENT)
    desk.write(resolve, ref=tickets["laptop"], code="hardware-replaced", text="New board.")
    desk.write(close, ref=tickets["laptop"])
    assert search(known, "boot") == [tickets["laptop"]]
    assert search(known, "boot", statuses=["all"]) == [tickets["laptop"]]
    assert search(known, "boot", statuses=["open"]) == []
    assert search(known, "boot", statuses=["closed"]) == [tickets["laptop"]]
    assert search(known, "printer", statuses=["open"]) == [tickets["printer"]]
    assert search(known, "boot", statuses=["open", "closed"]) == [tickets["laptop"]]
    assert search(known, "printer", statuses=["new", "assigned"]) == [tickets["printer"]]
    assert search(known, "printer", statuses=["waiting"]) == []
    with pytest.raises(InvalidInput):
        search(known, "boot", statuses=["sleeping"])


HOSTILE = [
    '"',
    '"printer',
    "printer AND (",
    "NEAR(printer tray",
    "*",
    "print*",
    "-printer",
    "subject:printer",
    "' OR 1=1 --",
    "vpn:* & !",
    "a\x00b",
    "[bold]printer[/bold]",
    "\x1b[31mprinter",
    "!!!",
    "printer " * 200,
    "()",
    "^printer",
    "{subject description}: printer",
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_never_raise(known: KnownDesk, tickets: dict[str, int], query: str) -> None:
    found = search(known, query)
    assert set(found) <= set(tickets.values())


def test_typed_syntax_is_only_words(known: KnownDesk, tickets: dict[str, int]) -> None:
    # Operators and markup are plain separators: what is left are the words.
    assert search(known, '"printer" (tray*') == [tickets["printer"]]
    # "and" is a word like any other: the printer ticket does not hold it.
    assert search(known, "printer AND tray") == []
    assert search(known, "[bold]printer[/bold]") == []  # "bold" is no word of it
    assert search(known, "subject:printer") == []  # nor is "subject"
    assert search(known, "NOT printer") == []
    assert search(known, "tray-2") == [tickets["printer"]]


def test_an_empty_query_finds_nothing(known: KnownDesk, tickets: dict[str, int]) -> None:
    for query in ("", "   ", "*", "-", '""', "\x00"):
        assert search(known, query) == []


def test_newest_first_and_limited(known: KnownDesk) -> None:
    made = [known.ticket(subject=f"Monitor {n} flickers").id for n in range(5)]
    assert search(known, "monitor") == list(reversed(made))
    assert search(known, "flickers", limit=2) == list(reversed(made))[:2]
    assert search(known, "monitor", limit=200) == list(reversed(made))
    for bad in (0, -1, 201):
        with pytest.raises(InvalidInput, match="limit"):
            search(known, "monitor", limit=bad)


@pytest.mark.parametrize("window", [1, 2, 3, 10_000])
def test_the_newest_tickets_first_then_the_whole_index_give_one_answer(
    known: KnownDesk, tickets: dict[str, int], monkeypatch: pytest.MonkeyPatch, window: int
) -> None:
    from deskterm.desk import search as search_module

    # PostgreSQL looks in the newest ``window`` tickets before it asks the index.
    monkeypatch.setattr(search_module, "RECENT_WINDOW", window)
    made = [known.ticket(subject=f"Monitor {n} flickers").id for n in range(3)]
    newest = list(reversed(made))
    assert search(known, "monitor", limit=2) == newest[:2]
    assert search(known, "monitor", limit=3) == newest
    assert search(known, "monitor", limit=4) == newest
    assert search(known, "809") == [tickets["vpn"]]
    assert search(known, "monitor", statuses=["open"], limit=2) == newest[:2]


def test_anyone_on_the_desk_may_search(known: KnownDesk, tickets: dict[str, int]) -> None:
    for login in (AGENT2, SUPERVISOR, None):
        assert refs(known.as_(login).read(search_tickets, query="809")) == [tickets["vpn"]]


def test_excerpt_shows_the_words_in_their_sentence() -> None:
    text = "Start. " + "filler " * 30 + "then the printer jammed on tray 2.\n\nAnd more."
    piece = excerpt(text, ["printer"])
    assert piece.startswith("…") and "printer jammed" in piece and "\n" not in piece
    assert excerpt("Short one.", ["absent"]) == "Short one."
    assert excerpt("", ["x"]) == ""
    assert len(excerpt("word " * 100, ["zzz"])) <= 100


def _migrate(known: KnownDesk, direction: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from deskterm.db import migrate

    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS))
    with known.db.engine.begin() as conn:
        config.attributes["connection"] = conn
        getattr(command, direction)(config, revision)


def _written_at_this_revision(known: KnownDesk, like: int, **changed: str) -> int:
    """A copy of ticket ``like`` and its opening event with ``changed`` fields, in the
    columns the desk's tables have now (whatever revision it is at): its new id."""
    from sqlalchemy import column, func, inspect, literal, select, table

    with known.db.engine.begin() as conn:
        names = [c["name"] for c in inspect(conn).get_columns("ticket") if c["name"] != "id"]
        ticket = table("ticket", column("id"), *(column(n) for n in names))
        picked = [literal(changed[n]) if n in changed else ticket.c[n] for n in names]
        conn.execute(ticket.insert().from_select(names, select(*picked).where(ticket.c.id == like)))
        made = conn.scalar(select(func.max(ticket.c.id)))
        event_names = [
            c["name"] for c in inspect(conn).get_columns("ticket_event") if c["name"] != "id"
        ]
        event = table("ticket_event", column("id"), *(column(n) for n in event_names))
        copied = [literal(made) if n == "ticket_id" else event.c[n] for n in event_names]
        first = select(func.min(event.c.id)).where(event.c.ticket_id == like).scalar_subquery()
        conn.execute(
            event.insert().from_select(event_names, select(*copied).where(event.c.id == first))
        )
    assert made is not None
    return int(made)


def _search_objects(known: KnownDesk) -> set[str]:
    from sqlalchemy import inspect

    with known.db.engine.connect() as conn:
        found = set(inspect(conn).get_table_names()) & {"ticket_fts"}
        found |= {c["name"] for c in inspect(conn).get_columns("ticket")} & {"search_vector"}
        found |= {i["name"] for i in inspect(conn).get_indexes("ticket")} & {"ix_ticket_search"}
        if known.db.dialect == "sqlite":
            found |= set(
                conn.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                    "AND name LIKE 'ticket_fts%'"
                ).scalars()
            )
    return found


def test_downgrade_removes_the_index_and_upgrade_indexes_existing_tickets(
    known: KnownDesk, tickets: dict[str, int]
) -> None:
    made = _search_objects(known)
    assert made == (
        {"search_vector", "ix_ticket_search"}
        if known.db.dialect == "postgresql"
        else {"ticket_fts", "ticket_fts_ai", "ticket_fts_ad", "ticket_fts_au"}
    )
    _migrate(known, "downgrade", "0007_shared_desk")
    assert _search_objects(known) == set()
    # Tickets written while the desk had no index are found once it has one again. Written
    # as the desk at 0007 wrote them, in its own columns: today's models name columns
    # (analyst 0015, ticket_event 0021) that a desk at 0007 lacks.
    later = _written_at_this_revision(
        known, tickets["vpn"], subject="Webcam shows nothing", description="Teams sees no camera."
    )
    _migrate(known, "upgrade", "head")
    assert _search_objects(known) == made
    assert search(known, "webcam") == [later]
    assert search(known, "809") == [tickets["vpn"]]


def test_a_desk_moved_by_export_and_import_is_searchable(
    known: KnownDesk, tickets: dict[str, int], tmp_path
) -> None:
    import io

    from deskterm.desk import transfer
    from deskterm.desk.context import Desk
    from deskterm.desk.setup import open_database
    from factories import ADMIN

    out = io.StringIO()
    transfer.export_desk(known.db, Desk(known.db, ADMIN).whoami(), out)
    # From either database into a new SQLite desk: the import writes rows, the triggers
    # index them (on PostgreSQL the database computes the vector of every row it stores).
    copy = open_database(f"sqlite:///{tmp_path / 'copy.db'}")
    try:
        transfer.import_desk(copy, out.getvalue().splitlines())
        moved = Desk(copy, AGENT)
        assert refs(moved.read(search_tickets, query="809")) == [tickets["vpn"]]
        assert refs(moved.read(search_tickets, query="tray pri")) == [tickets["printer"]]
    finally:
        copy.dispose()


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def cli(db_url, known: KnownDesk, monkeypatch, capsys):
    """``deskterm --as alice ARGS`` in-process on the known desk: (exit code, out, err)."""
    from deskterm.cli import main

    monkeypatch.setenv("DESKTERM_DATABASE_URL", db_url)
    monkeypatch.delenv("DESKTERM_USER", raising=False)
    monkeypatch.setenv("COLUMNS", "160")

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        monkeypatch.setattr("sys.argv", ["deskterm", "--as", AGENT, *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_cli_search_prints_the_hits_and_json_like_ticket_list(cli, tickets: dict[str, int]) -> None:
    import json

    code, out, err = cli("ticket", "search", "vpn", "809")
    assert code == 0, err
    assert "VPN error 809 at home" in out and "Printer" not in out
    code, out, _err = cli("ticket", "search", "print", "--json")
    [hit] = json.loads(out)
    code, listed, _err = cli("ticket", "list", "--json")
    assert set(json.loads(listed)[0]) <= set(hit)
    assert set(hit) - set(json.loads(listed)[0]) == {"excerpt"}
    assert hit["id"] == tickets["printer"] and hit["excerpt"].startswith("The second tray")
    code, out, _err = cli("ticket", "search", "print", "--status", "closed", "--json")
    assert code == 0 and json.loads(out) == []
    code, out, _err = cli("ticket", "search", "zebra")
    assert code == 0 and "No ticket holds all of these words." in out


def test_cli_search_without_words_is_a_usage_error(cli, tickets: dict[str, int]) -> None:
    for args in ((), ("--limit", "5")):
        code, out, err = cli("ticket", "search", *args)
        assert code == 2 and out == ""
        assert err.startswith("deskterm: no words to search for") and err.count("\n") == 1
    # Text with no word in it was given, so it is bad input (exit 1), with a hint on syntax.
    for text in ("*", '"*"'):
        code, out, err = cli("ticket", "search", "--", text)
        assert code == 1 and out == "" and err.count("\n") == 1
        assert "holds no word to search for" in err and "no * or other operators" in err
    code, _out, err = cli("ticket", "search", "vpn", "--limit", "0")
    assert code != 0 and "limit" in err and err.count("\n") == 1
