"""The JSON API (``/api/v1``): thin routes that parse input with marshmallow, call a service and
dump the result with marshmallow. Errors are ``application/problem+json`` (see ``errors``)."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# The shared modules register their handlers on ``bp``; each domain nests its own API blueprint
# in it (app/__init__.py).
from app.api import errors, openapi  # noqa: E402, F401
