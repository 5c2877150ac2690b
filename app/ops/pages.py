"""Operations pages for administrators: incidents and their repairs, and the engine's health.

Handlers read the form, call app.ops.operations and redirect; every repair is audited
there with the reason given here.
"""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.core.errors import ServiceError
from app.core.models import utcnow
from app.ops import operations
from app.people.actor import Actor

bp = Blueprint("ops", __name__, url_prefix="/admin", template_folder="templates")


def admin_required(view):  # noqa: ANN001, ANN201
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if not current_user.has_role("admin"):
            abort(403)
        return view(*args, **kwargs)

    return wrapper


@bp.get("/operations")
@admin_required
def operations_page():  # noqa: ANN201
    return render_template("ops/operations.html", overview=operations.overview(),
                           scheduler=operations.scheduler_status(), workers=operations.worker_status(),
                           messages=operations.message_counts(), now=utcnow())


REPAIRS = {"retry": operations.retry, "skip": operations.skip, "terminate": operations.terminate}


@bp.post("/instances/<int:instance_id>/<action>")
@admin_required
def repair(instance_id: int, action: str):  # noqa: ANN201
    repair_fn = REPAIRS.get(action)
    if repair_fn is None:
        abort(404)
    try:
        if action == "retry":
            _, report = operations.retry_and_report(instance_id, Actor.of(current_user), request.form.get("reason", ""))
            flash(report, "success")
        else:
            repair_fn(instance_id, Actor.of(current_user), request.form.get("reason", ""))
            flash(f"Instance {instance_id}: {'step skipped' if action == 'skip' else action + ' done'}.", "success")
    except ServiceError as exc:
        flash(f"Instance {instance_id}: {action} failed — {exc.detail}", "error")
    return redirect(url_for("ops.operations_page"))


@bp.post("/messages/<int:message_id>/redeliver")
@admin_required
def redeliver(message_id: int):  # noqa: ANN201
    try:
        message = operations.redeliver(message_id, Actor.of(current_user), request.form.get("reason", ""))
        flash(f"Message {message_id} ({message.name}): {message.status}.", "success")
    except ServiceError as exc:
        flash(f"Message {message_id}: {exc.detail}", "error")
    return redirect(url_for("ops.operations_page"))
