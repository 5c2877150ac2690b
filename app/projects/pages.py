"""The project manager's pages: "My projects", the guided "New project" page, a project's
workspace with its RAID log (plain forms that work without JavaScript), raising a change request
from it, and its printable documents. Handlers read the request, call the projects operations or
the workspace read model, and render; a project the user may not see answers 404, one they may see
but not change 403."""

from __future__ import annotations

import copy
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from marshmallow import Schema, ValidationError

from app.core.errors import Conflict, Forbidden, Invalid, NotFound, StepFailed
from app.definitions import forms
from app.definitions import queries as definition_queries
from app.inbox import formrender
from app.instances import access
from app.people.actor import Actor
from app.projects import operations as projects
from app.projects import queries as project_queries
from app.projects import workspace as views
from app.projects.models import Phase, Project, RaidItem, RaidKind, StatusReport
from app.projects.schemas import (
    RISK_RESPONSES,
    RaidItemIn,
    RaidItemUpdateIn,
    RiskIn,
    RiskUpdateIn,
)

bp = Blueprint("projects", __name__, template_folder="templates")

RAG_VALUES = ("green", "amber", "red")
SORTS = (("priority", "Priority"), ("name", "Name"), ("code", "Code"), ("phase", "Phase"),
         ("target_end", "End date"), ("updated", "Last changed"))


def _actor() -> Actor:
    return Actor.of(current_user)


@bp.app_context_processor
def _needs_me() -> dict[str, int]:
    """The layout's Projects badge: what on the user's projects waits for them."""
    if not current_user.is_authenticated:
        return {"projects_need_me": 0}
    return {"projects_need_me": project_queries.needs_me_count(_actor(), views.today())}


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
    sort = request.args.get("sort") or None
    if sort not in dict(SORTS):
        sort = None
    page, rows, people = views.my_projects(_actor(), phase=phase, rag=rag, q=q, sort=sort, page=_page_number())
    return render_template("projects/list.html", page=page, rows=rows, people=people,
                           filters={"phase": phase or "", "rag": rag or "", "q": q or "", "sort": sort or ""},
                           phases=views.LIFECYCLE, rags=RAG_VALUES, sorts=SORTS,
                           may_propose=bool(_actor().roles & projects.PROPOSERS))


@bp.get("/projects/<int:project_id>")
@login_required
def workspace(project_id: int):  # noqa: ANN201
    kind = (request.args.get("activity") or "").strip()[:80] or None
    try:
        ws = views.workspace(project_id, _actor(), kind, threshold=projects.escalation_threshold())
    except NotFound:
        abort(404)
    return render_template("projects/workspace.html", ws=ws, project=ws.project, activity_kind=kind or "",
                           raid_titles=views.RAID_TITLES, today=views.today(),
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


@bp.route("/projects/<int:project_id>/status-reports/new", methods=["GET", "POST"])
@login_required
def submit_status_report(project_id: int):  # noqa: ANN201
    """A status report outside the schedule: the status reporting process's own form; submitting
    runs that process with the report step done. Refused with the reason (back on the workspace)
    when the project is not in execution or a report already waits."""
    actor = _actor()
    try:
        project = projects.check_status_report(project_id, actor)
    except NotFound:
        abort(404)
    except Forbidden:
        abort(403)
    except Conflict as exc:
        flash(exc.detail[:1].upper() + exc.detail[1:] + ".", "error")
        return redirect(url_for("projects.workspace", project_id=project_id, _anchor="status-reports"), 303)
    schema, ui = projects.status_report_form()
    if schema is None:
        abort(404)
    values: dict[str, Any] = {"period_end": views.today().isoformat(),
                              "top_risk_score": max(project.max_open_risk_score, 1)}
    errors: dict[str, list[str]] = {}
    form_error = ""
    status = 200
    if request.method == "POST":
        values, parse_errors = formrender.parse(schema, ui, request.form, {})
        action = request.form.get("action", "submit")
        if action.startswith(("add:", "remove:")):
            _add_or_remove_row(schema, values, action)
        else:
            errors = formrender.merge_errors(parse_errors, formrender.validate(schema, values))
            if not errors:
                try:
                    filed = projects.submit_status_report(project.id, actor, values)
                except Invalid as exc:
                    errors = ({k: [str(m) for m in v] for k, v in exc.errors.items()}
                              if isinstance(exc.errors, dict) else {})
                    form_error = exc.detail
                except (Conflict, StepFailed) as exc:
                    form_error = exc.detail
                else:
                    report = filed.report
                    flash(f"Status report of {report.period_end:%d %B %Y} filed: overall {report.overall_rag}.",
                          "success")
                    if filed.needs_plan:
                        flash(f"This {report.overall_rag} report asks for a get-to-green plan: add its actions, "
                              "with owners and dates.", "info")
                    return redirect(url_for("projects.workspace", project_id=project.id,
                                            _anchor=f"report-{report.id}"), 303)
            status = 422
            form_error = form_error or "The report has errors. Please correct the fields marked below."
    fields = formrender.build(schema, ui, values, errors)
    return render_template("projects/status_report_new.html", project=project, fields=fields,
                           form_error=form_error), status


# -- the guided "New project" page --------------------------------------------------------------

# The portfolio categories of the register form, as the PMO files projects (and finds similar ones).
CATEGORIES = (("strategic", "Strategic"), ("growth", "Growth"), ("operational_improvement", "Operational improvement"),
              ("regulatory", "Regulatory / compliance"), ("infrastructure", "Infrastructure"))
# Filled in from the page's own fields, so the charter form does not ask them again.
CHARTER_OWN_FIELDS = ("project_name", "sponsor_note")


def _charter_form() -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The deployed charter form without the fields the page asks itself (name) or that only a
    returned charter shows (the sponsor's reason)."""
    schema = projects.charter_form({"project_name": "", "sponsor_reason": ""})
    if schema is None:
        return None, {}
    version = definition_queries.latest_version(projects.INITIATION_PROCESS)
    try:
        ui = forms.load_form(version.deployment_id, projects.CHARTER_FORM.replace("-schema", "-uischema")) or {}
    except NotFound:
        ui = {}
    schema = copy.deepcopy(schema)
    for name in CHARTER_OWN_FIELDS:
        schema.get("properties", {}).pop(name, None)
    schema["required"] = [r for r in schema.get("required", []) if r not in CHARTER_OWN_FIELDS]
    ui = {k: v for k, v in ui.items() if k not in CHARTER_OWN_FIELDS}
    if "ui:order" in ui:
        ui["ui:order"] = [k for k in ui["ui:order"] if k not in CHARTER_OWN_FIELDS]
    return schema, ui


def _rows_at(data: Any, path: str) -> Any:
    node = data
    for part in path.split("/"):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict):
            node = node.setdefault(part, [])
        else:
            return None
    return node


def _add_or_remove_row(schema: dict[str, Any], data: dict[str, Any], action: str) -> None:
    """The form's "add row" / "remove row" buttons (they submit, so they work without JavaScript)."""
    kind, _, target = action.partition(":")
    if kind == "add":
        rows = _rows_at(data, target)
        if isinstance(rows, list) and len(rows) < formrender.MAX_ROWS:
            rows.append(formrender.new_row(schema, target))
    else:
        path, _, index = target.rpartition("/")
        rows = _rows_at(data, path)
        if isinstance(rows, list) and index.isdigit() and int(index) < len(rows):
            rows.pop(int(index))


def _words_of(value: Any) -> str:
    """Every piece of text in the charter so far, for finding similar lessons."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return " ".join(_words_of(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(_words_of(v) for v in value)
    return ""


def _ids(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.isdigit() and len(v) < 10]


@bp.route("/projects/new", methods=["GET", "POST"])
@login_required
def new_project():  # noqa: ANN201
    """Name, people, filing and charter, with the lessons of similar earlier projects beside the
    charter; "Find related lessons" and the row buttons re-render the page, "Propose" starts it."""
    actor = _actor()
    try:
        projects.check_proposer(actor)
    except Forbidden:
        abort(403)
    schema, ui = _charter_form()
    if schema is None:
        flash("Projects cannot be proposed yet: the initiation process is not deployed.", "error")
        return redirect(url_for("projects.my_projects"), 303)
    sponsors, managers = project_queries.sponsors_and_managers()
    oversight = access.has_oversight(actor)
    if not oversight:
        managers = [m for m in managers if m[0] == actor.username]
    source = request.form if request.method == "POST" else request.args
    head = {"name": (source.get("name") or "").strip()[:200],
            "project_manager": source.get("project_manager") or ("" if oversight else actor.username),
            "sponsor": source.get("sponsor") or "", "category": source.get("category") or "",
            "tags": (source.get("tags") or "")[:500]}
    applied = _ids(source.getlist("applied"))
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    head_errors: dict[str, list[str]] = {}
    form_error = ""
    status = 200
    if request.method == "POST":
        values, parse_errors = formrender.parse(schema, ui, request.form, {})
        action = request.form.get("action", "propose")
        if action.startswith(("add:", "remove:")):
            _add_or_remove_row(schema, values, action)
        elif action == "propose":
            errors = formrender.merge_errors(parse_errors, formrender.validate(schema, values))
            proposal = projects.Proposal(
                name=head["name"], project_manager=head["project_manager"], sponsor=head["sponsor"],
                category=head["category"] if head["category"] in dict(CATEGORIES) else None,
                tags=[t for t in head["tags"].split(",") if t.strip()], charter=values, applied_lessons=applied)
            if not errors:
                try:
                    done = projects.propose_project(proposal, actor)
                except Invalid as exc:
                    for key, messages in (exc.errors or {}).items() if isinstance(exc.errors, dict) else ():
                        target = errors if key.startswith("charter.") else head_errors
                        target[key.removeprefix("charter.")] = [str(m) for m in messages]
                    form_error = "" if (errors or head_errors) else exc.detail
                except Forbidden as exc:
                    head_errors["project_manager"] = [exc.detail]
                except (Conflict, StepFailed) as exc:
                    form_error = exc.detail
                else:
                    if done.charter_submitted:
                        flash(f"{done.project.name} is proposed: the charter is with the sponsor for approval.",
                              "success")
                    else:
                        flash(f"{done.project.name} is proposed; {done.charter_problem}.", "info")
                    return redirect(url_for("projects.workspace", project_id=done.project.id), 303)
            status = 422
            form_error = form_error or "The proposal has errors. Please correct the fields marked below."
    for key, prop in schema.get("properties", {}).items():  # a list that needs an entry starts with one row
        if prop.get("type") == "array" and prop.get("minItems", 0) >= 1 and not values.get(key):
            values[key] = [formrender.new_row(schema, key)]
    tags = [t for t in head["tags"].split(",") if t.strip()]
    lessons = project_queries.related_lessons(head["category"] or None, tags,
                                              " ".join((head["name"], _words_of(values))))
    fields = formrender.build(schema, ui, values, errors)
    return render_template("projects/new.html", fields=fields, head=head, head_errors=head_errors,
                           form_error=form_error, sponsors=sponsors, managers=managers, categories=CATEGORIES,
                           lessons=lessons, applied=set(applied)), status


# -- the RAID log: forms of their own, so they work without JavaScript ------------------------------

def _project_to_change(project_id: int) -> Project:
    try:
        return projects.changeable(project_id, _actor())
    except NotFound:
        abort(404)
    except Forbidden:
        abort(403)


def _load(schema: type[Schema], form: Any, names: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The form's fields through the API's schema (the same rules either way); empty optional
    dates and choices count as not given."""
    raw = {k: form.get(k, "").strip() for k in names if k in form}
    for key in ("due_date", "severity"):
        if raw.get(key) == "":
            raw[key] = None
    try:
        return schema().load(raw), {}
    except ValidationError as exc:
        return {}, {k: [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in exc.messages.items()}


RISK_FORM_FIELDS = ("title", "probability", "impact", "owner", "response", "trigger", "action", "status")
RAID_FORM_FIELDS = ("title", "description", "owner", "due_date", "status", "severity")


def _flash_risk(change: projects.RiskChange, verb: str) -> None:
    flash(f"Risk {verb}: {change.risk.title} (score {change.risk.score}).", "success")
    if change.escalation is not None:
        flash(f"The score reached the PMO threshold of {projects.escalation_threshold()}: the risk is escalated "
              "to the PMO for review.", "info")
    elif change.escalation_problem:
        flash(f"The score reached the PMO threshold, but {change.escalation_problem}.", "error")


@bp.route("/projects/<int:project_id>/risks/new", methods=["GET", "POST"])
@bp.route("/projects/<int:project_id>/risks/<int:risk_id>", methods=["GET", "POST"])
@login_required
def risk_form(project_id: int, risk_id: int | None = None):  # noqa: ANN201
    """Add a risk, or change one's score, owner, response, trigger, actions and status."""
    project = _project_to_change(project_id)
    risk = None
    if risk_id is not None:
        risk = next((r for r in project.risks if r.id == risk_id), None)
        if risk is None:
            abort(404)
    values: dict[str, Any] = ({k: getattr(risk, k) for k in RISK_FORM_FIELDS} if risk is not None
                              else {"probability": 3, "impact": 3, "response": "mitigate", "status": "open",
                                    "owner": project.project_manager})
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        values = {**values, **{k: request.form.get(k, "") for k in RISK_FORM_FIELDS if k in request.form}}
        data, errors = _load(RiskIn if risk is None else RiskUpdateIn, request.form, RISK_FORM_FIELDS)
        if not errors:
            try:
                change = (projects.add_risk(project.id, _actor(), data) if risk is None
                          else projects.update_risk(project.id, risk.id, _actor(), data))
            except Invalid as exc:
                errors = exc.errors if isinstance(exc.errors, dict) else {"title": [exc.detail]}
            else:
                _flash_risk(change, "added" if risk is None else "updated")
                return redirect(url_for("projects.workspace", project_id=project.id, _anchor=f"risk-{change.risk.id}"),
                                303)
        status = 422
    return render_template("projects/risk_form.html", project=project, risk=risk, values=values, errors=errors,
                           people=project_queries.active_people(), responses=RISK_RESPONSES,
                           threshold=projects.escalation_threshold()), status


@bp.post("/projects/<int:project_id>/risks/<int:risk_id>/issue")
@login_required
def risk_to_issue(project_id: int, risk_id: int):  # noqa: ANN201
    """The risk happened: it becomes an issue (linked to it) and is closed."""
    project = _project_to_change(project_id)
    try:
        issue = projects.raise_risk_to_issue(project.id, risk_id, _actor())
    except NotFound:
        abort(404)
    except Conflict as exc:
        flash(exc.detail[:1].upper() + exc.detail[1:] + ".", "error")
        return redirect(url_for("projects.workspace", project_id=project.id, _anchor="issues"), 303)
    flash(f"Raised to an issue: {issue.title}. The risk is closed as occurred.", "success")
    return redirect(url_for("projects.workspace", project_id=project.id, _anchor=f"issue-{issue.id}"), 303)


@bp.route("/projects/<int:project_id>/raid/<kind>/new", methods=["GET", "POST"])
@bp.route("/projects/<int:project_id>/raid/<kind>/<int:item_id>", methods=["GET", "POST"])
@login_required
def raid_form(project_id: int, kind: str, item_id: int | None = None):  # noqa: ANN201
    """Add or update an issue, action, decision, assumption or dependency; ``?report=`` adds an
    action to an amber or red status report's get-to-green plan."""
    if kind not in RaidKind.ALL:
        abort(404)
    project = _project_to_change(project_id)
    item: RaidItem | None = None
    if item_id is not None:
        item = next((i for i in project.raid_items if i.id == item_id and i.kind == kind), None)
        if item is None:
            abort(404)
    report: StatusReport | None = None
    report_arg = request.values.get("report", "")
    if item is None and report_arg:
        report = next((r for r in project.status_reports if str(r.id) == report_arg), None)
        if report is None or kind != RaidKind.ACTION:
            abort(404)
    values: dict[str, Any] = ({k: getattr(item, k) for k in RAID_FORM_FIELDS} | {
        "due_date": item.due_date.isoformat() if item.due_date else ""} if item is not None
                              else {"status": RaidKind.STATUSES[kind][0], "owner": project.project_manager,
                                    "severity": "medium" if kind == RaidKind.ISSUE else None})
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        values = {**values, **{k: request.form.get(k, "") for k in RAID_FORM_FIELDS if k in request.form}}
        data, errors = _load(RaidItemIn if item is None else RaidItemUpdateIn, request.form, RAID_FORM_FIELDS)
        if not errors:
            try:
                saved = (projects.add_raid_item(project.id, _actor(), kind, data,
                                                status_report_id=report.id if report else None)
                         if item is None else projects.update_raid_item(project.id, item.id, _actor(), data, kind))
            except Invalid as exc:
                errors = exc.errors if isinstance(exc.errors, dict) else {"title": [exc.detail]}
            except Conflict as exc:
                errors = {"title": [exc.detail]}
            else:
                flash(f"{views.RAID_TITLES[kind][0]} {'added' if item is None else 'updated'}: {saved.title}.",
                      "success")
                anchor = f"report-{report.id}" if report else f"{kind}-{saved.id}"
                return redirect(url_for("projects.workspace", project_id=project.id, _anchor=anchor), 303)
        status = 422
    return render_template("projects/raid_form.html", project=project, kind=kind, item=item, report=report,
                           values=values, errors=errors, people=project_queries.active_people(),
                           statuses=RaidKind.STATUSES[kind], severities=RaidKind.SEVERITIES,
                           titles=views.RAID_TITLES[kind]), status


@bp.post("/projects/<int:project_id>/lessons/<int:lesson_id>/applied")
@login_required
def lesson_applied(project_id: int, lesson_id: int):  # noqa: ANN201
    """Mark a lesson of an earlier project as applied to this one, or (applied=0) no longer."""
    project = _project_to_change(project_id)
    applied = request.form.get("applied", "1") != "0"
    try:
        projects.apply_lesson(project.id, lesson_id, _actor(), applied)
    except NotFound:
        abort(404)
    flash("Lesson marked as applied." if applied else "Lesson no longer marked as applied.", "success")
    return redirect(url_for("projects.workspace", project_id=project.id, _anchor="applied-lessons"), 303)


# -- printable documents ------------------------------------------------------------------------

def _visible_or_404(project_id: int) -> Project:
    try:
        return project_queries.visible_project(project_id, _actor())
    except NotFound:
        abort(404)


@bp.get("/projects/<int:project_id>/documents/charter")
@login_required
def charter_document(project_id: int):  # noqa: ANN201
    project = _visible_or_404(project_id)
    if not project.charter:
        abort(404)
    return render_template("projects/doc_charter.html", project=project,
                           people=views.names_of({project.project_manager, project.sponsor}))


@bp.get("/projects/<int:project_id>/documents/baseline")
@login_required
def baseline_document(project_id: int):  # noqa: ANN201
    project = _visible_or_404(project_id)
    if not project.baseline_version:
        abort(404)
    owners = {r.owner for r in project.risks} | {project.project_manager, project.sponsor}
    return render_template("projects/doc_baseline.html", project=project, people=views.names_of(owners),
                           milestones=views.milestone_rows(project))


@bp.get("/projects/<int:project_id>/documents/status-reports/<int:report_id>")
@login_required
def status_report_document(project_id: int, report_id: int):  # noqa: ANN201
    project = _visible_or_404(project_id)
    report = next((r for r in project.status_reports if r.id == report_id), None)
    if report is None:
        abort(404)
    people = views.names_of({project.project_manager, project.sponsor, report.submitted_by}
                            | {a.owner for a in report.plan_actions}
                            | {a.get("owner", "") for a in (report.pmo_review or {}).get("actions", [])}
                            | {(report.pmo_review or {}).get("by", "")})
    return render_template("projects/doc_status_report.html", project=project, report=report, people=people)


from app.projects import diagrams  # noqa: E402, F401 - the workspace diagram's routes, on this blueprint
