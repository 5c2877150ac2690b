"""The portfolio's figures, read with aggregate SQL over the project, human-task and audit tables.

Nothing here loads a process instance or walks a project's relationships row by row: every figure
is a GROUP BY (or a window over one), so the pages cost what the groups cost, not what the portfolio
holds. Who sees what: the PMO and admins every project, a sponsor the projects they sponsor.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    and_,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.sql import Subquery

from app.core.errors import Forbidden
from app.core.extensions import db
from app.engine import clock
from app.instances.models import HumanTask, TaskStatus
from app.people.actor import Actor
from app.portfolio import rollups
from app.portfolio.tables import Column, Table
from app.projects.models import (
    ChangeRequest,
    GateDecision,
    Milestone,
    Phase,
    Project,
    ResourceAllocation,
    Risk,
    StatusReport,
)
from app.projects.workspace import LIFECYCLE, OPEN_CHANGE, names_of

DASHBOARD_ROLES = frozenset({"pmo", "admin", "sponsor"})
RESOURCE_ROLES = frozenset({"pmo", "admin", "resource_manager"})
PROCESS_ROLES = frozenset({"pmo", "admin", "process_owner"})
OVERSIGHT = frozenset({"pmo", "admin"})
DIMENSIONS = (("schedule", "Schedule"), ("budget", "Budget"), ("scope", "Scope"),
              ("resources", "Resources"), ("risk", "Risk"))
PHASES = (*LIFECYCLE, (Phase.CLOSED, "Closed"))
PHASE_TITLES = dict(PHASES)
GATE_OUTCOMES = ("go", "hold", "recycle", "kill")
ALLOCATED = ("approved", "adjusted")
ROW_LIMIT = 100      # rows a page shows of a long table; the exports hold every row
MONTHS_SHOWN = 6


# -- settings and scope ----------------------------------------------------------------------

_row_limit: ContextVar[int | None] = ContextVar("portfolio_row_limit", default=ROW_LIMIT)


def row_limit() -> int | None:
    return _row_limit.get()


@contextmanager
def unlimited() -> Iterator[None]:
    """Every row of every table (the exports), not the first hundred a page shows."""
    token = _row_limit.set(None)
    try:
        yield
    finally:
        _row_limit.reset(token)


def setting(name: str, default: Any) -> Any:
    return current_app.config.get("PORTFOLIO", {}).get(name, default)


def today() -> date:
    return clock.now().astimezone(UTC).date()


@dataclass(frozen=True)
class Filters:
    """The dashboard's filters, as the URL holds them (empty: no filter)."""

    category: str = ""
    sponsor: str = ""
    pm: str = ""
    priority: str = ""
    phase: str = ""

    @classmethod
    def of(cls, args: Any) -> Filters:
        return cls(**{f.name: str(args.get(f.name) or "").strip()[:80] for f in fields(cls)})

    def as_dict(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


def require(actor: Actor, roles: frozenset[str]) -> None:
    if not actor.roles & roles:
        raise Forbidden("this portfolio page is for " + ", ".join(sorted(roles)))


def project_scope(actor: Actor, filters: Filters | None = None) -> list[ColumnElement[bool]]:
    """The conditions on ``projects`` for what ``actor`` may see, narrowed by the filters."""
    require(actor, DASHBOARD_ROLES)
    conditions: list[ColumnElement[bool]] = []
    if not actor.roles & OVERSIGHT:
        conditions.append(Project.sponsor == actor.username)
    f = filters or Filters()
    for column, value in ((Project.portfolio_category, f.category), (Project.sponsor, f.sponsor),
                          (Project.project_manager, f.pm), (Project.priority, f.priority),
                          (Project.phase, f.phase)):
        if value:
            conditions.append(column == value)
    return conditions


def _scoped_ids(conditions: list[ColumnElement[bool]]) -> Select:
    return select(Project.id).where(*conditions)


def filter_options(actor: Actor) -> dict[str, list[tuple[str, str]]]:
    """The values each filter offers: those of the projects ``actor`` may see, as people read them."""
    scope = project_scope(actor)

    def values(column: Any) -> list[str]:
        return [v for v in db.session.scalars(select(column).distinct().where(*scope, column.is_not(None))
                                              .order_by(column)) if v]

    sponsors, pms = values(Project.sponsor), values(Project.project_manager)
    names = names_of(set(sponsors) | set(pms))
    return {"category": [(v, v) for v in values(Project.portfolio_category)],
            "sponsor": [(v, names.get(v, v)) for v in sponsors],
            "pm": [(v, names.get(v, v)) for v in pms],
            "priority": [(v, v) for v in values(Project.priority)],
            "phase": [(p, PHASE_TITLES.get(p, p)) for p in values(Project.phase)]}


# -- dialect helpers ---------------------------------------------------------------------------

def _postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


def _days_between(later: Any, earlier: Any) -> ColumnElement[Any]:
    """Whole days from ``earlier`` to ``later`` (dates)."""
    if _postgres():
        return later - earlier
    return func.cast(func.julianday(later) - func.julianday(earlier), db.Integer)


def _seconds_between(later: Any, earlier: Any) -> ColumnElement[Any]:
    if _postgres():
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _percentiles(source: Subquery, keys: list[str], sums: tuple[str, ...] = (), mins: tuple[str, ...] = ()) -> Select:
    """Per group of ``keys``: the count, the median and the 90th percentile of ``source.c.seconds``
    (and the sum or the least of the columns named in ``sums`` and ``mins``), in one pass.

    A window numbers each group's values in order; the median is the middle one (the mean of the two
    middle ones for an even count) and p90 the nearest-rank value, so SQLite and PostgreSQL agree.
    """
    group = [source.c[k] for k in keys]
    ranked = select(*group, source.c.seconds, *[source.c[c] for c in (*sums, *mins)],
                    func.row_number().over(partition_by=group, order_by=source.c.seconds).label("rn"),
                    func.count().over(partition_by=group).label("n")).subquery()
    rn, n = ranked.c.rn, ranked.c.n
    middle = or_(rn == (n + 1) // 2, rn == (n + 2) // 2)
    return (select(*[ranked.c[k] for k in keys], func.max(n).label("n"),
                   func.avg(case((middle, ranked.c.seconds))).label("median"),
                   func.max(case((rn == (n * 9 + 9) // 10, ranked.c.seconds))).label("p90"),
                   *[func.sum(ranked.c[c]).label(c) for c in sums], *[func.min(ranked.c[c]).label(c) for c in mins])
            .group_by(*[ranked.c[k] for k in keys]))


def _with_total(query: Select, **sums: ColumnElement[Any]) -> tuple[list[Any], int, dict[str, Any]]:
    """The rows of ``query`` (a page's first ``row_limit()``), how many it holds in all and the sum
    of each of ``sums`` over all of them, in one statement: ``OVER ()`` windows are taken before the
    LIMIT, so no second pass over the tables counts and sums them (no rows: 0 and None)."""
    windows = [func.count().over().label("total_rows"), *[func.sum(e).over().label(f"total_{k}") for k, e in sums.items()]]
    rows = list(db.session.execute(query.add_columns(*windows).limit(row_limit())))
    first = rows[0] if rows else None
    return rows, (first.total_rows if first else 0), {k: getattr(first, f"total_{k}") if first else None for k in sums}


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def _pct(part: Any, whole: Any) -> float | None:
    return round(float(part) * 100 / float(whole), 1) if whole else None


def _hours(seconds: Any) -> float | None:
    return round(float(seconds) / 3600, 1) if seconds is not None else None


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _start_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


# -- the dashboard -----------------------------------------------------------------------------

def pipeline(scope: list[ColumnElement[bool]]) -> Table:
    counts = dict(db.session.execute(select(Project.phase, func.count()).where(*scope).group_by(Project.phase)).all())
    rows = [{"phase": title, "phase_value": key, "projects": counts.get(key, 0)} for key, title in PHASES]
    return Table("pipeline", "Projects by phase", [Column("phase", "Phase"), Column("projects", "Projects", "count")],
                 rows, chart="bar", chart_label="phase", chart_values=("projects",),
                 total={"phase": "All phases", "projects": sum(r["projects"] for r in rows)})


def _latest_reports() -> Subquery:
    """The newest status report of each project (by id: reports are appended in order)."""
    newest = select(StatusReport.project_id, func.max(StatusReport.id).label("report_id")) \
        .group_by(StatusReport.project_id).subquery()
    return (select(StatusReport).join(newest, StatusReport.id == newest.c.report_id)
            .where(StatusReport.period_end >= today() - timedelta(days=int(setting("status_current_days", 45))))
            .subquery())


def rag_counts(scope: list[ColumnElement[bool]]) -> Table:
    """Projects by the overall RAG of their latest current status report; grey when none is current."""
    latest = _latest_reports()
    colour = func.coalesce(latest.c.overall_rag, literal_column("'grey'"))  # one expression to group by
    counts = dict(db.session.execute(select(colour, func.count()).select_from(Project)
                                     .outerjoin(latest, latest.c.project_id == Project.id)
                                     .where(*scope).group_by(colour)).all())
    rows = [{"rag": rag, "label": label, "projects": counts.get(rag, 0)}
            for rag, label in (("red", "Red"), ("amber", "Amber"), ("green", "Green"), ("grey", "No current report"))]
    return Table("rag", "Projects by status (RAG)", [Column("label", "Status"), Column("projects", "Projects", "count")],
                 rows, chart="doughnut", chart_label="label", chart_values=("projects",),
                 caption="From each project's latest status report; grey when none is from the last "
                         f"{int(setting('status_current_days', 45))} days.")


def _project_columns() -> list[Any]:
    return [Project.id.label("project_id"), Project.code, Project.name]


def _project_row(row: Any) -> dict[str, Any]:
    return {"project_id": row.project_id, "project": f"{row.code} {row.name}" if row.code else row.name}


def health_matrix(scope: list[ColumnElement[bool]]) -> Table:
    """Each project's rating per dimension, the most troubled first (red counts, then amber)."""
    latest = _latest_reports()
    dims = [latest.c[f"{key}_rag"] for key, _ in DIMENSIONS]
    reds = sum((case((d == "red", 1), else_=0) for d in dims), literal(0))
    ambers = sum((case((d == "amber", 1), else_=0) for d in dims), literal(0))
    query = (select(*_project_columns(), *dims, latest.c.overall_rag, latest.c.period_end)
             .select_from(Project).outerjoin(latest, latest.c.project_id == Project.id).where(*scope)
             .order_by(reds.desc(), ambers.desc(), Project.id))
    found, total, _ = _with_total(query)
    rows = []
    for row in found:
        item = _project_row(row)
        for key, _ in DIMENSIONS:
            item[key] = getattr(row, f"{key}_rag") or "grey"
        item["overall"] = row.overall_rag or "grey"
        item["as_of"] = row.period_end
        rows.append(item)
    return Table("health", "Health by dimension", [Column("project", "Project"),
                                                   *[Column(k, t, "rag") for k, t in DIMENSIONS],
                                                   Column("overall", "Overall", "rag"), Column("as_of", "Reported", "date")],
                 rows, project_column="project", more=max(total - len(rows), 0))


def slipping_milestones(scope: list[ColumnElement[bool]]) -> Table:
    """Milestones not yet reached whose forecast is later than their baseline, the worst first."""
    slip = _days_between(Milestone.due_date, Milestone.baseline_due_date)
    query = (select(*_project_columns(), Milestone.name.label("milestone"), Milestone.baseline_due_date,
                    Milestone.due_date, slip.label("slip")).join(Project, Project.id == Milestone.project_id)
             .where(*scope, Milestone.status != "achieved", Milestone.due_date > Milestone.baseline_due_date))
    found, total, _ = _with_total(query.order_by(slip.desc(), Milestone.id))
    rows = [{**_project_row(r), "milestone": r.milestone, "baseline": r.baseline_due_date, "forecast": r.due_date,
             "slip": int(r.slip)} for r in found]
    return Table("slipping", "Milestones slipping", [Column("project", "Project"), Column("milestone", "Milestone"),
                                                     Column("baseline", "Baseline", "date"),
                                                     Column("forecast", "Forecast", "date"),
                                                     Column("slip", "Late by", "days")],
                 rows, project_column="project", more=max(total - len(rows), 0))


def late_projects(scope: list[ColumnElement[bool]]) -> Table:
    """Projects whose forecast end (their last milestone's forecast) is after their baseline end."""
    forecast = (select(Milestone.project_id, func.max(Milestone.due_date).label("forecast_end"))
                .group_by(Milestone.project_id).subquery())
    late = _days_between(forecast.c.forecast_end, Project.target_end_date)
    query = (select(*_project_columns(), Project.target_end_date, forecast.c.forecast_end, late.label("late"))
             .join(forecast, forecast.c.project_id == Project.id)
             .where(*scope, Project.target_end_date.is_not(None), forecast.c.forecast_end > Project.target_end_date))
    found, total, _ = _with_total(query.order_by(late.desc(), Project.id))
    rows = [{**_project_row(r), "baseline_end": r.target_end_date, "forecast_end": r.forecast_end, "late": int(r.late)}
            for r in found]
    return Table("late", "Projects forecast to end late", [Column("project", "Project"),
                                                          Column("baseline_end", "Baseline end", "date"),
                                                          Column("forecast_end", "Forecast end", "date"),
                                                          Column("late", "Late by", "days")],
                 rows, project_column="project", more=max(total - len(rows), 0))


def gates_due(scope: list[ColumnElement[bool]]) -> Table:
    start = _month_start(today())
    query = (select(*_project_columns(), Milestone.name.label("gate"), Milestone.due_date)
             .join(Project, Project.id == Milestone.project_id)
             .where(*scope, Milestone.gate_required.is_(True), Milestone.status != "achieved",
                    Milestone.due_date >= start, Milestone.due_date < _next_month(start))
             .order_by(Milestone.due_date, Milestone.id))
    rows = [{**_project_row(r), "gate": r.gate, "due": r.due_date} for r in db.session.execute(query.limit(row_limit()))]
    return Table("gates_due", "Gates due this month", [Column("project", "Project"), Column("gate", "Gate"),
                                                       Column("due", "Due", "date")], rows, project_column="project")


def gate_outcomes(scope: list[ColumnElement[bool]]) -> Table:
    """Gate decisions of this quarter by outcome, with their share."""
    since = _start_of(_quarter_start(today()))
    counts = dict(db.session.execute(
        select(GateDecision.decision, func.count()).join(Project, Project.id == GateDecision.project_id)
        .where(*scope, GateDecision.decided_at >= since).group_by(GateDecision.decision)).all())
    decided = sum(counts.values())
    rows = [{"outcome": o.capitalize(), "gates": counts.get(o, 0), "rate": _pct(counts.get(o, 0), decided)}
            for o in GATE_OUTCOMES]
    return Table("gate_outcomes", "Gate outcomes this quarter", [Column("outcome", "Outcome"),
                                                                 Column("gates", "Gates", "count"),
                                                                 Column("rate", "Rate", "percent")],
                 rows, chart="bar", chart_label="outcome", chart_values=("gates",),
                 total={"outcome": "All gates", "gates": decided, "rate": 100.0 if decided else None})


def _pending_change_cost() -> Subquery:
    return (select(ChangeRequest.project_id,
                   func.sum(func.coalesce(ChangeRequest.assessed_cost_impact, ChangeRequest.cost_impact)).label("pending"))
            .where(ChangeRequest.status.in_(OPEN_CHANGE)).group_by(ChangeRequest.project_id).subquery())


def cost(scope: list[ColumnElement[bool]]) -> Table:
    """Budget baseline, actuals and forecast per project and in total.

    Forecast at completion: the larger of baseline and actuals (a project never costs less than it has
    spent) plus the cost of the change requests still open. Variance: forecast minus baseline.
    """
    pending = _pending_change_cost()
    baseline = func.coalesce(Project.budget_baseline, Project.budget_estimate, 0)
    actual = func.coalesce(Project.budget_actual, 0)
    forecast = case((actual > baseline, actual), else_=baseline) + func.coalesce(pending.c.pending, 0)
    variance = forecast - baseline
    base = (select(*_project_columns(), baseline.label("baseline"), actual.label("actual"),
                   forecast.label("forecast"), variance.label("variance"))
            .outerjoin(pending, pending.c.project_id == Project.id).where(*scope))
    found, count, totals = _with_total(base.order_by(variance.desc(), Project.id),
                                       baseline=baseline, actual=actual, forecast=forecast)
    rows = []
    for r in found:
        b, v = _money(r.baseline), _money(r.variance)
        rows.append({**_project_row(r), "baseline": b, "actual": _money(r.actual), "forecast": _money(r.forecast),
                     "variance": v, "variance_pct": _pct(v, b)})
    tb, ta, tf = _money(totals["baseline"]), _money(totals["actual"]), _money(totals["forecast"])
    return Table("cost", "Budget: baseline, actuals and forecast", [
        Column("project", "Project"), Column("baseline", "Baseline", "money"), Column("actual", "Actuals", "money"),
        Column("forecast", "Forecast", "money"), Column("variance", "Variance", "money"),
        Column("variance_pct", "Variance %", "percent")], rows, project_column="project",
        chart="bar", chart_label="project", chart_values=("baseline", "actual", "forecast"),
        total={"project": "Portfolio", "baseline": tb, "actual": ta, "forecast": tf, "variance": tf - tb,
               "variance_pct": _pct(tf - tb, tb)},
        caption="Forecast: the larger of baseline and actuals, plus the open change requests' cost.",
        more=max(count - len(rows), 0))


def open_changes(scope: list[ColumnElement[bool]]) -> Table:
    cost_impact = func.coalesce(ChangeRequest.assessed_cost_impact, ChangeRequest.cost_impact)
    days = func.coalesce(ChangeRequest.assessed_schedule_days, ChangeRequest.schedule_impact_days)
    query = (select(*_project_columns(), ChangeRequest.number, ChangeRequest.title, cost_impact.label("cost"),
                    days.label("days"), ChangeRequest.submitted_at)
             .join(Project, Project.id == ChangeRequest.project_id)
             .where(*scope, ChangeRequest.status.in_(OPEN_CHANGE)))
    found, count, total = _with_total(query.order_by(cost_impact.desc(), ChangeRequest.id), cost=cost_impact, days=days)
    rows = [{**_project_row(r), "change": f"CR-{r.number:03d} {r.title}", "cost": _money(r.cost),
             "days": int(r.days or 0), "submitted": r.submitted_at.date() if r.submitted_at else None} for r in found]
    return Table("open_changes", "Open change requests", [
        Column("project", "Project"), Column("change", "Change request"), Column("cost", "Cost impact", "money"),
        Column("days", "Schedule impact", "days"), Column("submitted", "Submitted", "date")], rows,
        project_column="project", total={"project": f"{count} open", "cost": _money(total["cost"]),
                                         "days": int(total["days"] or 0)},
        more=max(count - len(rows), 0))


ROUTE_TITLES = {"pm": "Project manager", "sponsor": "Sponsor", "ccb": "Change control board"}


def change_decisions(scope: list[ColumnElement[bool]]) -> Table:
    """Change requests decided this quarter, by route: how many, and the share approved."""
    since = _start_of(_quarter_start(today()))
    approved = func.sum(case((ChangeRequest.status == "approved", 1), else_=0))
    rows_sql = db.session.execute(
        select(ChangeRequest.route, func.count(), approved)
        .join(Project, Project.id == ChangeRequest.project_id)
        .where(*scope, ChangeRequest.decided_at >= since, ChangeRequest.status.in_(("approved", "rejected")))
        .group_by(ChangeRequest.route)).all()
    by_route = {route: (n, int(a or 0)) for route, n, a in rows_sql}
    rows = [{"route": title, "decided": by_route.get(key, (0, 0))[0], "approved": by_route.get(key, (0, 0))[1],
             "rate": _pct(by_route.get(key, (0, 0))[1], by_route.get(key, (0, 0))[0])}
            for key, title in ROUTE_TITLES.items()]
    decided, ok = sum(n for n, _ in by_route.values()), sum(a for _, a in by_route.values())
    return Table("change_decisions", "Change requests decided this quarter", [
        Column("route", "Route"), Column("decided", "Decided", "count"), Column("approved", "Approved", "count"),
        Column("rate", "Approval rate", "percent")], rows, chart="bar", chart_label="route",
        chart_values=("decided", "approved"),
        total={"route": "All routes", "decided": decided, "approved": ok, "rate": _pct(ok, decided)})


def top_risks(scope: list[ColumnElement[bool]], limit: int = 20) -> Table:
    query = (select(*_project_columns(), Risk.title, Risk.probability, Risk.impact, Risk.score, Risk.owner)
             .join(Project, Project.id == Risk.project_id).where(*scope, Risk.status == "open")
             .order_by(Risk.score.desc(), Risk.id).limit(limit))
    rows = [{**_project_row(r), "risk": r.title, "probability": r.probability, "impact": r.impact,
             "score": r.score, "owner": r.owner} for r in db.session.execute(query)]
    return Table("top_risks", "Top risks across projects", [
        Column("project", "Project"), Column("risk", "Risk"), Column("probability", "Probability", "count"),
        Column("impact", "Impact", "count"), Column("score", "Score", "count"), Column("owner", "Owner")],
        rows, project_column="project")


def risky_projects(scope: list[ColumnElement[bool]]) -> Table:
    threshold = int(setting("risk_threshold", 15))
    top = func.max(Risk.score)
    query = (select(*_project_columns(), top.label("top"), func.count().label("risks"))
             .join(Risk, Risk.project_id == Project.id)
             .where(*scope, Risk.status == "open", Risk.score > threshold)
             .group_by(Project.id, Project.code, Project.name))
    found, total, _ = _with_total(query.order_by(top.desc(), Project.id))
    rows = [{**_project_row(r), "top": r.top, "risks": r.risks} for r in found]
    return Table("risky", f"Projects with a risk above {threshold}", [
        Column("project", "Project"), Column("top", "Highest score", "count"),
        Column("risks", "Risks above the threshold", "count")], rows, project_column="project",
        more=max(total - len(rows), 0))


DASHBOARD_TABLES = {
    "pipeline": pipeline, "rag": rag_counts, "health": health_matrix, "slipping": slipping_milestones,
    "late": late_projects, "gates_due": gates_due, "gate_outcomes": gate_outcomes, "cost": cost,
    "open_changes": open_changes, "change_decisions": change_decisions, "top_risks": top_risks,
    "risky": risky_projects,
}


def dashboard_table(actor: Actor, filters: Filters, key: str) -> Table:
    """One dashboard table alone (an export of every row need not rebuild the others)."""
    return DASHBOARD_TABLES[key](project_scope(actor, filters))


def dashboard(actor: Actor, filters: Filters) -> dict[str, Table]:
    scope = project_scope(actor, filters)
    return {key: build(scope) for key, build in DASHBOARD_TABLES.items()}


# -- resource capacity -------------------------------------------------------------------------

def months_from(first: date, count: int = MONTHS_SHOWN) -> list[date]:
    months, month = [], _month_start(first)
    for _ in range(count):
        months.append(month)
        month = _next_month(month)
    return months


def month_label(month: date) -> str:
    return month.strftime("%B %Y")


def role_capacity(role: str) -> float:
    return float(setting("role_capacity", {}).get(role, setting("default_role_capacity", 2.0)))


def person_capacity(person: str) -> float:
    return float(setting("person_capacity", {}).get(person, setting("default_person_capacity", 1.0)))


def _month_bounds(months: list[date]) -> Subquery:
    """One row per month: its first and last day (``first``, ``last``), to join allocations to."""
    return union_all(*[select(literal(month, Date).label("first"),
                              literal(_next_month(month) - timedelta(days=1), Date).label("last"))
                       for month in months]).subquery()


@dataclass
class Capacity:
    months: list[date]
    by_role: Table
    by_person: Table
    competing: Table


def _utilisation_table(key: str, title: str, label: str, months: list[date],
                       cells: dict[str, dict[date, float]], capacity_of: Any, busiest_first: bool = False) -> Table:
    """One row per name with each month's allocation and utilisation; ``busiest_first`` orders by
    the highest utilisation of any month shown (the names over capacity lead), else by name. A page
    shows the first ``row_limit()`` rows (the exports all of them)."""
    columns = [Column("name", label), Column("capacity", "Capacity", "fte")]
    rows = []
    for name in sorted(cells):
        row: dict[str, Any] = {"name": name, "capacity": capacity_of(name), "over": []}
        for i, month in enumerate(months):
            allocated = round(cells[name].get(month, 0.0), 2)
            row[f"m{i}"] = allocated
            row[f"u{i}"] = _pct(allocated, row["capacity"])
            if allocated > row["capacity"]:
                row["over"].append(f"m{i}")
        rows.append(row)
    if busiest_first:
        peak = {row["name"]: max((row[f"u{i}"] or 0.0 for i in range(len(months))), default=0.0) for row in rows}
        rows.sort(key=lambda row: -peak[row["name"]])  # stable: by name within the same peak
    for i, month in enumerate(months):
        columns += [Column(f"m{i}", f"{month_label(month)} allocated", "fte"),
                    Column(f"u{i}", f"{month_label(month)} utilisation", "percent")]
    shown = rows[:row_limit()]
    return Table(key, title, columns, shown, caption="FTE a month; over capacity highlighted.",
                 more=len(rows) - len(shown))


def capacity(first: date | None = None) -> Capacity:
    """Allocations from approved resource requests, by role and by named person, month by month.

    Summed in SQL per month and role, and per month and person with the count of their projects (a
    few thousand rows, not one per allocation and month); people are listed the busiest first; long
    tables hold their first ``row_limit()`` rows, and the projects of the competing rows shown are
    read for those rows only.
    """
    months = months_from(first or today())
    bounds = _month_bounds(months)
    ra = ResourceAllocation
    running = and_(ra.status.in_(ALLOCATED), ra.start_date <= bounds.c.last, ra.end_date >= bounds.c.first)
    by_role: dict[str, dict[date, float]] = {}
    for month, role, fte in db.session.execute(
            select(bounds.c.first, ra.role, func.sum(ra.fte)).select_from(ra).join(bounds, running)
            .group_by(bounds.c.first, ra.role)):
        by_role.setdefault(role, {})[month] = float(fte or 0)
    by_person: dict[str, dict[date, float]] = {}
    contested: list[tuple[str, date]] = []
    named = and_(ra.named_resource.is_not(None), ra.named_resource != "")
    for month, person, fte, projects in db.session.execute(
            select(bounds.c.first, ra.named_resource, func.sum(ra.fte), func.count(ra.project_id.distinct()))
            .select_from(ra).join(bounds, running).where(named).group_by(bounds.c.first, ra.named_resource)):
        by_person.setdefault(person, {})[month] = float(fte or 0)
        if projects > 1:
            contested.append((person, month))
    names = names_of(set(by_person))
    person_cells = {names.get(p, p): cells for p, cells in by_person.items()}
    people = {names.get(p, p): p for p in by_person}
    contested.sort(key=lambda c: (c[1], c[0]))
    shown = contested[:row_limit()]
    projects_of: dict[tuple[str, date], set[int]] = {key: set() for key in shown}
    if shown:
        for month, person, project_id in db.session.execute(
                select(bounds.c.first, ra.named_resource, ra.project_id).distinct().select_from(ra)
                .join(bounds, running).where(ra.named_resource.in_({person for person, _ in shown}))):
            if (person, month) in projects_of:
                projects_of[(person, month)].add(project_id)
    project_names = _project_names({pid for ids in projects_of.values() for pid in ids})
    competing_rows = [{"month": month_label(month), "person": names.get(person, person),
                       "projects": ", ".join(sorted(project_names.get(i, "") for i in projects_of[(person, month)])),
                       "allocated": round(by_person[person][month], 2), "capacity": person_capacity(person)}
                      for person, month in shown]
    return Capacity(
        months,
        _utilisation_table("by_role", "Allocation by role", "Role", months, by_role, role_capacity),
        _utilisation_table("by_person", "Allocation by person", "Person", months, person_cells,
                           lambda shown: person_capacity(people.get(shown, shown)), busiest_first=True),
        Table("competing", "People several projects compete for", [
            Column("month", "Month"), Column("person", "Person"), Column("projects", "Projects"),
            Column("allocated", "Allocated", "fte"), Column("capacity", "Capacity", "fte")], competing_rows,
            more=len(contested) - len(shown)))


def _project_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {r.id: f"{r.code} {r.name}" if r.code else r.name
            for r in db.session.execute(select(Project.id, Project.code, Project.name).where(Project.id.in_(ids)))}


MAX_EFFECT_MONTHS = 36    # months a request's effect lists (a longer one says how many are left off)
MAX_COMPETING = 50        # other projects' allocations listed beside it
MAX_REQUEST_FTE = 100.0   # beyond this a request is not a resource plan's row


@dataclass(frozen=True)
class ResourceRequest:
    """A resource plan's row, read and checked: the role, the FTE and the days it runs."""

    role: str
    fte: float
    start: date
    end: date

    @classmethod
    def of(cls, value: Any) -> ResourceRequest | None:
        """The request in ``value`` (``role``, ``fte`` or ``requested_fte``, ISO ``start_date`` and
        ``end_date``), or None when any of it is missing or out of shape."""
        if not isinstance(value, dict):
            return None
        role, fte = value.get("role"), value.get("fte", value.get("requested_fte"))
        if not isinstance(role, str) or not 0 < len(role.strip()) <= 200:
            return None
        if isinstance(fte, bool) or not isinstance(fte, int | float | Decimal | str):
            return None
        try:
            amount = float(fte)
            start = date.fromisoformat(str(value.get("start_date"))[:10])
            end = date.fromisoformat(str(value.get("end_date"))[:10])
        except (TypeError, ValueError):
            return None
        if not 0 < amount <= MAX_REQUEST_FTE or end < start:  # NaN fails the comparison too
            return None
        return cls(role.strip(), amount, start, end)


@dataclass
class RequestEffect:
    """What approving one request would do to its role's capacity, month by month."""

    request: ResourceRequest
    months: Table
    competing: Table
    first_month: date
    months_left_off: int
    replaces: bool  # the project holds allocations of this role now, which its new plan replaces


def _months_of(request: ResourceRequest) -> tuple[list[date], int]:
    months, month = [], _month_start(request.start)
    while month <= request.end and len(months) < MAX_EFFECT_MONTHS:
        months.append(month)
        month = _next_month(month)
    left = 0
    if month <= request.end:
        left = (request.end.year - month.year) * 12 + request.end.month - month.month + 1
    return months, left


def effect_of_request(request: ResourceRequest, project_id: int | None) -> RequestEffect:
    """Per month of ``request``: the role's capacity, what is allocated now (approved requests, as the
    capacity page counts them), the utilisation now, and the allocation and utilisation if it is
    approved, marked where that goes over capacity; and the other projects holding the role then.

    Deciding a planning round replaces the project's allocations (``pmo/RecordResourceDecision``), so
    "if approved" counts the other projects' allocations and this request, not the project's own
    current ones. One query: the role's allocations that overlap the request's months.
    """
    months, left = _months_of(request)
    first, last = months[0], _next_month(months[-1]) - timedelta(days=1)
    rows = db.session.execute(
        select(ResourceAllocation.project_id, ResourceAllocation.named_resource, ResourceAllocation.fte,
               ResourceAllocation.start_date, ResourceAllocation.end_date)
        .where(ResourceAllocation.status.in_(ALLOCATED), ResourceAllocation.role == request.role,
               ResourceAllocation.start_date <= last, ResourceAllocation.end_date >= first)
        .order_by(ResourceAllocation.start_date, ResourceAllocation.id)).all()
    cap = role_capacity(request.role)
    project_names = _project_names({r.project_id for r in rows})
    month_rows, replaces = [], False
    for month in months:
        month_end = _next_month(month) - timedelta(days=1)
        running = [r for r in rows if r.start_date <= month_end and r.end_date >= month]
        now = round(sum(float(r.fte or 0) for r in running), 2)
        own = round(sum(float(r.fte or 0) for r in running if r.project_id == project_id), 2)
        after = round(now - own + request.fte, 2)
        replaces = replaces or own > 0
        month_rows.append({
            "month": month_label(month), "capacity": cap, "allocated": now, "utilisation": _pct(now, cap),
            "after": after, "utilisation_after": _pct(after, cap), "over": after > cap,
            "over_by": round(after - cap, 2) if after > cap else None, "own": own})
    months_table = Table("effect_months", f"{request.role}: capacity month by month", [
        Column("month", "Month"), Column("capacity", "Capacity", "fte"), Column("allocated", "Allocated now", "fte"),
        Column("utilisation", "Utilisation now", "percent"), Column("after", "Allocated if approved", "fte"),
        Column("utilisation_after", "Utilisation if approved", "percent")], month_rows,
        caption="FTE a month. Approving this request adds its FTE; months that would go over capacity are marked.")
    others = [r for r in rows if r.project_id != project_id]
    names = names_of({r.named_resource for r in others if r.named_resource})
    competing = [{"project": project_names.get(r.project_id, ""), "person": names.get(r.named_resource or "", "")
                  or (r.named_resource or ""), "fte": round(float(r.fte or 0), 2), "from": r.start_date,
                  "to": r.end_date} for r in others]
    competing.sort(key=lambda c: (c["project"], c["from"], c["person"]))
    competing_table = Table("effect_competing", f"Other projects with a {request.role} in these months", [
        Column("project", "Project"), Column("person", "Person"), Column("fte", "FTE", "fte"),
        Column("from", "From", "date"), Column("to", "To", "date")], competing[:MAX_COMPETING],
        more=max(len(competing) - MAX_COMPETING, 0))
    return RequestEffect(request, months_table, competing_table, months[0], left, replaces)


def request_effect(requests: list[dict[str, Any]], project_id: int | None) -> list[dict[str, Any]]:
    """What approving resource requests would do: per role and month, utilisation before and after.

    ``requests`` are the resource plan's rows (role, fte, start_date, end_date); the answer lists the
    months each request runs in, with ``over`` when the month would go over the role's capacity. A
    row that is not a request (a missing role, a bad date) is left out.
    """
    effects = []
    for value in requests:
        request = ResourceRequest.of(value)
        if request is None:
            continue
        for row in effect_of_request(request, project_id).months.rows:
            effects.append({"role": request.role, "month": row["month"], "capacity": row["capacity"],
                            "before": row["allocated"], "after": row["after"],
                            "utilisation_before": row["utilisation"], "utilisation_after": row["utilisation_after"],
                            "over": row["over"]})
    return effects


# -- process analytics -------------------------------------------------------------------------

@dataclass
class Period:
    days: int | None   # None: all time
    until: datetime | None = None   # completions before it only (the job's snapshot of closed days)

    @classmethod
    def of(cls, value: str | None) -> Period:
        if value == "all":
            return cls(None)
        return cls(int(value)) if value in ("7", "30", "90", "365") else cls(int(setting("analytics_period_days", 90)))

    @property
    def since(self) -> datetime | None:
        return clock.now() - timedelta(days=self.days) if self.days else None

    @property
    def value(self) -> str:
        return str(self.days) if self.days else "all"

    @property
    def label(self) -> str:
        return f"the last {self.days} days" if self.days else "all time"


def _completed_in(period: Period) -> list[ColumnElement[bool]]:
    conditions = [HumanTask.status == TaskStatus.COMPLETED, HumanTask.completed_at.is_not(None)]
    if period.since is not None:
        conditions.append(HumanTask.completed_at >= period.since)
    if period.until is not None:
        conditions.append(HumanTask.completed_at < period.until)
    return conditions


_PROCESS = func.coalesce(HumanTask.bpmn_process_id, HumanTask.process_key)


def step_waits(period: Period, process: str | None = None, found: rollups.Figures | None = None) -> Table:
    """Per process and step: waiting now, overdue, median and p90 wait of the steps completed in the
    period (from the rollup's wait buckets), SLA breaches (completed after their due time)."""
    where_process = [_PROCESS == process] if process else []
    stats = (found or rollups.figures(period.since, process)).steps
    stats = {k: v for k, v in stats.items() if v.n and (not process or k[0] == process)}
    now = clock.now()
    waiting = {(p, s): (n, int(o or 0), t) for p, s, n, o, t in db.session.execute(
        select(_PROCESS, HumanTask.element_id, func.count(),
               func.sum(case((HumanTask.due_at < now, 1), else_=0)), func.min(HumanTask.title))
        .where(HumanTask.status == TaskStatus.READY, *where_process).group_by(_PROCESS, HumanTask.element_id))}
    names = step_names(set(stats) | set(waiting))
    rows = []
    for key in sorted(set(stats) | set(waiting)):
        stat, now_row = stats.get(key), waiting.get(key, (0, 0, None))
        rows.append({"process_id": key[0], "step_id": key[1], "process": names.get(key[0], key[0]),
                     "step": names.get(key, None) or (stat.title if stat else None) or now_row[2] or "",
                     "waiting": now_row[0], "overdue": now_row[1], "overdue_share": _pct(now_row[1], now_row[0]),
                     "completed": stat.n if stat else 0,
                     "median": _hours(stat.median()) if stat else None, "p90": _hours(stat.p90()) if stat else None,
                     "breaches": stat.breaches if stat else 0})
    rows.sort(key=lambda r: (r["process"], -(r["median"] or 0)))
    return Table("steps", f"Waiting time per step, {period.label}", [
        Column("process", "Process"), Column("step", "Step"), Column("waiting", "Waiting now", "count"),
        Column("overdue", "Overdue now", "count"), Column("overdue_share", "Overdue share", "percent"),
        Column("completed", "Completed", "count"), Column("median", "Median wait", "hours"),
        Column("p90", "90th percentile", "hours"), Column("breaches", "SLA breaches", "count")], rows,
        caption="Waiting time: from when a step was ready to when it was completed. " + rollups.RESOLUTION)


def turnaround_by_person(period: Period, found: rollups.Figures | None = None) -> Table:
    people = {p: h for p, h in (found or rollups.figures(period.since)).people.items() if h.n}
    names = names_of(set(people))
    rows = sorted(({"person": names.get(p, p), "completed": h.n, "median": _hours(h.median()),
                    "p90": _hours(h.p90())} for p, h in people.items()),
                  key=lambda r: (-(r["median"] or 0), r["person"]))
    return Table("people", f"Approval turnaround per person, {period.label}", [
        Column("person", "Person"), Column("completed", "Completed", "count"),
        Column("median", "Median", "hours"), Column("p90", "90th percentile", "hours")], rows[:row_limit()],
        more=max(len(rows) - (row_limit() or len(rows)), 0), caption=rollups.RESOLUTION)


def turnaround_by_role(period: Period, found: rollups.Figures | None = None) -> Table:
    titles = current_app.config.get("ROLES", {})
    rows = [{"role": titles.get(r, r), "completed": h.n, "median": _hours(h.median()), "p90": _hours(h.p90())}
            for r, h in (found or rollups.figures(period.since)).roles.items() if h.n]
    rows.sort(key=lambda r: (-(r["median"] or 0), r["role"]))
    return Table("roles", f"Approval turnaround per role, {period.label}", [
        Column("role", "Role"), Column("completed", "Completed", "count"),
        Column("median", "Median", "hours"), Column("p90", "90th percentile", "hours")], rows,
        chart="bar", chart_label="role", chart_values=("median",), caption=rollups.RESOLUTION)


def rework(period: Period) -> Table:
    """How often a step ran more than once in one instance: a charter, plan or change sent back."""
    runs = (select(_PROCESS.label("process"), HumanTask.element_id.label("step"), HumanTask.instance_id,
                   func.count().label("runs"))
            .where(*_completed_in(period)).group_by(_PROCESS, HumanTask.element_id, HumanTask.instance_id).subquery())
    query = (select(runs.c.process, runs.c.step, func.count().label("instances"),
                    func.sum(case((runs.c.runs > 1, 1), else_=0)).label("reworked"),
                    func.sum(runs.c.runs - 1).label("repeats"))
             .group_by(runs.c.process, runs.c.step).having(func.sum(runs.c.runs - 1) > 0))
    found = list(db.session.execute(query))
    names = step_names({(r.process, r.step) for r in found})
    rows = sorted(({"process": names.get(r.process, r.process), "step": names.get((r.process, r.step)) or r.step,
                    "instances": int(r.instances), "reworked": int(r.reworked), "repeats": int(r.repeats),
                    "share": _pct(r.reworked, r.instances)} for r in found), key=lambda r: -r["repeats"])
    return Table("rework", f"Rework loops, {period.label}", [
        Column("process", "Process"), Column("step", "Step"), Column("instances", "Processes", "count"),
        Column("reworked", "Sent back at least once", "count"), Column("repeats", "Extra rounds", "count"),
        Column("share", "Share sent back", "percent")], rows)


def phase_durations(period: Period) -> Table:
    """Days spent in each lifecycle phase: from its first task's start to its last task's completion,
    per project lifecycle, then the median over the lifecycles."""
    per_instance = (select(HumanTask.bpmn_process_id.label("phase"), HumanTask.instance_id,
                           _seconds_between(func.max(HumanTask.completed_at), func.min(HumanTask.created_at))
                           .label("seconds"))
                    .where(*_completed_in(period), HumanTask.bpmn_process_id.is_not(None),
                           HumanTask.bpmn_process_id != HumanTask.process_key)
                    .group_by(HumanTask.bpmn_process_id, HumanTask.instance_id).subquery())
    found = list(db.session.execute(_percentiles(per_instance, ["phase"])))
    names = step_names({(r.phase, "") for r in found})
    rows = [{"phase": names.get(r.phase, r.phase), "instances": int(r.n),
             "median": round(float(r.median) / 86400, 1) if r.median is not None else None,
             "p90": round(float(r.p90) / 86400, 1) if r.p90 is not None else None} for r in found]
    rows.sort(key=lambda r: r["phase"])
    return Table("phases", f"Time in each phase, {period.label}", [
        Column("phase", "Phase"), Column("instances", "Projects", "count"), Column("median", "Median", "days"),
        Column("p90", "90th percentile", "days")], rows, chart="bar", chart_label="phase", chart_values=("median",))


def analytics(actor: Actor, period: Period) -> dict[str, Table]:
    require(actor, PROCESS_ROLES)
    kept_snapshot = rollups.snapshot(period.value, period.since)  # read once: large JSON
    found = rollups.figures(period.since, snapshot=kept_snapshot)  # one read for the three tables of waits
    tables = {"steps": step_waits(period, found=found), "roles": turnaround_by_role(period, found),
              "people": turnaround_by_person(period, found)}
    for key, live in (("rework", rework), ("phases", phase_durations)):
        kept = rollups.snapshot_rows(kept_snapshot, key)
        if kept is None:
            tables[key] = live(period)
        else:
            rows, through = kept
            table = live(Period(period.days, until=datetime(1, 1, 1, tzinfo=UTC)))  # the shape, no rows
            table.rows = rows
            table.caption = f"Completions up to the end of {through:%-d %b %Y} (rolled up nightly)."
            tables[key] = table
    return tables


def snapshot_tables(period: Period) -> dict[str, list[dict[str, Any]]]:
    """The rework and phase rows of ``period`` for the rollup job's snapshot (JSON values)."""
    return {key: [{k: (v.isoformat() if isinstance(v, date) else v) for k, v in row.items()} for row in table.rows]
            for key, table in (("rework", rework(period)), ("phases", phase_durations(period)))}


def processes_with_tasks(steps: Table) -> list[tuple[str, str]]:
    """(BPMN process id, name) of the processes in a steps table (tasks in the period or waiting now),
    for the heat map's choice."""
    found = {r["process_id"]: r["process"] for r in steps.rows}
    return sorted(found.items(), key=lambda item: item[1])


def step_names(keys: set[tuple[str, str]]) -> dict[Any, str]:
    """Names from the deployed diagrams: ``{process_id: name, (process_id, element_id): name}``."""
    from app.portfolio import diagrams

    return diagrams.names_for({k[0] for k in keys})


def heat_map(actor: Actor, process: str, period: Period, steps: Table | None = None) -> dict[str, Any]:
    """The diagram of ``process`` and, per step, its counts and median wait with a colour level
    (from ``steps``, the table of every process's steps, when the page has it already)."""
    from app.portfolio import diagrams

    require(actor, PROCESS_ROLES)
    xml = diagrams.diagram_xml(process)
    table = step_waits(period, process) if steps is None else Table(
        steps.key, steps.title, steps.columns, [r for r in steps.rows if r["process_id"] == process], steps.caption)
    table.key, table.title = "heat_steps", f"Steps of this process, {period.label}"
    marks = {}
    for row in table.rows:
        median = row["median"]
        level = ("none" if median is None else "low" if median < 8 else "medium" if median < 24
                 else "high" if median < 72 else "severe")
        marks[row["step_id"]] = {"level": level, "median": median, "waiting": row["waiting"],
                                 "completed": row["completed"], "label": _mark_label(row)}
    return {"xml": xml, "marks": marks, "table": table}


def _mark_label(row: dict[str, Any]) -> str:
    median = "no completions" if row["median"] is None else f"median {row['median']:g} h"
    return f"{row['waiting']} waiting · {row['completed']} done · {median}"


def report_summary(actor: Actor) -> dict[str, Any]:
    """The handful of figures the monthly report and the print page lead with."""
    scope = project_scope(actor)
    tables = dashboard(actor, Filters())
    return {"projects": db.session.scalar(select(func.count()).select_from(Project).where(*scope)) or 0,
            "rag": {r["rag"]: r["projects"] for r in tables["rag"].rows},
            "late": len(tables["late"].rows) + tables["late"].more,
            "risky": len(tables["risky"].rows) + tables["risky"].more,
            "open_changes": tables["open_changes"].total, "cost": tables["cost"].total, "tables": tables}


__all__ = ["Filters", "Period", "ResourceRequest", "analytics", "capacity", "dashboard", "effect_of_request", "heat_map",
           "request_effect"]
