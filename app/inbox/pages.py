"""The inbox pages: five views with counts, filters in the URL, and a small live endpoint."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template, request
from flask_login import current_user, login_required

from app.core.errors import NotFound
from app.core.models import utcnow
from app.inbox import delegation, notifications
from app.inbox import queries as inbox
from app.instances import access
from app.instances import commands as instances

bp = Blueprint("inbox", __name__, template_folder="templates")


@bp.app_context_processor
def _unread_notifications() -> dict[str, int]:
    """The layout's notification badge."""
    if not current_user.is_authenticated:
        return {"unread_notifications": 0}
    return {"unread_notifications": notifications.unread_count(current_user.username)}


@bp.get("/")
@login_required
def home():  # noqa: ANN201
    """My tasks: the open tasks assigned to me or offered to my roles."""
    tasks = inbox.open_tasks(current_user.username, current_user.roles)
    return render_template("inbox/home.html", tasks=tasks, now=utcnow())


def _actor() -> instances.Actor:
    return instances.Actor.of(current_user)


def _default_view(counts: dict[str, int]) -> str:
    """The view the inbox opens on without ``?view=``: "Assigned to me" when it has work, else
    "Available to claim" when that has (people whose work comes through their role)."""
    if counts.get("mine", 0) == 0 and counts.get("available", 0) > 0:
        return "available"
    return "mine"


def _query_and_counts() -> tuple[inbox.InboxQuery, dict[str, int]]:
    """The query and the views' counts; an unfiltered view named in the URL counts itself when its
    page is read (``inbox.view``), saving a pass over its tasks."""
    if request.args.get("view") in inbox.VIEWS:
        query = inbox.InboxQuery.from_args(request.args)
        # The view's own tab is counted by the pass that reads its page (``inbox.view``).
        return query, inbox.counts(current_user.username, current_user.roles, leave_out=(query.view,))
    counts = inbox.counts(current_user.username, current_user.roles)
    return inbox.InboxQuery.from_args(request.args, default_view=_default_view(counts)), counts


def _context(query: inbox.InboxQuery, counts: dict[str, int] | None = None) -> dict:
    if counts is None:
        counts = inbox.counts(current_user.username, current_user.roles)
    page = inbox.view(current_user.username, current_user.roles, query, counts=counts)
    return {
        "page": page, "query": query, "counts": counts,
        "views": inbox.VIEWS, "view_labels": inbox.VIEW_LABELS, "now": utcnow(),
        "signature": _signature(page, counts),
    }


def _signature(page: inbox.Page, counts: dict[str, int]) -> str:
    ids = ",".join(f"{r.task.id[:8]}{r.task.assignee or ''}{r.task.status[0]}" for r in page.rows)
    return f"{page.total}.{'.'.join(str(counts[v]) for v in inbox.VIEWS)}.{ids}"


@bp.get("/inbox")
@login_required
def inbox_page():  # noqa: ANN201
    query, counts = _query_and_counts()
    context = _context(query, counts)
    completed_title = None
    next_task = None
    if request.args.get("completed"):
        try:
            done = access.visible_task(request.args["completed"], _actor())
            completed_title = done.title
            following = request.args.get("next")
            if following:
                next_task = access.visible_task(following, _actor())
        except NotFound:
            pass
    return render_template(
        "inbox/inbox.html", **context, filters=inbox.filter_options(current_user.username, current_user.roles),
        completed_title=completed_title, next_task=next_task,
        standing_in_for=delegation.standing_in_for(current_user.username),
        away=delegation.current_out_of_office(current_user.username))


@bp.get("/inbox/live")
@login_required
def inbox_live():  # noqa: ANN201
    """What the open inbox page polls: 204 when nothing changed, else the new list and counts."""
    query, counts = _query_and_counts()
    context = _context(query, counts)
    if request.args.get("sig") == context["signature"]:
        return "", 204
    html = render_template("inbox/_inbox_list.html", **context)
    return jsonify(signature=context["signature"], counts=context["counts"], total=context["page"].total,
                   html=html, unread=notifications.unread_count(current_user.username))


@bp.get("/inbox/count")
@login_required
def inbox_count():  # noqa: ANN201
    if request.args.get("format") not in (None, "json"):
        abort(404)
    return jsonify(inbox.counts(current_user.username, current_user.roles))


# The other page modules add their routes to ``bp`` when imported (after ``bp`` exists).
from app.inbox import account_pages, diagram_names, diagrams, task_pages  # noqa: E402, F401
