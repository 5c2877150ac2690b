"""window.PmoStudio in Chromium: the PMO Flow properties group edits what the engine reads, problems
show on the element (badge with the message, and in the panel), bpmnlint reports, the viewer marks
elements and says when a diagram has no layout, and the DMN editor checks hit policies."""

from __future__ import annotations

import re

import pytest
from lxml import etree

from tests.browser.conftest import SCREENSHOTS
from tests.studio.bundle_page import BPMN, FORMS, SPIFF, WORKFLOWS, bundle_app, serve, watch_console

pytestmark = pytest.mark.browser

CONTEXT = {
    "forms": sorted(p.name for p in FORMS.glob("*.json")),
    "decisions": [{"id": "change_approval_route", "name": "Change approval route"}, "project_priority"],
    "operators": [{"name": "pmo/RegisterChangeRequest", "parameters": ["project_id", "title", "description"]},
                  {"name": "pmo/SendReminder", "parameters": ["recipient", "subject"]}],
    "roles": [{"name": "project_manager", "label": "Project manager"}, {"name": "sponsor", "label": "Project sponsor"},
              {"name": "pmo", "label": "PMO analyst"}, {"name": "ccb_member", "label": "Change control board member"}],
}

OPEN = """async ([xml, context]) => {
  window.editor = await PmoStudio.modeler(document.getElementById('canvas'), document.getElementById('panel'), xml, context);
  window.changes = 0;
  window.editor.onChange(() => { window.changes += 1; });
}"""

NO_LAYOUT = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="s"/></bpmn:process>
</bpmn:definitions>"""


@pytest.fixture(scope="module")
def bundle_url():
    with serve(bundle_app()) as url:
        yield url


@pytest.fixture
def page(new_page, bundle_url):  # noqa: ANN001, ANN201
    page = new_page()
    errors = watch_console(page)
    page.goto(bundle_url)
    page.wait_for_function("() => typeof window.PmoStudio === 'object'")
    yield page
    assert not errors, errors


def open_change_request(page) -> None:  # noqa: ANN001
    page.evaluate(OPEN, [(WORKFLOWS / "change_request.bpmn").read_text(), CONTEXT])


def saved(page) -> etree._Element:  # noqa: ANN001
    return etree.fromstring(page.evaluate("() => window.editor.getXML()").encode())


def test_a_user_task_shows_its_form_and_a_new_choice_is_saved(page) -> None:  # noqa: ANN001
    open_change_request(page)
    page.evaluate("() => window.editor.select('submit')")
    panel = page.locator("#panel")
    group = panel.locator(".bio-properties-panel-group", has_text="PMO Flow")
    form = group.get_by_label("Form (JSON Schema)")
    assert form.is_visible()  # the PMO Flow group opens by itself
    assert form.input_value() == "change-submit-schema.json"
    assert group.get_by_label("Form layout (UI schema)").input_value() == "change-submit-uischema.json"
    # Only JSON Schema files are offered for the schema, only UI schemas for the layout.
    options = form.locator("option").all_inner_texts()
    assert "change-outcome-schema.json" in options and not any("uischema" in o for o in options)
    assert "Change request for {{ project_code }}" in group.get_by_label("Instructions (Markdown)").input_value()
    page.screenshot(path=SCREENSHOTS / "studio-properties-user-task.png")

    form.select_option("change-outcome-schema.json")
    group.get_by_label("Due in").fill("P2D")
    page.wait_for_function("() => window.changes >= 2")
    root = saved(page)
    props = {p.get("name"): p.get("value") for p in root.findall(
        f".//{{{BPMN}}}userTask[@id='submit']//{{{SPIFF}}}property")}
    assert props == {"formJsonSchemaFilename": "change-outcome-schema.json",
                     "formUiSchemaFilename": "change-submit-uischema.json", "dueIn": "P2D"}
    # Undo takes the last change back: each edit is one command on bpmn-js's stack.
    page.evaluate("() => window.editor.modeler.get('commandStack').undo()")
    props = {p.get("name"): p.get("value") for p in saved(page).findall(
        f".//{{{BPMN}}}userTask[@id='submit']//{{{SPIFF}}}property")}
    assert "dueIn" not in props


def open_group(page, name: str):  # noqa: ANN001, ANN201
    group = page.locator("#panel .bio-properties-panel-group", has_text=name)
    header = group.locator(".bio-properties-panel-group-header").first
    if "open" not in (header.get_attribute("class") or ""):
        header.click()
    return group


def test_service_task_operator_parameters_and_lane_role(page) -> None:  # noqa: ANN001
    open_change_request(page)
    page.evaluate("() => window.editor.select('register_cr')")
    group = open_group(page, "PMO Flow")
    assert group.get_by_label("Operator").input_value() == "pmo/RegisterChangeRequest"
    assert group.get_by_label("Result variable").input_value() == "cr"
    assert group.get_by_label("title", exact=True).input_value() == "cr_title"
    # Parameters the operator names are offered even when the task does not set them yet; the
    # ones it sets beyond them stay editable.
    assert group.get_by_label("requested_by", exact=True).input_value() == "requested_by"
    group.get_by_label("title", exact=True).fill("cr_title.strip()")
    page.wait_for_function("() => window.changes >= 1")
    params = {p.get("id"): p.get("value") for p in saved(page).findall(
        f".//{{{BPMN}}}serviceTask[@id='register_cr']//{{{SPIFF}}}parameter")}
    assert params["title"] == "cr_title.strip()" and params["project_id"] == "project_id"

    page.evaluate("() => window.editor.select('Lane_sponsor')")
    group = open_group(page, "PMO Flow")
    role = group.get_by_label("Role")
    assert role.input_value() == "sponsor"
    labels = role.locator("option").all_inner_texts()
    assert "Project sponsor" in labels and "Whoever started the process" in labels
    role.select_option("pmo")
    page.wait_for_function("() => window.changes >= 2")
    lane = saved(page).find(f".//{{{BPMN}}}lane[@id='Lane_sponsor']")
    assert lane.get("name") == "pmo"


def test_gateway_condition_timer_and_script(page) -> None:  # noqa: ANN001
    open_change_request(page)
    root = etree.fromstring((WORKFLOWS / "change_request.bpmn").read_bytes())
    flow = next(f for f in root.iter(f"{{{BPMN}}}sequenceFlow") if f.find(f"{{{BPMN}}}conditionExpression") is not None)
    page.evaluate("(id) => window.editor.select(id)", flow.get("id"))
    group = open_group(page, "PMO Flow")
    condition = group.get_by_label("Condition (Python expression)")
    assert condition.input_value() == flow.findtext(f"{{{BPMN}}}conditionExpression")
    condition.fill("approval_route == 'ccb' and True")
    page.wait_for_function("() => window.changes >= 1")
    after = saved(page).find(f".//{{{BPMN}}}sequenceFlow[@id='{flow.get('id')}']/{{{BPMN}}}conditionExpression")
    assert after.text == "approval_route == 'ccb' and True"

    # Making it the gateway's default flow drops its condition (the engine takes it when none holds).
    group.get_by_label("Default flow").check()
    page.wait_for_function("() => window.changes >= 2")
    after = saved(page)
    gateway = after.find(f".//*[@id='{flow.get('id')}']")
    source = after.find(f".//*[@id='{gateway.get('sourceRef')}']")
    assert source.get("default") == flow.get("id") and gateway.find(f"{{{BPMN}}}conditionExpression") is None
    assert group.get_by_label("Condition (Python expression)").count() == 0

    timer_event = next(e for e in root.iter(f"{{{BPMN}}}boundaryEvent")
                       if e.find(f"{{{BPMN}}}timerEventDefinition") is not None)
    page.evaluate("(id) => window.editor.select(id)", timer_event.get("id"))
    group = open_group(page, "PMO Flow")
    assert group.get_by_label("Timer", exact=True).input_value() == "timeDate"
    expression = group.get_by_label("Timer expression (Python)")
    assert expression.input_value() == "working_days_from_now(2)"
    expression.fill("working_days_from_now(3)")
    page.wait_for_function("() => window.changes >= 3")
    timer = saved(page).find(f".//{{{BPMN}}}boundaryEvent[@id='{timer_event.get('id')}']//{{{BPMN}}}timeDate")
    assert timer.text == "working_days_from_now(3)"

    page.evaluate("() => window.editor.select('tally')")
    group = open_group(page, "PMO Flow")
    assert "ccb_vote_list = " in group.get_by_label("Script (Python)", exact=True).input_value()


def test_problems_show_on_the_element_and_in_the_panel(page) -> None:  # noqa: ANN001
    open_change_request(page)
    result = page.evaluate("""() => window.editor.showProblems([
      {element: 'route_gw', message: "condition: invalid syntax (approval_route = 'pm')", severity: 'error'},
      {element: 'assess', message: 'dueIn is not an ISO 8601 duration', severity: 'warning'},
      {element: 'change_request', message: 'startableBy names no role', severity: 'warning'},
      {element: 'nowhere', message: 'file-level problem', severity: 'error'}])""")
    assert [p["element"] for p in result["unplaced"]] == ["nowhere"]
    # The engine names the process; the canvas draws it as its pool.
    assert page.locator(".djs-overlays[data-container-id='Participant_change_request'] .pmo-badge--warning").count() == 1
    assert page.evaluate("() => window.editor.describe('change_request')") == "participant “Change request”"
    assert page.evaluate("() => window.editor.describe('end_reminded_pm')") == "unnamed end event"
    gateway = page.locator(".djs-overlay-container [data-container-id='route_gw'] .pmo-badge--error")
    assert gateway.count() == 1
    gateway.hover()
    tip = gateway.locator(".pmo-badge-tip")
    assert tip.is_visible() and "invalid syntax" in tip.inner_text()
    assert page.locator("[data-element-id='route_gw'].pmo-has-error").count() == 1
    assert page.locator(".djs-overlay-container [data-container-id='assess'] .pmo-badge--warning").count() == 1
    page.screenshot(path=SCREENSHOTS / "studio-problem-badge.png")

    page.evaluate("() => window.editor.select('route_gw')")
    problems = page.locator("#panel .bio-properties-panel-group", has_text="Problems (1)")
    assert problems.count() == 1
    open_group(page, "Problems (1)")
    assert "invalid syntax" in problems.inner_text()
    page.screenshot(path=SCREENSHOTS / "studio-problem-panel.png")

    page.evaluate("() => window.editor.showProblems([])")
    assert page.locator(".pmo-badge").count() == 0
    assert page.locator(".pmo-has-error").count() == 0


def test_lint_reports_a_disconnected_task_as_a_warning(page) -> None:  # noqa: ANN001
    open_change_request(page)
    findings = page.evaluate("""async () => {
      const m = window.editor.modeler;
      const flows = m.get('elementRegistry').filter(e => e.type === 'bpmn:SequenceFlow'
        && (e.target.id === 'tally' || e.source.id === 'tally'));
      m.get('modeling').removeElements(flows);
      return window.editor.lint();
    }""")
    on_tally = [f for f in findings if f["element"] == "tally"]
    assert on_tally and all(f["severity"] == "warning" for f in on_tally)
    assert any(f["rule"] == "no-disconnected" for f in on_tally)


def test_viewer_marks_elements_and_says_when_there_is_no_layout(page) -> None:  # noqa: ANN001
    result = page.evaluate("""async (xml) => {
      const r = await PmoStudio.viewer(document.getElementById('canvas'), xml,
        {marks: {assess: 'changed', route_gw: 'added', submit: 'path', tally: 'removed', nothing_here: 'added'}});
      return {hasLayout: r.hasLayout};
    }""", (WORKFLOWS / "change_request.bpmn").read_text())
    assert result == {"hasLayout": True}
    assert page.locator("[data-element-id='assess'].pmo-mark-changed").count() == 1
    assert page.locator("[data-element-id='route_gw'].pmo-mark-added").count() == 1
    assert page.locator("[data-element-id='tally'].pmo-mark-removed").count() == 1
    page.screenshot(path=SCREENSHOTS / "studio-viewer-marks.png")
    result = page.evaluate("""async (xml) => {
      const box = document.getElementById('dmn');
      const r = await PmoStudio.viewer(box, xml);
      return {hasLayout: r.hasLayout, children: box.children.length};
    }""", NO_LAYOUT)
    assert result == {"hasLayout": False, "children": 0}


HIT_POLICY = """async ([xml, policy, aggregation, outputs]) => {
  const doc = new DOMParser().parseFromString(xml, 'application/xml');
  const table = doc.getElementsByTagName('decisionTable')[0];
  if (policy === null) table.removeAttribute('hitPolicy'); else table.setAttribute('hitPolicy', policy);
  if (aggregation) table.setAttribute('aggregation', aggregation);
  const out = [...table.getElementsByTagName('output')];
  for (const extra of out.slice(outputs)) {
    const index = out.indexOf(extra);
    for (const rule of table.getElementsByTagName('rule')) rule.getElementsByTagName('outputEntry')[index].remove();
    extra.remove();
  }
  const box = document.getElementById('dmn');
  box.replaceChildren();
  const editor = await PmoStudio.dmnEditor(box, new XMLSerializer().serializeToString(doc));
  const found = editor.hitPolicies();
  editor.destroy();
  return found;
}"""


def test_dmn_hit_policies_are_shown_and_checked(page) -> None:  # noqa: ANN001
    xml = (WORKFLOWS / "change_approval_route.dmn").read_text()

    def check(policy, aggregation=None, outputs=2):  # noqa: ANN001, ANN202
        [table] = page.evaluate(HIT_POLICY, [xml, policy, aggregation, outputs])
        return table["hitPolicy"], [(p["severity"], p["message"]) for p in table["problems"]]

    policy, notes = check("UNIQUE")
    assert policy == "UNIQUE" and notes[0][0] == "info" and "first matching rule" in notes[0][1]
    policy, notes = check(None)
    assert policy == "UNIQUE" and notes[0][0] in ("info", "warning")
    _, notes = check("COLLECT", "SUM")
    assert notes[0][0] == "error" and "ignores the aggregation" in notes[0][1]
    _, notes = check("COLLECT", None, 1)
    assert notes[0][0] == "warning" and re.search(r"'change_size' becomes a list", notes[0][1])
    _, notes = check("RULE ORDER")
    assert notes[0][0] == "error" and "use COLLECT" in notes[0][1]
    _, notes = check("PRIORITY")
    assert notes[0][0] == "warning" and "ignores output value priorities" in notes[0][1]
    _, notes = check("FIRST")
    assert notes[0][0] == "info"

    page.evaluate("""async (xml) => {
      const box = document.getElementById('dmn');
      window.dmn = await PmoStudio.dmnEditor(box, xml);
    }""", xml)
    assert page.locator("#dmn .tjs-table").count() == 1
    page.screenshot(path=SCREENSHOTS / "studio-dmn-editor.png")


def test_who_may_start_the_process_is_set_on_its_pool(page) -> None:  # noqa: ANN001
    open_change_request(page)
    page.evaluate("() => window.editor.select('Participant_change_request')")
    group = open_group(page, "PMO Flow")
    group.get_by_label("Who may start it by hand").fill("project_manager, pmo")
    page.wait_for_timeout(400)  # the panel applies typing after a 300 ms pause
    group.get_by_label("Start form (JSON Schema)").select_option("change-submit-schema.json")
    page.wait_for_timeout(500)
    process = saved(page).find(f"{{{BPMN}}}process[@id='change_request']")
    props = {p.get("name"): p.get("value") for p in process.findall(
        f"{{{BPMN}}}extensionElements/{{{SPIFF}}}properties/{{{SPIFF}}}property")}
    assert props == {"startableBy": "project_manager, pmo", "startFormJsonSchemaFilename": "change-submit-schema.json"}
    # The engine reads them there.
    from app.engine.bundle import start_policy

    assert start_policy(process) == {"roles": ["pmo", "project_manager"], "form": "change-submit-schema.json",
                                     "fields": []}


def test_lint_gives_the_same_findings_each_time(page) -> None:  # noqa: ANN001
    """bpmnlint rules keep state between runs of one Linter: repeated lints after changes (the
    editor lints after each) must not pile up duplicates."""
    open_change_request(page)
    counts = page.evaluate("""async () => {
      const e = window.editor;
      const counts = [(await e.lint()).length];
      for (const name of ['a', 'b']) {
        e.modeler.get('modeling').updateProperties(e.modeler.get('elementRegistry').get('submit'), {name});
        counts.push((await e.lint()).length);
      }
      return counts;
    }""")
    assert counts == [counts[0]] * 3, counts
