"""The project manager's pages: "My projects" and a project's workspace, and raising a change
request from it. Handlers read the request, call the projects operations or the workspace read
model, and render; a project the user may not see answers 404."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.core.errors import Conflict, Invalid, NotFound, StepFailed
from app.definitions import forms
from app.definitions import queries as definition_queries
from app.inbox import formrender
from app.people.actor import Actor
from app.projects import operations as projects
from app.projects import queries as project_queries
from app.projects import workspace as views
from app.projects.models import Phase, Project

bp = Blueprint("projects", __name__, template_folder="templates")

RAG_VALUES = ("green", "amber", "red")


def _actor() -> Actor:
    return Actor.of(current_user)


def _page_number() -> int:
    value = request.args.get("page", "1")
    return min(int(value), 10_000) if value.isdigit() and int(value) > 0 else 1


@bp.get("/projects")
@login_required
def my_projects():  # noqa: ANN201
    phase = request.args.get("phase") or None
    rag = request.args.get("rag") or None
    q = (request.args.get("q") or "").strip()[:100] or None
    if phase not in (None, *(p for p, _ in views.LIFECYCLE), Phase.CLOSED):
        phase = None
    if rag not in (None, *RAG_VALUES):
        rag = None
    page, rows, people = views.my_projects(_actor(), phase=phase, rag=rag, q=q, page=_page_number())
    return render_template("projects/list.html", page=page, rows=rows, people=people,
                           filters={"phase": phase or "", "rag": rag or "", "q": q or ""},
                           phases=views.LIFECYCLE, rags=RAG_VALUES)


@bp.get("/projects/<int:project_id>")
@login_required
def workspace(project_id: int):  # noqa: ANN201
    kind = (request.args.get("activity") or "").strip()[:80] or None
    try:
        ws = views.workspace(project_id, _actor(), kind)
    except NotFound:
        abort(404)
    return render_template("projects/workspace.html", ws=ws, project=ws.project, activity_kind=kind or "",
                           stopped=views.is_stopped(ws.project))


def _change_form(project: Project) -> tuple[dict | None, dict]:
    """The deployed change process's submit form, its placeholders filled with the project."""
    data = {"project_id": project.id, "project_code": project.code or "", "project_name": project.name}
    try:
        version = definition_queries.current_version(projects.CHANGE_PROCESS)
        schema = forms.load_form(version.deployment_id, projects.CHANGE_SUBMIT_FORM, data)
    except NotFound:
        return None, {}
    try:
        ui = forms.load_form(version.deployment_id, projects.CHANGE_SUBMIT_FORM.replace("-schema", "-uischema"), data)
    except NotFound:
        ui = {}
    return schema, ui or {}


@bp.route("/projects/<int:project_id>/changes/new", methods=["GET", "POST"])
@login_required
def raise_change(project_id: int):  # noqa: ANN201
    """The change request form of the deployed change process; submitting starts change control."""
    actor = _actor()
    try:
        project = project_queries.visible_project(project_id, actor)
    except NotFound:
        abort(404)
    if not project_queries.accepts_change_requests(project):
        flash(f"{project.name} is in {project.phase}: change requests are accepted from planning until "
              "closure.", "error")
        return redirect(url_for("projects.workspace", project_id=project.id), 303)
    schema, ui = _change_form(project)
    if schema is None:
        abort(404)
    values: dict = {}
    errors: dict = {}
    status = 200
    form_error = ""
    if request.method == "POST":
        values, parse_errors = formrender.parse(schema, ui, request.form, {})
        errors = formrender.merge_errors(parse_errors, formrender.validate(schema, values))
        if not errors:
            try:
                cr, _instance = projects.raise_change_request(project.id, actor, values)
            except Invalid as exc:
                errors = ({k: [str(m) for m in v] for k, v in exc.errors.items()}
                          if isinstance(exc.errors, dict) else {})
                form_error = exc.detail
            except (Conflict, StepFailed) as exc:
                form_error = exc.detail
            else:
                flash(f"Change request CR-{cr.number} raised: {cr.title}. It is on its way to assessment.",
                      "success")
                return redirect(url_for("projects.workspace", project_id=project.id, _anchor="changes"), 303)
        status = 422
        form_error = form_error or "The form has errors. Please correct the fields marked below."
    fields = formrender.build(schema, ui, values, errors)
    return render_template("projects/change_new.html", project=project, fields=fields,
                           flat=formrender.flatten(fields), form_error=form_error), status
