"""Helpers for the engine tests: the engine fixture bundle, audit queries, BPMN text builders."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.core.audit import AuditEntry
from app.core.extensions import db
from app.instances.models import HumanTask, ProcessInstance, TaskStatus

ENGINE_FIXTURES = Path(__file__).parent / "fixtures"

BPMN_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="Definitions_{pid}" targetNamespace="http://bpmn.io/schema/bpmn">
"""


def bpmn(pid: str, body: str, *, process_attrs: str | None = None, lanes: str = "") -> str:
    """A one-process BPMN document; ``body`` is the process content (flow nodes and flows)."""
    attrs = process_attrs if process_attrs is not None else f'id="{pid}" name="{pid}"'
    return (BPMN_HEAD.format(pid=pid) + f'  <bpmn:process {attrs} isExecutable="true">\n'
            + lanes + body + "  </bpmn:process>\n</bpmn:definitions>\n")


def linear(pid: str, middle: str = '<bpmn:userTask id="work" name="Work" />', first: str = "work",
           last: str = "work", extra: str = "") -> str:
    """start -> middle (first .. last) -> end, plus ``extra`` elements."""
    return bpmn(pid, f"""    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="{first}" />
    {middle}
    <bpmn:sequenceFlow id="f_end" sourceRef="{last}" targetRef="end" />
    <bpmn:endEvent id="end" />
{extra}""")


@pytest.fixture
def engine_deployed(app):
    """The engine fixture processes (failures, lanes, parallel) deployed once."""
    from app.definitions import operations as definitions

    # Only the files of the folder itself: fixtures/interop holds models refused on purpose.
    return definitions.deploy_directory(sorted(p for p in ENGINE_FIXTURES.iterdir() if p.is_file()), "admin")


def audit_entries(instance_id: int, action: str | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.instance_id == instance_id)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(db.session.scalars(query.order_by(AuditEntry.id)))


def ready(instance_id: int) -> list[HumanTask]:
    db.session.expire_all()
    return list(db.session.scalars(select(HumanTask).where(
        HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.READY).order_by(HumanTask.element_id)))


def fresh_instance(instance_id: int) -> ProcessInstance:
    db.session.expire_all()
    return db.session.get(ProcessInstance, instance_id)


def count(model) -> int:  # noqa: ANN001
    return db.session.scalar(select(func.count()).select_from(model))
