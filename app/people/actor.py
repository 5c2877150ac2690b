"""Who runs a command: a signed-in user with their roles, or the system (timers, messages)."""

from __future__ import annotations

from dataclasses import dataclass

from app.people.models import User


@dataclass
class Actor:
    """Who runs a command: a user, or the system (timers, messages)."""

    username: str
    roles: frozenset[str]

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(user.username, frozenset(user.roles))

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


SYSTEM = Actor("system", frozenset({"admin"}))
