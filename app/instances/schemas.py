"""Marshmallow schemas of the instances API: instances, their open tasks and their audit trail."""


from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from app.api.schemas import PageQuery, page_schema
from app.core.models import utcnow
from app.instances.models import InstanceStatus, TaskStatus

# -- tasks -----------------------------------------------------------------------------------------

def _is_overdue(task: Any) -> bool:
    return task.status == TaskStatus.READY and task.due_at is not None and task.due_at < utcnow()


class TaskOut(Schema):
    id = fields.String(required=True)
    title = fields.String()
    status = fields.String(metadata={"enum": [TaskStatus.READY, TaskStatus.COMPLETED, TaskStatus.CANCELLED]})
    instance_id = fields.Integer()
    process_key = fields.String()
    process_name = fields.String()
    element_id = fields.String()
    lane = fields.String(allow_none=True)
    assignee = fields.String(allow_none=True)
    candidate_roles = fields.List(fields.String())
    candidate_users = fields.List(fields.String())
    priority = fields.Integer()
    created_at = fields.DateTime()
    due_at = fields.DateTime(allow_none=True)
    overdue = fields.Function(_is_overdue, dump_only=True, metadata={"type": "boolean"})
    completed_at = fields.DateTime(allow_none=True)
    completed_by = fields.String(allow_none=True)


# -- process instances -----------------------------------------------------------------------------

class InstanceSummaryOut(Schema):
    id = fields.Integer(required=True)
    process_key = fields.String()
    process_name = fields.String(attribute="process_version.name", dump_only=True)
    version = fields.Integer(attribute="process_version.version", dump_only=True)
    status = fields.String(metadata={"enum": list(InstanceStatus.ALL)})
    status_reason = fields.String(allow_none=True)
    business_key = fields.String(allow_none=True)
    started_by = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    error = fields.Dict(allow_none=True, metadata={"description": "why the last step failed (status error)"})


class InstanceOut(InstanceSummaryOut):
    ready_tasks = fields.List(fields.Nested(TaskOut))
    data = fields.Dict()


class InstanceStartIn(Schema):
    process_key = fields.String(required=True, validate=validate.Length(min=1, max=200))
    data = fields.Dict(load_default=dict, metadata={
        "description": "the start form's fields (or the process's startDataFields); never server-owned keys"})
    business_key = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200),
                                 metadata={"description": "free text; keys starting with project: are the server's"})


class InstanceQuery(PageQuery):
    process_key = fields.String()
    status = fields.String(validate=validate.OneOf(InstanceStatus.ALL))
    started_by = fields.String()
    business_key = fields.String()


InstancePageOut = page_schema(InstanceSummaryOut, "InstancePage")


class ReasonIn(Schema):
    reason = fields.String(load_default="", validate=validate.Length(max=2000))


class AuditOut(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor = fields.String()
    action = fields.String()
    instance_id = fields.Integer(allow_none=True)
    task_id = fields.String(allow_none=True)
    process_key = fields.String(allow_none=True)
    details = fields.Dict()


class AuditListOut(Schema):
    items = fields.List(fields.Nested(AuditOut), required=True)


# -- migration to another version ----------------------------------------------------------------------

class BlockerOut(Schema):
    element = fields.String(metadata={"description": "the BPMN element id"})
    name = fields.String(metadata={"description": "the element's name as people read it"})
    reason = fields.String()


class MigrationChangeOut(Schema):
    element = fields.String()
    name = fields.String()
    kind = fields.String(metadata={"enum": ["timer", "form", "changed", "added", "ahead"],
                                   "description": "timer: a changed timer restarts from the migration; form: an "
                                                  "open task's form changed; changed: an open step changes; added: "
                                                  "a new step; ahead: a step not reached yet changed"})
    detail = fields.String()
    due_at = fields.DateTime(metadata={"description": "kind timer: when it falls due after the move"})
    what = fields.String(metadata={"description": "kinds changed and ahead: what changed, in words"})


class InstancePlanOut(Schema):
    instance_id = fields.Integer()
    label = fields.String(metadata={"description": "the project (business key) or who started it and when"})
    version = fields.Integer(metadata={"description": "the version it runs now"})
    status = fields.String(metadata={"enum": list(InstanceStatus.ALL)})
    started_at = fields.DateTime()
    ready = fields.List(fields.String(), metadata={"description": "titles of its open tasks"})
    movable = fields.Boolean()
    blockers = fields.List(fields.Nested(BlockerOut))
    changes = fields.List(fields.Nested(MigrationChangeOut))


class MigrationPlanOut(Schema):
    process_key = fields.String()
    to_version = fields.Integer(attribute="to_version.version", dump_only=True)
    total = fields.Integer()
    movable = fields.Integer()
    blocked = fields.Integer()
    instances = fields.List(fields.Nested(InstancePlanOut))


class MigrationBatchIn(Schema):
    process_key = fields.String(required=True, validate=validate.Length(min=1, max=200))
    to_version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=2**31 - 1))
    instance_ids = fields.List(fields.Integer(strict=True, validate=validate.Range(min=1, max=2**31 - 1)),
                               load_default=None, allow_none=True, validate=validate.Length(min=1, max=10000),
                               metadata={"description": "which instances; left out: every movable one"})


class BatchResultOut(Schema):
    instance_id = fields.Integer()
    from_version = fields.Integer(allow_none=True)
    outcome = fields.String(metadata={"enum": ["moved", "blocked", "failed"]})
    reason = fields.String()
    blockers = fields.List(fields.Nested(BlockerOut))


class MigrationBatchOut(Schema):
    id = fields.Integer()
    process_key = fields.String()
    to_version = fields.Integer(attribute="to_version.version", dump_only=True)
    status = fields.String(metadata={"enum": ["queued", "running", "finished", "failed"]})
    requested_by = fields.String()
    requested_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    instance_ids = fields.List(fields.Integer())
    total = fields.Integer()
    moved = fields.Integer()
    blocked = fields.Integer()
    failed = fields.Integer()
    results = fields.List(fields.Nested(BatchResultOut))


class MigrateIn(Schema):
    to_version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=2**31 - 1))


class ReleaseIn(Schema):
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=2**31 - 1))
    reason = fields.String(load_default="", validate=validate.Length(max=2000))


class ReleaseOut(Schema):
    process_key = fields.String()
    version = fields.Integer(metadata={"description": "the version new instances start on"})
    newest_version = fields.Integer()
