"""Journeys through the REAL PMO lifecycle processes (workflows/ and forms/) in Chromium, against a
live server: the sponsor sends the charter back (a reason is required), the PM reworks it and the
sponsor authorises it, after which the PMO gets the registration task; and the change control board
votes on a large change request, which is approved and moves the project's budget.

The set-up before each journey (a project with a submitted charter; a project in planning with an
assessed large change request) runs through the services, as in tests/projects. Screenshots:
test-output/screenshots/lifecycle-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

import app.projects  # noqa: F401 - registers the project tables and the pmo/... operators
from app.core.extensions import db
from app.instances import commands as instances
from app.people import queries as user_queries
from app.projects import operations as projects
from app.projects.models import Project
from tests.browser.conftest import SCREENSHOTS, serving, shipped_app, sign_in
from tests.projects.data import CHANGE, CHARTER, REGISTER, assessment, d

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHARTER_NAME = "Customer portal relaunch"
PLANNING_NAME = "Data platform consolidation"
SEND_BACK_REASON = "Quantify the benefits and add the migration of dormant accounts to the scope."
REWORKED_SCOPE = ("New customer portal, single sign-on, address and payment self-service, migration of all "
                  "accounts including dormant ones.")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    app = shipped_app(tmp_path_factory, "lifecycle")
    with app.app_context():
        actor = {u: instances.Actor.of(user_queries.get(u)) for u in ("maria", "sam", "petra")}

        # Journey 1: maria has submitted the charter; the sponsor's decision is open for sam.
        charter = projects.create_project(CHARTER_NAME, "maria", "sam", actor["maria"])
        lifecycle = charter.lifecycle_instance_id
        _complete(lifecycle, "write_charter", actor["maria"], d(CHARTER))
        assert [t.element_id for t in instances.ready_tasks(lifecycle)] == ["sponsor_review"]

        # Journey 2: a project in planning, with a large change request raised and assessed by maria.
        planned = projects.create_project(PLANNING_NAME, "maria", "sam", actor["maria"])
        planned_lifecycle = planned.lifecycle_instance_id
        _complete(planned_lifecycle, "write_charter", actor["maria"], d(CHARTER) | {"project_name": PLANNING_NAME})
        _complete(planned_lifecycle, "sponsor_review", actor["sam"], {"sponsor_decision": "approve"})
        _complete(planned_lifecycle, "register", actor["petra"], d(REGISTER) | {"project_code": "DAT-0007"})
        change = projects.start_change_request(planned.id, actor["maria"], d(CHANGE) | {
            "cr_title": "Move the warehouse to the cloud", "cr_description": "Run the data warehouse on managed cloud "
            "services instead of the on-premise cluster.", "cr_reason": "The cluster is out of support next year.",
            "cost_impact": 60000, "schedule_impact_days": 10, "risk_impact": "medium"})
        _complete(change.id, "assess", actor["maria"], assessment(60000, 10, "medium"))
        ballots = sorted(t.assignee for t in instances.ready_tasks(change.id) if t.element_id == "ccb_vote_task")
        assert ballots == ["carla", "chen"]
        ids = {"project": charter.id, "lifecycle": lifecycle, "planned": planned.id, "change": change.id}
        db.session.remove()
    with serving(app, "pmo-lifecycle-journeys") as url:
        yield {"url": url, "app": app, **ids}


def _complete(instance_id: int, element_id: str, actor: instances.Actor, data: dict) -> None:
    task = next(t for t in instances.ready_tasks(instance_id) if t.element_id == element_id)
    instances.complete(task.id, actor, data)


def shot(page, name: str) -> None:  # noqa: ANN001
    page.screenshot(path=str(SCREENSHOTS / f"lifecycle-{name}.png"), full_page=True)


def open_from_inbox(page, url: str, view: str, title: str) -> None:  # noqa: ANN001
    """Find the task's one row in an inbox view and open the task from it."""
    from playwright.sync_api import expect

    page.goto(f"{url}/inbox?view={view}")
    row = page.get_by_role("row", name=re.compile(re.escape(title)))
    expect(row).to_have_count(1)
    row.get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", level=1, name=title)).to_be_visible()


def test_sponsor_sends_charter_back_pm_reworks_sponsor_authorises(live, new_page) -> None:
    from playwright.sync_api import expect

    url = live["url"]
    review_title = f"Authorise charter: {CHARTER_NAME}"
    charter_title = f"Write project charter: {CHARTER_NAME}"

    # sam finds the charter decision in his inbox and sees the charter maria submitted
    sam = new_page()
    sign_in(sam, url, "sam")
    sam.goto(f"{url}/inbox?view=mine")
    expect(sam.get_by_role("row", name=re.compile(re.escape(review_title)))).to_be_visible()
    shot(sam, "charter-sponsor-inbox")
    open_from_inbox(sam, url, "mine", review_title)
    instructions = sam.locator("section.instructions")
    expect(instructions).to_contain_text(f"Charter of {CHARTER_NAME}")
    expect(instructions).to_contain_text("Cut call-centre volume by 20 % within a year")
    expect(instructions).to_contain_text("Mobile apps; billing engine changes.")
    expect(sam.get_by_role("heading", name="Earlier steps in this process")).to_be_visible()
    expect(sam.locator(".timeline")).to_contain_text(charter_title)

    # send back without a reason: the error sits at the reason field, the decision stays chosen
    sam.get_by_label("Send back to the PM").check()
    sam.get_by_role("button", name="Submit").click()
    expect(sam.get_by_role("alert")).to_contain_text("The form has errors")
    expect(sam.locator("#field-sponsor_reason-error")).to_be_visible()
    expect(sam.locator("#field-sponsor_reason")).to_have_attribute("aria-invalid", "true")
    expect(sam.get_by_label("Send back to the PM")).to_be_checked()
    sam.wait_for_timeout(300)
    shot(sam, "charter-sponsor-reason-missing")

    sam.locator("#field-sponsor_reason").fill(SEND_BACK_REASON)
    sam.get_by_role("button", name="Submit").click()
    expect(sam).to_have_url(re.compile(r"/inbox\?"))
    expect(sam.get_by_test_id("completed-banner")).to_contain_text(review_title)
    with live["app"].app_context():
        assert [(t.element_id, t.assignee) for t in instances.ready_tasks(live["lifecycle"])] == [
            ("write_charter", "maria")]
        db.session.remove()

    # maria gets the charter back, sees why, changes the scope and resubmits
    maria = new_page()
    sign_in(maria, url, "maria")
    open_from_inbox(maria, url, "mine", charter_title)
    expect(maria.locator("#field-sponsor_note")).to_contain_text(SEND_BACK_REASON)
    expect(maria.locator("section.instructions")).to_contain_text(SEND_BACK_REASON)
    expect(maria.locator("#field-project_name")).to_have_value(CHARTER_NAME)
    expect(maria.locator("#field-budget_estimate")).to_have_value(re.compile(r"^650000(\.0)?$"))
    maria.locator("#field-scope_in").fill(REWORKED_SCOPE)
    maria.locator("#field-budget_estimate").fill("690000")
    shot(maria, "charter-pm-rework")
    maria.get_by_role("button", name="Submit").click()
    expect(maria.get_by_test_id("completed-banner")).to_contain_text(charter_title)

    # sam sees the reworked charter and authorises it
    open_from_inbox(sam, url, "mine", review_title)
    expect(sam.locator("section.instructions")).to_contain_text("dormant ones")
    # A returning decision step starts clean: no reason and no decision chosen from the last round.
    expect(sam.locator("#field-sponsor_reason")).to_have_value("")
    expect(sam.get_by_label("Send back to the PM")).not_to_be_checked()
    expect(sam.get_by_label("Authorise the project")).not_to_be_checked()
    shot(sam, "charter-sponsor-second-review")
    sam.get_by_label("Authorise the project").check()
    sam.get_by_role("button", name="Submit").click()
    expect(sam.get_by_test_id("completed-banner")).to_contain_text(review_title)
    sam.goto(f"{url}/inbox?view=completed")
    expect(sam.get_by_role("row", name=re.compile(re.escape(review_title)))).to_have_count(2)

    # the project moved on: the PMO registration task is offered to petra
    petra = new_page()
    sign_in(petra, url, "petra")
    register_title = f"Register project: {CHARTER_NAME}"
    open_from_inbox(petra, url, "available", register_title)
    expect(petra.locator("aside")).to_contain_text("Initiation")
    shot(petra, "charter-pmo-register")
    with live["app"].app_context():
        assert [t.element_id for t in instances.ready_tasks(live["lifecycle"])] == ["register"]
        project = db.session.get(Project, live["project"])
        assert project.phase == "initiation"
        assert project.charter.get("scope_in") == REWORKED_SCOPE
        assert float(project.budget_estimate) == 690000
        db.session.remove()


def test_ccb_members_vote_and_large_change_is_approved(live, new_page) -> None:
    from playwright.sync_api import expect

    url = live["url"]
    vote_title = "CCB vote on CR-001"
    plan_title = f"Prepare plan baseline: {PLANNING_NAME}"

    maria = new_page()
    sign_in(maria, url, "maria")
    open_from_inbox(maria, url, "mine", plan_title)
    expect(maria.locator("aside")).to_contain_text(re.compile(r"Budget\s*€650,000"))

    # carla's ballot is hers already (one per member): open it from 'mine'
    carla = new_page()
    sign_in(carla, url, "carla")
    carla.goto(f"{url}/inbox?view=available")
    expect(carla.get_by_role("row", name=re.compile(vote_title))).to_have_count(0)
    open_from_inbox(carla, url, "mine", vote_title)
    instructions = carla.locator("section.instructions")
    expect(instructions).to_contain_text("Move the warehouse to the cloud")
    expect(instructions).to_contain_text("routed to ccb")
    expect(carla.get_by_test_id("assignee")).to_have_text("carla")
    carla.get_by_label("Approve", exact=True).check()
    carla.locator("#field-ccb_vote-comment").fill("Worth it: the hosting savings pay for it in two years.")
    shot(carla, "ccb-vote-carla")
    carla.get_by_role("button", name="Submit").click()
    expect(carla.get_by_test_id("completed-banner")).to_contain_text(vote_title)

    # chen abstains: a comment is required for that
    chen = new_page()
    sign_in(chen, url, "chen")
    open_from_inbox(chen, url, "mine", vote_title)
    chen.get_by_label("Abstain", exact=True).check()
    chen.get_by_role("button", name="Submit").click()
    expect(chen.get_by_role("alert")).to_contain_text("The form has errors")
    expect(chen.locator("#field-ccb_vote-comment-error")).to_be_visible()
    expect(chen.get_by_label("Abstain", exact=True)).to_be_checked()
    chen.locator("#field-ccb_vote-comment").fill("I advised on the vendor selection, so I abstain.")
    chen.get_by_role("button", name="Submit").click()
    expect(chen.get_by_test_id("completed-banner")).to_contain_text(vote_title)
    chen.goto(f"{url}/inbox?view=completed")
    expect(chen.get_by_role("row", name=re.compile(vote_title))).to_be_visible()

    # the outcome: approved by the CCB, the budget baseline moved by the assessed cost
    with live["app"].app_context():
        project = db.session.get(Project, live["planned"])
        cr = project.change_requests[-1]
        assert (cr.reference, cr.status, cr.route) == ("CR-001", "approved", "ccb")
        assert sorted((x.decided_by, x.decision) for x in cr.decisions if x.kind == "ccb_vote") == [
            ("carla", "approve"), ("chen", "abstain")]
        assert float(project.budget_baseline) == 710000
        assert cr.applied_baseline_version == project.baseline_version
        assert instances.get(live["change"]).status == "completed"
        db.session.remove()
    open_from_inbox(maria, url, "mine", plan_title)
    expect(maria.locator("aside")).to_contain_text(re.compile(r"Budget\s*€710,000"))
    shot(maria, "ccb-outcome-budget")


def test_task_page_draws_the_phase_diagram_with_this_step_highlighted(live, new_page) -> None:
    """bpmn-js (installed from npm, served from /vendor) draws the called process of a phase task."""
    from playwright.sync_api import expect

    url = live["url"]
    maria = new_page()
    sign_in(maria, url, "maria")
    open_from_inbox(maria, url, "mine", f"Prepare plan baseline: {PLANNING_NAME}")
    diagram = maria.locator("#diagram")
    expect(diagram).to_have_class(re.compile(r"\bloaded\b"), timeout=20_000)
    with live["app"].app_context():
        task = next(t for t in instances.ready_tasks(_lifecycle_of(PLANNING_NAME)) if t.title.startswith("Prepare"))
        element_id, process_id = task.element_id, task.bpmn_process_id
    assert process_id == "project_planning"
    highlighted = diagram.locator(f'.djs-element.current-step[data-element-id="{element_id}"]')
    expect(highlighted).to_have_count(1)
    expect(diagram.locator('[data-element-id="sponsor_signoff"]')).to_have_count(1)  # a planning step, drawn
    shot(maria, "phase-diagram-highlighted")


def _lifecycle_of(name: str) -> int:
    return db.session.scalars(select(Project.lifecycle_instance_id).where(Project.name == name)).one()
