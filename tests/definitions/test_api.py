"""Process definitions: list, show, deploy files or zips, validate only, and upload errors."""

from __future__ import annotations

from sqlalchemy import func, select

from app.core.extensions import db
from app.definitions.models import Deployment, ProcessVersion
from tests.support.api import TWO_STEPS_BPMN, assert_problem, fixture_files, upload, zip_of


def _counts() -> tuple[int, int]:
    return (db.session.scalar(select(func.count()).select_from(Deployment)),
            db.session.scalar(select(func.count()).select_from(ProcessVersion)))


def test_deploy_files_then_unchanged_redeploy_is_200(api):
    r = api.post("/process-definitions", "owen", **upload(fixture_files()))
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["created"] == [{"key": "simple_approval", "version": 1}] and body["unchanged"] == []
    assert body["deployment_id"]
    r = api.post("/process-definitions", "admin", **upload(fixture_files()))
    assert r.status_code == 200
    assert r.get_json() == {"deployment_id": None, "created": [],
                            "unchanged": [{"key": "simple_approval", "version": 1}]}
    assert _counts() == (1, 1)


def test_deploy_zip(api):
    r = api.post("/process-definitions", "owen", **upload([("bundle.zip", zip_of(fixture_files()))]))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["created"] == [{"key": "simple_approval", "version": 1}]


def test_changed_process_gets_a_new_version(api):
    api.post("/process-definitions", "owen", **upload(fixture_files()))
    files = [(n, c.replace(b"Simple approval", b"Simple approval v2") if n == "approval.bpmn" else c)
             for n, c in fixture_files()]
    r = api.post("/process-definitions", "owen", **upload(files))
    assert r.status_code == 201
    assert r.get_json()["created"] == [{"key": "simple_approval", "version": 2}]
    r = api.get("/process-definitions/simple_approval", "maria")
    assert r.status_code == 200
    body = r.get_json()
    assert body["version"] == 2 and body["name"] == "Simple approval v2"
    assert [v["version"] for v in body["versions"]] == [1, 2]


def test_list_definitions(api, deployed):
    r = api.get("/process-definitions", "maria")
    assert r.status_code == 200
    [item] = r.get_json()["items"]
    assert item["key"] == "simple_approval" and item["version"] == 1 and item["name"] == "Simple approval"
    assert item["file"] == "approval.bpmn"
    assert item["forms"] == ["decision-schema.json", "request-schema.json", "request-uischema.json"]
    assert item["created_at"]


def test_unknown_definition_is_404(api):
    assert_problem(api.get("/process-definitions/nope", "maria"), 404)


def test_invalid_upload_lists_every_bad_file_and_deploys_nothing(api):
    files = fixture_files() + [
        ("broken.bpmn", b"<bpmn:definitions xmlns:bpmn='http://www.omg.org/spec/BPMN/20100524/MODEL'>"),
        ("bad-form.json", b"{not json"),
        ("notes.txt", b"hello"),
        ("broken.zip", b"PK-not-a-zip"),
    ]
    r = api.post("/process-definitions", "owen", **upload(files))
    body = assert_problem(r, 422)
    bad = {e["file"] for e in body["errors"]}
    assert {"broken.bpmn", "bad-form.json", "notes.txt", "broken.zip"} <= bad
    for error in body["errors"]:
        assert set(error) == {"file", "line", "element", "message"}
    assert _counts() == (0, 0)


def test_invalid_bpmn_alone_reports_its_problem(api):
    bad = TWO_STEPS_BPMN.replace(b'targetRef="second"', b'targetRef="missing"')
    body = assert_problem(api.post("/process-definitions", "owen", **upload([("two.bpmn", bad)])), 422)
    assert body["errors"][0]["file"] == "two.bpmn" and body["errors"][0]["element"] == "f2"
    assert _counts() == (0, 0)


def test_no_files_is_422(api):
    body = assert_problem(api.post("/process-definitions", "owen", data={}, content_type="multipart/form-data"), 422)
    assert "files" in body["errors"]


def test_validate_only(api):
    r = api.post("/process-definitions?validate_only=true", "owen", **upload(fixture_files()))
    assert r.status_code == 200
    assert r.get_json() == {"valid": True, "processes": ["simple_approval"]}
    assert _counts() == (0, 0)
    files = [("broken.bpmn", b"<oops")]
    assert_problem(api.post("/process-definitions?validate_only=true", "owen", **upload(files)), 422)


def test_deploy_needs_process_owner_or_admin(api):
    assert_problem(api.post("/process-definitions", "maria", **upload(fixture_files())), 403)
    assert_problem(api.post("/process-definitions", "petra", **upload(fixture_files())), 403)
    assert _counts() == (0, 0)
