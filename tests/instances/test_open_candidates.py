"""A task's candidate rows say whether it is open (``HumanTaskCandidate.is_open``): the inbox's candidate
indexes hold open tasks only, so what is offered to a role costs what is open, not its history. The rows
stay after the task ends (the analytics read their roles)."""

from __future__ import annotations

from sqlalchemy import select

from app.core.extensions import db
from app.definitions import operations as definitions
from app.engine.bundle import BundleFile
from app.instances import access
from app.instances import commands as instances
from app.instances.models import HumanTask, HumanTaskCandidate
from tests.engine.conftest import bpmn, ready

TWO_LANES = bpmn("two_reviews", """    <bpmn:laneSet id="ls">
      <bpmn:lane id="Lane_pmo" name="PMO"><bpmn:flowNodeRef>pmo_review</bpmn:flowNodeRef></bpmn:lane>
      <bpmn:lane id="Lane_sponsor" name="Sponsor"><bpmn:flowNodeRef>sponsor_review</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="split" />
    <bpmn:parallelGateway id="split" />
    <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="pmo_review" />
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="sponsor_review" />
    <bpmn:userTask id="pmo_review" name="PMO review" />
    <bpmn:userTask id="sponsor_review" name="Sponsor review" />
    <bpmn:sequenceFlow id="f4" sourceRef="pmo_review" targetRef="join" />
    <bpmn:sequenceFlow id="f5" sourceRef="sponsor_review" targetRef="join" />
    <bpmn:parallelGateway id="join" />
    <bpmn:sequenceFlow id="f6" sourceRef="join" targetRef="end" />
    <bpmn:endEvent id="end" />
""")


def _open_by_role(instance_id: int) -> dict[str, bool]:
    db.session.expire_all()
    return dict(db.session.execute(
        select(HumanTaskCandidate.role, HumanTaskCandidate.is_open)
        .join(HumanTask, HumanTask.id == HumanTaskCandidate.task_id)
        .where(HumanTask.instance_id == instance_id)).all())


def _may_act_ids(actor) -> set[str]:  # noqa: ANN001
    return set(db.session.scalars(select(HumanTask.id).where(access.may_act_sql(actor))))


def test_a_completed_task_closes_its_candidate_rows_and_a_terminated_instance_closes_the_rest(app, actors):
    definitions.deploy([BundleFile("two_reviews.bpmn", TWO_LANES.encode())], "admin")
    instance = instances.start("two_reviews", actors["admin"], {})
    assert _open_by_role(instance.id) == {"pmo": True, "sponsor": True}
    pmo_task = next(t for t in ready(instance.id) if t.element_id == "pmo_review")
    sponsor_task = next(t for t in ready(instance.id) if t.element_id == "sponsor_review")
    pmo = next(a for a in actors.values() if "pmo" in a.roles)
    assert pmo_task.id in _may_act_ids(pmo)

    instances.complete(pmo_task.id, pmo, {})
    assert _open_by_role(instance.id) == {"pmo": False, "sponsor": True}  # the row stays, closed
    assert pmo_task.id not in _may_act_ids(pmo)

    instances.terminate(instance.id, actors["admin"], "no longer needed")
    assert _open_by_role(instance.id) == {"pmo": False, "sponsor": False}
    sponsor = next(a for a in actors.values() if "sponsor" in a.roles)
    assert sponsor_task.id not in _may_act_ids(sponsor)
