"""Marshmallow schemas of the people API: tokens and users."""


from __future__ import annotations

from marshmallow import Schema, fields, validate

# -- auth ------------------------------------------------------------------------------------------

class TokenIn(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=80))
    password = fields.String(required=True, load_only=True)


class TokenOut(Schema):
    token = fields.String(required=True)
    token_type = fields.String(dump_default="Bearer")
    expires_in = fields.Integer(metadata={"description": "seconds"})
    username = fields.String(required=True)
    roles = fields.List(fields.String(), required=True)


# -- users -----------------------------------------------------------------------------------------

class UserOut(Schema):
    username = fields.String(required=True)
    email = fields.String()
    display_name = fields.String()
    roles = fields.List(fields.String())
    active = fields.Boolean()
    created_at = fields.DateTime()


class UserListOut(Schema):
    items = fields.List(fields.Nested(UserOut), required=True)


class UserCreateIn(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=80))
    password = fields.String(required=True, load_only=True)
    roles = fields.List(fields.String(), load_default=list)
    email = fields.Email()
    display_name = fields.String(load_default="", validate=validate.Length(max=200))


class UserUpdateIn(Schema):
    password = fields.String(load_only=True)
    roles = fields.List(fields.String())
    email = fields.Email()
    display_name = fields.String(validate=validate.Length(max=200))
    active = fields.Boolean()
