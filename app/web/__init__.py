"""What every server-rendered page shares: the layout's context, the display filters, the error pages
and the files the browser loads (favicon, vendored libraries). Each domain has its own pages.

Request handlers only read the request, call a service and render; they never change models.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, render_template, request, send_from_directory
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge

from app.api.errors import api_problem_for
from app.core import formatting
from app.core.extensions import db
from app.core.models import utcnow
from app.core.settings import REPO_ROOT

bp = Blueprint("web", __name__)

# Browser libraries installed by `npm install` (package.json); only their dist folders are served.
VENDOR_DIRS = {
    "bpmn-js": REPO_ROOT / "node_modules" / "bpmn-js" / "dist",
    "dmn-js": REPO_ROOT / "node_modules" / "dmn-js" / "dist",
    "chart.js": REPO_ROOT / "node_modules" / "chart.js" / "dist",
}




def safe_next(target: str | None) -> str | None:
    """Only a local path (no scheme, no host, no '//' or backslash tricks) may be redirected to."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(c) < 32 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@bp.app_template_filter("age")
def age_filter(when: datetime | None) -> str:
    if when is None:
        return ""
    seconds = max(0, int((utcnow() - when).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return "just now"


@bp.app_template_filter("ago")
def ago_filter(when: datetime | None) -> str:
    """"5 min ago", or "just now" (never "just now ago")."""
    age = age_filter(when)
    return age if age in ("", "just now") else f"{age} ago"


@bp.app_template_filter("date")
def date_filter(when: datetime | None) -> str:
    """A point in time by the one rule of app/formatting.py: "Dec 1, 2026, 20:50 UTC"."""
    return formatting.moment(when)


@bp.app_context_processor
def _layout_context() -> dict[str, object]:
    return {"role_labels": current_app.config.get("ROLES", {}), "currency_symbol": formatting.currency_symbol()}


@bp.app_template_filter("humanize")
def humanize_filter(key: object) -> str:
    text = str(key).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


@bp.app_template_filter("show")
def show_filter(value: object, key: str = "", schema: dict | None = None) -> str:
    """A value as short text by the one rule of app/formatting.py (money in the configured currency,
    thousands separators, dates, Yes/No, percentages; lists and objects flattened). ``key`` (and the
    field's ``schema``) tell money and percentages apart from plain numbers."""
    return formatting.show(value, key, schema)


@bp.app_template_filter("label")
def label_filter(key: object) -> str:
    """A data key as a label when no form title is known ("pm_recommendation" → "PM recommendation")."""
    return formatting.label(key)


for _name, _filter in formatting.FILTERS.items():  # money, number, percent, yesno, day: as in instructions
    bp.add_app_template_filter(_filter, _name)


@bp.app_errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge):  # noqa: ANN202
    if request.path.startswith("/api/"):
        return api_problem_for(exc)
    limit = int(current_app.config.get("MAX_CONTENT_LENGTH") or 0)
    return render_template("error.html", status=413, title="Too much data",
                           message=f"What you sent is larger than the limit of {_size(limit)}. "
                                   "Send a smaller file or less text."), 413


# What a person is told for each HTTP error, in the product's layout (the API answers problem+json).
_ERROR_PAGES: dict[int, tuple[str, str]] = {
    400: ("Something was wrong with that request",
          "The page could not understand what was sent. Go back and try again."),
    403: ("You cannot open this page", "Your roles do not give you access to this page. "
          "If you think they should, ask a PMO administrator."),
    404: ("Page not found", "There is nothing here, or it is not visible to you. "
          "It may have been completed, withdrawn or moved."),
    405: ("That action is not possible here", "This page cannot be used that way. "
          "Go back and use the buttons on the page."),
    500: ("Something went wrong on our side", "Nothing you sent was saved by the step that failed. "
          "The error has been logged; please try again in a moment."),
}


def _error_page(status: int, title: str, message: str):  # noqa: ANN202
    """The error page in the layout; a bare page if the layout itself cannot render (database down)."""
    try:
        return render_template("error.html", status=status, title=title, message=message), status
    except Exception:  # noqa: BLE001 - the answer matters more than the layout
        current_app.logger.exception("the error page could not be rendered")
        body = (f"<!doctype html><title>{escape(title)} · PMO Flow</title><h1>{escape(title)}</h1>"
                f"<p>{escape(message)}</p><p><a href=\"/\">Back to my tasks</a></p>")
        return body, status


@bp.app_errorhandler(CSRFError)
def _form_expired(exc: CSRFError):  # noqa: ANN202
    if request.path.startswith("/api/"):
        return api_problem_for(exc)
    return _error_page(400, "This form has expired",
                       "The page was open too long, or you signed in again in another window, so the form "
                       "could not be checked. Nothing was saved. Go back, reload the page and send it again.")


@bp.app_errorhandler(HTTPException)
def _http_error_page(exc: HTTPException):  # noqa: ANN202
    """Every other HTTP error outside the API as a page of the product, with a way back."""
    if request.path.startswith("/api/"):
        return api_problem_for(exc)
    code = exc.code or 500
    title, message = _ERROR_PAGES.get(code, (exc.name, exc.description or exc.name))
    response = _error_page(code, title, message)
    if code == 405 and getattr(exc, "valid_methods", None):
        return (*response, {"Allow": ", ".join(sorted(exc.valid_methods))})
    return response


@bp.app_errorhandler(InternalServerError)
def _server_error_page(exc: InternalServerError):  # noqa: ANN202
    """An unexpected failure: roll back whatever the request began, log it, and say so politely."""
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001
        current_app.logger.exception("rollback after an unexpected error failed")
    if request.path.startswith("/api/"):
        return api_problem_for(exc)
    title, message = _ERROR_PAGES[500]
    return _error_page(500, title, message)


def _size(size: int) -> str:
    return f"{size / 1048576:g} MiB" if size >= 1048576 else f"{size:,} bytes"


@bp.get("/favicon.ico")
def favicon():  # noqa: ANN201
    """Browsers ask for /favicon.ico on pages without a link to the icon (the API's JSON, files)."""
    return send_from_directory(current_app.static_folder, "favicon.svg", mimetype="image/svg+xml", max_age=86400)


@bp.get("/vendor/<package>/<path:filename>")
def vendor(package: str, filename: str):  # noqa: ANN201
    """Files of node_modules/bpmn-js/dist and node_modules/dmn-js/dist, nothing else."""
    folder: Path | None = VENDOR_DIRS.get(package)
    if folder is None or not folder.is_dir():
        abort(404)
    return send_from_directory(folder, filename, max_age=3600)  # safe_join refuses '..' and absolute paths
