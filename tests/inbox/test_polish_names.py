"""People read names, not machine names (issue 16 items 5 and 6): no step ids or business keys in
the task subtitle or the inbox, the form's own titles in "Earlier steps", no "Closed (Closed)", no
raw template in a diagram label, and no empty code badge for a project without a code."""

from __future__ import annotations

import re

from app.inbox.diagram_names import readable_name, stripped
from app.instances.models import TaskStatus
from tests.support.web import task_at as _task


def _visible(html: str) -> str:
    html = re.search(r"<main.*?</main>", html, re.S).group(0)
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_task_subtitle_names_the_process_and_project_not_ids(seeded, login):
    task = _task("sponsor_review")                       # sam: the customer portal's charter
    html = login("sam").html(f"/tasks/{task.id}")
    meta = re.search(r'<p class="muted task-meta"[^>]*>(.*?)</p>', html, re.S).group(1)
    assert "sponsor_review" not in meta and "project:" not in meta and "instance #" not in meta, meta
    assert "Project initiation" in meta and "Customer portal relaunch" in meta


def test_earlier_steps_use_the_forms_titles(seeded, login):
    task = _task("ccb_vote_task")
    text = _visible(login("carla").html(f"/tasks/{task.id}"))
    earlier = text.split("Earlier steps in this process", 1)[1]
    for machine in ("Cr title", "Pm recommendation", "Cr description"):
        assert machine not in earlier, machine


def test_the_inbox_shows_no_step_ids(seeded, login):
    text = _visible(login("quinn").html("/inbox?view=all"))
    assert "quality_review" not in text and "Quality review" in text


def test_phase_and_status_read_once_when_they_are_the_same(seeded, login):
    closed = _task("admin_close", TaskStatus.COMPLETED)
    text = _visible(login("admin").html(f"/tasks/{closed.id}"))
    assert "Closed (Closed)" not in text


def test_no_empty_code_badge_for_a_project_without_a_code(seeded, login):
    task = _task("sponsor_review")                       # the customer portal has no code yet
    html = login("sam").html(f"/tasks/{task.id}")
    assert not re.search(r'<span class="project-code">\s*</span>', html)
    inbox = login("sam").html("/inbox?view=all")
    assert not re.search(r'<span class="project-code">\s*</span>', inbox)


def test_diagram_labels_carry_no_template(seeded, login):
    task = _task("report")
    browser = login("maria")
    xml = browser.get(f"/tasks/{task.id}/diagram.bpmn").get_data(as_text=True)
    names = re.findall(r'\bname="([^"]*)"', xml)
    assert names and not [n for n in names if "{{" in n or "{%" in n]
    assert 'name="Status report: DCM-0058 Data centre migration"' in xml


def test_template_names_are_rendered_or_tidied():
    assert readable_name("Approve {{ cr_reference }} (sponsor)", {"cr_reference": "CR-7"}) == "Approve CR-7 (sponsor)"
    assert readable_name("Approve {{ cr_reference }} (sponsor)", {}) == "Approve (sponsor)"
    assert stripped("Submit change request for {{ project_code }}") == "Submit change request"
    assert stripped("Resource request: {{ r.role }} ({{ r.fte }} FTE)") == "Resource request"
