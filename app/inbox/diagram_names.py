"""Names shown on the task page's diagram are text for people, never a raw ``{{ template }}``.

Task names in the BPMN are title templates ("Approve {{ cr_reference }} (sponsor)"). The diagram
served for a task gets them rendered with the task's data (on the title budget) when every name
they use is in that data, else with the template parts taken out ("Approve (sponsor)").
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, request
from jinja2 import TemplateError, meta
from lxml import etree

from app.core.extensions import db
from app.engine import sandbox as sb
from app.engine import templating
from app.inbox.pages import bp
from app.instances import commands as instances
from app.instances.models import HumanTask

_TEMPLATE_PART = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_DANGLING = re.compile(r"(\s*[:·,\-–]|\s+(for|of|on|at|from|to|by))+\s*$", re.I)
MAX_NAMES = 500


def stripped(name: str) -> str:
    """The name without its template parts, tidied ("Submit change request for {{ x }}" → "Submit change request")."""
    text = _TEMPLATE_PART.sub("\x00", name)
    text = re.sub(r"\([^()]*\x00[^()]*\)", " ", text)  # "(… {{ x }} FTE)" goes as a whole
    text = text.replace("\x00", " ")
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([:),.])", r"\1", text)
    text = re.sub(r"^\s*[:·,\-–]\s*", "", text)
    return _DANGLING.sub("", text).strip()


def readable_name(name: str, data: dict[str, Any]) -> str:
    if not templating.has_template(name):
        return name
    try:
        used = meta.find_undeclared_variables(templating._ENV.parse(name))
    except TemplateError:
        return stripped(name)
    if used and used <= set(data):
        try:
            text = re.sub(r"\s+", " ", templating.render(name, data, templating.TITLE_SECONDS)).strip()
        except (TemplateError, sb.SandboxError, ArithmeticError, TypeError, ValueError, LookupError):
            text = ""
        if text and not templating.has_template(text):
            return text
    return stripped(name) or name.split("{", 1)[0].strip()


def readable(content: bytes, data: dict[str, Any]) -> bytes:
    """The BPMN XML with every templated ``name`` made readable (the XML as it was when it has none)."""
    if b"{{" not in content and b"{%" not in content:
        return content
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError:
        return content
    changed = 0
    for element in root.iter():
        name = element.get("name") if isinstance(element.tag, str) else None
        if name and templating.has_template(name) and changed < MAX_NAMES:
            element.set("name", readable_name(name, data))
            changed += 1
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8") if changed else content


@bp.after_app_request
def _diagram_names(response: Response) -> Response:
    if request.endpoint != "inbox.task_diagram" or response.status_code != 200 or response.direct_passthrough:
        return response
    task = db.session.get(HumanTask, (request.view_args or {}).get("task_id", ""))
    try:
        data = instances.task_data(task) if task is not None else {}
    except Exception:  # noqa: BLE001 - names are then stripped of their templates
        data = {}
    response.set_data(readable(response.get_data(), data if isinstance(data, dict) else {}))
    return response
