"""Marshmallow schemas of the health check."""


from __future__ import annotations

from marshmallow import Schema, fields

# -- health ----------------------------------------------------------------------------------------

class CheckOut(Schema):
    ok = fields.Boolean(required=True)
    detail = fields.String(required=True)


class SchedulerCheckOut(CheckOut):
    lag_seconds = fields.Float(metadata={"description": "how late the most overdue timer is"})
    due_timers = fields.Integer()
    schedulers = fields.List(fields.String(), metadata={"description": "schedulers seen in the last 30 s"})


class WorkerCheckOut(CheckOut):
    workers = fields.List(fields.String(), metadata={"description": "Celery workers that answered a ping"})


class HealthOut(Schema):
    status = fields.String(required=True, metadata={"enum": ["ok", "degraded"]})
    database = fields.Nested(CheckOut, required=True)
    broker = fields.Nested(CheckOut, required=True)
    scheduler = fields.Nested(SchedulerCheckOut)
    workers = fields.Nested(WorkerCheckOut)
