"""Loading and validating a bundle of BPMN, DMN and form files.

A bundle is what one deployment brings: the files of ``workflows/`` and ``forms/``, or an upload
(files or a zip). Nothing is deployed unless the whole bundle is valid, and validation reports
every problem it finds (file, line, element, reason), not just the first.

Untrusted XML is parsed here with entity resolution, DTDs and network access off, and any
DOCTYPE is refused, before SpiffWorkflow sees the tree.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
import sys
import threading
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from . import camunda
from .interop import (
    bad_option_variables,
    foreign_expression,
    spiffarena_call_message,
    spiffarena_calls,
    with_options,
)
from .runtime import OPERATORS, spec_to_dict
from .sandbox import check_compiles

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}
DMN_NAMESPACES = (
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
)
# Process properties (``spiffworkflow:properties`` under ``bpmn:process``) that say who may start
# it by hand and with what data. No ``startableBy``: only the server (the projects module, another
# process, a message) starts it, so a process is safe by default.
STARTABLE_BY = "startableBy"
START_FORM = "startFormJsonSchemaFilename"
START_DATA_FIELDS = "startDataFields"
# A task property: the fields a task without a form accepts (none when it is not given).
DATA_FIELDS = "dataFields"
FORM_PROPERTIES = ("formJsonSchemaFilename", "formUiSchemaFilename", START_FORM)
INITIATOR_LANE = "process_initiator"
# Where an admin fills the group a lane that is not a role becomes (app/people/pages.py).
GROUPS_PAGE = "/admin/groups"
# Task data the server sets (the projects module's binding, the routing and segregation-of-duties
# variables): a caller never supplies them when starting a process.
SERVER_OWNED_KEYS = frozenset({
    "lane_owners", "requested_by", "project_id", "process_initiator", "project_code", "project_name",
    "project_manager", "sponsor", "suggested_code", "cr_id", "project_lane_owners",
})
# Form fields that would let whoever fills the form pick who acts next or who is kept out.
ROUTING_KEYS = frozenset({"lane_owners", "project_lane_owners", "process_initiator"})
MAX_FILES = 500
# Process test scenarios (app/engine/scenarios.py), SpiffArena's ``test_<process>.json``: kept with
# the bundle's files (so they are stored and exported with a deployment) but never a form, and
# not part of any process's content hash (a changed scenario alone deploys no new version).
SCENARIO_FILE = re.compile(r"^test_(?P<process>.+)\.json$")
MAX_TOTAL_BYTES = 20 * 1024 * 1024

_XSD_LOCK = threading.Lock()
_JINJA = SandboxedEnvironment()


@dataclass(frozen=True)
class Problem:
    """One reason a bundle cannot be deployed."""

    file: str
    line: int | None
    element: str | None
    message: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", one_line(self.message))

    def __str__(self) -> str:
        return f"{self.file}:{self.line or 0}: {self.element or '-'}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "element": self.element, "message": self.message}


class BundleInvalid(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s): " + "; ".join(str(p) for p in problems[:5]))
        self.problems = problems


@dataclass
class BundleFile:
    name: str
    content: bytes
    # The process model folder (one with process_model.json) it came from: a library zip holds
    # several, each deployed as its own model. "" outside any such folder.
    folder: str = ""


@dataclass
class Resolved:
    """A called process found outside the bundle: deployed (``version``) or in an earlier model of
    the same upload (``version`` None until it is written)."""

    key: str
    version: int | None
    spec: Any
    subprocess_specs: dict[str, Any]
    model: str = ""
    # Its form files by the names its tasks use: copied into the caller's deployment under
    # ``prefix/`` (so two models' forms of the same name never meet).
    files: dict[str, bytes] = field(default_factory=dict)
    prefix: str = ""


# (called process id, pinned version or None) -> where it is, or None when it is nowhere.
Resolver = Callable[[str, "int | None"], "Resolved | None"]
CALLED_VERSION = "calledElementVersion"  # a call activity property pinning the called process's version


@dataclass
class ParsedProcess:
    key: str
    name: str
    file: str
    spec: Any
    subprocess_specs: dict[str, Any]
    spec_dict: dict[str, Any]
    forms: list[str]
    content_hash: str
    # Who may start it by hand and with what data: {"roles": [...], "form": name | None, "fields": [...]}.
    start_policy: dict[str, Any] = field(default_factory=dict)
    # Called processes taken from outside the bundle: {process id: Resolved}.
    calls: dict[str, Resolved] = field(default_factory=dict)


@dataclass
class Bundle:
    files: dict[str, bytes]
    processes: dict[str, ParsedProcess] = field(default_factory=dict)
    # What became of each Camunda extension (app/engine/camunda.py): mapped or ignored (warnings),
    # and each lane that is not a role (a warning: it becomes a group).
    notes: list[Any] = field(default_factory=list)
    # The lane groups its processes need, {key: lane name}: made at deploy when missing.
    groups: dict[str, str] = field(default_factory=dict)


_OBJECT_REPR = re.compile(r"<(?:[\w.]+\.)?(\w+)(?: '([^']*)'| \{[^}]*\}(\w+))?[^<>]* at 0x[0-9a-fA-F]+>")


def is_scenario_file(name: str) -> bool:
    return SCENARIO_FILE.match(Path(name).name) is not None


def one_line(message: str) -> str:
    """A problem message as one line, with Python object reprs replaced by what they name."""
    def describe(match: re.Match[str]) -> str:
        kind, quoted, tag = match.group(1), match.group(2), match.group(3)
        if kind == "Element" and (tag or quoted):
            return f"element {tag or quoted}"
        return quoted or kind
    text = _OBJECT_REPR.sub(describe, str(message))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(lines).strip()


def normalize_role(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip()).lower()


def group_key(lane_name: str) -> str:
    """The key of the group a lane that is not a role becomes (what its tasks' candidate rows name)."""
    return normalize_role(lane_name)[:80]


def split_names(value: str | None) -> list[str]:
    """A comma-separated property value as a list of names (blanks dropped)."""
    return [n.strip() for n in (value or "").split(",") if n.strip()]


def process_properties(proc: etree._Element) -> dict[str, str]:
    """The ``spiffworkflow:property`` values declared on the process element itself."""
    found: dict[str, str] = {}
    for prop in proc.findall(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}properties/{{{SPIFF_NS}}}property"):
        if prop.get("name"):
            found[prop.get("name")] = prop.get("value") or ""
    return found


def start_policy(proc: etree._Element) -> dict[str, Any]:
    """Who may start the process by hand (roles) and which start data it takes (form or fields)."""
    props = process_properties(proc)
    return {"roles": sorted({normalize_role(r) for r in split_names(props.get(STARTABLE_BY))}),
            "form": props.get(START_FORM) or None,
            "fields": sorted(set(split_names(props.get(START_DATA_FIELDS))))}


def _sub_schemas(schema: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """The schema and the sub-schemas that add fields to the same object (allOf, if/then, ...)."""
    yield schema
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key) or []:
            if isinstance(sub, dict):
                yield from _sub_schemas(sub)
    for key in ("if", "then", "else"):
        if isinstance(schema.get(key), dict):
            yield from _sub_schemas(schema[key])
    for key in ("dependencies", "dependentSchemas"):
        for sub in (schema.get(key) or {}).values():
            if isinstance(sub, dict):
                yield from _sub_schemas(sub)


def form_fields(schema: dict[str, Any] | None, ui: dict[str, Any] | None = None) -> tuple[set[str], set[str]]:
    """(fields, read-only fields) of a form's top-level object.

    Read-only: ``readOnly`` in the schema, or ``ui:readonly`` / ``ui:disabled`` / a hidden widget in
    the UI schema; the process sets those, whoever fills the form never does.
    """
    fields: set[str] = set()
    readonly: set[str] = set()
    if not isinstance(schema, dict):
        return fields, readonly
    ui = ui if isinstance(ui, dict) else {}
    for sub in _sub_schemas(schema):
        for key, prop in (sub.get("properties") or {}).items():
            fields.add(key)
            prop_ui = ui.get(key) if isinstance(ui.get(key), dict) else {}
            if (isinstance(prop, dict) and prop.get("readOnly")) or prop_ui.get("ui:readonly") \
                    or prop_ui.get("ui:disabled") or prop_ui.get("ui:widget") == "hidden":
                readonly.add(key)
    return fields, readonly


# -- reading files ----------------------------------------------------------------------------------

def read_paths(paths: Iterable[Path]) -> list[BundleFile]:
    """Files of the given paths (folders are walked) that a bundle can hold."""
    files: list[BundleFile] = []
    for path in paths:
        candidates = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        models = {str(p.parent.relative_to(path)) for p in candidates if p.name == MODEL_FILE} if path.is_dir() else set()
        for candidate in candidates:
            if candidate.suffix.lower() == ".zip":
                files.extend(read_zip(candidate.read_bytes(), candidate.name))
            elif candidate.suffix.lower() in {".bpmn", ".dmn", ".json"}:
                folder = model_folder(str(candidate.relative_to(path)), models) if path.is_dir() else ""
                files.append(BundleFile(candidate.name, candidate.read_bytes(), folder))
    return files


MODEL_FILE = "process_model.json"


def model_folder(relative: str, models: set[str]) -> str:
    """The nearest folder of ``relative`` that holds a process_model.json, or ""."""
    parent = Path(relative).parent
    while True:
        key = str(parent)
        if key in models:
            return "" if key == "." else key
        if key in (".", "/", ""):
            return ""
        parent = parent.parent


def read_zip(data: bytes, name: str = "upload.zip") -> list[BundleFile]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise BundleInvalid([Problem(name, None, None, f"not a valid zip archive: {exc}")]) from exc
    entries = [i for i in archive.infolist() if not i.is_dir()]
    if len(entries) > MAX_FILES or sum(i.file_size for i in entries) > MAX_TOTAL_BYTES:
        raise BundleInvalid([Problem(name, None, None, "archive is too large (files or unpacked size)")])
    models = {str(Path(i.filename).parent) for i in entries if Path(i.filename).name == MODEL_FILE}
    files = []
    for info in entries:
        base = Path(info.filename).name
        if Path(base).suffix.lower() in {".bpmn", ".dmn", ".json"} and not base.startswith("."):
            files.append(BundleFile(base, archive.read(info), model_folder(info.filename, models)))
    return files


def group_by_model(files: list[BundleFile]) -> dict[str, list[BundleFile]]:
    """Files per process model folder ("" for files outside any)."""
    groups: dict[str, list[BundleFile]] = {}
    for f in files:
        groups.setdefault(f.folder, []).append(f)
    return groups


def ids_and_calls(files: list[BundleFile]) -> tuple[set[str], set[str]]:
    """(process ids defined, process ids called) by the BPMN files: to order a library's models."""
    defined: set[str] = set()
    called: set[str] = set()
    for f in files:
        if not f.name.endswith(".bpmn"):
            continue
        tree = _safe_parse(f.name, f.content, [])
        if tree is None:
            continue
        root = tree.getroot()
        defined.update(p.get("id") for p in root.findall(f"{{{BPMN_NS}}}process") if p.get("id"))
        called.update(c.get("calledElement") for c in root.iter(f"{{{BPMN_NS}}}callActivity")
                      if c.get("calledElement"))
    return defined, called - defined


# -- validation ------------------------------------------------------------------------------------

_DOCTYPE = re.compile(rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<!DOCTYPE", re.DOTALL)
# An ISO 8601 duration or cycle written without quotes still compiles (``PT2H`` is a name, ``R3/PT1H``
# a division) and would only fail when the timer is reached.
_UNQUOTED_ISO = re.compile(r"^(?:R\d*/\S+|P(?:T?\d+[\d.,]*[YMWDHS]))")


def _safe_parse(name: str, content: bytes, problems: list[Problem]) -> etree._ElementTree | None:
    match = _DOCTYPE.match(content)
    if match:
        # Refused before lxml reads it: whether entities are expanded must not depend on its version.
        line = content[:match.end()].count(b"\n") + 1
        problems.append(Problem(name, line, None, "DOCTYPE declarations (and so XML entities) are not allowed"))
        return None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_blank_text=False)
    try:
        tree = etree.parse(io.BytesIO(content), parser)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        problems.append(Problem(name, line, None, f"malformed XML: {exc.msg}"))
        return None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        problems.append(Problem(name, 1, None, "DOCTYPE declarations (and so XML entities) are not allowed"))
        return None
    return tree


def decision_ids(content: bytes) -> set[str]:
    """The ids of the decisions a DMN file defines (what a businessRuleTask's calledDecisionId names)."""
    tree = _safe_parse("(dmn)", content, [])
    if tree is None:
        return set()
    root = tree.getroot()
    ns = etree.QName(root).namespace
    return {d.get("id") for d in root.iter(f"{{{ns}}}decision") if d.get("id")}


def _xsd_problems(name: str, tree: etree._ElementTree) -> list[Problem]:
    with _XSD_LOCK:
        VALIDATOR.preprocess(tree)
        if VALIDATOR.validator.validate(tree):
            return []
        return [Problem(name, e.line, None, f"schema: {e.message}") for e in VALIDATOR.validator.error_log]


def _el_label(el: etree._Element) -> str:
    return el.get("id") or etree.QName(el).localname


def _compile_problem(name: str, el: etree._Element, text: str | None, mode: str, what: str,
                     language: str | None = None) -> Problem | None:
    foreign = foreign_expression(text, language) if mode == "eval" else None
    if foreign:
        return Problem(name, el.sourceline, _el_label(el), f"{what}: {foreign}")
    if text is None or not text.strip():
        return None
    reason = check_compiles(text, mode)
    if reason is None:
        for called in spiffarena_calls(text, mode):
            return Problem(name, el.sourceline, _el_label(el), spiffarena_call_message(called, what))
    if reason is None:
        return None
    return Problem(name, el.sourceline, _el_label(el), f"{what} does not compile: {reason}")


def _owner(el: etree._Element) -> etree._Element:
    """The nearest ancestor with an id (the element a problem belongs to)."""
    node = el
    # spiffworkflow: elements (an operator, a parameter) have ids that are not BPMN elements.
    while node is not None and (node.get("id") is None or etree.QName(node).namespace == SPIFF_NS):
        node = node.getparent()
    return node if node is not None else el


def _excluded_variables(trees: Iterable[etree._ElementTree]) -> frozenset[str]:
    """Variables any ``excludeUsers`` property of the bundle names (who is kept out of a step)."""
    names: set[str] = set()
    for tree in trees:
        for prop in tree.getroot().iter(f"{{{SPIFF_NS}}}property"):
            if prop.get("name") == "excludeUsers":
                names.update(split_names(prop.get("value")))
    return frozenset(names)


def _check_data_rules(name: str, proc: etree._Element, forms: dict[str, Any], roles: set[str],
                      protected: frozenset[str], problems: list[Problem]) -> None:
    """Who may start the process, and which data a caller may set when starting it or in a step.

    Start data never carries a server-owned key; no step (form or ``dataFields``) lets the person
    completing it set who acts next or who segregation of duties keeps out (``protected``).
    """
    props = process_properties(proc)
    label = proc.get("id")
    for role in split_names(props.get(STARTABLE_BY)):
        if normalize_role(role) not in roles:
            problems.append(Problem(name, proc.sourceline, label, f"{STARTABLE_BY} names '{role}', which is not a "
                                                                   f"known role (known: {', '.join(sorted(roles))})"))
    start_form = forms.get(props.get(START_FORM) or "")
    start_fields = set(split_names(props.get(START_DATA_FIELDS)))
    if props.get(START_FORM) and start_fields:
        problems.append(Problem(name, proc.sourceline, label,
                                f"declare start data with {START_FORM} or {START_DATA_FIELDS}, not both"))
    start_fields |= form_fields(start_form)[0]
    for key in sorted(start_fields & (SERVER_OWNED_KEYS | protected)):
        problems.append(Problem(name, proc.sourceline, label,
                                f"start data may not include '{key}': the server sets it"))
    forbidden = ROUTING_KEYS | protected
    for task in proc.iter():
        if not isinstance(task.tag, str):
            continue
        task_props = {p.get("name"): p.get("value") or "" for p in task.findall(
            f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}properties/{{{SPIFF_NS}}}property")}
        keys = set(split_names(task_props.get(DATA_FIELDS)))
        keys |= form_fields(forms.get(task_props.get("formJsonSchemaFilename") or ""))[0]
        for key in sorted(keys & forbidden):
            problems.append(Problem(name, task.sourceline, _el_label(task),
                                    f"a step may not let its user set '{key}': it decides who acts or who is "
                                    "kept out (segregation of duties)"))


def _check_bpmn(name: str, tree: etree._ElementTree, forms: dict[str, Any], roles: set[str],
                process_ids: set[str], problems: list[Problem], protected: frozenset[str] = frozenset(),
                bundle: Bundle | None = None) -> bool:
    """Our own checks on one BPMN file. Returns False if the file must not reach the parser.

    ``bundle`` collects the warnings (notes) and the lane groups the file needs."""
    root = tree.getroot()
    fatal = False
    processes = root.findall(f"{{{BPMN_NS}}}process")
    if not processes:
        problems.append(Problem(name, root.sourceline, None, "no bpmn:process in this file"))
    for proc in processes:
        if not proc.get("id"):
            problems.append(Problem(name, proc.sourceline, None, "bpmn:process has no id"))
            fatal = True
        else:
            _check_data_rules(name, proc, forms, roles, protected, problems)
    ids = {el.get("id") for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    for flow in root.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        for attr in ("sourceRef", "targetRef"):
            ref = flow.get(attr)
            if not ref:
                problems.append(Problem(name, flow.sourceline, flow.get("id"), f"sequence flow has no {attr}"))
                fatal = True
            elif ref not in ids:
                problems.append(Problem(name, flow.sourceline, flow.get("id"),
                                        f"{attr} points at '{ref}', which is not an element of this file"))
                fatal = True
    for cond in root.iter(f"{{{BPMN_NS}}}conditionExpression", f"{{{BPMN_NS}}}completionCondition",
                          f"{{{BPMN_NS}}}loopCardinality"):
        p = _compile_problem(name, _owner(cond), cond.text, "eval", "condition expression", cond.get("language"))
        if p:
            problems.append(p)
    for task in root.iter(f"{{{BPMN_NS}}}scriptTask"):
        language = (task.get("scriptFormat") or "").strip()
        if language and language.lower() not in ("python", "text/x-python", "python3", "py"):
            problems.append(Problem(name, task.sourceline, task.get("id"),
                                    f"script format '{language}': scripts here are Python"))
    for script in root.iter(f"{{{BPMN_NS}}}script"):
        if (script.getparent().get("scriptFormat") or "python").strip().lower() not in (
                "python", "text/x-python", "python3", "py"):
            continue
        p = _compile_problem(name, _owner(script), script.text, "exec", "script")
        if p:
            problems.append(p)
    for tag in ("preScript", "postScript"):
        for script in root.iter(f"{{{SPIFF_NS}}}{tag}"):
            p = _compile_problem(name, _owner(script), script.text, "exec", tag)
            if p:
                problems.append(p)
    for tag in ("timeDuration", "timeDate", "timeCycle"):
        for timer in root.iter(f"{{{BPMN_NS}}}{tag}"):
            p = _compile_problem(name, _owner(timer), timer.text, "eval",
                                 f"timer {tag} (a Python expression: quote ISO 8601 values)")
            if p is None and timer.text and _UNQUOTED_ISO.match(timer.text.strip()):
                p = Problem(name, timer.sourceline, _el_label(_owner(timer)),
                            f"timer {tag} '{timer.text.strip()}' is an unquoted ISO 8601 value; it is a Python"
                            f" expression, so write \"{timer.text.strip()}\"")
            if p:
                problems.append(p)
    for param in root.iter(f"{{{SPIFF_NS}}}parameter"):
        p = _compile_problem(name, _owner(param), param.get("value"), "eval",
                             f"service parameter '{param.get('id')}'")
        if p:
            problems.append(p)
    for prop in root.iter(f"{{{SPIFF_NS}}}property"):
        if prop.get("name") in FORM_PROPERTIES:
            form = prop.get("value") or ""
            owner = _owner(prop)
            if form.strip() and form not in forms:  # an empty value is "no form", as in SpiffArena
                problems.append(Problem(name, prop.sourceline, _el_label(owner),
                                        f"{prop.get('name')} names '{form}', which is not in the bundle"))
    for el in root.iter(f"{{{SPIFF_NS}}}instructionsForEndUser"):
        try:
            _JINJA.parse(el.text or "")
        except TemplateSyntaxError as exc:
            problems.append(Problem(name, (el.sourceline or 0) + max(exc.lineno - 1, 0), _el_label(_owner(el)),
                                    f"instructions template: {exc.message}"))
    for lane in root.iter(f"{{{BPMN_NS}}}lane"):
        lane_name = lane.get("name") or ""
        if not lane_name.strip():
            continue  # an unnamed lane's tasks go to the process initiator, as tasks outside lanes do
        if normalize_role(lane_name) not in roles | {INITIATOR_LANE} and bundle is not None:
            # SpiffArena treats lane names as groups: so does PMO Flow, with a warning.
            bundle.groups.setdefault(group_key(lane_name), lane_name.strip())
            bundle.notes.append(camunda.Finding(
                name, lane.sourceline, lane.get("id"), "lane", "warning",
                f"lane '{lane_name.strip()}' is not a role: its tasks go to the group '{lane_name.strip()}', "
                f"which an admin fills on the Groups page ({GROUPS_PAGE})"))
    _check_events_and_services(name, root, problems)
    for call in root.iter(f"{{{BPMN_NS}}}callActivity"):
        called = call.get("calledElement")
        if called and called not in process_ids:
            problems.append(Problem(name, call.sourceline, call.get("id"),
                                    f"calls process '{called}', which is neither in the bundle nor deployed"))
    return not fatal


_THROWING = ("endEvent", "intermediateThrowEvent")


def _check_events_and_services(name: str, root: etree._Element, problems: list[Problem]) -> None:
    """Message throws that name their message; service tasks whose operator exists here."""
    messages = {m.get("id") for m in root.iter(f"{{{BPMN_NS}}}message") if m.get("id")}
    for tag in _THROWING:
        for event in root.iter(f"{{{BPMN_NS}}}{tag}"):
            for definition in event.findall(f"{{{BPMN_NS}}}messageEventDefinition"):
                ref = definition.get("messageRef")
                kind = "message end event" if tag == "endEvent" else "message throw event"
                if not ref:
                    problems.append(Problem(name, event.sourceline, event.get("id"),
                                            f"{kind} has no messageRef: say which bpmn:message it sends"))
                elif ref not in messages:
                    problems.append(Problem(name, event.sourceline, event.get("id"),
                                            f"{kind} sends message '{ref}', which is not a bpmn:message of this file"))
    for operator in root.iter(f"{{{SPIFF_NS}}}serviceTaskOperator"):
        op_name = operator.get("id") or ""
        if op_name not in OPERATORS:
            names = sorted(OPERATORS)
            known = ", ".join(names[:8]) + (f", ... ({len(names)} in all)" if len(names) > 8 else "") or "none"
            problems.append(Problem(name, operator.sourceline, _el_label(_owner(operator.getparent())),
                                    f"service task operator '{op_name}' is not registered here (SpiffArena "
                                    f"connectors such as http/GetRequest do not exist in PMO Flow; known: {known})"))


def _check_dmn(name: str, tree: etree._ElementTree, problems: list[Problem]) -> None:
    root = tree.getroot()
    ns = etree.QName(root).namespace
    for table in root.iter(f"{{{ns}}}decisionTable"):
        inputs = [el.findtext(f"{{{ns}}}inputExpression/{{{ns}}}text") or ""
                  for el in table.findall(f"{{{ns}}}input")]
        for inp, expr in zip(table.findall(f"{{{ns}}}input"), inputs, strict=False):
            p = _compile_problem(name, inp, expr, "eval", "input expression")
            if p:
                problems.append(p)
        for rule in table.findall(f"{{{ns}}}rule"):
            for entry in rule.findall(f"{{{ns}}}inputEntry"):
                text = (entry.findtext(f"{{{ns}}}text") or "").strip()
                if not text or text == "-":
                    continue
                # The same readings SpiffWorkflow's DMN engine tries: "x == (e)" or "x e".
                candidate = text.replace("?", "x") if "?" in text else None
                reasons = [check_compiles(c, "eval") for c in
                           ([candidate] if candidate else [f"(x) == ({text})", f"x {text}"])]
                if all(reasons):
                    problems.append(Problem(name, entry.sourceline, rule.get("id"),
                                            f"input entry '{text}' does not compile: {reasons[0]}"))
            for entry in rule.findall(f"{{{ns}}}outputEntry"):
                p = _compile_problem(name, entry, entry.findtext(f"{{{ns}}}text"), "eval", "output entry")
                if p:
                    problems.append(Problem(p.file, p.line, rule.get("id"), p.message))


MAX_FORM_DEPTH = 64  # objects and arrays inside each other; real forms use a handful


def _depth_exceeds(doc: Any, limit: int) -> bool:
    """Iterative (a recursive walk would hit the recursion limit on exactly the documents it checks)."""
    stack = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return False


def check_form(name: str, content: bytes) -> tuple[Any, list[Problem]]:
    """A form file read and checked as a deploy checks it: (the document or None, its problems)."""
    problems: list[Problem] = []
    doc = _check_form(name, content, problems)
    return (doc if not problems else None), problems


def _check_form(name: str, content: bytes, problems: list[Problem]) -> Any:
    too_deep = f"nested more than {MAX_FORM_DEPTH} levels deep (objects and arrays inside each other)"
    try:
        doc = json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        problems.append(Problem(name, getattr(exc, "lineno", None), None, f"not valid JSON: {exc}"))
        return None
    except RecursionError:  # the JSON decoder's own depth limit
        problems.append(Problem(name, None, None, too_deep))
        return None
    if _depth_exceeds(doc, MAX_FORM_DEPTH):
        problems.append(Problem(name, None, None, too_deep))
        return None
    if not isinstance(doc, dict):
        problems.append(Problem(name, 1, None, "a form file must hold a JSON object"))
        return None
    is_ui = name.endswith("uischema.json") or name.endswith("-ui.json") or all(
        k.startswith("ui:") or isinstance(v, dict) for k, v in doc.items()) and "type" not in doc
    if not is_ui:
        for where, var in bad_option_variables(doc):
            problems.append(Problem(name, None, where, f"dynamic options name '{var}', which is not a task data "
                                                       "variable name (options_from_task_data_var:NAME)"))
        try:
            checked = with_options(doc, None, placeholder=True)  # SpiffArena's dynamic options: checked as enums
            jsonschema.validators.validator_for(checked).check_schema(checked)
        except jsonschema.SchemaError as exc:
            where = "/".join(str(p) for p in exc.path) or "(root)"
            problems.append(Problem(name, None, where, f"invalid JSON Schema: {exc.message}"))
        _check_rules(name, doc, "(root)", problems)
    return doc


def _check_rules(name: str, node: Any, where: str, problems: list[Problem]) -> None:
    """Each ``validationRules`` entry of a form (app/services/forms.py) names a field, has a message
    and an ``assert`` expression that compiles in the sandbox."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            _check_rules(name, item, f"{where}/{index}", problems)
        return
    if not isinstance(node, dict):
        return
    rules = node.get("validationRules")
    if rules is not None:
        if not isinstance(rules, list):
            problems.append(Problem(name, None, where, "validationRules must be a list of rules"))
            rules = []
        for index, rule in enumerate(rules):
            at = f"{where}/validationRules/{index}"
            if not isinstance(rule, dict) or not isinstance(rule.get("assert"), str) or not rule.get("field") \
                    or not rule.get("message"):
                problems.append(Problem(name, None, at, "a validation rule needs field, assert and message"))
                continue
            reason = check_compiles(rule["assert"], "eval")
            if reason:
                problems.append(Problem(name, None, at, f"the rule's assert does not compile: {reason}"))
    for key, value in node.items():
        if key != "validationRules" and isinstance(value, (dict, list)):
            _check_rules(name, value, f"{where}/{key}" if where != "(root)" else key, problems)


def _referenced_forms(spec, subprocess_specs: dict) -> list[str]:  # noqa: ANN001
    names: set[str] = set()
    for s in [spec, *subprocess_specs.values()]:
        for task_spec in s.task_specs.values():
            props = (getattr(task_spec, "extensions", {}) or {}).get("properties", {}) or {}
            names.update(v for k, v in props.items() if k in FORM_PROPERTIES and v)
    return sorted(names)


def _called_version(call: etree._Element) -> tuple[int | None, str | None]:
    """(pinned version, problem) of a call activity's ``calledElementVersion`` property."""
    for prop in call.findall(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}properties/{{{SPIFF_NS}}}property"):
        if prop.get("name") == CALLED_VERSION:
            value = (prop.get("value") or "").strip().lstrip("vV")
            if not value:
                return None, None
            if not value.isdigit():
                return None, f"{CALLED_VERSION} '{prop.get('value')}' is not a version number"
            return int(value), None
    return None, None


def _resolve_calls(trees: dict[str, etree._ElementTree], process_ids: set[str], resolve: Resolver | None,
                   problems: list[Problem]) -> dict[str, Resolved]:
    """Called processes not in the bundle (or pinned to a version): found through ``resolve``."""
    found: dict[str, Resolved] = {}
    for fname, tree in trees.items():
        for call in tree.getroot().iter(f"{{{BPMN_NS}}}callActivity"):
            called = call.get("calledElement")
            pin, bad = _called_version(call)
            if bad:
                problems.append(Problem(fname, call.sourceline, call.get("id"), bad))
                continue
            if not called or (called in process_ids and pin is None):
                continue
            resolved = resolve(called, pin) if resolve is not None else None
            if resolved is None:
                if pin is not None:
                    problems.append(Problem(fname, call.sourceline, call.get("id"),
                                            f"calls process '{called}' version {pin}, which is not deployed"))
                continue
            other = found.get(called)
            if other is not None and other.version != resolved.version:
                problems.append(Problem(fname, call.sourceline, call.get("id"),
                                        f"calls process '{called}' in two versions ({other.version} and "
                                        f"{resolved.version}); one instance can hold only one"))
                continue
            found[called] = resolved
    return found


def _with_called(subprocess_specs: dict[str, Any], resolved: dict[str, Resolved]) -> tuple[dict[str, Any], dict[str, Resolved]]:
    """Fill in the called processes found outside the bundle (the parser leaves them None)."""
    specs = dict(subprocess_specs)
    used: dict[str, Resolved] = {}
    for name in [n for n in specs if n in resolved]:
        r = resolved[name]
        specs[name] = r.spec
        used[name] = r
        for sub, sub_spec in r.subprocess_specs.items():
            if specs.get(sub) is None:
                specs[sub] = sub_spec
    missing = sorted(name for name, spec in specs.items() if spec is None)
    if missing:
        raise ValueError(f"called process {', '.join(missing)} is neither in the bundle nor deployed")
    return specs, used


def _qualify_called_forms(spec_dict: dict[str, Any], calls: dict[str, Resolved],
                          files: dict[str, bytes]) -> tuple[dict[str, Any], Any, dict[str, Any]]:
    """The forms of called processes taken from elsewhere, renamed ``prefix/name`` in their task
    specs and added to ``files``; returns the changed spec dict and the specs rebuilt from it."""
    from .runtime import spec_from_dict

    spec_dict = json.loads(json.dumps(spec_dict))
    for name, r in calls.items():
        subs = [spec_dict["subprocess_specs"][n] for n in (name, *r.subprocess_specs)
                if n in spec_dict["subprocess_specs"]]
        for task_spec in (t for sub in subs for t in (sub.get("task_specs") or {}).values()):
            props = (task_spec.get("extensions") or {}).get("properties") or {}
            for prop in FORM_PROPERTIES:
                form = props.get(prop)
                if form and form in r.files:
                    qualified = f"{r.prefix}/{form}"
                    props[prop] = qualified
                    files[qualified] = r.files[form]
    spec, subprocess_specs = spec_from_dict(spec_dict)
    return spec_dict, spec, subprocess_specs


# The most flow elements, sequence flows and other elements (anything with an id) one process may
# have: a larger one is refused with a clear problem (422) instead of exhausting the worker.
MAX_PROCESS_ELEMENTS = 10_000
# SpiffWorkflow's parser follows a chain of elements recursively (a few Python frames per element):
# building a spec runs on a thread with room for the longest chain MAX_PROCESS_ELEMENTS allows.
_DEEP_STACK_BYTES = 512 * 1024 * 1024
_DEEP_RECURSION = 20 * MAX_PROCESS_ELEMENTS
_deep_lock = threading.Lock()


def _deep_call(fn: Callable[[], Any]) -> Any:
    """``fn()`` on a thread with a deep stack and a high recursion limit; its result or its exception.
    Only engine work on objects in memory runs there (no database session, no app context)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            outcome["error"] = exc

    with _deep_lock:  # the recursion limit is the interpreter's: one deep call at a time
        old_limit, old_stack = sys.getrecursionlimit(), threading.stack_size()
        threading.stack_size(_DEEP_STACK_BYTES)
        try:
            sys.setrecursionlimit(max(old_limit, _DEEP_RECURSION))
            worker = threading.Thread(target=run, name="pmo-deep-parse")
            worker.start()
            worker.join()
        finally:
            threading.stack_size(old_stack)
            sys.setrecursionlimit(old_limit)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _build_spec(parser: SpiffBpmnParser, key: str, resolved: dict[str, Resolved]) -> tuple[Any, dict, dict, dict]:
    spec = parser.get_spec(key)
    subprocess_specs, calls = _with_called(parser.get_subprocess_specs(key, require_call_activity_specs=False), resolved)
    return spec, subprocess_specs, calls, spec_to_dict(spec, subprocess_specs)


def _too_large(fname: str, tree: etree._ElementTree) -> list[Problem]:
    problems = []
    for proc in tree.getroot().iter(f"{{{BPMN_NS}}}process"):
        count = sum(1 for el in proc.iter() if isinstance(el.tag, str) and el.get("id")
                    and etree.QName(el).namespace == BPMN_NS) - 1
        if count > MAX_PROCESS_ELEMENTS:
            problems.append(Problem(fname, proc.sourceline, proc.get("id"),
                                    f"process '{proc.get('id')}' has {count:,} elements; at most "
                                    f"{MAX_PROCESS_ELEMENTS:,} are accepted (split it into called processes)"))
    return problems


def load_bundle(files: list[BundleFile], roles: Iterable[str], resolve: Resolver | None = None) -> Bundle:
    """Validate every file and build the process specs; raise BundleInvalid with all problems.

    ``resolve`` finds called processes outside the bundle (deployed ones, newest or pinned with the
    call activity's ``calledElementVersion`` property)."""
    problems: list[Problem] = []
    role_set = {normalize_role(r) for r in roles}
    by_name: dict[str, bytes] = {}
    for f in files:
        if f.name in by_name and by_name[f.name] != f.content:
            problems.append(Problem(f.name, None, None, "two different files with this name in the bundle"))
        by_name[f.name] = f.content
    if not by_name:
        raise BundleInvalid([Problem("(bundle)", None, None, "no .bpmn, .dmn or .json files found")])

    forms: dict[str, Any] = {}
    for fname, content in by_name.items():
        if fname.endswith(".json") and fname != "process_model.json" and not is_scenario_file(fname):
            forms[fname] = _check_form(fname, content, problems)

    trees: dict[str, etree._ElementTree] = {}
    for fname, content in by_name.items():
        if fname.endswith((".bpmn", ".dmn")):
            tree = _safe_parse(fname, content, problems)
            if tree is not None:
                trees[fname] = tree

    bundle = Bundle(files=by_name)
    for fname, tree in trees.items():
        if etree.QName(tree.getroot()).namespace == BPMN_NS:
            for finding in camunda.import_extensions(fname, tree, forms, by_name):
                if finding.outcome == "error":
                    problems.append(Problem(finding.file, finding.line, finding.element,
                                            f"{finding.what}: {finding.message}"))
                else:
                    bundle.notes.append(finding)

    process_ids = {
        p.get("id") for t in trees.values() for p in t.getroot().findall(f"{{{BPMN_NS}}}process") if p.get("id")
    }
    protected = _excluded_variables(trees.values())
    resolved = _resolve_calls({n: t for n, t in trees.items() if n.endswith(".bpmn")}, process_ids, resolve, problems)
    parser = SpiffBpmnParser()
    usable: dict[str, etree._ElementTree] = {}
    for fname, tree in trees.items():
        namespace = etree.QName(tree.getroot()).namespace
        if fname.endswith(".dmn") or namespace in DMN_NAMESPACES:
            if namespace not in DMN_NAMESPACES:
                problems.append(Problem(fname, tree.getroot().sourceline, None, "not a DMN document"))
                continue
            _check_dmn(fname, tree, problems)
            try:
                parser.add_dmn_xml(tree.getroot(), filename=fname)
            except (ValidationException, SpiffWorkflowException, etree.LxmlError) as exc:
                problems.append(_problem_from_spiff(fname, exc))
            continue
        if namespace != BPMN_NS:
            problems.append(Problem(fname, tree.getroot().sourceline, None, "not a BPMN 2.0 document"))
            continue
        too_large = _too_large(fname, tree)
        if too_large:
            problems.extend(too_large)
            continue
        xsd = _xsd_problems(fname, tree)
        problems.extend(xsd)
        if _check_bpmn(fname, tree, forms, role_set, process_ids | set(resolved), problems, protected,
                       bundle) and not xsd:
            usable[fname] = tree

    for fname, tree in usable.items():
        try:
            parser.add_bpmn_xml(tree, filename=fname)
        except (ValidationException, SpiffWorkflowException, etree.LxmlError, ValueError, KeyError) as exc:
            problems.append(_problem_from_spiff(fname, exc))

    if problems:
        raise BundleInvalid(_located(problems, trees))
    for fname, tree in usable.items():
        for proc in tree.getroot().findall(f"{{{BPMN_NS}}}process"):
            key = proc.get("id")
            try:
                spec, subprocess_specs, calls, spec_dict = _deep_call(lambda key=key: _build_spec(parser, key, resolved))
                if calls:
                    spec_dict, spec, subprocess_specs = _qualify_called_forms(spec_dict, calls, by_name)
            except (ValidationException, SpiffWorkflowException, KeyError, TypeError, ValueError) as exc:
                problems.append(_problem_from_spiff(fname, exc, element=key))
                continue
            policy = start_policy(proc)
            form_names = sorted(set(_referenced_forms(spec, subprocess_specs)) | (
                {policy["form"]} if policy["form"] else set()))
            # The start policy is part of the version: changing who may start a process deploys anew.
            digest = hashlib.sha256(json.dumps([spec_dict, policy], sort_keys=True, default=str).encode())
            for form in form_names:
                digest.update(form.encode() + b"\0" + by_name.get(form, b""))
            bundle.processes[key] = ParsedProcess(
                key=key, name=proc.get("name") or key, file=fname, spec=spec,
                subprocess_specs=subprocess_specs, spec_dict=spec_dict, forms=form_names,
                content_hash=digest.hexdigest(), start_policy=policy, calls=calls,
            )
    if problems:
        raise BundleInvalid(_located(problems, trees))
    return bundle


def _located(problems: list[Problem], trees: dict[str, etree._ElementTree]) -> list[Problem]:
    """Fill in the line of a problem that names an element, and the element of one that names a line."""
    located = []
    for problem in problems:
        tree = trees.get(problem.file)
        if tree is not None and problem.element and not problem.line:
            found = tree.getroot().xpath("//*[@id=$id]", id=problem.element)
            if found:
                problem = dataclasses.replace(problem, line=found[0].sourceline)
        elif tree is not None and problem.line and not problem.element:
            at_line = [el for el in tree.getroot().iter() if isinstance(el.tag, str) and el.sourceline == problem.line]
            owner = _owner(at_line[-1]) if at_line else None
            if owner is not None and owner.get("id") and owner is not tree.getroot():
                problem = dataclasses.replace(problem, element=owner.get("id"))
        located.append(problem)
    return located


def _problem_from_spiff(fname: str, exc: Exception, element: str | None = None) -> Problem:
    line = getattr(exc, "line_number", None) or getattr(exc, "sourceline", None) or None
    elem = getattr(exc, "id", None) or element
    message = str(exc)
    notes = getattr(exc, "__notes__", None)
    if notes:
        message += " (" + "; ".join(notes) + ")"
    return Problem(getattr(exc, "file_name", None) or fname, int(line) if line else None, elem or None, message)
