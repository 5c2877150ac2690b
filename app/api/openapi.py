"""GET /openapi.json: the OpenAPI 3 document, built once per app from the routes' ``@doc`` metadata
and the marshmallow schemas (apispec + MarshmallowPlugin)."""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask, current_app, jsonify

from app.api import bp
from app.api.docs import doc, operation_for
from app.api.schemas import ProblemSchema

_CONVERTER = re.compile(r"<(?:(?P<conv>[a-z]+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")
_TYPES = {"int": "integer", "float": "number"}
API_VERSION = "1.0.0"


def _param_schema(match: re.Match[str]) -> dict[str, Any]:
    if match["conv"] == "any" and match["args"]:  # <any(a, b):name>: one of the listed words
        return {"type": "string", "enum": [a.strip().strip("'\"") for a in match["args"].split(",")]}
    return {"type": _TYPES.get(match["conv"] or "", "string")}


def path_and_params(rule: str) -> tuple[str, list[dict[str, Any]]]:
    """A Werkzeug rule as an OpenAPI path and its path parameters."""
    params = [{"in": "path", "name": m["name"], "required": True, "schema": _param_schema(m)}
              for m in _CONVERTER.finditer(rule)]
    return _CONVERTER.sub(r"{\g<name>}", rule), params


def build_spec(app: Flask) -> dict[str, Any]:
    spec = APISpec(title="PMO Flow API", version=API_VERSION, openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   info={"description": "Workflow and approval engine for a Project Management Office. "
                                        "Errors are application/problem+json (RFC 9457)."},
                   servers=[{"url": "/"}])
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer",
                                                   "description": "a token from POST /api/v1/auth/token"})
    spec.components.schema("Problem", schema=ProblemSchema)
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.endpoint.startswith(f"{bp.name}."):
            continue
        meta = getattr(app.view_functions[rule.endpoint], "_openapi", None)
        if meta is None:
            raise RuntimeError(f"API route {rule.rule} ({rule.endpoint}) has no @doc")
        path, params = path_and_params(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operation = operation_for(meta, params)
            operation["operationId"] = rule.endpoint.rsplit(".", 1)[1]  # the view's name, without its blueprints
            paths.setdefault(path, {})[method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


@bp.get("/openapi.json")
@doc(summary="This OpenAPI document", tags=["meta"], public=True, responses={200: "The OpenAPI 3 document"})
def openapi():  # noqa: ANN201
    cached = current_app.extensions.get("pmo_openapi")
    if cached is None:
        cached = current_app.extensions["pmo_openapi"] = build_spec(current_app)
    return jsonify(cached)
