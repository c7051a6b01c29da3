"""A case page reloaded while its case is unchanged is served as it was made (issue 20's
200 loads at once); whatever the customer may see change shows on the next load, and a
kept page never reaches another link, a dead link or an error."""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from deskterm.cli import app as cli_app
from deskterm.desk import clock
from deskterm.desk.portal import LINK_DAYS, CaseStamp, link_for, revoke_links
from deskterm.desk.tickets import add_note, resolve
from deskterm.serve.web import CasePages, WebServer
from factories import AGENT, KnownDesk

FIRST = "We ordered a new battery for you."
LATER = "The battery arrived: we will fit it today."
SECRET = "Internal: supplier invoice 4711"


@pytest.fixture
def server(known: KnownDesk) -> WebServer:
    return WebServer(known.db, base_url="https://help.example")


@pytest.fixture
def client(server: WebServer) -> Iterator[TestClient]:
    with TestClient(server.app, base_url="https://testserver", follow_redirects=False) as c:
        yield c


def _case(known: KnownDesk) -> tuple[int, str]:
    ticket = known.ticket(AGENT)
    known.as_(AGENT).write(add_note, ref=ticket.id, text=FIRST, public=True)
    made = known.as_(AGENT).write(link_for, ref=ticket.id, base_url="https://help.example")
    return ticket.id, urlsplit(made.url).path


def _load(server: WebServer, client: TestClient, path: str) -> tuple[str, bool]:
    """The page, and whether it was the kept one."""
    served = server.pages.served
    page = client.get(path)
    assert page.status_code == 200
    return page.text, server.pages.served > served


def test_a_reload_is_the_kept_page_and_a_new_public_note_shows_at_once(
    known: KnownDesk, server: WebServer, client: TestClient
) -> None:
    ticket_id, path = _case(known)
    first, kept = _load(server, client, path)
    assert FIRST in first and not kept
    again, kept = _load(server, client, path)
    assert again == first and kept

    known.as_(AGENT).write(add_note, ref=ticket_id, text=LATER, public=True)
    after, kept = _load(server, client, path)
    assert LATER in after and not kept

    # An internal note changes the version too: the page is made again, still without it.
    known.as_(AGENT).write(add_note, ref=ticket_id, text=SECRET)
    after_internal, kept = _load(server, client, path)
    assert SECRET not in after_internal and not kept


def test_a_status_change_shows_at_once(
    known: KnownDesk, server: WebServer, client: TestClient
) -> None:
    ticket_id, path = _case(known)
    _load(server, client, path)
    known.as_(AGENT).write(resolve, ref=ticket_id, code="fixed", text="Fixed the battery.")
    page, _said = _load(server, client, path)
    assert "Fixed the battery." in page and 'name="verdict"' in page


def test_a_kept_page_is_never_served_to_a_revoked_or_expired_link(
    known: KnownDesk, server: WebServer, client: TestClient
) -> None:
    ticket_id, path = _case(known)
    _load(server, client, path)
    _load(server, client, path)
    known.as_(AGENT).write(revoke_links, ref=ticket_id)
    dead = client.get(path)
    assert dead.status_code == 404 and FIRST not in dead.text

    _other_id, other = _case(known)
    _load(server, client, other)
    later = clock.now() + timedelta(days=LINK_DAYS, hours=1)
    with clock.use_clock(lambda: later):
        expired = client.get(other)
    assert expired.status_code == 404 and FIRST not in expired.text


def test_each_link_gets_its_own_page_never_another_customers(
    known: KnownDesk, server: WebServer, client: TestClient
) -> None:
    _one, mine = _case(known)
    _two, theirs = _case(known)
    page, _said = _load(server, client, mine)
    other, _said = _load(server, client, theirs)
    assert mine.rsplit("/", 1)[1] in page and theirs.rsplit("/", 1)[1] not in page
    assert theirs.rsplit("/", 1)[1] in other and mine.rsplit("/", 1)[1] not in other


def test_a_page_with_a_done_message_or_an_error_is_not_kept(
    known: KnownDesk, server: WebServer, client: TestClient
) -> None:
    _ticket_id, path = _case(known)
    assert client.get(f"{path}?done=reply").status_code == 200
    assert not server.pages.has(path.rsplit("/", 1)[1])
    assert client.get(path + "x").status_code == 404
    assert not server.pages.has(path.rsplit("/", 1)[1] + "x")


def _stamp(version: int = 1) -> CaseStamp:
    return CaseStamp(
        ticket_id=1, contact_id=2, generation=1, version=version, status="new", language="en"
    )


def test_kept_pages_follow_the_stamp_age_out_and_are_bounded() -> None:
    pages = CasePages(pages=2, seconds=60)
    pages.put("a", _stamp(1), b"A", now=0)
    assert pages.get("a", _stamp(1), now=1) == b"A"
    assert pages.get("a", _stamp(2), now=1) is None  # the case changed
    assert not pages.has("a")
    pages.put("a", _stamp(1), b"A", now=0)
    assert pages.get("a", _stamp(1), now=60) is None  # too old
    pages.put("a", _stamp(), b"A", now=0)
    pages.put("b", _stamp(), b"B", now=0)
    pages.get("a", _stamp(), now=1)
    pages.put("c", _stamp(), b"C", now=1)
    assert pages.has("a") and pages.has("c") and not pages.has("b")  # least recently used


# --------------------------------------------------------------------------- processes


@pytest.mark.parametrize("command", [["serve", "web"], ["bench", "web"]])
def test_workers_must_be_a_positive_number(command: list[str]) -> None:
    for wrong in ("0", "two", "-1"):
        result = CliRunner().invoke(cli_app, [*command, "--workers", wrong])
        assert result.exit_code == 2, result.output
        assert "--workers" in result.output


def test_serve_web_with_two_processes_answers_and_stops_on_ctrl_c(known: KnownDesk) -> None:
    import signal

    _ticket_id, path = _case(known)
    url = known.db.url.render_as_string(hide_password=False)
    server = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [
            sys.executable,
            "-m",
            "deskterm",
            "--db",
            url,
            "serve",
            "web",
            "--port",
            "0",
            "--workers",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        line = server.stderr.readline()
        found = re.search(r"listening on http://([^:/\s]+):(\d+)/case/.*\(2 processes\)", line)
        assert found, line
        base = f"http://127.0.0.1:{found[2]}"
        for _n in range(4):
            with urllib.request.urlopen(base + path, timeout=30) as answer:  # noqa: S310
                assert answer.status == 200 and FIRST in answer.read().decode()
        # httptools keeps h11's limit on a request's head: a 1 MiB header is refused.
        with socket.create_connection(("127.0.0.1", int(found[2])), timeout=30) as raw:
            with contextlib.suppress(OSError):
                raw.sendall(
                    b"GET /help HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 2**20 + b"\r\n\r\n"
                )
            assert raw.recv(40).startswith(b"HTTP/1.1 400 ")
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(30)
    assert server.returncode == 0
