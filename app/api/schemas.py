"""Marshmallow schemas every domain's API shares: the problem answer and pagination."""


from __future__ import annotations

from marshmallow import Schema, fields, validate

MAX_PER_PAGE = 200


MAX_PAGE = 10**9  # (page - 1) * per_page stays far inside a 64-bit OFFSET


class ProblemSchema(Schema):
    type = fields.String(required=True, metadata={"description": "A URI naming the kind of problem"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.Raw(metadata={"description": "422 only: reasons per field (object of lists) or per "
                                                 "file (list of {file, line, element, message})"})


class PageQuery(Schema):
    # Bounded: a page whose offset does not fit in 64 bits reached the database as a 500.
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PER_PAGE))


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item), required=True),
        "page": fields.Integer(required=True),
        "per_page": fields.Integer(required=True),
        "total": fields.Integer(required=True),
    }, name=name)
