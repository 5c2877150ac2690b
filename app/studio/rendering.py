"""The live preview of a form in the editor, drawn by the very renderer and template the task page
uses (app/inbox/formrender.py, inbox/_form.html), so a process owner sees what approvers will see."""

from __future__ import annotations

from typing import Any

from flask import render_template

from app.core.errors import Invalid
from app.definitions import forms
from app.engine import bundle as bundle_mod
from app.inbox import formrender


def preview(schema_text: str, ui_text: str,
            data: dict[str, Any] | None) -> tuple[str, dict[str, list[str]], dict[str, str]]:
    """(html, errors, labels): ``errors`` holds the schema's own problems ("schema"/"uischema") and, when
    sample data is given, what the server's validation of a submission says about it, by field;
    ``labels`` names each key of ``errors`` as the page shows it (a field by its title)."""
    errors: dict[str, list[str]] = {}
    schema, problems = bundle_mod.check_form("schema.json", schema_text.encode("utf-8"))
    if problems:
        errors["schema"] = [_where(p) for p in problems]
    ui, ui_problems = bundle_mod.check_form("uischema.json", (ui_text or "{}").encode("utf-8"))
    if ui_problems:
        errors["uischema"] = [_where(p) for p in ui_problems]
        ui = {}
    if schema is None:
        return render_template("studio/_preview.html", fields=[], broken=True), errors, _labels(errors, {})
    field_errors: dict[str, list[str]] = {}
    if data is not None:
        try:
            forms.validate(schema, data)
        except Invalid as exc:
            field_errors = dict(exc.errors or {})
        errors.update({f"data/{k}" if k else "data": v for k, v in field_errors.items()})
    values = data if data is not None else {k: v.get("default") for k, v in (schema.get("properties") or {}).items()
                                            if isinstance(v, dict) and "default" in v}
    fields = formrender.build(schema, ui or {}, values, field_errors)
    html = render_template("studio/_preview.html", fields=fields, broken=False)
    return html, errors, _labels(errors, schema.get("properties") or {})


def _labels(errors: dict[str, list[str]], properties: dict[str, Any]) -> dict[str, str]:
    """What each error list is about, in words: "The form's JSON Schema", "Sample data: Reason (reason)"."""
    labels = {"schema": "The form's JSON Schema", "uischema": "The UI schema", "data": "Sample data"}
    out: dict[str, str] = {}
    for key in errors:
        if key in labels:
            out[key] = labels[key]
            continue
        name = key.removeprefix("data/")
        top = name.split("/")[0]
        spec = properties.get(top)
        title = spec.get("title") if isinstance(spec, dict) and isinstance(spec.get("title"), str) else ""
        out[key] = f"Sample data: {title} ({name})" if title else f"Sample data: {name}"
    return out


def _where(problem: bundle_mod.Problem) -> str:
    where = f"line {problem.line}: " if problem.line else ""
    if problem.element:
        where += f"at {problem.element}: "
    return where + problem.message
