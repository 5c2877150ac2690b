"""Bearer-token authentication for the whole blueprint, the role check, and POST /auth/token."""

from __future__ import annotations

from flask import current_app, g, request

from app.api import bp
from app.api.docs import doc
from app.api.io import body, dump
from app.api.schemas import TokenIn, TokenOut
from app.services import users
from app.services.errors import Forbidden, Unauthorized
from app.services.instances import Actor
from app.throttle import throttle_login

# Endpoints anyone may call; every other API route needs a valid bearer token.
PUBLIC_ENDPOINTS = frozenset({"api.issue_token", "api.health", "api.openapi"})


@bp.before_request
def _load_current_user() -> None:
    """The one place that reads the token: sets ``g.actor``."""
    if request.endpoint in PUBLIC_ENDPOINTS or request.method == "OPTIONS":
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("this endpoint needs 'Authorization: Bearer <token>' (POST /api/v1/auth/token)")
    username, roles = users.identity_for_token(token.strip())
    g.actor = Actor(username, roles)


def current_actor() -> Actor:
    return g.actor


def require_roles(*roles: str) -> Actor:
    """The caller, if they hold one of ``roles``; otherwise a 403 problem."""
    actor = current_actor()
    if not actor.roles.intersection(roles):
        raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")
    return actor


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
