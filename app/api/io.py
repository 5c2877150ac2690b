"""Reading input and writing output with marshmallow schemas."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from marshmallow import Schema

from app.core.errors import BadRequest

_INSTANCES: dict[type[Schema], Schema] = {}


def _schema(schema: type[Schema] | Schema) -> Schema:
    """One instance per schema class: building one deep-copies its fields, and a schema without
    per-call state can load and dump for every request and thread."""
    if not isinstance(schema, type):
        return schema
    instance = _INSTANCES.get(schema)
    if instance is None:
        instance = _INSTANCES.setdefault(schema, schema())
    return instance


def body(schema: type[Schema] | Schema, *, optional: bool = False) -> dict[str, Any]:
    """The JSON body loaded by ``schema`` (ValidationError -> 422). With ``optional`` an empty body
    counts as ``{}``; a body that is there must still be valid JSON."""
    if optional and not request.get_data(cache=True) and not request.is_json:
        raw: Any = {}
    else:
        raw = request.get_json()
    if not isinstance(raw, dict):
        raise BadRequest("the request body must be a JSON object")
    return _schema(schema).load(raw)


def query(schema: type[Schema] | Schema) -> dict[str, Any]:
    return _schema(schema).load(request.args.to_dict())


def dump(schema: type[Schema] | Schema, obj: Any, status: int = 200, *, many: bool = False) -> tuple[Response, int]:
    return jsonify(_schema(schema).dump(obj, many=many)), status


class View:
    """An object with extra attributes for a schema to dump: ``View(task, data={...})``."""

    def __init__(self, obj: Any, **extra: Any) -> None:
        self._obj = obj
        self.__dict__.update(extra)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._obj, name)
