"""The user's own pages: notifications and out-of-office."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from app.core.converters import MAX_ID
from app.core.errors import Invalid
from app.core.extensions import db
from app.inbox import delegation, notifications
from app.inbox.pages import bp
from app.inbox.task_pages import parse_local_datetime
from app.people.models import User


@bp.get("/notifications")
@login_required
def notifications_page():  # noqa: ANN201
    unread_only = request.args.get("unread") == "1"
    items = notifications.for_user(current_user.username, unread_only=unread_only, limit=100)
    return render_template("inbox/notifications.html", items=items, unread_only=unread_only)


@bp.post("/notifications/read")
@login_required
def notifications_read():  # noqa: ANN201
    # ASCII digits within what an id column holds: "²".isdigit() is true (int() then failed) and
    # a 30-digit id overflowed the database; either was a 500.
    ids = [int(i) for i in request.form.getlist("id") if i.isascii() and i.isdigit() and len(i) <= 10 and int(i) <= MAX_ID]
    count = notifications.mark_read(current_user.username, ids or None)
    flash(f"{count} notification{'s' if count != 1 else ''} marked as read.", "info")
    return redirect(url_for("inbox.notifications_page"), 303)


@bp.route("/account/out-of-office", methods=["GET", "POST"])
@login_required
def out_of_office():  # noqa: ANN201
    errors: dict[str, list[str]] = {}
    form = {"stand_in": "", "starts_on": "", "ends_on": "", "note": ""}
    status = 200
    if request.method == "POST":
        if request.form.get("action") == "cancel":
            delegation.cancel_out_of_office(current_user)
            flash("You are no longer marked out of office.", "info")
            return redirect(url_for("inbox.out_of_office"), 303)
        form = {k: request.form.get(k, "").strip() for k in form}
        starts = parse_local_datetime(form["starts_on"])
        ends = parse_local_datetime(form["ends_on"], "23:59:59")
        if starts is None:
            errors["starts_on"] = ["enter a date as YYYY-MM-DD"]
        if ends is None:
            errors["ends_on"] = ["enter a date as YYYY-MM-DD"]
        if not errors:
            try:
                delegation.set_out_of_office(current_user, form["stand_in"], starts, ends, form["note"])
            except Invalid as exc:
                errors = {("ends_on" if k == "ends_at" else k): v for k, v in (exc.errors or {}).items()}
            else:
                flash(f"Out of office saved: new tasks go to {form['stand_in']} from {form['starts_on']} "
                      f"to {form['ends_on']}.", "success")
                return redirect(url_for("inbox.out_of_office"), 303)
        status = 422
    people = [u for u in db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.username))
              if u.username != current_user.username]
    return render_template("inbox/out_of_office.html", errors=errors, form=form, people=people,
                           current=delegation.current_out_of_office(current_user.username, include_future=True),
                           standing_in_for=delegation.standing_in_for(current_user.username)), status
