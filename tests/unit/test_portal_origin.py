"""A browser posts our own forms with ``Origin: null`` (our Referrer-Policy is
``no-referrer``, and the Fetch standard then hides the origin): the case page must take
such a post when the browser's own ``Sec-Fetch-Site`` says it came from our site, and only
then. tests/browser checks the same in Chromium; this checks every other combination."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient

from deskterm.desk.portal import link_for
from deskterm.serve.web import WebServer
from factories import AGENT, KnownDesk


@pytest.fixture
def client(known: KnownDesk) -> Iterator[TestClient]:
    server = WebServer(known.db, base_url="https://help.example")
    with TestClient(server.app, base_url="https://testserver", follow_redirects=False) as c:
        yield c


@pytest.mark.parametrize(
    ("fetch_site", "expected"),
    [("same-origin", 303), ("cross-site", 403), ("same-site", 403), ("none", 403), (None, 403)],
)
def test_a_post_with_a_null_origin_is_ours_only_when_the_browser_says_same_origin(
    known: KnownDesk, client: TestClient, fetch_site: str | None, expected: int
) -> None:
    ticket = known.ticket(AGENT)
    made = known.as_(AGENT).write(link_for, ref=ticket.id, base_url="https://help.example")
    path = urlsplit(made.url).path
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', client.get(path).text)
    assert found
    headers = {"Origin": "null"}
    if fetch_site is not None:
        headers["Sec-Fetch-Site"] = fetch_site
    before = known.snapshot(ticket.id)

    answer = client.post(
        f"{path}/reply", data={"text": "hello", "csrf_token": found[1]}, headers=headers
    )

    assert answer.status_code == expected
    if expected == 403:
        assert known.snapshot(ticket.id) == before
    else:
        assert known.events(ticket.id)[-1].data.get("text") == "hello"
