"""Server-side forms from JSON Schema + UI schema (react-jsonschema-form dialect), without JavaScript.

``build(schema, ui, values, errors)`` turns the schema into a tree of ``Field`` objects that the
``_form.html`` macros render; ``parse(schema, ui, form, original)`` reads a submitted form back into
task data (typed: numbers, integers, booleans, arrays of objects). Field names are the JSON-pointer
paths the validator reports (``title``, ``risks/0/owner``), prefixed with ``f:``, so every error
lands at its field. Arrays keep a row count in ``n:<path>``; "add row" / "remove row" are submit
buttons that re-render the form with one row more or less.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import jsonschema

from app.definitions import forms

PREFIX = "f:"
COUNT_PREFIX = "n:"
MAX_ROWS = 200
MONEY_WORDS = re.compile(r"(^|_)(cost|costs|budget|amount|price|capex|opex|money|spend|savings)(_|$)")


@dataclass
class Field:
    path: str
    name: str
    label: str
    kind: str  # text|textarea|number|integer|money|date|email|url|select|radio|checkbox|boolean_radio|checkboxes|object|array
    value: Any = None
    required: bool = False
    readonly: bool = False
    help: str = ""
    description: str = ""
    errors: list[str] = field(default_factory=list)
    options: list[tuple[Any, str]] = field(default_factory=list)
    children: list[Field] = field(default_factory=list)
    rows: list[list[Field]] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    placeholder: str = ""

    @property
    def id(self) -> str:
        return "field-" + (re.sub(r"[^A-Za-z0-9_-]", "-", self.path) or "root")

    @property
    def display_value(self) -> str:
        if self.value is None:
            return ""
        if isinstance(self.value, bool):
            return "Yes" if self.value else "No"
        if self.kind in ("select", "radio"):
            for value, label in self.options:
                if value == self.value:
                    return label
        return str(self.value)

    def has_errors_below(self) -> bool:
        return bool(self.errors) or any(c.has_errors_below() for c in self.children) or any(
            c.has_errors_below() for row in self.rows for c in row)


def _label(key: str, schema: dict[str, Any], ui: dict[str, Any]) -> str:
    return str(ui.get("ui:title") or schema.get("title") or key.replace("_", " ").capitalize())


def _ordered(properties: dict[str, Any], ui: dict[str, Any]) -> list[str]:
    order = ui.get("ui:order") or []
    keys = list(properties)
    if not order:
        return keys
    head = [k for k in order if k in properties]
    rest = [k for k in keys if k not in head]
    if "*" in order:
        star = order.index("*")
        before = [k for k in order[:star] if k in properties]
        after = [k for k in order[star + 1:] if k in properties]
        return before + [k for k in keys if k not in before and k not in after] + after
    return head + rest


def _required_now(schema: dict[str, Any], value: Any) -> set[str]:
    """Required keys, including those an ``if``/``then``/``else`` adds for the current value."""
    required = set(schema.get("required") or [])
    if "if" in schema and isinstance(value, dict) and all(
            k in value for k in (schema["if"].get("required") or schema["if"].get("properties") or {})):
        try:
            with forms.pattern_budget():
                matches = forms.validator_for(schema["if"]).is_valid(value)
        except Exception:  # noqa: BLE001
            matches = False
        branch = schema.get("then" if matches else "else") or {}
        required.update(branch.get("required") or [])
    for part in schema.get("allOf") or []:
        if isinstance(part, dict):
            required.update(_required_now(part, value))
    return required


def _conditional(schema: dict[str, Any]) -> set[str]:
    keys: set[str] = set()
    for branch in ("then", "else"):
        keys.update((schema.get(branch) or {}).get("required") or [])
    return keys


def _kind(schema: dict[str, Any], ui: dict[str, Any], key: str) -> str:
    widget = ui.get("ui:widget")
    typ = schema.get("type")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), "string")
    if typ == "object":
        return "object"
    if typ == "array":
        items = schema.get("items") or {}
        if items.get("enum") and schema.get("uniqueItems", True):
            return "checkboxes"
        return "array"
    if typ == "boolean":
        return "boolean_radio" if widget == "radio" else "checkbox"
    if schema.get("enum") is not None or schema.get("oneOf") and all("const" in o for o in schema["oneOf"]):
        return "radio" if widget == "radio" else "select"
    if typ in ("number", "integer"):
        options = ui.get("ui:options") or {}
        if widget in ("money", "currency") or options.get("currency") or schema.get("format") in ("money", "currency") \
                or MONEY_WORDS.search(key.lower()):
            return "money"
        return "integer" if typ == "integer" else "number"
    if widget == "textarea":
        return "textarea"
    fmt = schema.get("format")
    if fmt == "date" or widget == "date":
        return "date"
    if fmt == "email":
        return "email"
    if fmt in ("uri", "url"):
        return "url"
    return "text"


def _options(schema: dict[str, Any], ui: dict[str, Any]) -> list[tuple[Any, str]]:
    if schema.get("enum") is not None:
        names = schema.get("enumNames") or (ui.get("ui:enumNames")) or []
        return [(v, str(names[i]) if i < len(names) else str(v).replace("_", " ").capitalize())
                for i, v in enumerate(schema["enum"])]
    if schema.get("oneOf"):
        return [(o["const"], str(o.get("title", o["const"]))) for o in schema["oneOf"] if "const" in o]
    return []


def build(schema: dict[str, Any] | None, ui: dict[str, Any] | None, values: dict[str, Any] | None,
          errors: dict[str, list[str]] | None = None) -> list[Field]:
    """The fields of the top-level object schema, with values and errors placed."""
    if not schema:
        return []
    return _object_children(schema, ui or {}, values if isinstance(values, dict) else {}, errors or {}, "")


def _object_children(schema: dict[str, Any], ui: dict[str, Any], value: dict[str, Any],
                     errors: dict[str, list[str]], path: str) -> list[Field]:
    properties = schema.get("properties") or {}
    required = _required_now(schema, value)
    conditional = _conditional(schema) - required
    out = []
    for key in _ordered(properties, ui):
        sub_ui = ui.get(key) or {}
        if sub_ui.get("ui:widget") == "hidden":
            continue
        item = _field(key, properties[key] or {}, sub_ui, value.get(key), errors,
                      f"{path}/{key}" if path else key)
        item.required = key in required
        if key in conditional and not item.help:
            item.attrs["conditional"] = True
        out.append(item)
    return out


def _field(key: str, schema: dict[str, Any], ui: dict[str, Any], value: Any, errors: dict[str, list[str]],
           path: str) -> Field:
    kind = _kind(schema, ui, key)
    item = Field(path=path, name=PREFIX + path, label=_label(key, schema, ui), kind=kind, value=value,
                 readonly=bool(ui.get("ui:readonly") or schema.get("readOnly") or ui.get("ui:disabled")),
                 help=str(ui.get("ui:help") or ""), description=str(ui.get("ui:description") or schema.get(
                     "description") or ""), errors=list(errors.get(path, [])),
                 placeholder=str(ui.get("ui:placeholder") or ""))
    if kind in ("select", "radio"):
        item.options = _options(schema, ui)
    elif kind == "checkboxes":
        item.options = _options(schema.get("items") or {}, ui)
        item.value = value if isinstance(value, list) else []
    elif kind == "object":
        item.children = _object_children(schema, ui, value if isinstance(value, dict) else {}, errors, path)
    elif kind == "array":
        items_schema = schema.get("items") or {}
        items_ui = ui.get("items") or {}
        rows = value if isinstance(value, list) else []
        item.attrs["min_items"] = int(schema.get("minItems") or 0)
        item.attrs["max_items"] = int(schema.get("maxItems") or MAX_ROWS)
        item.attrs["row_label"] = str(items_schema.get("title") or "Row")
        item.attrs["item_is_object"] = items_schema.get("type") == "object"
        for index, row in enumerate(rows):
            row_path = f"{path}/{index}"
            if items_schema.get("type") == "object":
                children = _object_children(items_schema, items_ui, row if isinstance(row, dict) else {}, errors,
                                            row_path)
            else:
                child = _field(str(index), items_schema, items_ui, row, errors, row_path)
                child.label = f"{item.attrs['row_label']} {index + 1}"
                children = [child]
            item.rows.append(children)
    if kind in ("number", "integer", "money"):
        for source, target in (("minimum", "min"), ("maximum", "max")):
            if source in schema:
                item.attrs[target] = schema[source]
        item.attrs["step"] = 1 if kind == "integer" else ("0.01" if kind == "money" else "any")
        item.attrs["currency"] = (ui.get("ui:options") or {}).get("currency", "")
    if kind in ("text", "textarea", "email", "url"):
        if "maxLength" in schema:
            item.attrs["maxlength"] = schema["maxLength"]
    return item


def new_row(schema: dict[str, Any] | None, path: str) -> Any:
    """The value of a row added to the array at ``path``: ``{}`` for rows of objects, else empty (None).

    A row of strings (an objective, a tag) starts as an empty input, not as the text ``{}``.
    """
    node: Any = schema or {}
    for part in [p for p in path.split("/") if p]:
        if not isinstance(node, dict):
            return None
        if node.get("type") == "array" or "items" in node:
            node = node.get("items") or {}
            if part.isdigit():
                continue
        node = (node.get("properties") or {}).get(part) or {}
    items = (node.get("items") or {}) if isinstance(node, dict) else {}
    typ = items.get("type")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), None)
    return {} if typ == "object" or (typ is None and "properties" in items) else None


# -- reading a submitted form ---------------------------------------------------------------------

def row_count(form: Any, path: str, fallback: int = 0) -> int:
    try:
        return max(0, min(int(form.get(COUNT_PREFIX + path, fallback)), MAX_ROWS))
    except (TypeError, ValueError):
        return fallback


def parse(schema: dict[str, Any] | None, ui: dict[str, Any] | None, form: Any,
          original: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(data, errors) from a submitted form: typed values; a number that is not one is an error.

    Read-only fields keep their ``original`` value whatever was posted. Empty inputs are left out,
    so "required" reports them.
    """
    if not schema:
        return {}, {}
    errors: dict[str, list[str]] = {}
    data = _parse_object(schema, ui or {}, form, "", original if isinstance(original, dict) else {}, errors)
    return data, errors


def _parse_object(schema: dict[str, Any], ui: dict[str, Any], form: Any, path: str, original: dict[str, Any],
                  errors: dict[str, list[str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, sub in (schema.get("properties") or {}).items():
        sub = sub or {}
        sub_ui = ui.get(key) or {}
        sub_path = f"{path}/{key}" if path else key
        if sub_ui.get("ui:readonly") or sub.get("readOnly") or sub_ui.get("ui:widget") == "hidden":
            if key in original:
                out[key] = original[key]
            continue
        value = _parse_value(key, sub, sub_ui, form, sub_path, original.get(key), errors)
        if value is not None:
            out[key] = value
    return out


def _parse_value(key: str, schema: dict[str, Any], ui: dict[str, Any], form: Any, path: str, original: Any,
                 errors: dict[str, list[str]]) -> Any:
    kind = _kind(schema, ui, key)
    name = PREFIX + path
    if kind == "object":
        value = _parse_object(schema, ui, form, path, original if isinstance(original, dict) else {}, errors)
        return value or None
    if kind == "array":
        items = schema.get("items") or {}
        items_ui = ui.get("items") or {}
        count = row_count(form, path)
        rows = []
        for index in range(count):
            row_original = original[index] if isinstance(original, list) and index < len(original) else None
            if items.get("type") == "object":
                rows.append(_parse_object(items, items_ui, form, f"{path}/{index}",
                                          row_original if isinstance(row_original, dict) else {}, errors))
            else:
                rows.append(_parse_value(str(index), items, items_ui, form, f"{path}/{index}", row_original, errors))
        return rows if count or COUNT_PREFIX + path in form else None
    if kind == "checkboxes":
        allowed = {str(v): v for v, _ in _options(schema.get("items") or {}, ui)}
        picked = [allowed[v] for v in form.getlist(name) if v in allowed]
        return picked if picked or (COUNT_PREFIX + path) in form else None
    if kind == "checkbox":
        return name in form and form.get(name) not in ("", "0", "false")
    raw = form.get(name)
    if raw is None:
        return None
    raw = raw.replace("\r\n", "\n")
    if kind != "textarea":
        raw = raw.strip()
    if raw == "":
        return None
    if kind == "boolean_radio":
        return raw == "true"
    if kind in ("select", "radio"):
        for value, _label_text in _options(schema, ui):
            if str(value) == raw:
                return value
        errors.setdefault(path, []).append("choose one of the options")
        return raw
    if kind in ("number", "integer", "money"):
        cleaned = raw.replace(",", "").replace(" ", "")
        try:
            number = Decimal(cleaned)
            if not number.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            errors.setdefault(path, []).append("enter a whole number" if kind == "integer" else "enter a number")
            return raw
        if schema.get("type") == "integer" or kind == "integer":
            if number != number.to_integral_value():
                errors.setdefault(path, []).append("enter a whole number")
                return raw
            return int(number)
        return int(number) if number == number.to_integral_value() and "." not in cleaned else float(number)
    if kind == "date":
        try:
            date.fromisoformat(raw)
        except ValueError:
            errors.setdefault(path, []).append("enter a date as YYYY-MM-DD")
    return raw


# -- friendly validation --------------------------------------------------------------------------

def _message(error: jsonschema.ValidationError) -> str:
    v, value = error.validator, error.validator_value
    if v == "minLength":
        return "this field is required" if value == 1 or error.instance == "" else f"enter at least {value} characters"
    if v == "maxLength":
        return f"enter at most {value} characters"
    if v == "minimum":
        return f"must be at least {value}"
    if v == "maximum":
        return f"must be at most {value}"
    if v == "exclusiveMinimum":
        return f"must be more than {value}"
    if v == "exclusiveMaximum":
        return f"must be less than {value}"
    if v in ("enum", "const"):
        return "choose one of the options"
    if v == "type":
        return {"number": "enter a number", "integer": "enter a whole number", "string": "enter text",
                "boolean": "choose yes or no", "array": "enter a list", "object": "fill in this group"}.get(
            value if isinstance(value, str) else "", f"must be {value}")
    if v == "format" and value == "date":
        return "enter a date as YYYY-MM-DD"
    if v == "format":
        return f"enter a valid {value}"
    if v == "minItems":
        return f"add at least {value} row{'s' if value != 1 else ''}"
    if v == "maxItems":
        return f"at most {value} rows"
    if v == "pattern":
        return "the value has the wrong format"
    return error.message


def validate(schema: dict[str, Any] | None, data: dict[str, Any]) -> dict[str, list[str]]:
    """Every error at its JSON-pointer path, in words a person understands."""
    if not schema:
        return {}
    validator = forms.validator_for(schema)  # ``pattern`` with a timeout: it meets every user's input
    errors: dict[str, list[str]] = {}
    with forms.pattern_budget():
        found = list(validator.iter_errors(data))
    for error in found:
        for leaf in _leaves(error):
            path = "/".join(str(p) for p in leaf.path)
            if leaf.validator == "required" and isinstance(leaf.instance, dict):
                for missing in leaf.validator_value:
                    if missing not in leaf.instance:
                        key = "/".join(filter(None, [path, missing]))
                        if "this field is required" not in errors.get(key, []):
                            errors.setdefault(key, []).append("this field is required")
                continue
            if leaf.validator in ("if", "then", "else", "allOf"):
                continue
            message = _message(leaf)
            if message not in errors.get(path, []):
                errors.setdefault(path, []).append(message)
    return merge_errors(errors, forms.rule_errors(schema, data))  # the form's cross-field rules


def _leaves(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    if error.context:
        out = []
        for sub in error.context:
            out.extend(_leaves(sub))
        return out
    return [error]


def merge_errors(*many: dict[str, list[str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for errors in many:
        for path, messages in (errors or {}).items():
            for message in messages:
                if message not in out.setdefault(path, []):
                    out[path].append(message)
    return out


def flatten(fields: list[Field]) -> list[Field]:
    out = []
    for item in fields:
        out.append(item)
        out.extend(flatten(item.children))
        for row in item.rows:
            out.extend(flatten(row))
    return out
