"""GET /health and GET /openapi.json (both public)."""

from __future__ import annotations

from openapi_spec_validator import validate

from app.api.openapi import path_and_params
from app.ops import api as health
from tests.support.api import API, assert_problem


def test_health_ok_with_embedded_broker(client):
    r = client.get(f"{API}/health")
    assert r.status_code == 200
    body = r.get_json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["broker"] == {"ok": True, "detail": "in-process (embedded)"}


def test_health_503_when_redis_is_unreachable(client, app):
    app.config["CELERY_BROKER_URL"] = "redis://127.0.0.1:1/0"
    r = client.get(f"{API}/health")
    assert r.status_code == 503
    body = r.get_json()
    assert body["broker"]["ok"] is False and body["database"]["ok"] is True
    assert body["status"] == "degraded"


def test_health_503_when_database_fails(client, monkeypatch):
    monkeypatch.setattr(health, "check_database", lambda: (False, "database unreachable (OperationalError)"))
    r = client.get(f"{API}/health")
    assert r.status_code == 503
    assert r.get_json()["database"]["ok"] is False


def test_openapi_document_is_valid_and_complete(client, app):
    r = client.get(f"{API}/openapi.json")
    assert r.status_code == 200
    spec = r.get_json()
    validate(spec)
    # every API route and method is documented, with problem answers
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        path = path_and_params(rule.rule)[0]
        assert path in spec["paths"], path
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            op = spec["paths"][path][method.lower()]
            assert "500" in op["responses"]
            assert op["responses"]["500"]["content"]["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"}
    tasks = spec["paths"]["/api/v1/tasks/{task_id}/complete"]["post"]
    assert {"401", "403", "404", "409", "422"} <= set(tasks["responses"])
    assert "CompleteIn" in spec["components"]["schemas"]
    upload = spec["paths"]["/api/v1/process-definitions"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload
    assert spec["paths"]["/api/v1/health"]["get"]["security"] == []


def test_openapi_needs_no_token_but_other_routes_do(client):
    assert client.get(f"{API}/openapi.json").status_code == 200
    assert_problem(client.get(f"{API}/tasks"), 401)


def test_health_reports_scheduler_lag_and_degrades_when_timers_are_late(client, app):
    from datetime import timedelta
    from pathlib import Path

    from app.definitions import operations as definitions
    from app.engine import clock
    from app.instances import commands as instances
    from app.people.actor import Actor

    body = client.get(f"{API}/health").get_json()
    assert body["scheduler"]["lag_seconds"] == 0 and body["workers"]["ok"] is True
    definitions.deploy_directory([Path(__file__).parents[1] / "instances" / "fixtures" / "sla.bpmn"], "admin")
    instances.start("sla_approval", Actor("maria", frozenset({"project_manager"})), {"project_id": 1})
    clock.advance(timedelta(days=30))  # nothing fires them: no scheduler runs in this test
    try:
        r = client.get(f"{API}/health")
    finally:
        clock.reset()
    assert r.status_code == 503
    assert r.get_json()["scheduler"]["lag_seconds"] > 60 and r.get_json()["scheduler"]["due_timers"] == 2


def test_a_path_word_from_a_list_is_documented_as_an_enum():
    path, params = path_and_params("/api/v1/projects/<int:project_id>/<any(issues, actions):log>")
    assert path == "/api/v1/projects/{project_id}/{log}"
    assert params[0]["schema"] == {"type": "integer"}
    assert params[1]["schema"] == {"type": "string", "enum": ["issues", "actions"]}
