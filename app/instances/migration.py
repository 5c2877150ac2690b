"""Moving running instances onto a newer version of their process: the dry run, one instance's move
(and its undo), and batches worked off in the background.

Each move is one instance command (``commands.execute``): under the instance lock the workflow is
loaded on its version, checked and moved by the engine (``app.engine.migration``), saved with its new
``process_version_id``; the executor rewrites the timer and message indexes and the inbox rows. The
open tasks keep their ids, so claims, drafts and comments (which hang on the task id) stay; their
titles, forms and candidates are taken from the new version. The state from before is kept in an
``InstanceMigration`` row with the row version right after the move: while the instance still has it,
nothing ran in between and the move can be undone exactly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import undefer

from app.core import audit
from app.core.errors import Conflict, Forbidden, Invalid, NotFound, ServiceError
from app.core.extensions import db
from app.core.models import utcnow
from app.core.transactions import write_transaction
from app.definitions import queries as definition_queries
from app.definitions.models import DeploymentFile, ProcessVersion
from app.engine import migration as engine_migration
from app.engine import runtime
from app.instances import business_keys, commands
from app.instances.models import (
    HumanTask,
    InstanceMigration,
    InstanceStatus,
    MigrationBatch,
    MigrationBatchStatus,
    ProcessInstance,
    TaskStatus,
)
from app.people.actor import SYSTEM, Actor
from app.people.models import User

log = logging.getLogger(__name__)

MIGRATORS = frozenset({"process_owner", "admin"})
# Instances that still run on a version, and so may move off it.
LIVE = (InstanceStatus.RUNNING, InstanceStatus.SUSPENDED, InstanceStatus.ERROR)


class MigrationBlocked(Conflict):
    """The instance cannot move (409): ``errors`` lists each blocking element and why."""

    def __init__(self, instance_id: int, blockers: list[engine_migration.Blocker]) -> None:
        reasons = "; ".join(f"'{b.name}' ({b.element}): {b.reason}" for b in blockers)
        super().__init__(f"process instance {instance_id} cannot move: {reasons}",
                         errors={"blockers": [b.as_dict() for b in blockers]})
        self.blockers = blockers


def _require_migrator(actor: Actor) -> None:
    if not actor.roles & MIGRATORS:
        raise Forbidden("only a process owner or an admin moves running instances to another version")


def _version(version_id: int) -> ProcessVersion:
    version = db.session.get(ProcessVersion, version_id)
    if version is None:
        raise NotFound(f"process version {version_id} does not exist")
    return version


def version_of(process_key: str, number: int) -> ProcessVersion:
    """Version ``number`` of ``process_key`` (404 when it has none)."""
    version = db.session.scalars(select(ProcessVersion).where(
        ProcessVersion.process_key == process_key, ProcessVersion.version == number)).first()
    if version is None:
        raise NotFound(f"process '{process_key}' has no version {number}")
    return version


def changed_forms(from_version: ProcessVersion, to_version: ProcessVersion) -> frozenset[str]:
    """Form files whose content differs between the two versions' deployments (the spec sees only names)."""
    if from_version.deployment_id == to_version.deployment_id:
        return frozenset()
    names = set(from_version.forms or []) | set(to_version.forms or [])
    if not names:
        return frozenset()
    rows = db.session.execute(select(DeploymentFile.deployment_id, DeploymentFile.name, DeploymentFile.sha256).where(
        DeploymentFile.deployment_id.in_([from_version.deployment_id, to_version.deployment_id]),
        DeploymentFile.name.in_(names)))
    digests: dict[tuple[int, str], str] = {(d, n): h for d, n, h in rows}
    return frozenset(n for n in names if digests.get((from_version.deployment_id, n))
                     != digests.get((to_version.deployment_id, n)))


# -- the dry run ---------------------------------------------------------------------------------------

@dataclass
class InstancePlan:
    """One running instance in the dry run: where it stands and whether (and how) it can move."""

    instance: ProcessInstance
    label: str
    ready: list[str]
    movable: bool
    blockers: list[dict[str, str]] = field(default_factory=list)
    changes: list[dict[str, str]] = field(default_factory=list)

    @property
    def instance_id(self) -> int:
        return self.instance.id

    @property
    def version(self) -> int:
        return self.instance.process_version.version

    @property
    def status(self) -> str:
        return self.instance.status

    @property
    def started_at(self) -> datetime:
        return self.instance.created_at


@dataclass
class MigrationPlan:
    process_key: str
    to_version: ProcessVersion
    instances: list[InstancePlan]

    @property
    def movable(self) -> int:
        return sum(1 for p in self.instances if p.movable)

    @property
    def blocked(self) -> int:
        return sum(1 for p in self.instances if not p.movable)

    @property
    def total(self) -> int:
        return len(self.instances)

    @property
    def movable_ids(self) -> list[int]:
        return [p.instance_id for p in self.instances if p.movable]


def _live_instances(process_key: str, to_version: ProcessVersion) -> list[ProcessInstance]:
    """Running, suspended and failed instances of versions older than ``to_version``, oldest first."""
    return list(db.session.scalars(
        select(ProcessInstance).join(ProcessInstance.process_version)
        .where(ProcessInstance.process_key == process_key, ProcessInstance.status.in_(LIVE),
               ProcessVersion.version < to_version.version)
        .options(undefer(ProcessInstance.state_json))
        .order_by(ProcessInstance.created_at, ProcessInstance.id)))


def instance_labels(instances: list[ProcessInstance]) -> dict[int, str]:
    """What a list shows for each instance: its record's label (a project's code and name), else who
    started it and when."""
    labels = business_keys.labels(i.business_key for i in instances)
    out = {}
    for instance in instances:
        found = labels.get(instance.business_key or "")
        text = " ".join(filter(None, [found.code, found.name])) if found is not None else ""
        out[instance.id] = text or instance.business_key or (
            f"Started by {instance.started_by} on {instance.created_at:%d %b %Y}")
    return out


def ready_titles(instance_ids: list[int]) -> dict[int, list[str]]:
    """The titles of each instance's open tasks (where it stands), oldest first."""
    out: dict[int, list[str]] = {}
    if not instance_ids:
        return out
    for instance_id, title in db.session.execute(
            select(HumanTask.instance_id, HumanTask.title).where(
                HumanTask.instance_id.in_(instance_ids), HumanTask.status == TaskStatus.READY)
            .order_by(HumanTask.created_at, HumanTask.id)):
        out.setdefault(instance_id, []).append(title)
    return out


def _change(change: engine_migration.Change) -> dict[str, Any]:
    """A change for the page and the API: a restarting timer's due time as a date."""
    out: dict[str, Any] = change.as_dict()
    if change.due_at:
        out["due_at"] = datetime.fromisoformat(change.due_at)
    return out


def plan(process_key: str, to_version: int, actor: Actor | None = None) -> MigrationPlan:
    """The dry run: every running, suspended or failed instance of an older version, movable or
    blocked (with the blocking elements), and what its move would do. Nothing is written. With an
    ``actor`` (a page, the API), only a process owner or an admin may ask."""
    if actor is not None:
        _require_migrator(actor)
    actor = actor or SYSTEM
    target = version_of(process_key, to_version)
    spec, subprocess_specs = definition_queries.spec_for(target)
    instances = _live_instances(process_key, target)
    labels = instance_labels(instances)
    ready = ready_titles([i.id for i in instances])
    forms_by_version: dict[int, frozenset[str]] = {}
    rows = []
    for instance in instances:
        version = instance.process_version
        if version.id not in forms_by_version:
            forms_by_version[version.id] = changed_forms(version, target)
        workflow = commands._load(instance, commands._script_engine(instance, actor, process_key))
        check = engine_migration.check(workflow, spec, subprocess_specs, forms_by_version[version.id])
        rows.append(InstancePlan(instance, labels[instance.id], ready.get(instance.id, []), check.movable,
                                 [b.as_dict() for b in check.blockers], [_change(c) for c in check.changes]))
    return MigrationPlan(process_key, target, rows)


# -- one instance ---------------------------------------------------------------------------------------

def _refresh_open_tasks(instance: ProcessInstance, workflow: Any) -> None:
    """Inside a move: the open inbox rows that stay (same task ids) take their title, form, instructions,
    lane, candidates and exclusions from the version the instance now runs. The assignee (a claim)
    and the due date stay."""
    ready = {info.id: info for info in runtime.ready_human_tasks(workflow)}
    rows = db.session.scalars(select(HumanTask).where(
        HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.READY,
        HumanTask.id.in_(list(ready)))).all()
    for row in rows:
        info = ready[row.id]
        candidates = commands._candidates(info, instance)
        row.title = commands._render_title(info.name_template, info.data)
        row.element_id, row.bpmn_process_id, row.lane = info.element_id, info.process_id, info.lane
        row.process_name = (info.process_name if info.process_id != instance.process_key
                            else instance.process_version.name)
        row.form_schema_file, row.form_ui_file = info.form_schema_file, info.form_ui_file
        row.instructions = info.instructions
        row.excluded_users = commands._excluded_users(info)
        try:
            row.priority = int(info.properties.get("priority", 50))
        except ValueError:
            row.priority = 50
        wanted = ({("role", r) for r in candidates.roles} | {("user", u) for u in candidates.users}
                  | {("group", g) for g in candidates.groups})
        have = {("role", c.role) if c.role else ("group", c.group_name) if c.group_name else ("user", c.username)
                for c in row.candidates}
        if have != wanted:
            row.candidates = candidates.rows()


def _check_live(instance: ProcessInstance) -> None:
    """Only running, suspended and failed instances move (said plainly; the command checks it again
    under the lock)."""
    if instance.status not in LIVE:
        raise Conflict(f"the instance is {instance.status}: only running, suspended or failed instances "
                       "move between versions")


def migrate_instance(instance_id: int, to_version_id: int, actor: Actor,
                     batch_id: int | None = None) -> ProcessInstance:
    """Move one instance to version ``to_version_id`` of its process (one instance command).

    409 (``MigrationBlocked``) names the blocking elements; 409 too when it already runs that version
    or a newer one. Audited as ``instance_migrated`` with the versions from and to.
    """
    _require_migrator(actor)
    target = _version(to_version_id)
    _check_live(commands.get(instance_id))
    audit_data: dict[str, Any] = {"to_version": target.version}
    if batch_id is not None:
        audit_data["batch_id"] = batch_id

    def change(instance: ProcessInstance, workflow: Any) -> dict[str, Any]:
        source = instance.process_version
        if instance.process_key != target.process_key:
            raise Invalid(f"version {target.version} is a version of '{target.process_key}', not of "
                          f"'{instance.process_key}'", errors={"to_version": ["another process's version"]})
        if source.version >= target.version:
            raise Conflict(f"process instance {instance.id} already runs version {source.version}: it moves "
                           "only to a newer version")
        state_before, waiting_before = instance.state_json, dict(instance.waiting or {})
        spec, subprocess_specs = definition_queries.spec_for(target)
        try:
            moved = engine_migration.migrate(workflow, spec, subprocess_specs)
        except engine_migration.MigrationRefused as refused:
            raise MigrationBlocked(instance.id, refused.blockers) from refused
        instance.process_version_id = target.id
        instance.process_version = target
        _refresh_open_tasks(instance, workflow)

        def remember(saved: ProcessInstance) -> None:
            db.session.add(InstanceMigration(
                instance_id=saved.id, batch_id=batch_id, from_version_id=source.id, to_version_id=target.id,
                migrated_by=actor.username, state_before=state_before, waiting_before=waiting_before,
                lock_version_after=saved.lock_version))

        command.on_saved = remember
        return {"from_version": source.version, "restarted_timers": moved.restarted_timers}

    command = commands.InstanceCommand("instance_migrated", actor, change, instance_id, audit_data=audit_data,
                                       allowed=LIVE)
    return commands.execute(command)


def last_migration(instance_id: int) -> InstanceMigration | None:
    """The instance's latest move that was not undone."""
    return db.session.scalars(select(InstanceMigration).where(
        InstanceMigration.instance_id == instance_id, InstanceMigration.reverted_at.is_(None))
        .order_by(InstanceMigration.id.desc()).limit(1)).first()


def can_move_back(instance: ProcessInstance, move: InstanceMigration | None) -> bool:
    """Whether the instance still stands exactly where ``move`` left it (nothing ran since)."""
    return (move is not None and move.reverted_at is None and instance.status in LIVE
            and instance.process_version_id == move.to_version_id
            and instance.lock_version == move.lock_version_after)


def migrate_back(instance_id: int, actor: Actor) -> ProcessInstance:
    """Undo the instance's last move while nothing ran in between (its row version is still the one
    the move left): state, version, inbox rows and timers as before. Audited as
    ``instance_migration_reverted``; 409 once a step ran."""
    _require_migrator(actor)
    _check_live(commands.get(instance_id))
    if last_migration(instance_id) is None:
        raise Conflict(f"process instance {instance_id} has no migration to undo")

    def change(instance: ProcessInstance, workflow: Any) -> dict[str, Any]:
        move = db.session.scalars(select(InstanceMigration).where(
            InstanceMigration.instance_id == instance.id, InstanceMigration.reverted_at.is_(None))
            .order_by(InstanceMigration.id.desc()).limit(1).with_for_update()
            .execution_options(populate_existing=True)).first()
        if move is None:
            raise Conflict(f"process instance {instance.id} has no migration to undo")
        if not can_move_back(instance, move):
            raise Conflict(f"process instance {instance.id} has moved on since it was migrated (a step ran, or "
                           "it was changed): it can no longer be moved back")
        source = _version(move.from_version_id)
        moved_to = instance.process_version
        spec, subprocess_specs = definition_queries.spec_for(source)
        command.workflow = runtime.state_from_json(move.state_before, spec, subprocess_specs,
                                                   workflow.script_engine)
        instance.process_version_id = source.id
        instance.process_version = source
        _refresh_open_tasks(instance, command.workflow)
        move.reverted_at, move.reverted_by = utcnow(), actor.username
        return {"from_version": moved_to.version, "to_version": source.version, "migration_id": move.id}

    command = commands.InstanceCommand("instance_migration_reverted", actor, change, instance_id, allowed=LIVE)
    return commands.execute(command)


# -- batches ----------------------------------------------------------------------------------------------

def start_batch(process_key: str, to_version_id: int, actor: Actor,
                instance_ids: list[int] | None = None) -> MigrationBatch:
    """Queue the move of many instances (None: every movable one of the dry run) as background work.

    Given ids must be running instances of an older version of the process (422 names the others);
    a blocked one may be asked for: it is tried, and recorded with its reason. Each instance then
    moves in its own command (``run_batch``).
    """
    _require_migrator(actor)
    target = _version(to_version_id)
    if target.process_key != process_key:
        raise Invalid(f"version {target.version} is not a version of '{process_key}'",
                      errors={"to_version": ["not a version of this process"]})
    if instance_ids is None:
        ids = plan(process_key, target.version, actor).movable_ids
    else:
        live = {i.id for i in _live_instances(process_key, target)}
        wrong = [i for i in instance_ids if i not in live]
        if wrong:
            raise Invalid(f"{len(wrong)} of the instances do not run an older version of '{process_key}'",
                          errors={"instance_ids": [f"{i}: not a running instance of an older version"
                                                   for i in wrong]})
        ids = list(dict.fromkeys(instance_ids))
    if not ids:
        raise Invalid("no instance to migrate: none of the running instances can move to "
                      f"version {target.version}", errors={"instance_ids": ["nothing to migrate"]})
    with write_transaction():
        batch = MigrationBatch(process_key=process_key, to_version_id=target.id, requested_by=actor.username,
                               status=MigrationBatchStatus.QUEUED, instance_ids=ids, total=len(ids), results=[])
        db.session.add(batch)
        db.session.flush()
        batch_id = batch.id
        audit.record(actor.username, "migration_batch_started", process_key=process_key, batch_id=batch_id,
                     to_version=target.version, instance_ids=ids)
    from app.instances.jobs import run_migration_batch

    run_migration_batch.delay(batch_id)  # embedded: runs here, now (its own session); scaled out: a worker
    db.session.commit()  # end any read snapshot taken before the job committed (SQLite WAL)
    return get_batch(batch_id)


def get_batch(batch_id: int) -> MigrationBatch:
    batch = db.session.get(MigrationBatch, batch_id, populate_existing=True)
    if batch is None:
        raise NotFound(f"migration batch {batch_id} does not exist")
    return batch


@dataclass
class BatchRow:
    """One handled instance of a batch, as its page shows it."""

    result: dict[str, Any]
    label: str
    ready: list[str]
    move: InstanceMigration | None
    can_move_back: bool


def batch_rows(batch: MigrationBatch) -> list[BatchRow]:
    """Each handled instance of ``batch`` with its label, where it stands now, its move and whether
    that move can still be undone."""
    instances = {i.id: i for i in db.session.scalars(
        select(ProcessInstance).where(ProcessInstance.id.in_(batch.instance_ids or [])))}
    moves = {m.instance_id: m for m in db.session.scalars(
        select(InstanceMigration).where(InstanceMigration.batch_id == batch.id))}
    labels = instance_labels(list(instances.values()))
    standing = ready_titles(list(instances))
    rows = []
    for result in batch.results or []:
        instance_id = result["instance_id"]
        instance, move = instances.get(instance_id), moves.get(instance_id)
        rows.append(BatchRow(result, labels.get(instance_id, ""), standing.get(instance_id, []), move,
                             instance is not None and can_move_back(instance, move)))
    return rows


def _batch_actor(username: str) -> Actor:
    user = db.session.scalars(select(User).where(User.username == username)).first()
    if user is None or not user.active:
        return Actor(username, frozenset())  # refused per instance, and recorded so
    return Actor.of(user)


def _record(batch_id: int, entry: dict[str, Any]) -> None:
    """One instance's outcome, with the counters, in its own small transaction (progress as it goes);
    an instance already recorded (a redelivered job) is not counted twice."""
    with write_transaction():
        batch = db.session.scalars(select(MigrationBatch).where(MigrationBatch.id == batch_id)
                                   .with_for_update(of=MigrationBatch)
                                   .execution_options(populate_existing=True)).one()
        if any(r.get("instance_id") == entry["instance_id"] for r in batch.results or []):
            return
        batch.results = [*(batch.results or []), entry]
        outcome = entry["outcome"]
        batch.moved += outcome == "moved"
        batch.blocked += outcome == "blocked"
        batch.failed += outcome == "failed"


def run_batch(batch_id: int) -> str:
    """Work off a batch: each instance in its own command; a blocked or failing one is recorded with its
    reason and the batch goes on. Safe to run again (a redelivery): recorded instances are skipped."""
    with write_transaction():
        claimed = db.session.execute(update(MigrationBatch).where(
            MigrationBatch.id == batch_id, MigrationBatch.status.in_(
                [MigrationBatchStatus.QUEUED, MigrationBatchStatus.RUNNING]))
            .values(status=MigrationBatchStatus.RUNNING)).rowcount
    if not claimed:
        return "nothing to do"
    batch = get_batch(batch_id)
    actor = _batch_actor(batch.requested_by)
    done = {r.get("instance_id") for r in batch.results or []}
    to_version_id, pending = batch.to_version_id, [i for i in batch.instance_ids if i not in done]
    try:
        for instance_id in pending:
            _record(batch_id, _move_one(instance_id, to_version_id, actor, batch_id))
    except Exception:
        db.session.rollback()
        log.exception("migration batch %s stopped", batch_id)
        with write_transaction():
            db.session.execute(update(MigrationBatch).where(MigrationBatch.id == batch_id).values(
                status=MigrationBatchStatus.FAILED, finished_at=utcnow()))
        return "failed"
    with write_transaction():
        db.session.execute(update(MigrationBatch).where(MigrationBatch.id == batch_id).values(
            status=MigrationBatchStatus.FINISHED, finished_at=utcnow()))
        audit.record(actor.username, "migration_batch_finished", process_key=batch.process_key,
                     batch_id=batch_id)
    return "finished"


def _move_one(instance_id: int, to_version_id: int, actor: Actor, batch_id: int) -> dict[str, Any]:
    """One instance of a batch, as a result entry: moved, blocked (with the elements) or failed."""
    from_version = db.session.scalar(select(ProcessVersion.version).join(
        ProcessInstance, ProcessInstance.process_version_id == ProcessVersion.id)
        .where(ProcessInstance.id == instance_id))
    entry: dict[str, Any] = {"instance_id": instance_id, "from_version": from_version}
    try:
        migrate_instance(instance_id, to_version_id, actor, batch_id=batch_id)
    except MigrationBlocked as blocked:
        db.session.rollback()
        return {**entry, "outcome": "blocked", "blockers": [b.as_dict() for b in blocked.blockers],
                "reason": "; ".join(f"'{b.name}': {b.reason}" for b in blocked.blockers)}
    except ServiceError as refused:  # completed meanwhile, already moved, no longer allowed...
        db.session.rollback()
        return {**entry, "outcome": "blocked", "blockers": [], "reason": refused.detail}
    except Exception as exc:  # noqa: BLE001 - one instance failing must not stop the batch
        db.session.rollback()
        log.warning("migration of instance %s (batch %s) failed", instance_id, batch_id, exc_info=True)
        return {**entry, "outcome": "failed", "blockers": [], "reason": f"{type(exc).__name__}: {exc}"}
    return {**entry, "outcome": "moved", "blockers": [], "reason": ""}
