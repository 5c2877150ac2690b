"""Every change a process owner makes in the studio: opening a draft, saving its files (refused when
based on an older revision), deleting, importing, and publishing a draft as new versions.

Publishing goes through the same deploy as `pmo deploy` and the API (app/definitions/operations.py):
the server validates everything again, whatever the browser checked, and the draft's scenarios must
pass. Each change is audited in the transaction that makes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import delete, select, update

from app.core import audit, formatting
from app.core.errors import Conflict, Invalid, NotFound
from app.core.extensions import db
from app.core.models import utcnow
from app.core.transactions import write_transaction
from app.definitions import operations as definitions
from app.definitions import queries as definition_queries
from app.definitions.models import Deployment, ProcessRelease, ProcessVersion
from app.engine import bundle as bundle_mod
from app.studio.models import Draft, DraftFile

# What a draft may hold: the kinds of file a process model folder has (SpiffArena's format).
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,150}\.(bpmn|dmn|json)$")
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_FILES = 200
DECISION_CALL = re.compile(rb"calledDecisionId>\s*([^<\s]+)\s*<")


def _text(name: str, content: bytes) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Invalid(f"{name} is not UTF-8 text", errors=[{"file": name, "line": None, "element": None,
                                                            "message": f"not UTF-8 text ({exc.reason})"}]) from exc


def model_files(version: ProcessVersion) -> dict[str, bytes]:
    """The files a process model needs from its deployment: its BPMN, its forms, the decision tables
    it calls, its scenarios and its process_model.json (a deployment may hold a whole library)."""
    deployment = db.session.get(Deployment, version.deployment_id)
    stored = {f.name: f.content for f in deployment.files}
    names = {version.bpmn_file, *[n for n in version.forms or [] if n in stored]}
    called = set(DECISION_CALL.findall(stored.get(version.bpmn_file, b"")))
    for name, content in stored.items():
        if name.endswith(".dmn") and {d.encode() for d in bundle_mod.decision_ids(content)} & called:
            names.add(name)
    folder = str(PurePosixPath(version.bpmn_file).parent)
    prefix = "" if folder == "." else folder + "/"
    for extra in (f"{prefix}test_{version.process_key}.json", f"{prefix}{bundle_mod.MODEL_FILE}"):
        if extra in stored:
            names.add(extra)
    return {n: stored[n] for n in sorted(names) if n in stored}


def _processes_in(version: ProcessVersion) -> dict[str, int]:
    """The latest version of every process defined in the same BPMN file of the same deployment."""
    same_file = db.session.scalars(select(ProcessVersion.process_key).where(
        ProcessVersion.deployment_id == version.deployment_id, ProcessVersion.bpmn_file == version.bpmn_file))
    keys = sorted({version.process_key, *same_file})
    return {k: v.version for k, v in definition_queries._latest_versions(keys).items()}


def open_draft(process_key: str, actor: str) -> Draft:
    """A new draft of a process, copied from its newest version's files."""
    version = definition_queries.latest_version(process_key)
    files = model_files(version)
    with write_transaction():
        draft = Draft(process_key=process_key, title=version.name, base_deployment_id=version.deployment_id,
                      base_versions=_processes_in(version), source=f"{version.name or process_key}, version {version.version}",
                      created_by=actor, updated_by=actor)
        for name, content in files.items():
            draft.files.append(DraftFile(name=name, content=_text(name, content), saved_by=actor))
        db.session.add(draft)
        db.session.flush()
        audit.record(actor, "draft_opened", process_key=process_key, draft=draft.id, version=version.version,
                     files=sorted(files))
    return draft


def draft_from_files(files: dict[str, bytes], actor: str, source: str, title: str = "") -> Draft:
    """A draft of a process model brought from elsewhere (an import): nothing runs until it is published."""
    if not any(n.endswith(".bpmn") for n in files):
        raise Invalid("a process model needs a .bpmn file", errors=[
            {"file": source, "line": None, "element": None, "message": "no .bpmn file in this model"}])
    keys = sorted(bundle_mod.ids_and_calls([bundle_mod.BundleFile(n, c) for n, c in files.items()])[0])
    key = keys[0] if keys else PurePosixPath(next(n for n in files if n.endswith(".bpmn"))).stem
    existing = definition_queries._latest_versions(keys)
    with write_transaction():
        draft = Draft(process_key=key, title=title or key, base_versions={k: v.version for k, v in existing.items()},
                      source=source[:300], created_by=actor, updated_by=actor)
        for name, content in sorted(files.items()):
            _check_name(name)
            draft.files.append(DraftFile(name=name, content=_text(name, content), saved_by=actor))
        db.session.add(draft)
        db.session.flush()
        audit.record(actor, "draft_imported", process_key=key, draft=draft.id, source=source[:300],
                     files=sorted(files))
    return draft


def _check_name(name: str) -> None:
    if not FILE_NAME.match(name) or ".." in name:
        raise Invalid(f"'{name}' is not a file name a process model can hold", errors=[
            {"file": name, "line": None, "element": None,
             "message": "use letters, digits, spaces, '.', '_' or '-', ending in .bpmn, .dmn or .json"}])


def _draft_for_update(draft_id: int) -> Draft:
    draft = db.session.get(Draft, draft_id)
    if draft is None:
        raise NotFound(f"no draft {draft_id}")
    return draft


@dataclass
class Saved:
    name: str
    revision: int
    saved_by: str
    saved_at: Any


def save_file(draft_id: int, name: str, content: str, revision: int, actor: str) -> Saved:
    """Save one file of a draft. ``revision`` is the one the editor started from (0 for a new file);
    a save based on an older revision is refused with who saved since, never applied."""
    _check_name(name)
    if len(content.encode("utf-8")) > MAX_FILE_BYTES:
        raise Invalid(f"{name} is larger than {MAX_FILE_BYTES // 1024 // 1024} MB",
                      errors=[{"file": name, "line": None, "element": None, "message": "file too large"}])
    now = utcnow()
    with write_transaction():
        draft = _draft_for_update(draft_id)
        current = db.session.get(DraftFile, (draft_id, name))
        if current is None:
            if revision != 0:
                raise Conflict(f"{name} was deleted from this draft since you opened it",
                               errors={"saved_by": None, "saved_at": None})
            if len(draft.files) >= MAX_FILES:
                raise Invalid(f"a draft holds at most {MAX_FILES} files", errors={"name": ["too many files"]})
            db.session.add(DraftFile(draft_id=draft_id, name=name, content=content, revision=1, saved_by=actor,
                                     saved_at=now))
            new_revision = 1
        else:
            # One UPDATE that applies only to the revision the editor read: two owners saving at once
            # cannot both win, whatever the database's isolation.
            done = db.session.execute(
                update(DraftFile).where(DraftFile.draft_id == draft_id, DraftFile.name == name,
                                        DraftFile.revision == revision)
                .values(content=content, revision=DraftFile.revision + 1, saved_by=actor, saved_at=now)
                .execution_options(synchronize_session=False))
            if done.rowcount != 1:
                db.session.refresh(current)
                raise Conflict(f"{current.saved_by} saved {name} since you opened it (their revision "
                               f"{current.revision}, yours {revision}); nothing was overwritten. Reload it to "
                               "see their change, then apply yours again",
                               errors={"saved_by": current.saved_by, "saved_at": current.saved_at.isoformat(),
                                       "revision": current.revision})
            new_revision = revision + 1
        draft.updated_by, draft.updated_at = actor, now
        audit.record(actor, "draft_saved", process_key=draft.process_key, draft=draft_id, file=name,
                     revision=new_revision)
    return Saved(name, new_revision, actor, now)


def delete_file(draft_id: int, name: str, revision: int, actor: str) -> None:
    with write_transaction():
        draft = _draft_for_update(draft_id)
        done = db.session.execute(delete(DraftFile).where(DraftFile.draft_id == draft_id, DraftFile.name == name,
                                                          DraftFile.revision == revision)
                                  .execution_options(synchronize_session=False))
        if done.rowcount != 1:
            raise Conflict(f"{name} was changed or removed since you opened it; nothing was deleted")
        draft.updated_by, draft.updated_at = actor, utcnow()
        audit.record(actor, "draft_file_deleted", process_key=draft.process_key, draft=draft_id, file=name)
    db.session.expire_all()


def delete_draft(draft_id: int, actor: str) -> None:
    with write_transaction():
        draft = _draft_for_update(draft_id)
        audit.record(actor, "draft_deleted", process_key=draft.process_key, draft=draft_id)
        db.session.delete(draft)


def bundle_files(draft: Draft) -> list[bundle_mod.BundleFile]:
    return [bundle_mod.BundleFile(f.name, f.content.encode("utf-8")) for f in draft.files]


@dataclass
class Check:
    """What the server says about a draft: every problem (errors block publishing) and the processes."""

    problems: list[dict[str, Any]] = field(default_factory=list)
    processes: list[str] = field(default_factory=list)
    parsed: bundle_mod.Bundle | None = None

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [p for p in self.problems if p.get("severity", "error") == "error"]


def check(draft: Draft) -> Check:
    """Every check of `pmo validate`, with the element each problem concerns."""
    result = Check()
    try:
        parsed = definitions.validate_files(bundle_files(draft))
    except Invalid as exc:
        result.problems = [{**p, "severity": "error"} for p in (exc.errors or [])]
        return result
    result.processes = sorted(parsed.processes)
    result.parsed = parsed
    result.problems = [{"file": getattr(n, "file", None), "line": getattr(n, "line", None),
                        "element": getattr(n, "element", None), "message": str(n), "severity": "warning"}
                       for n in parsed.notes]
    if not any(PurePosixPath(f.name).name.startswith("test_") for f in draft.files):
        result.problems.append({"file": None, "line": None, "element": None, "severity": "warning",
                                "message": "this process has no scenarios (test_<process>.json): nothing "
                                           "shows it still does what it should before it is published"})
    return result


def conflicts(draft: Draft) -> list[str]:
    """Processes of the draft that someone published a newer version of since it was opened."""
    latest = definition_queries._latest_versions(sorted(draft.base_versions))
    return [f"{latest[key].name or key} version {latest[key].version} was published by {latest[key].deployment.deployed_by} on "
            f"{formatting.moment(latest[key].created_at)} (this draft started from version {base})"
            for key, base in sorted(draft.base_versions.items())
            if key in latest and latest[key].version > base]


def publish(draft_id: int, actor: str, note: str, run_scenarios: Any = None) -> definitions.DeployResult:
    """Publish a draft as new versions, after the server's checks and the draft's scenarios pass.

    ``run_scenarios(files)`` returns the scenario results (the caller passes the runner, so a
    publish without scenarios support is not silently "passed"). The deployment, its note, the
    releases that pointed new instances elsewhere, and the draft's removal are one transaction.
    """
    note = (note or "").strip()
    if not note:
        raise Invalid("write a publish note: what changed and why", errors={"note": ["a note is required"]})
    draft = _draft_for_update(draft_id)
    newer = conflicts(draft)
    if newer:
        raise Conflict("a newer version was published since this draft was opened; nothing was published: "
                       + "; ".join(newer) + ". Open a new draft from it and make your change there")
    result = check(draft)
    if result.errors:
        raise Invalid(f"the draft has {len(result.errors)} problem(s); nothing was published", errors=result.errors)
    files = bundle_files(draft)
    if run_scenarios is not None:
        failed = [r for r in run_scenarios(files) if not r.passed]
        if failed:
            raise Invalid(f"{len(failed)} scenario(s) failed; nothing was published", errors=[
                {"file": None, "line": None, "element": None,
                 "message": f"{r.process}: scenario '{r.scenario or r.file}' failed: " + "; ".join(r.reasons())}
                for r in failed])
    key, source = draft.process_key, f"studio draft {draft.id} ({draft.source})"

    def finish(deployed: definitions.DeployResult) -> None:
        if deployed.deployment_id is not None:
            db.session.execute(update(Deployment).where(Deployment.id == deployed.deployment_id)
                               .values(note=note[:4000]).execution_options(synchronize_session=False))
        created = [v.process_key for v in deployed.created]
        if created:
            db.session.execute(delete(ProcessRelease).where(ProcessRelease.process_key.in_(created))
                               .execution_options(synchronize_session=False))
        audit.record(actor, "draft_published", process_key=key, draft=draft_id, note=note[:4000],
                     versions={v.process_key: v.version for v in deployed.created})
        db.session.execute(delete(DraftFile).where(DraftFile.draft_id == draft_id)
                           .execution_options(synchronize_session=False))
        db.session.execute(delete(Draft).where(Draft.id == draft_id).execution_options(synchronize_session=False))

    deployed = definitions.deploy(files, actor, source=source[:300], within=finish)
    db.session.expire_all()
    return deployed
