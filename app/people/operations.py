"""Users, roles, passwords and API tokens."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from flask import current_app
from sqlalchemy import update as sql_update
from werkzeug.security import check_password_hash, generate_password_hash

from app.core import audit
from app.core.errors import BadRequest, Conflict, Invalid, Unauthorized
from app.core.extensions import db
from app.core.transactions import in_write_transaction
from app.people.models import User, UserRole
from app.people.queries import _serializer, find, get, known_roles, min_password_length


def _check_roles(roles: Iterable[str]) -> list[str]:
    roles = sorted(set(roles))
    unknown = [r for r in roles if r not in known_roles()]
    if unknown:
        raise Invalid(f"unknown role(s): {', '.join(unknown)}",
                      errors={"roles": [f"'{r}' is not one of: {', '.join(known_roles())}" for r in unknown]})
    return roles


@in_write_transaction
def create(username: str, password: str, roles: Iterable[str], email: str = "", display_name: str = "",
           actor: str = "system", *, check_password_policy: bool = True) -> User:
    """Create a user. Only the demo seed skips the password policy (its passwords are public)."""
    username = (username or "").strip()
    if not username or len(username) > 80 or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise Invalid("invalid username", errors={"username": ["letters, digits, '.', '_' and '-' only; 1-80"]})
    if check_password_policy and len(password or "") < min_password_length():
        raise Invalid("password too short", errors={"password": [f"at least {min_password_length()} characters"]})
    if not password:
        raise Invalid("password missing", errors={"password": ["required"]})
    role_list = _check_roles(roles)
    if find(username) is not None:
        raise Conflict(f"user '{username}' already exists")
    user = User(username=username, email=email or "", display_name=display_name or username)
    user.set_password(password)
    user.role_rows = [UserRole(role=r) for r in role_list]
    db.session.add(user)
    audit.record(actor, "user_create", username=username, roles=role_list, email=email)
    return user


@in_write_transaction
def update(username: str, *, actor: str, password: str | None = None, roles: Iterable[str] | None = None,
           email: str | None = None, display_name: str | None = None, active: bool | None = None) -> User:
    user = get(username)
    changes: dict[str, object] = {}
    if password is not None:
        if len(password) < min_password_length():
            raise Invalid("password too short", errors={"password": [f"at least {min_password_length()} characters"]})
        user.set_password(password)
        user.token_generation += 1
        user.session_generation = (user.session_generation or 0) + 1
        changes["password"] = "changed"
    if roles is not None:
        role_list = _check_roles(roles)
        user.role_rows = [UserRole(role=r) for r in role_list]
        changes["roles"] = role_list
    if email is not None:
        user.email = email
        changes["email"] = email
    if display_name is not None:
        user.display_name = display_name
        changes["display_name"] = display_name
    if active is not None:
        if not active and user.username == actor:
            raise BadRequest("you cannot deactivate yourself")
        user.active = active
        if not active:
            user.token_generation += 1
            user.session_generation = (user.session_generation or 0) + 1
        changes["active"] = active
    audit.record(actor, "user_update", username=username, **changes)
    return user


@functools.cache
def _dummy_hash() -> str:
    """A hash made the same way as users' hashes, checked when there is no such user, so an
    unknown name costs the same key derivation as a known one (no timing oracle)."""
    return generate_password_hash("no user has this password")


def authenticate(username: str, password: str) -> User:
    user = find(username or "")
    # Always exactly one hash check: unknown, deactivated and known users take the same time.
    matches = check_password_hash(user.password_hash if user is not None else _dummy_hash(), password or "")
    if user is None or not user.active or not matches:
        raise Unauthorized("wrong username or password")
    return user


@in_write_transaction
def end_sessions(user: User) -> None:
    """Sign ``user`` out everywhere: sessions carry the generation they started with."""
    db.session.execute(sql_update(User).where(User.id == user.id)
                       .values(session_generation=User.session_generation + 1))


def issue_token(user: User) -> str:
    return _serializer().dumps({"u": user.id, "g": user.token_generation})


def seed_demo_users() -> list[str]:
    """Create the demo users of the config file that do not exist yet; return their names."""
    created = []
    for demo in current_app.config["DEMO_USERS"]:
        if find(demo.username) is None:
            create(demo.username, demo.password, demo.roles, demo.email, display_name=demo.display_name,
                   actor="pmo init --demo",
                   check_password_policy=False)
            created.append(demo.username)
    return created
