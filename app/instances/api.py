"""Process instances: start, list, show, audit trail, and the lifecycle commands."""

from __future__ import annotations

from flask import Blueprint

from app.api.docs import doc
from app.api.io import View, body, dump, query
from app.core.errors import Forbidden
from app.instances import ballots, queries
from app.instances import commands as instance_service
from app.instances.models import ProcessInstance
from app.instances.schemas import (
    AuditListOut,
    InstanceOut,
    InstancePageOut,
    InstanceQuery,
    InstanceStartIn,
    ReasonIn,
)
from app.people.actor import Actor
from app.people.auth import current_actor, require_roles

# Routes under /api/v1, nested in the shared API blueprint (app/api): its token check,
# error answers and OpenAPI document cover them.
bp = Blueprint("instances", __name__)

TAGS = ["process instances"]
INSTANCE_MANAGERS = frozenset({"admin", "pmo"})


def _answer(instance: ProcessInstance, status: int = 200):  # noqa: ANN202
    data = instance_service.instance_data(instance)
    hidden = ballots.sealed_variables(instance.id)  # an open vote's ballots stay sealed
    view = View(instance, ready_tasks=instance_service.ready_tasks(instance.id),
                data={k: v for k, v in data.items() if k not in hidden} if hidden else data)
    return dump(InstanceOut, view, status)


def _managed(instance_id: int) -> tuple[ProcessInstance, Actor]:
    """The instance, if the caller may see it (404) and manage it: admin, PMO or its starter (403)."""
    actor = current_actor()
    instance = queries.visible_instance(instance_id, actor)
    if not (actor.roles & INSTANCE_MANAGERS or instance.started_by == actor.username):
        raise Forbidden("only an admin, the PMO or whoever started the instance can do this")
    return instance, actor


@bp.post("/process-instances")
@doc(summary="Start an instance of the latest version of a process", tags=TAGS, body=InstanceStartIn,
     responses={201: InstanceOut}, errors=(403, 404),
     description="Only the roles the process names in its `startableBy` property may start it (the "
                 "definition's `startable_by`); a process without one is started by the server only "
                 "(403). `data` holds the start form's fields (`startFormJsonSchemaFilename`) or the "
                 "fields of `startDataFields`, and nothing else: 422 names each unknown, invalid or "
                 "server-owned field (such as `lane_owners`, `requested_by`, `project_id`). 422 with "
                 "type step-failed when the first step failed (the instance is kept, in error).")
def start_instance():  # noqa: ANN201
    data = body(InstanceStartIn)
    instance = instance_service.start_by_user(data["process_key"], current_actor(), data["data"],
                                              data["business_key"])
    return _answer(instance, 201)


@bp.get("/process-instances")
@doc(summary="Instances the caller may see, newest first", tags=TAGS, query=InstanceQuery,
     responses={200: InstancePageOut})
def list_instances():  # noqa: ANN201
    page = queries.list_instances(current_actor(), **query(InstanceQuery))
    return dump(InstancePageOut, page)


@bp.get("/process-instances/<int:instance_id>")
@doc(summary="An instance with its ready tasks and current data", tags=TAGS, responses={200: InstanceOut},
     errors=(404,))
def get_instance(instance_id: int):  # noqa: ANN201
    return _answer(queries.visible_instance(instance_id, current_actor()))


@bp.get("/process-instances/<int:instance_id>/audit")
@doc(summary="The instance's audit trail, oldest first", tags=TAGS, responses={200: AuditListOut},
     errors=(404,))
def instance_audit(instance_id: int):  # noqa: ANN201
    actor = current_actor()
    instance = queries.visible_instance(instance_id, actor)
    return dump(AuditListOut, {"items": ballots.seal_audit(queries.audit_trail(instance.id), instance.id,
                                                           actor.username)})


@bp.post("/process-instances/<int:instance_id>/terminate")
@doc(summary="Terminate an instance (admin, PMO or its starter)", tags=TAGS, body=ReasonIn, body_required=False,
     responses={200: InstanceOut}, errors=(403, 404, 409))
def terminate_instance(instance_id: int):  # noqa: ANN201
    instance, actor = _managed(instance_id)
    reason = body(ReasonIn, optional=True)["reason"]
    return _answer(instance_service.terminate(instance.id, actor, reason))


@bp.post("/process-instances/<int:instance_id>/suspend")
@doc(summary="Suspend a running instance (admin, PMO or its starter)", tags=TAGS, body=ReasonIn,
     body_required=False, responses={200: InstanceOut}, errors=(403, 404, 409))
def suspend_instance(instance_id: int):  # noqa: ANN201
    instance, actor = _managed(instance_id)
    reason = body(ReasonIn, optional=True)["reason"]
    return _answer(instance_service.suspend(instance.id, actor, reason))


@bp.post("/process-instances/<int:instance_id>/resume")
@doc(summary="Resume a suspended instance (admin, PMO or its starter)", tags=TAGS, responses={200: InstanceOut},
     errors=(403, 404, 409, 422))
def resume_instance(instance_id: int):  # noqa: ANN201
    instance, actor = _managed(instance_id)
    return _answer(instance_service.resume(instance.id, actor))


@bp.post("/process-instances/<int:instance_id>/retry")
@doc(summary="Run the engine again on an instance in error (admin)", tags=TAGS, responses={200: InstanceOut},
     errors=(403, 404, 409, 422))
def retry_instance(instance_id: int):  # noqa: ANN201
    actor = require_roles("admin")
    instance = queries.visible_instance(instance_id, actor)
    return _answer(instance_service.retry(instance.id, actor))
