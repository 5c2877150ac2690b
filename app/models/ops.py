from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime, utcnow


class Heartbeat(db.Model):
    """Last sign of life of a background process (a scheduler), for the health check."""

    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    detail: Mapped[str] = mapped_column(Text, default="")
