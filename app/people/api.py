"""The people API: a bearer token for a username and password, and user administration (admin only).
Password hashes are never part of an answer."""

from __future__ import annotations

from flask import Blueprint, current_app

from app.api.docs import doc
from app.api.io import body, dump
from app.core.throttle import throttle_login
from app.people import operations as users
from app.people import queries as user_queries
from app.people.auth import require_roles
from app.people.schemas import TokenIn, TokenOut, UserCreateIn, UserListOut, UserOut, UserUpdateIn

# Routes under /api/v1, nested in the shared API blueprint (app/api): its token check,
# error answers and OpenAPI document cover them.
bp = Blueprint("people", __name__)


@bp.get("/users")
@doc(summary="List users", tags=["users"], responses={200: UserListOut}, errors=(403,))
def list_users():  # noqa: ANN201
    require_roles("admin")
    return dump(UserListOut, {"items": user_queries.list_users()})


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


@bp.post("/auth/token")
@doc(summary="Exchange a username and password for a bearer token", tags=["auth"], public=True,
     body=TokenIn, responses={200: TokenOut}, errors=(429,))
@throttle_login
def issue_token():  # noqa: ANN201
    creds = body(TokenIn)
    user = users.authenticate(creds["username"], creds["password"])
    return dump(TokenOut, {"token": users.issue_token(user), "token_type": "Bearer", "username": user.username,
                           "roles": user.roles,
                           "expires_in": int(current_app.config.get("API_TOKEN_MAX_AGE_SECONDS", 86400))})
