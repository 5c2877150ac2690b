"""The people API: a bearer token for a username and password, user administration and the lane
groups' members (admin only). Password hashes are never part of an answer."""

from __future__ import annotations

from flask import Blueprint, current_app

from app.api.docs import doc
from app.api.io import body, dump
from app.core.throttle import throttle_login
from app.people import operations as users
from app.people import queries as user_queries
from app.people.auth import require_roles
from app.people.models import LaneGroup
from app.people.schemas import (
    GroupListOut,
    GroupMemberIn,
    GroupOut,
    TokenIn,
    TokenOut,
    UserCreateIn,
    UserListOut,
    UserOut,
    UserUpdateIn,
)

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


def _group_out(group: LaneGroup, reached: dict[str, list[str]]) -> dict:
    return {"key": group.key, "name": group.name, "member_users": group.member_users,
            "member_roles": group.member_roles, "reaches": reached.get(group.key, []), "created_at": group.created_at}


@bp.get("/groups")
@doc(summary="List lane groups and who is in each", tags=["groups"], responses={200: GroupListOut}, errors=(403,),
     description="A lane that is not a role becomes a group when its process is deployed; its tasks are "
                 "offered to the group's users and the holders of its roles.")
def list_groups():  # noqa: ANN201
    require_roles("admin")
    groups = user_queries.list_groups()
    reached = user_queries.group_members([g.key for g in groups])
    return dump(GroupListOut, {"items": [_group_out(g, reached) for g in groups]})


@bp.post("/groups/<path:key>/members")
@doc(summary="Add a user or a role to a lane group", tags=["groups"], body=GroupMemberIn,
     responses={200: GroupOut}, errors=(403, 404, 409),
     description="The group's waiting tasks are offered to the new member at once.")
def add_group_member(key: str):  # noqa: ANN201
    actor = require_roles("admin")
    data = body(GroupMemberIn)
    group = users.add_group_member(key, actor, username=data.get("username"), role=data.get("role"))
    return dump(GroupOut, _group_out(group, user_queries.group_members([group.key])))


@bp.delete("/groups/<path:key>/members")
@doc(summary="Take a user or a role out of a lane group", tags=["groups"], body=GroupMemberIn,
     responses={200: GroupOut}, errors=(403, 404))
def remove_group_member(key: str):  # noqa: ANN201
    actor = require_roles("admin")
    data = body(GroupMemberIn)
    group = users.remove_group_member(key, actor, username=data.get("username"), role=data.get("role"))
    return dump(GroupOut, _group_out(group, user_queries.group_members([group.key])))
