"""Every dashboard figure against the values worked out by hand in conftest.py."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from app.core.errors import Forbidden
from app.portfolio import queries as portfolio
from app.portfolio.queries import Filters


def _rows(table, key="project"):  # noqa: ANN001, ANN202
    return {row[key]: row for row in table.rows}


@pytest.fixture
def pmo(actors, seeded_portfolio):  # noqa: ANN001, ANN201
    return portfolio.dashboard(actors["petra"], Filters())


def test_pipeline_counts_projects_by_phase(pmo):
    counts = {r["phase"]: r["projects"] for r in pmo["pipeline"].rows}
    assert counts == {"Initiation": 0, "Planning": 1, "Execution": 2, "Closure": 0, "Closed": 0}
    assert pmo["pipeline"].total["projects"] == 3


def test_rag_uses_the_latest_current_report_and_grey_otherwise(pmo):
    counts = {r["rag"]: r["projects"] for r in pmo["rag"].rows}
    assert counts == {"red": 1, "amber": 0, "green": 0, "grey": 2}  # Beta's August report is too old


def test_health_matrix_lists_the_most_troubled_first(pmo):
    first = pmo["health"].rows[0]
    assert first["project"] == "ALP-001 Alpha"
    assert (first["schedule"], first["budget"], first["scope"], first["resources"], first["risk"],
            first["overall"]) == ("red", "amber", "green", "green", "amber", "red")
    assert first["as_of"] == date(2026, 11, 27)
    assert {r["overall"] for r in pmo["health"].rows[1:]} == {"grey"}


def test_slipping_milestones_and_late_projects(pmo):
    slipping = [(r["milestone"], r["slip"]) for r in pmo["slipping"].rows]
    assert slipping == [("Go live", 30), ("Build", 10)]
    late = pmo["late"].rows
    assert [(r["project"], r["forecast_end"], r["late"]) for r in late] == [("ALP-001 Alpha", date(2027, 4, 14), 14)]


def test_gates_due_this_month_and_outcome_rates(pmo):
    assert [(r["project"], r["gate"], r["due"]) for r in pmo["gates_due"].rows] == [
        ("ALP-001 Alpha", "Build", date(2026, 12, 20))]
    outcomes = {r["outcome"]: (r["gates"], r["rate"]) for r in pmo["gate_outcomes"].rows}
    assert outcomes == {"Go": (1, 33.3), "Hold": (1, 33.3), "Recycle": (0, 0.0), "Kill": (1, 33.3)}
    assert pmo["gate_outcomes"].total["gates"] == 3


def test_cost_per_project_and_in_total(pmo):
    rows = _rows(pmo["cost"])
    alpha, beta, gamma = rows["ALP-001 Alpha"], rows["BET-002 Beta"], rows["GAM-003 Gamma"]
    assert (alpha["baseline"], alpha["actual"], alpha["forecast"], alpha["variance"], alpha["variance_pct"]) == (
        Decimal("100000.00"), Decimal("60000.00"), Decimal("115000.00"), Decimal("15000.00"), 15.0)
    assert (beta["forecast"], beta["variance"], beta["variance_pct"]) == (Decimal("55000.00"), Decimal("5000.00"), 10.0)
    assert (gamma["baseline"], gamma["forecast"], gamma["variance"]) == (Decimal("20000.00"),) * 2 + (Decimal("0.00"),)
    total = pmo["cost"].total
    assert (total["baseline"], total["actual"], total["forecast"], total["variance"], total["variance_pct"]) == (
        Decimal("170000.00"), Decimal("115000.00"), Decimal("190000.00"), Decimal("20000.00"), 11.8)
    assert [r["project"] for r in pmo["cost"].rows][0] == "ALP-001 Alpha"  # biggest variance first


def test_open_changes_and_decisions_this_quarter(pmo):
    rows = pmo["open_changes"].rows
    assert [(r["change"], r["cost"], r["days"]) for r in rows] == [("CR-001 Change 1", Decimal("15000.00"), 10)]
    routes = {r["route"]: (r["decided"], r["approved"], r["rate"]) for r in pmo["change_decisions"].rows}
    assert routes == {"Project manager": (1, 1, 100.0), "Sponsor": (2, 1, 50.0), "Change control board": (0, 0, None)}
    total = pmo["change_decisions"].total
    assert (total["decided"], total["approved"], total["rate"]) == (3, 2, 66.7)


def test_top_risks_and_projects_above_the_threshold(pmo):
    assert [(r["project"], r["score"]) for r in pmo["top_risks"].rows] == [
        ("ALP-001 Alpha", 20), ("BET-002 Beta", 16), ("ALP-001 Alpha", 9)]  # the closed 25 does not count
    assert [(r["project"], r["top"], r["risks"]) for r in pmo["risky"].rows] == [
        ("ALP-001 Alpha", 20, 1), ("BET-002 Beta", 16, 1)]


def test_filters_narrow_every_figure(actors, seeded_portfolio):
    tables = portfolio.dashboard(actors["petra"], Filters(phase="planning"))
    assert tables["pipeline"].total["projects"] == 1
    assert tables["cost"].total["baseline"] == Decimal("50000.00")
    tables = portfolio.dashboard(actors["petra"], Filters(category="Digital", priority="P1", pm="maria"))
    assert {r["project"] for r in tables["cost"].rows} == {"ALP-001 Alpha", "GAM-003 Gamma"}
    tables = portfolio.dashboard(actors["petra"], Filters(sponsor="owen"))
    assert {r["outcome"]: r["gates"] for r in tables["gate_outcomes"].rows}["Kill"] == 1
    assert tables["gate_outcomes"].total["gates"] == 1


def test_a_sponsor_sees_only_the_projects_they_sponsor(actors, seeded_portfolio):
    tables = portfolio.dashboard(actors["sam"], Filters())
    assert {r["project"] for r in tables["cost"].rows} == {"ALP-001 Alpha", "BET-002 Beta"}
    assert tables["gate_outcomes"].total["gates"] == 2
    # Filtering by another sponsor shows nothing rather than their projects.
    assert portfolio.dashboard(actors["sam"], Filters(sponsor="owen"))["pipeline"].total["projects"] == 0
    options = portfolio.filter_options(actors["sam"])
    assert [v for v, _ in options["sponsor"]] == ["sam"]


@pytest.mark.parametrize("user", ["maria", "carla", "owen", "rita"])
def test_others_may_not_see_the_dashboard(actors, seeded_portfolio, user):
    with pytest.raises(Forbidden):
        portfolio.dashboard(actors[user], Filters())


def test_pages_show_a_hundred_rows_and_exports_all(actors, seeded_portfolio, monkeypatch):
    monkeypatch.setattr(portfolio, "_row_limit", portfolio.ContextVar("limit", default=1))
    tables = portfolio.dashboard(actors["petra"], Filters())
    assert len(tables["cost"].rows) == 1 and tables["cost"].more == 2
    with portfolio.unlimited():
        assert len(portfolio.dashboard(actors["petra"], Filters())["cost"].rows) == 3
