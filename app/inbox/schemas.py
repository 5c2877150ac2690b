"""Marshmallow schemas of the task API: the inbox, a task, and its actions."""


from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.api.schemas import PageQuery, page_schema
from app.instances.schemas import InstanceSummaryOut, TaskOut

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
