"""The studio's pages: the process library, one process with its versions, the diff of two versions,
a draft's editor, publishing a draft, and importing process models. Everyone signed in may look;
process owners and admins change (the operations check it again, the pages only hide buttons).
Handlers read the request, call a studio operation or query, and render."""

from __future__ import annotations

from pathlib import PurePosixPath

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.core.errors import Conflict, Invalid, NotFound, ServiceError
from app.engine.bundle import BundleFile, BundleInvalid, group_by_model, read_zip
from app.studio import operations as studio
from app.studio import queries as studio_queries
from app.studio import rendering
from app.studio.scenario_runs import as_view, run_draft_scenarios, scenario_runner

bp = Blueprint("studio_pages", __name__, template_folder="templates", url_prefix="/studio")

EDITORS = ("process_owner", "admin")
MAX_IMPORT_FILES = 200


def _may_edit() -> bool:
    return any(current_user.has_role(r) for r in EDITORS)


def _editor_only() -> None:
    if not _may_edit():
        abort(403)


@bp.app_context_processor
def _studio_flags() -> dict:
    return {"may_edit_processes": current_user.is_authenticated and _may_edit()}


@bp.get("")
@login_required
def library():  # noqa: ANN201
    return render_template("studio/library.html", entries=studio_queries.library(),
                           decisions=studio_queries.decision_tables(), drafts=studio_queries.drafts())


@bp.get("/processes/<key>")
@login_required
def process(key: str):  # noqa: ANN201
    try:
        entry = studio_queries.process_entry(key)
    except NotFound:
        abort(404)
    shown = None
    if entry.versions:
        wanted = request.args.get("v", "")
        shown = next((r for r in entry.versions if str(r.version.version) == wanted), entry.current)
    changes = {}
    for before, after in zip(entry.versions, entry.versions[1:], strict=False):
        changes[after.version.version] = studio_queries.diff(before.version, after.version)
    return render_template("studio/process.html", entry=entry, shown=shown, changes=changes)


def _version_or_404(key: str, number: int):  # noqa: ANN202
    try:
        return studio_queries.version(key, number)
    except NotFound:
        abort(404)


@bp.get("/processes/<key>/versions/<int:number>/diagram.bpmn")
@login_required
def version_diagram(key: str, number: int):  # noqa: ANN201
    version = _version_or_404(key, number)
    content = studio_queries.version_files(version).get(version.bpmn_file, b"")
    return Response(content, mimetype="application/xml")


@bp.get("/processes/<key>/versions/<int:number>/export.zip")
@login_required
def export_version(key: str, number: int):  # noqa: ANN201
    version = _version_or_404(key, number)
    return Response(studio_queries.export_zip(version), mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{key}-v{number}.zip"'})


@bp.get("/processes/<key>/diff")
@login_required
def diff(key: str):  # noqa: ANN201
    try:
        entry = studio_queries.process_entry(key)
        old = studio_queries.version(key, int(request.args.get("from", "0")))
        new = studio_queries.version(key, int(request.args.get("to", "0")))
    except (NotFound, ValueError):
        abort(404)
    return render_template("studio/diff.html", entry=entry, old=old, new=new, diff=studio_queries.diff(old, new))


@bp.post("/processes/<key>/drafts")
@login_required
def open_draft(key: str):  # noqa: ANN201
    _editor_only()
    try:
        draft = studio.open_draft(key, current_user.username)
    except NotFound:
        abort(404)
    return redirect(url_for("studio_pages.editor", draft_id=draft.id))


def _draft_or_404(draft_id: int):  # noqa: ANN202
    try:
        return studio_queries.draft(draft_id)
    except NotFound:
        abort(404)


@bp.get("/drafts/<int:draft_id>")
@login_required
def editor(draft_id: int):  # noqa: ANN201
    draft = _draft_or_404(draft_id)
    context = studio_queries.editor_context(draft)
    return render_template("studio/editor.html", draft=draft, context=context,
                           may_edit=_may_edit())


@bp.get("/drafts/<int:draft_id>/files/<name>")
@login_required
def draft_file(draft_id: int, name: str):  # noqa: ANN201
    found = _draft_or_404(draft_id).file(name)
    if found is None:
        abort(404)
    mimetype = "application/json" if name.endswith(".json") else "application/xml"
    response = Response(found.content, mimetype=mimetype)
    response.headers["X-Revision"] = str(found.revision)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/drafts/<int:draft_id>/publish", methods=["GET", "POST"])
@login_required
def publish(draft_id: int):  # noqa: ANN201
    """Review (checks, scenarios, what changed against the published version), then publish with a note."""
    draft = _draft_or_404(draft_id)
    key = draft.process_key  # the draft is gone once it is published
    note = (request.form.get("note") or "").strip()
    if request.method == "POST":
        _editor_only()
        try:
            result = studio.publish(draft_id, current_user.username, note, run_scenarios=scenario_runner())
        except (Invalid, Conflict) as exc:
            flash(str(exc), "error")
        else:
            if result.created:
                made = ", ".join(f"{v.name or v.process_key} version {v.version}" for v in result.created)
                flash(f"Published {made}.", "success")
                return redirect(url_for("studio_pages.process", key=key, published=1))
            flash("Nothing changed against the published version: nothing was published.", "error")
            return redirect(url_for("studio_pages.process", key=key))
    review = studio_queries.review(draft, lambda d: [as_view(r) for r in run_draft_scenarios(d)])
    return render_template("studio/publish.html", draft=draft, review=review, note=note, may_edit=_may_edit())


@bp.post("/drafts/<int:draft_id>/delete")
@login_required
def discard(draft_id: int):  # noqa: ANN201
    _editor_only()
    draft = _draft_or_404(draft_id)
    studio.delete_draft(draft.id, current_user.username)
    flash("The draft was discarded.", "success")
    return redirect(url_for("studio_pages.library"))


def _uploaded() -> tuple[list[BundleFile], list[str]]:
    files: list[BundleFile] = []
    problems: list[str] = []
    for upload in request.files.getlist("files")[:MAX_IMPORT_FILES]:
        name = (upload.filename or "").replace("\\", "/").lstrip("/")
        content = upload.read()
        if name.lower().endswith(".zip"):
            try:
                files.extend(read_zip(content, PurePosixPath(name).name))
            except BundleInvalid as exc:
                problems.extend(str(p) for p in exc.problems)
        elif name.lower().endswith((".bpmn", ".dmn", ".json")):
            files.append(BundleFile(name, content))
        elif name:
            problems.append(f"{name}: not a .bpmn, .dmn, .json or .zip file")
    return files, problems


def _common_folder(group: list[BundleFile]) -> str:
    parents = {str(PurePosixPath(f.name).parent) for f in group}
    return PurePosixPath(parents.pop()).name if len(parents) == 1 and "." not in parents else ""


def _model_contents(folder: str, group: list[BundleFile]) -> dict[str, bytes]:
    """A model's files by their name inside the model folder (a browser's folder upload and a zip
    name them by their path)."""
    contents: dict[str, bytes] = {}
    for f in group:
        name = f.name[len(folder) + 1:] if folder and f.name.startswith(folder + "/") else f.name
        contents[PurePosixPath(name).name if "/" in name else name] = f.content
    return contents


@bp.route("/import", methods=["GET", "POST"])
@login_required
def import_models():  # noqa: ANN201
    """SpiffArena model folders or zips (several folders in one zip kept apart), or plain BPMN:
    each model becomes a draft, with what the engine cannot run reported per element."""
    _editor_only()
    if request.method == "GET":
        return render_template("studio/import.html", reports=None)
    files, problems = _uploaded()
    if not files and not problems:
        problems = ["choose one or more files"]
    reports = []
    groups = group_by_model([f for f in files if PurePosixPath(f.name).name != "process_group.json"])
    for folder, group in sorted(groups.items()):
        if not any(f.name.endswith(".bpmn") for f in group):
            if group:
                problems.append(f"{folder or 'the upload'}: no .bpmn file, so no process model: "
                                + ", ".join(sorted(f.name for f in group)))
            continue
        contents = _model_contents(folder, group)
        title = PurePosixPath(folder).name if folder else _common_folder(group)
        try:
            draft = studio.draft_from_files(contents, current_user.username, source=f"import: {folder or title or 'upload'}",
                                            title=title)
        except Invalid as exc:
            reports.append({"folder": folder, "draft": None, "error": str(exc),
                            "problems": [{"severity": "error", **p} for p in exc.errors or []]})
            continue
        checked = studio.check(draft)
        reports.append({"folder": folder, "draft": draft, "problems": checked.problems, "error": None})
    return render_template("studio/import.html", reports=reports, problems=problems)


# -- the editor's own calls (session and CSRF token, like every page; the API takes bearer tokens) ---

def _json_error(exc: ServiceError):  # noqa: ANN202
    errors = exc.errors if isinstance(exc.errors, dict) else {"problems": exc.errors or []}
    return jsonify({"detail": str(exc), **errors}), exc.status


@bp.put("/drafts/<int:draft_id>/files/<name>")
@login_required
def save_file(draft_id: int, name: str):  # noqa: ANN201
    if not _may_edit():
        return jsonify({"detail": "only process owners and admins edit processes"}), 403
    args = request.get_json(silent=True)
    if not isinstance(args, dict) or not isinstance(args.get("content"), str) or not isinstance(args.get("revision"), int):
        return jsonify({"detail": "send JSON {content: text, revision: number}"}), 400
    try:
        saved = studio.save_file(draft_id, name, args["content"], args["revision"], current_user.username)
    except ServiceError as exc:
        return _json_error(exc)
    return jsonify({"name": saved.name, "revision": saved.revision, "saved_by": saved.saved_by,
                    "saved_at": saved.saved_at.isoformat()})


@bp.delete("/drafts/<int:draft_id>/files/<name>")
@login_required
def delete_file(draft_id: int, name: str):  # noqa: ANN201
    if not _may_edit():
        return jsonify({"detail": "only process owners and admins edit processes"}), 403
    try:
        studio.delete_file(draft_id, name, int(request.args.get("revision", "0")), current_user.username)
    except ServiceError as exc:
        return _json_error(exc)
    except ValueError:
        return jsonify({"detail": "revision must be a number"}), 400
    return "", 204


@bp.post("/drafts/<int:draft_id>/check")
@login_required
def check(draft_id: int):  # noqa: ANN201
    result = studio.check(_draft_or_404(draft_id))
    return jsonify({"valid": not result.errors, "processes": result.processes, "problems": result.problems})


@bp.post("/drafts/<int:draft_id>/scenarios")
@login_required
def scenarios(draft_id: int):  # noqa: ANN201
    try:
        results = run_draft_scenarios(_draft_or_404(draft_id))
    except ServiceError as exc:
        return _json_error(exc)
    return jsonify({"passed": all(r.passed for r in results),
                    "results": [{"process": r.process, "scenario": r.scenario or r.file, "passed": r.passed,
                                 "path": list(r.path), "failures": r.reasons(), "end": r.end,
                                 "waiting_at": r.waiting_at} for r in results]})


@bp.post("/drafts/<int:draft_id>/preview")
@login_required
def preview(draft_id: int):  # noqa: ANN201
    _draft_or_404(draft_id)
    args = request.get_json(silent=True)
    if not isinstance(args, dict) or not isinstance(args.get("schema"), str):
        return jsonify({"detail": "send JSON {schema: text, uischema: text, data: object or null}"}), 400
    data = args.get("data")
    if data is not None and not isinstance(data, dict):
        return jsonify({"detail": "data must be a JSON object"}), 400
    html, errors, labels = rendering.preview(args["schema"][:512 * 1024],
                                             str(args.get("uischema") or "{}")[:512 * 1024], data)
    return jsonify({"html": html, "errors": errors, "labels": labels})


from app.studio import migration_pages  # noqa: E402, F401 - the migration pages attach their routes to bp
