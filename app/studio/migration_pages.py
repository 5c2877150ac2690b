"""The studio's migration pages: the dry run for moving running instances to a version, starting a
batch, its progress and results (with "Move back" where nothing ran since), and the version new
instances start on. Process owners and admins only; handlers read the form, call the instance
migration operations, and render or redirect."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.core.errors import ServiceError
from app.definitions import operations as definitions
from app.definitions import queries as definition_queries
from app.instances import migration
from app.instances.models import MigrationBatchStatus
from app.people.actor import Actor
from app.studio.pages import bp

OWNERS = ("process_owner", "admin")
REFRESH_SECONDS = 2


def _owner() -> Actor:
    """The signed-in process owner or admin (403 for anyone else)."""
    if not current_user.has_role(*OWNERS):
        abort(403)
    return Actor.of(current_user)


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 10 else None


@bp.get("/processes/<key>/migrate")
@login_required
def migrate_page(key: str):  # noqa: ANN201
    actor = _owner()
    versions = definition_queries.versions_of(key)
    if not versions:
        abort(404)
    numbers = [v.version for v in versions]
    to = _int(request.args.get("to")) or numbers[-1]
    if to not in numbers:
        abort(404)
    plan = migration.plan(key, to, actor)
    added = {c["element"]: c for p in plan.instances for c in p.changes if c["kind"] == "added"}
    ahead = {c["element"]: c for p in plan.instances for c in p.changes if c["kind"] == "ahead"}
    return render_template(
        "studio/migrate.html", plan=plan, process_name=versions[-1].name, versions=versions,
        current=definition_queries.current_version(key), newest=versions[-1], added=list(added.values()),
        ahead=list(ahead.values()), key=key)


@bp.post("/processes/<key>/migrate")
@login_required
def start_migration(key: str):  # noqa: ANN201
    actor = _owner()
    to = _int(request.form.get("to"))
    if to is None:
        abort(400)
    ids = None
    if request.form.get("action") != "all":
        ids = [i for i in (_int(v) for v in request.form.getlist("instance_id")) if i is not None]
        if not ids:
            flash("Select the instances to migrate, or migrate all movable ones.", "error")
            return redirect(url_for("studio_pages.migrate_page", key=key, to=to), 303)
    try:
        target = migration.version_of(key, to)
        batch = migration.start_batch(key, target.id, actor, ids)
    except ServiceError as exc:
        flash(exc.detail, "error")
        return redirect(url_for("studio_pages.migrate_page", key=key, to=to), 303)
    return redirect(url_for("studio_pages.migration_batch_page", batch_id=batch.id), 303)


@bp.get("/migrations/<int:batch_id>")
@login_required
def migration_batch_page(batch_id: int):  # noqa: ANN201
    _owner()
    try:
        batch = migration.get_batch(batch_id)
    except ServiceError:
        abort(404)
    rows = migration.batch_rows(batch)
    running = batch.status in (MigrationBatchStatus.QUEUED, MigrationBatchStatus.RUNNING)
    return render_template("studio/migration_batch.html", batch=batch, rows=rows, running=running,
                           refresh_seconds=REFRESH_SECONDS, process_name=batch.to_version.name)


@bp.post("/migrations/<int:batch_id>/instances/<int:instance_id>/move-back")
@login_required
def move_back(batch_id: int, instance_id: int):  # noqa: ANN201
    actor = _owner()
    try:
        instance = migration.migrate_back(instance_id, actor)
    except ServiceError as exc:
        flash(exc.detail, "error")
    else:
        label = migration.instance_labels([instance])[instance.id]
        flash(f"{label} is back on version {instance.process_version.version}.", "success")
    return redirect(url_for("studio_pages.migration_batch_page", batch_id=batch_id), 303)


@bp.post("/processes/<key>/release")
@login_required
def release(key: str):  # noqa: ANN201
    actor = _owner()
    version = _int(request.form.get("version"))
    back_to = _int(request.form.get("to")) or version
    if version is None:
        abort(400)
    try:
        chosen = definitions.set_release(key, version, actor, (request.form.get("reason") or "")[:2000])
    except ServiceError as exc:
        flash(exc.detail, "error")
    else:
        flash(f"New instances of {chosen.name} now start on version {chosen.version}.", "success")
    return redirect(url_for("studio_pages.migrate_page", key=key, to=back_to), 303)
