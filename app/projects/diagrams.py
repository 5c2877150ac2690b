"""The workspace's "You are here": the project's lifecycle instance drawn process by process (the
lifecycle, and each phase it calls), with the steps done, the current ones and the flows taken.

The BPMN is the file deployed with the process version the instance runs on (as on the task
page, ``inbox.diagrams``); the marks come from the instance's saved state
(``instances.instance_progress``), matched here to the file's element and sequence flow ids. Only
those who may see the project get either; a project they may not see answers 404.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from flask import abort, current_app, jsonify, request, url_for
from flask_login import current_user, login_required

from app.core.errors import NotFound
from app.engine.runtime import ProcessProgress
from app.inbox import diagram_names
from app.inbox.diagrams import DiagramProcess, bpmn_response, catalogue
from app.instances import commands as instances
from app.instances.models import ProcessInstance
from app.people.actor import Actor
from app.projects import queries as project_queries
from app.projects import workspace as views
from app.projects.models import Project
from app.projects.pages import bp

MAX_LEVELS = 30
# How a level's state reads on the page (never only a colour).
STATE_WORDS = {"current": "in progress", "done": "done", "not_reached": "not reached yet"}


@dataclass(frozen=True)
class Level:
    """One process of the lifecycle as the page offers it."""

    process: DiagramProcess
    depth: int                 # 0: the lifecycle itself; 1: a phase it calls; 2: a process a phase calls
    caller: str                # the name of the process that calls it ("" for the top)
    state: str                 # "current", "done" or "not_reached"

    @property
    def state_text(self) -> str:
        return STATE_WORDS[self.state]


@dataclass
class Marks:
    """What one level's diagram marks, by the ids of its BPMN file."""

    completed: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    flows: list[str] = field(default_factory=list)       # sequence flow ids
    calls: dict[str, str] = field(default_factory=dict)  # call activity id -> the process it opens


@dataclass(frozen=True)
class CurrentStep:
    """A current step of a level in words: its name, who holds it, and the level it opens (a phase)."""

    element_id: str
    name: str
    held_by: str = ""
    opens: Level | None = None


@dataclass
class LifecycleDiagram:
    instance: ProcessInstance
    levels: list[Level]
    marks: dict[str, Marks]
    holders: dict[tuple[str, str], str] = field(default_factory=dict)  # (process id, element id) -> in words

    def level(self, process_id: str | None) -> Level:
        """The level asked for, the top one when none (or an unknown one) is asked for."""
        return next((lv for lv in self.levels if lv.process.process_id == process_id), self.levels[0])

    def find(self, process_id: str | None) -> Level | None:
        return next((lv for lv in self.levels if lv.process.process_id == process_id), None)

    def current_steps(self, level: Level) -> list[CurrentStep]:
        pid = level.process.process_id
        names = level.process.element_names()
        return [CurrentStep(element, names.get(element) or "A step without a name", self.holders.get((pid, element), ""),
                            self.find(self.marks[pid].calls.get(element)))
                for element in self.marks[pid].current]


def _marks(process: DiagramProcess, progress: ProcessProgress | None, offered: set[str]) -> Marks:
    """The engine's progress of one process in the file's terms: its (source, target) pairs become
    the ids of the sequence flows between them; call activities open the levels offered."""
    calls = {activity: called for activity, called in process.calls if called in offered}
    if progress is None:
        return Marks(calls=calls)
    return Marks(completed=sorted(progress.completed), current=sorted(progress.current),
                 flows=sorted(flow for flow, source, target in process.flows if (source, target) in progress.flows),
                 calls=calls)


def _levels(known: dict[str, DiagramProcess], top: str) -> list[tuple[DiagramProcess, int, str]]:
    """The top process, then depth first each process it calls (in the order of the file), once;
    each with its depth and the name of the process that calls it."""
    out: list[tuple[DiagramProcess, int, str]] = []
    seen: set[str] = set()

    def visit(process_id: str, depth: int, caller: str) -> None:
        if process_id in seen or process_id not in known or len(out) >= MAX_LEVELS:
            return
        seen.add(process_id)
        process = known[process_id]
        out.append((process, depth, caller))
        for _activity, called in process.calls:
            visit(called, depth + 1, process.name)

    visit(top, 0, "")
    return out


def _holders(project: Project) -> dict[tuple[str, str], str]:
    """Who holds each open task of the project's processes, as the workspace says it: the people it
    is assigned or offered to, or its roles with their members."""
    tasks = project_queries.open_tasks(project)
    roles = {c.role for t in tasks if not t.assignee for c in t.candidates if c.role}
    members = views.members_of(roles)
    people = {t.assignee for t in tasks} | {c.username for t in tasks for c in t.candidates if c.username}
    names = views.names_of(people | {u for ms in members.values() for u in ms})
    labels = current_app.config.get("ROLES", {})
    out: dict[tuple[str, str], str] = {}
    for task in tasks:
        users = [task.assignee] if task.assignee else sorted({c.username for c in task.candidates if c.username})
        held = [names.get(u, u) for u in users]
        if not task.assignee:
            for role in sorted({c.role for c in task.candidates if c.role}):
                who = ", ".join(names.get(u, u) for u in members.get(role, []))
                held.append(f"{labels.get(role, role)} ({who})" if who else labels.get(role, role))
        key = (task.bpmn_process_id or task.process_key, task.element_id)
        out[key] = " or ".join(filter(None, [out.get(key, ""), " or ".join(held)]))
    return out


def _offered(project: Project) -> tuple[ProcessInstance, list[tuple[DiagramProcess, int, str]]] | None:
    """The lifecycle instance and the processes it draws (from its version's files); None when the
    project has no lifecycle instance or its file is gone."""
    if project.lifecycle_instance_id is None:
        return None
    try:
        instance = instances.get(project.lifecycle_instance_id)
    except NotFound:
        return None
    version = instance.process_version
    found = _levels(catalogue(version.deployment), version.process_key)
    return (instance, found) if found else None


def lifecycle_diagram(project: Project) -> LifecycleDiagram | None:
    """The diagram of the project's lifecycle instance with its marks (one restore of its state);
    None when it has none."""
    offered = _offered(project)
    if offered is None:
        return None
    instance, found = offered
    progress = instances.instance_progress(instance)
    ids = {process.process_id for process, _, _ in found}
    marks = {process.process_id: _marks(process, progress.get(process.process_id), ids) for process, _, _ in found}
    levels = []
    for process, depth, caller in found:
        mark = marks[process.process_id]
        state = "current" if mark.current else "done" if mark.completed else "not_reached"
        levels.append(Level(process, depth, caller, state))
    return LifecycleDiagram(instance, levels, marks, _holders(project))


@bp.app_template_global("lifecycle_diagram")
def lifecycle_diagram_or_none(project: Project) -> LifecycleDiagram | None:
    """For the workspace template: the page shows without its diagram if it cannot be built."""
    try:
        return lifecycle_diagram(project)
    except Exception:  # noqa: BLE001 - logged; the rest of the workspace still helps the PM
        current_app.logger.exception("the lifecycle diagram of project %s could not be built", project.id)
        return None


def _visible_or_404(project_id: int) -> Project:
    try:
        return project_queries.visible_project(project_id, Actor.of(current_user))
    except NotFound:
        abort(404)


@functools.lru_cache(maxsize=64)
def _readable(content: bytes) -> bytes:
    """The file with its templated step names made text ("Register project", not a template)."""
    return diagram_names.readable(content, {})


@bp.get("/projects/<int:project_id>/diagram.bpmn")
@login_required
def lifecycle_bpmn(project_id: int):  # noqa: ANN201
    """The BPMN file of the lifecycle (or, with ``?process=``, of a process it calls) as deployed
    with the version the project's lifecycle instance runs on (no marks: the state is not read)."""
    offered = _offered(_visible_or_404(project_id))
    processes = [process for process, _, _ in offered[1]] if offered else []
    wanted = request.args.get("process")
    chosen = next((p for p in processes if p.process_id == wanted), None) if wanted else next(iter(processes), None)
    found = offered[0].process_version.deployment.file(chosen.file_name) if offered and chosen else None
    if found is None:
        abort(404)
    return bpmn_response(_readable(bytes(found.content)))


@bp.get("/projects/<int:project_id>/diagram.json")
@login_required
def lifecycle_marks(project_id: int):  # noqa: ANN201
    """What to mark on that diagram: element ids done and current, sequence flow ids taken, and the
    call activities that open another level (with that level's URLs); ``?process=`` as above."""
    project = _visible_or_404(project_id)
    diagram = lifecycle_diagram(project)
    wanted = request.args.get("process")
    level = (diagram.find(wanted) if wanted else diagram.levels[0]) if diagram else None
    if level is None:
        abort(404)
    mark = diagram.marks[level.process.process_id]
    calls = {}
    for activity, called in mark.calls.items():
        target = diagram.find(called)
        calls[activity] = {"process": called, "name": target.process.name if target else called,
                           "xml_url": url_for("projects.lifecycle_bpmn", project_id=project.id, process=called),
                           "marks_url": url_for("projects.lifecycle_marks", project_id=project.id, process=called)}
    response = jsonify({"process": level.process.process_id, "name": level.process.name,
                        "state": level.state, "completed": mark.completed, "current": mark.current,
                        "flows": mark.flows, "calls": calls,
                        "current_steps": [{"name": step.name, "held_by": step.held_by}
                                          for step in diagram.current_steps(level)]})
    response.headers["Cache-Control"] = "private, no-store"
    return response
