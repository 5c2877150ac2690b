"""The inbox and the task actions: claim, unclaim, assign, complete."""

from __future__ import annotations

from flask import Blueprint, current_app, json, request

from app.api.docs import doc
from app.api.errors import PROBLEM_MIMETYPE, problem_type
from app.api.io import View, _schema, body, dump, query
from app.definitions import forms
from app.inbox.rendering import task_instructions_html
from app.inbox.schemas import AssignIn, CompleteIn, CompleteOut, TaskDetailOut, TaskPageOut, TaskQuery
from app.instances import access, queries
from app.instances import commands as instance_service
from app.instances.models import HumanTask
from app.people.auth import current_actor

# Routes under /api/v1, nested in the shared API blueprint (app/api): its token check,
# error answers and OpenAPI document cover them.
bp = Blueprint("inbox", __name__)

TAGS = ["tasks"]


def _detail(task: HumanTask):  # noqa: ANN202
    instance = instance_service.get(task.instance_id)
    data = instance_service.task_data(task)
    deployment_id = instance.process_version.deployment_id
    view = View(task, instance=instance, data=data,
                form_schema=forms.load_form(deployment_id, task.form_schema_file, data),
                form_ui_schema=forms.load_form(deployment_id, task.form_ui_file, data),
                instructions_html=task_instructions_html(task, data))
    return dump(TaskDetailOut, view)


@bp.get("/tasks")
@doc(summary="The caller's inbox", tags=TAGS, query=TaskQuery, responses={200: TaskPageOut},
     description="The READY tasks the caller may act on: assigned to them, or unclaimed and offered to one "
                 "of their roles or to them by name; never one segregation of duties keeps them out of. "
                 "status=completed lists the tasks they completed; all lists both.")
def inbox():  # noqa: ANN201
    return dump(TaskPageOut, queries.inbox(current_actor(), **query(TaskQuery)))


@bp.get("/tasks/<task_id>")
@doc(summary="A task with its form, rendered instructions, data and instance", tags=TAGS,
     responses={200: TaskDetailOut}, errors=(404,))
def get_task(task_id: str):  # noqa: ANN201
    return _detail(access.visible_task(task_id, current_actor()))


@bp.post("/tasks/<task_id>/claim")
@doc(summary="Claim a task offered to the caller", tags=TAGS, responses={200: TaskDetailOut},
     errors=(403, 404, 409))
def claim_task(task_id: str):  # noqa: ANN201
    return _detail(instance_service.claim(task_id, current_actor()))


@bp.post("/tasks/<task_id>/unclaim")
@doc(summary="Release a claimed task (its assignee or an admin)", tags=TAGS, responses={200: TaskDetailOut},
     errors=(403, 404, 409))
def unclaim_task(task_id: str):  # noqa: ANN201
    return _detail(instance_service.unclaim(task_id, current_actor()))


@bp.post("/tasks/<task_id>/assign")
@doc(summary="Assign a task to a user (its assignee, the PMO or an admin)", tags=TAGS, body=AssignIn,
     responses={200: TaskDetailOut}, errors=(403, 404, 409))
def assign_task(task_id: str):  # noqa: ANN201
    username = body(AssignIn)["username"]
    return _detail(instance_service.assign(task_id, current_actor(), username))


@bp.post("/tasks/<task_id>/complete")
@doc(summary="Complete a task with its form data", tags=TAGS, body=CompleteIn, responses={200: CompleteOut},
     errors=(400, 403, 404, 409),
     headers=({"name": "Idempotency-Key", "required": False, "schema": {"type": "string", "maxLength": 200},
               "description": "Send the same key when retrying: a completion that already went through "
                              "with it answers 200 with the instance as it is now."},),
     description="Only the fields of the task's form are taken (a task without a form: the fields its "
                 "process declares with `dataFields`, else none); read-only fields keep the process's "
                 "value. 422 lists every field error (JSON pointer path -> messages), unknown fields "
                 "included; 422 with type step-failed when the engine failed after the task (the instance "
                 "is in error). 409 with type already-completed when the caller completed this task "
                 "already: the body carries `instance` and `next_tasks` as a 200 would.")
def complete_task(task_id: str):  # noqa: ANN201
    actor = current_actor()
    data = body(CompleteIn)["data"]
    key = request.headers.get("Idempotency-Key")
    try:
        instance = instance_service.complete(task_id, actor, data, idempotency_key=key)
    except instance_service.AlreadyCompleted as exc:
        return _already_completed(exc, actor)
    return dump(CompleteOut, {"instance": instance, "next_tasks": queries.next_tasks(instance, actor)})


def _already_completed(exc: instance_service.AlreadyCompleted, actor: instance_service.Actor):  # noqa: ANN202
    """409 that still tells a client whose first answer was lost what its completion led to."""
    instance = instance_service.get(exc.instance_id)
    result = _schema(CompleteOut).dump({"instance": instance,
                                        "next_tasks": queries.next_tasks(instance, actor)})
    payload = {"type": problem_type("already-completed"), "title": "Conflict", "status": 409,
               "detail": exc.detail, "task_id": exc.task_id, **result}
    return current_app.response_class(json.dumps(payload), status=409, mimetype=PROBLEM_MIMETYPE)
