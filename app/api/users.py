"""User administration (admin only). Password hashes are never part of an answer."""

from __future__ import annotations

from app.api import bp
from app.api.auth import require_roles
from app.api.docs import doc
from app.api.io import body, dump
from app.api.schemas import UserCreateIn, UserListOut, UserOut, UserUpdateIn
from app.services import users


@bp.get("/users")
@doc(summary="List users", tags=["users"], responses={200: UserListOut}, errors=(403,))
def list_users():  # noqa: ANN201
    require_roles("admin")
    return dump(UserListOut, {"items": users.list_users()})


@bp.post("/users")
@doc(summary="Create a user", tags=["users"], body=UserCreateIn, responses={201: UserOut}, errors=(403, 409))
def create_user():  # noqa: ANN201
    actor = require_roles("admin")
    data = body(UserCreateIn)
    user = users.create(data["username"], data["password"], data["roles"], data.get("email", ""), data["display_name"],
                        actor=actor.username)
    return dump(UserOut, user, 201)


@bp.patch("/users/<username>")
@doc(summary="Change a user (password, roles, email, display name, active)", tags=["users"],
     body=UserUpdateIn, responses={200: UserOut}, errors=(400, 403, 404))
def update_user(username: str):  # noqa: ANN201
    actor = require_roles("admin")
    data = body(UserUpdateIn)
    user = users.update(username, actor=actor.username, **data)
    return dump(UserOut, user)
