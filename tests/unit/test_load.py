"""``deskterm bench load``: a short run on both databases, and checks that can fail."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import text

from clirun import run_deskterm
from deskterm.bench.load import OPERATIONS, WorkerReport, Write, verify
from deskterm.db.engine import Database
from deskterm.desk.analysts import add_analyst
from deskterm.desk.context import Desk
from deskterm.desk.queue import claim_next
from deskterm.desk.tickets import add_note
from deskterm.domain.errors import InvalidInput
from factories import AGENT, AGENT2, KnownDesk


@pytest.mark.slow
def test_two_analysts_for_two_seconds_report_every_operation_and_pass_the_checks(
    db_url: str, monkeypatch, capsys
) -> None:
    code, out, err = run_deskterm(
        monkeypatch,
        capsys,
        *("--db", db_url, "bench", "load", "--analysts", "2", "--seconds", "2"),
        *("--tickets", "100", "--json"),
    )
    assert code == 0, err
    result = json.loads(out)
    assert [op["operation"] for op in result["operations"]] == list(OPERATIONS)
    assert result["total"]["count"] > 0 and result["total"]["per_second"] > 0
    assert all(op["errors"] == 0 for op in result["operations"]), result["errors"]
    assert [(c["check"], c["passed"]) for c in result["checks"]] == [
        ("no ticket claimed twice", True),
        ("no lost update", True),
        ("every ticket is its log's replay", True),
    ]
    assert result["writes"] > 0 and result["analysts"] == 2
    # The report says where it ran, and what the issue asks of every operation.
    assert result["database"] == Database(db_url).describe()
    assert result["dialect"] == ("sqlite" if db_url.startswith("sqlite") else "postgresql")
    for op in result["operations"]:
        assert {"per_second", "p50_ms", "p95_ms", "p99_ms", "conflicts", "errors"} <= set(op)
        if op["count"]:
            assert op["p50_ms"] <= op["p95_ms"] <= op["p99_ms"], op
    assert result["conflicts"] == sum(op["conflicts"] for op in result["operations"])
    assert result["lost_updates"] == 0 and result["double_claims"] == 0
    assert all(c["found"] == 0 for c in result["checks"])


@pytest.mark.slow
def test_without_db_it_runs_on_the_database_the_settings_name(
    tmp_path, monkeypatch, capsys
) -> None:
    url = f"sqlite:///{tmp_path / 'from-env.db'}"
    monkeypatch.setenv("DESKTERM_DATABASE_URL", url)
    code, out, err = run_deskterm(
        monkeypatch,
        capsys,
        *("bench", "load", "--analysts", "1", "--seconds", "1", "--tickets", "100", "--json"),
    )
    assert code == 0, err
    assert json.loads(out)["database"] == url
    # Said on stderr too, even with --json: a run on the wrong desk shows at once.
    assert f"load desk: {url}" in err
    assert (tmp_path / "from-env.db").exists()


def test_refuses_a_desk_that_is_not_a_load_desk_and_changes_nothing(
    db, db_url: str, monkeypatch, capsys
) -> None:
    Desk(db, "ada").bootstrap(add_analyst, login="ada", name="Ada Admin")
    code, out, err = run_deskterm(
        monkeypatch, capsys, "--db", db_url, "bench", "load", "--analysts", "2", "--seconds", "1"
    )
    assert code == 1 and out == ""
    assert "not a load or bench desk" in err
    with db.read() as session:
        assert session.execute(text("SELECT count(*) FROM analyst")).scalar_one() == 1


def test_both_benches_take_the_settings_database_and_refuse_a_desk_there(
    db, db_url: str, monkeypatch, capsys
) -> None:
    # Without --db, DESKTERM_DATABASE_URL is the database: a team's desk there is refused,
    # where the bench used to fill a SQLite file of its own without a word.
    Desk(db, "ada").bootstrap(add_analyst, login="ada", name="Ada Admin")
    monkeypatch.setenv("DESKTERM_DATABASE_URL", db_url)
    code, out, err = run_deskterm(
        monkeypatch, capsys, "bench", "load", "--analysts", "1", "--seconds", "1"
    )
    assert code == 1 and out == "" and "not a load or bench desk" in err
    code, out, err = run_deskterm(monkeypatch, capsys, "bench", "--tickets", "1000")
    assert code == 1 and out == "" and "not a bench desk" in err


def test_db_wins_over_the_settings_and_neither_means_the_bench_file(monkeypatch) -> None:
    from deskterm.cli.bench import _given_url
    from deskterm.cli.common import State

    monkeypatch.setenv("DESKTERM_DATABASE_URL", "sqlite:////tmp/from-env.db")
    assert _given_url(State(db_url="sqlite:////tmp/given.db")) == "sqlite:////tmp/given.db"
    assert _given_url(State()) == "sqlite:////tmp/from-env.db"
    monkeypatch.delenv("DESKTERM_DATABASE_URL")
    assert _given_url(State()) is None


def test_the_report_hides_the_password_of_the_database() -> None:
    from deskterm.bench.load import Check, LoadDesk, LoadResult, OperationStats

    where = Database("postgresql+psycopg://desk:s3cret@db.example/load").describe()
    assert "s3cret" not in where
    desk = LoadDesk(
        url="postgresql+psycopg://desk:s3cret@db.example/load",
        where=where,
        analysts=(),
        built_seconds=None,
        queued=0,
    )
    result = LoadResult(
        dialect="postgresql",
        url=desk.url,
        where=desk.where,
        analysts=1,
        seconds=2.0,
        operations=(OperationStats("note", 4, 2.0, 1.0, 2.0, 3.0, 1, 0),),
        checks=(
            Check("no lost update", False, "4 saved changes", ("x",), 3),
            Check("no ticket claimed twice", True, "0 claims"),
        ),
        errors=(),
        empty_pulls=0,
        writes=4,
        claims=0,
    )
    data = result.to_json()
    assert "s3cret" not in json.dumps(data)
    assert data["database"] == where
    assert data["operations"][0]["p95_ms"] == 2.0
    assert (data["conflicts"], data["lost_updates"], data["double_claims"]) == (1, 3, 0)
    assert data["total"]["per_second"] == 2.0 and data["checks"][0]["passed"] is False


def test_bad_options_are_one_line() -> None:
    from deskterm.bench.load import check_options

    with pytest.raises(InvalidInput, match="between 1 and 64 analysts, not 0"):
        check_options(analysts=0, seconds=10, tickets=1000)
    with pytest.raises(InvalidInput, match="between 1 and 3600 seconds"):
        check_options(analysts=2, seconds=0, tickets=1000)


def _work(known: KnownDesk) -> tuple[WorkerReport, WorkerReport, int]:
    """Two analysts' honest records: Bob's ticket pulled by Alice, noted by both."""
    queued = known.ticket(AGENT2, subject="Printer offline", assignee="none")
    alice, bob = WorkerReport(login=AGENT), WorkerReport(login=AGENT2)
    claim = known.as_(AGENT).write(claim_next).ticket
    assert claim is not None and claim.id == queued.id
    alice.claims.append(Write(claim.id, claim.version, AGENT, "pull next"))
    alice.writes.append(alice.claims[0])
    for report, login in ((alice, AGENT), (bob, AGENT2)):
        noted = known.as_(login).write(add_note, ref=queued.id, text=f"{login} looked at it")
        report.writes.append(Write(queued.id, noted.version, login, "note"))
    return alice, bob, queued.id


def _verdicts(known: KnownDesk, *reports: WorkerReport) -> dict[str, bool]:
    return {check.name: check.passed for check in verify(known.db, reports)}


def test_the_checks_pass_honest_records_and_flag_a_double_claim_and_a_lost_write(
    known: KnownDesk,
) -> None:
    alice, bob, ticket_id = _work(known)
    assert all(_verdicts(known, alice, bob).values())

    # Bob says he pulled the same ticket at the same moment: two claims of one version.
    bob.claims.append(Write(ticket_id, alice.claims[0].version, AGENT2, "pull next"))
    bob.writes.append(bob.claims[-1])
    checks = {c.name: c for c in verify(known.db, [alice, bob])}
    assert not checks["no ticket claimed twice"].passed
    assert not checks["no lost update"].passed
    assert "saved 2 times (alice, bob)" in " ".join(checks["no lost update"].problems)
    bob.claims.pop()
    bob.writes.pop()

    # A note Bob was told was saved, which the log does not hold.
    bob.writes.append(Write(ticket_id, 99, AGENT2, "note"))
    verdicts = _verdicts(known, alice, bob)
    assert verdicts == {
        "no ticket claimed twice": True,
        "no lost update": False,
        "every ticket is its log's replay": True,
    }


def test_a_claim_of_a_held_ticket_in_the_log_is_flagged(known: KnownDesk) -> None:
    alice, bob, ticket_id = _work(known)
    row = known.row(ticket_id)
    # Bob's "pull next" taking the ticket Alice holds, written behind the desk's back.
    at = row.updated_at + timedelta(seconds=1)
    with known.db.write() as session:
        session.execute(
            text(
                "INSERT INTO ticket_event (ticket_id, ticket_version, at, actor_id, kind, "
                "visibility, data) VALUES (:t, :v, :at, :bob, 'assigned', 'public', :data)"
            ),
            {
                "t": ticket_id,
                "v": row.version + 1,
                "at": at.replace(tzinfo=None) if known.db.is_sqlite else at,
                "bob": known.analyst_id(AGENT2),
                "data": json.dumps({"to": AGENT2, "via": "queue next", "status": "assigned"}),
            },
        )
        session.execute(
            text(
                "UPDATE ticket SET assignee_id = :bob, version = version + 1, updated_at = :at "
                "WHERE id = :t"
            ),
            {
                "t": ticket_id,
                "bob": known.analyst_id(AGENT2),
                "at": at.replace(tzinfo=None) if known.db.is_sqlite else at,
            },
        )
    bob.claims.append(Write(ticket_id, row.version + 1, AGENT2, "pull next"))
    bob.writes.append(bob.claims[-1])
    checks = {c.name: c for c in verify(known.db, [alice, bob])}
    claimed = checks["no ticket claimed twice"]
    assert not claimed.passed
    assert any("claims it for bob while alice held it" in p for p in claimed.problems)
    # The row follows its log here: the replay itself agrees, only the claim is wrong.
    assert checks["no lost update"].passed
    assert checks["every ticket is its log's replay"].passed
