"""Marshmallow schemas of the portfolio API: the same tables the pages show, and their filters."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.projects.schemas import PHASES


class ColumnOut(Schema):
    key = fields.String()
    label = fields.String(metadata={"description": "the column's heading as the page shows it"})
    kind = fields.String(metadata={"description": "text, money, count, percent, days, hours, date, rag or fte"})


class TableOut(Schema):
    key = fields.String()
    title = fields.String()
    caption = fields.String()
    columns = fields.List(fields.Nested(ColumnOut))
    rows = fields.List(fields.Dict(), metadata={"description": "one object per row, keyed by column"})
    total = fields.Dict(allow_none=True)
    more = fields.Integer(metadata={"description": "rows left off (the CSV and XLSX exports hold them)"})


class TablesOut(Schema):
    tables = fields.Dict(keys=fields.String(), values=fields.Nested(TableOut))


class DashboardQuery(Schema):
    category = fields.String(validate=validate.Length(max=80))
    sponsor = fields.String(validate=validate.Length(max=80))
    pm = fields.String(validate=validate.Length(max=80), metadata={"description": "project manager's username"})
    priority = fields.String(validate=validate.Length(max=4))
    phase = fields.String(validate=validate.OneOf(PHASES))


class ResourcesQuery(Schema):
    from_ = fields.String(data_key="from", validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$"),
                          metadata={"description": "first month shown, YYYY-MM (default: this month)"})


class ProcessesQuery(Schema):
    period = fields.String(validate=validate.OneOf(("7", "30", "90", "365", "all")),
                           metadata={"description": "days looked back, or all"})


class HeatMapOut(Schema):
    process = fields.String()
    marks = fields.Dict(metadata={"description": "per BPMN element id: level, median hours, waiting, completed"})
    table = fields.Nested(TableOut)
