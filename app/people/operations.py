"""Users, roles, passwords and API tokens."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from flask import current_app
from sqlalchemy import select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from app.core import audit
from app.core.errors import BadRequest, Conflict, Forbidden, Invalid, NotFound, Unauthorized
from app.core.extensions import db
from app.core.transactions import in_write_transaction
from app.people.actor import Actor
from app.people.models import LaneGroup, LaneGroupMember, User, UserRole
from app.people.queries import _serializer, find, find_group, get, get_group, known_roles, min_password_length


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


# -- lane groups -------------------------------------------------------------------------------------

@in_write_transaction
def ensure_groups(groups: dict[str, str], actor: str) -> list[LaneGroup]:
    """Make the lane groups a deployment needs (``{key: lane name}``) that do not exist yet; the new ones.

    Idempotent: deploying the same process again, or another one with the same lane, changes nothing.
    Two deployments racing for one group: the second one's insert fails in its savepoint and it
    takes the group the first one made.
    """
    created = []
    for key, name in sorted(groups.items()):
        if find_group(key) is not None:
            continue
        try:
            with db.session.begin_nested():
                group = LaneGroup(key=key, name=name.strip()[:200] or key, created_by=actor)
                db.session.add(group)
        except IntegrityError:
            continue
        created.append(group)
        audit.record(actor, "group_create", group=key, name=group.name)
    return created


def _group_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise Forbidden("only an admin changes who is in a group")


def _member_kind(username: str | None, role: str | None) -> tuple[str | None, str | None]:
    """(username, role) of a membership change: exactly one of them, each checked."""
    username, role = (username or "").strip() or None, (role or "").strip() or None
    if (username is None) == (role is None):
        raise Invalid("name a user or a role", errors={"member": ["give either a username or a role, not both"]})
    if username is not None and find(username) is None:
        raise Invalid(f"no user named '{username}'", errors={"username": [f"no user named '{username}'"]})
    if role is not None and role not in known_roles():
        raise Invalid(f"unknown role '{role}'",
                      errors={"role": [f"'{role}' is not one of: {', '.join(sorted(known_roles()))}"]})
    return username, role


@in_write_transaction
def add_group_member(key: str, actor: Actor, *, username: str | None = None, role: str | None = None) -> LaneGroup:
    """Add a user, or everyone holding a role, to a group: its waiting tasks reach them at once."""
    _group_admin(actor)
    group = get_group(key)
    username, role = _member_kind(username, role)
    if any(m.username == username and m.role == role for m in group.members):
        raise Conflict(f"{'user ' + username if username else 'role ' + str(role)} is already in {group.name}")
    group.members.append(LaneGroupMember(username=username, role=role))
    db.session.flush()
    audit.record(actor.username, "group_member_add", group=key, **({"username": username} if username else
                                                                     {"role": role}))
    return group


@in_write_transaction
def remove_group_member(key: str, actor: Actor, *, username: str | None = None,
                        role: str | None = None) -> LaneGroup:
    """Take a user or a role out of a group (tasks they already claimed stay theirs)."""
    _group_admin(actor)
    group = get_group(key)
    username, role = (username or "").strip() or None, (role or "").strip() or None
    if (username is None) == (role is None):
        raise Invalid("name a user or a role", errors={"member": ["give either a username or a role, not both"]})
    member = db.session.scalars(select(LaneGroupMember).where(
        LaneGroupMember.group_id == group.id, LaneGroupMember.username.is_(None) if username is None
        else LaneGroupMember.username == username,
        LaneGroupMember.role.is_(None) if role is None else LaneGroupMember.role == role)).first()
    if member is None:
        raise NotFound(f"{'user ' + username if username else 'role ' + str(role)} is not in {group.name}")
    group.members.remove(member)
    db.session.flush()
    audit.record(actor.username, "group_member_remove", group=key, **({"username": username} if username else
                                                                        {"role": role}))
    return group
