from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String, insert
from sqlalchemy.orm import Mapped, mapped_column

from app.core.extensions import db
from app.core.models import JSONType, UTCDateTime, utcnow


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

def record(actor: str, action: str, *, instance_id: int | None = None, task_id: str | None = None,
           process_key: str | None = None, **details: Any) -> None:
    """Write an audit entry in the current transaction (it commits or rolls back with the step).

    A plain INSERT, not an ORM object: entries are append-only and nothing reads them back in the
    same transaction, so the unit of work would only add cost to every command.
    """
    db.session.execute(insert(AuditEntry.__table__).values(
        at=utcnow(), actor=actor, action=action, instance_id=instance_id, task_id=task_id,
        process_key=process_key, details=details))
