"""Read-only views of the studio: the library of processes and decision tables with their versions,
the drafts in progress, what changed between two versions, a draft's editor context and the export
of a version in SpiffArena's process model format."""

from __future__ import annotations

import copy
import io
import json
import re
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import func, select

from app.core.errors import NotFound
from app.core.extensions import db
from app.definitions import queries as definition_queries
from app.definitions.models import Deployment, DeploymentFile, ProcessRelease, ProcessVersion
from app.engine import bundle as bundle_mod
from app.engine import operators as operator_registry
from app.engine import spec_diff
from app.instances.models import InstanceStatus, ProcessInstance
from app.studio.models import Draft
from app.studio.operations import DECISION_CALL, Check, check, conflicts, model_files

# Instances that still run on a version (and so may be migrated off it).
LIVE = (InstanceStatus.RUNNING, InstanceStatus.SUSPENDED, InstanceStatus.ERROR)


@dataclass
class VersionRow:
    version: ProcessVersion
    published_by: str
    published_at: datetime
    note: str
    running: int
    current: bool


@dataclass
class ProcessEntry:
    key: str
    name: str
    description: str
    versions: list[VersionRow]
    drafts: list[Draft]
    decisions: list[str] = field(default_factory=list)

    @property
    def latest(self) -> VersionRow:
        return self.versions[-1]

    @property
    def current(self) -> VersionRow:
        return next((v for v in self.versions if v.current), self.versions[-1])

    @property
    def running(self) -> int:
        return sum(v.running for v in self.versions)


@dataclass
class DecisionEntry:
    decision_id: str
    name: str
    file: str
    hit_policy: str
    # One row per distinct content, oldest first: (first deployment, its processes and versions)
    revisions: list[dict[str, Any]]


def running_counts(version_ids: list[int]) -> dict[int, int]:
    if not version_ids:
        return {}
    rows = db.session.execute(select(ProcessInstance.process_version_id, func.count()).where(
        ProcessInstance.process_version_id.in_(version_ids), ProcessInstance.status.in_(LIVE))
        .group_by(ProcessInstance.process_version_id))
    return dict(rows.all())


def _releases() -> dict[str, int]:
    return dict(db.session.execute(select(ProcessRelease.process_key, ProcessRelease.process_version_id)).all())


def _rows(versions: list[ProcessVersion], releases: dict[str, int], counts: dict[int, int]) -> list[VersionRow]:
    deployments = {d.id: d for d in db.session.scalars(select(Deployment).where(
        Deployment.id.in_({v.deployment_id for v in versions})))}
    pinned = {releases.get(v.process_key) for v in versions} - {None}
    rows = []
    for v in versions:
        d = deployments[v.deployment_id]
        current = v.id in pinned if pinned else v is versions[-1]
        rows.append(VersionRow(v, d.deployed_by, d.deployed_at, d.note or "", counts.get(v.id, 0), current))
    return rows


def library() -> list[ProcessEntry]:
    """Every process with its versions (oldest first) and drafts, by name."""
    versions = list(db.session.scalars(select(ProcessVersion).order_by(ProcessVersion.process_key,
                                                                      ProcessVersion.version)))
    counts = running_counts([v.id for v in versions])
    releases = _releases()
    drafts: dict[str, list[Draft]] = {}
    for draft in db.session.scalars(select(Draft).order_by(Draft.updated_at.desc())):
        drafts.setdefault(draft.process_key, []).append(draft)
    by_key: dict[str, list[ProcessVersion]] = {}
    for v in versions:
        by_key.setdefault(v.process_key, []).append(v)
    entries = []
    for key, vs in by_key.items():
        rows = _rows(vs, releases, counts)
        latest = vs[-1]
        entries.append(ProcessEntry(key, latest.name or key, latest.description or "", rows, drafts.pop(key, [])))
    # Drafts of processes never published (imports).
    for key, ds in drafts.items():
        entries.append(ProcessEntry(key, ds[0].title or key, "", [], ds))
    return sorted(entries, key=lambda e: e.name.lower())


def process_entry(key: str) -> ProcessEntry:
    versions = definition_queries.versions_of(key)
    drafts = list(db.session.scalars(select(Draft).where(Draft.process_key == key).order_by(Draft.updated_at.desc())))
    if not versions and not drafts:
        raise NotFound(f"no process '{key}'")
    rows = _rows(versions, _releases(), running_counts([v.id for v in versions])) if versions else []
    name = versions[-1].name if versions else (drafts[0].title or key)
    return ProcessEntry(key, name or key, versions[-1].description if versions else "", rows, drafts)


def version(key: str, number: int) -> ProcessVersion:
    found = db.session.scalars(select(ProcessVersion).where(ProcessVersion.process_key == key,
                                                            ProcessVersion.version == number)).first()
    if found is None:
        raise NotFound(f"process '{key}' has no version {number}")
    return found


_HIT_POLICY = re.compile(rb'hitPolicy="([A-Z ]+)"')


def decision_tables() -> list[DecisionEntry]:
    """Every decision table deployed, each distinct revision with who published it and which
    process versions use it."""
    files = db.session.execute(
        select(DeploymentFile.name, DeploymentFile.sha256, DeploymentFile.deployment_id, Deployment.deployed_by,
               Deployment.deployed_at, Deployment.note)
        .join(Deployment, Deployment.id == DeploymentFile.deployment_id)
        .where(DeploymentFile.name.like("%.dmn")).order_by(Deployment.deployed_at, Deployment.id)).all()
    # Which process versions call each decision: the calledDecisionId in their BPMN file.
    callers: dict[tuple[int, str], list[str]] = {}
    versions = db.session.execute(select(ProcessVersion.name, ProcessVersion.version,
                                         ProcessVersion.deployment_id, ProcessVersion.bpmn_file)).all()
    bpmn = {(d, n): c for d, n, c in db.session.execute(
        select(DeploymentFile.deployment_id, DeploymentFile.name, DeploymentFile.content)
        .where(DeploymentFile.name.like("%.bpmn")))}
    for key, number, deployment_id, bpmn_file in versions:
        for called in set(DECISION_CALL.findall(bpmn.get((deployment_id, bpmn_file), b""))):
            callers.setdefault((deployment_id, called.decode("utf-8", "replace")), []).append(f"{key} (version {number})")
    entries: dict[str, DecisionEntry] = {}
    seen: dict[str, set[str]] = {}
    for name, sha, deployment_id, by, at, note in files:
        if sha in seen.setdefault(name, set()):
            continue
        seen[name].add(sha)
        content = db.session.scalars(select(DeploymentFile.content).where(
            DeploymentFile.deployment_id == deployment_id, DeploymentFile.name == name)).one()
        ids = sorted(bundle_mod.decision_ids(content)) or [PurePosixPath(name).stem]
        policy = _HIT_POLICY.search(content)
        entry = entries.setdefault(name, DecisionEntry(ids[0], _decision_name(content) or ids[0], name,
                                                       (policy.group(1).decode() if policy else "UNIQUE"), []))
        entry.hit_policy = policy.group(1).decode() if policy else "UNIQUE"
        used_by = sorted({v for d in ids for v in callers.get((deployment_id, d), [])})
        entry.revisions.append({"number": len(entry.revisions) + 1, "published_by": by, "published_at": at,
                                "note": note or "", "used_by": used_by})
    return sorted(entries.values(), key=lambda e: e.name.lower())


def _decision_name(content: bytes) -> str:
    found = re.search(rb'<(?:\w+:)?decision\b[^>]*\bname="([^"]+)"', content)
    return found.group(1).decode("utf-8", "replace") if found else ""


def drafts() -> list[Draft]:
    return list(db.session.scalars(select(Draft).order_by(Draft.updated_at.desc())))


def draft(draft_id: int) -> Draft:
    found = db.session.get(Draft, draft_id)
    if found is None:
        raise NotFound(f"no draft {draft_id}")
    return found


def file_kind(name: str) -> str:
    base = PurePosixPath(name).name
    if base.endswith(".bpmn"):
        return "bpmn"
    if base.endswith(".dmn"):
        return "dmn"
    if base.startswith("test_"):
        return "scenario"
    if base == bundle_mod.MODEL_FILE:
        return "model"
    if "uischema" in base:
        return "uischema"
    return "schema"


def operators() -> list[dict[str, Any]]:
    """The registered service-task operators with the parameter names they read."""
    return [{"name": name, "parameters": list(operator_registry.OPERATOR_PARAMETERS.get(name, ()))}
            for name in sorted(operator_registry.OPERATORS)]


def editor_context(draft: Draft) -> dict[str, Any]:
    """What the editor's pickers offer: the draft's forms and decisions, operators and roles."""
    decisions = sorted({d for f in draft.files if f.name.endswith(".dmn")
                        for d in bundle_mod.decision_ids(f.content.encode("utf-8"))})
    return {
        "files": [{"name": f.name, "kind": file_kind(f.name), "revision": f.revision, "saved_by": f.saved_by,
                   "saved_at": f.saved_at.isoformat()} for f in draft.files],
        "forms": sorted(f.name for f in draft.files if file_kind(f.name) in ("schema", "uischema")),
        "decisions": decisions,
        "operators": operators(),
        "roles": definition_queries.known_roles(),
    }


def version_files(v: ProcessVersion) -> dict[str, bytes]:
    return model_files(v)


def _form_fields(content: bytes) -> dict[str, Any]:
    try:
        schema = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return {}
    return {k: v for k, v in (schema.get("properties") or {}).items()} if isinstance(schema, dict) else {}


def _with_files(changes: spec_diff.VersionDiff, old_files: dict[str, bytes],
                new_files: dict[str, bytes]) -> spec_diff.VersionDiff:
    """Add the form-field and decision-cell changes, which the engine's spec diff does not see."""
    def forms_only(files: dict[str, bytes]) -> dict[str, bytes]:
        return {n: c for n, c in files.items() if file_kind(n) == "schema"}
    changes.forms = spec_diff.diff_forms(forms_only(old_files), forms_only(new_files), _form_fields)
    changes.decisions = spec_diff.diff_decisions(old_files, new_files)
    return changes


# Published versions never change, so the diff of two of them is computed once per process. The key
# holds each version's creation time and content hash beside its id, so a database rebuilt with the
# same ids (tests, a restored backup) never gets another database's diff.
_DIFF_CACHE_SIZE = 256
_diffs: OrderedDict[tuple[Any, ...], spec_diff.VersionDiff] = OrderedDict()


def diff(old: ProcessVersion, new: ProcessVersion) -> spec_diff.VersionDiff:
    """What changed from ``old`` to ``new``: elements on the diagram and fields of the forms."""
    key = (old.id, old.created_at, old.content_hash, new.id, new.created_at, new.content_hash)
    if key in _diffs:
        _diffs.move_to_end(key)
        return copy.deepcopy(_diffs[key])
    old_files, new_files = model_files(old), model_files(new)
    result = _with_files(spec_diff.diff_specs(definition_queries.spec_for(old), definition_queries.spec_for(new),
                                              old_files.get(old.bpmn_file), new_files.get(new.bpmn_file)),
                         old_files, new_files)
    _diffs[key] = copy.deepcopy(result)
    while len(_diffs) > _DIFF_CACHE_SIZE:
        _diffs.popitem(last=False)
    return result


def export_zip(v: ProcessVersion) -> bytes:
    """A version as a SpiffArena process model folder: its files and a process_model.json."""
    files = model_files(v)
    folder = v.process_key
    model = {
        "display_name": v.name or v.process_key,
        "description": v.description or "",
        "display_order": 0,
        "primary_file_name": PurePosixPath(v.bpmn_file).name,
        "primary_process_id": v.process_key,
        "files": [{"name": PurePosixPath(n).name, "type": file_kind(n)} for n in sorted(files)],
        "fault_or_suspend_on_exception": "fault",
        "exception_notification_addresses": [],
        "metadata_extraction_paths": None,
        "pmo_flow": {"version": v.version, "published_at": v.created_at.isoformat()},
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in sorted(files.items()):
            base = PurePosixPath(name).name
            if base == bundle_mod.MODEL_FILE:
                continue
            archive.writestr(f"{folder}/{base}", content)
        archive.writestr(f"{folder}/{bundle_mod.MODEL_FILE}", json.dumps(model, indent=2) + "\n")
    return out.getvalue()


@dataclass
class Review:
    """What a process owner sees before publishing a draft."""

    check: Check
    scenarios: list[Any] | None
    scenario_error: str
    base: ProcessVersion | None
    diff: spec_diff.VersionDiff | None
    conflicts: list[str]

    @property
    def scenarios_passed(self) -> bool:
        return self.scenarios is not None and all(r.passed for r in self.scenarios)

    @property
    def publishable(self) -> bool:
        return not self.check.errors and not self.conflicts and (self.scenarios_passed or self.scenarios == [])


def review(draft: Draft, run_scenarios: Any) -> Review:
    """The server's checks, the scenarios' results and the diff against the published version."""
    checked = check(draft)
    scenarios, scenario_error = None, ""
    if not checked.errors:
        try:
            scenarios = run_scenarios(draft)
        except Exception as exc:  # noqa: BLE001 - a scenario file that cannot be read is shown, not a 500
            scenario_error = str(exc)
    base = None
    try:
        base = definition_queries.latest_version(draft.process_key)
    except NotFound:
        pass
    changes = None
    if base is not None and checked.parsed is not None and draft.process_key in checked.parsed.processes:
        proc = checked.parsed.processes[draft.process_key]
        old_files = model_files(base)
        new_files = {f.name: f.content.encode("utf-8") for f in draft.files}
        changes = _with_files(spec_diff.diff_specs(definition_queries.spec_for(base),
                                                   (proc.spec, proc.subprocess_specs),
                                                   old_files.get(base.bpmn_file), new_files.get(proc.file)),
                              old_files, new_files)
    return Review(checked, scenarios, scenario_error, base, changes, conflicts(draft))
