from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.extensions import db
from app.core.models import JSONType, UTCDateTime, utcnow
from app.definitions.models import ProcessVersion


class InstanceStatus:
    RUNNING = "running"          # waiting on people, timers or messages
    SUSPENDED = "suspended"
    COMPLETED = "completed"
    TERMINATED = "terminated"
    ERROR = "error"              # the last step failed; state is as before that step

    ACTIVE = (RUNNING, ERROR)
    ALL = (RUNNING, SUSPENDED, COMPLETED, TERMINATED, ERROR)


class ProcessInstance(db.Model):
    __tablename__ = "process_instances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(20), default=InstanceStatus.RUNNING, index=True)
    business_key: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    started_by: Mapped[str] = mapped_column(String(80), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The serialized workflow without its spec (the spec lives on the process version).
    # JSON text, encoded and decoded by the engine itself: one encode per step, a fresh decode per
    # load (no defensive copies), and key order kept, which SpiffWorkflow's restore relies on.
    state_json: Mapped[str] = mapped_column("state", Text, deferred=True)
    serializer_version: Mapped[str] = mapped_column(String(40))
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # What the instance waits on besides people: {"timers": [...], "messages": [...]}. The timer and
    # subscription tables are rewritten only when this changes.
    waiting: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Optimistic concurrency: a second writer that read an older row gets a conflict.
    lock_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    process_version: Mapped[ProcessVersion] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": lock_version}

    @property
    def state(self) -> dict[str, Any]:
        """The serialized workflow as a fresh dict (for reading; the engine uses state_json)."""
        return json.loads(self.state_json) if self.state_json else {}

    @state.setter
    def state(self, value: dict[str, Any]) -> None:
        self.state_json = json.dumps(value, separators=(",", ":"))


class TaskStatus:
    READY = "ready"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class HumanTask(db.Model):
    """The inbox projection of a READY user/manual task, kept in step with the instance."""

    __tablename__ = "human_tasks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # SpiffWorkflow's task id
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"))
    process_key: Mapped[str] = mapped_column(String(200))
    # The instance's business key (fixed at its start), copied so that a count over the tasks someone
    # may act on can tell a project's without a lookup of each task's instance (the Projects badge).
    business_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    process_name: Mapped[str] = mapped_column(String(300), default="")
    element_id: Mapped[str] = mapped_column(String(200))
    # The BPMN process the element belongs to (a called subprocess for phase tasks).
    bpmn_process_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    title: Mapped[str] = mapped_column(String(500))
    lane: Mapped[str | None] = mapped_column(String(200), nullable=True)
    assignee: Mapped[str | None] = mapped_column(String(80), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default=TaskStatus.READY)
    priority: Mapped[int] = mapped_column(Integer, default=50)
    form_schema_file: Mapped[str | None] = mapped_column(String(300), nullable=True)
    form_ui_file: Mapped[str | None] = mapped_column(String(300), nullable=True)
    instructions: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The instructions as the person saw them when they acted (Jinja rendered with the task's data at
    # completion, Markdown not yet): a completed task's page shows this, not the template re-rendered.
    instructions_seen: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Claimed (set) by the overdue pass in the transaction that adds the overdue notices: once per task.
    overdue_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # The Idempotency-Key the completion came with: a retry with the same key gets the same answer.
    completion_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Segregation of duties: users who may not act on this task (e.g. whoever raised the request).
    excluded_users: Mapped[list[str]] = mapped_column(JSONType, default=list)

    candidates: Mapped[list[HumanTaskCandidate]] = relationship(
        back_populates="task", cascade="all, delete-orphan", lazy="selectin"
    )
    instance: Mapped[ProcessInstance] = relationship(lazy="raise")

    __table_args__ = (
        Index("ix_human_tasks_instance_status", "instance_id", "status"),
        Index("ix_human_tasks_status_created", "status", "created_at"),
        Index("ix_human_tasks_assignee_status", "assignee", "status"),
        Index("ix_human_tasks_completed_by", "completed_by", "completed_at"),
        # The portfolio rollup's catch-up and the analytics' live edges read completions by time.
        Index("ix_human_tasks_completed_at", "completed_at"),
    )

    @property
    def candidate_roles(self) -> list[str]:
        return sorted(c.role for c in self.candidates if c.role)

    @property
    def candidate_users(self) -> list[str]:
        return sorted(c.username for c in self.candidates if c.username)

    @property
    def candidate_groups(self) -> list[str]:
        return sorted(c.group_name for c in self.candidates if c.group_name)


class HumanTaskCandidate(db.Model):
    """Who may claim a task: a role, a user by name, or a lane group (``app.people.models.LaneGroup``,
    whose members are read at query time). One row each, indexed for the inbox."""

    __tablename__ = "human_task_candidates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("human_tasks.id", ondelete="CASCADE"), index=True)
    role: Mapped[str | None] = mapped_column(String(80), nullable=True)
    username: Mapped[str | None] = mapped_column(String(80), nullable=True)
    group_name: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # True while the task is READY (set false when it completes or is cancelled, in the same statement
    # batch): the candidate rows stay for the analytics, and the inbox's indexes hold only the open ones,
    # so "offered to me" costs what is open, not the history.
    is_open: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true(), nullable=False)

    task: Mapped[HumanTask] = relationship(back_populates="candidates")

    __table_args__ = (
        *(Index(f"ix_candidates_open_{name}", column, "task_id",
                postgresql_where=text(f"is_open AND {column} IS NOT NULL"),
                sqlite_where=text(f"is_open = 1 AND {column} IS NOT NULL"))
          for name, column in (("role", "role"), ("username", "username"), ("group", "group_name"))),
    )


# Waits: timers and message subscriptions, and the messages themselves.

class InstanceTimer(db.Model):
    """A timer an instance waits on, with its due time: the scheduler reads only due rows.

    Rewritten in the same transaction as every step of the instance, so it never disagrees
    with the instance's state.
    """

    __tablename__ = "instance_timers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Scaled out: when the scheduler queued it for a worker. If the worker dies, the row is still
    # due (its step rolled back) and is queued again once the lease has run out.
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (Index("ix_instance_timers_due", "due_at"),)


class MessageSubscription(db.Model):
    """A message an instance waits for (catch event or receive task), with its correlation keys."""

    __tablename__ = "message_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    correlations: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class MessageStatus:
    PENDING = "pending"
    DISPATCHING = "dispatching"  # claimed by a dispatcher (claimed_by); taken again after the lease
    DELIVERED = "delivered"
    UNMATCHED = "unmatched"   # no one waited for it; kept and reported, never dropped


class Message(db.Model):
    """A message thrown by one instance for others; delivered after the sender's commit."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    payload: Mapped[Any] = mapped_column(JSONType, nullable=True)
    correlations: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    source_instance_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default=MessageStatus.PENDING, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivered_to: Mapped[list[int]] = mapped_column(JSONType, default=list)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Claim first, then deliver: the dispatcher's token and when it claimed the message.
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(40), nullable=True)


# Liveness of the scheduler and the workers.

class Heartbeat(db.Model):
    """Last sign of life of a background process (a scheduler), for the health check."""

    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    detail: Mapped[str] = mapped_column(Text, default="")


# Moving running instances onto a newer version of their process (the studio's migration).

class MigrationBatchStatus:
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


class MigrationBatch(db.Model):
    """A process owner's request to move many instances to one version, worked off in the background.

    ``results`` holds one entry per instance as it is handled ({instance_id, outcome: moved | blocked |
    failed, reason, element}); the counters let a page show progress without reading them.
    """

    __tablename__ = "migration_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_key: Mapped[str] = mapped_column(String(200), index=True)
    to_version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"))
    requested_by: Mapped[str] = mapped_column(String(80))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default=MigrationBatchStatus.QUEUED)
    instance_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)
    total: Mapped[int] = mapped_column(Integer, default=0)
    moved: Mapped[int] = mapped_column(Integer, default=0)
    blocked: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    to_version: Mapped[ProcessVersion] = relationship(lazy="joined")


class InstanceMigration(db.Model):
    """One instance moved from one version to another, with the state it had before.

    Kept so the move can be undone while nothing ran in between: ``lock_version_after`` is the
    instance's row version right after the move; if it still has it, the saved state is put back.
    """

    __tablename__ = "instance_migrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"), index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("migration_batches.id"), nullable=True, index=True)
    from_version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"))
    to_version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"))
    migrated_by: Mapped[str] = mapped_column(String(80))
    migrated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    state_before: Mapped[str] = mapped_column(Text, deferred=True)
    waiting_before: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    lock_version_after: Mapped[int] = mapped_column(Integer)
    reverted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reverted_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
