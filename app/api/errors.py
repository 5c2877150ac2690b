"""Every error of the API as ``application/problem+json`` (RFC 9457): {type, title, status, detail}
and, for 422, ``errors`` with the reasons per field (or per file)."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, json, request
from marshmallow import ValidationError
from werkzeug.exceptions import (
    HTTPException,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
    TooManyRequests,
)
from werkzeug.routing import RequestRedirect

from app.api import bp
from app.core.errors import ServiceError, StepFailed, Unauthorized
from app.core.extensions import db

PROBLEM_MIMETYPE = "application/problem+json"
API_PREFIX = "/api/"
_SERVICE_TYPES = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
                  409: "conflict", 422: "validation-error"}


def problem_type(slug: str) -> str:
    return f"urn:pmo-flow:problem:{slug}"


def problem(status: int, title: str, detail: str, *, type_: str = "about:blank", errors: Any = None,
            headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    response = current_app.response_class(json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if status == 401 and "WWW-Authenticate" not in response.headers:
        response.headers["WWW-Authenticate"] = 'Bearer realm="pmo-flow"'
    return response


@bp.errorhandler(ServiceError)
def _service_error(exc: ServiceError) -> Response:
    slug = "step-failed" if isinstance(exc, StepFailed) else _SERVICE_TYPES.get(exc.status, "error")
    headers = {}
    if isinstance(exc, Unauthorized) and request.headers.get("Authorization"):
        headers["WWW-Authenticate"] = 'Bearer realm="pmo-flow", error="invalid_token"'
    return problem(exc.status, exc.title, exc.detail, type_=problem_type(slug), errors=exc.errors,
                   headers=headers)


@bp.errorhandler(ValidationError)
def _validation_error(exc: ValidationError) -> Response:
    errors = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    count = sum(len(v) if isinstance(v, list) else 1 for v in errors.values())
    return problem(422, "Unprocessable entity", f"the request has {count} invalid field(s)",
                   type_=problem_type("validation-error"), errors=errors)


def _http_problem(exc: HTTPException) -> Response:
    headers = {}
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    detail = exc.description or exc.name
    if isinstance(exc, NotFound) and request.path.startswith(API_PREFIX):
        detail = f"no API resource at {request.path}"
    return problem(exc.code or 500, exc.name, detail, headers=headers)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    return _http_problem(exc)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> Response:
    """Registered by code so it wins over the web UI's app-wide 413 page."""
    return problem(413, "Payload too large", exc.description or "the request body is too large",
                   type_=problem_type("payload-too-large"))


@bp.errorhandler(TooManyRequests)
def _too_many(exc: TooManyRequests) -> Response:
    """Sign-in throttling (app.core.throttle): 429 with Retry-After in seconds."""
    from app.core.throttle import retry_after

    wait = retry_after(exc)
    return problem(429, "Too many requests", f"too many failed sign-in attempts; try again in {wait} s",
                   type_=problem_type("too-many-requests"), headers={"Retry-After": str(wait)})


def api_problem_for(exc: HTTPException) -> Response:
    """The API's answer to ``exc`` for URLs under /api/ that no API route matched."""
    if isinstance(exc, RequestEntityTooLarge):
        return _too_large(exc)
    if isinstance(exc, TooManyRequests):
        return _too_many(exc)
    return _http_problem(exc)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    current_app.logger.exception("unexpected error in %s %s", request.method, request.path)
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the answer matters more than the rollback
        current_app.logger.exception("rollback after an unexpected error failed")
    return problem(500, "Internal server error",
                   "an unexpected error occurred; it has been logged", type_=problem_type("internal-error"))


@bp.before_app_request
def _unrouted_api_urls() -> Response | None:
    """Unknown ``/api/`` URLs (404) and wrong methods (405) never reach the blueprint, so its
    handlers cannot answer them: answer them here, before Flask raises the routing error."""
    exc = request.routing_exception
    if exc is None or isinstance(exc, RequestRedirect) or not request.path.startswith(API_PREFIX):
        return None
    if isinstance(exc, HTTPException):
        return _http_problem(exc)
    return None
