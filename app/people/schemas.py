"""Marshmallow schemas of the people API: tokens, users and lane groups."""


from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

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


# -- lane groups -----------------------------------------------------------------------------------

class GroupOut(Schema):
    key = fields.String(required=True, metadata={"description": "what the lane's tasks name (the lane name "
                                                                "normalised like a role)"})
    name = fields.String(required=True, metadata={"description": "the lane name as the modeller wrote it"})
    member_users = fields.List(fields.String(), metadata={"description": "usernames in the group"})
    member_roles = fields.List(fields.String(), metadata={"description": "roles whose holders are in the group"})
    reaches = fields.List(fields.String(), metadata={"description": "the active users its tasks are offered to"})
    created_at = fields.DateTime()


class GroupListOut(Schema):
    items = fields.List(fields.Nested(GroupOut), required=True)


class GroupMemberIn(Schema):
    """One member: a user or a role, not both."""

    username = fields.String(validate=validate.Length(min=1, max=80))
    role = fields.String(validate=validate.Length(min=1, max=80))

    @validates_schema
    def _one_kind(self, data: dict, **_kwargs: object) -> None:
        if ("username" in data) == ("role" in data):
            raise ValidationError("give either a username or a role, not both", "_schema")
