"""The JSON API (``/api/v1``): thin routes that parse input with marshmallow, call a service and
dump the result with marshmallow. Errors are ``application/problem+json`` (see ``errors``)."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# The modules below register their routes and handlers on ``bp``.
from app.api import auth, definitions, errors, health, instances, openapi, projects, tasks, users  # noqa: E402,F401
