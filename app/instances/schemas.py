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
