"""Marshmallow schemas of the definitions API: versions, deploy and validate."""


from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_dump

# -- process definitions ---------------------------------------------------------------------------

class VersionOut(Schema):
    key = fields.String(attribute="process_key", required=True)
    version = fields.Integer(required=True)
    name = fields.String()
    description = fields.String()
    file = fields.String(attribute="bpmn_file")
    forms = fields.List(fields.String())
    startable_by = fields.List(fields.String(), attribute="start_roles", dump_only=True, metadata={
        "description": "roles that may start it by hand (its startableBy property); empty: the server starts it"})
    deployment_id = fields.Integer()
    created_at = fields.DateTime()


class DefinitionListOut(Schema):
    items = fields.List(fields.Nested(VersionOut), required=True)


class DefinitionOut(VersionOut):
    versions = fields.List(fields.Nested(VersionOut), required=True)


class DeployQuery(Schema):
    validate_only = fields.Boolean(load_default=False)


class KeyVersionOut(Schema):
    key = fields.String(attribute="process_key", required=True)
    version = fields.Integer(required=True)


class DeployOut(Schema):
    deployment_id = fields.Integer(allow_none=True, required=True)
    created = fields.List(fields.Nested(KeyVersionOut), required=True)
    unchanged = fields.List(fields.Nested(KeyVersionOut), required=True)
    note = fields.String(metadata={"description": "what happened when it is not obvious (e.g. a DMN table "
                                                   "uploaded alone: which processes got a new version)"})

    @post_dump
    def _drop_empty_note(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if not data.get("note"):
            data.pop("note", None)
        return data


class ValidateOut(Schema):
    valid = fields.Boolean(required=True)
    processes = fields.List(fields.String())


UPLOAD_BODY = {
    "type": "object",
    "required": ["files"],
    "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"},
                             "description": ".bpmn, .dmn and .json files, or .zip archives of them"}},
}
