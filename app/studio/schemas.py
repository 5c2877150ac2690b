"""Marshmallow schemas of the studio API: drafts and their files, checks, scenarios, publishing, diffs."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class DraftFileOut(Schema):
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "bpmn, dmn, schema, uischema, scenario or model"})
    revision = fields.Integer(required=True)
    saved_by = fields.String()
    saved_at = fields.DateTime()
    content = fields.String(metadata={"description": "the file's text (only when asked for one draft)"})


class DraftSummaryOut(Schema):
    id = fields.Integer(required=True)
    process_key = fields.String(required=True)
    title = fields.String()
    source = fields.String(metadata={"description": "what it was opened from (a version, an import)"})
    base_versions = fields.Dict(keys=fields.String(), values=fields.Integer())
    created_by = fields.String()
    created_at = fields.DateTime()
    updated_by = fields.String()
    updated_at = fields.DateTime()


class StudioDraftOut(DraftSummaryOut):
    files = fields.List(fields.Nested(DraftFileOut))


class DraftListOut(Schema):
    items = fields.List(fields.Nested(DraftSummaryOut), required=True)


class DraftIn(Schema):
    process_key = fields.String(required=True, validate=validate.Length(min=1, max=200))


class FileIn(Schema):
    content = fields.String(required=True, validate=validate.Length(max=2 * 1024 * 1024))
    revision = fields.Integer(required=True, validate=validate.Range(min=0), metadata={
        "description": "the revision this content was based on (0 for a new file); an older one gets 409"})


class FileDeleteQuery(Schema):
    revision = fields.Integer(required=True, validate=validate.Range(min=1))


class SavedOut(Schema):
    name = fields.String(required=True)
    revision = fields.Integer(required=True)
    saved_by = fields.String()
    saved_at = fields.DateTime()


class ProblemOut(Schema):
    file = fields.String(allow_none=True)
    line = fields.Integer(allow_none=True)
    element = fields.String(allow_none=True, metadata={"description": "the BPMN/DMN element id it concerns"})
    message = fields.String(required=True)
    severity = fields.String(required=True, metadata={"description": "error (blocks publishing) or warning"})


class DraftCheckOut(Schema):
    valid = fields.Boolean(required=True)
    processes = fields.List(fields.String())
    problems = fields.List(fields.Nested(ProblemOut), required=True)


class ScenarioResultOut(Schema):
    process = fields.String(required=True)
    scenario = fields.String(required=True)
    passed = fields.Boolean(required=True)
    path = fields.List(fields.String(), metadata={"description": "element ids in the order they ran"})
    failures = fields.List(fields.String())


class ScenarioRunOut(Schema):
    passed = fields.Boolean(required=True)
    results = fields.List(fields.Nested(ScenarioResultOut), required=True)


class PublishIn(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class PreviewIn(Schema):
    schema = fields.String(required=True, validate=validate.Length(max=512 * 1024))
    uischema = fields.String(load_default="{}", validate=validate.Length(max=512 * 1024))
    data = fields.Dict(load_default=None, allow_none=True, metadata={
        "description": "sample data: validated on the server exactly as a submitted task would be"})


class PreviewOut(Schema):
    html = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), required=True)
    labels = fields.Dict(keys=fields.String(), values=fields.String(), required=True, metadata={
        "description": "each key of errors as a person reads it (a field by its title)"})


class TextChangeOut(Schema):
    what = fields.String()
    before = fields.String()
    after = fields.String()


class ElementChangeOut(Schema):
    element = fields.String(required=True)
    name = fields.String()
    kind = fields.String(required=True, metadata={"description": "added, removed or changed"})
    what = fields.List(fields.String())
    texts = fields.List(fields.Nested(TextChangeOut))


class FormChangeOut(Schema):
    file = fields.String()
    status = fields.String()
    added = fields.List(fields.String())
    removed = fields.List(fields.String())
    changed = fields.List(fields.String())


class DecisionChangeOut(Schema):
    file = fields.String()
    changes = fields.List(fields.Nested(TextChangeOut))


class DiffOut(Schema):
    elements = fields.List(fields.Nested(ElementChangeOut), required=True)
    forms = fields.List(fields.Nested(FormChangeOut), required=True)
    decisions = fields.List(fields.Nested(DecisionChangeOut), required=True, metadata={
        "description": "decision table cells changed, with the rule and column they are in"})


class DiffQuery(Schema):
    from_version = fields.Integer(data_key="from", required=True, validate=validate.Range(min=1))
    to_version = fields.Integer(data_key="to", required=True, validate=validate.Range(min=1))


class VersionFileOut(Schema):
    name = fields.String(required=True)
    kind = fields.String(required=True)
    content = fields.String(required=True)


class VersionFilesOut(Schema):
    key = fields.String(required=True)
    version = fields.Integer(required=True)
    files = fields.List(fields.Nested(VersionFileOut), required=True)
