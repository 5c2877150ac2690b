"""The workspace's "You are here": the lifecycle instance's BPMN per level and its marks, only for
those who may see the project, and the current steps in words for pages without JavaScript."""

from __future__ import annotations

import re

from app.people import operations as users
from app.projects import operations as services
from tests.projects.data import CHARTER, d


def _charter_approved(pmo):  # noqa: ANN001, ANN202
    project = services.create_project("Customer portal relaunch", "maria", "sam", pmo.actors["maria"])
    iid = project.lifecycle_instance_id
    pmo.do("maria", iid, "write_charter", d(CHARTER))
    pmo.do("sam", iid, "sponsor_review", {"sponsor_decision": "approve"})
    return project.id


def test_after_the_sponsor_approves_the_marks_show_registration_as_the_current_step(pmo, login):
    pid = _charter_approved(pmo)
    maria = login("maria")
    top = maria.get(f"/projects/{pid}/diagram.json").get_json()
    assert top["process"] == "project_lifecycle" and top["state"] == "current"
    assert top["completed"] == ["start"] and top["current"] == ["initiation"]
    assert top["flows"] == ["Flow_start_initiation"]  # sequence flow ids of the file
    assert top["calls"]["initiation"]["process"] == "project_initiation"
    assert set(top["calls"]) == {"initiation", "planning", "execution", "status_report", "closure"}

    phase = maria.get(top["calls"]["initiation"]["marks_url"]).get_json()
    assert phase["name"] == "Project initiation"
    assert phase["current"] == ["register"]
    [step] = phase["current_steps"]
    assert step["name"] == "Register project" and step["held_by"].startswith("PMO analyst (")  # the role, its members
    assert {"write_charter", "sponsor_review", "sponsor_decides"} <= set(phase["completed"])
    assert "Flow_sponsor_decides_register" in phase["flows"]
    assert "Flow_send_back" not in phase["flows"] and "Flow_sponsor_decides_reject_project" not in phase["flows"]

    later = maria.get(f"/projects/{pid}/diagram.json?process=project_planning").get_json()
    assert later["state"] == "not_reached" and later["completed"] == later["current"] == later["flows"] == []


def test_the_bpmn_is_the_deployed_file_with_readable_step_names(pmo, login):
    pid = _charter_approved(pmo)
    response = login("maria").get(f"/projects/{pid}/diagram.bpmn?process=project_initiation")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'"
    xml = response.get_data(as_text=True)
    assert 'id="project_initiation"' in xml and "sequenceFlow" in xml
    assert not re.search(r'name="[^"]*\{\{', xml) and 'name="Register project"' in xml  # no template in a name


def test_a_project_i_cannot_see_answers_404_and_so_does_an_unknown_level(pmo, login):
    pid = _charter_approved(pmo)
    users.create("sofiasponsor", "sofiasponsor", ["sponsor"], display_name="Sofia Sponsor")  # sponsors nothing here
    sofia = login("sofiasponsor")
    for path in (f"/projects/{pid}/diagram.json", f"/projects/{pid}/diagram.bpmn",
                 f"/projects/{pid}/diagram.json?process=project_initiation", "/projects/999999/diagram.json"):
        assert sofia.get(path).status_code == 404, path
    maria = login("maria")
    assert maria.get(f"/projects/{pid}/diagram.json?process=change_request").status_code == 404  # not a level
    assert maria.get(f"/projects/{pid}/diagram.bpmn?process=../../etc").status_code == 404


def test_the_workspace_says_where_each_level_stands_in_words(pmo, login):
    pid = _charter_approved(pmo)
    maria = login("maria")
    html = maria.html(f"/projects/{pid}")
    section = re.search(r'<section[^>]*id="you-are-here".*?</section>', html, re.S).group(0)
    assert "You are here" in section and 'id="lifecycle-diagram"' in section
    words = re.search(r'data-testid="current-steps">(.*?)</div>', section, re.S).group(1)
    assert "Project lifecycle is at:" in words and "Initiation" in words
    assert f'href="/projects/{pid}?level=project_initiation#you-are-here"' in words  # the phase, a plain link
    assert f'href="/projects/{pid}/diagram.bpmn?process=project_lifecycle"' in words  # the BPMN download
    nav = re.search(r'data-testid="diagram-levels">(.*?)</nav>', section, re.S).group(1)
    assert "Project initiation<span class=\"level-state\">, in progress" in nav
    assert "Project planning<span class=\"level-state\">, not reached yet" in nav
    assert "Quality gate<span class=\"level-state\"> in Project execution, not reached yet" in nav  # a level deeper
    assert "Current step: thick orange outline" in section  # the legend says it in words

    phase = maria.html(f"/projects/{pid}?level=project_initiation")
    words = re.search(r'data-testid="current-steps">(.*?)</div>', phase, re.S).group(1)
    assert "Project initiation is at:" in words and "Register project" in words
    holder = re.search(r"Register project <span class=\"muted\">— with (.*?)</span>", words, re.S)
    assert holder and holder.group(1).startswith("PMO analyst (") and "Petra Novak" in holder.group(1)  # role, members
    assert f'data-marks-url="/projects/{pid}/diagram.json?process=project_initiation"' in phase


def test_a_charter_sent_back_is_current_again_and_the_way_back_is_taken(pmo, login):
    project = services.create_project("Customer portal relaunch", "maria", "sam", pmo.actors["maria"])
    iid = project.lifecycle_instance_id
    pmo.do("maria", iid, "write_charter", d(CHARTER))
    pmo.do("sam", iid, "sponsor_review", {"sponsor_decision": "send_back",
                                          "sponsor_reason": "The benefits need figures, please."})
    phase = login("maria").get(f"/projects/{project.id}/diagram.json?process=project_initiation").get_json()
    assert phase["current"] == ["write_charter"]  # done once, current again: current only
    assert "write_charter" not in phase["completed"] and "sponsor_review" in phase["completed"]
    assert "Flow_send_back" in phase["flows"] and "Flow_sponsor_decides_register" not in phase["flows"]


def test_in_execution_the_fired_status_timer_and_the_quality_gate_are_marked(pmo, login):
    from tests.projects.data import STATUS_GREEN
    from tests.projects.test_phases import planned_project, reach_milestone

    pid, iid = planned_project(pmo)
    pmo.fire_timers(iid, days=15)
    pmo.do("maria", iid, "report", d(STATUS_GREEN))
    reach_milestone(pmo, iid)
    maria = login("maria")
    top = maria.get(f"/projects/{pid}/diagram.json").get_json()
    assert top["current"] == ["execution"]  # the armed status timer is not where the project stands
    assert {"initiation", "planning", "status_cycle", "status_report", "end_status"} <= set(top["completed"])
    assert {"Flow_planning_execution", "Flow_status_cycle_status_report", "Flow_status_report_end_status"} <= set(
        top["flows"])
    execution = maria.get(top["calls"]["execution"]["marks_url"]).get_json()
    assert execution["current"] == ["quality_gate"] and "quality_gate" in execution["calls"]
    gate = maria.get(execution["calls"]["quality_gate"]["marks_url"]).get_json()
    assert gate["current"] == ["submit_evidence"] and gate["state"] == "current"
