from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import JSONType, UTCDateTime, utcnow


class AuditEntry(db.Model):
    """Append-only: who did what to which instance or task, when, with what data.

    Nothing in the application updates or deletes these rows.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60), index=True)
    instance_id: Mapped[int | None] = mapped_column(Integer, index=True, nullable=True)
    task_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    process_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
