"""The PMO's portfolio pages: the dashboard, resource capacity, process analytics with the heat map,
the printable status report, and every table as CSV or XLSX. Handlers read the request, call the
portfolio queries and render; someone without the page's role gets 403."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, render_template, request
from flask_login import current_user, login_required

from app.core.errors import Forbidden, NotFound
from app.people.actor import Actor
from app.portfolio import exports
from app.portfolio import queries as portfolio
from app.portfolio.tables import Table, cell_html

bp = Blueprint("portfolio", __name__, template_folder="templates")
bp.add_app_template_filter(cell_html, "portfolio_cell")  # app-wide: the inbox's task panels draw cells too

PAGES = ("dashboard", "resources", "processes")


def _actor() -> Actor:
    return Actor.of(current_user)


def _month() -> date | None:
    value = request.args.get("from") or ""
    try:
        return date.fromisoformat(value + "-01") if len(value) == 7 else None
    except ValueError:
        return None


def _tables(page: str) -> dict[str, Table]:
    """The tables of one page, for the page itself and its exports (Forbidden without the role)."""
    actor = _actor()
    if page == "dashboard":
        return portfolio.dashboard(actor, portfolio.Filters.of(request.args))
    if page == "resources":
        portfolio.require(actor, portfolio.RESOURCE_ROLES)
        cap = portfolio.capacity(_month())
        return {"by_role": cap.by_role, "by_person": cap.by_person, "competing": cap.competing}
    if page == "processes":
        return portfolio.analytics(actor, portfolio.Period.of(request.args.get("period")))
    abort(404)


@bp.get("/portfolio")
@login_required
def dashboard():  # noqa: ANN201
    try:
        tables = _tables("dashboard")
        options = portfolio.filter_options(_actor())
    except Forbidden:
        abort(403)
    filters = portfolio.Filters.of(request.args)
    return render_template("portfolio/dashboard.html", tables=tables, options=options, filters=filters,
                           query=filters.as_dict(), threshold=portfolio.setting("risk_threshold", 15))


@bp.get("/portfolio/resources")
@login_required
def resources():  # noqa: ANN201
    try:
        tables = _tables("resources")
    except Forbidden:
        abort(403)
    month = _month() or portfolio.today()
    return render_template("portfolio/resources.html", tables=tables, months=portfolio.months_from(month),
                           month_label=portfolio.month_label, first=month.strftime("%Y-%m"),
                           query={"from": month.strftime("%Y-%m")} if _month() else {})


@bp.get("/portfolio/processes")
@login_required
def processes():  # noqa: ANN201
    period = portfolio.Period.of(request.args.get("period"))
    try:
        tables = _tables("processes")
    except Forbidden:
        abort(403)
    choices = portfolio.processes_with_tasks(tables["steps"])
    chosen = request.args.get("process") or (choices[0][0] if choices else "")
    heat = None
    if chosen:
        try:
            heat = portfolio.heat_map(_actor(), chosen, period, tables["steps"])
        except NotFound:
            heat = None
    return render_template("portfolio/processes.html", tables=tables, period=period, choices=choices,
                           chosen=chosen, heat=heat, query={"period": period.value})


@bp.get("/portfolio/report")
@login_required
def report():  # noqa: ANN201
    """The one-page portfolio status report, laid out for printing."""
    try:
        summary = portfolio.report_summary(_actor())
    except Forbidden:
        abort(403)
    return render_template("portfolio/report.html", summary=summary, tables=summary["tables"],
                           today=portfolio.today())


@bp.get("/portfolio/<page>/export/<table>.<extension>")
@login_required
def export(page: str, table: str, extension: str):  # noqa: ANN201
    """One table as CSV, or as XLSX (``table`` "all": the whole page, a sheet per table)."""
    if page not in PAGES or extension not in ("csv", "xlsx"):
        abort(404)
    try:
        full = _every_row(page, table, whole_page=table == "all" and extension == "xlsx")
    except Forbidden:
        abort(403)
    if not full:
        abort(404)
    if extension == "csv":
        body, mimetype = exports.to_csv(full[0]), "text/csv; charset=utf-8"
        name = exports.filename(full[0], "csv")
    else:
        body = exports.to_xlsx(full)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        name = exports.filename(full[0], "xlsx") if len(full) == 1 else f"portfolio-{page}.xlsx"
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _every_row(page: str, key: str, whole_page: bool) -> list[Table]:
    """The table ``key`` (or every table of the page) with all its rows (a page shows the first
    hundred of a long one), computed once without the limit: one dashboard table alone, since each is
    its own query; the capacity and analytics pages whole, since their tables come from one pass."""
    with portfolio.unlimited():
        if page == "dashboard" and not whole_page:
            if key not in portfolio.DASHBOARD_TABLES:
                portfolio.require(_actor(), portfolio.DASHBOARD_ROLES)  # 403 before 404, as for any page
                return []
            return [portfolio.dashboard_table(_actor(), portfolio.Filters.of(request.args), key)]
        tables = _tables(page)
    if whole_page:
        return list(tables.values())
    return [tables[key]] if key in tables else []
