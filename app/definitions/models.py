from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.extensions import db
from app.core.models import JSONType, OrderedJSON, UTCDateTime, utcnow


class Deployment(db.Model):
    """One accepted bundle: the files exactly as uploaded, kept for forms and for editing."""

    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployed_by: Mapped[str] = mapped_column(String(80))
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(300), default="")
    # The publish note a process owner wrote in the studio ("raised the CCB threshold to 50k").
    note: Mapped[str] = mapped_column(Text, default="")

    # Loaded only when a page needs the files: every instance load joins its version, and the
    # files (the bundle's whole BPMN and form text) must not ride along with each step.
    files: Mapped[list[DeploymentFile]] = relationship(
        back_populates="deployment", cascade="all, delete-orphan", lazy="select"
    )

    def file(self, name: str) -> DeploymentFile | None:
        return next((f for f in self.files if f.name == name), None)


class DeploymentFile(db.Model):
    __tablename__ = "deployment_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))

    deployment: Mapped[Deployment] = relationship(back_populates="files")

    __table_args__ = (UniqueConstraint("deployment_id", "name"),)


class ProcessVersion(db.Model):
    """One version of one process: its spec is stored here once, never in each instance."""

    __tablename__ = "process_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_key: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300))
    content_hash: Mapped[str] = mapped_column(String(64))
    spec: Mapped[dict[str, Any]] = mapped_column(OrderedJSON, deferred=True)
    bpmn_file: Mapped[str] = mapped_column(String(300))
    forms: Mapped[list[str]] = mapped_column(JSONType, default=list)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    description: Mapped[str] = mapped_column(Text, default="")
    # Who may start it by hand and with what data (bundle.start_policy). NULL (versions deployed
    # before it existed) or no roles: only the server starts it.
    start_policy: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)

    deployment: Mapped[Deployment] = relationship(lazy="select")

    @property
    def start_roles(self) -> list[str]:
        return list((self.start_policy or {}).get("roles") or [])

    __table_args__ = (UniqueConstraint("process_key", "version"),)


class ProcessRelease(db.Model):
    """The version new instances of a process start on, when it is not the newest one.

    No row: the newest version. A process owner rolls back by pointing this at an earlier version;
    publishing a new version removes the row (the new version is what starts from then on).
    """

    __tablename__ = "process_releases"

    process_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"))
    set_by: Mapped[str] = mapped_column(String(80))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")

    process_version: Mapped[ProcessVersion] = relationship(lazy="joined")
