"""Every customer message exists in every language deskterm ships, renders with every
variable the outbox passes, and says it in that language (issue 19)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from deskterm.desk.outbox import Because, Notice, notice_context
from deskterm.desk.templates import (
    SMS_MAX,
    format_moment,
    language_chain,
    language_code,
    render_notice,
)
from deskterm.paths import shipped_data_dir

SHIPPED = shipped_data_dir() / "templates"
#: Languages with a folder of their own for every message; pt-BR holds Brazil's wording.
LANGUAGES = ("en", "de", "pt", "cs")
CUSTOMER_NOTICES = tuple(n.value for n in Notice)
SUPERVISOR_ALERT = "supervisor_alert"
#: The web portal's "confirm your request" mail (desk/portal.py).
PORTAL_CONFIRM = "portal_confirm"
NOTICES = (*CUSTOMER_NOTICES, SUPERVISOR_ALERT, PORTAL_CONFIRM)

#: A sample for every variable ``outbox.notice_context`` passes, written so that no English
#: word is in them: what a template renders in English is then its own words.
SAMPLES: dict[str, Any] = {
    "ref": "DT-000042",
    "subject": "VPN 42",
    "name": "Ana Lima",
    "holder": "Bo Li",
    "group": "NOC-3",
    "level": 2,
    "status": "assigned",
    "channel": "email",
    "reason": "Z-1234",
    "because": Because.COLLEAGUE.value,
    "away": "Ida Vo",
    "resolution": "X-99",
    "callback_at": "2026-12-07 14:30 UTC",
    # As ``portal.message_links`` makes them: a token is about 60 to 80 characters.
    "link": "https://desk.example/case/WzQyLDcsMV0.axSYyw.bCFEB52DGFC5HDpvYPHyvDo8sq81SQOvwma9pq4ruDM",
    "survey_link": "https://desk.example/survey/WzQyLDcsMV0.axSYyw.bCFEB52DGFC5HDpvYPHyvDo8sq81SQOvwma9pq4ruDM",
}
#: What ``sla_check`` passes for a supervisor's alert (data/templates/README.md).
SUPERVISOR_SAMPLES: dict[str, Any] = {
    "ref": "DT-000042",
    "subject": "VPN 42",
    "priority": "P1",
    "supervisor": "Sue Ko",
    "group": "NOC-3",
    "level": 2,
    "reason": "Z-1234",
    "outcome": "X-99",
    "due_at": "2026-12-07 14:30 UTC",
    "breach": "resolution",
}
#: What ``portal`` passes for its confirmation mail.
PORTAL_SAMPLES: dict[str, Any] = {
    "name": "Ana Lima",
    "subject": "VPN 42",
    "link": "https://desk.example/c/DT-000042",
    "hours": 24,
    "until": "2026-12-07 14:30 UTC",
}
#: Words that would give away an English sentence left in another language's template.
ENGLISH = re.compile(
    r"\b(your|the|we|you|is now|hello|regards|please|thank|case|team that|moved|"
    r"looking after|call you|resolved|need something)\b",
    re.IGNORECASE,
)


def sample(**changes: Any) -> dict[str, Any]:
    context = notice_context(
        ref=SAMPLES["ref"],
        subject=SAMPLES["subject"],
        name=SAMPLES["name"],
        holder=SAMPLES["holder"],
        group=SAMPLES["group"],
        level=SAMPLES["level"],
        status=SAMPLES["status"],
        channel=SAMPLES["channel"],
    )
    context.update({key: SAMPLES[key] for key in context if context[key] is None})
    context.update(changes)
    return context


def context_for(notice: str, **changes: Any) -> dict[str, Any]:
    if notice == SUPERVISOR_ALERT:
        return {**SUPERVISOR_SAMPLES, **changes}
    if notice == PORTAL_CONFIRM:
        return {**PORTAL_SAMPLES, **changes}
    return sample(**changes)


def test_the_samples_cover_every_variable_the_outbox_passes() -> None:
    """A new variable in the outbox's context must get a sample here (and a word in every
    language's templates that use it)."""
    built = notice_context(
        ref="x", subject="x", name="x", holder=None, group=None, level=1, status="x", channel="x"
    )
    assert set(built) == set(SAMPLES)
    assert all(value is not None for value in sample().values())


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("notice", (*NOTICES, "_signature"))
def test_every_message_exists_in_every_language(language: str, notice: str) -> None:
    assert (SHIPPED / language / f"{notice}.txt").is_file()


@pytest.mark.parametrize("notice", (*NOTICES, "_signature"))
def test_brazilian_portuguese_finds_every_message(notice: str) -> None:
    found = [
        folder
        for folder in language_chain("pt-BR")
        if (SHIPPED / folder / f"{notice}.txt").is_file()
    ]
    assert found[0] in ("pt-BR", "pt")


VARIANTS: list[dict[str, Any]] = [
    {},
    {"holder": None},
    {"away": None, "because": Because.TEAM.value},
    {"away": None, "because": Because.SPECIALIST.value, "level": 3},
    {"reason": None, "callback_at": None, "resolution": None, "away": None},
    {"because": None, "away": None},
    {"link": None, "survey_link": None},
]


@pytest.mark.parametrize("language", (*LANGUAGES, "pt-BR", "de-AT", "cs-CZ"))
@pytest.mark.parametrize("notice", NOTICES)
def test_every_message_renders_in_every_language_with_every_variable(
    language: str, notice: str
) -> None:
    variants = {SUPERVISOR_ALERT: [{}, {"breach": None}], PORTAL_CONFIRM: [{}, {"hours": 1}]}
    for changes in variants.get(notice, VARIANTS):
        rendered = render_notice(notice, language, context_for(notice, **changes))
        base = language_code(language)
        folder = rendered.template.split("/", 1)[0]
        assert folder in language_chain(language) and folder != "en" or base == "en"
        assert rendered.subject.strip() and rendered.body.strip() and rendered.sms.strip()
        assert len(rendered.sms) <= SMS_MAX
        assert "DT-000042" in rendered.body and "DT-000042" in rendered.sms


@pytest.mark.parametrize("language", (*LANGUAGES, "pt-BR"))
@pytest.mark.parametrize("notice", CUSTOMER_NOTICES)
def test_a_text_message_fits_whatever_the_customer_wrote(language: str, notice: str) -> None:
    long = sample(
        subject="S" * 200,
        name="N" * 60,
        holder="H" * 60,
        away="A" * 60,
        group="G" * 40,
        reason="R" * 300,
        resolution="X" * 300,
        # A long base URL: https://servicedesk.example-company.co.uk/help
        link="https://servicedesk.example-company.co.uk/help/case/" + "T" * 75,
    )
    sms = render_notice(notice, language, long).sms
    # The template shortened what varies; the message was not cut off at the limit.
    assert len(sms) < SMS_MAX, sms
    assert long["link"] in sms


@pytest.mark.parametrize("language", (*LANGUAGES, "pt-BR"))
@pytest.mark.parametrize("notice", CUSTOMER_NOTICES)
def test_every_customer_message_carries_the_link_to_the_case_page(
    language: str, notice: str
) -> None:
    """Issue 20: the case page's link in the mail and the text; the survey's in the mail
    of a resolved case only. Without a base URL there is no link, and no line for it."""
    link, survey = SAMPLES["link"], SAMPLES["survey_link"]
    rendered = render_notice(notice, language, sample())
    assert link in rendered.body and link in rendered.sms
    assert (survey in rendered.body) == (notice == "resolved")
    assert survey not in rendered.sms
    assert f"{link}\n" in rendered.body  # on a line of its own: nothing glued to it
    plain = render_notice(notice, language, sample(link=None, survey_link=None))
    assert "http" not in plain.body + plain.sms and "None" not in plain.body + plain.sms
    assert plain.body.count("\n\n\n") == 0


@pytest.mark.parametrize("language", ("de", "pt", "pt-BR", "cs"))
@pytest.mark.parametrize("notice", NOTICES)
def test_no_english_is_left_in_another_language(language: str, notice: str) -> None:
    for changes in VARIANTS if notice in CUSTOMER_NOTICES else [{}]:
        context = context_for(notice, **changes)
        theirs = render_notice(notice, language, context)
        english = render_notice(notice, "en", context)
        # A supervisor's text message is the ticket, its priority and the rule's words.
        blocks = ("subject", "body") if notice == SUPERVISOR_ALERT else ("subject", "body", "sms")
        for block in blocks:
            text = getattr(theirs, block)
            assert text != getattr(english, block), (block, text)
            # Commands and key names stay as they are typed.
            said = re.sub(r"`[^`]*`|ctrl\+p|deskterm|Service Desk|https://\S+", "", text)
            assert not ENGLISH.search(said), (language, notice, block, text)


def test_brazil_has_its_own_words_and_portugal_keeps_its_own() -> None:
    # A supervisor's alert speaks the app's Portuguese (Brazil's, as the "pt" catalog does).
    for notice in (*CUSTOMER_NOTICES, PORTAL_CONFIRM):
        context = context_for(notice)
        brazil = render_notice(notice, "pt-BR", context)
        portugal = render_notice(notice, "pt", context)
        said_br = " ".join((brazil.subject, brazil.body, brazil.sms))
        said_pt = " ".join((portugal.subject, portugal.body, portugal.sms))
        assert not re.search(r"\b(equipa|telemóvel|registámos|contacto)\b", said_br), notice
        assert not re.search(r"\b(chamado|equipe|você|celular|contato)\b", said_pt), notice
    assigned = render_notice("assigned", "pt-BR", sample())
    assert "seu chamado" in assigned.body and "Seu chamado:" in assigned.sms
    assert "Você" in render_notice("assigned", "pt-BR", sample(link=None)).sms
    assert "o seu pedido" in render_notice("assigned", "pt", sample()).body
    alert = render_notice(SUPERVISOR_ALERT, "pt-BR", context_for(SUPERVISOR_ALERT))
    assert alert.template == "pt/supervisor_alert.txt" and "chamado" in alert.body


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", "Monday, December 7, 2026, 2:30 PM UTC"),
        ("de", "Montag, 7. Dezember 2026, 14:30 UTC"),
        ("pt", "segunda-feira, 7 de dezembro de 2026, 14:30 UTC"),
        ("pt-BR", "segunda-feira, 7 de dezembro de 2026 14:30 UTC"),
        ("cs", "pondělí 7. prosince 2026 14:30 UTC"),
    ],
)
def test_a_callback_time_is_written_the_customers_way(language: str, words: str) -> None:
    rendered = render_notice("callback", language, sample())
    assert words in rendered.subject and words in rendered.body and words in rendered.sms
    assert format_moment("2026-12-07 14:30 UTC", language) == words
    alert = render_notice(SUPERVISOR_ALERT, language, context_for(SUPERVISOR_ALERT))
    assert words in alert.body


def test_a_moment_that_is_not_one_is_shown_as_it_is() -> None:
    assert format_moment("tomorrow morning", "de") == "tomorrow morning"
    assert format_moment(None, "de") is None


@pytest.mark.parametrize(
    ("language", "chain"),
    [
        ("pt-BR", ["pt-BR", "pt", "en"]),
        ("pt_BR.UTF-8", ["pt-BR", "pt", "en"]),
        ("pt", ["pt", "en"]),
        ("de-AT", ["de-AT", "de", "en"]),
        ("Deutsch", ["de", "en"]),
        ("cs", ["cs", "en"]),
        ("en-GB", ["en-GB", "en"]),
        ("fr", ["fr", "en"]),
        (None, ["en"]),
        ("", ["en"]),
        ("??", ["en"]),
    ],
)
def test_the_language_chain(language: str | None, chain: list[str]) -> None:
    assert language_chain(language) == chain


def write(root: Path, name: str, subject: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"{{% block subject %}}{subject}{{% endblock %}}"
        "{% block body %}{{ ref }} {% include signature %}{% endblock %}"
        "{% block sms %}{{ ref }}{% endblock %}"
    )


def test_a_missing_brazilian_message_falls_back_to_portugal_then_english(tmp_path: Path) -> None:
    write(tmp_path, "en/created.txt", "english")
    write(tmp_path, "pt/created.txt", "portugal")
    write(tmp_path, "pt-BR/waiting.txt", "brasil")
    write(tmp_path, "en/waiting.txt", "english")
    write(tmp_path, "en/resolved.txt", "english")
    for folder in ("en", "pt", "pt-BR"):
        (tmp_path / folder / "_signature.txt").write_text(f"sig-{folder}")
    dirs = [tmp_path]

    created = render_notice("created", "pt-BR", sample(), dirs=dirs)
    assert (created.subject, created.template) == ("portugal", "pt/created.txt")
    # The signature follows the reader's chain, not the template's folder.
    assert "sig-pt-BR" in created.body
    assert render_notice("waiting", "pt-BR", sample(), dirs=dirs).subject == "brasil"
    assert render_notice("waiting", "pt", sample(), dirs=dirs).subject == "english"
    resolved = render_notice("resolved", "pt", sample(), dirs=dirs)
    assert (resolved.subject, resolved.template) == ("english", "en/resolved.txt")
    assert "sig-pt" in resolved.body


def test_an_admins_copy_still_wins_in_every_language(tmp_path: Path) -> None:
    admin = tmp_path / "admin"
    write(admin, "pt/assigned.txt", "nosso texto")
    write(admin, "cs/_signature.txt", "")
    (admin / "cs" / "_signature.txt").write_text("Podpis správce")
    dirs = [admin, SHIPPED]
    assert render_notice("assigned", "pt", sample(), dirs=dirs).subject == "nosso texto"
    # Brazil's own shipped wording is nearer to a pt-BR reader than Portugal's override.
    assert render_notice("assigned", "pt-BR", sample(), dirs=dirs).subject != "nosso texto"
    assert "Podpis správce" in render_notice("created", "cs", sample(), dirs=dirs).body


@pytest.mark.parametrize("language", (*LANGUAGES, "pt-BR"))
@pytest.mark.parametrize("notice", CUSTOMER_NOTICES)
def test_a_context_from_before_links_still_renders(language: str, notice: str) -> None:
    """A row queued by a version without links has neither variable."""
    older = {k: v for k, v in sample().items() if k not in ("link", "survey_link")}
    rendered = render_notice(notice, language, older)
    assert "http" not in rendered.body + rendered.sms
