"""The instance service: the one entry point that changes a process instance.

Every change is an ``InstanceCommand`` (its name, the instance, the actor, the change, the audit
data) run by the one executor, ``execute``, in one transaction: write transaction, row lock (a
start creates the instance instead), load the workflow, apply the change (the engine runs until it
waits), sync the waits (timer and message indexes), save the state, bring the human-task table in
step, write the audit entry (a composite command's parts first), commit, then hand on what the
command collected (external calls to enqueue, thrown messages to dispatch). If anything fails the
transaction rolls back whole and the collected work is dropped; an engine failure then marks the
instance as being in error (with the message, task and line) in a second, small transaction, and
is audited (a failed start keeps a new instance in error). The public functions (``start``,
``complete``, ``claim``...) check their input and build a command.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from flask import current_app, has_request_context, request, url_for
from sqlalchemy import or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import undefer
from sqlalchemy.orm.exc import StaleDataError

from app.core import audit
from app.core.errors import BadRequest, Conflict, Forbidden, Invalid, NotFound, StepFailed
from app.core.extensions import db
from app.core.models import utcnow
from app.core.transactions import (
    begin_write as _begin_write,  # the one write start (SQLite: BEGIN IMMEDIATE)
)
from app.core.transactions import commit_keeping_loaded
from app.definitions import forms
from app.definitions import queries as definition_queries
from app.definitions.models import ProcessVersion
from app.engine import bundle as bundle_rules
from app.engine import runtime, templating
from app.engine.bundle import INITIATOR_LANE, normalize_role
from app.engine.camunda import ASSIGNEE_PROPERTY, CANDIDATE_USERS_PROPERTY
from app.engine.helpers import SCRIPT_HELPERS
from app.engine.sandbox import Sandbox
from app.instances import access, events, signals
from app.instances.models import HumanTask, HumanTaskCandidate, InstanceStatus, ProcessInstance, TaskStatus
from app.people import queries as people_queries
from app.people.actor import SYSTEM, Actor
from app.people.models import User


def _script_engine(instance: ProcessInstance | None, actor: Actor, process_key: str) -> runtime.PmoScriptEngine:
    sandbox = Sandbox(time_limit=float(current_app.config.get("SCRIPT_TIME_LIMIT_SECONDS", 2.0)),
                      helpers=SCRIPT_HELPERS)
    context = {"instance_id": instance.id if instance else None, "actor": actor.username,
               "process_key": process_key, "current_user": functools.partial(_user_values, actor.username),
               "task_url": _task_url_template()}
    return runtime.PmoScriptEngine(sandbox, context)


def _user_values(username: str) -> dict[str, str] | None:
    """What ``get_current_user()`` gives a script: the acting user as SpiffArena returns its user
    (username, email, display name); None when the system acts (a timer, a message)."""
    user = db.session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        return None
    return {"username": user.username, "email": user.email or "", "display_name": user.display_name or user.username}


def _task_url_template() -> str:
    """The absolute URL of a task page with ``{task_id}`` in it: the address the request came to,
    else ``SERVER_NAME_HINT`` (a timer or a worker)."""
    base = request.host_url if has_request_context() else str(current_app.config.get("SERVER_NAME_HINT") or "")
    path = url_for("inbox.task_page", task_id="TASK_ID") if has_request_context() else "/tasks/TASK_ID"
    return base.rstrip("/") + path.replace("TASK_ID", "{task_id}")


# -- the command executor -----------------------------------------------------------------------

@dataclass(frozen=True)
class NewInstance:
    """What a start creates: an instance of ``version`` (the command then runs like any other)."""

    version: ProcessVersion
    data: dict[str, Any] | None = None
    business_key: str | None = None
    # Run first, in the start's transaction: writes the records the instance belongs to (a project)
    # and returns the start data and business key, which need their ids. A start with a setup keeps
    # nothing when it fails: no records, no instance in error, no audit entry.
    setup: Callable[[], tuple[dict[str, Any], str | None]] | None = None


@dataclass(eq=False)
class InstanceCommand:
    """One change to one process instance, run by ``execute`` in one transaction.

    ``change(instance, workflow)`` applies the change under the row lock and returns extra audit
    data. A start has no ``instance_id`` yet but a ``new`` instance to create. While it runs the
    command collects what it hands on: the audit entries of a composite command's parts
    (``record``), and for after the commit the external calls to enqueue and whether it threw
    messages to dispatch; a rollback drops them.
    """

    name: str  # the audit action
    actor: Actor
    change: Callable[[ProcessInstance, Any], dict[str, Any] | None]
    instance_id: int | None = None
    task_id: str | None = None
    audit_data: dict[str, Any] = field(default_factory=dict)
    allowed: tuple[str, ...] = InstanceStatus.ACTIVE
    repairs: bool = False  # retry, skip: clears an incident
    new: NewInstance | None = None
    delivery: events.Delivery | None = None  # the claimed message it hands over (marked in its transaction)
    steps: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    external_calls: list[tuple[int, str]] = field(default_factory=list)
    threw_messages: bool = False
    # Set inside ``change`` by a command that puts a saved state back (a migration moved back): the
    # workflow to save instead of the one loaded.
    workflow: Any = None
    # Run once the instance row is flushed, before the audit entries: what must know the row's
    # ``lock_version`` after this command (a migration records it, to tell whether anything ran since).
    on_saved: Callable[[ProcessInstance], None] | None = None
    # A task this command completes besides ``task_id`` (a start that completes its first step): its
    # row, created and completed in this same transaction, is marked completed by the actor.
    completes: str | None = None
    # The instance's open task ids, when ``change`` read them under the lock anyway (a completion's
    # re-check): the projection then does not read them again.
    open_task_ids: set[str] | None = None

    def record(self, action: str, **data: Any) -> None:
        """Inside ``change``: audit a part of a composite command (written before the command's own entry)."""
        self.steps.append((action, data))

    def _forget(self) -> None:
        self.steps.clear()
        self.external_calls.clear()
        self.threw_messages = False


def execute(command: InstanceCommand) -> ProcessInstance:
    """Run ``command`` (see the module docstring): the one executor of every instance change.

    Only a repair (``repairs``: retry, skip) clears an incident, or the failed command itself done
    again successfully (the same task completed with other data); terminate ends the instance. Any
    other command on an instance in error (a claim, another task) leaves it in error, so it stays on
    the operations page until someone repairs it.
    """
    actor = command.actor
    try:
        _begin_write()
        if command.new is None:
            instance = _lock(command.instance_id)
            if instance.status not in command.allowed:
                raise Conflict(f"process instance {instance.id} is {instance.status}; "
                               f"cannot {command.name.replace('_', ' ')}")
            workflow = _load(instance, _script_engine(instance, actor, instance.process_key))
        else:
            new = command.new
            data, business_key = new.setup() if new.setup is not None else (new.data, new.business_key)
            if new.setup is not None:
                command.audit_data["data"] = data
            instance, workflow = _new_instance(new.version, actor, business_key, data, InstanceStatus.RUNNING)
            command.instance_id = instance.id
        extra = command.change(instance, workflow) or {}
        workflow = command.workflow if command.workflow is not None else workflow
        if instance.status == InstanceStatus.ERROR and (
                command.repairs or _redoes_failed_command(instance, command.name, command.task_id)):
            instance.status = InstanceStatus.RUNNING
            instance.error = None
        _save(instance, workflow, command)
        _sync_human_tasks(instance, workflow, actor, completed_task_id=command.task_id or command.completes,
                          new_instance=command.new is not None and command.completes is None,
                          open_rows=command.open_task_ids)
        if command.on_saved is not None:
            db.session.flush()
            command.on_saved(instance)
        for action, data in [*command.steps, (command.name, {**command.audit_data, **extra})]:
            data = dict(data)
            audit.record(actor.username, action, instance_id=instance.id, task_id=data.pop("task_id", command.task_id),
                         process_key=instance.process_key, **data)
        _commit_command(instance, command)
        return instance
    except Exception as exc:
        db.session.rollback()
        command._forget()
        failure = _failure(command, exc)
        if failure is None:
            raise
        raise failure from exc


def _failure(command: InstanceCommand, exc: Exception) -> Exception | None:
    """The one failure policy, after the rollback: what the caller gets instead of ``exc`` (None: itself).

    An engine failure is recorded (the instance in error; a failed start keeps a new instance in
    error) and answered StepFailed; a concurrent writer or a busy database is a Conflict.
    """
    what = (f"the start of process '{command.new.version.process_key}'" if command.new is not None
            else f"process instance {command.instance_id}")
    if isinstance(exc, runtime.EngineError):
        if command.new is not None and command.new.setup is not None:
            return StepFailed(f"the process '{command.new.version.process_key}' could not start and nothing was "
                              f"saved: {exc.message}", errors=exc.as_dict())
        if command.new is not None:
            instance_id = _record_start_failure(command.new, command.actor, exc)
            return StepFailed(f"the process started but its first step failed (instance {instance_id} is in error):"
                              f" {exc.message}", errors={**exc.as_dict(), "instance_id": instance_id})
        _record_failure(command.instance_id, command.actor, command.name, exc, command.task_id, command.audit_data)
        return StepFailed(f"the step failed and nothing was changed: {exc.message}", errors=exc.as_dict())
    if isinstance(exc, StaleDataError):
        return Conflict(f"{what} was changed by someone else; reload and retry")
    if isinstance(exc, OperationalError) and "locked" in str(exc).lower():
        return Conflict(f"{what} is busy; retry")
    return None


def _commit_command(instance: ProcessInstance, command: InstanceCommand) -> None:
    """Commit the command, then hand on what it collected (``events.after_commit``).

    The instance (and its version) stays loaded for the answer: it was read under the lock and
    written by this command, so its loaded state is the committed state. Everything else is
    expired as usual (the inbox rows were changed with set-based statements the session does not
    see), and so is the instance when ``after_commit`` ran more work that may have changed it.
    """
    session = commit_keeping_loaded()
    keep = {id(instance), id(instance.process_version)}
    for obj in list(session.identity_map.values()):
        if id(obj) not in keep:
            session.expire(obj)
    calls, messages = list(command.external_calls), command.threw_messages
    command._forget()
    if events.after_commit(calls, messages):
        session.expire(instance)


def _lock(instance_id: int) -> ProcessInstance:
    instance = db.session.scalars(
        select(ProcessInstance).where(ProcessInstance.id == instance_id).with_for_update(of=ProcessInstance)
        .options(undefer(ProcessInstance.state_json)).execution_options(populate_existing=True)
    ).first()
    if instance is None:
        raise NotFound(f"process instance {instance_id} does not exist")
    return instance


def _load(instance: ProcessInstance, engine: runtime.PmoScriptEngine):  # noqa: ANN202
    spec, subprocess_specs = definition_queries.spec_for(instance.process_version)
    return runtime.state_from_json(instance.state_json, spec, subprocess_specs, engine)


def _save(instance: ProcessInstance, workflow, command: InstanceCommand) -> None:  # noqa: ANN001
    synced = events.sync(instance, workflow, command.delivery)
    command.external_calls.extend((instance.id, task_id) for task_id in synced.external_calls)
    command.threw_messages = command.threw_messages or synced.threw_messages
    runtime.compact(workflow)  # a looping instance keeps a bounded state (the audit keeps every turn)
    instance.state_json = runtime.state_to_json(workflow)
    instance.serializer_version = runtime.SERIALIZER_VERSION
    if runtime.is_completed(workflow) and instance.status != InstanceStatus.TERMINATED:
        instance.status = InstanceStatus.COMPLETED
        instance.ended_at = utcnow()


def _redoes_failed_command(instance: ProcessInstance, action: str, task_id: str | None) -> bool:
    """The command that failed (e.g. completing this task), now done without failing: a repair."""
    error = instance.error or {}
    return bool(task_id) and error.get("action") == action and error.get("command_task_id") == task_id


def _record_failure(instance_id: int, actor: Actor, action: str, err: runtime.EngineError,
                    task_id: str | None, audit_data: dict[str, Any] | None) -> None:
    """Make the failure visible: instance in error with the message, and an audit entry."""
    try:
        _begin_write()
        instance = _lock(instance_id)
        instance.status = InstanceStatus.ERROR
        instance.error = {**err.as_dict(), "action": action, "at": utcnow().isoformat(), "actor": actor.username,
                          "command_task_id": task_id}
        audit.record(actor.username, "step_failed", instance_id=instance_id, task_id=task_id,
                     process_key=instance.process_key, failed_action=action, error=err.as_dict(),
                     submitted=audit_data or {})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def _new_instance(version: ProcessVersion, actor: Actor, business_key: str | None,
                  data: dict[str, Any] | None, status: str):  # noqa: ANN202
    """A new instance row (flushed, so it has an id) and its workflow, not yet run."""
    spec, subprocess_specs = definition_queries.spec_for(version)
    instance = ProcessInstance(process_version_id=version.id, process_key=version.process_key,
                               started_by=actor.username, business_key=business_key, status=status,
                               state_json="{}", serializer_version=runtime.SERIALIZER_VERSION)
    instance.process_version = version
    db.session.add(instance)
    db.session.flush()
    engine = _script_engine(instance, actor, version.process_key)
    return instance, runtime.new_workflow(spec, subprocess_specs, engine, data)


def _record_start_failure(new: NewInstance, actor: Actor, err: runtime.EngineError) -> int:
    """A start failed (and rolled back): keep the instance, in error at its start, so nothing is
    lost and an admin can retry it."""
    version = new.version
    try:
        _begin_write()
        instance, workflow = _new_instance(version, actor, new.business_key, new.data, InstanceStatus.ERROR)
        instance.error = {**err.as_dict(), "action": "start", "at": utcnow().isoformat(), "actor": actor.username}
        instance.state_json = runtime.state_to_json(workflow)
        audit.record(actor.username, "start_failed", instance_id=instance.id, process_key=version.process_key,
                     version=version.version, error=err.as_dict(), data=new.data or {})
        db.session.commit()
        return instance.id
    except Exception:
        db.session.rollback()
        raise


# -- the inbox projection ----------------------------------------------------------------------

def _render_title(template: str, data: dict[str, Any]) -> str:
    """The task title, rendered inside the command's write transaction: so on a tight budget
    (templating.TITLE_SECONDS); a broken or too costly title shows its raw text."""
    return templating.render_or(template, data, fallback=template, seconds=templating.TITLE_SECONDS)[:500]


class Candidates(NamedTuple):
    """Who may take a task: roles, users by name, lane groups (whose members are read at query time)."""

    roles: list[str]
    users: list[str]
    groups: list[str]

    def rows(self) -> list[HumanTaskCandidate]:
        return ([HumanTaskCandidate(role=r) for r in self.roles] + [HumanTaskCandidate(username=u) for u in self.users]
                + [HumanTaskCandidate(group_name=g) for g in self.groups])


def _candidates(info: runtime.HumanTaskInfo, instance: ProcessInstance) -> Candidates:
    """Who may take the task: SpiffArena's lane convention.

    ``lane_owners`` (task data the server sets) names the lane's people and wins; then the task's
    ``assignee`` / ``candidateUsers`` properties; a lane that is a configured role offers it to the
    role, any other named lane to the group of that name (an admin fills it); no lane, the initiator.
    """
    lane = info.lane
    owners = info.data.get("lane_owners")
    if lane and isinstance(owners, dict) and owners.get(lane):
        return Candidates([], [str(u) for u in owners[lane]], [])
    assignee = (info.properties.get(ASSIGNEE_PROPERTY) or "").strip()
    if assignee:
        return Candidates([], [assignee], [])
    named = bundle_rules.split_names(info.properties.get(CANDIDATE_USERS_PROPERTY))
    if not lane or normalize_role(lane) == INITIATOR_LANE:
        return Candidates([], named or [instance.started_by], [])
    if normalize_role(lane) in people_queries.known_roles():
        return Candidates([normalize_role(lane)], named, [])
    return Candidates([], named, [bundle_rules.group_key(lane)])


def _excluded_users(info: runtime.HumanTaskInfo) -> list[str]:
    """``excludeUsers`` names task-data variables holding usernames (or lists of them) who may not act."""
    names = [n.strip() for n in info.properties.get("excludeUsers", "").split(",") if n.strip()]
    excluded: list[str] = []
    for name in names:
        value = info.data.get(name)
        if isinstance(value, str) and value:
            excluded.append(value)
        elif isinstance(value, list):
            excluded.extend(str(v) for v in value if v)
    return sorted(set(excluded))


def _sync_human_tasks(instance: ProcessInstance, workflow, actor: Actor,  # noqa: ANN001
                      completed_task_id: str | None = None, new_instance: bool = False,
                      announce: bool = True, open_rows: set[str] | None = None) -> list[HumanTask]:
    """Bring the task table in step with the workflow's ready user tasks; the rows it created.
    ``announce``: tell the listeners (notices, out-of-office routing) of the new rows; ``open_rows``:
    the ids of the instance's open rows when the command already read them under its lock."""
    ready = {info.id: info for info in runtime.ready_human_tasks(workflow)}
    if instance.status in (InstanceStatus.TERMINATED, InstanceStatus.COMPLETED):
        ready = {}
    # Ids only, and set-based updates: loading task rows (and their candidates) costs more.
    if open_rows is None:
        open_rows = set() if new_instance else set(db.session.scalars(
            select(HumanTask.id).where(HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.READY)))
    now = utcnow()
    closed = set(open_rows) - ready.keys()
    gone = set(closed)
    if completed_task_id in gone:
        db.session.execute(update(HumanTask).where(HumanTask.id == completed_task_id).values(
            status=TaskStatus.COMPLETED, completed_by=actor.username, completed_at=now))
        gone.discard(completed_task_id)
    if gone:
        db.session.execute(update(HumanTask).where(HumanTask.id.in_(gone)).values(
            status=TaskStatus.CANCELLED, completed_at=now))
    if closed:  # the inbox's candidate indexes hold open tasks only (HumanTaskCandidate.is_open)
        db.session.execute(update(HumanTaskCandidate).where(HumanTaskCandidate.task_id.in_(closed))
                           .values(is_open=False))
    created: list[HumanTask] = []
    for task_id, info in ready.items():
        if task_id in open_rows:
            continue
        candidates = _candidates(info, instance)
        roles, users = candidates.roles, candidates.users
        due = None
        if info.properties.get("dueIn"):
            try:
                due = runtime.parse_duration(info.properties["dueIn"], now)
            except Exception:  # noqa: BLE001 - a bad due text must not stop the process
                due = None
        try:
            priority = int(info.properties.get("priority", 50))
        except ValueError:
            priority = 50
        row = HumanTask(
            id=task_id, instance_id=instance.id, process_key=instance.process_key, business_key=instance.business_key,
            process_name=info.process_name if info.process_id != instance.process_key else instance.process_version.name,
            element_id=info.element_id, bpmn_process_id=info.process_id,
            title=_render_title(info.name_template, info.data), lane=info.lane,
            assignee=users[0] if len(users) == 1 and not roles and not candidates.groups else None,
            status=TaskStatus.READY, priority=priority, form_schema_file=info.form_schema_file,
            form_ui_file=info.form_ui_file, instructions=info.instructions, created_at=now, due_at=due,
        )
        row.excluded_users = _excluded_users(info)
        row.candidates = candidates.rows()
        db.session.add(row)
        created.append(row)
    if created and announce:
        # Listeners (the inbox: out-of-office routing, "new task" notices) write in this transaction.
        signals.tasks_created.send(None, session=db.session, rows=created)
    return created


# -- commands ---------------------------------------------------------------------------------

def start(process_key: str, actor: Actor, data: dict[str, Any] | None = None,
          business_key: str | None = None, version: ProcessVersion | None = None) -> ProcessInstance:
    """Start an instance of the version new instances start on (the release, else the newest) and
    run it until it waits.

    The server-side path: ``data`` is trusted as it is (the projects module binds a process to its
    project, PM and sponsor here). What a user sends goes through ``start_by_user``.
    """
    if data is not None and not isinstance(data, dict):
        raise BadRequest("data must be a JSON object")
    version = version or definition_queries.current_version(process_key)

    def change(instance: ProcessInstance, workflow) -> None:  # noqa: ANN001
        runtime.advance(workflow)

    return execute(InstanceCommand("start", actor, change, new=NewInstance(version, data, business_key),
                                   audit_data={"version": version.version, "data": data or {}}))


def start_with(process_key: str, actor: Actor, setup: Callable[[], tuple[dict[str, Any], str | None]], *,
               first_step: str | None = None, first_data: dict[str, Any] | None = None,
               on_saved: Callable[[ProcessInstance], None] | None = None) -> ProcessInstance:
    """Start an instance together with the records it belongs to, in one transaction.

    ``setup`` writes those records (the projects module: the project row, its filing, its audit
    entry) and returns the start data and business key. With ``first_step`` the actor then
    completes that user task (the charter) with ``first_data``, checked like any completion (the
    access rule, the task's form). ``on_saved`` runs once the instance row is written (to link it).
    If anything fails (the setup, the engine, the form, the access check) all of it rolls back:
    no records, no instance, no task, no audit entry.
    """
    version = definition_queries.current_version(process_key)
    command = InstanceCommand("start", actor, lambda instance, workflow: None,
                              new=NewInstance(version, setup=setup),
                              audit_data={"version": version.version}, on_saved=on_saved)

    def change(instance: ProcessInstance, workflow) -> dict[str, Any] | None:  # noqa: ANN001
        runtime.advance(workflow)
        if first_step is None:
            return None
        rows = _sync_human_tasks(instance, workflow, actor, new_instance=True, announce=False)
        task = next((r for r in rows if r.element_id == first_step), None)
        if task is None:
            raise Conflict(f"process '{process_key}' did not reach its step '{first_step}'")
        access.check_act(task, actor)
        db.session.flush()
        audit_data: dict[str, Any] = {"element_id": task.element_id}
        audit_data["data"] = _complete_in(instance, workflow, task, actor, first_data or {})
        command.completes = task.id
        command.record("complete_task", task_id=task.id, **audit_data)
        return None

    command.change = change
    return execute(command)


# Business keys the server gives (``project:<id>`` ties an instance to a project and its visibility).
SERVER_BUSINESS_KEY_PREFIXES = ("project:",)


def start_by_user(process_key: str, actor: Actor, data: dict[str, Any] | None = None,
                  business_key: str | None = None) -> ProcessInstance:
    """Start a process by hand (the API): a role its ``startableBy`` names, only the start data it declares.

    403 when the process is not started by hand or not by the actor's roles; 422 naming each field
    that is server-owned, unknown to the start form (or ``startDataFields``) or invalid.
    """
    if data is not None and not isinstance(data, dict):
        raise BadRequest("data must be a JSON object")
    version = definition_queries.current_version(process_key)
    roles = version.start_roles
    if not roles:
        raise Forbidden(f"process '{process_key}' is not started by hand: the server starts it "
                        "(another process, a message or the projects module)")
    if not actor.roles & set(roles):
        raise Forbidden(f"only {', '.join(roles)} may start process '{process_key}'")
    errors: dict[str, list[str]] = {}
    if business_key and business_key.startswith(SERVER_BUSINESS_KEY_PREFIXES):
        errors["business_key"] = [f"business keys starting with {', '.join(SERVER_BUSINESS_KEY_PREFIXES)} "
                                  "are given by the server"]
    policy = version.start_policy or {}
    schema = forms.load_form(version.deployment_id, policy["form"]) if policy.get("form") else None
    accepted = _accepted_data(data or {}, schema, None, policy.get("fields") or [], {}, errors, "start",
                              server_owned=bundle_rules.SERVER_OWNED_KEYS)
    return start(process_key, actor, accepted, business_key, version=version)


def _accepted_data(data: dict[str, Any], schema: dict[str, Any] | None, ui: dict[str, Any] | None,
                   fields: list[str], current: dict[str, Any], errors: dict[str, list[str]], what: str, *,
                   server_owned: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The values a start or a step takes, validated; Invalid naming every other field and why.

    Only the form's fields are taken (without a form: the declared ``fields``, else none), so a
    caller cannot set a process variable the form does not ask for. A read-only field may be sent
    back unchanged (the web form does) and is then left out; a changed one is refused.
    """
    if schema is not None:
        known, readonly = bundle_rules.form_fields(schema, ui)
    else:
        known, readonly = set(fields), set()
    accepted: dict[str, Any] = {}
    for key, value in data.items():
        if key in server_owned:
            errors.setdefault(key, []).append("server-owned: the server sets it, a caller never does")
        elif key not in known:
            reason = f"not a field of this {what}'s form" if schema is not None else (
                f"not one of the fields this {what} takes ({', '.join(sorted(known))})" if known
                else f"this {what} takes no data")
            errors.setdefault(key, []).append(reason)
        elif key in readonly:
            if key not in current or current[key] != value:
                errors.setdefault(key, []).append("read-only: the process sets it")
        else:
            accepted[key] = value
    if schema is not None:
        try:
            forms.validate(schema, {**{k: current[k] for k in readonly if k in current}, **accepted})
        except Invalid as exc:
            for path, messages in (exc.errors or {}).items():
                errors.setdefault(path, []).extend(m for m in messages if m not in errors.get(path, []))
    if errors:
        count = sum(len(v) for v in errors.values())
        raise Invalid(f"the {what} data has {count} error(s)", errors=errors)
    return accepted


def fire_due_timers(instance_id: int, actor: Actor = None) -> bool:  # type: ignore[assignment]
    """Fire the timers of this instance that are due now. Returns False when none was due.

    Safe to call twice or from two schedulers at once: the instance lock serialises them and the
    second finds nothing due, so a timer fires once.
    """
    actor = actor or SYSTEM
    if not events.has_due_timer(instance_id):
        return False
    fired: dict[str, Any] = {}

    def change(instance: ProcessInstance, workflow) -> dict[str, Any]:  # noqa: ANN001
        due = events.due_timers_of(instance.id)
        if not due:
            raise _NothingToDo
        runtime.advance(workflow)
        fired["timers"] = [t.element_id for t in due]
        return {"timers": fired["timers"], "due_at": [t.due_at.isoformat() for t in due]}

    try:
        execute(InstanceCommand("timer_fired", actor, change, instance_id, allowed=(InstanceStatus.RUNNING,)))
    except _NothingToDo:
        db.session.rollback()
        return False
    return True


def receive_message(instance_id: int, name: str, payload: Any, correlations: dict[str, Any],
                    message_id: int | None = None, delivery: events.Delivery | None = None) -> ProcessInstance:
    """Deliver a message to an instance that waits for it (a command like any other).

    ``delivery``: the dispatcher's claim on the message, marked delivered in this command's transaction.
    """

    def change(instance: ProcessInstance, workflow) -> dict[str, Any]:  # noqa: ANN001
        runtime.deliver_message(workflow, name, payload, correlations)
        return {"message": name, "message_id": message_id}

    return execute(InstanceCommand("message_received", SYSTEM, change, instance_id,
                                   allowed=(InstanceStatus.RUNNING,), delivery=delivery))


def external_call(instance_id: int, task_id: str) -> tuple[runtime.ExternalCall, dict[str, Any]]:
    """The paused external call at ``task_id`` with its evaluated parameters and the task's data.

    Raises Conflict when the instance no longer waits there (a redelivered task: nothing to do).
    """
    instance = get(instance_id)
    if instance.status != InstanceStatus.RUNNING or not any(
            c.get("task_id") == task_id for c in (instance.waiting or {}).get("external", [])):
        raise Conflict(f"process instance {instance_id} does not wait for an external call at {task_id}")
    workflow = _load(instance, _script_engine(instance, SYSTEM, instance.process_key))
    try:
        call = runtime.external_call_params(workflow, task_id)
    except runtime.EngineError as err:
        db.session.rollback()
        _record_failure(instance_id, SYSTEM, "external_call", err, task_id, None)
        raise StepFailed(f"the external call's parameters failed: {err.message}", errors=err.as_dict()) from err
    return call, runtime.task_data_of(workflow, task_id)


def external_result(instance_id: int, task_id: str, result: Any, attempts: int = 1) -> ProcessInstance:
    """Hand a worker's result to the paused service task and let the process go on."""

    def change(instance: ProcessInstance, workflow) -> dict[str, Any]:  # noqa: ANN001
        if not any(c.get("task_id") == task_id for c in (instance.waiting or {}).get("external", [])):
            raise _NothingToDo
        workflow.script_engine.context["external_results"] = {task_id: result}
        runtime.advance(workflow)
        return {"attempts": attempts}

    try:
        return execute(InstanceCommand("external_call_done", SYSTEM, change, instance_id, task_id=task_id,
                                       allowed=(InstanceStatus.RUNNING,)))
    except _NothingToDo:
        db.session.rollback()
        return get(instance_id)


def external_failed(instance_id: int, task_id: str, element_id: str, message: str) -> None:
    """The last retry failed: the instance becomes an incident an admin can retry."""
    _record_failure(instance_id, SYSTEM, "external_call", runtime.EngineError(
        message, task_id=task_id, element_id=element_id), task_id, None)


class _NothingToDo(Exception):
    """Raised inside a command to roll it back quietly (e.g. a timer another scheduler fired)."""


def get(instance_id: int) -> ProcessInstance:
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound(f"process instance {instance_id} does not exist")
    return instance


def get_task(task_id: str) -> HumanTask:
    task = db.session.get(HumanTask, task_id)
    if task is None:
        raise NotFound(f"task {task_id} does not exist")
    return task


def visible_task(task_id: str, actor: Actor) -> HumanTask:
    """The task if ``actor`` may see it (the access policy); otherwise it does not exist for them."""
    return access.visible_task(task_id, actor)


def _open_task_for(task_id: str, actor: Actor) -> HumanTask:
    task = access.visible_task(task_id, actor)
    if task.status != TaskStatus.READY:
        raise Conflict(f"task {task_id} is already {task.status}")
    return task


def claim(task_id: str, actor: Actor) -> HumanTask:
    task = _open_task_for(task_id, actor)
    check_claim(task, actor)

    def change(row: HumanTask, command: InstanceCommand) -> dict[str, Any]:
        if row.assignee and row.assignee != actor.username:
            raise Conflict(f"task is already claimed by {row.assignee}")
        return reassign(row, actor.username)

    return _run_task_command(task_command("claim", task, actor, change))


def check_claim(task: HumanTask, actor: Actor) -> None:
    """Whether ``actor`` may claim the open ``task`` (the access policy: Forbidden, or Conflict)."""
    access.check_claim(task, actor)


def unclaim(task_id: str, actor: Actor) -> HumanTask:
    task = _open_task_for(task_id, actor)
    access.check_release(task, actor)
    return _run_task_command(task_command("unclaim", task, actor, lambda row, command: reassign(row, None)))


def assign(task_id: str, actor: Actor, username: str) -> HumanTask:
    task = _open_task_for(task_id, actor)
    check_assign(task, actor, username)
    return _run_task_command(task_command("assign", task, actor, lambda row, command: reassign(row, username)))


def check_assign(task: HumanTask, actor: Actor, username: str) -> None:
    """Whether ``actor`` may hand the open ``task`` to ``username`` (the access policy)."""
    access.check_assign(task, actor)
    user = db.session.scalars(select(User).where(User.username == username)).first()
    if user is None or not user.active:
        raise BadRequest(f"no active user named '{username}'")
    access.check_assign(task, actor, Actor.of(user))


def task_command(name: str, task: HumanTask, actor: Actor,
                 change: Callable[[HumanTask, InstanceCommand], dict[str, Any] | None]) -> InstanceCommand:
    """A command on one open task (claim, assign, delegate...): it changes the projection only, but
    still goes through the instance lock. ``change(row, command)`` gets the task row read again under
    the lock, and still open (else Conflict)."""

    def on_instance(instance: ProcessInstance, workflow) -> dict[str, Any] | None:  # noqa: ANN001
        row = db.session.get(HumanTask, task.id, populate_existing=True)
        if row.status != TaskStatus.READY:
            raise Conflict(f"task {task.id} is already {row.status}")
        return change(row, command)

    command = InstanceCommand(name, actor, on_instance, task.instance_id, task_id=task.id,
                              allowed=(*InstanceStatus.ACTIVE, InstanceStatus.SUSPENDED))
    return command


def reassign(row: HumanTask, username: str | None) -> dict[str, Any]:
    """Inside a task command: give the task to ``username`` (None: back to its candidates); the audit data."""
    previous = row.assignee
    row.assignee = username
    return {"assignee": username, "previous_assignee": previous}


def _run_task_command(command: InstanceCommand) -> HumanTask:
    execute(command)
    return db.session.get(HumanTask, command.task_id)


class AlreadyCompleted(Conflict):
    """The task was completed by this same user: a retried completion (its first answer was lost)."""

    def __init__(self, task: HumanTask) -> None:
        super().__init__(f"task {task.id} is already completed by you (at {task.completed_at:%Y-%m-%d %H:%M:%S} UTC)"
                         if task.completed_at else f"task {task.id} is already completed by you")
        self.task_id = task.id
        self.instance_id = task.instance_id


MAX_IDEMPOTENCY_KEY = 200


def complete(task_id: str, actor: Actor, data: dict[str, Any] | None,
             idempotency_key: str | None = None) -> ProcessInstance:
    """Complete the task with the form's fields of ``data`` (validated); the engine runs on.

    Only what the task's form asks for is applied (a task without a form: its ``dataFields``,
    else nothing): 422 names any other field. A completion retried by the same user is told apart:
    with the same ``idempotency_key`` it answers the instance as it is now, without one
    ``AlreadyCompleted`` (409) carries the result.
    """
    if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
        raise BadRequest(f"Idempotency-Key must have 1 to {MAX_IDEMPOTENCY_KEY} characters")
    task = access.visible_task(task_id, actor)
    if task.status == TaskStatus.COMPLETED and task.completed_by == actor.username:
        if idempotency_key and task.completion_key == idempotency_key:
            return get(task.instance_id)
        raise AlreadyCompleted(task)
    access.check_act(task, actor)
    data = data or {}
    if not isinstance(data, dict):
        raise Invalid("submitted data must be a JSON object", errors={"data": ["must be an object"]})
    audit_data: dict[str, Any] = {"data": data, "element_id": task.element_id}

    def change(inst: ProcessInstance, workflow) -> dict[str, Any]:  # noqa: ANN001
        # Re-checked under the lock: someone may have completed or claimed it since the checks above.
        # The same statement reads the instance's other open tasks, for the projection after the step.
        rows = db.session.execute(
            select(HumanTask.id, HumanTask.status, HumanTask.assignee, HumanTask.completed_by,
                   HumanTask.completion_key)
            .where(HumanTask.instance_id == inst.id,
                   or_(HumanTask.id == task_id, HumanTask.status == TaskStatus.READY))).all()
        _, status, assignee, completed_by, key = next(r for r in rows if r.id == task_id)
        if status == TaskStatus.COMPLETED and completed_by == actor.username:
            raise _Replay if idempotency_key and key == idempotency_key else AlreadyCompleted(
                db.session.get(HumanTask, task_id, populate_existing=True))
        if status != TaskStatus.READY:
            raise Conflict(f"task {task_id} is already {status}")
        if assignee and assignee != actor.username:
            raise Conflict(f"task was claimed by {assignee} in the meantime")
        command.open_task_ids = {r.id for r in rows if r.status == TaskStatus.READY}
        audit_data["data"] = _complete_in(inst, workflow, task, actor, data)
        if idempotency_key:
            db.session.execute(update(HumanTask).where(HumanTask.id == task_id).values(
                completion_key=idempotency_key))
        return {}

    command = InstanceCommand("complete_task", actor, change, task.instance_id, task_id=task_id,
                              audit_data=audit_data)
    try:
        return execute(command)
    except _Replay:
        return get(task.instance_id)


def _complete_in(inst: ProcessInstance, workflow, task: HumanTask, actor: Actor,  # noqa: ANN001
                 data: dict[str, Any]) -> dict[str, Any]:
    """Inside a command: complete ``task`` with the fields of ``data`` its form takes (validated, 422
    naming every other field) and let the engine run on; the data accepted."""
    # Checked here, with the version the locked instance runs, so the instance is read once.
    deployment_id = inst.process_version.deployment_id
    schema = forms.load_form(deployment_id, task.form_schema_file)
    ui = forms.load_form(deployment_id, task.form_ui_file) if schema is not None else None
    found = runtime.find_task(workflow, task.id)
    schema = forms.with_task_options(schema, found.data if found is not None else {})
    props = ((getattr(found.task_spec, "extensions", None) or {}).get("properties") or {}) if found else {}
    accepted = _accepted_data(data, schema, ui, bundle_rules.split_names(props.get(bundle_rules.DATA_FIELDS)),
                              (found.data if found is not None else {}), {}, "task")
    seen = _instructions_seen(task.instructions, found.data if found is not None else {})
    runtime.complete_user_task(workflow, task.id, accepted)
    if seen is not None:
        db.session.execute(update(HumanTask).where(HumanTask.id == task.id).values(instructions_seen=seen))
    signals.task_completed.send(None, session=db.session, instance=inst, task=task,
                                actor=actor.username, data=accepted)
    return accepted


def _instructions_seen(text: str | None, data: dict[str, Any]) -> str | None:
    """The instructions rendered with the data the person saw (budgeted). None when there are none or
    they could not be rendered: the page then renders them from the completed task's data."""
    if not text:
        return None
    from app.engine import templating

    return templating.render_or(text, data, fallback="") or None


class _Replay(Exception):
    """Raised inside ``complete`` to roll back quietly: the same completion, retried with its key."""


def terminate(instance_id: int, actor: Actor, reason: str = "") -> ProcessInstance:
    def change(instance: ProcessInstance, workflow) -> dict[str, Any]:  # noqa: ANN001
        runtime.cancel(workflow)
        instance.status = InstanceStatus.TERMINATED
        instance.ended_at = utcnow()
        instance.status_reason = reason
        return {"reason": reason}

    return execute(InstanceCommand("terminate", actor, change, instance_id,
                                   allowed=(*InstanceStatus.ACTIVE, InstanceStatus.SUSPENDED)))


def suspend(instance_id: int, actor: Actor, reason: str = "") -> ProcessInstance:
    def change(instance: ProcessInstance, workflow) -> dict[str, Any]:  # noqa: ANN001
        instance.status = InstanceStatus.SUSPENDED
        instance.status_reason = reason
        return {"reason": reason}

    return execute(InstanceCommand("suspend", actor, change, instance_id, allowed=(InstanceStatus.RUNNING,)))


def resume(instance_id: int, actor: Actor) -> ProcessInstance:
    def change(instance: ProcessInstance, workflow) -> dict[str, Any]:  # noqa: ANN001
        instance.status = InstanceStatus.RUNNING
        instance.status_reason = None
        runtime.advance(workflow)
        return {}

    return execute(InstanceCommand("resume", actor, change, instance_id, allowed=(InstanceStatus.SUSPENDED,)))


def retry(instance_id: int, actor: Actor, reason: str = "") -> ProcessInstance:
    """Run the engine again on an instance in error (after the cause was fixed)."""

    def change(instance: ProcessInstance, workflow) -> dict[str, Any]:  # noqa: ANN001
        failed = dict(instance.error or {})
        runtime.advance(workflow)
        return {"reason": reason, "previous_error": failed.get("message")}

    return execute(InstanceCommand("retry", actor, change, instance_id, allowed=(InstanceStatus.ERROR,),
                                   repairs=True))


def skip_failed_step(instance_id: int, actor: Actor, element_id: str, reason: str) -> ProcessInstance:
    """Complete the failed automatic step without running it (an admin repair), then go on."""

    def change(instance: ProcessInstance, workflow) -> dict[str, Any]:  # noqa: ANN001
        failed = dict(instance.error or {})
        element = runtime.skip_task(workflow, element_id)
        return {"reason": reason, "skipped": element, "previous_error": failed.get("message")}

    return execute(InstanceCommand("skip_step", actor, change, instance_id, allowed=(InstanceStatus.ERROR,),
                                   repairs=True))


# -- reading ----------------------------------------------------------------------------------

def ready_tasks(instance_id: int) -> list[HumanTask]:
    return list(db.session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.READY)
        .order_by(HumanTask.created_at, HumanTask.id)))


def instance_data(instance: ProcessInstance) -> dict[str, Any]:
    """The instance's current data (the last completed task's, or the final data)."""
    engine = _script_engine(instance, SYSTEM, instance.process_key)
    workflow = _load(instance, engine)
    return runtime.workflow_data(workflow)


def instance_progress(instance: ProcessInstance) -> dict[str, runtime.ProcessProgress]:
    """Per BPMN process of the instance, the steps completed, the current ones and the flows taken
    (read from its saved state; nothing runs and nothing is written)."""
    engine = _script_engine(instance, SYSTEM, instance.process_key)
    return runtime.workflow_progress(_load(instance, engine))


def task_data(task: HumanTask) -> dict[str, Any]:
    instance = get(task.instance_id)
    engine = _script_engine(instance, SYSTEM, instance.process_key)
    workflow = _load(instance, engine)
    return runtime.task_data(workflow, task.id) or {}


def overdue(task: HumanTask, now: datetime | None = None) -> bool:
    return task.status == TaskStatus.READY and task.due_at is not None and task.due_at < (now or utcnow())
