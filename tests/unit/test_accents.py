"""Accents on both databases (issue 19): a caller found and a ticket searched with or without
them ("Muller" finds "Müller", "Dvořák" finds "Dvorak")."""

from __future__ import annotations

from pathlib import Path

import pytest

from deskterm.db.engine import Database
from deskterm.db.types import fold_accents
from deskterm.desk.contacts import (
    NAME_KEY_MAX,
    add_contact,
    find_contacts,
    list_contacts,
    name_key,
    rename_contact,
)
from deskterm.desk.search import excerpt, search_tickets
from deskterm.domain.text import NAME_MAX
from factories import AGENT, KnownDesk


@pytest.fixture
def people(known: KnownDesk) -> KnownDesk:
    desk = known.as_(AGENT)
    for name, org in (
        ("Jürgen Müller", "Bäckerei Schönfeld"),
        ("Antonín Dvořák", "Česká pojišťovna"),
        ("João Conceição", None),
        ("Zoe Zeman", None),
        ("Adam Adams", None),
        ("Cyril Cech", None),
        ("Václav Čech", None),
    ):
        desk.write(add_contact, name=name, organization=org)
    return known


def _names(known: KnownDesk, typed: str) -> list[str]:
    return [c.name for c in known.as_(AGENT).read(find_contacts, text=typed)]


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("Muller", "Jürgen Müller"),
        ("müller", "Jürgen Müller"),
        ("MÜLLER", "Jürgen Müller"),
        ("jurgen mul", "Jürgen Müller"),
        ("Dvorak", "Antonín Dvořák"),
        ("Dvořák", "Antonín Dvořák"),
        ("antonin", "Antonín Dvořák"),
        ("Joao Conceicao", "João Conceição"),
        ("conceição", "João Conceição"),
    ],
)
def test_a_caller_is_found_with_or_without_accents(
    people: KnownDesk, typed: str, name: str
) -> None:
    assert _names(people, typed)[0] == name


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("backerei", "Jürgen Müller"),
        ("Bäckerei", "Jürgen Müller"),
        ("schonfeld", "Jürgen Müller"),
        ("ceska", "Antonín Dvořák"),
        ("Česká pojišťovna", "Antonín Dvořák"),
    ],
)
def test_a_caller_is_found_by_an_accented_organization_typed_either_way(
    people: KnownDesk, typed: str, name: str
) -> None:
    assert name in _names(people, typed)


@pytest.fixture
def accented(known: KnownDesk) -> dict[str, int]:
    made = {
        "buro": known.ticket(subject="Drucker im Büro", description="Straße 5, zweiter Stock."),
        "dvorak": known.ticket(
            subject="Dvorak cannot log in", description="Antonin says the token expired."
        ),
        "cz": known.ticket(
            subject="Tiskárna v kanceláři", description="Paní Dvořáková hlásí, že tiskne šedě."
        ),
        "pt": known.ticket(
            subject="Impressora não imprime", description="A configuração da ligação falhou."
        ),
    }
    return {name: ticket.id for name, ticket in made.items()}


def _search(known: KnownDesk, query: str) -> list[int]:
    return [hit.id for hit in known.as_(AGENT).read(search_tickets, query=query)]


@pytest.mark.parametrize(
    ("query", "wanted"),
    [
        ("buro", ["buro"]),
        ("Büro", ["buro"]),
        ("BÜRO", ["buro"]),
        ("Dvořák", ["dvorak", "cz"]),
        ("dvorak", ["dvorak", "cz"]),
        ("dvorak token", ["dvorak"]),
        ("Antonín", ["dvorak"]),
        ("dvorakova", ["cz"]),
        ("dvořá", ["cz", "dvorak"]),
        ("tiskarna kancelari", ["cz"]),
        ("sede", ["cz"]),
        ("nao imprime", ["pt"]),
        ("configuracao", ["pt"]),
        ("ligação", ["pt"]),
    ],
)
def test_ticket_search_ignores_accents_on_both_sides(
    known: KnownDesk, accented: dict[str, int], query: str, wanted: list[str]
) -> None:
    assert sorted(_search(known, query)) == sorted(accented[w] for w in wanted)


def test_folding_keeps_every_letter_in_its_place() -> None:
    text = "Paní Dvořáková, Straße, Ærø, Conceição, ŁÓDŹ"
    folded = fold_accents(text)
    assert len(folded) == len(text)
    assert folded == "Pani Dvorakova, Straße, Ærø, Conceicao, ŁODZ"


def test_the_excerpt_finds_an_accented_word_typed_without_its_accents() -> None:
    text = "x " * 80 + "Paní Dvořáková hlásí, že tiskne šedě."
    shown = excerpt(text, ["dvorakova"])
    assert "Dvořáková" in shown


def _migrate(known: KnownDesk, direction: str, revision: str) -> None:
    migrate_to(known.db, direction, revision)


def test_the_upgrade_folds_the_tickets_already_there_and_the_downgrade_undoes_it(
    known: KnownDesk, accented: dict[str, int]
) -> None:
    from sqlalchemy import inspect, text

    def columns() -> set[str]:
        with known.db.engine.connect() as conn:
            return {c["name"] for c in inspect(conn).get_columns("analyst")}

    def vector_finds(word: str) -> list[int]:
        with known.db.engine.connect() as conn:
            return list(
                conn.scalars(
                    text("SELECT id FROM ticket WHERE search_vector @@ to_tsquery('simple', :w)"),
                    {"w": word},
                )
            )

    _migrate(known, "downgrade", "0014_cti")
    assert "language" not in columns()
    if known.db.dialect == "postgresql":
        # 0008's vector kept the accents (SQLite's tokenizer always folded them).
        assert vector_finds("buro") == []
        assert vector_finds("büro") == [accented["buro"]]
    _migrate(known, "upgrade", "head")
    assert "language" in columns()
    assert _search(known, "buro") == [accented["buro"]]
    assert sorted(_search(known, "dvorak")) == sorted([accented["dvorak"], accented["cz"]])
    later = known.ticket(subject="Šedý tisk", description="Tiskárna tiskne šedě.")
    assert _search(known, "sedy") == [later.id]


# --------------------------------------------------------------------------- names in order

#: As the brief's analysts typed them, in this order (so ids follow it).
_TYPED = ("Zeman", "Čech", "Adam", "Červený", "Cibulka", "Müller", "Muller", "Mueller", "élodie")
#: The contact list's order: folded names by code point (accents off, so "Čech" sorts as
#: "cech", before "cibulka": a Czech reader would put Č after C, a dictionary would not),
#: ties by id ("Müller" was added before "Muller"). The known desk's "Carol Jones" is there too.
_LISTED = [
    "Adam",
    "Carol Jones",
    "Čech",
    "Červený",
    "Cibulka",
    "élodie",
    "Mueller",
    "Müller",
    "Muller",
    "Zeman",
]


@pytest.fixture
def named(known: KnownDesk) -> KnownDesk:
    for name in _TYPED:
        known.as_(AGENT).write(add_contact, name=name)
    return known


def _listed(known: KnownDesk, limit: int = 50) -> list[str]:
    return [c.name for c in known.as_(AGENT).read(list_contacts, limit=limit)]


def test_contacts_are_listed_with_accented_names_beside_their_letter(named: KnownDesk) -> None:
    assert _listed(named) == _LISTED
    assert _listed(named, limit=3) == _LISTED[:3]


def test_the_sort_key_is_the_fold_the_callers_are_found_by() -> None:
    assert name_key("Čech") == "cech"
    assert name_key("Straße") == "strasse"
    assert name_key("ÉLODIE Müller") == "elodie muller"
    # A fold longer than the name is cut to the column.
    assert len(name_key("ß" * NAME_MAX)) == NAME_KEY_MAX


def test_postgresql_compares_the_key_by_code_point_whatever_the_database_s_locale(
    known: KnownDesk,
) -> None:
    from sqlalchemy import text

    if known.db.dialect != "postgresql":
        pytest.skip("SQLite compares text by code point always")
    with known.db.engine.connect() as conn:
        collation = conn.scalar(
            text(
                "SELECT collation_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = 'contact' "
                "AND column_name = 'name_key'"
            )
        )
    assert collation == "C"


def test_a_renamed_contact_moves_and_is_found_by_its_new_name(named: KnownDesk) -> None:
    desk = named.as_(AGENT)
    adam = desk.read(find_contacts, text="Adam")[0]
    renamed = desk.write(rename_contact, key=f"#{adam.id}", name="Žofie Nováková")
    assert renamed.name == "Žofie Nováková"
    assert _listed(named) == [*_LISTED[1:], "Žofie Nováková"]
    assert [c.id for c in desk.read(find_contacts, text="zofie")] == [adam.id]
    assert [c.id for c in desk.read(find_contacts, text="novakova")] == [adam.id]
    assert adam.id not in [c.id for c in desk.read(find_contacts, text="Adam")]
    # Renamed back to words it had: found again by them.
    desk.write(rename_contact, key=f"#{adam.id}", name="Adam")
    assert _listed(named) == _LISTED


def test_a_rename_to_nothing_is_refused(named: KnownDesk) -> None:
    from deskterm.domain.errors import InvalidInput

    with pytest.raises(InvalidInput) as err:
        named.as_(AGENT).write(rename_contact, key="Zeman", name="  ")
    assert err.value.field == "name"
    assert _listed(named) == _LISTED


def _keys(known: KnownDesk) -> dict[str, str]:
    from sqlalchemy import text

    with known.db.engine.connect() as conn:
        return {row[0]: row[1] for row in conn.execute(text("SELECT name, name_key FROM contact"))}


def test_a_contact_made_from_a_mail_has_its_key(known: KnownDesk, tmp_path: Path) -> None:
    from email.message import EmailMessage

    from deskterm.desk.mail import import_paths

    message = EmailMessage()
    message["From"] = "Élodie Ñúñez <elodie@kunde.example>"
    message["To"] = "help@desk.example"
    message["Subject"] = "Drucker"
    message["Message-ID"] = "<accents-1@kunde.example>"
    message["Date"] = "Fri, 04 Dec 2026 09:00:00 +0000"
    message.set_content("Der Drucker druckt nicht.")
    path = tmp_path / "elodie.eml"
    path.write_bytes(bytes(message))
    results = import_paths(known.db, [path])
    assert [r.outcome for r in results] == ["new_ticket"]
    assert _keys(known)["Élodie Ñúñez"] == "elodie nunez"


def test_an_import_keys_its_contacts_even_from_an_export_without_keys(
    named: KnownDesk, tmp_path: Path
) -> None:
    import io
    import json

    from deskterm.desk import transfer
    from deskterm.desk.context import Desk
    from deskterm.desk.setup import open_database
    from factories import ADMIN

    out = io.StringIO()
    transfer.export_desk(named.db, Desk(named.db, ADMIN).whoami(), out)
    lines = []
    for line in out.getvalue().splitlines():
        record = json.loads(line)
        if record.get("table") == "contact":
            # As an export made before the key existed, or one whose key lies.
            if record["row"]["name"] == "Zeman":
                record["row"]["name_key"] = "aaa"
            else:
                del record["row"]["name_key"]
            line = json.dumps(record)
        lines.append(line)
    copy = open_database(f"sqlite:///{tmp_path / 'copy.db'}")
    try:
        transfer.import_desk(copy, lines)
        with copy.engine.connect() as conn:
            from sqlalchemy import text

            keys = {
                row[0]: row[1] for row in conn.execute(text("SELECT name, name_key FROM contact"))
            }
        assert keys == {name: name_key(name) for name in keys} and len(keys) == len(_LISTED)
        assert [c.name for c in Desk(copy, AGENT).read(list_contacts)] == _LISTED
    finally:
        copy.dispose()


def test_the_upgrade_keys_the_contacts_already_there_a_batch_at_a_time(db_url: str) -> None:
    from sqlalchemy import inspect, text

    from deskterm.db import migrate
    from deskterm.db.engine import Database
    from deskterm.desk.context import Desk

    db = Database(db_url)
    try:
        migrate.upgrade(db, "0014_cti")
        # More than one batch of the migration's (2000): the last ones named to be sorted.
        names = [f"Filler {n:04d}" for n in range(2001)] + list(_TYPED)
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO contact (id, name, name_lower, vip, created_at) "
                    "VALUES (:id, :name, :low, false, '2026-01-01 00:00:00')"
                ),
                [
                    {"id": n, "name": name, "low": name.lower()}
                    for n, name in enumerate(names, start=1)
                ],
            )
        migrate.upgrade(db)
        with db.engine.connect() as conn:
            keys = {
                row[0]: row[1] for row in conn.execute(text("SELECT name, name_key FROM contact"))
            }
            indexes = {i["name"] for i in inspect(conn).get_indexes("contact")}
        assert keys == {name: name_key(name) for name in names}
        assert "ix_contact_name_key" in indexes
        listed = [c.name for c in Desk(db, None).read(list_contacts, limit=1000)]
        assert listed[:5] == ["Adam", "Čech", "Červený", "Cibulka", "élodie"]
        assert listed[5:8] == ["Filler 0000", "Filler 0001", "Filler 0002"]

        migrate_to(db, "downgrade", "0014_cti")
        with db.engine.connect() as conn:
            assert "name_key" not in {c["name"] for c in inspect(conn).get_columns("contact")}
            assert "ix_contact_name_key" not in {
                i["name"] for i in inspect(conn).get_indexes("contact")
            }
    finally:
        db.dispose()


def migrate_to(db: Database, direction: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from deskterm.db import migrate

    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS))
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        getattr(command, direction)(config, revision)
