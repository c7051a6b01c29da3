"""The language of a contact born from a mail: the mail's ``Content-Language`` header, else
a confident guess from its own words, else none (English); never over an analyst's choice."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from deskterm.db.models import Contact
from deskterm.desk.contacts import add_contact
from deskterm.desk.mail import import_message
from deskterm.desk.mailparse import guess_language, parse_mail
from factories import ADMIN, KnownDesk

GERMAN = "Hallo, mein Laptop startet seit heute Morgen nicht mehr. Können Sie mir bitte helfen?"
PORTUGUESE = "Bom dia, o meu portátil não liga desde ontem. Podem ajudar-me, por favor?"
BRAZILIAN = "Olá, meu notebook não liga desde ontem. Vocês podem me ajudar?"
CZECH = "Dobrý den, můj notebook od včerejška nenaběhne. Můžete mi prosím pomoci?"
ENGLISH = "Hello, my laptop has not started since yesterday. Could you please help me?"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        (GERMAN, "de"),
        (PORTUGUESE, "pt"),
        (BRAZILIAN, "pt"),
        (CZECH, "cs"),
        (ENGLISH, "en"),
        ("Ich habe ein Problem mit meinem Passwort.", "de"),
        ("Nemohu se přihlásit do pošty.", "cs"),
        # Too short to tell.
        ("Danke!", None),
        ("Hi, thanks", None),
        ("VPN nefunguje.", None),
        ("", None),
        # Mixed: no confident answer.
        ("Hello team, anbei die Datei. Regards, Hans Müller", None),
        ("Printer broken. Drucker kaputt.", None),
        # Languages deskterm does not write in are not taken for their look-alikes.
        ("Hola, mi portátil no arranca desde ayer. ¿Pueden ayudarme, por favor?", None),
        ("Dobrý deň, môj notebook od včera nenabehne. Môžete mi prosím pomôcť?", None),
        ("Bonjour, mon ordinateur portable ne démarre plus depuis hier.", None),
        ("Ciao, il mio portatile non si accende da ieri, potete aiutarmi?", None),
    ],
)
def test_the_language_of_a_mails_own_words(text: str, language: str | None) -> None:
    assert guess_language(text) == language


def test_quoted_lines_and_the_signature_are_not_the_senders_words() -> None:
    quoted = "\n".join(["Danke!", *(f"> {line}" for line in [ENGLISH] * 5)])
    assert guess_language(quoted) is None
    signed = f"Danke!\n-- \n{ENGLISH}\n{ENGLISH}"
    assert guess_language(signed) is None
    assert guess_language(f"{CZECH}\n\n> {ENGLISH}\n> {ENGLISH}") == "cs"


def mail(sender: str, body: str, *, header: str | None = None, subject: str = "VPN") -> bytes:
    lines = [
        f"From: {sender}",
        "To: help@desk.example",
        f"Subject: {subject}",
        f"Message-ID: <{uuid.uuid4().hex}@client.example>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    if header is not None:
        lines.append(f"Content-Language: {header}")
    return ("\n".join(lines) + "\n\n" + body + "\n").encode()


def language_of(known: KnownDesk, address: str) -> str | None:
    with known.db.read() as session:
        contact = session.scalars(select(Contact).where(Contact.email == address)).one()
        return contact.language


@pytest.mark.parametrize(
    ("body", "header", "language"),
    [
        (GERMAN, None, "de"),
        (PORTUGUESE, None, "pt"),
        (CZECH, None, "cs"),
        (ENGLISH, None, "en"),
        ("Danke!", None, None),
        # The header is believed first, and keeps the region deskterm writes in.
        (GERMAN, "pt-BR", "pt-BR"),
        (ENGLISH, "de-AT", "de"),
        # A language deskterm does not speak: English, and no guess overrides the header.
        (GERMAN, "fr", None),
    ],
)
def test_a_contact_born_from_a_mail_gets_its_language(
    known: KnownDesk, body: str, header: str | None, language: str | None
) -> None:
    sender = f"new.{uuid.uuid4().hex[:12]}@kunde.example"
    result = import_message(known.db, mail(sender, body, header=header), source="x.eml")
    assert result.outcome == "new_ticket", result
    assert language_of(known, sender) == language


def test_a_language_an_analyst_set_is_never_overwritten_by_a_mail(known: KnownDesk) -> None:
    known.as_(ADMIN).write(add_contact, name="Jana Nováková", email="jana@kunde.example")
    known.as_(ADMIN).write(add_contact, name="Hans Berg", email="hans@kunde.example", language="pt")
    for sender, body in (("jana@kunde.example", GERMAN), ("hans@kunde.example", CZECH)):
        result = import_message(known.db, mail(sender, body, header="de"), source="y.eml")
        assert result.outcome == "new_ticket", result
    # A contact already known keeps what they had: none stays none, pt stays pt.
    assert language_of(known, "jana@kunde.example") is None
    assert language_of(known, "hans@kunde.example") == "pt"


def test_the_header_is_read_as_a_tag_deskterm_keeps() -> None:
    def header(value: str) -> str | None:
        return parse_mail(mail("a@b.example", "x", header=value)).language

    assert header("pt-BR, en") == "pt-BR"
    assert header("de-DE") == "de-DE"
    assert header("fr-CA") == "fr"
    assert header("") is None
