"""The inbox: read-only views of the human-task projection for one user.

Views: ``mine`` (assigned to me), ``available`` (offered to my roles or to me by name, unclaimed,
minus tasks I am excluded from: both as ``app.instances.access`` rules them), ``delegated`` (tasks I handed to someone and still own),
``waiting`` (open tasks of instances I started, waiting on others) and ``completed`` (done by me).
Every view is one SQL query with its filters, sort and page, which also counts the view's own tab; the
other tabs' counts are one statement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import and_, exists, false, func, or_, select
from sqlalchemy.orm import Session, aliased

from app.core.extensions import db
from app.core.models import utcnow
from app.definitions.models import ProcessVersion
from app.inbox.models import Delegation
from app.instances import access, business_keys
from app.instances.models import HumanTask, HumanTaskCandidate, ProcessInstance, TaskStatus
from app.people.actor import Actor

DEFAULT_LIMIT = 200
PER_PAGE = 25
VIEWS = ("mine", "available", "delegated", "waiting", "completed")
# The views of open tasks only, whose candidate rows are all open (``HumanTaskCandidate.is_open``).
OPEN_VIEWS = ("mine", "available", "waiting")
VIEW_LABELS = {
    "mine": "Assigned to me",
    "available": "Available to claim",
    "delegated": "Delegated by me",
    "waiting": "Started by me",
    "completed": "Completed by me",
}
SORTS = {"due", "created", "priority", "title", "completed"}
DUE_FILTERS = {"today", "week", "none"}


def _actor(username: str, roles: Iterable[str]) -> Actor:
    return Actor(username, frozenset(roles))


def open_tasks(username: str, roles: Iterable[str], limit: int = DEFAULT_LIMIT) -> list[HumanTask]:
    """READY tasks ``username`` may act on now (``access.may_act_sql``): assigned to them, or
    unclaimed and offered to one of ``roles`` or to them, never one they are excluded from.

    One query; the candidate test uses the indexes of ``human_task_candidates`` (by role and by
    username). Sorted by due date (overdue first, undated last), then priority and age.
    """
    query = (
        select(HumanTask)
        .where(access.may_act_sql(_actor(username, roles)))
        .order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.priority.desc(),
                  HumanTask.created_at, HumanTask.id)
        .limit(limit)
    )
    return list(db.session.scalars(query))


@dataclass(frozen=True)
class InboxQuery:
    """What the inbox URL says: the view, its filters, sort and page (all GET parameters)."""

    view: str = "mine"
    process: str = ""
    project: str = ""
    role: str = ""
    due: str = ""
    overdue: bool = False
    q: str = ""
    sort: str = "due"
    direction: str = "asc"
    page: int = 1
    per_page: int = PER_PAGE

    @classmethod
    def from_args(cls, args: Any, default_view: str = "mine") -> InboxQuery:
        def text(name: str, limit: int = 200) -> str:
            return (args.get(name) or "").strip()[:limit]

        view = text("view") or default_view
        sort = text("sort") or ("completed" if view == "completed" else "due")
        try:
            page = max(1, min(int(args.get("page", 1)), 100_000))
        except (TypeError, ValueError):
            page = 1
        try:
            per_page = max(5, min(int(args.get("per_page", PER_PAGE)), 100))
        except (TypeError, ValueError):
            per_page = PER_PAGE
        return cls(
            view=view if view in VIEWS else default_view,
            process=text("process"), project=text("project"), role=text("role"),
            due=text("due") if text("due") in DUE_FILTERS else "",
            overdue=args.get("overdue") in ("1", "on", "true", "yes"),
            q=text("q"), sort=sort if sort in SORTS else "due",
            direction="desc" if text("direction") == "desc" else "asc", page=page, per_page=per_page,
        )

    def params(self, **changes: Any) -> dict[str, Any]:
        """The GET parameters of this query (with changes), leaving defaults out."""
        query = replace(self, **changes)
        out: dict[str, Any] = {"view": query.view}
        for name in ("process", "project", "role", "due", "q"):
            if getattr(query, name):
                out[name] = getattr(query, name)
        if query.overdue:
            out["overdue"] = "1"
        if query.sort != ("completed" if query.view == "completed" else "due"):
            out["sort"] = query.sort
        if query.direction != "asc":
            out["direction"] = query.direction
        if query.page != 1:
            out["page"] = query.page
        if query.per_page != PER_PAGE:
            out["per_page"] = query.per_page
        return out

    def url_query(self, **changes: Any) -> str:
        return urlencode(self.params(**changes))

    @property
    def has_filters(self) -> bool:
        return bool(self.process or self.project or self.role or self.due or self.overdue or self.q)


@dataclass
class Row:
    """One line of the inbox: the task and what the list shows about it."""

    task: HumanTask
    # What the instance's business key stands for (its domain answers: app.instances.business_keys);
    # the list's "Project" column.
    project_code: str = ""
    project_name: str = ""
    project_id: int | None = None
    project_url: str | None = None
    started_by: str = ""
    business_key: str | None = None
    key_values: list[tuple[str, Any]] = field(default_factory=list)
    delegation: Delegation | None = None

    @property
    def overdue(self) -> bool:
        return (self.task.status == TaskStatus.READY and self.task.due_at is not None
                and self.task.due_at < utcnow())


@dataclass
class Page:
    query: InboxQuery
    rows: list[Row]
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))


# -- the views -------------------------------------------------------------------------------------

def _view_condition(view: str, username: str, roles: Iterable[str]):  # noqa: ANN202
    """Who sees a task in which view; "mine" and "available" are the access policy's rules."""
    if view == "mine":
        return access.assigned_open_sql(_actor(username, roles))
    if view == "available":
        return access.available_sql(_actor(username, roles))
    if view == "delegated":
        # open delegations, and those finished in the last fortnight (the owner sees the outcome)
        return and_(HumanTask.id.in_(select(Delegation.task_id).where(Delegation.owner == username,
                                                                      Delegation.active.is_(True))),
                    or_(HumanTask.status == TaskStatus.READY, HumanTask.completed_at > utcnow() - timedelta(days=14)))
    if view == "waiting":
        return and_(HumanTask.status == TaskStatus.READY,
                    HumanTask.instance_id.in_(select(ProcessInstance.id).where(ProcessInstance.started_by == username)),
                    or_(HumanTask.assignee.is_(None), HumanTask.assignee != username))
    if view == "completed":
        return access.completed_by_sql(_actor(username, roles))
    raise ValueError(view)


def _business_keys_for(text: str) -> list[str]:
    """The business keys whose record (a project, say) matches ``text``, as their domains answer."""
    return business_keys.keys_matching(text)


def _filters(query: InboxQuery) -> list[Any]:
    conditions: list[Any] = []
    now = utcnow()
    if query.process:
        conditions.append(HumanTask.process_key == query.process)
    if query.role and query.view in OPEN_VIEWS:
        # An uncorrelated set from the open-candidate index of the role, hashed once: ``view`` reads
        # the filters as a column of every task of the view, where a correlated EXISTS ran per task.
        conditions.append(HumanTask.id.in_(select(HumanTaskCandidate.task_id).where(
            HumanTaskCandidate.is_open, HumanTaskCandidate.role.is_not(None), HumanTaskCandidate.role == query.role)))
    elif query.role:  # delegated and completed show finished tasks, whose candidate rows are closed
        conditions.append(exists().where(HumanTaskCandidate.task_id == HumanTask.id,
                                         HumanTaskCandidate.role == query.role))
    if query.project:
        keys = _business_keys_for(query.project)
        conditions.append(HumanTask.instance_id.in_(
            select(ProcessInstance.id).where(ProcessInstance.business_key.in_(keys))) if keys else false())
    if query.overdue:
        conditions.append(and_(HumanTask.status == TaskStatus.READY, HumanTask.due_at < now))
    if query.due == "today":
        conditions.append(HumanTask.due_at < now.replace(hour=0, minute=0, second=0, microsecond=0)
                          + timedelta(days=1))
    elif query.due == "week":
        conditions.append(HumanTask.due_at < now + timedelta(days=7))
    elif query.due == "none":
        conditions.append(HumanTask.due_at.is_(None))
    if query.q:
        like = f"%{query.q.lower()}%"
        keys = _business_keys_for(query.q)
        text_match = [func.lower(HumanTask.title).like(like), func.lower(HumanTask.process_name).like(like)]
        if keys:
            text_match.append(HumanTask.instance_id.in_(
                select(ProcessInstance.id).where(ProcessInstance.business_key.in_(keys))))
        conditions.append(or_(*text_match))
    return conditions


def _order(query: InboxQuery, task: Any = HumanTask) -> list[Any]:
    """The sort of ``query`` over ``task`` (``HumanTask``, or an alias of it over a subquery)."""
    desc = query.direction == "desc"
    if query.sort == "created":
        # "created" sorts by age: ascending = oldest first
        return [task.created_at.desc() if desc else task.created_at, task.id]
    if query.sort == "priority":
        return [task.priority if desc else task.priority.desc(), task.created_at, task.id]
    if query.sort == "title":
        return [task.title.desc() if desc else task.title, task.id]
    if query.sort == "completed":
        return [task.completed_at if desc else task.completed_at.desc(), task.id]
    due = task.due_at.desc() if desc else task.due_at
    return [task.due_at.is_(None), due, task.priority.desc(), task.created_at, task.id]


def view(username: str, roles: Iterable[str], query: InboxQuery, counts: dict[str, int] | None = None) -> Page:
    """One page of one view, filtered and sorted as ``query`` says. ``counts`` (of ``counts()``) saves a
    count; when it leaves out this view's count, the page's own pass fills it in, filtered or not."""
    roles = sorted(set(roles))
    in_view = _view_condition(query.view, username, roles)
    filters = _filters(query)
    offset, limit = (query.page - 1) * query.per_page, query.per_page
    if counts is not None and not filters and query.view in counts:
        total = counts[query.view]
        tasks = list(db.session.scalars(
            select(HumanTask).where(in_view).order_by(*_order(query)).offset(offset).limit(limit)))
    elif not filters:
        # The total rides on the page's rows (a window over the matching set, which the sort reads
        # anyway) instead of a second pass over it; a page past the end has no row to carry it.
        rows = db.session.execute(select(HumanTask, func.count().over()).where(in_view)
                                  .order_by(*_order(query)).offset(offset).limit(limit)).all()
        tasks = [task for task, _ in rows]
        total = rows[0][1] if rows else _count(in_view) if query.page > 1 else 0
        if counts is not None:
            counts[query.view] = total
    else:
        # Filtered: one pass over the view's tasks counts both the view (its tab) and the matches
        # (windows, the second over the matches only), then keeps the matches' page. The tab's count
        # was a pass of its own over the same tasks (22-25 of 100-180 ms on PostgreSQL at 5,000).
        matches = and_(*filters)
        scanned = select(HumanTask, matches.label("matches"), func.count().over().label("in_view"),
                         func.count().filter(matches).over().label("matching")).where(in_view).subquery()
        task = aliased(HumanTask, scanned)
        rows = db.session.execute(select(task, scanned.c.in_view, scanned.c.matching).where(scanned.c.matches)
                                  .order_by(*_order(query, task)).offset(offset).limit(limit)).all()
        tasks = [row[0] for row in rows]
        if rows:
            total, view_total = rows[0][2], rows[0][1]
        else:
            total, view_total = (_count(in_view, *filters) if query.page > 1 else 0), None
        if counts is not None and query.view not in counts:
            counts[query.view] = view_total if view_total is not None else _count(in_view)
    return Page(query=query, rows=decorate(tasks, delegated_by=username if query.view == "delegated" else None),
                total=total)


def _count(*where: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(HumanTask).where(*where)) or 0


def counts(username: str, roles: Iterable[str], leave_out: Iterable[str] = ()) -> dict[str, int]:
    """How many tasks each view holds (without filters), in one statement. ``leave_out``:
    views whose count the caller gets from the page it reads next (``view``), not from a pass of its own."""
    roles = sorted(set(roles))
    names = [name for name in VIEWS if name not in leave_out]
    if not names:
        return {}
    # One statement of one scalar subquery per view: each keeps its own plan (its own index), and the
    # page pays one round trip and one compile instead of five.
    row = db.session.execute(select(*(
        select(func.count()).select_from(HumanTask).where(_view_condition(name, username, roles))
        .scalar_subquery().label(name) for name in names))).one()
    return {name: int(value or 0) for name, value in zip(names, row, strict=True)}


def signature(username: str, roles: Iterable[str], query: InboxQuery) -> str:
    """A short fingerprint of what the page shows, so a poll can tell whether anything changed."""
    page = view(username, roles, query)
    ids = ",".join(f"{r.task.id}:{r.task.assignee or ''}:{r.task.status}" for r in page.rows)
    return f"{page.total}|{ids}|{sorted(counts(username, roles).items())}"


_OPTIONS_CACHE: dict[tuple[str, tuple[str, ...]], tuple[float, dict[str, Any]]] = {}
OPTIONS_TTL_SECONDS = 30.0


def filter_options(username: str, roles: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """Processes and roles seen among the user's open tasks, for the filter drop-downs (cached 30 s)."""
    import time

    roles = sorted(set(roles))
    key = (username, tuple(roles))
    cached = _OPTIONS_CACHE.get(key)
    if cached and time.monotonic() - cached[0] < OPTIONS_TTL_SECONDS:
        return cached[1]
    if len(_OPTIONS_CACHE) > 5000:
        _OPTIONS_CACHE.clear()
    result = _filter_options(username, roles)
    _OPTIONS_CACHE[key] = (time.monotonic(), result)
    return result


def _filter_options(username: str, roles: list[str]) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, str] = {}
    for key, name in db.session.execute(
            select(HumanTask.process_key, func.max(HumanTask.process_name))
            .where(access.may_act_sql(_actor(username, roles))).group_by(HumanTask.process_key)).all():
        found[key] = name or key
    return {"processes": sorted(found.items()), "roles": [(r, r) for r in roles]}


# -- what each row shows ---------------------------------------------------------------------------

def inbox_fields(version_id: int, element_id: str) -> list[str]:
    """The task-data keys a process declares worth showing in the inbox (task property ``inboxFields``)."""
    return list(_inbox_fields(version_id, element_id))


@lru_cache(maxsize=4096)
def _inbox_fields(version_id: int, element_id: str) -> tuple[str, ...]:
    from app.definitions import queries as definition_queries
    version = db.session.get(ProcessVersion, version_id)
    if version is None:
        return ()
    spec, subprocess_specs = definition_queries.spec_for(version)
    for candidate in [spec, *subprocess_specs.values()]:
        task_spec = candidate.task_specs.get(element_id)
        if task_spec is not None:
            props = (getattr(task_spec, "extensions", {}) or {}).get("properties", {}) or {}
            return tuple(k.strip() for k in props.get("inboxFields", "").split(",") if k.strip())
    return ()


@lru_cache(maxsize=8192)
def _ready_task_data(task_id: str, instance_id: int, lock_version: int) -> dict[str, Any]:
    """Task data of a task (cached per instance version: it changes only when the instance does)."""
    from app.instances import commands as instances
    task = db.session.get(HumanTask, task_id)
    try:
        return dict(instances.task_data(task) or {})
    except Exception:  # noqa: BLE001 - a broken instance must not break the inbox
        return {}


def decorate(tasks: list[HumanTask], delegated_by: str | None = None,
             session: Session | None = None) -> list[Row]:
    """Rows for tasks: the business key's label (from its domain's record, else the task data), key
    values, delegation."""
    session = session or db.session
    if not tasks:
        return []
    instance_rows = {r.id: r for r in session.execute(
        select(ProcessInstance.id, ProcessInstance.business_key, ProcessInstance.started_by,
               ProcessInstance.process_version_id, ProcessInstance.lock_version)
        .where(ProcessInstance.id.in_({t.instance_id for t in tasks}))).all()}
    labels = business_keys.labels(r.business_key for r in instance_rows.values())
    delegations: dict[str, Delegation] = {}
    if delegated_by:
        for d in session.scalars(select(Delegation).where(
                Delegation.task_id.in_([t.id for t in tasks]), Delegation.owner == delegated_by,
                Delegation.active.is_(True))):
            delegations[d.task_id] = d
    rows = []
    for task in tasks:
        info = instance_rows.get(task.instance_id)
        row = Row(task=task, started_by=info.started_by if info else "",
                  business_key=info.business_key if info else None, delegation=delegations.get(task.id))
        label = labels.get(info.business_key) if info and info.business_key else None
        if label is not None:
            row.project_code, row.project_name, row.project_id = label.code, label.name, label.id
            row.project_url = label.url
        fields = inbox_fields(info.process_version_id, task.element_id) if info else []
        if task.status == TaskStatus.READY and info and (fields or not row.project_name):
            data = _ready_task_data(task.id, task.instance_id, info.lock_version)
            from_data = business_keys.label_from_data(info.business_key, data)
            if from_data is not None:
                row.project_code = row.project_code or from_data.code
                row.project_name = row.project_name or from_data.name
                if row.project_id is None:
                    row.project_id = from_data.id
                row.project_url = row.project_url or from_data.url
            row.key_values = [(k, data[k]) for k in fields if k in data and data[k] not in (None, "")]
        rows.append(row)
    return rows


def next_task_for(username: str, roles: Iterable[str], instance_id: int) -> HumanTask | None:
    """My next open task in the same instance: one I may act on (``access.may_act_sql``)."""
    stmt = (select(HumanTask).where(HumanTask.instance_id == instance_id, access.may_act_sql(_actor(username, roles)))
            .order_by(HumanTask.created_at, HumanTask.id).limit(1))
    return db.session.scalars(stmt).first()


def now() -> datetime:
    return utcnow()
