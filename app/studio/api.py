"""The studio's API under /api/v1: drafts, their checks and scenarios, publishing."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("studio", __name__)
