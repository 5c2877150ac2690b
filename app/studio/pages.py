"""The studio's pages: the process library, a version, a draft's editor, publishing and migration."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("studio_pages", __name__, template_folder="templates", url_prefix="/studio")
from app.studio import migration_pages  # noqa: E402, F401 - the migration pages attach their routes to bp
