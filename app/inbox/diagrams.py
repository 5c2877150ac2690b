"""The process diagram of a task page: which BPMN to draw and what to highlight.

A task of a called process (a quality gate called from execution, called from the lifecycle) is
drawn in its own process, with this step highlighted; the processes that call it are offered
for context, each with the call activity that leads to the task highlighted. The files are the
ones deployed with the instance's process version (validated at deploy).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from flask import Response, abort, request
from flask_login import login_required
from lxml import etree

from app.inbox.diagram_names import stripped
from app.inbox.pages import bp
from app.instances import commands as instances
from app.instances.models import HumanTask

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
MAX_DEPTH = 10


@dataclass(frozen=True)
class Level:
    """One diagram offered on the task page: a process and the element to highlight in it."""

    process_id: str
    name: str
    element_id: str
    file_name: str
    is_task_process: bool


@dataclass(frozen=True)
class DiagramProcess:
    """One ``<bpmn:process>`` of a deployed file, as the diagrams need it (elements of its embedded
    subprocesses included: they are drawn in it)."""

    process_id: str
    name: str
    file_name: str
    calls: tuple[tuple[str, str], ...]  # (call activity id, called process id)
    flows: tuple[tuple[str, str, str], ...] = ()  # (sequence flow id, source id, target id)
    names: tuple[tuple[str, str], ...] = ()  # (element id, its name without template parts)

    def element_names(self) -> dict[str, str]:
        return dict(self.names)


@functools.lru_cache(maxsize=256)
def _processes_of(name: str, content: bytes) -> tuple[DiagramProcess, ...]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError:
        return ()
    found = []
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        calls = tuple((c.get("id") or "", c.get("calledElement") or "")
                      for c in process.iter(f"{{{BPMN_NS}}}callActivity") if c.get("calledElement"))
        flows = tuple((f.get("id") or "", f.get("sourceRef") or "", f.get("targetRef") or "")
                      for f in process.iter(f"{{{BPMN_NS}}}sequenceFlow"))
        names = tuple((el.get("id"), stripped(el.get("name") or ""))
                      for el in process.iter() if isinstance(el.tag, str) and el.get("id") and el.get("name"))
        found.append(DiagramProcess(process.get("id") or "", process.get("name") or process.get("id") or "", name,
                                    calls, flows, names))
    return tuple(found)


def catalogue(deployment) -> dict[str, DiagramProcess]:  # noqa: ANN001
    """Every process defined by a deployment's BPMN files, by process id (the first file wins)."""
    out: dict[str, DiagramProcess] = {}
    for file in deployment.files:
        if file.name.endswith(".bpmn"):
            for process in _processes_of(file.name, bytes(file.content)):
                out.setdefault(process.process_id, process)
    return out


def bpmn_response(content: bytes) -> Response:
    """A deployed BPMN file for a viewer: private, short-cached, never run as a page."""
    response = Response(content, mimetype="application/xml")
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response


def levels(task: HumanTask) -> list[Level]:
    """The task's own process first (this step highlighted), then its callers up to the instance's
    process (the call activity highlighted in each). Empty when no deployed file defines it."""
    version = instances.get(task.instance_id).process_version
    known = catalogue(version.deployment)
    own_id = task.bpmn_process_id or version.process_key
    own = known.get(own_id) or known.get(version.process_key)
    if own is None:
        return []
    out = [Level(own.process_id, own.name, task.element_id, own.file_name, True)]
    # The call path from the instance's process down to the task's process (breadth first).
    parents: dict[str, tuple[str, str]] = {}  # called process -> (caller process, call activity)
    queue, seen = [version.process_key], {version.process_key}
    while queue and own.process_id not in parents:
        current = queue.pop(0)
        for activity, called in known[current].calls if current in known else ():
            if called not in seen:
                seen.add(called)
                parents[called] = (current, activity)
                queue.append(called)
    current = own.process_id
    while current in parents and len(out) < MAX_DEPTH:
        caller, activity = parents[current]
        process = known[caller]
        out.append(Level(process.process_id, process.name, activity, process.file_name, False))
        current = caller
    return out


@bp.app_template_global("diagram_levels")
def diagram_levels(task: HumanTask) -> list[Level]:
    try:
        return levels(task)
    except Exception:  # noqa: BLE001 - the page shows without its diagram
        return []


@bp.get("/tasks/<task_id>/diagram.bpmn")
@login_required
def task_diagram(task_id: str):  # noqa: ANN201
    """The BPMN XML of the task's process (or, with ``?process=``, of one of its callers), for the
    viewer; only to those who see the task."""
    from app.inbox.task_pages import _task_or_404

    task = _task_or_404(task_id)
    offered = levels(task)
    wanted = request.args.get("process")
    level = next((lv for lv in offered if lv.process_id == wanted), None) if wanted else (offered or [None])[0]
    version = instances.get(task.instance_id).process_version
    found = version.deployment.file(level.file_name) if level else None
    if found is None and not wanted:
        found = version.deployment.file(version.bpmn_file)
    if found is None:
        abort(404)
    return bpmn_response(found.content)
