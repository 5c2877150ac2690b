"""What changed between two versions of a process, element by element, for people to review.

SpiffWorkflow's ``SpecDiff`` aligns the task specs of two versions (by BPMN id, then by structure)
and names the changed attributes; this turns that into element ids with plain-words changes, and adds
what ``SpecDiff`` cannot see: the text of changed scripts, conditions and timers, and form fields
(a form is only a file name to the spec).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.util.diff import SpecDiff

from app.engine.serializer import _make_registry

_REGISTRY = _make_registry()
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"

# Attribute names of SpecDiff in words a process owner reads.
_WHAT = {"bpmn_name": "name", "prescript": "pre-script", "postscript": "post-script", "script": "script",
         "extensions": "properties (form, instructions, operator, ...)", "cond_task_specs": "conditions",
         "lane": "lane", "timer": "timer", "event_definition": "event", "documentation": "documentation",
         "decision_ref": "called decision", "operation_name": "operator", "outputs": "outgoing flows",
         "inputs": "incoming flows", "default_task_spec": "default flow"}

_TEXTS = {  # element text that matters to the engine, by where it sits
    "script": f"{{{BPMN}}}script", "condition": f"{{{BPMN}}}conditionExpression",
    "timer": f"{{{BPMN}}}timeDuration", "timer date": f"{{{BPMN}}}timeDate", "timer cycle": f"{{{BPMN}}}timeCycle",
    "pre-script": f"{{{SPIFF}}}preScript", "post-script": f"{{{SPIFF}}}postScript",
    "instructions": f"{{{SPIFF}}}instructionsForEndUser", "called decision": f"{{{SPIFF}}}calledDecisionId",
}


@dataclass
class ElementChange:
    element: str
    name: str
    kind: str  # added | removed | changed
    what: list[str] = field(default_factory=list)
    texts: list[dict[str, str]] = field(default_factory=list)  # {what, before, after}


@dataclass
class VersionDiff:
    elements: list[ElementChange] = field(default_factory=list)
    forms: list[dict[str, Any]] = field(default_factory=list)  # {file, added: [...], removed: [...], changed: [...]}
    decisions: list[dict[str, Any]] = field(default_factory=list)  # {file, changes: [{what, before, after}]}

    @property
    def marks(self) -> dict[str, str]:
        return {c.element: c.kind for c in self.elements}

    @property
    def empty(self) -> bool:
        return not self.elements and not self.forms and not self.decisions


def _bpmn_id(spec: Any) -> str | None:
    return getattr(spec, "bpmn_id", None)


def _texts_by_element(xml: bytes | None) -> dict[str, dict[str, str]]:
    """Script, condition, timer and extension texts of each element, keyed by element id."""
    if not xml:
        return {}
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError:
        return {}
    found: dict[str, dict[str, str]] = {}
    for label, tag in _TEXTS.items():
        for node in root.iter(tag):
            owner = node.getparent()
            while owner is not None and not owner.get("id"):
                owner = owner.getparent()
            if owner is not None:
                found.setdefault(owner.get("id"), {})[label] = (node.text or "").strip()
    for prop in root.iter(f"{{{SPIFF}}}property"):
        owner = prop.getparent()
        while owner is not None and not owner.get("id"):
            owner = owner.getparent()
        if owner is not None:
            found.setdefault(owner.get("id"), {})[f"property {prop.get('name')}"] = prop.get("value") or ""
    return found


def diff_specs(old: tuple[Any, dict], new: tuple[Any, dict], old_xml: bytes | None = None,
               new_xml: bytes | None = None) -> VersionDiff:
    """Elements added, removed and changed from ``old`` to ``new`` (each a (spec, subprocess_specs))."""
    result = VersionDiff()
    old_texts, new_texts = _texts_by_element(old_xml), _texts_by_element(new_xml)
    pairs = [(old[0], new[0])] + [(old[1][n], new[1][n]) for n in sorted(set(old[1]) & set(new[1]))]
    seen: set[str] = set()
    for before, after in pairs:
        diff = SpecDiff(_REGISTRY, before, after)
        for spec in diff.added:
            if _bpmn_id(spec) and spec.bpmn_id not in seen:
                seen.add(spec.bpmn_id)
                result.elements.append(ElementChange(spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, "added"))
        for spec in diff.removed:
            if _bpmn_id(spec) and spec.bpmn_id not in seen:
                seen.add(spec.bpmn_id)
                result.elements.append(ElementChange(spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, "removed"))
        for spec, attrs in diff.changed.items():
            if not _bpmn_id(spec) or spec.bpmn_id in seen:
                continue
            seen.add(spec.bpmn_id)
            change = ElementChange(spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, "changed",
                                   sorted({_WHAT.get(a, a.replace("_", " ")) for a in attrs}))
            result.elements.append(change)
    # Texts the spec diff folds into "extensions" or cannot see (a flow's condition sits on the gateway).
    by_id = {c.element: c for c in result.elements}
    for element in sorted(set(old_texts) | set(new_texts)):
        before, after = old_texts.get(element, {}), new_texts.get(element, {})
        texts = [{"what": label, "before": before.get(label, ""), "after": after.get(label, "")}
                 for label in sorted(set(before) | set(after)) if before.get(label, "") != after.get(label, "")]
        if not texts:
            continue
        change = by_id.get(element)
        if change is None:
            if element not in old_texts or element not in new_texts:
                continue  # an added or removed element: listed above when it is a task
            change = ElementChange(element, element, "changed", sorted({t["what"] for t in texts}))
            result.elements.append(change)
            by_id[element] = change
        change.texts = texts
    result.elements.sort(key=lambda c: ({"removed": 0, "changed": 1, "added": 2}[c.kind], c.name.lower()))
    return result


def diff_forms(old_files: dict[str, bytes], new_files: dict[str, bytes], fields_of: Any) -> list[dict[str, Any]]:
    """Fields added, removed and changed in each JSON Schema form present in either version.

    ``fields_of(content) -> {field: definition}`` reads a form (the caller's, so a broken file in
    one version is reported, not fatal)."""
    out = []
    for name in sorted(set(old_files) | set(new_files)):
        before, after = old_files.get(name), new_files.get(name)
        if before == after:
            continue
        old_fields, new_fields = fields_of(before) if before else {}, fields_of(after) if after else {}
        entry = {"file": name, "status": "added" if before is None else "removed" if after is None else "changed",
                 "added": sorted(set(new_fields) - set(old_fields)),
                 "removed": sorted(set(old_fields) - set(new_fields)),
                 "changed": sorted(k for k in set(old_fields) & set(new_fields) if old_fields[k] != new_fields[k])}
        out.append(entry)
    return out


DMN_NS = ("https://www.omg.org/spec/DMN/20191111/MODEL/", "http://www.omg.org/spec/DMN/20180521/MODEL/",
          "http://www.omg.org/spec/DMN/20151101/dmn.xsd")


def _cells(xml: bytes | None) -> dict[str, tuple[str, str]]:
    """Each decision table cell by id: (where, text), where = "Rule 2 (its description), Cost impact"."""
    if not xml:
        return {}
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError:
        return {}
    cells: dict[str, tuple[str, str]] = {}
    for ns in DMN_NS:
        for table in root.iter(f"{{{ns}}}decisionTable"):
            columns = [c.get("label") or c.get("name") or c.get("id") or "" for c in
                       [*table.findall(f"{{{ns}}}input"), *table.findall(f"{{{ns}}}output")]]
            for number, rule in enumerate(table.findall(f"{{{ns}}}rule"), start=1):
                about = (rule.findtext(f"{{{ns}}}description") or "").strip()
                entries = [*rule.findall(f"{{{ns}}}inputEntry"), *rule.findall(f"{{{ns}}}outputEntry")]
                for column, entry in zip(columns, entries, strict=False):
                    where = f"rule {number}{f' ({about})' if about else ''}, {column}"
                    cells[entry.get("id") or where] = (where, (entry.findtext(f"{{{ns}}}text") or "").strip())
    return cells


def diff_decisions(old_files: dict[str, bytes], new_files: dict[str, bytes]) -> list[dict[str, Any]]:
    """Decision table cells changed, added or removed, per DMN file, as text a reviewer reads."""
    out = []
    for name in sorted(n for n in set(old_files) | set(new_files) if n.endswith(".dmn")):
        before, after = _cells(old_files.get(name)), _cells(new_files.get(name))
        changes = [{"what": (after.get(cell) or before[cell])[0], "before": before.get(cell, ("", ""))[1],
                    "after": after.get(cell, ("", ""))[1]}
                   for cell in [*before, *[c for c in after if c not in before]]
                   if before.get(cell, ("", ""))[1] != after.get(cell, ("", ""))[1]]
        if changes:
            out.append({"file": name, "changes": changes})
    return out
