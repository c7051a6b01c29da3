"""Analysts, groups and who is acting, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from deskterm.db.engine import Database
from deskterm.db.models import Analyst
from deskterm.desk.analysts import (
    add_analyst,
    add_group,
    edit_analyst,
    get_analyst,
    list_analysts,
    list_groups,
    set_away,
    set_back,
)
from deskterm.desk.context import Desk
from deskterm.desk.tickets import list_tickets
from deskterm.domain.enums import Role
from deskterm.domain.errors import (
    DeskError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    UnknownAnalyst,
)
from factories import (
    ADMIN,
    AGENT,
    AGENT2,
    DESKTOP,
    ENGINEER,
    INFRA,
    SERVICE_DESK,
    SUPERVISOR,
    TECH,
    KnownDesk,
)

# --------------------------------------------------------------------------- who is acting


def test_the_first_analyst_on_an_empty_desk_becomes_admin(db: Database) -> None:
    first = Desk(db, "root").bootstrap(
        add_analyst, login="Ada", name="Ada Admin", role="agent", groups=[SERVICE_DESK]
    )

    assert (first.login, first.role, first.groups) == ("ada", Role.ADMIN, [SERVICE_DESK])
    assert Desk(db, "ada").whoami().is_admin


def test_an_empty_desk_says_how_to_start(db: Database) -> None:
    with pytest.raises(UnknownAnalyst, match="no analysts yet.*deskterm analyst add"):
        Desk(db, "alice").whoami()


def test_bootstrap_is_no_way_in_once_the_desk_has_analysts(known: KnownDesk) -> None:
    with pytest.raises(UnknownAnalyst, match="'mallory' is not an analyst of this desk"):
        known.as_("mallory").bootstrap(add_analyst, login="mallory", name="Mallory")
    with pytest.raises(PermissionDenied, match="only an admin"):
        known.as_(AGENT).bootstrap(add_analyst, login="mallory", name="Mallory")
    assert "mallory" not in _logins(known)


def test_an_unknown_login_is_a_clear_error(known: KnownDesk) -> None:
    with pytest.raises(UnknownAnalyst) as err:
        known.as_("nobody").read(list_tickets)
    assert (
        str(err.value)
        == "'nobody' is not an analyst of this desk (use --as LOGIN or DESKTERM_USER)"
    )
    with pytest.raises(UnknownAnalyst, match="'nobody' is not an analyst"):
        known.as_("nobody").write(list_tickets)


def test_a_deactivated_analyst_cannot_act(known: KnownDesk) -> None:
    with known.db.write() as session:
        session.execute(update(Analyst).where(Analyst.login == AGENT2).values(active=False))

    with pytest.raises(UnknownAnalyst, match=f"'{AGENT2}' is deactivated"):
        known.as_(AGENT2).whoami()
    assert AGENT2 not in _logins(known)
    assert AGENT2 in _logins(known, include_inactive=True)


def test_the_actor_carries_role_level_and_groups(known: KnownDesk) -> None:
    tom = known.as_(TECH).whoami()
    assert (tom.login, tom.role, tom.level) == (TECH, Role.TECHNICIAN, 2)
    assert len(tom.group_ids) == 1
    assert known.as_(None).whoami().is_system


# --------------------------------------------------------------------------- adding analysts


def _logins(known: KnownDesk, **kwargs: Any) -> list[str]:
    return [a.login for a in known.as_(ADMIN).read(list_analysts, **kwargs)]


def test_an_admin_adds_analysts(known: KnownDesk) -> None:
    added = known.as_(ADMIN).write(
        add_analyst,
        login="nina",
        name="Nina Network",
        role="Technician",
        level=2,
        groups=["network", INFRA],
        email="Nina@Example.com",
    )

    assert (added.role, added.level, added.email) == ("technician", 2, "nina@example.com")
    assert added.groups == ["Network", INFRA]  # by level, then name
    assert added.availability == "available" and added.open_tickets == 0
    assert known.as_(AGENT).read(get_analyst, login="nina") == added


# --------------------------------------------------------------------------- languages


@pytest.mark.parametrize(
    ("said", "kept"),
    [
        ("de", "de"),
        ("de_DE.UTF-8", "de"),
        ("pt_BR", "pt-BR"),
        ("pt-pt", "pt-PT"),
        ("cs", "cs"),
        ("en", "en"),
        (None, None),
        ("", None),
    ],
)
def test_an_analyst_is_added_with_a_language(
    known: KnownDesk, said: str | None, kept: str | None
) -> None:
    added = known.as_(ADMIN).write(add_analyst, login="nina", name="Nina", language=said)
    assert added.language == kept
    assert known.as_("nina").whoami().language == kept


def test_an_unknown_language_is_refused_and_nothing_is_added(known: KnownDesk) -> None:
    before = _logins(known)
    with pytest.raises(InvalidInput, match="en, de, pt, pt-BR, pt-PT, cs") as err:
        known.as_(ADMIN).write(add_analyst, login="nina", name="Nina", language="fr_FR.UTF-8")
    assert err.value.field == "language"
    assert _logins(known) == before


def test_an_analyst_sets_and_clears_their_own_language(known: KnownDesk) -> None:
    me = known.as_(AGENT)
    assert me.whoami().language is None
    assert me.write(edit_analyst, login=AGENT, language="Deutsch").language == "de"
    # The actor is read with it, so the app can speak it from the first screen.
    assert me.whoami().language == "de"
    # None leaves it as it is; "" clears it (the locale's language again).
    assert me.write(edit_analyst, login=AGENT).language == "de"
    assert me.write(edit_analyst, login=AGENT, language="").language is None
    assert me.whoami().language is None
    assert known.as_(ADMIN).write(edit_analyst, login=AGENT, language="cs").language == "cs"
    assert known.as_(SUPERVISOR).read(get_analyst, login=AGENT).language == "cs"


def test_only_an_admin_sets_another_analyst_s_language(known: KnownDesk) -> None:
    for login in (SUPERVISOR, AGENT2):
        with pytest.raises(PermissionDenied, match="only an admin"):
            known.as_(login).write(edit_analyst, login=AGENT, language="de")
    with pytest.raises(InvalidInput, match="does not speak 'xx'"):
        known.as_(AGENT).write(edit_analyst, login=AGENT, language="xx")
    assert known.as_(AGENT).whoami().language is None


def test_a_refused_edit_changes_nothing(known: KnownDesk) -> None:
    # A bad extension after a good language: neither is kept.
    with pytest.raises(DeskError):
        known.as_(ADMIN).write(edit_analyst, login=AGENT, language="de", extension="not one")
    assert known.as_(AGENT).whoami().language is None


def test_a_group_named_twice_is_joined_once(known: KnownDesk) -> None:
    added = known.as_(ADMIN).write(
        add_analyst, login="nina", name="Nina", groups=["Network", "network ", "NETWORK"]
    )
    assert added.groups == ["Network"]


@pytest.mark.parametrize("login", [SUPERVISOR, AGENT, TECH])
def test_only_admins_add_analysts(known: KnownDesk, login: str) -> None:
    with pytest.raises(PermissionDenied, match="only an admin may add analysts"):
        known.as_(login).write(add_analyst, login="nina", name="Nina")
    assert "nina" not in _logins(known)


@pytest.mark.parametrize(
    ("kwargs", "error", "field", "words"),
    [
        ({"login": "9lives"}, InvalidInput, "login", "must start with a letter"),
        ({"login": "a b"}, InvalidInput, "login", "must start with a letter"),
        ({"login": AGENT}, InvalidInput, "login", "exists already"),
        ({"name": " \x1b[0m "}, InvalidInput, "name", "name must not be empty"),
        ({"role": "overlord"}, InvalidInput, "role", "unknown role 'overlord'"),
        ({"level": 4}, InvalidInput, "level", "must be 1, 2 or 3"),
        ({"groups": ["Helpdesk"]}, NotFound, None, "no group named 'Helpdesk'"),
        ({"email": "not-an-address"}, InvalidInput, "email", "not an email address"),
    ],
)
def test_bad_analysts_are_refused(
    known: KnownDesk, kwargs: dict[str, Any], error: type[DeskError], field: str, words: str
) -> None:
    before = _logins(known)
    values = {"login": "nina", "name": "Nina"} | kwargs
    with pytest.raises(error, match=words) as err:
        known.as_(ADMIN).write(add_analyst, **values)
    if field:
        assert err.value.field == field  # type: ignore[attr-defined]
    assert _logins(known) == before


def test_analysts_are_listed_with_groups_and_workload(known: KnownDesk) -> None:
    known.ticket(AGENT)
    known.ticket(AGENT)

    everyone = {a.login: a for a in known.as_(AGENT).read(list_analysts)}
    service_desk = [a.login for a in known.as_(AGENT).read(list_analysts, group="service desk")]

    assert set(everyone) == {ADMIN, SUPERVISOR, AGENT, AGENT2, TECH, ENGINEER}
    assert everyone[AGENT].open_tickets == 2 and everyone[AGENT2].open_tickets == 0
    assert everyone[TECH].groups == [DESKTOP]
    assert service_desk == [AGENT, AGENT2, SUPERVISOR]
    with pytest.raises(UnknownAnalyst, match="no analyst with login 'ghost'"):
        known.as_(AGENT).read(get_analyst, login="ghost")


# --------------------------------------------------------------------------- availability


def test_an_analyst_marks_themselves_away_and_back(known: KnownDesk) -> None:
    away = known.as_(AGENT).write(set_away, backup=AGENT2, reason="  dentist \x1b[5m ")
    assert (away.availability, away.backup, away.away_reason) == ("away", AGENT2, "dentist")

    back = known.as_(AGENT).write(set_back)
    assert (back.availability, back.backup, back.away_reason) == ("available", None, None)


def test_only_a_supervisor_marks_someone_else_away(known: KnownDesk) -> None:
    with pytest.raises(PermissionDenied, match=f"only a supervisor may mark {AGENT2} away"):
        known.as_(AGENT).write(set_away, login=AGENT2)
    assert known.as_(AGENT).read(get_analyst, login=AGENT2).availability == "available"

    known.as_(SUPERVISOR).write(set_away, login=AGENT2, backup=AGENT)
    with pytest.raises(PermissionDenied, match="only a supervisor may mark"):
        known.as_(AGENT).write(set_back, login=AGENT2)
    assert known.as_(SUPERVISOR).write(set_back, login=AGENT2).availability == "available"


def test_bad_backups_are_refused(known: KnownDesk) -> None:
    with pytest.raises(InvalidInput, match="cannot be their own backup"):
        known.as_(AGENT).write(set_away, backup=AGENT)
    known.as_(AGENT2).write(set_away)
    with pytest.raises(InvalidInput, match=f"{AGENT2} is away too"):
        known.as_(AGENT).write(set_away, backup=AGENT2)
    with pytest.raises(UnknownAnalyst):
        known.as_(AGENT).write(set_away, backup="ghost")
    assert known.as_(AGENT).read(get_analyst, login=AGENT).availability == "available"


# --------------------------------------------------------------------------- groups


def test_the_shipped_groups_and_their_escalation_paths(known: KnownDesk) -> None:
    groups = {g.name: g for g in known.as_(AGENT).read(list_groups)}

    assert groups[SERVICE_DESK].level == 1 and groups[SERVICE_DESK].escalates_to == DESKTOP
    assert groups[DESKTOP].escalates_to == INFRA
    assert groups[INFRA].escalates_to is None and groups[INFRA].level == 3
    assert groups[SERVICE_DESK].members == 3 and groups["Network"].members == 0


def test_an_admin_adds_a_group(known: KnownDesk) -> None:
    added = known.as_(ADMIN).write(
        add_group, name="Field Services", level=2, escalates_to=INFRA, description="On site"
    )

    assert (added.name, added.level, added.escalates_to, added.members) == (
        "Field Services",
        2,
        INFRA,
        0,
    )
    assert "Field Services" in [g.name for g in known.as_(AGENT).read(list_groups)]


@pytest.mark.parametrize(
    ("login", "kwargs", "error", "words"),
    [
        (SUPERVISOR, {}, PermissionDenied, "only an admin may add groups"),
        (ADMIN, {"name": "service DESK"}, InvalidInput, "exists already"),
        (ADMIN, {"name": ""}, InvalidInput, "name must not be empty"),
        (ADMIN, {"level": 0}, InvalidInput, "must be 1, 2 or 3"),
        (ADMIN, {"escalates_to": SERVICE_DESK}, InvalidInput, "escalates to its own level"),
        (ADMIN, {"escalates_to": "Nowhere"}, NotFound, "no group named 'Nowhere'"),
    ],
)
def test_bad_groups_are_refused(
    known: KnownDesk, login: str, kwargs: dict[str, Any], error: type[DeskError], words: str
) -> None:
    before = known.as_(ADMIN).read(list_groups)
    values = {"name": "Field Services", "level": 2} | kwargs
    with pytest.raises(error, match=words):
        known.as_(login).write(add_group, **values)
    assert known.as_(ADMIN).read(list_groups) == before
