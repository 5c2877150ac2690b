"""What the portfolio changes: the monthly report it sends to the PMO.

``pmo/SendPortfolioReport`` is the service task of ``workflows/portfolio_report.bpmn``: it runs in
the instance's transaction, so the notices (and the e-mails the inbox delivers from them) and the
audit entry are written with the step or not at all.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for
from sqlalchemy import select

from app.core import audit, formatting
from app.core.extensions import db
from app.engine.runtime import EngineError, OperatorCall, register_operator
from app.inbox.notifications import notify
from app.people.actor import Actor
from app.people.models import User, UserRole
from app.portfolio import queries as portfolio

REPORT_KIND = "portfolio_report"


def report_text(summary: dict[str, Any], link: str) -> str:
    """The report as an e-mail reads: the headline figures, then where the full report is."""
    cost = summary["cost"]
    rag = summary["rag"]
    variance = formatting.money(cost["variance"])
    if cost.get("variance_pct") is not None:
        variance += f" ({formatting.percent(cost['variance_pct'])})"
    lines = [
        f"Projects: {formatting.number(summary['projects'])} "
        f"(red {rag.get('red', 0)}, amber {rag.get('amber', 0)}, green {rag.get('green', 0)}, "
        f"no current report {rag.get('grey', 0)})",
        f"Forecast to end late: {summary['late']}",
        f"With a risk above the PMO threshold: {summary['risky']}",
        f"Open change requests: {summary['open_changes']['project']}, "
        f"cost impact {formatting.money(summary['open_changes']['cost'])}",
        f"Budget baseline {formatting.money(cost['baseline'])}, forecast {formatting.money(cost['forecast'])}, "
        f"variance {variance}",
        "",
        f"The full report: {link}",
    ]
    return "\n".join(lines)


def _holders(role: str) -> list[str]:
    return list(db.session.scalars(select(User.username).join(UserRole, UserRole.user_id == User.id)
                                   .where(UserRole.role == role, User.active.is_(True)).order_by(User.username)))


def _report_link() -> str:
    base = str(current_app.config.get("SERVER_NAME_HINT") or "").rstrip("/")
    try:
        return base + url_for("portfolio.report")
    except RuntimeError:  # no request: the worker or the scheduler
        return base + "/portfolio/report"


@register_operator("pmo/SendPortfolioReport", parameters=("role",))
def send_portfolio_report(call: OperatorCall) -> dict[str, Any]:
    """Notify (and so e-mail) every active holder of ``role`` with the portfolio's figures of today."""
    role = str(call.params.get("role") or "pmo")
    recipients = _holders(role)
    if not recipients:
        raise EngineError(f"nobody holds the role '{role}' to receive the portfolio report")
    summary = portfolio.report_summary(Actor("system", frozenset({"pmo"})))
    title = f"Portfolio report, {formatting.day(portfolio.today())}"
    notify(db.session, recipients, REPORT_KIND, None, title, report_text(summary, _report_link()),
           instance_id=call.context.get("instance_id"))
    audit.record(str(call.context.get("actor") or "system"), "portfolio_report_sent",
                 instance_id=call.context.get("instance_id"), process_key=call.context.get("process_key"),
                 recipients=recipients, projects=summary["projects"])
    return {"recipients": len(recipients), "projects": summary["projects"]}
