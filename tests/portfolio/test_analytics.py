"""Process analytics and resource capacity against the values worked out by hand in conftest.py."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from app.core.errors import Forbidden
from app.core.extensions import db
from app.portfolio import queries as portfolio
from app.portfolio.queries import Period


@pytest.fixture
def tables(actors, with_tasks):  # noqa: ANN001, ANN201
    return portfolio.analytics(actors["owen"], Period.of("90"))


def _step(tables, step_id):  # noqa: ANN001, ANN202
    return next(r for r in tables["steps"].rows if r["step_id"] == step_id)


def test_waits_per_step_median_p90_overdue_and_breaches(tables):
    pm = _step(tables, "pm_decision")
    assert pm["process"] == "Change request" and pm["step"] == "Approve (PM tolerance)"
    # Completed in the last 90 days: 2 h, 4 h, 10 h (the June one is older) -> median 4, p90 10.
    assert (pm["completed"], pm["median"], pm["p90"], pm["breaches"]) == (3, 4.0, 10.0, 1)
    assert (pm["waiting"], pm["overdue"], pm["overdue_share"]) == (2, 1, 50.0)
    assess = _step(tables, "assess")
    assert (assess["completed"], assess["median"], assess["p90"], assess["waiting"]) == (2, 2.0, 3.0, 0)


def test_all_time_takes_in_the_older_completions(actors, with_tasks):
    pm = _step(portfolio.analytics(actors["owen"], Period.of("all")), "pm_decision")
    assert (pm["completed"], pm["median"], pm["p90"]) == (4, 7.0, 100.0)  # 2, 4, 10, 100


def test_turnaround_per_person_and_per_role(tables):
    people = {r["person"]: (r["completed"], r["median"], r["p90"]) for r in tables["people"].rows}
    assert people["Maria Garcia" if "Maria Garcia" in people else "maria"] == (2, 3.0, 4.0)
    assert any(v == (1, 10.0, 10.0) for v in people.values())  # sam
    roles = {r["role"]: (r["completed"], r["median"]) for r in tables["roles"].rows}
    assert roles["Project manager"] == (3, 4.0) and roles["PMO analyst"] == (2, 2.0)


def test_rework_counts_steps_sent_back(tables):
    rows = {r["step"]: r for r in tables["rework"].rows}
    pm = rows["Approve (PM tolerance)"]
    assert (pm["instances"], pm["reworked"], pm["repeats"], pm["share"]) == (2, 1, 1, 50.0)
    assert "Assess impact" not in rows


def test_time_in_each_phase(tables):
    phases = {r["phase"]: r for r in tables["phases"].rows}
    initiation = phases["Project initiation"]
    # 1 Nov 09:00 to 6 Nov 09:00 (5 days) and 10 to 12 Nov (2 days): median 3.5, p90 5.
    assert (initiation["instances"], initiation["median"], initiation["p90"]) == (2, 3.5, 5.0)


def test_heat_map_marks_each_step_with_its_level(actors, with_tasks):
    heat = portfolio.heat_map(actors["petra"], "change_request", Period.of("90"))
    assert '<bpmn:process id="change_request"' in heat["xml"]
    assert heat["marks"]["pm_decision"]["level"] == "low" and heat["marks"]["pm_decision"]["waiting"] == 2
    assert heat["marks"]["pm_decision"]["label"] == "2 waiting · 3 done · median 4 h"
    steps = portfolio.step_waits(Period.of("90"))
    assert ("change_request", "Change request") in portfolio.processes_with_tasks(steps)
    assert portfolio.heat_map(actors["petra"], "change_request", Period.of("90"), steps)["marks"] == heat["marks"]


@pytest.mark.parametrize("user", ["maria", "sam", "rita"])
def test_analytics_are_for_the_pmo_process_owners_and_admins(actors, with_tasks, user):
    with pytest.raises(Forbidden):
        portfolio.analytics(actors[user], Period.of("90"))


def test_capacity_by_role_and_person_with_over_allocation(seeded_portfolio):
    cap = portfolio.capacity()
    assert [portfolio.month_label(m) for m in cap.months[:3]] == ["December 2026", "January 2027", "February 2027"]
    fd = next(r for r in cap.by_role.rows if r["name"] == "Frontend developer")
    # Dec and Jan: 2 + 1 (Alpha) + 2 (Beta) = 5 of 4; Feb: 3 of 4; Mar: none. The rejected DBA is not there.
    assert (fd["capacity"], fd["m0"], fd["u0"], fd["m1"], fd["m2"], fd["u2"], fd["m3"]) == (4.0, 5.0, 125.0, 5.0, 3.0, 75.0, 0.0)
    assert fd["over"] == ["m0", "m1"]
    assert [r["name"] for r in cap.by_role.rows] == ["Frontend developer"]
    people = {r["name"]: r for r in cap.by_person.rows}
    assert (people["dana"]["capacity"], people["dana"]["m0"], people["dana"]["over"]) == (1.0, 4.0, ["m0", "m1", "m2"])
    assert (people["erin"]["capacity"], people["erin"]["m0"], people["erin"]["over"]) == (1.5, 1.0, [])
    assert [(r["month"], r["person"], r["projects"]) for r in cap.competing.rows] == [
        ("December 2026", "dana", "ALP-001 Alpha, BET-002 Beta"), ("January 2027", "dana", "ALP-001 Alpha, BET-002 Beta")]


def test_capacity_lists_the_busiest_people_first_and_a_page_the_first_rows(seeded_portfolio):
    from app.projects.models import ResourceAllocation

    # abe (0.5 of 1 FTE, 50 %) comes after dana (400 % in December) and erin (1 of 1.5, 66.7 %).
    db.session.add(ResourceAllocation(project=seeded_portfolio["gamma"], role="DBA", requested_fte=Decimal("0.5"),
                                      fte=Decimal("0.5"), named_resource="abe", start_date=date(2026, 12, 1),
                                      end_date=date(2027, 1, 31), status="approved", decided_by="rita"))
    db.session.commit()
    cap = portfolio.capacity()
    assert [r["name"] for r in cap.by_person.rows] == ["dana", "erin", "abe"] and cap.by_person.more == 0
    token = portfolio._row_limit.set(2)
    try:
        cap = portfolio.capacity()
    finally:
        portfolio._row_limit.reset(token)
    assert [r["name"] for r in cap.by_person.rows] == ["dana", "erin"] and cap.by_person.more == 1
    assert [r["name"] for r in cap.by_role.rows] == ["DBA", "Frontend developer"] and cap.by_role.more == 0
    token = portfolio._row_limit.set(1)
    try:
        competing = portfolio.capacity().competing
    finally:
        portfolio._row_limit.reset(token)
    assert [(r["month"], r["projects"]) for r in competing.rows] == [("December 2026", "ALP-001 Alpha, BET-002 Beta")]
    assert competing.more == 1
    with portfolio.unlimited():
        assert [r["name"] for r in portfolio.capacity().by_person.rows] == ["dana", "erin", "abe"]


def test_the_effect_of_approving_a_resource_request(seeded_portfolio):
    request = [{"role": "Frontend developer", "fte": 1, "start_date": "2027-01-10", "end_date": "2027-03-05"}]
    gamma = portfolio.request_effect(request, seeded_portfolio["gamma"].id)  # holds no Frontend developer
    assert [(e["month"], e["before"], e["after"], e["utilisation_after"], e["over"]) for e in gamma] == [
        ("January 2027", 5.0, 6.0, 150.0, True), ("February 2027", 3.0, 4.0, 100.0, False),
        ("March 2027", 0.0, 1.0, 25.0, False)]
    # Alpha's own 3 FTE (January, February) are replaced when its new plan is decided, not added to.
    alpha = portfolio.request_effect(request, seeded_portfolio["alpha"].id)
    assert [(e["month"], e["before"], e["after"], e["over"]) for e in alpha] == [
        ("January 2027", 5.0, 3.0, False), ("February 2027", 3.0, 1.0, False), ("March 2027", 0.0, 1.0, False)]
