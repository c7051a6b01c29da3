"""Reports on both databases equal the figures worked out by hand (see ``reportdata.py``);
the CLI prints them as tables, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from reportdata import NOW, T0, build
from typer.testing import CliRunner

from deskterm.cli import app
from deskterm.desk import reports
from deskterm.desk.clock import use_clock
from deskterm.domain.errors import InvalidInput, InvalidTransition, PermissionDenied
from factories import AGENT, SUPERVISOR, KnownDesk

DAY = {"since": T0 - timedelta(hours=9), "until": T0 + timedelta(hours=15)}


@pytest.fixture
def fixed(known: KnownDesk) -> KnownDesk:
    build(known)
    return known


def run(known: KnownDesk, fn, **kwargs) -> reports.Report:  # noqa: ANN001
    with use_clock(lambda: NOW):
        return known.as_(SUPERVISOR).read(fn, **kwargs)


def test_sla_compliance_counts_met_missed_and_leaves_pending_out(fixed: KnownDesk) -> None:
    report = run(fixed, reports.sla_report, **DAY)
    total = report.records()[-1]
    assert total == {
        "priority": "TOTAL",
        "tickets": 5,
        "response_met": 4,
        "response_missed": 1,
        "response_pct": 80.0,
        "resolution_met": 2,
        "resolution_missed": 2,
        "resolution_pct": 50.0,
    }
    # A period before the tickets has nothing in it.
    assert run(fixed, reports.sla_report, since=T0 - timedelta(days=9), until=T0).rows == []


def test_analysts_figures(fixed: KnownDesk) -> None:
    rows = {r["analyst"]: r for r in run(fixed, reports.analysts_report, **DAY).records()}
    assert rows["alice"] | {"name": None} == {
        "analyst": "alice",
        "name": None,
        "level": 1,
        "open": 1,
        "resolved": 2,
        "fcr_pct": 50.0,
        "median_response_h": 0.5,
        "median_resolve_h": 2.25,
    }
    bob = rows["bob"]
    assert (bob["open"], bob["resolved"], bob["fcr_pct"]) == (1, 1, 100.0)
    assert (bob["median_response_h"], bob["median_resolve_h"]) == (0.0, 2.0)
    assert rows["tom"]["resolved"] == 0 and rows["tom"]["fcr_pct"] is None


def test_backlog_by_group_priority_and_age(fixed: KnownDesk) -> None:
    report = run(fixed, reports.backlog_report)
    desk, total = report.records()
    assert desk["group"] == "Service Desk" and desk["total"] == 2
    assert sum(desk[f"P{p}"] for p in range(1, 6)) == 2
    assert (desk["<1d"], desk["1-3d"], desk["3-7d"], desk[">7d"]) == (0, 2, 0, 0)
    # t4 opened at T0+3h, two days before NOW.
    assert desk["oldest_days"] == 1.9
    assert total["group"] == "TOTAL" and total["total"] == 2 and total["oldest_days"] == 1.9


def test_satisfaction_csat_and_nps(fixed: KnownDesk) -> None:
    rows = {r["analyst"]: r for r in run(fixed, reports.csat_report, **DAY).records()}
    alice, bob, total = rows["alice"], rows["bob"], rows["TOTAL"]
    assert (alice["surveys"], alice["csat_mean"], alice["csat_pct"], alice["nps"]) == (
        2,
        4.0,
        50.0,
        0.0,
    )
    assert (bob["csat_mean"], bob["csat_pct"], bob["nps"]) == (4.0, 100.0, 100.0)
    assert (total["surveys"], total["csat_mean"], total["csat_pct"]) == (3, 4.0, 66.7)
    assert (total["promoters"], total["detractors"], total["nps"]) == (2, 1, 33.3)


def test_categories(fixed: KnownDesk) -> None:
    rows = {r["category"]: r for r in run(fixed, reports.categories_report, **DAY).records()}
    printer, none = rows["Hardware > Printer"], rows["(none)"]
    assert (printer["opened"], printer["resolved"], printer["open"]) == (1, 1, 0)
    assert printer["median_resolve_h"] == 0.5
    assert (none["opened"], none["resolved"], none["open"], none["article_needed"]) == (
        4,
        2,
        2,
        1,
    )
    assert none["median_resolve_h"] == 3.0 and none["escalated_pct"] == 0.0


def test_reports_are_for_supervisors(fixed: KnownDesk) -> None:
    with pytest.raises(PermissionDenied):
        fixed.as_(AGENT).read(reports.sla_report)


def test_a_survey_needs_a_resolved_ticket_and_sane_scores(known: KnownDesk) -> None:
    ticket = known.ticket()
    desk = known.as_(AGENT)
    with pytest.raises(InvalidTransition):
        desk.write(reports.record_survey, ref=ticket.id, csat=4)
    for bad in ({"csat": 6}, {"nps": 11}, {"csat": 0}, {}, {"csat": 3, "via": "fax"}):
        with pytest.raises(InvalidInput):
            desk.write(reports.record_survey, ref=ticket.id, **bad)


def test_periods_are_whole_days() -> None:
    since, until = reports.day_range("2026-11-02", "2026-11-03")
    assert since is not None and until is not None
    assert (since.isoformat(), until.isoformat()) == (
        "2026-11-02T00:00:00+00:00",
        "2026-11-04T00:00:00+00:00",
    )
    with pytest.raises(InvalidInput):
        reports.day_range("2026-11-05", "2026-11-03")
    with pytest.raises(InvalidInput):
        reports.day_range("yesterday", None)


def test_cli_reports_as_csv_json_and_table(fixed: KnownDesk) -> None:
    url = fixed.db.url.render_as_string(hide_password=False)
    runner = CliRunner()
    base = ["--db", url, "--as", SUPERVISOR, "report", "sla", "--from", "2026-11-02"]
    base += ["--to", "2026-11-02"]
    with use_clock(lambda: NOW):
        as_csv = runner.invoke(app, [*base, "--format", "csv"])
        as_json = runner.invoke(app, [*base, "--format", "json"])
        as_table = runner.invoke(app, [*base, "--format", "table"])
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert rows[-1]["priority"] == "TOTAL" and rows[-1]["response_pct"] == "80.0"
    data = json.loads(as_json.stdout)
    assert data["report"] == "sla" and data["rows"][-1]["resolution_pct"] == 50.0
    assert "SLA compliance" in as_table.stdout and "TOTAL" in as_table.stdout
    refused = runner.invoke(app, ["--db", url, "--as", AGENT, "report", "sla"])
    # The entry point turns this into one stderr line and an exit code (tested in test_cli).
    assert isinstance(refused.exception, PermissionDenied)
