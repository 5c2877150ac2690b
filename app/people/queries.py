"""Read-only views of people: find a user, list them, the configured roles, and who a session
cookie or an API token belongs to (checked against the user's session generation)."""


from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Select, or_, select

from app.core.errors import NotFound, Unauthorized
from app.core.extensions import db
from app.people.models import LaneGroup, LaneGroupMember, User, UserRole


def min_password_length() -> int:
    return int(current_app.config.get("PASSWORD_MIN_LENGTH", 8))


def known_roles() -> dict[str, str]:
    return dict(current_app.config["ROLES"])


def find(username: str) -> User | None:
    return db.session.scalars(select(User).where(User.username == username)).first()


def get(username: str) -> User:
    user = find(username)
    if user is None:
        raise NotFound(f"no user named '{username}'")
    return user


def list_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.username)))


def session_user(session_id: str) -> User | None:
    """The user of a browser session id ``"<id>:<generation>"``; None once that generation ended
    (sign-out, password change, deactivation) or for an old-style id without a generation."""
    user_id, sep, generation = str(session_id or "").partition(":")
    if not sep or not user_id.isascii() or not user_id.isdigit() or not generation.isascii() \
            or not generation.isdigit() or len(user_id) > 18 or len(generation) > 18:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or (user.session_generation or 0) != int(generation):
        return None
    return user


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="pmo-api-token")


def identity_for_token(token: str) -> tuple[str, frozenset[str]]:
    """(username, roles) of a valid token's user, read in one statement: every API request asks."""
    max_age = int(current_app.config.get("API_TOKEN_MAX_AGE_SECONDS", 86400))
    try:
        payload = _serializer().loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise Unauthorized("the token has expired; request a new one") from exc
    except BadSignature as exc:
        raise Unauthorized("the token is not valid") from exc
    rows = db.session.execute(
        select(User.username, User.active, User.token_generation, UserRole.role)
        .outerjoin(UserRole, UserRole.user_id == User.id).where(User.id == payload.get("u"))).all()
    if not rows or not rows[0].active or rows[0].token_generation != payload.get("g"):
        raise Unauthorized("the token is no longer valid")
    return rows[0].username, frozenset(r.role for r in rows if r.role)


# -- lane groups -------------------------------------------------------------------------------------

def list_groups() -> list[LaneGroup]:
    return list(db.session.scalars(select(LaneGroup).order_by(LaneGroup.name)))


def find_group(key: str) -> LaneGroup | None:
    return db.session.scalars(select(LaneGroup).where(LaneGroup.key == key)).first()


def get_group(key: str) -> LaneGroup:
    group = find_group(key)
    if group is None:
        raise NotFound(f"no group '{key}'")
    return group


def group_keys_sql(username: str, roles: frozenset[str] | set[str]) -> Select:
    """The keys of the groups that hold ``username``, by name or through one of ``roles``: what the
    inbox joins task candidates through, so a member added later sees the tasks already waiting."""
    held = LaneGroupMember.username == username
    if roles:
        held = or_(held, LaneGroupMember.role.in_(sorted(roles)))
    return select(LaneGroup.key).join(LaneGroupMember, LaneGroupMember.group_id == LaneGroup.id).where(held)


def groups_of(username: str, roles: frozenset[str] | set[str]) -> set[str]:
    return set(db.session.scalars(group_keys_sql(username, roles)))


def group_members(keys: set[str] | list[str]) -> dict[str, list[str]]:
    """The active users each group reaches (its member users and the holders of its member roles)."""
    keys = sorted(set(keys))
    if not keys:
        return {}
    by_name = (select(LaneGroup.key, User.username)
               .join(LaneGroupMember, LaneGroupMember.group_id == LaneGroup.id)
               .join(User, User.username == LaneGroupMember.username))
    by_role = (select(LaneGroup.key, User.username)
               .join(LaneGroupMember, LaneGroupMember.group_id == LaneGroup.id)
               .join(UserRole, UserRole.role == LaneGroupMember.role)
               .join(User, User.id == UserRole.user_id))
    found: dict[str, set[str]] = {key: set() for key in keys}
    for stmt in (by_name, by_role):
        for key, username in db.session.execute(stmt.where(LaneGroup.key.in_(keys), User.active.is_(True))):
            found[key].add(username)
    return {key: sorted(names) for key, names in found.items()}
