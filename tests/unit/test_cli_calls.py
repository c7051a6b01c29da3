"""``deskterm call save``: a call with several problems from a script, as the new-call screen
saves it (one transaction, linked as one call, articles linked), on both databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from clirun import run_deskterm
from deskterm.desk import kb
from deskterm.desk.tickets import get_ticket
from factories import AGENT, CONTACT_NAME, SUPERVISOR, KnownDesk


@pytest.fixture
def call(known: KnownDesk, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    url = known.db.url.render_as_string(hide_password=False)
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        return run_deskterm(
            monkeypatch, capsys, "--db", url, "--as", AGENT, "call", "save", *args, stdin=stdin
        )

    return run


def test_a_call_with_two_problems_is_two_linked_tickets_with_the_call_on_the_first(
    known: KnownDesk, call, tmp_path: Path
) -> None:
    article = known.as_(SUPERVISOR).write(
        kb.add_article, title="Printer shows paper jam", body="Open tray 2.", status="published"
    )
    problems = tmp_path / "call.json"
    problems.write_text(
        json.dumps(
            [
                {"subject": "VPN drops every ten minutes", "impact": "high", "urgency": "high"},
                {"subject": "Printer jams", "description": "Tray 2", "article": article.key},
            ]
        ),
        encoding="utf-8",
    )
    code, out, err = call(str(problems), "--contact", CONTACT_NAME, "--seconds", "240", "--json")
    assert code == 0, err
    first, second = json.loads(out)
    assert first["priority"] == "P1" and first["contact"] == CONTACT_NAME
    desk = known.as_(AGENT)
    vpn, printer = (desk.read(get_ticket, ref=t["ref"]) for t in (first, second))
    calls = [e.data.get("duration_seconds") for e in vpn.events if e.kind == "call_logged"]
    assert calls == [240]
    assert not [e for e in printer.events if e.kind == "call_logged"]
    assert [e.data["other"] for e in printer.events if e.kind == "split"] == [first["ref"]]
    assert [e.data["article"] for e in printer.events if e.kind == "kb_linked"] == [article.key]

    # Another problem from the same call, later: linked to the call's first ticket.
    code, out, err = call(
        "-", "--to", first["ref"], "--seconds", "30", stdin='{"subject": "Mouse"}'
    )
    assert code == 0, err
    assert out.startswith("DT-") and "Mouse" in out
    mouse = desk.read(get_ticket, ref=out.split()[0])
    assert mouse.contact == CONTACT_NAME
    assert [e.data["other"] for e in mouse.events if e.kind == "split"] == [first["ref"]]


@pytest.mark.parametrize(
    ("args", "stdin", "said"),
    [
        (("-",), '{"subject": "x"}', "give the caller with --contact"),
        (("-", "--anonymous", "--contact", "#1"), '{"subject": "x"}', "not both"),
        (("-", "--anonymous"), "[1, 2]", "give a problem as an object"),
        (("-", "--anonymous"), "{", "standard input is not JSON"),
        (("-", "--anonymous"), '{"subject": "x", "prio": "P1"}', "'prio' is not a problem's key"),
        (("-", "--anonymous"), '{"subject": "x", "asset": "laptop"}', "'asset' must be a number"),
        (("-", "--anonymous"), "[]", "a call needs at least one problem"),
        (("-", "--anonymous"), '[{"subject": "ok"}, {"subject": " "}]', "problem 2"),
        (("-", "--to", "DT-000001", "--anonymous"), '{"subject": "x"}', "leave out"),
        (("-", "--contact", "#999999"), '{"subject": "x"}', "no contact"),
    ],
)
def test_a_bad_call_is_one_line_and_saves_nothing(
    known: KnownDesk, call, args: tuple[str, ...], stdin: str, said: str
) -> None:
    before = _tickets(known)
    code, out, err = call(*args, stdin=stdin)
    assert code != 0 and out == ""
    assert said in err and err.count("\n") == 1
    assert _tickets(known) == before  # all or nothing: problem 1 of a refused call is not kept


def _tickets(known: KnownDesk) -> int:
    with known.db.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM ticket")).scalar_one()


def test_a_script_retrying_a_save_with_its_key_saves_the_call_once(
    known: KnownDesk, call, tmp_path: Path
) -> None:
    problems = tmp_path / "call.json"
    problems.write_text(json.dumps([{"subject": "Saved by a script that retries"}]), "utf-8")
    key = "crm-4711-call-0001"
    code, out, err = call(str(problems), "--contact", CONTACT_NAME, "--key", key, "--json")
    assert code == 0, err
    (first,) = json.loads(out)
    # The script lost the answer and tries again: the same ticket, nothing new.
    code, out, err = call(str(problems), "--contact", CONTACT_NAME, "--key", key)
    assert code == 0, err
    assert f"{first['ref']} saved before under this key" in out
    with known.db.read() as session:
        assert (
            session.execute(
                text("SELECT count(*) FROM ticket WHERE subject = :s"),
                {"s": "Saved by a script that retries"},
            ).scalar()
            == 1
        )


def test_a_bad_key_is_one_line_and_saves_nothing(known: KnownDesk, call, tmp_path: Path) -> None:
    problems = tmp_path / "call.json"
    problems.write_text(json.dumps([{"subject": "Never saved"}]), "utf-8")
    code, out, err = call(str(problems), "--contact", CONTACT_NAME, "--key", "no spaces here")
    assert code != 0 and out == ""
    assert "key" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    with known.db.read() as session:
        assert not session.execute(
            text("SELECT count(*) FROM ticket WHERE subject = 'Never saved'")
        ).scalar()
