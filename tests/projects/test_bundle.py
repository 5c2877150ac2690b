"""`pmo validate workflows/ forms/`: the PMO bundle loads with zero problems, and what it holds."""

from __future__ import annotations

import json

from app.engine import bundle
from tests.projects.conftest import FORMS, WORKFLOWS

PROCESSES = {"project_lifecycle", "project_initiation", "project_planning", "project_execution", "change_request",
             "quality_gate", "status_reporting", "project_closure", "risk_escalation",
             "portfolio_report"}


def test_workflows_and_forms_validate_with_zero_problems(app):
    loaded = bundle.load_bundle(bundle.read_paths([WORKFLOWS, FORMS]), app.config["ROLES"])
    assert set(loaded.processes) == PROCESSES
    forms = {f.name for f in FORMS.glob("*.json")}
    used = {name for p in loaded.processes.values() for name in p.forms}
    assert used == forms          # every form is used, every used form exists


def test_every_process_has_a_diagram_for_each_element():
    from lxml import etree

    ns = {"bpmn": bundle.BPMN_NS, "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}
    for path in WORKFLOWS.glob("*.bpmn"):
        root = etree.parse(str(path)).getroot()
        drawn = {el.get("bpmnElement") for el in root.iterfind(".//bpmndi:BPMNShape", ns)} | {
            el.get("bpmnElement") for el in root.iterfind(".//bpmndi:BPMNEdge", ns)}
        process = root.find("bpmn:process", ns)
        elements = {el.get("id") for el in process if el.get("id") and etree.QName(el).localname not in (
            "laneSet", "documentation")}
        assert elements <= drawn, (path.name, elements - drawn)


def test_decisions_require_a_reason_unless_approved():
    import jsonschema

    schema = json.loads((FORMS / "change-decision-schema.json").read_text())
    jsonschema.validate({"change_decision": "approve"}, schema)
    errors = list(jsonschema.Draft7Validator(schema).iter_errors({"change_decision": "reject"}))
    assert errors and "change_decision_reason" in errors[0].message
