"""Errors the services raise; the API turns each into an ``application/problem+json`` answer."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, errors: Any = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class BadRequest(ServiceError):
    status = 400
    title = "Bad request"


class Unauthorized(ServiceError):
    status = 401
    title = "Unauthorized"


class Forbidden(ServiceError):
    status = 403
    title = "Forbidden"


class NotFound(ServiceError):
    status = 404
    title = "Not found"


class Conflict(ServiceError):
    status = 409
    title = "Conflict"


class Invalid(ServiceError):
    """The input breaks a rule; ``errors`` maps each field (or file) to its reasons."""

    status = 422
    title = "Unprocessable entity"


class StepFailed(ServiceError):
    """The engine failed during a step; the instance is in the error state and nothing changed."""

    status = 422
    title = "Process step failed"
