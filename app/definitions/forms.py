"""Task forms: JSON Schema + UI schema files of a deployment, and server-side validation."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import jsonschema
import regex

from app.core import caches
from app.core.errors import Invalid, NotFound
from app.core.extensions import db
from app.definitions.models import Deployment
from app.engine import templating
from app.engine.interop import with_options

PATTERN_SECONDS = 0.5  # all ``pattern`` checks of one validation together
MAX_DEPTH = 64         # nesting of a form document (deploy refuses deeper ones; see bundle.py)


@lru_cache(maxsize=1024)
def _file_json(deployment_id: int, name: str) -> str:
    deployment = db.session.get(Deployment, deployment_id)
    found = deployment.file(name) if deployment else None
    if found is None:
        raise NotFound(f"form file '{name}' is not in deployment {deployment_id}")
    return found.content.decode("utf-8")


caches.register(_file_json.cache_clear)


def _fill(node: Any, data: dict[str, Any]) -> Any:
    """A copy of the parsed form with Jinja placeholders filled in its string values.

    Filled after parsing, value by value: whatever a name holds (quotes, control characters,
    ``", "enum": [...]``) stays inside its string and can never become JSON syntax.
    """
    if isinstance(node, dict):
        return {key: _fill(value, data) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill(value, data) for value in node]
    if isinstance(node, str) and templating.has_template(node):
        return templating.render_or(node, data, fallback=node)
    return node


def load_form(deployment_id: int, name: str | None, data: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The form file as JSON; Jinja placeholders in its string values are filled from task data
    (SpiffArena fills them too, but into the JSON text, where a quote in a name breaks the form)."""
    if not name:
        return None
    doc = json.loads(_file_json(deployment_id, name))
    return with_options(_fill(doc, data), data) if data is not None else doc


def with_task_options(schema: dict[str, Any] | None, data: dict[str, Any] | None) -> dict[str, Any] | None:
    """The schema with SpiffArena's dynamic options (``"anyOf": ["options_from_task_data_var:NAME"]``)
    read from task data: what the form showed is what the server accepts."""
    return with_options(schema, data) if schema is not None else None


# -- validation with bounded regular expressions -------------------------------------------------

_DEADLINE = threading.local()
_TIMED_OUT = "the value could not be checked against its pattern in time"


def _search(pattern: str, text: str) -> bool | None:
    """``re.search`` in the ``regex`` engine, within the validation's budget, without holding the
    interpreter (``concurrent=True``); None when it ran out of time. A form's ``pattern`` meets
    every user's input, so a backtracking pattern must not stall the server."""
    remaining = getattr(_DEADLINE, "at", time.monotonic() + PATTERN_SECONDS) - time.monotonic()
    try:
        return regex.search(pattern, text, timeout=max(remaining, 0.001), concurrent=True) is not None
    except TimeoutError:
        return None


def _pattern(validator: Any, patrn: str, instance: Any, schema: dict[str, Any]) -> Iterator[jsonschema.ValidationError]:
    if not validator.is_type(instance, "string"):
        return
    found = _search(patrn, instance)
    if found is None:
        yield jsonschema.ValidationError(_TIMED_OUT)
    elif not found:
        yield jsonschema.ValidationError(f"{instance!r} does not match {patrn!r}")


def _pattern_properties(validator: Any, patterns: dict[str, Any], instance: Any,
                        schema: dict[str, Any]) -> Iterator[jsonschema.ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for patrn, subschema in patterns.items():
        for key, value in instance.items():
            found = _search(patrn, key)
            if found is None:
                yield jsonschema.ValidationError(_TIMED_OUT, path=[key])
            elif found:
                yield from validator.descend(value, subschema, path=key, schema_path=patrn)


@lru_cache(maxsize=16)
def _bounded_class(cls: type) -> type:
    return jsonschema.validators.extend(cls, {"pattern": _pattern, "patternProperties": _pattern_properties})


def validator_for(schema: dict[str, Any]) -> Any:
    """A validator for ``schema`` whose regular expressions run with a timeout."""
    cls = jsonschema.validators.validator_for(schema)
    return _bounded_class(cls)(schema, format_checker=cls.FORMAT_CHECKER)


class pattern_budget:  # noqa: N801 - used like a function: ``with pattern_budget():``
    """One deadline for every ``pattern`` of one validation."""

    def __enter__(self) -> None:
        self._previous = getattr(_DEADLINE, "at", None)
        _DEADLINE.at = time.monotonic() + PATTERN_SECONDS

    def __exit__(self, *exc: Any) -> None:
        if self._previous is None:
            del _DEADLINE.at
        else:
            _DEADLINE.at = self._previous


# -- cross-field rules ----------------------------------------------------------------------------
#
# A form (at its top or in any object inside it, e.g. the rows of an array) may list rules that
# JSON Schema cannot say, each an expression over the fields of that object, evaluated in the
# script sandbox; a rule that does not hold is an error at its field, reported at submit (422):
#
#   "validationRules": [{"field": "target_end_date", "assert": "target_end_date > start_date",
#                        "message": "must be after the start date"}]
#
# A rule is skipped while a field it reads is empty ("required" reports that), and a rule that
# fails to evaluate is skipped too (deploy checks that every rule compiles).

RULES = "validationRules"
RULE_SECONDS = 0.5


def rule_errors(schema: dict[str, Any] | None, data: Any) -> dict[str, list[str]]:
    """The messages of the ``validationRules`` that do not hold, at their fields' paths."""
    errors: dict[str, list[str]] = {}
    if isinstance(schema, dict):
        _check_rules(schema, data, "", errors, 0)
    return errors


def _check_rules(schema: dict[str, Any], value: Any, path: str, errors: dict[str, list[str]], depth: int) -> None:
    if depth > MAX_DEPTH or not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        for rule in schema.get(RULES) or []:
            if not isinstance(rule, dict) or not rule.get("assert"):
                continue
            if not _holds(str(rule["assert"]), value):
                field = str(rule.get("field") or "")
                key = "/".join(filter(None, [path, field]))
                message = str(rule.get("message") or "this value is not allowed here")
                if message not in errors.get(key, []):
                    errors.setdefault(key, []).append(message)
        for key, sub in (schema.get("properties") or {}).items():
            if key in value and isinstance(sub, dict):
                _check_rules(sub, value[key], f"{path}/{key}" if path else key, errors, depth + 1)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, row in enumerate(value):
            _check_rules(schema["items"], row, f"{path}/{index}" if path else str(index), errors, depth + 1)


def _holds(expression: str, fields: dict[str, Any]) -> bool:
    from app.engine.sandbox import Sandbox

    context = {k: v for k, v in fields.items() if isinstance(k, str) and k.isidentifier() and v not in (None, "")}
    try:
        return bool(Sandbox(time_limit=RULE_SECONDS).evaluate(expression, context))
    except Exception:  # noqa: BLE001 - a field it reads is empty, or the rule cannot be evaluated
        return True


def validate(schema: dict[str, Any] | None, data: dict[str, Any]) -> None:
    """Raise Invalid with every field error (JSON pointer path -> messages)."""
    if not isinstance(data, dict):
        raise Invalid("submitted data must be a JSON object", errors={"": ["must be an object"]})
    if not schema:
        return
    validator = validator_for(schema)
    errors: dict[str, list[str]] = {}
    with pattern_budget():
        found = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path)))
    for error in found:
        path = "/".join(str(p) for p in error.path)
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = [r for r in error.validator_value if r not in error.instance]
            for field in missing:  # jsonschema reports each missing field once per missing field
                messages = errors.setdefault("/".join(filter(None, [path, field])), [])
                if "this field is required" not in messages:
                    messages.append("this field is required")
            continue
        errors.setdefault(path, []).append(error.message)
    for path, messages in rule_errors(schema, data).items():
        errors.setdefault(path, []).extend(m for m in messages if m not in errors.get(path, []))
    if errors:
        raise Invalid(f"the form has {sum(len(v) for v in errors.values())} error(s)", errors=errors)
