"""Signing in and out (a session lasts until sign-out, a password change or deactivation), and the
admin's page of lane groups: who is in each group that a lane which is not a role became."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user, login_required, login_user, logout_user

from app.api.errors import api_problem_for
from app.core import throttle
from app.core.errors import ServiceError, Unauthorized
from app.core.extensions import login_manager
from app.core.throttle import throttle_login
from app.people import operations as users
from app.people import queries as user_queries
from app.people.actor import Actor
from app.people.models import User
from app.web import safe_next

bp = Blueprint("people", __name__, template_folder="templates")

login_manager.login_view = "people.login"
login_manager.login_message = "Please sign in to see this page."
login_manager.login_message_category = "info"


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """The session's user while its session generation is current (ended by sign-out, a
    password change or deactivation: a copied cookie is then worthless)."""
    return user_queries.session_user(session_id)


@bp.route("/login", methods=["GET", "POST"])
@throttle_login
def login():  # noqa: ANN201
    next_url = safe_next(request.values.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("inbox.home"))
    username = ""
    status = 200
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        try:
            user = users.authenticate(username, request.form.get("password", ""))
        except Unauthorized as exc:
            flash(exc.detail[:1].upper() + exc.detail[1:] + ".", "error")
            status = 401
        else:
            login_user(user)
            return redirect(next_url or url_for("inbox.home"))
    return render_template("people/login.html", username=username, next_url=next_url), status


@bp.post("/logout")
def logout():  # noqa: ANN201
    if current_user.is_authenticated:
        users.end_sessions(current_user)  # every session of the user, not only this cookie
    logout_user()
    flash("You have signed out.", "info")
    return redirect(url_for("people.login"))


@bp.app_errorhandler(RateLimitExceeded)
def _too_many_sign_ins(exc: RateLimitExceeded):  # noqa: ANN202
    """The sign-in page again, saying when to retry (the API answers problem+json itself)."""
    if request.path.startswith("/api/"):
        return api_problem_for(exc)
    wait = throttle.retry_after(exc)
    flash(f"Too many failed sign-in attempts. Try again in {_duration(wait)}.", "error")
    page = render_template("people/login.html", username=request.form.get("username", "").strip()[:80],
                           next_url=safe_next(request.values.get("next")))
    return page, 429, {"Retry-After": str(wait)}


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{round(seconds / 60)} minutes"


# -- lane groups (admin) -----------------------------------------------------------------------------

def _admin_only(view):  # noqa: ANN001, ANN202
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if not current_user.has_role("admin"):
            abort(403)
        return view(*args, **kwargs)

    return wrapper


@bp.get("/admin/groups")
@_admin_only
def groups_page():  # noqa: ANN201
    groups = user_queries.list_groups()
    users = user_queries.list_users()
    return render_template("people/groups.html", groups=groups, users=users,
                           reached=user_queries.group_members([g.key for g in groups]),
                           names={u.username: u.display_name or u.username for u in users},
                           roles=user_queries.known_roles())


@bp.post("/admin/groups/members")
@_admin_only
def change_group_member():  # noqa: ANN201
    """Add or remove one member (a user or a role) of the group named in the form."""
    key = request.form.get("group", "")
    username, role = request.form.get("username") or None, request.form.get("role") or None
    change = users.remove_group_member if request.form.get("action") == "remove" else users.add_group_member
    try:
        group = change(key, Actor.of(current_user), username=username, role=role)
    except ServiceError as exc:
        flash(exc.detail[:1].upper() + exc.detail[1:] + ".", "error")
    else:
        member = user_queries.find(username) if username else None
        who = (member.display_name or member.username) if member else user_queries.known_roles().get(role or "", role)
        done = "taken out of" if change is users.remove_group_member else "added to"
        flash(f"{who} {done} {group.name}.", "success")
    return redirect(url_for("people.groups_page") + (f"#group-{key}" if key else ""))
