"""The studio's library, drafts, checks, preview, diff, export and import, through the pages a
process owner uses (session + CSRF) and the API (bearer tokens)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest

from app.core.audit import AuditEntry
from app.core.extensions import db
from app.definitions import operations as definitions
from app.definitions.models import Deployment
from app.studio.models import Draft

ROOT = Path(__file__).resolve().parents[2]
CONTEXT_RE = re.compile(r'<script type="application/json" id="studio-context">(.*?)</script>', re.S)


@pytest.fixture
def lifecycle(web):
    definitions.deploy_directory([ROOT / "workflows", ROOT / "forms"], "admin")
    return web


def _open_draft(owner, key: str = "change_request") -> tuple[int, dict]:  # noqa: ANN001
    response = owner.post(f"/studio/processes/{key}/drafts", token_from="/studio")
    assert response.status_code == 302, response.get_data(as_text=True)
    draft_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    html = owner.html(f"/studio/drafts/{draft_id}")
    return draft_id, json.loads(CONTEXT_RE.search(html).group(1))


def _put(owner, draft_id: int, name: str, content: str, revision: int):  # noqa: ANN001, ANN202
    token = owner.token("/studio")
    return owner.client._client.put(f"/studio/drafts/{draft_id}/files/{name}", json={"content": content,
                                    "revision": revision}, headers={"X-CSRFToken": token})


def _file(draft_id: int, name: str) -> str:
    db.session.expire_all()
    return db.session.get(Draft, draft_id).file(name).content


def test_library_lists_processes_and_decision_tables_for_everyone(lifecycle, login):
    html = login("maria").html("/studio")
    assert "Change request" in html or "change request" in html.lower()
    assert 'data-testid="library-table"' in html and 'data-testid="decisions-table"' in html
    assert "Change approval route" in html
    assert "Unique" in html  # the hit policy, as a person reads it
    assert "Used by Change request (version 1)" in html and "Change request (version 1), Project" not in html
    assert "Import process models" not in html  # a project manager may look, not change
    assert "Import process models" in login("owen").html("/studio")


def test_a_process_page_shows_versions_viewer_and_download(lifecycle, login):
    html = login("sam").html("/studio/processes/change_request")
    assert 'data-testid="versions-table"' in html and "Version 1" in html
    assert 'data-testid="version-viewer"' in html and "Edit in a new draft" not in html
    zipped = login("sam").get("/studio/processes/change_request/versions/1/export.zip")
    assert zipped.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(zipped.data)).namelist()
    assert "change_request/process_model.json" in names and "change_request/change_request.bpmn" in names
    assert "change_request/change_approval_route.dmn" in names
    assert "change_request/change-submit-schema.json" in names
    model = json.loads(zipfile.ZipFile(io.BytesIO(zipped.data)).read("change_request/process_model.json"))
    assert model["primary_process_id"] == "change_request" and model["primary_file_name"] == "change_request.bpmn"


def test_only_process_owners_open_drafts(lifecycle, login):
    assert login("maria").post("/studio/processes/change_request/drafts", token_from="/studio").status_code == 403


def test_a_draft_holds_the_model_files_and_the_pickers(lifecycle, login):
    draft_id, context = _open_draft(login("owen"))
    kinds = {f["name"]: f["kind"] for f in context["files"]}
    assert kinds["change_request.bpmn"] == "bpmn" and kinds["change_approval_route.dmn"] == "dmn"
    assert kinds["change-submit-schema.json"] == "schema" and kinds["change-submit-uischema.json"] == "uischema"
    assert "project_initiation.bpmn" not in kinds  # only this model's files, not the whole library
    assert "change_approval_route" in context["decisions"]
    ops = {o["name"]: o["parameters"] for o in context["operators"]}
    assert "cr_id" in ops["pmo/RecordChangeDecision"]
    assert "ccb_member" in context["roles"]
    html = login("owen").html("/studio")
    assert f"/studio/drafts/{draft_id}" in html  # listed among the drafts in progress


def test_two_owners_saving_the_same_revision_get_a_conflict_not_an_overwrite(lifecycle, login):
    owen, admin = login("owen"), login("admin")
    draft_id, context = _open_draft(owen)
    revision = next(f["revision"] for f in context["files"] if f["name"] == "change-submit-uischema.json")
    first = _put(owen, draft_id, "change-submit-uischema.json", '{"ui:order": ["*"]}', revision)
    assert first.status_code == 200 and first.get_json()["revision"] == revision + 1
    second = _put(admin, draft_id, "change-submit-uischema.json", '{"ui:order": ["title", "*"]}', revision)
    assert second.status_code == 409
    assert second.get_json()["saved_by"] == "owen"
    assert _file(draft_id, "change-submit-uischema.json") == '{"ui:order": ["*"]}'
    assert _put(login("maria"), draft_id, "change-submit-uischema.json", "{}", revision + 1).status_code == 403


def test_a_broken_gateway_condition_is_reported_on_its_element(lifecycle, login):
    owen = login("owen")
    draft_id, context = _open_draft(owen)
    bpmn = _file(draft_id, "change_request.bpmn")
    broken = bpmn.replace('approval_route == "pm"', 'approval_route == = "pm"', 1)
    revision = next(f["revision"] for f in context["files"] if f["name"] == "change_request.bpmn")
    assert _put(owen, draft_id, "change_request.bpmn", broken, revision).status_code == 200
    token = owen.token("/studio")
    answer = owen.client._client.post(f"/studio/drafts/{draft_id}/check", headers={"X-CSRFToken": token}).get_json()
    assert answer["valid"] is False
    problem = next(p for p in answer["problems"] if p["severity"] == "error")
    assert problem["element"] in ("Flow_route_gw_pm_decision", "route_gw"), problem
    assert problem["file"] == "change_request.bpmn"


def test_the_preview_is_the_task_page_renderer_and_validates_sample_data(lifecycle, login):
    owen = login("owen")
    draft_id, _ = _open_draft(owen)
    schema = {"type": "object", "required": ["budget"], "properties": {
        "budget": {"type": "number", "title": "Budget (EUR)", "minimum": 0},
        "notes": {"type": "string", "title": "Notes"}}}
    token = owen.token("/studio")
    answer = owen.client._client.post(f"/studio/drafts/{draft_id}/preview", headers={"X-CSRFToken": token}, json={
        "schema": json.dumps(schema), "uischema": '{"notes": {"ui:widget": "textarea"}}',
        "data": {"budget": -5}}).get_json()
    assert "Budget (EUR)" in answer["html"] and "<textarea" in answer["html"]
    assert "data/budget" in answer["errors"]
    assert answer["labels"] == {"data/budget": "Sample data: Budget (EUR) (budget)"}
    bad = owen.client._client.post(f"/studio/drafts/{draft_id}/preview", headers={"X-CSRFToken": token},
                                   json={"schema": '{"type": "object",', "uischema": "{}"}).get_json()
    assert "schema" in bad["errors"] and "line" in bad["errors"]["schema"][0]
    assert bad["labels"]["schema"] == "The form's JSON Schema"


def test_api_drafts_diff_and_files(lifecycle, api):
    created = api.post("/drafts", user="owen", json={"process_key": "change_request"})
    assert created.status_code == 201, created.get_json()
    draft = created.get_json()
    files = {f["name"]: f for f in draft["files"]}
    dmn = files["change_approval_route.dmn"]
    raised = dmn["content"].replace("&gt;= 50000", "&gt;= 75000")
    saved = api.call("PUT", f"/drafts/{draft['id']}/files/change_approval_route.dmn", user="owen",
                     json={"content": raised, "revision": dmn["revision"]})
    assert saved.status_code == 200 and saved.get_json()["revision"] == dmn["revision"] + 1
    stale = api.call("PUT", f"/drafts/{draft['id']}/files/change_approval_route.dmn", user="owen",
                     json={"content": raised, "revision": dmn["revision"]})
    assert stale.status_code == 409
    checked = api.post(f"/drafts/{draft['id']}/validate", user="owen").get_json()
    assert checked["valid"] is True, checked
    assert api.post("/drafts", user="maria", json={"process_key": "change_request"}).status_code == 403
    listed = api.get("/drafts", user="maria").get_json()["items"]
    assert [d["id"] for d in listed] == [draft["id"]]
    version_files = api.get("/process-definitions/change_request/versions/1/files", user="maria").get_json()
    assert {"change_request.bpmn", "change_approval_route.dmn"} <= {f["name"] for f in version_files["files"]}
    assert api.call("DELETE", f"/drafts/{draft['id']}", user="owen").status_code == 204
    assert db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == "draft_deleted")).first()


def test_import_keeps_model_folders_apart_and_reports_per_element(lifecycle, login):
    owner = login("owen")
    out = io.BytesIO()
    bpmn = (ROOT / "tests" / "inbox" / "fixtures" / "purchase_request.bpmn").read_bytes()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("group/process_group.json", "{}")
        z.writestr("group/one/process_model.json", json.dumps({"display_name": "One"}))
        z.writestr("group/one/purchase_request.bpmn", bpmn)
        z.writestr("group/two/process_model.json", json.dumps({"display_name": "Two"}))
        z.writestr("group/two/other.bpmn", bpmn.replace(b'id="purchase_request"', b'id="purchase_two"')
                   .replace(b'bpmnElement="purchase_request"', b'bpmnElement="purchase_two"'))
    response = owner.post("/studio/import", data={"files": (io.BytesIO(out.getvalue()), "models.zip")},
                          token_from="/studio/import", content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)
    html = response.get_data(as_text=True)
    assert html.count('data-testid="import-report"') == 2
    drafts = {d.process_key: d for d in db.session.scalars(db.select(Draft))}
    assert {"purchase_request", "purchase_two"} <= set(drafts)
    assert {f.name for f in drafts["purchase_two"].files} == {"process_model.json", "other.bpmn"}
    assert login("maria").get("/studio/import").status_code == 403


def test_publish_notes_are_kept_on_the_deployment(lifecycle):
    deployment = db.session.scalars(db.select(Deployment)).first()
    assert deployment.note == ""


def test_import_of_a_folder_as_the_browser_sends_it(lifecycle, login):
    """A folder picked in the browser arrives as files named by their path inside it."""
    owner = login("owen")
    bpmn = (ROOT / "tests" / "inbox" / "fixtures" / "purchase_request.bpmn").read_bytes()
    schema = (ROOT / "tests" / "inbox" / "fixtures" / "purchase-request-schema.json").read_bytes()
    files = [(io.BytesIO(json.dumps({"display_name": "Purchases"}).encode()), "purchases/process_model.json"),
             (io.BytesIO(bpmn), "purchases/purchase_request.bpmn"),
             (io.BytesIO(schema), "purchases/purchase-request-schema.json")]
    response = owner.post("/studio/import", data={"files": files}, token_from="/studio/import",
                          content_type="multipart/form-data")
    assert response.status_code == 200
    draft = db.session.scalars(db.select(Draft).where(Draft.process_key == "purchase_request")).one()
    assert {f.name for f in draft.files} == {"process_model.json", "purchase_request.bpmn",
                                             "purchase-request-schema.json"}
    assert draft.title == "purchases"


def test_publish_runs_checks_and_scenarios_then_makes_a_version_with_its_note(lifecycle, api, login):
    draft = api.post("/drafts", user="owen", json={"process_key": "change_request"}).get_json()
    files = {f["name"]: f for f in draft["files"]}
    assert "test_change_request.json" in files  # the scenarios travel with the model
    ran = api.post(f"/drafts/{draft['id']}/scenarios", user="owen").get_json()
    assert ran["passed"] is True and len(ran["results"]) >= 3, ran
    dmn = files["change_approval_route.dmn"]
    raised = dmn["content"].replace("&gt;= 50000", "&gt;= 75000")
    api.call("PUT", f"/drafts/{draft['id']}/files/change_approval_route.dmn", user="owen",
             json={"content": raised, "revision": dmn["revision"]})
    ran = api.post(f"/drafts/{draft['id']}/scenarios", user="owen").get_json()
    failed = [r for r in ran["results"] if not r["passed"]]
    refused = api.post(f"/drafts/{draft['id']}/publish", user="owen", json={"note": "CCB from 75k"})
    assert failed, "a shipped scenario sends a 50,000 change to the CCB: the new threshold must break it"
    assert refused.status_code == 422 and "scenario" in refused.get_json()["detail"]
    # The scenarios pinned the old threshold: the owner updates them with the change.
    scenario = files["test_change_request.json"]
    text = scenario["content"].replace(": 50000,", ": 80000,").replace("-60000", "-80000")
    api.call("PUT", f"/drafts/{draft['id']}/files/test_change_request.json", user="owen",
             json={"content": text, "revision": scenario["revision"]})
    assert api.post(f"/drafts/{draft['id']}/publish", user="owen", json={"note": " "}).status_code == 422
    published = api.post(f"/drafts/{draft['id']}/publish", user="owen", json={"note": "CCB from 75k"})
    assert published.status_code == 201, published.get_json()
    assert {v["key"]: v["version"] for v in published.get_json()["created"]} == {"change_request": 2}
    db.session.expire_all()
    newest = db.session.scalars(db.select(Deployment).order_by(Deployment.id.desc())).first()
    assert newest.note == "CCB from 75k" and newest.deployed_by == "owen"
    assert db.session.get(Draft, draft["id"]) is None
    assert db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == "draft_published")).one()
    html = login("maria").html("/studio/processes/change_request")
    assert "CCB from 75k" in html and "Version 2" in html
    diff = api.get("/process-definitions/change_request/diff?from=1&to=2", user="maria").get_json()
    cells = [c for d in diff["decisions"] for c in d["changes"]]
    assert {"before": ">= 50000", "after": ">= 75000"}.items() <= cells[0].items(), cells
    assert cells[0]["what"].startswith("rule 1 (large cost: change control board)")
    assert any(e["element"] == "route_approval" and e["kind"] == "changed" for e in diff["elements"]), diff


def test_publishing_a_draft_behind_a_newer_version_is_refused(lifecycle, api):
    first = api.post("/drafts", user="owen", json={"process_key": "change_request"}).get_json()
    second = api.post("/drafts", user="admin", json={"process_key": "change_request"}).get_json()
    for draft, title in ((first, "Assess the impact"), (second, "Assess impact now")):
        bpmn = next(f for f in draft["files"] if f["name"] == "change_request.bpmn")
        api.call("PUT", f"/drafts/{draft['id']}/files/change_request.bpmn", user="owen", json={
            "content": bpmn["content"].replace('name="Assess impact', f'name="{title}', 1),
            "revision": bpmn["revision"]})
    assert api.post(f"/drafts/{first['id']}/publish", user="owen", json={"note": "wording"}).status_code == 201
    late = api.post(f"/drafts/{second['id']}/publish", user="admin", json={"note": "wording too"})
    assert late.status_code == 409 and "version 2 was published by owen" in late.get_json()["detail"]
