"""Bearer-token authentication for the whole API blueprint, and the role check its routes use."""

from __future__ import annotations

from flask import current_app, g, request

from app.api import bp as api
from app.core.errors import Forbidden, Unauthorized
from app.people import queries as user_queries
from app.people.actor import Actor


def _is_public() -> bool:
    """Routes documented ``public=True`` (the token exchange, health, the OpenAPI document)."""
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "_openapi", {}).get("public"))


@api.before_request
def _load_current_user() -> None:
    """The one place that reads the token: sets ``g.actor``."""
    if request.method == "OPTIONS" or _is_public():
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("this endpoint needs 'Authorization: Bearer <token>' (POST /api/v1/auth/token)")
    username, roles = user_queries.identity_for_token(token.strip())
    g.actor = Actor(username, roles)


def current_actor() -> Actor:
    return g.actor


def require_roles(*roles: str) -> Actor:
    """The caller, if they hold one of ``roles``; otherwise a 403 problem."""
    actor = current_actor()
    if not actor.roles.intersection(roles):
        raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")
    return actor
