from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import JSONType, UTCDateTime, utcnow


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
