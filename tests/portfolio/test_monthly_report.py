"""The monthly portfolio report: the process sends it to the PMO now and waits for the 1st of next month."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from app.core.audit import AuditEntry
from app.core.extensions import db
from app.inbox.models import Notification
from app.instances import commands as instances
from app.instances.models import InstanceTimer
from app.people.actor import Actor
from app.portfolio import queries as portfolio
from app.portfolio.operations import REPORT_KIND, report_text


def test_starting_the_report_notifies_every_pmo_holder_and_waits_a_month(actors, with_tasks):
    instance = instances.start_by_user("portfolio_report", actors["petra"], {})
    notes = list(db.session.scalars(select(Notification).where(Notification.kind == REPORT_KIND)))
    assert sorted(n.username for n in notes) == ["admin", "petra"]  # the holders of the pmo role
    body = notes[0].body
    assert notes[0].title == "Portfolio report, Dec 2, 2026"
    assert "Projects: 3 (red 1, amber 0, green 0, no current report 2)" in body
    assert "variance €20,000 (11.8%)" in body and "/portfolio/report" in body
    assert notes[0].email_status == "pending"  # the inbox's mailer sends it
    timer = db.session.scalars(select(InstanceTimer).where(InstanceTimer.instance_id == instance.id)).one()
    assert timer.element_id == "next_month" and timer.due_at == datetime(2027, 1, 1, 7, 0, tzinfo=UTC)
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "portfolio_report_sent")).one()
    assert entry.details["recipients"] == ["admin", "petra"] and entry.details["projects"] == 3


def test_the_report_text_reads_as_people_write(seeded_portfolio):
    text = report_text(portfolio.report_summary(Actor("system", frozenset({"pmo"}))), "http://pmo/portfolio/report")
    assert "Open change requests: 1 open, cost impact €15,000" in text
    assert "Budget baseline €170,000, forecast €190,000" in text
