"""Project records of the PMO: what the lifecycle processes write and the PMO reads.

The processes own the workflow; these tables own the facts (the project, its baseline, its RAID
entries, decisions and reports). Status reports are snapshots: they keep the values of the day.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.extensions import db
from app.core.models import JSONType, UTCDateTime, utcnow

Money = Numeric(14, 2)


class Phase:
    INITIATION = "initiation"
    PLANNING = "planning"
    EXECUTION = "execution"
    CLOSURE = "closure"
    CLOSED = "closed"
    # Change requests are accepted from these phases on (after initiation).
    CHANGEABLE = (PLANNING, EXECUTION, CLOSURE)


class ProjectStatus:
    PROPOSED = "proposed"
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    REJECTED = "rejected"
    KILLED = "killed"
    CLOSED = "closed"


class Project(db.Model):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str | None] = mapped_column(String(20), unique=True, nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    project_manager: Mapped[str] = mapped_column(String(80), index=True)
    sponsor: Mapped[str] = mapped_column(String(80), index=True)
    created_by: Mapped[str] = mapped_column(String(80))
    phase: Mapped[str] = mapped_column(String(20), default=Phase.INITIATION, index=True)
    status: Mapped[str] = mapped_column(String(20), default=ProjectStatus.PROPOSED, index=True)
    rag: Mapped[str | None] = mapped_column(String(10), nullable=True)
    rag_detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    portfolio_category: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # Words the proposer files the project under; with the category they find similar past projects.
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    priority: Mapped[str | None] = mapped_column(String(4), nullable=True)
    strategic_fit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    value_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    risk_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    budget_estimate: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    budget_baseline: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    budget_actual: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    baseline_version: Mapped[int] = mapped_column(Integer, default=0)
    start_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    target_end_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    end_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    charter: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    plan: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    closure: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    lifecycle_instance_id: Mapped[int | None] = mapped_column(
        ForeignKey("process_instances.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    milestones: Mapped[list[Milestone]] = relationship(
        back_populates="project", cascade="all, delete-orphan", order_by="Milestone.seq")
    risks: Mapped[list[Risk]] = relationship(back_populates="project", cascade="all, delete-orphan",
                                             order_by="Risk.id")
    change_requests: Mapped[list[ChangeRequest]] = relationship(
        back_populates="project", cascade="all, delete-orphan", order_by="ChangeRequest.number")
    allocations: Mapped[list[ResourceAllocation]] = relationship(
        back_populates="project", cascade="all, delete-orphan", order_by="ResourceAllocation.id")
    gate_decisions: Mapped[list[GateDecision]] = relationship(
        back_populates="project", cascade="all, delete-orphan", order_by="GateDecision.id")
    status_reports: Mapped[list[StatusReport]] = relationship(
        back_populates="project", cascade="all, delete-orphan", order_by="StatusReport.id")
    lessons: Mapped[list[LessonLearned]] = relationship(back_populates="project", cascade="all, delete-orphan",
                                                        order_by="LessonLearned.id")
    raid_items: Mapped[list[RaidItem]] = relationship(back_populates="project", cascade="all, delete-orphan",
                                                      order_by="RaidItem.id")
    applied_lessons: Mapped[list[AppliedLesson]] = relationship(
        back_populates="project", cascade="all, delete-orphan", order_by="AppliedLesson.id")

    @property
    def business_key(self) -> str:
        return f"project:{self.id}"

    @property
    def max_open_risk_score(self) -> int:
        return max((r.score for r in self.risks if r.status == "open"), default=0)


class Milestone(db.Model):
    __tablename__ = "project_milestones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    due_date: Mapped[date] = mapped_column(Date)
    baseline_due_date: Mapped[date] = mapped_column(Date)
    deliverables: Mapped[str] = mapped_column(Text, default="")
    gate_required: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(20), default="planned")  # planned | achieved
    achieved_date: Mapped[date | None] = mapped_column(Date, nullable=True)

    project: Mapped[Project] = relationship(back_populates="milestones")


class Risk(db.Model):
    """A RAID-log risk: probability x impact, each 1-5, score 1-25."""

    __tablename__ = "project_risks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    probability: Mapped[int] = mapped_column(Integer)
    impact: Mapped[int] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(Integer)
    owner: Mapped[str] = mapped_column(String(120), default="")
    response: Mapped[str] = mapped_column(String(20), default="mitigate")  # avoid|mitigate|transfer|accept
    trigger: Mapped[str] = mapped_column(Text, default="")
    action: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | closed
    source: Mapped[str] = mapped_column(String(40), default="plan")  # charter | plan | change | workspace
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The risk_escalation instance started when the score last crossed the PMO threshold.
    escalation_instance_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    # What the PMO decided on the last escalation (decision, comment, who, when).
    pmo_review: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)

    project: Mapped[Project] = relationship(back_populates="risks")
    issues: Mapped[list[RaidItem]] = relationship(back_populates="risk", order_by="RaidItem.id")

    __table_args__ = (
        CheckConstraint("probability BETWEEN 1 AND 5", name="ck_risk_probability"),
        CheckConstraint("impact BETWEEN 1 AND 5", name="ck_risk_impact"),
    )


# The portfolio's "Top risks": the open risks the highest score first, read from this index alone.
Index("ix_project_risks_status_score", Risk.status, Risk.score.desc(), Risk.id)


class ChangeRequest(db.Model):
    __tablename__ = "change_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    cost_impact: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    schedule_impact_days: Mapped[int] = mapped_column(Integer, default=0)
    scope_impact: Mapped[str] = mapped_column(Text, default="")
    risk_impact: Mapped[str] = mapped_column(String(20), default="none")
    assessed_cost_impact: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    assessed_schedule_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    assessed_risk_level: Mapped[str | None] = mapped_column(String(20), nullable=True)
    size: Mapped[str | None] = mapped_column(String(10), nullable=True)     # small | medium | large
    route: Mapped[str | None] = mapped_column(String(10), nullable=True)    # pm | sponsor | ccb
    status: Mapped[str] = mapped_column(String(20), default="submitted")
    # submitted | approved | rejected | withdrawn
    requested_by: Mapped[str] = mapped_column(String(80))
    instance_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    applied_baseline_version: Mapped[int | None] = mapped_column(Integer, nullable=True)

    project: Mapped[Project] = relationship(back_populates="change_requests")
    decisions: Mapped[list[ChangeDecision]] = relationship(
        back_populates="change_request", cascade="all, delete-orphan", order_by="ChangeDecision.id")

    __table_args__ = (UniqueConstraint("project_id", "number", name="uq_change_request_number"),)

    @property
    def reference(self) -> str:
        return f"CR-{self.number:03d}"


class ChangeDecision(db.Model):
    """One decision on a change request: an approver's decision, a CCB member's vote, or the outcome."""

    __tablename__ = "change_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    change_request_id: Mapped[int] = mapped_column(ForeignKey("change_requests.id", ondelete="CASCADE"),
                                                   index=True)
    kind: Mapped[str] = mapped_column(String(20))  # decision | ccb_vote
    decided_as: Mapped[str] = mapped_column(String(40))  # project manager | sponsor | ccb | pmo | ccb member
    decided_by: Mapped[str] = mapped_column(String(80))
    decision: Mapped[str] = mapped_column(String(20))  # approve | reject | abstain
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    change_request: Mapped[ChangeRequest] = relationship(back_populates="decisions")


class ResourceAllocation(db.Model):
    __tablename__ = "resource_allocations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(120))
    requested_fte: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    fte: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    named_resource: Mapped[str] = mapped_column(String(120), default="")
    status: Mapped[str] = mapped_column(String(20))  # approved | adjusted | rejected | released
    decided_by: Mapped[str] = mapped_column(String(80))
    comment: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    project: Mapped[Project] = relationship(back_populates="allocations")

    __table_args__ = (Index("ix_allocations_status_dates", "status", "start_date", "end_date"),)


class GateDecision(db.Model):
    __tablename__ = "gate_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    gate_name: Mapped[str] = mapped_column(String(200))
    recommended: Mapped[str] = mapped_column(String(10))
    decision: Mapped[str] = mapped_column(String(10))  # go | hold | recycle | kill
    rationale: Mapped[str] = mapped_column(Text, default="")
    quality_assessment: Mapped[str] = mapped_column(String(20), default="")
    decided_by: Mapped[str] = mapped_column(String(80))
    recorded_by: Mapped[str] = mapped_column(String(80))
    overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    project: Mapped[Project] = relationship(back_populates="gate_decisions")


class StatusReport(db.Model):
    """A status report as of its day: ratings plus a snapshot of the project's figures."""

    __tablename__ = "status_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    period_end: Mapped[date] = mapped_column(Date)
    schedule_rag: Mapped[str] = mapped_column(String(10))
    budget_rag: Mapped[str] = mapped_column(String(10))
    scope_rag: Mapped[str] = mapped_column(String(10))
    resources_rag: Mapped[str] = mapped_column(String(10))
    risk_rag: Mapped[str] = mapped_column(String(10))
    overall_rag: Mapped[str] = mapped_column(String(10))
    max_risk_score: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[str] = mapped_column(Text)
    achievements: Mapped[str] = mapped_column(Text, default="")
    next_steps: Mapped[str] = mapped_column(Text, default="")
    top_issues: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    escalation_reason: Mapped[str] = mapped_column(Text, default="")
    pmo_review: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    submitted_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    project: Mapped[Project] = relationship(back_populates="status_reports")
    # The get-to-green plan of an amber or red report: RAID actions linked to it.
    plan_actions: Mapped[list[RaidItem]] = relationship(back_populates="status_report", order_by="RaidItem.id")


class LessonLearned(db.Model):
    __tablename__ = "lessons_learned"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    what_went_well: Mapped[str] = mapped_column(Text, default="")
    what_to_improve: Mapped[str] = mapped_column(Text, default="")
    recommendation: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(40), index=True)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Lower-case, comma-delimited copy of the tags (",erp,data-migration,") for portable search.
    tags_text: Mapped[str] = mapped_column(String(1000), default="")
    closure_type: Mapped[str] = mapped_column(String(20), default="completed")
    published: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(80))
    curated_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    project: Mapped[Project] = relationship(back_populates="lessons")


class RaidKind:
    """The RAID log beside the risks: issues, actions, decisions, assumptions and dependencies."""

    ISSUE = "issue"
    ACTION = "action"
    DECISION = "decision"
    ASSUMPTION = "assumption"
    DEPENDENCY = "dependency"
    ALL = (ISSUE, ACTION, DECISION, ASSUMPTION, DEPENDENCY)
    # Each kind's statuses, the first the one a new entry gets; the last ones close it.
    STATUSES: dict[str, tuple[str, ...]] = {
        ISSUE: ("open", "in_progress", "resolved", "closed"),
        ACTION: ("open", "in_progress", "done", "cancelled"),
        DECISION: ("proposed", "agreed", "superseded"),
        ASSUMPTION: ("to_validate", "validated", "invalid"),
        DEPENDENCY: ("expected", "at_risk", "delivered", "broken"),
    }
    CLOSED: dict[str, tuple[str, ...]] = {
        ISSUE: ("resolved", "closed"), ACTION: ("done", "cancelled"), DECISION: ("superseded",),
        ASSUMPTION: ("validated", "invalid"), DEPENDENCY: ("delivered", "broken"),
    }
    SEVERITIES = ("low", "medium", "high", "critical")


class RaidItem(db.Model):
    """One entry of the RAID log: an issue (perhaps raised from a risk), an action (perhaps part of
    a status report's get-to-green plan), a decision, an assumption or a dependency."""

    __tablename__ = "project_raid_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(80), default="")
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str | None] = mapped_column(String(10), nullable=True)  # issues
    risk_id: Mapped[int | None] = mapped_column(ForeignKey("project_risks.id", ondelete="SET NULL"),
                                                nullable=True, index=True)
    status_report_id: Mapped[int | None] = mapped_column(ForeignKey("status_reports.id", ondelete="SET NULL"),
                                                         nullable=True, index=True)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    project: Mapped[Project] = relationship(back_populates="raid_items")
    risk: Mapped[Risk | None] = relationship(back_populates="issues")
    status_report: Mapped[StatusReport | None] = relationship(back_populates="plan_actions")

    __table_args__ = (
        CheckConstraint("kind IN ('issue', 'action', 'decision', 'assumption', 'dependency')",
                        name="ck_raid_kind"),
        Index("ix_raid_items_project_kind", "project_id", "kind"),
        # The layout's Projects badge counts the user's overdue entries on every page.
        Index("ix_raid_items_owner_due", "owner", "due_date"),
    )

    @property
    def is_open(self) -> bool:
        return self.status not in RaidKind.CLOSED.get(self.kind, ())


class AppliedLesson(db.Model):
    """A lesson from an earlier project that the proposer marked as applied to this one."""

    __tablename__ = "project_applied_lessons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons_learned.id", ondelete="CASCADE"), index=True)
    applied_by: Mapped[str] = mapped_column(String(80))
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    project: Mapped[Project] = relationship(back_populates="applied_lessons")
    lesson: Mapped[LessonLearned] = relationship()

    __table_args__ = (UniqueConstraint("project_id", "lesson_id", name="uq_applied_lesson"),)


__all__ = [
    "AppliedLesson",
    "ChangeDecision",
    "ChangeRequest",
    "GateDecision",
    "LessonLearned",
    "Milestone",
    "Phase",
    "Project",
    "ProjectStatus",
    "RaidItem",
    "RaidKind",
    "ResourceAllocation",
    "Risk",
    "StatusReport",
]
