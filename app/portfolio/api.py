"""The portfolio's figures as JSON under /api/v1/portfolio: the same tables the pages show."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, jsonify

from app.api.docs import doc
from app.api.io import query
from app.people.auth import current_actor
from app.portfolio import queries as portfolio
from app.portfolio.schemas import (
    DashboardQuery,
    HeatMapOut,
    ProcessesQuery,
    ResourcesQuery,
    TablesOut,
)
from app.portfolio.tables import Table

bp = Blueprint("portfolio_api", __name__)

TAGS = ["portfolio"]


def _tables(tables: dict[str, Table]):  # noqa: ANN202
    return jsonify({"tables": {key: t.as_dict() for key, t in tables.items()}}), 200


@bp.get("/portfolio/dashboard")
@doc(summary="The portfolio dashboard's tables: phases, RAG, health, schedule, cost, change, risk", tags=TAGS,
     query=DashboardQuery, responses={200: TablesOut}, errors=(403,),
     description="The PMO and admins see every project; a sponsor the projects they sponsor. Long tables "
                 "hold their first 100 rows (``more`` says how many are left off).")
def dashboard():  # noqa: ANN201
    filters = portfolio.Filters(**query(DashboardQuery))
    return _tables(portfolio.dashboard(current_actor(), filters))


@bp.get("/portfolio/resources")
@doc(summary="Allocation, capacity and utilisation by role and person, month by month", tags=TAGS,
     query=ResourcesQuery, responses={200: TablesOut}, errors=(403,),
     description="For resource managers, the PMO and admins. Six months from ``from``. People come "
                 "the busiest first; long tables hold their first 100 rows (``more`` says how many are left off).")
def resources():  # noqa: ANN201
    portfolio.require(current_actor(), portfolio.RESOURCE_ROLES)
    args = query(ResourcesQuery)
    first = date.fromisoformat(args["from_"] + "-01") if args.get("from_") else None
    cap = portfolio.capacity(first)
    return _tables({"by_role": cap.by_role, "by_person": cap.by_person, "competing": cap.competing})


@bp.get("/portfolio/processes")
@doc(summary="Process analytics: waits per step, turnaround per role and person, rework, phase times",
     tags=TAGS, query=ProcessesQuery, responses={200: TablesOut}, errors=(403,),
     description="For the PMO, process owners and admins; over the period given (default 90 days).")
def processes():  # noqa: ANN201
    period = portfolio.Period.of(query(ProcessesQuery).get("period"))
    return _tables(portfolio.analytics(current_actor(), period))


@bp.get("/portfolio/processes/<process_id>/heat-map")
@doc(summary="One process's steps with their median wait, for colouring its diagram", tags=TAGS,
     query=ProcessesQuery, responses={200: HeatMapOut}, errors=(403, 404))
def heat_map(process_id: str):  # noqa: ANN201
    period = portfolio.Period.of(query(ProcessesQuery).get("period"))
    heat = portfolio.heat_map(current_actor(), process_id[:200], period)
    return jsonify({"process": process_id, "marks": heat["marks"], "table": heat["table"].as_dict()}), 200
