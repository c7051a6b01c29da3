"""Files with a reply, in a real headless Chromium against ``deskterm serve web``, on both
databases: the customer picks two files with their message, the page then lists them and
the desk has them on the ticket; files past the limit get the page's words back, with the
message they typed still in the form (the server reads the rest of the upload first, so the
browser shows that page rather than a broken connection)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from browsing import Shots, Web, submit
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from deskterm.desk.mail import list_attachments
from deskterm.desk.portal import FILES_MAX_BYTES, link_for
from deskterm.domain.refs import format_ref
from factories import AGENT, KnownDesk

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TYPED = "The error comes back after every restart; screenshots attached."


def _status(driver: WebDriver) -> int:
    return int(
        driver.execute_script("return performance.getEntriesByType('navigation')[0].responseStatus")
    )


def _open_case(known: KnownDesk, web: Web, browser: WebDriver) -> int:
    ticket_id = known.ticket(AGENT).id
    link = known.as_(AGENT).write(link_for, ref=ticket_id, base_url=web.url).url
    browser.get(link)
    assert _status(browser) == 200
    return ticket_id


def test_the_customer_sends_files_with_a_reply_and_the_desk_has_them(
    known: KnownDesk, web: Web, browser: WebDriver, shots: Shots, tmp_path: Path
) -> None:
    shot, log = tmp_path / "error screen.png", tmp_path / "event-log.txt"
    shot.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    log.write_text("Disk 0: bad block at 0x1f\n")
    ticket_id = _open_case(known, web, browser)

    form = browser.find_element(By.CSS_SELECTOR, "section.reply form")
    form.find_element(By.NAME, "text").send_keys(TYPED)
    form.find_element(By.ID, "reply-files").send_keys(f"{shot}\n{log}")
    shots.take("01-files-chosen")
    submit(browser, form.find_element(By.CSS_SELECTOR, "button[type='submit']"), seconds=60)

    assert _status(browser) == 200
    assert urlsplit(browser.current_url).query == "done=reply"
    shots.take("02-files-sent")
    listed = browser.find_element(By.ID, "your-files").text
    assert "error screen.png" in listed and "event-log.txt" in listed
    kept = known.as_(AGENT).read(list_attachments, ref=format_ref(ticket_id))
    assert sorted((a.filename, a.size) for a in kept) == [
        ("error screen.png", shot.stat().st_size),
        ("event-log.txt", log.stat().st_size),
    ]


def test_files_past_the_limit_get_words_and_keep_the_message(
    known: KnownDesk, web: Web, browser: WebDriver, shots: Shots, tmp_path: Path
) -> None:
    big = []
    for n in range(3):
        path = tmp_path / f"dump-{n}.bin"
        with path.open("wb") as out:
            out.truncate(FILES_MAX_BYTES // 3 + 1024 * 1024)
        big.append(str(path))
    ticket_id = _open_case(known, web, browser)
    before = known.snapshot(ticket_id)

    form = browser.find_element(By.CSS_SELECTOR, "section.reply form")
    form.find_element(By.NAME, "text").send_keys(TYPED)
    form.find_element(By.ID, "reply-files").send_keys("\n".join(big))
    submit(browser, form.find_element(By.CSS_SELECTOR, "button[type='submit']"), seconds=60)

    assert _status(browser) == 413
    shots.take("01-files-too-large")
    assert "Your files are too large" in browser.find_element(By.CSS_SELECTOR, ".error").text
    assert browser.find_element(By.ID, "reply-text").get_attribute("value") == TYPED
    assert known.snapshot(ticket_id) == before
    assert known.as_(AGENT).read(list_attachments, ref=format_ref(ticket_id)) == []
