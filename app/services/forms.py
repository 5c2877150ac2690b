"""Task forms: JSON Schema + UI schema files of a deployment, and server-side validation."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import jsonschema
from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment

from ..extensions import db
from ..models import Deployment
from .errors import Invalid, NotFound

_JINJA = SandboxedEnvironment(autoescape=False)


@lru_cache(maxsize=1024)
def _file_json(deployment_id: int, name: str) -> str:
    deployment = db.session.get(Deployment, deployment_id)
    found = deployment.file(name) if deployment else None
    if found is None:
        raise NotFound(f"form file '{name}' is not in deployment {deployment_id}")
    return found.content.decode("utf-8")


def load_form(deployment_id: int, name: str | None, data: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The form file as JSON; Jinja placeholders in it are filled from task data (SpiffArena does too)."""
    if not name:
        return None
    text = _file_json(deployment_id, name)
    if data is not None and "{{" in text:
        try:
            text = _JINJA.from_string(text).render(**data)
        except TemplateError:
            pass  # keep the raw form rather than fail to show the task
    return json.loads(text)


def validate(schema: dict[str, Any] | None, data: dict[str, Any]) -> None:
    """Raise Invalid with every field error (JSON pointer path -> messages)."""
    if not isinstance(data, dict):
        raise Invalid("submitted data must be a JSON object", errors={"": ["must be an object"]})
    if not schema:
        return
    validator_cls = jsonschema.validators.validator_for(schema)
    validator = validator_cls(schema, format_checker=validator_cls.FORMAT_CHECKER)
    errors: dict[str, list[str]] = {}
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path))):
        path = "/".join(str(p) for p in error.path)
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = [r for r in error.validator_value if r not in error.instance]
            for field in missing:  # jsonschema reports each missing field once per missing field
                messages = errors.setdefault("/".join(filter(None, [path, field])), [])
                if "this field is required" not in messages:
                    messages.append("this field is required")
            continue
        errors.setdefault(path, []).append(error.message)
    if errors:
        raise Invalid(f"the form has {sum(len(v) for v in errors.values())} error(s)", errors=errors)
