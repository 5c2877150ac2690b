"""Camunda 7 (``camunda:``) and Camunda 8 (``zeebe:``) extensions on import.

They were dropped without a word: a task with ``camunda:candidateGroups="ccb"`` went to the
initiator. Here what has a clear meaning in PMO Flow is mapped onto the diagram before it is
parsed, and every attribute or element is reported:

* mapped: candidate groups (a lane named after the group: the role, or else the lane group of that
  name), an initiator assignee (the ``process_initiator`` lane), a named assignee and candidate users
  (the task properties ``assignee`` / ``candidateUsers``: the task's owners), due / follow-up dates given as ISO durations (``dueIn``), a form
  key naming a form file of the bundle, Camunda 7 generated forms (``camunda:formData``, turned
  into a JSON Schema file), decision references, Zeebe's called element;
* error (refused: running without it would change what the process does): listeners, connectors,
  Java delegates, external tasks and job workers, input/output mappings;
* warning (ignored, it changes nothing that runs here): the rest, e.g. ``historyTimeToLive``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lxml import etree

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
INITIATOR_LANE = "process_initiator"
_INITIATOR_EXPRESSIONS = re.compile(r"^\s*(?:[$#]\{\s*(?:initiator|starter)\s*\}|=\s*(?:initiator|starter))\s*$")
# Task properties naming the users who take a task (read by app/instances/commands.py ``_candidates``):
# the assignee alone, or candidate users offered the task besides its lane's role or group.
ASSIGNEE_PROPERTY = "assignee"
CANDIDATE_USERS_PROPERTY = "candidateUsers"
_USERNAME = re.compile(r"^[A-Za-z0-9._-]{1,80}$")
# A FEEL list of string literals (Zeebe): = ["carla", "chen"]
_FEEL_NAMES = re.compile(r'^=\s*\[\s*(?:"[^"]*"\s*(?:,\s*"[^"]*"\s*)*)?\]\s*$')
_ISO_DURATION = re.compile(r"^P(?:\d+[YMWD])*(?:T(?:\d+[HMS])+)?$")

_CODE_ATTRIBUTES = {"class", "delegateExpression", "expression", "type", "topic"}
_IGNORED_ATTRIBUTES = {
    "historyTimeToLive", "versionTag", "isStartableInTasklist", "jobPriority", "taskPriority", "priority",
    "asyncBefore", "asyncAfter", "exclusive", "async", "calledElementBinding", "calledElementVersion",
    "calledElementVersionTag", "calledElementTenantId", "decisionRefBinding", "decisionRefVersion",
    "candidateStarterGroups", "candidateStarterUsers", "errorCodeVariable", "errorMessageVariable",
    "variableMappingClass", "variableMappingDelegateExpression", "formHandlerClass", "formRefBinding",
    "formRefVersion", "initiator", "resultVariable", "mapDecisionResult", "escalationCodeVariable",
    "collection", "elementVariable", "variableName",
}
_ERROR_ELEMENTS = {
    (CAMUNDA_NS, "executionListener"): "an execution listener runs code at this element",
    (CAMUNDA_NS, "taskListener"): "a task listener runs code at this task",
    (CAMUNDA_NS, "connector"): "a connector calls another system",
    (CAMUNDA_NS, "inputOutput"): "input/output mappings change the data this element sees and leaves",
    (ZEEBE_NS, "taskDefinition"): "a job worker does this task's work",
    (ZEEBE_NS, "ioMapping"): "input/output mappings change the data this element sees and leaves",
    (ZEEBE_NS, "executionListeners"): "an execution listener runs code at this element",
    (ZEEBE_NS, "taskListeners"): "a task listener runs code at this task",
}
_FORM_TYPES = {"string": {"type": "string"}, "long": {"type": "integer"}, "boolean": {"type": "boolean"},
               "date": {"type": "string", "format": "date"}, "enum": {"type": "string"}}


class Finding:
    """One Camunda attribute or element and what became of it."""

    __slots__ = ("file", "line", "element", "what", "outcome", "message")

    def __init__(self, file: str, line: int | None, element: str | None, what: str, outcome: str,
                 message: str) -> None:
        self.file, self.line, self.element, self.what = file, line, element, what
        self.outcome, self.message = outcome, message

    def __str__(self) -> str:
        return f"{self.file}:{self.line or 0}: {self.element or '-'}: {self.outcome}: {self.what}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "element": self.element, "attribute": self.what,
                "outcome": self.outcome, "message": self.message}


def _owner_id(el: etree._Element) -> str | None:
    node = el
    while node is not None:
        if node.get("id") and etree.QName(node).namespace == BPMN_NS:
            return node.get("id")
        node = node.getparent()
    return None


def _bpmn_owner(el: etree._Element) -> etree._Element:
    node = el
    while node is not None and (etree.QName(node).namespace != BPMN_NS or etree.QName(node).localname
                                == "extensionElements"):
        node = node.getparent()
    return node if node is not None else el


def _extension_elements(el: etree._Element) -> etree._Element:
    ext = el.find(f"{{{BPMN_NS}}}extensionElements")
    if ext is None:
        ext = etree.Element(f"{{{BPMN_NS}}}extensionElements")
        docs = el.findall(f"{{{BPMN_NS}}}documentation")
        el.insert(el.index(docs[-1]) + 1 if docs else 0, ext)
    return ext


def _set_property(el: etree._Element, name: str, value: str) -> None:
    ext = _extension_elements(el)
    props = ext.find(f"{{{SPIFF_NS}}}properties")
    if props is None:
        props = etree.SubElement(ext, f"{{{SPIFF_NS}}}properties")
    for prop in props.findall(f"{{{SPIFF_NS}}}property"):
        if prop.get("name") == name:
            prop.set("value", value)
            return
    etree.SubElement(props, f"{{{SPIFF_NS}}}property", name=name, value=value)


def _process_of(el: etree._Element) -> etree._Element | None:
    node = el
    while node is not None and etree.QName(node).localname != "process":
        node = node.getparent()
    return node


def _lane_of(process: etree._Element, task_id: str) -> etree._Element | None:
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        if any((ref.text or "").strip() == task_id for ref in lane.findall(f"{{{BPMN_NS}}}flowNodeRef")):
            return lane
    return None


def _put_in_lane(task: etree._Element, lane_name: str) -> str | None:
    """Put ``task`` in the lane ``lane_name`` (made when missing); why not, when it cannot be."""
    process = _process_of(task)
    if process is None:
        return "the task is not inside a process"
    current = _lane_of(process, task.get("id"))
    if current is not None:
        return f"the task is in lane '{current.get('name') or current.get('id')}', which decides who takes it"
    lane_set = process.find(f"{{{BPMN_NS}}}laneSet")
    if lane_set is None:
        lane_set = etree.Element(f"{{{BPMN_NS}}}laneSet", id=f"LaneSet_{process.get('id')}")
        skip = {f"{{{BPMN_NS}}}{t}" for t in ("documentation", "extensionElements", "auditing", "monitoring",
                                               "property")}
        position = sum(1 for child in process if child.tag in skip)
        process.insert(position, lane_set)
    lane = next((ln for ln in lane_set.findall(f"{{{BPMN_NS}}}lane") if ln.get("name") == lane_name), None)
    if lane is None:
        lane = etree.SubElement(lane_set, f"{{{BPMN_NS}}}lane", id=f"Lane_{re.sub(r'[^A-Za-z0-9_]', '_', lane_name)}",
                                name=lane_name)
    etree.SubElement(lane, f"{{{BPMN_NS}}}flowNodeRef").text = task.get("id")
    return None


def _user_names(value: str) -> list[str] | None:
    """The usernames a Camunda/Zeebe attribute lists literally (``carla, chen`` or FEEL ``= ["carla"]``);
    None when it is an expression evaluated at run time there."""
    text = value.strip()
    if _FEEL_NAMES.match(text):
        names = re.findall(r'"([^"]*)"', text)
    elif text.startswith(("$", "#", "=")):
        return None
    else:
        names = [n.strip() for n in text.split(",")]
    names = [n for n in names if n]
    if not all(_USERNAME.match(n) for n in names):
        return None
    return list(dict.fromkeys(names))


class _Import:
    def __init__(self, name: str, forms: dict[str, Any], files: dict[str, bytes]) -> None:
        self.name, self.forms, self.files = name, forms, files
        self.findings: list[Finding] = []

    def note(self, el: etree._Element, what: str, outcome: str, message: str) -> None:
        self.findings.append(Finding(self.name, el.sourceline, _owner_id(el), what, outcome, message))

    # -- assignment --------------------------------------------------------------------------------

    def groups(self, task: etree._Element, source: etree._Element, what: str, value: str) -> None:
        groups = [g.strip() for g in value.split(",") if g.strip()]
        if not groups or any(g.startswith(("$", "#", "=")) for g in groups):
            self.note(source, what, "warning", f"'{value}' is an expression: give the task a lane instead")
            return
        why = _put_in_lane(task, groups[0])
        if why:
            self.note(source, what, "warning", f"not applied: {why}")
            return
        extra = f"; only the first group gives the lane, not {', '.join(groups[1:])}" if len(groups) > 1 else ""
        self.note(source, what, "mapped", f"the task is in lane '{groups[0]}' (the role of that name, or else "
                                          f"the group an admin fills){extra}")

    def assignee(self, task: etree._Element, source: etree._Element, what: str, value: str) -> None:
        if _INITIATOR_EXPRESSIONS.match(value):
            why = _put_in_lane(task, INITIATOR_LANE)
            if why is None:
                self.note(source, what, "mapped", "the task goes to the process initiator")
                return
            self.note(source, what, "warning", f"not applied: {why}")
            return
        names = _user_names(value)
        if names is None or len(names) != 1:
            self.note(source, what, "warning", f"'{value}' is an expression: give the task a lane, or name its "
                                               "people in task data lane_owners = {'<lane>': ['user', ...]}")
            return
        _set_property(task, ASSIGNEE_PROPERTY, names[0])
        self.note(source, what, "mapped", f"the task is assigned to user '{names[0]}' (its owner, before its lane)")

    def users(self, task: etree._Element, source: etree._Element, what: str, value: str) -> None:
        names = _user_names(value)
        if not names:
            self.note(source, what, "warning", f"'{value}' is an expression: give the task a lane, or name its "
                                               "people in task data lane_owners = {'<lane>': ['user', ...]}")
            return
        _set_property(task, CANDIDATE_USERS_PROPERTY, ",".join(names))
        self.note(source, what, "mapped", f"the task is offered to user(s) {', '.join(names)} "
                                          "(besides its lane's role or group, if it has a lane)")

    def due(self, task: etree._Element, source: etree._Element, what: str, value: str) -> None:
        text = value.strip()
        if text.startswith("="):
            text = text[1:].strip().strip('"')
        if _ISO_DURATION.match(text):
            _set_property(task, "dueIn", text)
            self.note(source, what, "mapped", f"dueIn {text} (from when the task is ready)")
        else:
            self.note(source, what, "warning", f"'{value}' is not an ISO 8601 duration: no due date is set")

    def form(self, task: etree._Element, source: etree._Element, what: str, value: str) -> None:
        key = re.sub(r"^(?:embedded:)?(?:app:|deployment:|camunda-forms:(?:app:|deployment:)?)", "", value.strip())
        base = key.rsplit("/", 1)[-1]
        stem = base.rsplit(".", 1)[0]
        for candidate in (base, f"{stem}.json", f"{stem}-schema.json"):
            if candidate in self.forms and self.forms[candidate] is not None:
                _set_property(task, "formJsonSchemaFilename", candidate)
                self.note(source, what, "mapped", f"the task's form is {candidate}")
                return
        self.note(source, what, "warning", f"no form file for '{value}' in the bundle (add {stem}-schema.json, "
                                           "a JSON Schema): the task has no form")

    def form_data(self, task: etree._Element, data: etree._Element) -> None:
        properties: dict[str, Any] = {}
        required: list[str] = []
        for fld in data.findall(f"{{{CAMUNDA_NS}}}formField"):
            fid = fld.get("id")
            if not fid:
                continue
            prop = dict(_FORM_TYPES.get(fld.get("type") or "string", {"type": "string"}))
            prop["title"] = fld.get("label") or fid
            values = fld.findall(f"{{{CAMUNDA_NS}}}value")
            if values:
                prop["enum"] = [v.get("id") for v in values]
                prop["enumNames"] = [v.get("name") or v.get("id") for v in values]
            if fld.get("defaultValue") is not None and not (fld.get("defaultValue") or "").startswith(("$", "#")):
                prop["default"] = fld.get("defaultValue")
            for constraint in fld.iter(f"{{{CAMUNDA_NS}}}constraint"):
                if constraint.get("name") == "required" and constraint.get("config", "true") != "false":
                    required.append(fid)
                elif constraint.get("name") == "readonly":
                    prop["readOnly"] = True
            properties[fid] = prop
        file_name = f"{task.get('id')}-schema.json"
        schema = {"title": task.get("name") or task.get("id"), "type": "object", "properties": properties}
        if required:
            schema["required"] = required
        self.files[file_name] = json.dumps(schema, indent=2).encode()
        self.forms[file_name] = schema
        _set_property(task, "formJsonSchemaFilename", file_name)
        self.note(data, "camunda:formData", "mapped", f"{len(properties)} field(s) as the form {file_name}")

    # -- the walk -----------------------------------------------------------------------------------

    def attribute(self, el: etree._Element, local: str, value: str, prefix: str) -> None:
        what = f"{prefix}:{local}"
        tag = etree.QName(el).localname
        if local == "candidateGroups" and tag == "userTask":
            self.groups(el, el, what, value)
        elif local == "assignee" and tag == "userTask":
            self.assignee(el, el, what, value)
        elif local == "candidateUsers" and tag == "userTask":
            self.users(el, el, what, value)
        elif local in ("dueDate", "followUpDate") and tag == "userTask":
            if local == "followUpDate" and el.get(f"{{{CAMUNDA_NS}}}dueDate"):
                self.note(el, what, "warning", "ignored: dueDate gives the due time")
            else:
                self.due(el, el, what, value)
        elif local == "formKey" and tag in ("userTask", "startEvent"):
            self.form(el, el, what, value) if tag == "userTask" else self.note(
                el, what, "warning", "start forms are declared with startFormJsonSchemaFilename")
        elif local == "formRef" and tag == "userTask":
            self.form(el, el, what, value)
        elif local == "decisionRef" and tag == "businessRuleTask":
            ext = _extension_elements(el)
            called = etree.SubElement(ext, f"{{{SPIFF_NS}}}calledDecisionId")
            called.text = value
            self.note(el, what, "mapped", f"the task evaluates decision '{value}'")
        elif local in _CODE_ATTRIBUTES:
            self.note(el, what, "error", f"'{value}' runs code or an external worker that PMO Flow does not have; "
                                         "use a service task operator (spiffworkflow:serviceTaskOperator) or a script")
        elif local in _IGNORED_ATTRIBUTES:
            self.note(el, what, "warning", "ignored: it changes nothing that runs here")
        else:
            self.note(el, what, "warning", "not mapped: ignored")

    def element(self, el: etree._Element, owner: etree._Element) -> None:
        qname = etree.QName(el)
        prefix = "camunda" if qname.namespace == CAMUNDA_NS else "zeebe"
        what = f"{prefix}:{qname.localname}"
        reason = _ERROR_ELEMENTS.get((qname.namespace, qname.localname))
        if reason:
            self.note(el, what, "error", f"{reason}; PMO Flow does not run it (use a script task or a service "
                                         "task operator)")
            return
        local = qname.localname
        if qname.namespace == CAMUNDA_NS and local == "formData":
            self.form_data(owner, el)
        elif qname.namespace == ZEEBE_NS and local == "assignmentDefinition":
            if el.get("candidateGroups"):
                self.groups(owner, el, f"{what} candidateGroups", el.get("candidateGroups"))
            if el.get("assignee"):
                self.assignee(owner, el, f"{what} assignee", el.get("assignee"))
            if el.get("candidateUsers"):
                self.users(owner, el, f"{what} candidateUsers", el.get("candidateUsers"))
        elif qname.namespace == ZEEBE_NS and local == "taskSchedule":
            if el.get("dueDate"):
                self.due(owner, el, f"{what} dueDate", el.get("dueDate"))
            elif el.get("followUpDate"):
                self.due(owner, el, f"{what} followUpDate", el.get("followUpDate"))
        elif qname.namespace == ZEEBE_NS and local == "formDefinition":
            key = el.get("formKey") or el.get("formId") or el.get("externalReference") or ""
            self.form(owner, el, what, key)
        elif qname.namespace == ZEEBE_NS and local == "userTask":
            self.note(el, what, "mapped", "a Zeebe user task: a user task here")
        elif qname.namespace == ZEEBE_NS and local == "calledElement" and el.get("processId"):
            if not owner.get("calledElement"):
                owner.set("calledElement", el.get("processId"))
            self.note(el, what, "mapped", f"calls process '{el.get('processId')}'"
                      + ("" if el.get("propagateAllChildVariables", "true") != "false" else
                         "; all variables are passed in and out here (propagateAllChildVariables=false is not)"))
        elif qname.namespace == ZEEBE_NS and local == "calledDecision" and el.get("decisionId"):
            called = etree.SubElement(_extension_elements(owner), f"{{{SPIFF_NS}}}calledDecisionId")
            called.text = el.get("decisionId")
            self.note(el, what, "mapped", f"the task evaluates decision '{el.get('decisionId')}'")
        elif qname.namespace == CAMUNDA_NS and local in ("in", "out"):
            self.note(el, what, "warning", "variable mappings of call activities are ignored: all task data is "
                                           "passed in and out")
        else:
            self.note(el, what, "warning", "not mapped: ignored")


def import_extensions(name: str, tree: etree._ElementTree, forms: dict[str, Any],
                      files: dict[str, bytes]) -> list[Finding]:
    """Map the Camunda 7/8 extensions of one BPMN file in place; what became of each one.

    ``forms``/``files``: the bundle's parsed forms and files; generated forms are added to both.
    """
    root = tree.getroot()
    if CAMUNDA_NS not in (root.nsmap or {}).values() and ZEEBE_NS not in (root.nsmap or {}).values() \
            and not any(isinstance(el.tag, str) and etree.QName(el).namespace in (CAMUNDA_NS, ZEEBE_NS)
                        for el in root.iter()):
        return []
    work = _Import(name, forms, files)
    for el in list(root.iter()):
        if not isinstance(el.tag, str):
            continue
        namespace = etree.QName(el).namespace
        if namespace == BPMN_NS:
            for attr, value in list(el.attrib.items()):
                qattr = etree.QName(attr)
                if qattr.namespace == CAMUNDA_NS:
                    work.attribute(el, qattr.localname, value, "camunda")
                elif qattr.namespace == ZEEBE_NS:
                    work.attribute(el, qattr.localname, value, "zeebe")
        elif namespace in (CAMUNDA_NS, ZEEBE_NS):
            parent = el.getparent()
            if parent is not None and etree.QName(parent).namespace in (CAMUNDA_NS, ZEEBE_NS):
                continue  # reported with the element that holds it
            work.element(el, _bpmn_owner(el))
    return work.findings
