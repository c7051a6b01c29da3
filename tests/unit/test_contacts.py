"""Callers, their organizations and assets, and finding them while the phone rings."""

from __future__ import annotations

from typing import Any

import pytest

from deskterm.desk.contacts import (
    add_asset,
    add_contact,
    find_contacts,
    get_contact,
    list_contacts,
)
from deskterm.desk.lookups import contact_by_key
from deskterm.domain.errors import DeskError, InvalidInput, NotFound
from factories import (
    AGENT,
    CONTACT_EMAIL,
    CONTACT_NAME,
    CONTACT_ORG,
    CONTACT_PHONE,
    KnownDesk,
)


def _names(known: KnownDesk, text: str, **kwargs: Any) -> list[str]:
    return [c.name for c in known.as_(AGENT).read(find_contacts, text=text, **kwargs)]


def _key(known: KnownDesk, key: str) -> int:
    with known.db.read() as session:
        contact_id = contact_by_key(session, key).id
    assert contact_id is not None
    return contact_id


@pytest.fixture
def callers(known: KnownDesk) -> KnownDesk:
    """The known caller plus a few more, to find among."""
    desk = known.as_(AGENT)
    desk.write(add_contact, name="Carl Berg", phone="555-0101", organization="Berg & Sons")
    desk.write(add_contact, name="Dana Scully", mobile="+1 202 555 0147", organization="acme corp")
    desk.write(add_contact, name="carolina Diaz", email="cdiaz@example.org")
    desk.write(add_contact, name="100% Pure_Juice Ltd")
    return known


# --------------------------------------------------------------------------- adding


def test_a_contact_is_stored_clean_with_an_organization_made_once(known: KnownDesk) -> None:
    dana = known.as_(AGENT).write(
        add_contact,
        name="  Dana   Scully ",
        email=" Dana.Scully@FBI.example ",
        phone="(202) 555-0147",
        organization="  ACME corp ",
        location="Washington",
        vip=True,
    )

    assert (dana.name, dana.email, dana.phone) == (
        "Dana Scully",
        "dana.scully@fbi.example",
        "(202) 555-0147",
    )
    assert dana.organization == CONTACT_ORG  # the existing organization, not a second one
    assert dana.vip and dana.location == "Washington" and dana.open_tickets == 0


def test_markup_and_escapes_in_a_name_are_kept_literal_and_dropped(known: KnownDesk) -> None:
    contact = known.as_(AGENT).write(
        add_contact, name="[red]Eve[/red]\x1b]0;owned\x07 \x1b[8mHidden\x00", organization="[b]X"
    )

    assert contact.name == "[red]Eve[/red] Hidden"
    assert contact.organization == "[b]X"


@pytest.mark.parametrize(
    ("kwargs", "error", "field", "words"),
    [
        ({"name": ""}, InvalidInput, "name", "name must not be empty"),
        ({"name": "x" * 201}, InvalidInput, "name", "too long"),
        ({"email": "carol-at-acme"}, InvalidInput, "email", "not an email address"),
        ({"email": CONTACT_EMAIL.upper()}, InvalidInput, "email", "exists already"),
        ({"phone": "ext. 12"}, InvalidInput, "phone", "not a phone number"),
        ({"mobile": "+"}, InvalidInput, "mobile", "not a phone number"),
        ({"phone": "1" * 65}, InvalidInput, "phone", "too long"),
        ({"language": "fr"}, InvalidInput, "language", "does not speak 'fr'"),
        ({"language": "Klingon"}, InvalidInput, "language", "en, de, pt, pt-BR, pt-PT, cs"),
    ],
)
def test_bad_contacts_are_refused(
    known: KnownDesk, kwargs: dict[str, Any], error: type[DeskError], field: str, words: str
) -> None:
    before = known.as_(AGENT).read(list_contacts)
    values = {"name": "New Caller"} | kwargs
    with pytest.raises(error, match=words) as err:
        known.as_(AGENT).write(add_contact, **values)
    assert err.value.field == field  # type: ignore[attr-defined]
    assert known.as_(AGENT).read(list_contacts) == before


def test_an_asset_belongs_to_its_contact(known: KnownDesk) -> None:
    asset = known.as_(AGENT).write(
        add_asset,
        contact=CONTACT_EMAIL,
        kind=" Licence ",
        product="Office 365",
        account_number="A1",
    )

    carol = known.as_(AGENT).read(get_contact, key=f"#{known.contact_id}")
    assert [a.product for a in carol.assets] == ["ThinkPad T14", "Office 365"]
    assert carol.assets[-1] == asset and asset.kind == "licence"


def test_bad_assets_are_refused(known: KnownDesk) -> None:
    with pytest.raises(InvalidInput, match="unknown asset kind 'spaceship'"):
        known.as_(AGENT).write(add_asset, contact=CONTACT_EMAIL, kind="spaceship", product="X")
    with pytest.raises(NotFound, match="no contact matches"):
        known.as_(AGENT).write(add_asset, contact="Nobody", kind="hardware", product="X")
    with pytest.raises(InvalidInput, match="product must not be empty"):
        known.as_(AGENT).write(add_asset, contact=CONTACT_EMAIL, kind="hardware", product=" ")
    carol = known.as_(AGENT).read(get_contact, key=CONTACT_EMAIL)
    assert len(carol.assets) == 1


# --------------------------------------------------------------------------- finding


def test_find_by_name_prefix_in_any_case(callers: KnownDesk) -> None:
    assert _names(callers, "car") == ["Carl Berg", CONTACT_NAME, "carolina Diaz"]
    # The whole word first, then the prefix; a name spelt alike ("Carl") after them.
    assert _names(callers, "CAROL") == [CONTACT_NAME, "carolina Diaz", "Carl Berg"]
    assert _names(callers, "carol jones") == [CONTACT_NAME]
    assert _names(callers, "jones") == [CONTACT_NAME]  # any word of the name


@pytest.mark.parametrize(
    "fragment",
    ["7946-0958", "7946 0958", "(20) 7946", "+44 20 7946 0958", "442079460958", "20.7946.0958"],
)
def test_find_by_phone_fragment_however_written(callers: KnownDesk, fragment: str) -> None:
    assert _names(callers, fragment) == [CONTACT_NAME]


def test_find_by_mobile_email_and_organization(callers: KnownDesk) -> None:
    assert _names(callers, "555 0147") == ["Dana Scully"]
    assert _names(callers, "555-01") == ["Carl Berg", "Dana Scully"]
    assert _names(callers, "carol.jones@") == [CONTACT_NAME]
    assert _names(callers, "CDIAZ@EXAMPLE.ORG") == ["carolina Diaz"]
    assert _names(callers, "acme") == [CONTACT_NAME, "Dana Scully"]
    assert _names(callers, "berg &") == ["Carl Berg"]


def test_find_treats_wildcards_literally_and_needs_two_characters(callers: KnownDesk) -> None:
    assert _names(callers, "c") == []
    assert _names(callers, "  ") == []
    assert _names(callers, "%") == []
    assert _names(callers, "%%") == []
    assert _names(callers, "c_r") == []
    assert _names(callers, "100%") == ["100% Pure_Juice Ltd"]
    assert _names(callers, "car", limit=1) == ["Carl Berg"]
    with pytest.raises(InvalidInput, match="limit"):
        _names(callers, "car", limit=0)


def test_list_contacts_by_organization(callers: KnownDesk) -> None:
    acme = callers.as_(AGENT).read(list_contacts, organization="ACME CORP")
    assert [c.name for c in acme] == [CONTACT_NAME, "Dana Scully"]
    assert all(c.assets == [] for c in acme)
    assert len(callers.as_(AGENT).read(list_contacts)) == 5


def test_open_tickets_are_counted_on_the_contact(known: KnownDesk) -> None:
    known.ticket()
    assert known.as_(AGENT).read(get_contact, key=CONTACT_EMAIL).open_tickets == 1


# --------------------------------------------------------------------------- by key


def test_contact_by_key(callers: KnownDesk) -> None:
    carol = callers.contact_id
    assert _key(callers, f"#{carol}") == carol
    assert _key(callers, "7946 0958") == carol  # a run of the number's digits, if only hers
    assert _key(callers, CONTACT_EMAIL.upper()) == carol
    assert _key(callers, CONTACT_PHONE) == carol
    assert _key(callers, "44 20 7946 0958") == carol
    assert _key(callers, "  carol JONES ") == carol
    assert _key(callers, "+1 (202) 555-0147") != carol  # Dana's mobile


@pytest.mark.parametrize(
    ("key", "error", "words"),
    [
        ("", InvalidInput, "name a contact"),
        ("#999", NotFound, "no contact with id #999"),
        ("Carol", NotFound, "no contact matches 'Carol'"),
        ("nobody@example.com", NotFound, "no contact matches"),
        ("1", InvalidInput, "write an id as #1"),  # bare digits are never an id
        ("0000 0000", NotFound, "no contact matches"),
        ("not@an@address", InvalidInput, "not an email address"),
    ],
)
def test_contact_by_key_refusals(
    callers: KnownDesk, key: str, error: type[DeskError], words: str
) -> None:
    with pytest.raises(error, match=words):
        _key(callers, key)


def test_an_ambiguous_key_is_refused_naming_the_candidates(known: KnownDesk) -> None:
    other = known.as_(AGENT).write(add_contact, name="carol jones", phone=CONTACT_PHONE)

    for key in (CONTACT_NAME, CONTACT_PHONE):
        with pytest.raises(InvalidInput, match="matches several contacts") as err:
            _key(known, key)
        assert f"#{known.contact_id} {CONTACT_NAME}" in str(err.value)
        assert f"#{other.id} carol jones" in str(err.value)
        assert err.value.field == "contact"


@pytest.mark.parametrize(
    ("said", "kept"),
    [
        ("de", "de"),
        ("German", "de"),
        ("de-AT", "de"),
        ("pt_BR.UTF-8", "pt-BR"),
        ("Czech", "cs"),
        ("cz", "cs"),
        ("", None),
        (None, None),
    ],
)
def test_a_contact_s_language_is_kept_as_its_tag(
    known: KnownDesk, said: str | None, kept: str | None
) -> None:
    contact = known.as_(AGENT).write(add_contact, name="New Caller", language=said)
    assert contact.language == kept
    assert known.as_(AGENT).read(get_contact, key=f"#{contact.id}").language == kept
