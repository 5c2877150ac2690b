"""Signing in and out. A session lasts until sign-out, a password change or deactivation."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user, login_user, logout_user

from app.api.errors import api_problem_for
from app.core import throttle
from app.core.errors import Unauthorized
from app.core.extensions import login_manager
from app.core.throttle import throttle_login
from app.people import operations as users
from app.people import queries as user_queries
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
