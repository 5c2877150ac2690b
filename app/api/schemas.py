"""Marshmallow schemas: what the API reads (``*In``/``*Query``) and what it answers."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_dump, validate

from app.models.base import utcnow
from app.models.instance import InstanceStatus, TaskStatus

MAX_PER_PAGE = 200
MAX_PAGE = 10**9  # (page - 1) * per_page stays far inside a 64-bit OFFSET


class ProblemSchema(Schema):
    type = fields.String(required=True, metadata={"description": "A URI naming the kind of problem"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.Raw(metadata={"description": "422 only: reasons per field (object of lists) or per "
                                                 "file (list of {file, line, element, message})"})


class PageQuery(Schema):
    # Bounded: a page whose offset does not fit in 64 bits reached the database as a 500.
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PER_PAGE))


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item), required=True),
        "page": fields.Integer(required=True),
        "per_page": fields.Integer(required=True),
        "total": fields.Integer(required=True),
    }, name=name)


# -- auth ------------------------------------------------------------------------------------------

class TokenIn(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=80))
    password = fields.String(required=True, load_only=True)


class TokenOut(Schema):
    token = fields.String(required=True)
    token_type = fields.String(dump_default="Bearer")
    expires_in = fields.Integer(metadata={"description": "seconds"})
    username = fields.String(required=True)
    roles = fields.List(fields.String(), required=True)


# -- health ----------------------------------------------------------------------------------------

class CheckOut(Schema):
    ok = fields.Boolean(required=True)
    detail = fields.String(required=True)


class SchedulerCheckOut(CheckOut):
    lag_seconds = fields.Float(metadata={"description": "how late the most overdue timer is"})
    due_timers = fields.Integer()
    schedulers = fields.List(fields.String(), metadata={"description": "schedulers seen in the last 30 s"})


class WorkerCheckOut(CheckOut):
    workers = fields.List(fields.String(), metadata={"description": "Celery workers that answered a ping"})


class HealthOut(Schema):
    status = fields.String(required=True, metadata={"enum": ["ok", "degraded"]})
    database = fields.Nested(CheckOut, required=True)
    broker = fields.Nested(CheckOut, required=True)
    scheduler = fields.Nested(SchedulerCheckOut)
    workers = fields.Nested(WorkerCheckOut)


# -- users -----------------------------------------------------------------------------------------

class UserOut(Schema):
    username = fields.String(required=True)
    email = fields.String()
    display_name = fields.String()
    roles = fields.List(fields.String())
    active = fields.Boolean()
    created_at = fields.DateTime()


class UserListOut(Schema):
    items = fields.List(fields.Nested(UserOut), required=True)


class UserCreateIn(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=80))
    password = fields.String(required=True, load_only=True)
    roles = fields.List(fields.String(), load_default=list)
    email = fields.Email()
    display_name = fields.String(load_default="", validate=validate.Length(max=200))


class UserUpdateIn(Schema):
    password = fields.String(load_only=True)
    roles = fields.List(fields.String())
    email = fields.Email()
    display_name = fields.String(validate=validate.Length(max=200))
    active = fields.Boolean()


# -- process definitions ---------------------------------------------------------------------------

class VersionOut(Schema):
    key = fields.String(attribute="process_key", required=True)
    version = fields.Integer(required=True)
    name = fields.String()
    description = fields.String()
    file = fields.String(attribute="bpmn_file")
    forms = fields.List(fields.String())
    startable_by = fields.List(fields.String(), attribute="start_roles", dump_only=True, metadata={
        "description": "roles that may start it by hand (its startableBy property); empty: the server starts it"})
    deployment_id = fields.Integer()
    created_at = fields.DateTime()


class DefinitionListOut(Schema):
    items = fields.List(fields.Nested(VersionOut), required=True)


class DefinitionOut(VersionOut):
    versions = fields.List(fields.Nested(VersionOut), required=True)


class DeployQuery(Schema):
    validate_only = fields.Boolean(load_default=False)


class KeyVersionOut(Schema):
    key = fields.String(attribute="process_key", required=True)
    version = fields.Integer(required=True)


class DeployOut(Schema):
    deployment_id = fields.Integer(allow_none=True, required=True)
    created = fields.List(fields.Nested(KeyVersionOut), required=True)
    unchanged = fields.List(fields.Nested(KeyVersionOut), required=True)
    note = fields.String(metadata={"description": "what happened when it is not obvious (e.g. a DMN table "
                                                   "uploaded alone: which processes got a new version)"})

    @post_dump
    def _drop_empty_note(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if not data.get("note"):
            data.pop("note", None)
        return data


class ValidateOut(Schema):
    valid = fields.Boolean(required=True)
    processes = fields.List(fields.String())


UPLOAD_BODY = {
    "type": "object",
    "required": ["files"],
    "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"},
                             "description": ".bpmn, .dmn and .json files, or .zip archives of them"}},
}


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


# -- the inbox and task actions --------------------------------------------------------------------

TASK_SORTS = ("created_at", "-created_at", "due_at", "-due_at", "priority", "-priority", "title", "-title")


class TaskQuery(PageQuery):
    process_key = fields.String()
    status = fields.String(load_default="ready", validate=validate.OneOf(("ready", "completed", "all")))
    overdue = fields.Boolean(load_default=False)
    assigned = fields.String(validate=validate.OneOf(("me", "unassigned")))
    sort = fields.String(load_default="created_at", validate=validate.OneOf(TASK_SORTS))


TaskPageOut = page_schema(TaskOut, "TaskPage")


class TaskDetailOut(TaskOut):
    instructions = fields.String(allow_none=True, metadata={"description": "Markdown with Jinja placeholders"})
    instructions_html = fields.String(metadata={"description": "rendered with the task data, sanitized"})
    form_schema = fields.Dict(allow_none=True)
    form_ui_schema = fields.Dict(allow_none=True)
    data = fields.Dict()
    instance = fields.Nested(InstanceSummaryOut)


class AssignIn(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=80))


class CompleteIn(Schema):
    data = fields.Dict(load_default=dict, metadata={
        "description": "the form's values: only its fields (read-only ones unchanged or left out)"})


class CompleteOut(Schema):
    instance = fields.Nested(InstanceSummaryOut, required=True)
    next_tasks = fields.List(fields.Nested(TaskOut), required=True)
