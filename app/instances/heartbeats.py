"""Signs of life of the background processes (schedulers, workers), read by the health check."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from sqlalchemy import select

from app.core.extensions import db
from app.core.models import utcnow
from app.core.transactions import in_write_transaction
from app.instances.models import Heartbeat


@in_write_transaction
def beat(kind: str, detail: str = "") -> None:
    """Record that a background process of ``kind`` is alive (one row per host and process)."""
    name = f"{kind}@{socket.gethostname()}:{os.getpid()}"
    row = db.session.get(Heartbeat, name)
    if row is None:
        db.session.add(Heartbeat(name=name, kind=kind, seen_at=utcnow(), detail=detail))
    else:
        row.seen_at = utcnow()
        row.detail = detail


def heartbeats(kind: str, within_seconds: float = 30.0) -> list[Heartbeat]:
    since = utcnow() - timedelta(seconds=within_seconds)
    return list(db.session.scalars(select(Heartbeat).where(Heartbeat.kind == kind, Heartbeat.seen_at >= since)))
