from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.extensions import db
from app.core.models import JSONType, UTCDateTime, utcnow


class Draft(db.Model):
    """A process model being edited: a copy of a deployment's files that nothing runs from.

    ``base_versions`` are the versions of the model's processes when the draft was opened: publishing
    refuses when one of them has had a newer version published since (someone else's work would be
    lost silently otherwise).
    """

    __tablename__ = "studio_drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_key: Mapped[str] = mapped_column(String(200), index=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    base_deployment_id: Mapped[int | None] = mapped_column(ForeignKey("deployments.id"), nullable=True)
    base_versions: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)
    source: Mapped[str] = mapped_column(String(300), default="")
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    files: Mapped[list[DraftFile]] = relationship(
        back_populates="draft", cascade="all, delete-orphan", lazy="selectin", order_by="DraftFile.name")

    def file(self, name: str) -> DraftFile | None:
        return next((f for f in self.files if f.name == name), None)


class DraftFile(db.Model):
    """One file of a draft. ``revision`` counts saves: a save names the revision it was based on,
    and a save based on an older one is refused (two owners never overwrite each other silently)."""

    __tablename__ = "studio_draft_files"

    draft_id: Mapped[int] = mapped_column(ForeignKey("studio_drafts.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(300), primary_key=True)
    content: Mapped[str] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    saved_by: Mapped[str] = mapped_column(String(80))
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    draft: Mapped[Draft] = relationship(back_populates="files")
