"""People around tasks: delegations, out-of-office stand-ins, notifications, drafts and comments.

None of these tables changes a process instance: they sit beside the human-task projection.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.extensions import db
from app.core.models import JSONType, UTCDateTime, utcnow


class DelegationReason:
    DELEGATED = "delegated"          # the owner handed the task over and keeps watching it
    OUT_OF_OFFICE = "out_of_office"  # routed to a stand-in while the owner is away


class Delegation(db.Model):
    """A task handed from its owner to a delegate; the owner keeps ownership and sees the outcome."""

    __tablename__ = "task_delegations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[str] = mapped_column(String(36), index=True)
    instance_id: Mapped[int] = mapped_column(Integer)
    owner: Mapped[str] = mapped_column(String(80))
    delegate: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(String(20), default=DelegationReason.DELEGATED)
    note: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (Index("ix_task_delegations_owner", "owner", "active", "created_at"),)


class OutOfOffice(db.Model):
    """A user away from ``starts_at`` to ``ends_at`` names a stand-in for their tasks."""

    __tablename__ = "out_of_office"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    stand_in: Mapped[str] = mapped_column(String(80), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)


class NotificationKind:
    NEW_TASK = "new_task"
    OVERDUE = "overdue"
    DECIDED = "decided"
    DELEGATED = "delegated"


class Notification(db.Model):
    """An in-app notice for one user; e-mailed once when SMTP is configured."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    username: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(20))
    task_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    instance_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    email_status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | sending | sent | skipped | failed
    # When a mailer claimed it ("sending"); a claim older than the lease (its mailer died) is taken again.
    email_claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        Index("ix_notifications_user_read", "username", "read_at", "created_at"),
        Index("ix_notifications_task_kind", "task_id", "kind", "username"),
        Index("ix_notifications_email", "email_status", "id"),
    )


class TaskDraft(db.Model):
    """What a user typed into a task's form and saved without submitting."""

    __tablename__ = "task_drafts"

    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(80), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class TaskComment(db.Model):
    """A comment in the thread of a task (shown with the instance's other tasks too)."""

    __tablename__ = "task_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[str] = mapped_column(String(36), index=True)
    instance_id: Mapped[int] = mapped_column(Integer, index=True)
    author: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
