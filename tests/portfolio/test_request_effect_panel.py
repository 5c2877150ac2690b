"""The resource request's panel on its task page: the effect of approving it on capacity, against the
figures worked out by hand from the seeded allocations (conftest.py), and who sees it.

Frontend developer, capacity 4: Alpha holds 2 (dana) + 1 (erin) from November to February, Beta 2
(dana) in December and January. Allocated now: December 5, January 5, February 3, March 0.
The request under review: Frontend developer, 1.5 FTE, 15 December 2026 to 10 March 2027.
"""

from __future__ import annotations

from typing import Any

import pytest
from lxml import html as lxml_html

from app.definitions import operations as definitions
from app.instances import commands as instances
from app.people import operations as users
from app.portfolio import queries as portfolio
from tests.projects.conftest import FORMS, WORKFLOWS, Driver, initiated_project
from tests.projects.data import BASELINE, d
from tests.support.web import Browser

REQUEST = {"role": "Frontend developer", "fte": 1.5, "start_date": "2026-12-15", "end_date": "2027-03-10",
           "skills": "React"}
ARCHITECT = {"role": "Solution architect", "fte": 0.5, "start_date": "2027-01-04", "end_date": "2027-01-29"}


@pytest.fixture
def review(portfolio_app, seeded_portfolio, web, actors) -> dict[str, Any]:
    """A new project's plan with two resource requests, waiting for the resource manager."""
    definitions.deploy_directory([WORKFLOWS, FORMS], "admin")
    driver = Driver(actors)
    pid, iid = initiated_project(driver)
    driver.do("maria", iid, "prepare_plan", d(BASELINE) | {"resource_requests": [d(REQUEST), d(ARCHITECT)]})
    tasks = {driver.task_data(t)["resource_request"]["role"]: t for t in driver.tasks(iid, "review_resources")}
    return {"project_id": pid, "instance_id": iid, "tasks": tasks, "driver": driver,
            "page": lambda user: Browser(web, user)}


def _rows(page: str, testid: str) -> list[list[str]]:
    """The body rows of a table on the page, each cell's text with its white space folded."""
    table = lxml_html.fromstring(page).xpath(f'//*[@data-testid="{testid}"]')[0]
    return [[" ".join(cell.text_content().split()) for cell in row.xpath("./th|./td")]
            for row in table.xpath("./tbody/tr")]


def _text(page: str, testid: str) -> str:
    found = lxml_html.fromstring(page).xpath(f'//*[@data-testid="{testid}"]')
    return " ".join(found[0].text_content().split()) if found else ""


def test_the_resource_manager_sees_utilisation_before_and_after_by_month(review):
    task = review["tasks"]["Frontend developer"]
    page = review["page"]("rita").html(f"/tasks/{task.id}")
    assert "Approving adds 1.5 FTE of Frontend developer from Dec 15, 2026 to Mar 10, 2027." in _text(
        page, "request-effect")
    assert _rows(page, "effect-months") == [
        ["December 2026 Over capacity", "4", "5", "125%", "6.5", "162.5% over by 2.5 FTE"],
        ["January 2027 Over capacity", "4", "5", "125%", "6.5", "162.5% over by 2.5 FTE"],
        ["February 2027 Over capacity", "4", "3", "75%", "4.5", "112.5% over by 0.5 FTE"],
        ["March 2027", "4", "0", "0%", "1.5", "37.5%"],
    ]
    assert _text(page, "effect-summary") == ("Over capacity in 3 of 4 months if approved: December 2026, "
                                             "January 2027 and February 2027.")
    assert _rows(page, "effect-competing") == [
        ["ALP-001 Alpha", "dana", "2", "Nov 1, 2026", "Feb 28, 2027"],
        ["ALP-001 Alpha", "erin", "1", "Nov 1, 2026", "Feb 28, 2027"],
        ["BET-002 Beta", "dana", "2", "Dec 1, 2026", "Jan 31, 2027"],
    ]
    assert 'href="/portfolio/resources?from=2026-12"' in page
    assert "effect-replaces" not in page   # the new project holds nothing yet
    # The panel comes before the form, and nothing on it is an id or a variable name.
    assert page.index('data-testid="request-effect"') < page.index('id="form-title"')
    panel = _text(page, "request-effect")
    assert "_" not in panel and "{{" not in panel and "2026-12" not in panel


def test_a_request_within_capacity_says_so(review):
    task = review["tasks"]["Solution architect"]
    page = review["page"]("petra").html(f"/tasks/{task.id}")   # the PMO may see the capacity page too
    assert _rows(page, "effect-months") == [["January 2027", "2", "0", "0%", "0.5", "25%"]]
    assert _text(page, "effect-summary") == "Within capacity in every month if approved."
    assert "None: no other project holds this role in these months." in page


def test_without_the_capacity_role_the_task_shows_no_figures(review, actors):
    task = review["tasks"]["Frontend developer"]
    instances.claim(task.id, actors["rita"])
    users.update("rita", actor="admin", roles=["sponsor"])   # rita keeps the task she holds, not the role
    page = review["page"]("rita").html(f"/tasks/{task.id}")
    assert "Resource request decision" in page             # she still sees the task and its form
    assert 'data-testid="request-effect"' not in page and "Effect on capacity" not in page
    assert "125%" not in page and "ALP-001 Alpha" not in page
    assert review["page"]("maria").get(f"/tasks/{task.id}").status_code == 404  # not hers to see at all


def test_a_decided_request_shows_no_forecast(review, actors):
    task = review["tasks"]["Solution architect"]
    review["driver"].do("rita", review["instance_id"], "review_resources", {"resource_decision": {"decision": "approve"}},
                        task=task)
    page = review["page"]("rita").html(f"/tasks/{task.id}")
    assert 'data-testid="request-effect"' not in page


def test_the_project_s_current_allocations_are_replaced_not_added(seeded_portfolio):
    """Alpha re-plans: its own 3 FTE go when its new plan is decided, so January is 5 - 3 + 1."""
    request = portfolio.ResourceRequest.of({"role": "Frontend developer", "fte": 1, "start_date": "2027-01-10",
                                           "end_date": "2027-01-20"})
    effect = portfolio.effect_of_request(request, seeded_portfolio["alpha"].id)
    (january,) = effect.months.rows
    assert (january["allocated"], january["own"], january["after"], january["over"]) == (5.0, 3.0, 3.0, False)
    assert effect.replaces
    assert [r["project"] for r in effect.competing.rows] == ["BET-002 Beta"]


@pytest.mark.parametrize("value", [
    None, "Frontend developer", {"role": "", "fte": 1, "start_date": "2027-01-01", "end_date": "2027-02-01"},
    {"role": "X", "fte": True, "start_date": "2027-01-01", "end_date": "2027-02-01"},
    {"role": "X", "fte": "nan", "start_date": "2027-01-01", "end_date": "2027-02-01"},
    {"role": "X", "fte": 1e9, "start_date": "2027-01-01", "end_date": "2027-02-01"},
    {"role": "X", "fte": 1, "start_date": "2027-02-01", "end_date": "2027-01-01"},
    {"role": "X", "fte": 1, "start_date": "soon", "end_date": "2027-01-01"},
    {"role": ["X"], "fte": 1, "start_date": "2027-01-01", "end_date": "2027-02-01"},
])
def test_a_request_out_of_shape_is_not_read(value):
    assert portfolio.ResourceRequest.of(value) is None


def test_a_long_request_lists_three_years_and_says_how_many_more(seeded_portfolio):
    request = portfolio.ResourceRequest.of({"role": "DBA", "fte": 0.5, "start_date": "0001-01-01",
                                           "end_date": "9999-12-31"})
    effect = portfolio.effect_of_request(request, None)
    assert len(effect.months.rows) == portfolio.MAX_EFFECT_MONTHS
    assert len(effect.months.rows) + effect.months_left_off == 9999 * 12
