from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from app.extensions import db
from app.models import AuditEntry
from app.models.base import utcnow


def record(actor: str, action: str, *, instance_id: int | None = None, task_id: str | None = None,
           process_key: str | None = None, **details: Any) -> None:
    """Write an audit entry in the current transaction (it commits or rolls back with the step).

    A plain INSERT, not an ORM object: entries are append-only and nothing reads them back in the
    same transaction, so the unit of work would only add cost to every command.
    """
    db.session.execute(insert(AuditEntry.__table__).values(
        at=utcnow(), actor=actor, action=action, instance_id=instance_id, task_id=task_id,
        process_key=process_key, details=details))
