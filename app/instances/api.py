"""Process instances: start, list, show, audit trail, and the lifecycle commands."""

from __future__ import annotations

from flask import Blueprint

from app.api.docs import doc
from app.api.io import View, body, dump, query
from app.core.errors import Forbidden
from app.definitions import operations as definitions
from app.definitions import queries as definition_queries
from app.instances import ballots, migration, queries
from app.instances import commands as instance_service
from app.instances.models import ProcessInstance
from app.instances.schemas import (
    AuditListOut,
    InstanceOut,
    InstancePageOut,
    InstanceQuery,
    InstanceStartIn,
    MigrateIn,
    MigrationBatchIn,
    MigrationBatchOut,
    MigrationPlanOut,
    ReasonIn,
    ReleaseIn,
    ReleaseOut,
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
    ready = instance_service.ready_tasks(instance.id)
    hidden = ballots.sealed_variables(instance.id, ready)  # an open vote's ballots stay sealed
    view = View(instance, ready_tasks=ready, data={k: v for k, v in data.items() if k not in hidden} if hidden else data)
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


# -- moving instances to another version (the studio's migration) ------------------------------------------

MIGRATION_TAGS = ["migration"]
MIGRATORS = ("process_owner", "admin")


@bp.get("/process-definitions/<key>/versions/<int:version>/migration-plan")
@doc(summary="Dry run: which running instances of older versions can move to this version, and why not",
     tags=MIGRATION_TAGS, responses={200: MigrationPlanOut}, errors=(403, 404),
     description="Every running, suspended or failed instance of an older version: movable or blocked, with "
                 "each blocking BPMN element and why (a changed or removed step the instance has passed or is "
                 "in, a removed step it waits at), and what the move would do (a changed timer restarts from "
                 "the migration, a changed form, new steps). Nothing is changed. Process owners and admins.")
def migration_plan(key: str, version: int):  # noqa: ANN201
    actor = require_roles(*MIGRATORS)
    return dump(MigrationPlanOut, migration.plan(key, version, actor))


@bp.post("/migration-batches")
@doc(summary="Move many instances to a version, as background work", tags=MIGRATION_TAGS,
     body=MigrationBatchIn, responses={202: MigrationBatchOut}, errors=(403, 404),
     description="Without `instance_ids`, every instance the dry run finds movable. Each instance moves in its "
                 "own command; one that is blocked or fails is recorded in `results` with its reason and the "
                 "batch goes on. Read the progress with GET /migration-batches/{id}.")
def start_migration_batch():  # noqa: ANN201
    actor = require_roles(*MIGRATORS)
    data = body(MigrationBatchIn)
    target = migration.version_of(data["process_key"], data["to_version"])
    batch = migration.start_batch(data["process_key"], target.id, actor, data["instance_ids"])
    return dump(MigrationBatchOut, batch, 202)


@bp.get("/migration-batches/<int:batch_id>")
@doc(summary="A migration batch: its progress and each instance's outcome", tags=MIGRATION_TAGS,
     responses={200: MigrationBatchOut}, errors=(403, 404))
def get_migration_batch(batch_id: int):  # noqa: ANN201
    require_roles(*MIGRATORS)
    return dump(MigrationBatchOut, migration.get_batch(batch_id))


@bp.post("/process-instances/<int:instance_id>/migrate")
@doc(summary="Move one instance to a newer version of its process", tags=MIGRATION_TAGS, body=MigrateIn,
     responses={200: InstanceOut}, errors=(403, 404, 409),
     description="Its open tasks keep their ids (claims, drafts and comments stay). 409 when it cannot move, "
                 "with `errors.blockers` naming each blocking element and why; 409 too when it already runs "
                 "that version or a newer one.")
def migrate_instance(instance_id: int):  # noqa: ANN201
    actor = require_roles(*MIGRATORS)
    instance = instance_service.get(instance_id)
    target = migration.version_of(instance.process_key, body(MigrateIn)["to_version"])
    return _answer(migration.migrate_instance(instance.id, target.id, actor))


@bp.post("/process-instances/<int:instance_id>/migrate-back")
@doc(summary="Undo an instance's last migration, while nothing ran since", tags=MIGRATION_TAGS,
     responses={200: InstanceOut}, errors=(403, 404, 409),
     description="State, version, open tasks and timers as before the move. 409 once a step ran (or the "
                 "instance was changed) after the move, or when it has no move to undo.")
def migrate_instance_back(instance_id: int):  # noqa: ANN201
    actor = require_roles(*MIGRATORS)
    instance = instance_service.get(instance_id)
    return _answer(migration.migrate_back(instance.id, actor))


@bp.put("/process-definitions/<key>/release")
@doc(summary="Choose the version new instances start on (roll back or forward)", tags=MIGRATION_TAGS,
     body=ReleaseIn, responses={200: ReleaseOut}, errors=(403, 404),
     description="Running instances stay on their version. Releasing the newest version makes new instances "
                 "follow the newest again (also after the next publish).")
def set_release(key: str):  # noqa: ANN201
    actor = require_roles(*MIGRATORS)
    data = body(ReleaseIn)
    definitions.set_release(key, data["version"], actor, data["reason"])
    return dump(ReleaseOut, {"process_key": key, "version": definition_queries.current_version(key).version,
                             "newest_version": definition_queries.latest_version(key).version})
