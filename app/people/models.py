from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from app.core.extensions import db
from app.core.models import UTCDateTime, utcnow


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    email: Mapped[str] = mapped_column(String(200), default="")
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped when the password changes or the user is deactivated: old API tokens stop working.
    token_generation: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped on sign-out, a password change or deactivation: every browser session of the user ends
    # (the session holds the generation it was signed in with; see get_id and the user loader).
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def roles(self) -> list[str]:
        return sorted(r.role for r in self.role_rows)

    def has_role(self, *roles: str) -> bool:
        mine = {r.role for r in self.role_rows}
        return bool(mine.intersection(roles))

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:
        """What Flask-Login keeps in the session: the id and the session generation, so a session
        signed in before the last sign-out or password change no longer loads its user."""
        return f"{self.id}:{self.session_generation or 0}"


class UserRole(db.Model):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(80), primary_key=True, index=True)

    user: Mapped[User] = relationship(back_populates="role_rows")


class LaneGroup(db.Model):
    """A group of people named after a lane that is not a role (SpiffArena treats lane names as
    groups). Deploying a process makes it when missing; an admin fills it with users and roles, and
    its lane's tasks are offered to them (``app.instances.access``), read through the membership at
    query time, so filling a group later reaches the tasks already waiting."""

    __tablename__ = "lane_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The lane name normalised like a role (``Finance Team`` -> ``finance_team``): what tasks name.
    key: Mapped[str] = mapped_column(String(80), unique=True)
    # The lane name as the modeller wrote it, for the screen.
    name: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    members: Mapped[list[LaneGroupMember]] = relationship(
        back_populates="group", cascade="all, delete-orphan", lazy="selectin",
        order_by="LaneGroupMember.id")

    @property
    def member_users(self) -> list[str]:
        return sorted(m.username for m in self.members if m.username)

    @property
    def member_roles(self) -> list[str]:
        return sorted(m.role for m in self.members if m.role)


class LaneGroupMember(db.Model):
    """One member of a lane group: a user by name, or everyone holding a role."""

    __tablename__ = "lane_group_members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("lane_groups.id", ondelete="CASCADE"), index=True)
    username: Mapped[str | None] = mapped_column(
        ForeignKey("users.username", ondelete="CASCADE"), nullable=True)
    role: Mapped[str | None] = mapped_column(String(80), nullable=True)

    group: Mapped[LaneGroup] = relationship(back_populates="members")

    __table_args__ = (
        UniqueConstraint("group_id", "username", "role", name="uq_lane_group_member"),
        CheckConstraint("(username IS NULL) <> (role IS NULL)", name="ck_lane_group_member_one_kind"),
        Index("ix_lane_group_members_username", "username", "group_id"),
        Index("ix_lane_group_members_role", "role", "group_id"),
    )
