"""``deskterm cti token``, ``call list`` and ``analyst add/edit --extension`` on both
databases: tokens are shown once and kept hashed, only supervisors manage them and
extensions, and the call log's JSON has the keys scripts read."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from clirun import run_deskterm
from deskterm.db.models import Analyst, AnalystExtension, CtiToken
from deskterm.desk.cti import CallEvent, UnknownToken, call_back, ingest_event, receive
from factories import ADMIN, AGENT, SUPERVISOR, KnownDesk


@pytest.fixture
def cli(known: KnownDesk, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    url = known.db.url.render_as_string(hide_password=False)
    monkeypatch.setenv("COLUMNS", "200")

    def run(login: str, *args: str) -> tuple[int, str, str]:
        return run_deskterm(monkeypatch, capsys, "--db", url, "--as", login, *args)

    return run


def test_a_token_is_shown_once_kept_hashed_listed_and_removed(known: KnownDesk, cli) -> None:
    code, out, err = cli(SUPERVISOR, "cti", "token", "add", "--json")
    assert code == 0, err
    made = json.loads(out)
    secret = made["token"]
    assert len(secret) >= 40
    with known.db.read() as session:
        stored = session.scalars(select(CtiToken.token_hash)).all()
    assert secret not in stored and len(stored) == 1
    # The secret is good for posting.
    event = {"event": "newCall", "callId": "t1", "from": "1", "to": "2", "direction": "in"}
    known.as_(None).write(receive, secret=secret, fields=event)

    code, out, _ = cli(SUPERVISOR, "cti", "token", "list", "--json")
    (listed,) = json.loads(out)
    assert listed["id"] == made["id"] and listed["last_used_at"] is not None
    assert secret not in out

    code, out, _ = cli(SUPERVISOR, "cti", "token", "remove", str(made["id"]))
    assert code == 0 and "removed" in out
    with pytest.raises(UnknownToken):
        known.as_(None).write(receive, secret=secret, fields=event)
    code, _, err = cli(SUPERVISOR, "cti", "token", "remove", str(made["id"]))
    assert code != 0 and "no phone-system token" in err


def test_only_supervisors_manage_tokens_and_extensions(known: KnownDesk, cli) -> None:
    for args in (
        ("cti", "token", "add"),
        ("cti", "token", "list"),
        ("analyst", "edit", SUPERVISOR, "--extension", "301"),
    ):
        code, out, err = cli(AGENT, *args)
        assert code != 0 and "only a supervisor" in err, args
        assert len(err.strip().splitlines()) == 1
    with known.db.read() as session:
        assert session.scalars(select(CtiToken)).all() == []
        assert session.scalars(select(AnalystExtension)).all() == []


def test_extensions_on_add_and_edit_are_unique_and_checked(known: KnownDesk, cli) -> None:
    code, out, err = cli(SUPERVISOR, "analyst", "edit", AGENT, "--extension", "201", "--json")
    assert code == 0, err
    assert json.loads(out) == {"login": AGENT, "extension": "201"}
    code, out, err = cli(
        ADMIN, "analyst", "add", "newbie", "--name", "New Bie", "--extension", "202", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["extension"] == "202"
    code, _, err = cli(ADMIN, "analyst", "add", "other", "--name", "O", "--extension", "201")
    assert code != 0 and "alice's already" in err
    code, _, err = cli(SUPERVISOR, "analyst", "edit", "newbie", "--extension", "2 0\x1b1")
    assert code != 0 and "extension" in err
    with known.db.read() as session:
        rows = dict(
            session.execute(
                select(Analyst.login, AnalystExtension.extension).join(
                    AnalystExtension, AnalystExtension.analyst_id == Analyst.id
                )
            ).all()
        )
    assert rows[AGENT] == "201" and rows["newbie"] == "202" and "other" not in rows
    code, _, _ = cli(SUPERVISOR, "analyst", "edit", AGENT, "--extension", "")
    assert code == 0
    with known.db.read() as session:
        assert session.get(AnalystExtension, known.analyst_id(AGENT)) is None


def _missed(known: KnownDesk, call_id: str) -> None:
    desk = known.as_(None)
    desk.write(
        ingest_event,
        event=CallEvent(
            event="newCall",
            call_id=call_id,
            direction="in",
            from_number="02079460958",
            to_number="201",
            users=(AGENT,),
        ),
    )
    desk.write(ingest_event, event=CallEvent(event="hangup", call_id=call_id, cause="cancel"))


def test_call_list_missed_json_has_the_keys_scripts_read(known: KnownDesk, cli) -> None:
    _missed(known, "m1")
    known.as_(None).write(
        ingest_event,
        event=CallEvent(
            event="newCall",
            call_id="ok1",
            direction="in",
            from_number="0161 496 0000",
            to_number="201",
        ),
    )
    code, out, err = cli(AGENT, "call", "list", "--missed", "--json")
    assert code == 0, err
    (call,) = json.loads(out)
    wanted = {
        "call_id",
        "direction",
        "from",
        "to",
        "contact_id",
        "analyst",
        "started_at",
        "answered_at",
        "ended_at",
        "duration_seconds",
        "missed",
    }
    assert wanted <= set(call)
    assert call["call_id"] == "m1" and call["missed"] is True and call["from"] == "02079460958"
    assert call["analyst"] == AGENT and call["contact_id"] is not None
    code, out, _ = cli(AGENT, "call", "list", "--json")
    assert {c["call_id"] for c in json.loads(out)} == {"m1", "ok1"}
    code, out, _ = cli(AGENT, "call", "list")
    assert code == 0 and "missed" in out


def test_calling_back_logs_an_outbound_call_and_leaves_the_missed_view(
    known: KnownDesk, cli
) -> None:
    _missed(known, "m2")
    ticket = known.ticket(subject=f"VPN {uuid.uuid4().hex[:6]}")
    code, out, _ = cli(AGENT, "call", "list", "--missed", "--json")
    (call,) = json.loads(out)
    done = known.as_(AGENT).write(call_back, call=call["id"], ticket=ticket.ref, seconds=95)
    assert done.called_back_by == AGENT and done.ticket_id == ticket.id
    events = [e for e in known.events(ticket.id) if e.kind == "call_logged"]
    assert events[-1].data["direction"] == "outbound" and events[-1].data["duration_seconds"] == 95
    code, out, _ = cli(AGENT, "call", "list", "--missed", "--json")
    # The call log keeps it (called back); only the queue view leaves it out.
    (kept,) = json.loads(out)
    assert kept["called_back_by"] == AGENT
    from deskterm.desk.cti import missed_calls

    assert known.as_(AGENT).read(missed_calls) == []
