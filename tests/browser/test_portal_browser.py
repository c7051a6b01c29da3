"""Issue 20's acceptance check, in a real headless Chromium against ``deskterm serve web``, on
both databases: the customer opens the link of the mail a reassignment sent (caught by a
local SMTP server), sees the status in plain words and the public note (never the internal
one), replies, and the desk sees the reply with the ticket back in work; they rate the
resolved case from the link of the "resolved" mail and the dashboard's CSAT moves. A forged
link is a 404 that names nothing; a hostile subject is text on the page, never code.

The analysts' side goes through the ``deskterm`` commands an analyst types; the customer's
side only through what Chromium shows and does. Every step leaves a screenshot at desktop
and phone width in ``test-artefacts/browser/``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from browsing import Shots, Web, submit
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from sqlalchemy import select

from clirun import run_deskterm
from comms_helpers import FROM, SmtpServer, smtp_server
from deskterm.db.models import Survey
from deskterm.desk.dashboard import satisfaction_panel
from deskterm.desk.portal import STATUS_WORDS
from deskterm.domain.enums import Status
from deskterm.domain.refs import format_ref
from factories import AGENT, AGENT2, CONTACT_EMAIL, SUPERVISOR, KnownDesk

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PUBLIC = "We ordered a new battery for you; it arrives on Thursday."
INTERNAL = "Her admin password is hunter2 (never tell the customer)"
REASON = "Bob knows the T14 boards"
REPLY = "Thank you! I am at my desk on Thursday from 9 to 5."


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


class Analyst:
    """The ``deskterm`` command as an analyst types it, on the test's desk."""

    def __init__(
        self,
        known: KnownDesk,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
        tmp_path: Path,
    ) -> None:
        self.url = known.db.url.render_as_string(hide_password=False)
        self.monkeypatch = monkeypatch
        self.capsys = capsys
        monkeypatch.setenv("DESKTERM_CONFIG_FILE", str(tmp_path / "none.toml"))

    def __call__(self, login: str, *args: str) -> str:
        code, out, err = run_deskterm(
            self.monkeypatch, self.capsys, "--db", self.url, "--as", login, *args
        )
        assert code == 0, f"deskterm {' '.join(args)}: {err}"
        return out

    def deliver(self, smtp: SmtpServer, web: Web) -> list[EmailMessage]:
        """``deskterm outbox run`` through the local SMTP server: the mails that arrived."""
        before = len(smtp.arrived)
        for key, value in {
            "DESKTERM_SMTP_HOST": "127.0.0.1",
            "DESKTERM_SMTP_PORT": str(smtp.port),
            "DESKTERM_SMTP_TLS": "none",
            "DESKTERM_SMTP_FROM": FROM,
            "DESKTERM_WEB_BASE_URL": web.url,
        }.items():
            self.monkeypatch.setenv(key, value)
        self(AGENT, "outbox", "run")
        return [arrived.message for arrived in smtp.arrived[before:]]


@pytest.fixture
def analyst(
    known: KnownDesk,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> Analyst:
    return Analyst(known, monkeypatch, capsys, tmp_path)


def links_in(message: EmailMessage, web: Web, kind: str) -> list[str]:
    """The links to ``/{kind}/…`` on our server in the mail's text, read as a mail reader
    reads it: the MIME parts decoded, not the bytes on the wire."""
    part = message.get_body(("plain",))
    assert part is not None, message
    words = part.get_content().split()
    return [w for w in words if w.startswith(f"{web.url}/{kind}/") and urlsplit(w).path]


def status_code(driver: WebDriver) -> int:
    """The HTTP status of the page the browser shows (Navigation Timing Level 2)."""
    code = driver.execute_script(
        "return performance.getEntriesByType('navigation')[0].responseStatus"
    )
    return int(code)


def no_alert(driver: WebDriver) -> bool:
    try:
        _alert = driver.switch_to.alert
    except NoAlertPresentException:
        return True
    return False


def shown(driver: WebDriver) -> str:
    """What a person reads on the page (not its source)."""
    return str(driver.find_element(By.TAG_NAME, "body").text)


def csat(known: KnownDesk) -> Any:
    return known.as_(SUPERVISOR).read(satisfaction_panel).satisfaction


def test_the_customer_follows_replies_and_rates_their_case_in_a_browser(
    known: KnownDesk,
    analyst: Analyst,
    smtp: SmtpServer,
    web: Web,
    browser: WebDriver,
    shots: Shots,
) -> None:
    created = json.loads(
        analyst(
            AGENT,
            "ticket",
            "new",
            "--contact",
            CONTACT_EMAIL,
            "--subject",
            "Laptop will not boot",
            "--json",
        )
    )
    ref = created["ref"]
    analyst(AGENT, "ticket", "note", ref, "--text", INTERNAL)
    analyst(AGENT, "ticket", "note", ref, "--text", PUBLIC, "--public")
    analyst(AGENT, "ticket", "assign", ref, "--to", AGENT2, "--reason", REASON)
    analyst(AGENT2, "ticket", "status", ref, "waiting_customer", "--reason", "Which day?")

    mails = analyst.deliver(smtp, web)

    reassigned = [m for m in mails if "is now looking after your case" in str(m.get_body())]
    assert len(reassigned) == 1, [m["Subject"] for m in mails]
    (mail,) = reassigned
    assert mail["To"].addresses[0].addr_spec == CONTACT_EMAIL
    (link,) = set(links_in(mail, web, "case"))

    # The customer opens the link from the mail.
    browser.get(link)
    assert status_code(browser) == 200
    shots.take("01-case")
    page = shown(browser)
    assert ref in page and "Laptop will not boot" in page
    status = browser.find_element(By.CSS_SELECTOR, "dd.status").text
    assert status == STATUS_WORDS[Status.WAITING_CUSTOMER] == "We are waiting for your answer"
    assert PUBLIC in page
    source = browser.page_source
    assert INTERNAL not in source and "hunter2" not in source
    assert REASON not in source  # the analysts' reason is theirs; the mail said it in words
    assert browser.find_elements(By.CSS_SELECTOR, "form input[name^='csrf']")

    # They answer.
    form = browser.find_element(By.CSS_SELECTOR, "section.reply form")
    form.find_element(By.NAME, "text").send_keys(REPLY)
    shots.take("02-reply-typed")
    submit(browser, form.find_element(By.CSS_SELECTOR, "button[type='submit']"))

    assert status_code(browser) == 200
    assert urlsplit(browser.current_url).query == "done=reply"
    shots.take("03-reply-sent")
    page = shown(browser)
    assert REPLY in page
    assert browser.find_element(By.CSS_SELECTOR, "dd.status").text == "We are working on it"
    said = analyst(AGENT2, "ticket", "show", ref)
    assert REPLY in " ".join(said.split())
    assert json.loads(analyst(AGENT2, "ticket", "show", ref, "--json"))["status"] == "in_progress"

    # Solved: the "resolved" mail links to the survey.
    analyst(AGENT2, "ticket", "resolve", ref, "--code", "fixed", "--text", "New battery fitted.")
    mails = analyst.deliver(smtp, web)
    surveys = [link for m in mails for link in links_in(m, web, "survey")]
    assert len(set(surveys)) == 1, [m["Subject"] for m in mails]
    before = csat(known)
    assert before.csat_answers == 0 and before.csat_mean is None

    browser.get(surveys[0])
    assert status_code(browser) == 200
    shots.take("04-survey")
    assert ref in shown(browser)
    browser.find_element(By.XPATH, "//input[@name='csat' and @value='4']/..").click()
    browser.find_element(By.XPATH, "//input[@name='nps' and @value='9']/..").click()
    browser.find_element(By.NAME, "comment").send_keys("Quick and friendly.")
    shots.take("05-survey-chosen")
    assert browser.find_element(By.CSS_SELECTOR, "input[name='csat'][value='4']").is_selected()
    submit(browser, browser.find_element(By.CSS_SELECTOR, "form button[type='submit']"))

    assert status_code(browser) == 200
    shots.take("06-survey-sent")
    after = csat(known)
    assert (after.csat_answers, after.csat_mean, after.csat_pct) == (1, 4.0, 100.0)
    assert (after.nps_answers, after.nps) == (1, 100.0)  # a 9 recommends us
    with known.db.read() as session:
        (answer,) = session.scalars(select(Survey)).all()
        assert (answer.csat, answer.nps, answer.via) == (4, 9, "web")
    # Their words about our service reach the desk, in the ticket's log.
    assert "Quick and friendly." in " ".join(analyst(AGENT2, "ticket", "show", ref).split())
    assert all(path.stat().st_size > 5_000 for path in shots.taken)


def test_a_tampered_link_is_a_404_that_names_nothing(
    known: KnownDesk, analyst: Analyst, web: Web, browser: WebDriver, shots: Shots
) -> None:
    ticket = known.ticket(AGENT, subject="Printer on floor 3 jams")
    ref = format_ref(ticket.id)
    link = analyst(AGENT, "portal", "link", ref, "--base-url", web.url).split()[0]
    assert link.startswith(f"{web.url}/case/")
    browser.get(link)
    assert status_code(browser) == 200 and ref in shown(browser)

    token = link.rsplit("/", 1)[1]
    middle = len(token) - 10  # inside the signature, where every bit counts
    forged = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    browser.get(f"{web.url}/case/{forged}")

    assert status_code(browser) == 404
    shots.take("01-tampered")
    source = browser.page_source
    assert ref not in source and "Printer" not in source and "Carol" not in source
    assert browser.find_elements(By.TAG_NAME, "textarea") == []


HOSTILE_SUBJECT = "<script>alert(1)</script> {{7*7}} ${7*7} \u202eevil\u202c \x1b[31mred\x1b[0m"
HOSTILE_REPLY = "<img src=x onerror=alert(2)> {{7*7}} [bold]x[/]"


def test_a_hostile_subject_and_reply_are_text_on_the_page(
    known: KnownDesk, analyst: Analyst, web: Web, browser: WebDriver, shots: Shots
) -> None:
    ticket = known.ticket(AGENT, subject=HOSTILE_SUBJECT)
    ref = format_ref(ticket.id)
    link = analyst(AGENT, "portal", "link", ref, "--base-url", web.url).split()[0]

    browser.get(link)
    form = browser.find_element(By.CSS_SELECTOR, "section.reply form")
    form.find_element(By.NAME, "text").send_keys(HOSTILE_REPLY)
    submit(browser, form.find_element(By.CSS_SELECTOR, "button[type='submit']"))

    assert status_code(browser) == 200
    shots.take("01-hostile")
    assert no_alert(browser)
    heading = browser.find_element(By.TAG_NAME, "h1").text
    assert "<script>alert(1)</script>" in heading and "{{7*7}}" in heading
    assert "${7*7}" in heading
    page = shown(browser)
    assert "49" not in page
    assert HOSTILE_REPLY in page
    # Nothing a person typed became an element or a terminal's control.
    assert browser.find_elements(By.TAG_NAME, "script") == []
    assert browser.find_elements(By.TAG_NAME, "img") == []
    for char in ("\x1b", "\u202e"):
        assert char not in browser.page_source
    assert browser.title == f"Your case {ref}"
