"""The draft editor page in Chromium (the lead's page, frontend/studio/editor.js mounted on it): a
process owner changes a user task's form in the properties panel and saves; a stale save is a
conflict shown on the page, never an overwrite; the server checks land on the element; the form
editor checks JSON as it is typed, inserts fields and previews them; the DMN tab shows the hit policy."""

from __future__ import annotations

import re

import pytest
from lxml import etree
from playwright.sync_api import expect

from app.core.extensions import db
from tests.browser.conftest import SCREENSHOTS, serving, shipped_app, sign_in
from tests.studio.bundle_page import BPMN, SPIFF, require_bundle, watch_console

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def editor_site(tmp_path_factory):
    require_bundle()
    app = shipped_app(tmp_path_factory, "studio-editor")
    with serving(app, "studio-editor") as url:
        yield app, url


def open_draft(app) -> int:  # noqa: ANN001
    from app.studio import operations as studio

    with app.app_context():
        draft_id = studio.open_draft("change_request", "owen").id
        db.session.remove()
    return draft_id


def draft_file(app, draft_id: int, name: str) -> tuple[str, int]:  # noqa: ANN001
    from app.studio.models import Draft

    with app.app_context():
        found = db.session.get(Draft, draft_id).file(name)
        result = (found.content, found.revision)
        db.session.remove()
    return result


@pytest.fixture
def editor(new_page, editor_site):  # noqa: ANN001, ANN201
    app, url = editor_site
    draft_id = open_draft(app)
    page = new_page()
    errors = watch_console(page)
    sign_in(page, url, "owen")
    page.goto(f"{url}/studio/drafts/{draft_id}")
    page.wait_for_selector("[data-testid='studio-canvas'] .djs-container")
    page.wait_for_function("() => document.getElementById('studio-editor').pmoStudio")
    page.evaluate("() => document.getElementById('studio-editor').pmoStudio.ready")
    page.expected_errors = []  # what a test provokes on purpose (a refused save logs its status)
    yield page, app, draft_id
    unexpected = [e for e in errors if not any(x in e for x in page.expected_errors)]
    assert not unexpected, unexpected


def panel_group(page, name: str):  # noqa: ANN001, ANN201
    group = page.locator("[data-testid='studio-panel'] .bio-properties-panel-group", has_text=name)
    header = group.locator(".bio-properties-panel-group-header").first
    if "open" not in (header.get_attribute("class") or ""):
        header.click()
    return group


def select(page, element_id: str) -> None:  # noqa: ANN001
    page.evaluate("(id) => document.getElementById('studio-editor').pmoStudio.files"
                  ".get('change_request.bpmn').editor.select(id)", element_id)


def test_change_a_form_in_the_panel_save_and_meet_a_conflict(editor) -> None:  # noqa: ANN001
    page, app, draft_id = editor
    tabs = page.locator("[data-testid='studio-editor'] [role='tab']")
    names = tabs.all_inner_texts()
    assert any(n.startswith("change_request.bpmn") for n in names)
    assert not any("uischema" in n for n in names)  # a form's layout opens with its schema
    status = page.get_by_test_id("studio-status")
    expect(status).to_have_text("All changes saved")

    select(page, "submit")
    group = panel_group(page, "PMO Flow")
    form = group.get_by_label("Form (JSON Schema)")
    expect(form).to_have_value("change-submit-schema.json")
    form.select_option("change-outcome-schema.json")
    expect(status).to_contain_text("Unsaved changes: change_request.bpmn")
    page.screenshot(path=SCREENSHOTS / "studio-editor-unsaved.png")
    page.get_by_test_id("studio-save").click()
    expect(status).to_have_text("All changes saved")
    expect(page.get_by_test_id("studio-message")).to_contain_text("Saved 1 file")
    content, revision = draft_file(app, draft_id, "change_request.bpmn")
    assert revision == 2
    saved = etree.fromstring(content.encode())
    value = saved.find(f".//{{{BPMN}}}userTask[@id='submit']//{{{SPIFF}}}property[@name='formJsonSchemaFilename']")
    assert value.get("value") == "change-outcome-schema.json"
    # The CCB vote still names its ballots after a save from the browser.
    assert saved.findtext(f".//{{{BPMN}}}multiInstanceLoopCharacteristics/{{{BPMN}}}loopDataInputRef") == "ccb_ballots"

    # Someone else saves the file; this page's next save is refused and says so.
    from app.studio import operations as studio

    with app.app_context():
        studio.save_file(draft_id, "change_request.bpmn", content.replace("P3D", "P4D"), revision, "admin")
        db.session.remove()
    page.expected_errors.append("status of 409 (CONFLICT)")
    group.get_by_label("Due in").fill("P9D")
    expect(status).to_contain_text("Unsaved changes")
    page.get_by_test_id("studio-save").click()
    message = page.get_by_test_id("studio-message")
    expect(message).to_contain_text("Not saved: admin saved change_request.bpmn")
    expect(message).to_contain_text("Nothing was overwritten")
    expect(status).to_contain_text("Unsaved changes")
    page.screenshot(path=SCREENSHOTS / "studio-editor-conflict.png")
    content_after, revision_after = draft_file(app, draft_id, "change_request.bpmn")
    assert revision_after == 3 and "P9D" not in content_after and "P4D" in content_after


def test_a_broken_condition_shows_on_its_flow_and_the_list_selects_it(editor) -> None:  # noqa: ANN001
    page, app, draft_id = editor
    xml = draft_file(app, draft_id, "change_request.bpmn")[0]
    root = etree.fromstring(xml.encode())
    flow = next(f for f in root.iter(f"{{{BPMN}}}sequenceFlow") if f.find(f"{{{BPMN}}}conditionExpression") is not None)
    select(page, flow.get("id"))
    panel_group(page, "PMO Flow").get_by_label("Condition (Python expression)").fill("approval_route = 'pm'")
    expect(page.get_by_test_id("studio-status")).to_contain_text("Unsaved changes")
    page.get_by_test_id("studio-validate").click()  # saves first, then asks the server
    problems = page.get_by_test_id("studio-problems")
    entry = problems.locator("button", has_text=re.compile("condition", re.I)).first
    expect(entry).to_be_visible(timeout=20_000)
    badge = page.locator(f".djs-overlays[data-container-id='{flow.get('id')}'] .pmo-badge--error")
    expect(badge).to_have_count(1)
    expect(page.get_by_test_id("studio-message")).to_contain_text("must be fixed before publishing")
    assert "no-duplicate-sequence-flows" not in problems.inner_text()  # lint after edits stays true
    select(page, "submit")
    entry.click()
    expect(page.locator("[data-testid='studio-panel'] .bio-properties-panel-group", has_text="Problems")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "studio-editor-problem.png")


def test_form_editor_checks_json_inserts_a_field_and_previews_it(editor) -> None:  # noqa: ANN001
    page, app, draft_id = editor
    page.locator("[role='tab']", has_text="change-submit-schema.json").click()
    schema = page.get_by_test_id("studio-schema")
    expect(schema).to_be_visible()
    ui = page.get_by_test_id("studio-uischema")
    assert '"ui:order"' in ui.input_value()
    preview = page.get_by_test_id("studio-preview")
    expect(preview).to_contain_text("Why (business reason)", timeout=15_000)

    page.locator("[data-snippet='money']").click()
    assert '"amount"' in schema.input_value() and '"ui:widget": "money"' in ui.input_value()
    expect(preview.get_by_label(re.compile("^Amount"))).to_be_visible(timeout=15_000)
    page.screenshot(path=SCREENSHOTS / "studio-form-editor.png", full_page=True)

    schema.fill('{"type": "object", "properties": {')
    expect(page.locator("#studio-schema-status")).to_contain_text("Not valid JSON at line 1")
    assert schema.get_attribute("aria-invalid") == "true"
    page.locator("[data-snippet='date']").click()
    expect(page.get_by_test_id("studio-message")).to_contain_text("Fix the JSON first")
    page.get_by_test_id("studio-save").click()
    # Saved as typed (the server checks it): the editor never silently drops what was written.
    expect(page.get_by_test_id("studio-status")).to_have_text("All changes saved")
    assert draft_file(app, draft_id, "change-submit-schema.json")[0] == '{"type": "object", "properties": {'


def test_dmn_tab_shows_and_checks_the_hit_policy(editor) -> None:  # noqa: ANN001
    page, _, _ = editor
    page.locator("[role='tab']", has_text="change_approval_route.dmn").click()
    policies = page.get_by_test_id("studio-hit-policies")
    expect(policies).to_contain_text("UNIQUE")
    expect(policies).to_contain_text("first matching rule")
    expect(page.locator(".tjs-table")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "studio-editor-dmn.png")


def test_scenario_results_list_failures_and_draw_the_path(editor) -> None:  # noqa: ANN001
    """The editor's side of the scenarios contract: the answer of POST data-scenarios-url (here a
    fixed one, so only the drawing is under test) is listed and its path drawn on the diagram."""
    page, _, _ = editor
    answer = {"passed": False, "results": [
        {"process": "change_request", "scenario": "small change approved by the PM", "passed": True,
         "path": ["start", "submit", "register_cr", "assess", "route_approval", "route_gw", "pm_decision"],
         "failures": []},
        {"process": "change_request", "scenario": "large change goes to the CCB", "passed": False,
         "path": ["start", "submit", "register_cr", "assess"], "failures": ["expected to reach ccb_vote_task"]}]}
    page.route(re.compile(r".*/scenarios$"), lambda route: route.fulfill(json=answer))
    page.get_by_test_id("studio-run-scenarios").click()
    results = page.get_by_test_id("studio-scenarios")
    expect(results).to_contain_text("expected to reach ccb_vote_task")
    expect(page.get_by_test_id("studio-message")).to_contain_text("1 of 2 scenarios failed")
    # The failing one is drawn first.
    expect(page.locator("[data-element-id='assess'].pmo-mark-path")).to_have_count(1)
    expect(page.locator("[data-element-id='pm_decision'].pmo-mark-path")).to_have_count(0)
    results.locator("button", has_text="small change approved by the PM").click()
    expect(page.locator("[data-element-id='pm_decision'].pmo-mark-path")).to_have_count(1)
    page.screenshot(path=SCREENSHOTS / "studio-editor-scenario-path.png")


def test_leaving_with_unsaved_changes_asks_first(editor) -> None:  # noqa: ANN001
    page, _, _ = editor
    select(page, "assess")
    panel_group(page, "PMO Flow").get_by_label("Priority").fill("10")
    expect(page.get_by_test_id("studio-status")).to_contain_text("Unsaved changes")
    asked = []

    def on_dialog(dialog) -> None:  # noqa: ANN001
        asked.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.close(run_before_unload=True)
    page.wait_for_timeout(300)
    assert asked == ["beforeunload"]


def test_someone_who_may_not_edit_sees_no_save(new_page, editor_site) -> None:  # noqa: ANN001
    app, url = editor_site
    draft_id = open_draft(app)
    page = new_page()
    errors = watch_console(page)
    sign_in(page, url, "maria")
    page.goto(f"{url}/studio/drafts/{draft_id}")
    page.wait_for_selector("[data-testid='studio-canvas'] .djs-container")
    expect(page.get_by_test_id("studio-save")).to_be_hidden()
    expect(page.get_by_test_id("studio-status")).to_contain_text("only process owners save")
    assert not errors, errors


def test_raise_the_ccb_threshold_in_the_decision_table_and_save(editor) -> None:  # noqa: ANN001
    page, app, draft_id = editor
    page.locator("[role='tab']", has_text="change_approval_route.dmn").click()
    cell = page.locator(".tjs-table td", has_text=re.compile(r"^>= 50000$")).first
    cell.click()
    page.keyboard.press("End")
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    page.keyboard.type("75000")
    page.locator("[data-testid='studio-hit-policies']").click()  # leave the cell
    expect(page.get_by_test_id("studio-status")).to_contain_text("Unsaved changes: change_approval_route.dmn")
    page.get_by_test_id("studio-save").click()
    expect(page.get_by_test_id("studio-status")).to_have_text("All changes saved")
    content, revision = draft_file(app, draft_id, "change_approval_route.dmn")
    assert revision == 2 and "&gt;= 75000" in content and "&gt;= 50000" not in content.split("rule2")[0]
    # Back on the diagram, then on the table again: the edit is still there (kept between tabs).
    page.locator("[role='tab']", has_text="change_request.bpmn").click()
    page.wait_for_selector("[data-testid='studio-canvas'] .djs-container")
    page.locator("[role='tab']", has_text="change_approval_route.dmn").click()
    expect(page.locator(".tjs-table td", has_text=re.compile(r"^>= 75000$"))).to_have_count(1)


NO_LAYOUT = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="plain" isExecutable="true"><bpmn:startEvent id="s"/></bpmn:process>
</bpmn:definitions>"""


def test_a_diagram_without_layout_opens_as_editable_xml(new_page, editor_site) -> None:  # noqa: ANN001
    from app.studio import operations as studio

    app, url = editor_site
    draft_id = open_draft(app)
    with app.app_context():
        studio.save_file(draft_id, "plain.bpmn", NO_LAYOUT, 0, "owen")
        db.session.remove()
    page = new_page()
    errors = watch_console(page)
    sign_in(page, url, "owen")
    page.goto(f"{url}/studio/drafts/{draft_id}")
    page.wait_for_selector("[data-testid='studio-canvas'] .djs-container")
    page.locator("[role='tab']", has_text="plain.bpmn").click()
    expect(page.get_by_test_id("studio-text-reason")).to_contain_text("has no layout")
    area = page.get_by_label("plain.bpmn")
    expect(area).to_have_value(NO_LAYOUT)
    area.fill(NO_LAYOUT.replace('id="s"', 'id="s" name="Start"'))
    page.get_by_test_id("studio-save").click()
    expect(page.get_by_test_id("studio-status")).to_have_text("All changes saved")
    assert 'name="Start"' in draft_file(app, draft_id, "plain.bpmn")[0]
    assert not errors, errors


def test_save_right_after_typing_keeps_the_last_keystrokes(editor) -> None:  # noqa: ANN001
    page, app, draft_id = editor
    select(page, "assess")
    field = panel_group(page, "PMO Flow").get_by_label("Due in")
    expect(field).to_have_value("P3D")
    page.wait_for_timeout(200)  # the panel has drawn the selected task
    field.click()
    page.keyboard.press("End")
    page.keyboard.type("1")  # "P3D1", and Save at once, before the panel's pause: Save is already offered
    page.get_by_test_id("studio-save").click()
    expect(page.get_by_test_id("studio-status")).to_have_text("All changes saved")
    assert '<spiffworkflow:property name="dueIn" value="P3D1" />' in draft_file(app, draft_id, "change_request.bpmn")[0]


def test_typing_in_the_panel_keeps_the_focus_while_lint_runs(editor) -> None:  # noqa: ANN001
    page, app, draft_id = editor
    select(page, "assess")
    field = panel_group(page, "PMO Flow").get_by_label("Priority")
    page.wait_for_timeout(200)
    field.click()
    for key in "12":
        page.keyboard.type(key)
        page.wait_for_timeout(700)  # the panel applies it, the diagram is linted again
    assert field.evaluate("e => e === document.activeElement")
    expect(field).to_have_value("12")


def test_an_extension_the_editor_does_not_know_is_named_before_saving(new_page, editor_site) -> None:  # noqa: ANN001
    from app.studio import operations as studio

    app, url = editor_site
    draft_id = open_draft(app)
    content, revision = draft_file(app, draft_id, "change_request.bpmn")
    anchor = "<spiffworkflow:calledDecisionId>change_approval_route</spiffworkflow:calledDecisionId>"
    with app.app_context():
        studio.save_file(draft_id, "change_request.bpmn",
                         content.replace(anchor, anchor + "<spiffworkflow:somethingNew>x</spiffworkflow:somethingNew>"),
                         revision, "owen")
        db.session.remove()
    page = new_page()
    errors = watch_console(page)
    sign_in(page, url, "owen")
    page.goto(f"{url}/studio/drafts/{draft_id}")
    message = page.get_by_test_id("studio-message")
    expect(message).to_contain_text("spiffworkflow:somethingNew, which the editor does not know")
    assert not errors, errors


def test_sample_data_in_the_form_editor_is_validated_by_the_server(editor) -> None:  # noqa: ANN001
    page, _, _ = editor
    page.locator("[role='tab']", has_text="change-submit-schema.json").click()
    preview = page.get_by_test_id("studio-preview")
    expect(preview).to_contain_text("Why (business reason)", timeout=15_000)
    sample = page.get_by_test_id("studio-sample-data")
    sample.fill('{"cost_impact": "a lot"')
    expect(page.locator("#studio-sample-data-status")).to_contain_text("Not valid JSON")
    sample.fill('{"cr_title": "Add payment plans", "cost_impact": -5}')
    errors = page.locator(".studio-preview-errors")
    # Required, missing: as a submission is told, the field named by its title.
    expect(errors).to_contain_text("Sample data: Why (business reason) (cr_reason)", timeout=15_000)
    expect(preview.locator("input[value='Add payment plans']")).to_have_count(1)
    page.screenshot(path=SCREENSHOTS / "studio-form-sample-data.png", full_page=True)
