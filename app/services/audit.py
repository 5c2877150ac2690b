from __future__ import annotations

from typing import Any

from ..extensions import db
from ..models import AuditEntry


def record(actor: str, action: str, *, instance_id: int | None = None, task_id: str | None = None,
           process_key: str | None = None, **details: Any) -> AuditEntry:
    """Add an audit entry to the current transaction (it commits or rolls back with the step)."""
    entry = AuditEntry(actor=actor, action=action, instance_id=instance_id, task_id=task_id,
                       process_key=process_key, details=details)
    db.session.add(entry)
    return entry
