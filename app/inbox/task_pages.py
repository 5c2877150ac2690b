"""The task page: context, the rendered form, complete / draft / add row, claim, assign, delegate,
comments, history, the process diagram, and the panels a domain registered for the step
(``task_panels``: a resource request's effect on capacity). Every handler finds the task through
``access.visible_task``: a task the user may not see is a 404."""

from __future__ import annotations

import copy
from datetime import datetime, time
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from app.core.audit import AuditEntry
from app.core.errors import Conflict, Forbidden, Invalid, NotFound, ServiceError, StepFailed
from app.core.extensions import db
from app.core.models import utcnow
from app.definitions import forms
from app.inbox import delegation, formrender, notifications, operations, task_panels
from app.inbox import queries as inbox
from app.inbox.models import TaskComment, TaskDraft
from app.inbox.pages import bp
from app.inbox.rendering import task_instructions_html
from app.instances import access, ballots, business_keys
from app.instances import commands as instances
from app.instances.models import HumanTask, TaskStatus
from app.web import safe_next


def _actor() -> instances.Actor:
    return instances.Actor.of(current_user)


def _task_or_404(task_id: str) -> HumanTask:
    try:
        return access.visible_task(task_id, _actor())
    except NotFound:
        abort(404)


def _safe_back(target: str | None) -> str | None:

    return safe_next(target)


# -- context -------------------------------------------------------------------------------------

def _project_summary(instance, data: dict[str, Any]) -> dict[str, Any] | None:  # noqa: ANN001
    """The card of the record the instance's business key (or its data) ties it to: its domain says."""
    return business_keys.card(instance.business_key, data)


def _history(instance_id: int) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.instance_id == instance_id)
                                   .order_by(AuditEntry.at, AuditEntry.id)))


def _titles(task_ids: set[str]) -> dict[str, str]:
    if not task_ids:
        return {}
    return dict(db.session.execute(select(HumanTask.id, HumanTask.title).where(HumanTask.id.in_(task_ids))).all())


def _decisions(history: list[AuditEntry], current_task_id: str, deployment_id: int | None = None) -> list[dict[str, Any]]:
    """Earlier completed steps of this instance with what was entered (newest last), each with its
    form's fields (``fields``: key → field schema) so the page shows the form's titles, not keys."""
    steps = [e for e in history if e.action == "complete_task" and e.task_id != current_task_id]
    ids = {e.task_id for e in steps if e.task_id}
    titles = _titles(ids)
    form_files = dict(db.session.execute(select(HumanTask.id, HumanTask.form_schema_file)
                                         .where(HumanTask.id.in_(ids))).all()) if ids else {}
    schemas: dict[str, dict[str, Any]] = {}
    out = []
    for entry in steps:
        data = entry.details.get("data") or {}
        name = form_files.get(entry.task_id)
        if name and deployment_id is not None and name not in schemas:
            try:
                schemas[name] = (forms.load_form(deployment_id, name) or {}).get("properties") or {}
            except Exception:  # noqa: BLE001 - a missing form: keys make the labels
                schemas[name] = {}
        out.append({"at": entry.at, "actor": entry.actor, "title": titles.get(entry.task_id, entry.details.get(
            "element_id", "")), "data": data, "task_id": entry.task_id, "fields": schemas.get(name or "", {})})
    return out


def _initial_values(task: HumanTask, schema: dict[str, Any] | None, data: dict[str, Any]) -> dict[str, Any]:
    """What the form shows first: the task data for the form's fields, else their defaults."""
    if not schema:
        return {}
    values: dict[str, Any] = {}
    for key, sub in (schema.get("properties") or {}).items():
        if key in data:
            values[key] = copy.deepcopy(data[key])
        elif isinstance(sub, dict) and "default" in sub:
            values[key] = copy.deepcopy(sub["default"])
    return values


def _draft(task: HumanTask) -> TaskDraft | None:
    return operations.draft_of(task.id, current_user.username)


def _form_for(task: HumanTask, data: dict[str, Any]) -> tuple[dict | None, dict]:
    instance = instances.get(task.instance_id)
    deployment_id = instance.process_version.deployment_id
    schema = forms.load_form(deployment_id, task.form_schema_file, data) if task.form_schema_file else None
    ui = (forms.load_form(deployment_id, task.form_ui_file, data) if task.form_ui_file else None) or {}
    return schema, ui


def _completed_data(task: HumanTask) -> dict[str, Any]:
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.instance_id == task.instance_id,
                                                        AuditEntry.task_id == task.id,
                                                        AuditEntry.action == "complete_task")).first()
    return (entry.details.get("data") or {}) if entry else {}


def _render(task: HumanTask, values: dict[str, Any] | None = None, errors: dict[str, list[str]] | None = None,
            status: int = 200, form_error: str | None = None, focus: str | None = None):  # noqa: ANN202
    actor = _actor()
    instance = instances.get(task.instance_id)
    is_open = task.status == TaskStatus.READY
    try:
        data = instances.task_data(task)  # a completed task: its data when it was completed
    except ServiceError:
        data = {}
    except Exception:  # noqa: BLE001 - show the page even when the instance cannot be loaded
        data = {}
    schema, ui = _form_for(task, data)
    draft = _draft(task) if is_open else None
    if values is None:
        if not is_open:
            values = _completed_data(task)
        elif draft is not None:
            values = draft.data
        else:
            values = _initial_values(task, schema, data)
    fields = formrender.build(schema, ui, values, errors or {})
    flat = formrender.flatten(fields)
    error_list = [(f, m) for f in flat for m in f.errors]
    known = {f.path for f in flat}
    other_errors = [(path or "form", m) for path, ms in (errors or {}).items() if path not in known for m in ms]
    history = _history(task.instance_id)
    can_act = access.may_act(task, actor)
    can_assign = access.may_assign(task, actor)
    active = delegation.active_delegation(task.id)
    comments = list(db.session.scalars(select(TaskComment).where(TaskComment.instance_id == task.instance_id)
                                       .order_by(TaskComment.created_at, TaskComment.id)))
    titles = _titles({c.task_id for c in comments})
    panels = task_panels.panels_for(task, instance, data, actor)  # figures of the step's domain, if it has any
    notifications.mark_task_read(current_user.username, task.id)
    return render_template(
        "inbox/task.html", task=task, instance=instance, fields=fields, schema=schema, errors=errors or {},
        error_list=error_list, other_errors=other_errors, form_error=form_error, focus=focus,
        instructions=task_instructions_html(task, data) if task.instructions else "",
        project=_project_summary(instance, data), decisions=ballots.seal(_decisions(history, task.id, instance.process_version.deployment_id), task.instance_id, actor.username), history=history,
        comments=comments, comment_titles=titles, draft=draft, is_open=is_open, can_act=can_act,
        can_claim=task.assignee is None and access.may_claim(task, actor),
        can_unclaim=is_open and task.assignee == actor.username,
        can_assign=can_assign, assignable=delegation.assignable_users(task) if can_assign else [],
        can_delegate=can_act,
        delegates=delegation.assignable_users(task, exclude=[actor.username]) if is_open else [],
        delegation=active, can_return=bool(active and active.delegate == actor.username and is_open),
        can_take_back=bool(is_open and active and actor.username in delegation.owners(task.id)),
        overdue=instances.overdue(task), now=utcnow(), back=_safe_back(request.values.get("back")),
        excluded=access.is_excluded(task, actor.username),
        panels=panels,
    ), status


# -- pages ----------------------------------------------------------------------------------------

@bp.get("/tasks/<task_id>")
@login_required
def task_page(task_id: str):  # noqa: ANN201
    return _render(_task_or_404(task_id))


def _get_path(data: Any, path: str) -> Any:
    node = data
    for part in path.split("/"):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict):
            node = node.setdefault(part, [])
        else:
            return None
    return node


@bp.post("/tasks/<task_id>")
@login_required
def task_submit(task_id: str):  # noqa: ANN201
    task = _task_or_404(task_id)
    if task.status != TaskStatus.READY:
        flash(f"This task is already {task.status}.", "error")
        return redirect(url_for("inbox.task_page", task_id=task.id))
    action = request.form.get("action", "complete")
    try:
        original = instances.task_data(task)
    except Exception:  # noqa: BLE001
        original = {}
    schema, ui = _form_for(task, original)
    data, parse_errors = formrender.parse(schema, ui, request.form, original)

    if action.startswith("add:") or action.startswith("remove:"):
        kind, _, target = action.partition(":")
        if kind == "add":
            rows = _get_path(data, target)
            if isinstance(rows, list) and len(rows) < formrender.MAX_ROWS:
                rows.append(formrender.new_row(schema, target))
                focus = f"{target}/{len(rows) - 1}"
        else:
            path, _, index = target.rpartition("/")
            rows = _get_path(data, path)
            if isinstance(rows, list) and index.isdigit() and int(index) < len(rows):
                rows.pop(int(index))
            focus = path
        return _render(task, values=data, focus=locals().get("focus"))

    if action == "save_draft":
        operations.save_draft(task, current_user.username, data)
        flash("Draft saved. You can come back to it later.", "info")
        return redirect(url_for("inbox.task_page", task_id=task.id))

    if action == "discard_draft":
        operations.discard_draft(task.id, current_user.username)
        flash("Draft discarded.", "info")
        return redirect(url_for("inbox.task_page", task_id=task.id))

    errors = formrender.merge_errors(parse_errors, formrender.validate(schema, data))
    if errors:
        return _render(task, values=data, errors=errors, status=422,
                       form_error="The form has errors. Please correct the fields marked below.")
    title, instance_id = task.title, task.instance_id
    try:
        instances.complete(task.id, _actor(), data)
    except Invalid as exc:
        errors = {k: [str(m) for m in v] for k, v in (exc.errors or {}).items()} if isinstance(exc.errors, dict) else {}
        return _render(db.session.get(HumanTask, task.id), values=data, errors=errors, status=422,
                       form_error="The form has errors. Please correct the fields marked below.")
    except StepFailed as exc:
        return _render(db.session.get(HumanTask, task.id), values=data, status=422,
                       form_error=f"The process could not continue: {exc.detail}")
    except (Forbidden, Conflict) as exc:
        flash(exc.detail[:1].upper() + exc.detail[1:] + ".", "error")
        return redirect(url_for("inbox.task_page", task_id=task.id)), 303
    operations.discard_draft(task.id, current_user.username)
    following = inbox.next_task_for(current_user.username, current_user.roles, instance_id)
    flash(f"Done: {title}.", "success")
    params = {"completed": task.id}
    if following is not None:
        params["next"] = following.id
    return redirect(url_for("inbox.inbox_page", **params), 303)


def _back_or_task(task: HumanTask):  # noqa: ANN202
    back = _safe_back(request.form.get("back"))
    return redirect(back or url_for("inbox.task_page", task_id=task.id), 303)


def _run(task: HumanTask, operation, success: str):  # noqa: ANN001, ANN202
    try:
        operation()
    except Invalid as exc:
        flash(exc.detail[:1].upper() + exc.detail[1:] + ".", "error")
        return redirect(url_for("inbox.task_page", task_id=task.id), 303)
    except ServiceError as exc:
        if isinstance(exc, NotFound):
            abort(404)
        flash(exc.detail[:1].upper() + exc.detail[1:] + ".", "error")
        return _back_or_task(task)
    flash(success, "success")
    return _back_or_task(task)


@bp.post("/tasks/<task_id>/claim")
@login_required
def task_claim(task_id: str):  # noqa: ANN201
    task = _task_or_404(task_id)
    return _run(task, lambda: instances.claim(task.id, _actor()), f"You claimed: {task.title}.")


@bp.post("/tasks/<task_id>/unclaim")
@login_required
def task_unclaim(task_id: str):  # noqa: ANN201
    task = _task_or_404(task_id)
    return _run(task, lambda: instances.unclaim(task.id, _actor()),
                f"You released: {task.title}. It is available to its role again.")


@bp.post("/tasks/<task_id>/assign")
@login_required
def task_assign(task_id: str):  # noqa: ANN201
    task = _task_or_404(task_id)
    username = request.form.get("username", "").strip()
    return _run(task, lambda: instances.assign(task.id, _actor(), username), f"Assigned to {username}.")


@bp.post("/tasks/<task_id>/delegate")
@login_required
def task_delegate(task_id: str):  # noqa: ANN201
    task = _task_or_404(task_id)
    username = request.form.get("delegate", "").strip()
    note = request.form.get("note", "")[:2000]
    return _run(task, lambda: delegation.delegate(task.id, _actor(), username, note),
                f"Delegated to {username}. You still own it: it is listed under “Delegated by me”.")


@bp.post("/tasks/<task_id>/return")
@login_required
def task_return(task_id: str):  # noqa: ANN201
    task = _task_or_404(task_id)
    return _run(task, lambda: delegation.return_to_owner(task.id, _actor()), "Returned to its owner.")


@bp.post("/tasks/<task_id>/take-back")
@login_required
def task_take_back(task_id: str):  # noqa: ANN201
    task = _task_or_404(task_id)
    return _run(task, lambda: delegation.take_back(task.id, _actor()),
                "You took the task back; the delegate was told.")


@bp.post("/tasks/<task_id>/comments")
@login_required
def task_comment(task_id: str):  # noqa: ANN201
    task = _task_or_404(task_id)
    body = request.form.get("body", "").strip()
    if not body:
        flash("Write a comment before posting it.", "error")
        return redirect(url_for("inbox.task_page", task_id=task.id, _anchor="comments"), 303)
    operations.add_comment(task, current_user.username, body)
    flash("Comment posted.", "success")
    return redirect(url_for("inbox.task_page", task_id=task.id, _anchor="comments"), 303)


# The process diagram (/tasks/<task_id>/diagram.bpmn) is served by diagrams.py.


def parse_local_datetime(day: str, clock: str = "") -> datetime | None:
    from datetime import UTC, date

    try:
        when = date.fromisoformat(day)
    except ValueError:
        return None
    try:
        hours = time.fromisoformat(clock) if clock else time(0, 0)
    except ValueError:
        hours = time(0, 0)
    return datetime.combine(when, hours, tzinfo=UTC)
