"""Files with the customer's reply on the case page, on both databases: they land on the
ticket where a mail's attachments do (``ticket show``, ``mail attachments``, ``mail save``),
the page lists the customer's own, and whatever is past the limits is refused in words with
the message typed put back; and every refusal of ``serve web`` is one log line."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from clirun import run_deskterm
from deskterm.db.models import MailAttachment
from deskterm.desk import clock, tickets
from deskterm.desk.portal import (
    FILE_MAX_BYTES,
    FILES_MAX,
    FILES_MAX_BYTES,
    LINK_DAYS,
    link_for,
    revoke_links,
    safe_filename,
)
from deskterm.desk.sms_inbound import add_sms_token
from deskterm.desk.tickets import change_status
from deskterm.domain import payloads as p
from deskterm.domain.enums import Channel
from deskterm.domain.events import describe
from deskterm.domain.permissions import SYSTEM
from deskterm.domain.refs import format_ref
from deskterm.serve.web import CONTACT_LIMIT, MAX_BODY, WebServer
from factories import AGENT, CONTACT_EMAIL, SUPERVISOR, KnownDesk

TYPED = "Here are the screenshots of the error, see attached."
LOGGER = "deskterm.serve.web"


@pytest.fixture
def client(known: KnownDesk) -> Iterator[TestClient]:
    server = WebServer(known.db, base_url="https://help.example")
    with TestClient(server.app, base_url="https://testserver", follow_redirects=False) as c:
        yield c


def _path(known: KnownDesk, ticket_id: int) -> str:
    made = known.as_(AGENT).write(link_for, ref=ticket_id, base_url="https://help.example")
    return urlsplit(made.url).path


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page)
    assert found, page
    return found[1]


def _case(known: KnownDesk, client: TestClient) -> tuple[int, str, str]:
    ticket_id = known.ticket(AGENT).id
    path = _path(known, ticket_id)
    return ticket_id, path, _csrf(client.get(path).text)


def _stored(known: KnownDesk, ticket_id: int) -> int:
    with known.db.read() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(MailAttachment)
                .where(MailAttachment.ticket_id == ticket_id)  # type: ignore[arg-type]
            )
            or 0
        )


def _textarea(page: str) -> str:
    found = re.search(r'<textarea id="reply-text" name="text"[^>]*>([^<]*)</textarea>', page)
    assert found, page
    return found[1]


def test_the_reply_form_posts_text_and_files_as_multipart(
    known: KnownDesk, client: TestClient
) -> None:
    _ticket_id, path, _token = _case(known, client)
    page = client.get(path).text
    form = re.search(f'<form [^>]*action="{re.escape(path)}/reply"[^>]*>', page)
    assert form and 'enctype="multipart/form-data"' in form[0]
    assert '<input id="reply-files" type="file" name="files" multiple>' in page
    assert 'name="text"' in page and 'name="csrf_token"' in page
    assert f"up to {FILES_MAX} files" in page


def test_files_with_a_reply_land_on_the_ticket_as_a_mails_do(
    known: KnownDesk,
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    ticket_id, path, token = _case(known, client)
    known.as_(AGENT).write(
        change_status, ref=ticket_id, status="waiting_customer", reason="Screenshot please?"
    )
    shot = bytes(range(256)) * 1000  # 256 kB, past Starlette's in-memory spool
    answer = client.post(
        f"{path}/reply",
        data={"text": TYPED, "csrf_token": token},
        files=[
            ("files", ("error.png", shot, "image/png")),
            ("files", ("event log.txt", b"Disk 0: bad block\n", "text/plain")),
        ],
    )

    assert answer.status_code == 303, answer.text
    assert known.row(ticket_id).status == "in_progress"
    message = [e for e in known.events(ticket_id) if e.kind == "customer_message"][-1]
    assert message.visibility == "public"
    assert message.data["text"] == TYPED
    named = [(f["name"], f["size"], f["type"]) for f in message.data["attachments"]]
    assert named == [("error.png", len(shot), "image/png"), ("event log.txt", 18, "text/plain")]

    url = known.db.url.render_as_string(hide_password=False)
    ref = format_ref(ticket_id)
    code, out, err = run_deskterm(
        monkeypatch, capsys, "--db", url, "--as", AGENT, "ticket", "show", ref
    )
    assert code == 0, err
    assert TYPED in out and "error.png" in out and "event log.txt" in out
    code, out, err = run_deskterm(
        monkeypatch, capsys, "--db", url, "--as", AGENT, "mail", "attachments", ref, "--json"
    )
    assert code == 0, err
    assert "error.png" in out and "event log.txt" in out
    first = message.data["attachments"][0]["id"]
    code, out, err = run_deskterm(
        monkeypatch,
        capsys,
        "--db",
        url,
        "--as",
        AGENT,
        "mail",
        "save",
        str(first),
        "--to",
        str(tmp_path),
    )
    assert code == 0, err
    assert (tmp_path / "error.png").read_bytes() == shot

    page = client.get(path).text
    assert "Files you sent us" in page
    assert "error.png" in page and "event log.txt" in page and "250.0 KB" in page


def test_a_reply_of_files_alone_is_taken(known: KnownDesk, client: TestClient) -> None:
    ticket_id, path, token = _case(known, client)

    answer = client.post(
        f"{path}/reply",
        data={"text": "", "csrf_token": token},
        files=[("files", ("photo.jpg", b"\xff\xd8\xff" + b"x" * 100, "image/jpeg"))],
    )

    assert answer.status_code == 303, answer.text
    message = known.events(ticket_id)[-1]
    assert message.kind == "customer_message" and message.data.get("text") is None
    assert [f["name"] for f in message.data["attachments"]] == ["photo.jpg"]
    # The line the ticket screen and `ticket show` give a message without words.
    assert describe("customer_message", message.data) == (
        "the customer wrote by portal [attached: photo.jpg]"
    )
    assert "Attached: photo.jpg" in client.get(path).text


def test_a_file_input_left_empty_is_no_file(known: KnownDesk, client: TestClient) -> None:
    ticket_id, path, token = _case(known, client)

    answer = client.post(
        f"{path}/reply",
        data={"text": TYPED, "csrf_token": token},
        files=[("files", ("", b"", "application/octet-stream"))],
    )

    assert answer.status_code == 303, answer.text
    assert (
        "attachments" not in known.events(ticket_id)[-1].data
        or not (known.events(ticket_id)[-1].data["attachments"])
    )
    assert _stored(known, ticket_id) == 0


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("..", "file-1"),
        (".bashrc", "bashrc"),
        ("in\x1b]0;pwned\x07voice\x00.pdf", "invoice.pdf"),
        ("\u202efdp.exe", "fdp.exe"),
        ("a\nb\tc.txt", "a b c.txt"),
        ("x" * 300 + ".tar.gz", "x" * 190 + ".gz"),
        ("", "file-1"),
    ],
)
def test_file_names_are_names_never_paths_or_terminal_sequences(given: str, kept: str) -> None:
    assert safe_filename(given, 1) == kept


def test_names_and_types_from_the_browser_are_cleaned_before_they_are_kept(
    known: KnownDesk, client: TestClient
) -> None:
    ticket_id, path, token = _case(known, client)

    answer = client.post(
        f"{path}/reply",
        data={"csrf_token": token},
        files=[
            ("files", ("../../../etc/cron.d/evil", b"* * * * * root sh", "text/html")),
            ("files", ("\u202egnp.exe", b"MZ", "../../weird type<script>")),
        ],
    )

    assert answer.status_code == 303, answer.text
    files = known.events(ticket_id)[-1].data["attachments"]
    assert [(f["name"], f["type"]) for f in files] == [
        ("evil", "text/html"),
        ("gnp.exe", "application/octet-stream"),
    ]
    page = client.get(path).text
    assert "<script" not in page and "\u202e" not in page


def _refused_in_words(
    known: KnownDesk,
    client: TestClient,
    files: list[tuple[str, tuple[str, bytes, str]]],
    status: int,
    said: str,
) -> None:
    ticket_id, path, token = _case(known, client)
    before = known.snapshot(ticket_id)

    answer = client.post(f"{path}/reply", data={"text": TYPED, "csrf_token": token}, files=files)

    assert answer.status_code == status
    assert said in answer.text
    assert _textarea(answer.text) == TYPED  # nothing typed is lost
    assert 'class="error" role="alert"' in answer.text
    assert known.snapshot(ticket_id) == before
    assert _stored(known, ticket_id) == 0


def test_an_empty_file_is_refused_in_words(known: KnownDesk, client: TestClient) -> None:
    files = [("files", ("notes.txt", b"", "text/plain")), ("files", ("a.txt", b"a", "text/plain"))]
    _refused_in_words(known, client, files, 400, "The file notes.txt is empty.")


def test_too_many_files_are_refused_in_words(known: KnownDesk, client: TestClient) -> None:
    files = [("files", (f"f{n}.txt", b"x", "text/plain")) for n in range(FILES_MAX + 1)]
    _refused_in_words(known, client, files, 400, f"at most {FILES_MAX} files")


def test_a_file_past_its_limit_is_refused_in_words(known: KnownDesk, client: TestClient) -> None:
    big = b"\0" * (FILE_MAX_BYTES + 1)
    files = [("files", ("dump.bin", big, "application/octet-stream"))]
    _refused_in_words(known, client, files, 400, "The file dump.bin is too large.")


def test_files_past_the_limit_in_all_are_refused_in_words(
    known: KnownDesk, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    part = b"\0" * (FILES_MAX_BYTES // 3 + 1024 * 1024)
    files = [("files", (f"part{n}.bin", part, "application/octet-stream")) for n in range(3)]
    with caplog.at_level(logging.INFO, logger=LOGGER):
        _refused_in_words(known, client, files, 413, "Your files are too large.")
    assert "413 refused: reply: upload past" in _said(caplog)


def test_a_multipart_reply_keeps_the_small_limit_without_files(
    known: KnownDesk, client: TestClient
) -> None:
    """Only the reply route, and only as multipart, takes a large body: a form of text
    anywhere else keeps its small limit."""
    ticket_id, path, token = _case(known, client)
    huge = {"text": "x" * (MAX_BODY + 1), "csrf_token": token}
    assert client.post(f"{path}/reply", data=huge).status_code == 413
    assert client.post(f"{path}/verdict", data={**huge, "verdict": "broken"}).status_code == 413
    assert client.post("/contact", data=huge).status_code == 413
    assert _stored(known, ticket_id) == 0


def test_a_multipart_reply_needs_its_csrf_token_and_our_origin(
    known: KnownDesk, client: TestClient
) -> None:
    ticket_id, path, token = _case(known, client)
    before = known.snapshot(ticket_id)
    files = [("files", ("a.txt", b"a", "text/plain"))]

    forged = client.post(f"{path}/reply", data={"text": "x", "csrf_token": "0" * 64}, files=files)
    cross = client.post(
        f"{path}/reply",
        data={"text": "x", "csrf_token": token},
        files=files,
        headers={"Origin": "https://evil.example"},
    )
    dead = client.post("/case/nonsense/reply", data={"text": "x", "csrf_token": token}, files=files)

    assert (forged.status_code, cross.status_code, dead.status_code) == (403, 403, 404)
    assert known.snapshot(ticket_id) == before and _stored(known, ticket_id) == 0


def test_the_page_lists_only_the_customers_own_files(known: KnownDesk, client: TestClient) -> None:
    ticket_id, path, token = _case(known, client)
    client.post(
        f"{path}/reply",
        data={"csrf_token": token},
        files=[("files", ("mine.txt", b"mine", "text/plain"))],
    )
    # A file the desk keeps to itself (a customer message the customer does not see).
    with known.db.write() as session:
        ticket = tickets.load(session, ticket_id)
        change = tickets.Change(session, SYSTEM, ticket)
        change.log(
            p.CustomerMessage(
                channel=Channel.EMAIL,
                text="kept aside",
                attachments=[p.MailFile(id=999, name="internal-only.pdf", size=10)],
            ),
            visible=False,
        )
        change.save()

    page = client.get(path).text

    files = page[page.index('id="your-files"') :]
    assert "mine.txt" in files and "internal-only.pdf" not in page


# --------------------------------------------------------------------------- every refusal logged


def _said(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name == LOGGER)


def _refusals(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [
        r.web  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == LOGGER and getattr(r, "web", {}).get("outcome") == "refused"
    ]


def test_every_refusal_is_one_log_line_with_reason_route_and_client(
    known: KnownDesk, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    ticket_id, path, token = _case(known, client)
    case_token = path.rsplit("/", 1)[1]
    secret_words = "my secret words nobody may log"
    sms = known.as_(SUPERVISOR).write(add_sms_token).secret
    expired = _path(known, ticket_id)
    revoked_ticket = known.ticket(AGENT).id
    revoked = _path(known, revoked_ticket)
    known.as_(AGENT).write(revoke_links, ref=revoked_ticket)
    flipped = case_token[:-3] + ("AAA" if not case_token.endswith("AAA") else "BBB")

    with caplog.at_level(logging.INFO, logger=LOGGER):
        wanted: list[tuple[int, str]] = []

        def expect(answer_status: int, status: int, reason: str) -> None:
            assert answer_status == status, reason
            wanted.append((status, reason))

        expect(client.get(f"/case/{flipped}").status_code, 404, "no case: Bad")
        later = clock.now() + timedelta(days=LINK_DAYS, minutes=1)
        with clock.use_clock(lambda: later):
            expect(client.get(expired).status_code, 404, "no case: SignatureExpired")
        expect(client.get(revoked).status_code, 404, "no case: revoked")
        bad_csrf = {"text": secret_words, "csrf_token": "f" * 64}
        expect(
            client.post(f"{path}/reply", data=bad_csrf).status_code,
            403,
            "csrf_token missing or wrong",
        )
        expect(
            client.post(
                f"{path}/reply",
                data={"text": secret_words, "csrf_token": token},
                headers={"Origin": "https://evil.example"},
            ).status_code,
            403,
            "posted from another origin",
        )
        expect(
            client.post(
                f"{path}/reply", data={"text": secret_words * 10_000, "csrf_token": token}
            ).status_code,
            413,
            "body too large",
        )
        expect(
            client.post(
                f"{path}/reply",
                content=b"--x\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--x--\r\n",
                headers={"Content-Type": "multipart/form-data; boundary=x"},
            ).status_code,
            400,
            "bad upload",
        )
        expect(
            client.post(
                f"{path}/reply",
                data={"text": secret_words, "csrf_token": token},
                files=[("files", ("secret-name.txt", b"", "text/plain"))],
            ).status_code,
            400,
            "reply: file 1 is empty",
        )
        form = client.get("/contact").text
        contact_csrf = re.findall(r'name="csrf_token" value="([^"]+)"', form)[0]
        trap = {"email": CONTACT_EMAIL, "subject": "s", "text": secret_words, "website": "x"}
        expect(
            client.post("/contact", data={**trap, "csrf_token": contact_csrf}).status_code,
            303,
            "contact: honeypot",
        )
        fields = {"email": "nobody@example.org", "subject": "s", "text": secret_words}
        for _n in range(CONTACT_LIMIT):
            client.post("/contact", data={**fields, "csrf_token": contact_csrf})
        expect(
            client.post("/contact", data={**fields, "csrf_token": contact_csrf}).status_code,
            429,
            "contact: too many from this client",
        )
        expect(
            client.post(
                f"/sms/{sms}x", data={"from": "+442079460958", "text": secret_words}
            ).status_code,
            404,
            "sms: unknown token",
        )
        expect(client.get("/nowhere").status_code, 404, "no such page")

    refusals = _refusals(caplog)
    for status, reason in wanted:
        found = [r for r in refusals if r["status"] == status and reason in str(r["reason"])]
        assert len(found) == 1, (status, reason, refusals)
        (line,) = found
        assert line["client"] == "testclient"
        assert str(line["route"]).startswith("/")
    records = [r for r in caplog.records if r.name == LOGGER]
    assert all(r.levelno == logging.WARNING for r in records if r.web["outcome"] == "refused")  # type: ignore[attr-defined]
    said = _said(caplog)
    assert "refused: no case: revoked" in said and "GET /case/… 404" in said
    for secret in (case_token, sms, secret_words, "secret-name", "nobody@example.org"):
        assert secret not in said
        assert all(secret not in str(v) for r in refusals for v in r.values())


def test_a_good_request_is_logged_as_ok_not_refused(
    known: KnownDesk, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    _ticket_id, path, _token = _case(known, client)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert client.get(path).status_code == 200
    (record,) = [r for r in caplog.records if r.name == LOGGER]
    assert record.levelno == logging.INFO
    assert record.web == {  # type: ignore[attr-defined]
        "outcome": "ok",
        "client": "testclient",
        "method": "GET",
        "route": "/case/…",
        "status": 200,
        "reason": "shown",
        "ms": record.web["ms"],  # type: ignore[attr-defined]
    }
