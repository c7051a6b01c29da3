"""``deskterm serve cti``: a real HTTP client against the server on a free port, on both
databases: the PBX's events make one call-log row each call, whatever order and however
often they come; a wrong token, a malformed event or a huge body writes nothing."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from deskterm.db.models import PhoneCall
from deskterm.desk.cti import add_token, calls_ringing, list_calls, missed_calls, set_extension
from deskterm.serve.cti import CtiServer
from factories import AGENT, CONTACT_NAME, SUPERVISOR, KnownDesk


class Served:
    def __init__(self, known: KnownDesk | None, url: str, token: str) -> None:
        self.known = known
        self.base = url
        self.url = f"{url}/cti/{token}"

    def post(
        self, fields: dict[str, Any], *, as_json: bool = True, url: str | None = None
    ) -> tuple[int, str]:
        if as_json:
            data, kind = json.dumps(fields).encode(), "application/json"
        else:
            data = urllib.parse.urlencode(fields, doseq=True).encode()
            kind = "application/x-www-form-urlencoded"
        return self.raw(data, kind, url=url)

    def raw(self, data: bytes, kind: str, *, url: str | None = None) -> tuple[int, str]:
        request = urllib.request.Request(
            url or self.url, data=data, headers={"Content-Type": kind}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def calls(self) -> int:
        assert self.known is not None
        with self.known.db.read() as session:
            return int(session.scalar(select(func.count()).select_from(PhoneCall)) or 0)


@pytest.fixture
def served(known: KnownDesk) -> Iterator[Served]:
    secret = known.as_(SUPERVISOR).write(add_token).secret
    known.as_(SUPERVISOR).write(set_extension, login=AGENT, extension="201")
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = CtiServer(known.db, region="GB")
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    task: asyncio.Task[None] | None = None

    def run() -> None:
        nonlocal task
        asyncio.set_event_loop(loop)
        task = loop.create_task(server.serve(sock=sock, on_ready=lambda _s: ready.set()))
        try:
            loop.run_until_complete(task)
        except asyncio.CancelledError:
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(30), "the server did not start"
    yield Served(known, f"http://127.0.0.1:{port}", secret)
    assert task is not None
    loop.call_soon_threadsafe(task.cancel)
    thread.join(30)
    loop.close()


def _call(**fields: Any) -> dict[str, Any]:
    return {"direction": "in", "from": "02079460958", "to": "201", **fields}


def test_a_call_rings_its_analyst_with_the_caller_found_by_another_format(
    served: Served,
) -> None:
    call_id = uuid.uuid4().hex
    # Stored as "+44 (20) 7946-0958"; the PBX says it the national way.
    assert served.post(_call(event="newCall", callId=call_id)) == (200, "{}")
    ringing = served.known.as_(AGENT).read(calls_ringing)
    assert [(c.call_id, c.contact, c.from_number) for c in ringing] == [
        (call_id, CONTACT_NAME, "02079460958")
    ]
    # Form-encoded, as sipgate.io posts, answered on the extension.
    status, _ = served.post(
        {"event": "answer", "callId": call_id, "answeringNumber": "201"}, as_json=False
    )
    assert status == 200
    assert served.known.as_(AGENT).read(calls_ringing) == []
    status, _ = served.post(
        {"event": "hangup", "callId": call_id, "cause": "normalClearing"}, as_json=False
    )
    assert status == 200
    (call,) = served.known.as_(AGENT).read(list_calls)
    assert call.analyst == AGENT and call.outcome == "answered" and not call.missed
    assert call.answered_at is not None and call.duration_seconds is not None


def test_the_same_events_twice_make_one_call_and_change_nothing(served: Served) -> None:
    call_id = uuid.uuid4().hex
    for fields in (
        _call(event="newCall", callId=call_id),
        _call(event="newCall", callId=call_id),
        {"event": "hangup", "callId": call_id, "cause": "cancel"},
        {"event": "hangup", "callId": call_id, "cause": "normalClearing"},
    ):
        assert served.post(fields)[0] == 200
    assert served.calls() == 1
    (call,) = served.known.as_(AGENT).read(missed_calls)
    assert call.cause == "cancel" and call.missed and call.outcome == "missed"


def test_unanswered_busy_and_forwarded_calls_are_told_apart(served: Served) -> None:
    outcomes = {}
    for cause in ("cancel", "busy", "forwarded", "noAnswer"):
        call_id = f"c-{cause}"
        served.post(_call(event="newCall", callId=call_id))
        served.post({"event": "hangup", "callId": call_id, "cause": cause})
        outcomes[cause] = call_id
    missed = {c.call_id: c.outcome for c in served.known.as_(AGENT).read(missed_calls)}
    assert missed == {"c-cancel": "missed", "c-busy": "busy", "c-noAnswer": "missed"}
    every = {c.call_id: (c.outcome, c.missed) for c in served.known.as_(AGENT).read(list_calls)}
    assert every["c-forwarded"] == ("answered_elsewhere", False)


def test_events_out_of_order_leave_one_sensible_call(served: Served) -> None:
    # A hangup overtook its answer; an answer came for a call never announced.
    assert served.post(_call(event="newCall", callId="late-answer"))[0] == 200
    assert served.post({"event": "hangup", "callId": "late-answer", "cause": "cancel"})[0] == 200
    assert served.post({"event": "answer", "callId": "late-answer"})[0] == 200
    assert (
        served.post({"event": "answer", "callId": "never-rang", "answeringNumber": "201"})[0] == 200
    )
    calls = {c.call_id: c for c in served.known.as_(AGENT).read(list_calls)}
    assert not calls["late-answer"].missed and calls["late-answer"].outcome == "answered"
    assert calls["never-rang"].state == "answered" and calls["never-rang"].analyst == AGENT


def test_a_wrong_token_is_404_and_writes_nothing(served: Served) -> None:
    for url in (f"{served.base}/cti/not-a-token", f"{served.base}/cti/", f"{served.base}/x"):
        status, _ = served.post(_call(event="newCall", callId="x1"), url=url)
        assert status == 404, url
    # Malformed and from a stranger: still 404, the stranger learns nothing.
    assert served.post({"event": "bogus"}, url=f"{served.base}/cti/nope")[0] == 404
    assert served.calls() == 0


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"event": "ring", "callId": "a"}, "unknown event"),
        ({"callId": "a"}, "no event"),
        ({"event": "newCall", "from": "1", "to": "2", "direction": "in"}, "no callId"),
        ({"event": "newCall", "callId": "a", "to": "201", "direction": "in"}, "needs from"),
        (_call(event="newCall", callId="a", direction="sideways"), "direction"),
        (_call(event="newCall", callId="a\x1b[2J"), "control character"),
        (_call(event="newCall", callId="a", **{"from": "0207\x1b]0;pwned\x07"}), "control"),
        (_call(event="newCall", callId="a" * 251), "longer than 250"),
        (_call(event="newCall", callId="a", **{"user[]": ["x" * 101]}), "longer than 100"),
    ],
)
def test_a_malformed_event_is_400_with_its_reason_and_writes_nothing(
    served: Served, fields: dict[str, Any], reason: str
) -> None:
    status, body = served.post(fields)
    assert status == 400 and reason in body
    assert served.calls() == 0


def test_bodies_that_are_no_event_are_refused(served: Served) -> None:
    assert served.raw(b"[1, 2]", "application/json")[0] == 400
    assert served.raw(b"{not json", "application/json")[0] == 400
    assert served.raw(b"<call/>", "text/xml")[0] == 400
    assert (
        served.raw(b"event=newCall&" + b"x" * 20_000, "application/x-www-form-urlencoded")[0] == 413
    )
    assert served.calls() == 0


def test_a_multipart_form_as_curl_form_posts_it(served: Served) -> None:
    boundary = "b0undary"
    parts = [("event", "newCall"), ("callId", "mp1"), ("from", "+442079460958")]
    parts += [("to", "201"), ("direction", "in"), ("user[]", "alice"), ("user[]", "Sam Super")]
    body = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in parts
    )
    body += f"--{boundary}--\r\n"
    status, _ = served.raw(body.encode(), f"multipart/form-data; boundary={boundary}")
    assert status == 200
    (call,) = served.known.as_(AGENT).read(calls_ringing)
    assert call.contact == CONTACT_NAME and AGENT in call.ringing


def test_markup_in_a_name_is_stored_as_data(served: Served) -> None:
    fields = _call(event="newCall", callId="[b]x[/b]", **{"user[]": ["[red]Alice[/red]"]})
    fields["from"] = "<script>alert(1)</script>"
    assert served.post(fields)[0] == 200
    (call,) = served.known.as_(AGENT).read(list_calls)
    assert call.call_id == "[b]x[/b]" and call.users == "[red]Alice[/red]"
    assert call.from_number == "<script>alert(1)</script>" and call.contact_id is None


def test_200_concurrent_posts_keep_every_call(served: Served) -> None:
    def one(n: int) -> int:
        return served.post(
            _call(event="newCall", callId=f"many-{n}", **{"from": f"0161 496 {n:04d}"})
        )[0]

    with ThreadPoolExecutor(max_workers=200) as pool:
        statuses = list(pool.map(one, range(200)))
    assert statuses == [200] * 200
    assert served.calls() == 200


def test_the_command_serves_logs_each_post_in_one_line_and_stops_on_ctrl_c(
    tmp_path: Path,
) -> None:
    import os
    import signal
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'desk.db'}"
    command = [sys.executable, "-m", "deskterm", "--db", url]
    subprocess.run([*command, "analyst", "add", "sam", "--name", "Sam"], check=True, timeout=60)
    made = subprocess.run(
        [*command, "--as", "sam", "cti", "token", "add", "--json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    secret = json.loads(made.stdout)["token"]
    server = subprocess.Popen(
        [*command, "serve", "cti", "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        assert server.stderr is not None
        first = server.stderr.readline()
        found = re.search(r"listening on http://127\.0\.0\.1:(\d+)/cti/TOKEN", first)
        assert found, first
        base = f"http://127.0.0.1:{found.group(1)}"
        fake = Served(None, base, secret)
        assert fake.post(_call(event="newCall", callId="cli-1"))[0] == 200
        assert fake.post(_call(event="newCall", callId="cli-2"), url=f"{base}/cti/wrong")[0] == 404
        assert fake.post({"event": "nope", "callId": "x"})[0] == 400
        said = [server.stderr.readline() for _ in range(3)]
        assert " 200 newCall 'cli-1' call 1" in said[0]
        assert " 404 unknown token" in said[1] and "wrong" not in said[1]
        assert " 400 unknown event 'nope'" in said[2]
        assert secret not in "".join([first, *said])
        simulated = subprocess.run(
            [
                *command,
                "cti",
                "simulate",
                "--from",
                "0161 496 0001",
                "--to",
                "201",
                "--url",
                fake.url,
                "--answer-after",
                "0",
                "--hangup-after",
                "1",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert simulated.returncode == 0, simulated.stderr
        assert [line.split()[0] for line in simulated.stdout.splitlines()] == [
            "newCall",
            "answer",
            "hangup",
        ]
        listed = subprocess.run(
            [*command, "--as", "sam", "call", "list", "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        newest = json.loads(listed.stdout)[0]
        assert newest["from"] == "0161 496 0001" and newest["missed"] is False
        assert newest["duration_seconds"] >= 1
        refused = subprocess.run(
            [*command, "cti", "simulate", "--from", "1", "--to", "2", "--url", f"{base}/cti/wrong"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode != 0 and "HTTP 404" in refused.stderr
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(30) == 0


def test_sipgate_is_asked_for_the_answer_and_hangup_of_a_form_encoded_new_call(
    served: Served,
) -> None:
    status, body = served.post(_call(event="newCall", callId="sg1"), as_json=False)
    assert status == 200
    url = served.url.replace("&", "&amp;")
    assert f'<Response onAnswer="{url}" onHangup="{url}"/>' in body
    # A JSON post (the generic protocol) gets Zammad's answer.
    assert served.post(_call(event="newCall", callId="sg2")) == (200, "{}")


def test_placetel_notify_events_are_read_as_the_generic_protocol(served: Served) -> None:
    fields = {"event": "IncomingCall", "call_id": "pt1", "from": "02079460958", "to": "201"}
    assert served.post(fields, as_json=False)[0] == 200
    assert served.post({**fields, "event": "HungUp", "type": "busy"}, as_json=False)[0] == 200
    (call,) = served.known.as_(AGENT).read(missed_calls)
    assert (call.call_id, call.direction, call.contact, call.outcome) == (
        "pt1",
        "in",
        CONTACT_NAME,
        "busy",
    )
