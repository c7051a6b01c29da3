"""The customer's case page (``deskterm serve web``), on both databases: a link opens
exactly the customer's view; a reply lands in the log and puts a waiting ticket back to
work; a verdict and a survey land where the desk reads them; a dead or forged link, a form
without its csrf token, a post from another site or a huge body change nothing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import typer
from sqlalchemy import select
from starlette.testclient import TestClient
from test_hostile_input import _UNSAFE, PIECES
from typer.testing import CliRunner

from clirun import run_deskterm
from deskterm.cli.common import State
from deskterm.cli.portal import portal_app
from deskterm.db.models import Survey, Ticket
from deskterm.desk import clock
from deskterm.desk.dashboard import satisfaction_panel
from deskterm.desk.portal import LINK_DAYS, SURVEY_DAYS, link_for, revoke_links
from deskterm.desk.tickets import add_note, change_status, resolve
from deskterm.domain.refs import format_ref
from deskterm.serve.web import MAX_BODY, SECURITY_HEADERS, WebServer
from factories import AGENT, SUPERVISOR, KnownDesk

PUBLIC = "We ordered a new battery for you."
INTERNAL = "Her admin password is hunter2 (do not tell)"
HOSTILE = (
    '<script>alert(1)</script>"><img src=x onerror=alert(2)>[bold]x[/] '
    "{{ 'zz' ~ 'qq' }} "
    "\x1b]0;pwned\x07 \u202eevil"
)


@pytest.fixture
def client(known: KnownDesk) -> Iterator[TestClient]:
    server = WebServer(known.db, base_url="https://help.example")
    with TestClient(server.app, base_url="https://testserver", follow_redirects=False) as c:
        yield c


def _ticket(known: KnownDesk, **fields: object) -> int:
    ticket = known.ticket(AGENT, **fields)
    alice = known.as_(AGENT)
    alice.write(add_note, ref=ticket.id, text=INTERNAL)
    alice.write(add_note, ref=ticket.id, text=PUBLIC, public=True)
    return ticket.id


def _path(known: KnownDesk, ticket_id: int) -> str:
    made = known.as_(AGENT).write(link_for, ref=ticket_id, base_url="https://help.example")
    assert made.url.startswith("https://help.example/case/")
    return urlsplit(made.url).path


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page)
    assert found, page
    return found[1]


def _status(known: KnownDesk, ticket_id: int) -> str:
    return known.row(ticket_id).status


def test_a_link_opens_the_case_with_its_public_notes_and_never_the_internal_ones(
    known: KnownDesk, client: TestClient
) -> None:
    ticket_id = _ticket(known)

    page = client.get(_path(known, ticket_id))

    assert page.status_code == 200
    assert PUBLIC in page.text
    assert INTERNAL not in page.text and "hunter2" not in page.text
    assert format_ref(ticket_id) in page.text
    assert "Laptop will not boot" in page.text
    assert 'name="text"' in page.text and 'name="csrf_token"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "<script" not in page.text.lower()


def test_every_answer_carries_the_security_headers(known: KnownDesk, client: TestClient) -> None:
    ticket_id = _ticket(known)
    for answer in (
        client.get(_path(known, ticket_id)),
        client.get("/case/nonsense"),
        client.get("/nowhere"),
        client.get("/static/portal.css"),
    ):
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers[name] == value
        assert "set-cookie" not in answer.headers
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "form-action 'self'" in csp and "script-src" not in csp
    assert SECURITY_HEADERS["Referrer-Policy"] == "no-referrer"


def test_a_reply_lands_in_the_log_and_puts_a_waiting_ticket_back_to_work(
    known: KnownDesk,
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ticket_id = _ticket(known)
    known.as_(AGENT).write(
        change_status, ref=ticket_id, status="waiting_customer", reason="Which model is it?"
    )
    assert known.row(ticket_id).sla_paused_at is not None
    path = _path(known, ticket_id)
    token = _csrf(client.get(path).text)

    answer = client.post(f"{path}/reply", data={"text": "It is a T14, gen 2.", "csrf_token": token})

    assert answer.status_code == 303
    assert answer.headers["location"] == f"{path}?done=reply"
    after = known.row(ticket_id)
    assert after.status == "in_progress"
    assert after.sla_paused_at is None
    message, moved = known.events(ticket_id)[-2:]
    assert (message.kind, message.visibility, message.actor_id) == (
        "customer_message",
        "public",
        None,
    )
    assert message.data["text"] == "It is a T14, gen 2."
    assert (moved.kind, moved.data["to"]) == ("status_changed", "in_progress")
    assert message.data["channel"] == "portal"
    shown = client.get(f"{path}?done=reply")
    assert "It is a T14, gen 2." in shown.text and "your message was added" in shown.text
    url = known.db.url.render_as_string(hide_password=False)
    code, out, _err = run_deskterm(
        monkeypatch, capsys, "--db", url, "--as", AGENT, "ticket", "show", format_ref(ticket_id)
    )
    assert code == 0, _err
    assert "It is a T14, gen 2." in out


def test_a_reply_without_text_is_refused_in_words_and_keeps_nothing(
    known: KnownDesk, client: TestClient
) -> None:
    ticket_id = _ticket(known)
    path = _path(known, ticket_id)
    token = _csrf(client.get(path).text)
    before = known.snapshot(ticket_id)

    answer = client.post(f"{path}/reply", data={"text": "  \n ", "csrf_token": token})

    assert answer.status_code == 400
    assert "Please write your message first." in answer.text
    assert known.snapshot(ticket_id) == before


@pytest.mark.parametrize("csrf", [None, "", "0" * 64, "not-even-hex"])
def test_a_form_without_its_own_csrf_token_is_refused_and_writes_nothing(
    known: KnownDesk, client: TestClient, csrf: str | None
) -> None:
    ticket_id = _ticket(known)
    path = _path(known, ticket_id)
    before = known.snapshot(ticket_id)
    fields = {"text": "hello"} if csrf is None else {"text": "hello", "csrf_token": csrf}

    reply = client.post(f"{path}/reply", data=fields)

    assert reply.status_code == 403
    assert known.snapshot(ticket_id) == before


def test_another_cases_csrf_token_does_not_open_this_one(
    known: KnownDesk, client: TestClient
) -> None:
    mine, other = _ticket(known), _ticket(known)
    path = _path(known, mine)
    theirs = _csrf(client.get(_path(known, other)).text)
    before = known.snapshot(mine)

    reply = client.post(f"{path}/reply", data={"text": "hello", "csrf_token": theirs})

    assert reply.status_code == 403
    assert known.snapshot(mine) == before


def test_a_post_from_another_site_is_refused(known: KnownDesk, client: TestClient) -> None:
    ticket_id = _ticket(known)
    path = _path(known, ticket_id)
    token = _csrf(client.get(path).text)
    before = known.snapshot(ticket_id)

    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        answer = client.post(
            f"{path}/reply", data={"text": "hello", "csrf_token": token}, headers=headers
        )
        assert answer.status_code == 403
    assert known.snapshot(ticket_id) == before
    ours = client.post(
        f"{path}/reply",
        data={"text": "hello", "csrf_token": token},
        headers={"Origin": "https://help.example"},
    )
    assert ours.status_code == 303


def _dead(client: TestClient, path: str) -> None:
    nowhere = client.get("/case/no-such-token")
    answer = client.get(path)
    assert answer.status_code == 404
    assert answer.text == nowhere.text
    assert client.post(f"{path}/reply", data={"text": "x", "csrf_token": "0" * 64}).status_code == (
        404
    )
    assert client.get(path.replace("/case/", "/survey/")).status_code == 404


def test_a_tampered_token_is_404_with_nothing_revealed(
    known: KnownDesk, client: TestClient
) -> None:
    ticket_id = _ticket(known)
    path = _path(known, ticket_id)
    token = path.rsplit("/", 1)[1]
    middle = len(token) - 10  # inside the signature, where every bit counts
    flipped = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    _dead(client, f"/case/{flipped}")
    payload, _sep, signature = token.rpartition(".")
    _dead(client, f"/case/{payload[:-2]}.{signature}")
    _dead(client, "/case/" + "a" * 2000)
    page = client.get(f"/case/{flipped}")
    assert "Laptop" not in page.text and format_ref(ticket_id) not in page.text


def test_an_expired_link_is_404(known: KnownDesk, client: TestClient) -> None:
    ticket_id = _ticket(known)
    path = _path(known, ticket_id)
    assert client.get(path).status_code == 200
    later = clock.now() + timedelta(days=LINK_DAYS, minutes=1)
    with clock.use_clock(lambda: later):
        _dead(client, path)


def test_revoking_kills_every_earlier_link_and_the_next_one_works(
    known: KnownDesk, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    ticket_id = _ticket(known)
    first, second = _path(known, ticket_id), _path(known, ticket_id)
    assert client.get(first).status_code == 200

    done = known.as_(AGENT).write(revoke_links, ref=ticket_id)

    assert done.generation == 2
    with caplog.at_level(logging.INFO, logger="deskterm.serve.web"):
        _dead(client, first)
        _dead(client, second)
    said = "\n".join(r.getMessage() for r in caplog.records)
    assert "revoked" in said
    assert first.rsplit("/", 1)[1] not in said  # the token never reaches the log
    assert client.get(_path(known, ticket_id)).status_code == 200
    note = known.events(ticket_id)[-1]
    assert note.kind == "note" and note.visibility == "internal"


def test_a_link_dies_when_the_ticket_changes_hands_to_another_contact(
    known: KnownDesk, client: TestClient
) -> None:
    ticket_id = _ticket(known)
    path = _path(known, ticket_id)
    with known.db.write() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        ticket.contact_id = None
    _dead(client, path)


def test_hostile_text_renders_as_text(known: KnownDesk, client: TestClient) -> None:
    ticket = known.ticket(AGENT, subject=HOSTILE[:150])
    known.as_(AGENT).write(add_note, ref=ticket.id, text=HOSTILE + "".join(PIECES), public=True)
    path = _path(known, ticket.id)
    sendable = "".join(piece for piece in PIECES if not re.search("[\ud800-\udfff]", piece))
    posted = client.post(
        f"{path}/reply",
        data={"text": HOSTILE + sendable, "csrf_token": _csrf(client.get(path).text)},
    )
    assert posted.status_code == 303

    page = client.get(path).text

    assert "<script>" not in page and "<img" not in page and "[bold]x[/]" in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4  # subject, note, reply
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "{{ 'zz' ~ 'qq' }}" not in page  # quotes are escaped too ...
    assert "{{ &#39;zz&#39; ~ &#39;qq&#39; }}" in page and "zzqq" not in page  # ... never run
    assert _UNSAFE.search(page.replace("\r", "")) is None


def test_a_body_over_the_limit_is_413_and_writes_nothing(
    known: KnownDesk, client: TestClient
) -> None:
    ticket_id = _ticket(known)
    path = _path(known, ticket_id)
    token = _csrf(client.get(path).text)
    before = known.snapshot(ticket_id)

    answer = client.post(f"{path}/reply", data={"text": "x" * (MAX_BODY + 1), "csrf_token": token})

    assert answer.status_code == 413
    assert known.snapshot(ticket_id) == before


def test_a_reply_past_the_text_limit_is_refused_in_words(
    known: KnownDesk, client: TestClient
) -> None:
    ticket_id = _ticket(known)
    path = _path(known, ticket_id)
    token = _csrf(client.get(path).text)
    before = known.snapshot(ticket_id)

    answer = client.post(f"{path}/reply", data={"text": "y" * 10_001, "csrf_token": token})

    assert answer.status_code == 400
    assert "too long" in answer.text
    assert known.snapshot(ticket_id) == before


def _resolved(known: KnownDesk) -> int:
    ticket_id = _ticket(known)
    known.as_(AGENT).write(resolve, ref=ticket_id, code="fixed", text="Reseated the battery.")
    return ticket_id


def test_still_broken_reopens_a_resolved_case_with_their_words(
    known: KnownDesk, client: TestClient
) -> None:
    ticket_id = _resolved(known)
    path = _path(known, ticket_id)
    page = client.get(path).text
    assert "Is your problem solved?" in page

    answer = client.post(
        f"{path}/verdict",
        data={"verdict": "broken", "text": "It died again", "csrf_token": _csrf(page)},
    )

    assert answer.status_code == 303
    assert _status(known, ticket_id) in ("in_progress", "new")
    events = known.events(ticket_id)
    assert [e.kind for e in events[-2:]] == ["customer_message", "reopened"]
    assert events[-2].data["text"] == "It died again"
    assert "It died again" in events[-1].data["reason"]


def test_solved_is_said_in_the_log_and_leaves_the_case_resolved(
    known: KnownDesk, client: TestClient
) -> None:
    ticket_id = _resolved(known)
    path = _path(known, ticket_id)

    answer = client.post(
        f"{path}/verdict", data={"verdict": "solved", "csrf_token": _csrf(client.get(path).text)}
    )

    assert answer.status_code == 303
    assert _status(known, ticket_id) == "resolved"
    assert known.events(ticket_id)[-1].data["text"] == "This is solved, thank you."


def test_a_verdict_on_an_open_case_is_refused(known: KnownDesk, client: TestClient) -> None:
    ticket_id = _ticket(known)
    path = _path(known, ticket_id)
    page = client.get(path).text
    assert "Is your problem solved?" not in page
    before = known.snapshot(ticket_id)

    answer = client.post(f"{path}/verdict", data={"verdict": "broken", "csrf_token": _csrf(page)})

    assert answer.status_code == 400
    assert known.snapshot(ticket_id) == before


def _survey_row(known: KnownDesk, ticket_id: int) -> tuple[int | None, int | None, str] | None:
    with known.db.read() as session:
        row = session.scalars(select(Survey).where(Survey.ticket_id == ticket_id)).first()
        return (row.csat, row.nps, row.via) if row else None


def test_a_survey_answer_lands_where_the_dashboard_reads_it_and_can_be_changed(
    known: KnownDesk, client: TestClient
) -> None:
    ticket_id = _resolved(known)
    survey = _path(known, ticket_id).replace("/case/", "/survey/")
    page = client.get(f"{survey}?csat=5")
    assert page.status_code == 200
    assert 'value="5" required checked' in page.text
    token = _csrf(page.text)

    first = client.post(
        survey, data={"csat": "2", "nps": "6", "comment": "Slow <b>", "csrf_token": token}
    )

    assert first.status_code == 303
    assert _survey_row(known, ticket_id) == (2, 6, "web")
    board = known.as_(SUPERVISOR).read(satisfaction_panel).satisfaction
    assert (board.surveys, board.csat_mean) == (1, 2.0)
    again = client.post(survey, data={"csat": "4", "comment": "Better", "csrf_token": token})
    assert again.status_code == 303
    assert _survey_row(known, ticket_id) == (4, None, "web")
    assert known.as_(SUPERVISOR).read(satisfaction_panel).satisfaction.csat_mean == 4.0
    shown = client.get(f"{survey}?done=survey").text
    assert "Thank you for your answer." in shown and "Better" in shown
    kinds = [e.kind for e in known.events(ticket_id)]
    assert kinds.count("survey_recorded") == 2


def test_a_survey_answer_is_refused_after_seven_days(known: KnownDesk, client: TestClient) -> None:
    ticket_id = _resolved(known)
    survey = _path(known, ticket_id).replace("/case/", "/survey/")
    token = _csrf(client.get(survey).text)
    assert client.post(survey, data={"csat": "3", "csrf_token": token}).status_code == 303

    later = clock.now() + timedelta(days=SURVEY_DAYS, minutes=1)
    with clock.use_clock(lambda: later):
        page = client.get(survey)
        assert page.status_code == 200 and "can no longer be changed" in page.text
        late = client.post(survey, data={"csat": "5", "csrf_token": token})

    assert late.status_code == 400
    assert _survey_row(known, ticket_id) == (3, None, "web")


@pytest.mark.parametrize("fields", [{"csat": "9"}, {"csat": ""}, {"csat": "3", "nps": "11"}])
def test_a_survey_out_of_range_is_refused(
    known: KnownDesk, client: TestClient, fields: dict[str, str]
) -> None:
    ticket_id = _resolved(known)
    survey = _path(known, ticket_id).replace("/case/", "/survey/")
    token = _csrf(client.get(survey).text)

    answer = client.post(survey, data={**fields, "csrf_token": token})

    assert answer.status_code == 400
    assert _survey_row(known, ticket_id) is None


def test_the_survey_waits_for_the_case_to_be_solved(known: KnownDesk, client: TestClient) -> None:
    ticket_id = _ticket(known)
    survey = _path(known, ticket_id).replace("/case/", "/survey/")
    assert "opens when your case is solved" in client.get(survey).text


def test_the_page_speaks_the_contacts_language(known: KnownDesk, client: TestClient) -> None:
    from deskterm.db.models import Contact

    ticket_id = _ticket(known)
    with known.db.write() as session:
        contact = session.get(Contact, known.contact_id)
        assert contact is not None
        contact.language = "de"
    page = client.get(_path(known, ticket_id)).text
    assert '<html lang="de">' in page


def _cli(known: KnownDesk, *args: str) -> tuple[int, str]:
    root = typer.Typer()

    @root.callback()
    def _root(ctx: typer.Context, login: str = typer.Option(AGENT, "--as")) -> None:
        url = known.db.url.render_as_string(hide_password=False)
        ctx.obj = State(db_url=url, login=login)
        ctx.call_on_close(ctx.obj.close)

    root.add_typer(portal_app, name="portal")
    result = CliRunner().invoke(root, list(args))
    return result.exit_code, result.output


def test_portal_link_prints_the_link_and_revoke_kills_it(
    known: KnownDesk, client: TestClient
) -> None:
    ticket_id = _ticket(known)
    ref = format_ref(ticket_id)

    code, said = _cli(known, "portal", "link", ref, "--base-url", "https://help.example/")

    assert code == 0, said
    url = said.strip().splitlines()[0]
    assert url.startswith("https://help.example/case/")
    path = urlsplit(url).path
    assert client.get(path).status_code == 200
    code, said = _cli(known, "portal", "revoke", ref)
    assert code == 0, said
    assert ref in said
    assert client.get(path).status_code == 404
    code, said = _cli(known, "portal", "link", "DT-999999", "--base-url", "https://h.example")
    assert code != 0


def test_the_server_answers_over_http_and_logs_no_token(
    known: KnownDesk, caplog: pytest.LogCaptureFixture
) -> None:
    ticket_id = _ticket(known)
    path = _path(known, ticket_id)
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = WebServer(known.db)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    task: asyncio.Task[None] | None = None

    def run() -> None:
        nonlocal task
        asyncio.set_event_loop(loop)
        task = loop.create_task(server.serve(sock=sock, on_ready=lambda _s: ready.set()))
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)

    thread = threading.Thread(target=run, daemon=True)
    with caplog.at_level(logging.INFO, logger="deskterm.serve.web"):
        thread.start()
        try:
            assert ready.wait(30), "the server did not start"
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as page:
                assert page.status == 200
                assert PUBLIC in page.read().decode()
            huge = urllib.request.Request(
                f"http://127.0.0.1:{port}{path}/reply",
                data=b"text=" + b"x" * (MAX_BODY + 10),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                method="POST",
            )
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(huge, timeout=30)
            assert refused.value.code == 413
        finally:
            assert task is not None
            loop.call_soon_threadsafe(task.cancel)
            thread.join(30)
            loop.close()
    said = "\n".join(r.getMessage() for r in caplog.records)
    assert "GET /case/… 200 shown" in said and "413 refused: body too large" in said
    assert path.rsplit("/", 1)[1] not in said


def test_a_dead_token_is_404_whatever_else_is_wrong_with_the_post(
    known: KnownDesk, client: TestClient
) -> None:
    ticket_id = _resolved(known)
    path = _path(known, ticket_id)
    token = _csrf(client.get(path).text)
    dead = "/case/WzEsMSwxXQ.aaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
    for target in (dead, path):
        expected = 404 if target == dead else None
        wrong_type = client.post(
            f"{target}/reply", content=b'{"text": "x"}', headers={"Content-Type": "text/json"}
        )
        cross = client.post(
            f"{target}/reply", data={"text": "x"}, headers={"Origin": "https://evil.example"}
        )
        huge = client.post(f"{target}/reply", data={"text": "x" * (MAX_BODY + 1)})
        assert (wrong_type.status_code, cross.status_code, huge.status_code) == (
            (404, 404, 404) if expected else (415, 403, 413)
        )
    before = known.snapshot(ticket_id)
    odd = client.post(f"{path}/verdict", data={"verdict": "maybe", "csrf_token": token})
    assert odd.status_code == 400
    assert known.snapshot(ticket_id) == before


def test_portal_link_without_a_base_url_gives_the_local_server_and_says_so(
    known: KnownDesk,
) -> None:
    ticket_id = _ticket(known)

    code, said = _cli(known, "portal", "link", format_ref(ticket_id))

    assert code == 0, said
    assert said.startswith("http://127.0.0.1:8080/case/")
    assert "no base URL set" in said
    code, said = _cli(known, "portal", "link", format_ref(ticket_id), "--json")
    assert code == 0 and '"generation": 1' in said
