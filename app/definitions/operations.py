"""Deploying bundles as versioned process definitions: one model folder or a library of them, a
changed process as a new version, called processes resolved against what is deployed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.core import audit
from app.core.errors import Forbidden, Invalid, NotFound
from app.core.extensions import db
from app.core.models import utcnow
from app.core.transactions import write_transaction
from app.definitions.models import Deployment, DeploymentFile, ProcessRelease, ProcessVersion
from app.definitions.queries import _SPEC_CACHE, _latest_versions, known_roles, list_latest, spec_for
from app.engine import bundle as bundle_mod
from app.people import operations as people
from app.people.actor import Actor

# Who decides which version new instances start on (and moves running ones: app/instances/migration.py).
RELEASERS = frozenset({"process_owner", "admin"})


@dataclass
class DeployResult:
    deployment_id: int | None
    created: list[ProcessVersion] = field(default_factory=list)
    unchanged: list[ProcessVersion] = field(default_factory=list)
    # What happened when it is not obvious, e.g. a decision table uploaded alone.
    note: str = ""


def _resolver(extra: dict[str, bundle_mod.Resolved] | None = None) -> bundle_mod.Resolver:
    """Finds a called process outside the bundle: an earlier model of the same upload, else the
    deployed version (the newest, or the pinned one)."""

    def resolve(key: str, pinned: int | None) -> bundle_mod.Resolved | None:
        if pinned is None and extra and key in extra:
            return extra[key]
        if pinned is None:
            version = _latest_versions([key]).get(key)
        else:
            version = db.session.scalars(select(ProcessVersion).where(
                ProcessVersion.process_key == key, ProcessVersion.version == pinned)).first()
        if version is None:
            return None
        spec, subprocess_specs = spec_for(version)
        deployment = db.session.get(Deployment, version.deployment_id)
        files = {f.name: f.content for f in deployment.files if f.name in set(version.forms or [])}
        return bundle_mod.Resolved(key, version.version, spec, subprocess_specs, "deployed", files,
                                   f"{key}-v{version.version}")

    return resolve


def validate_files(files: list[bundle_mod.BundleFile]) -> bundle_mod.Bundle:
    """Validate a bundle; raise Invalid listing every problem."""
    groups = _model_groups(files)
    if len(groups) > 1:
        merged = bundle_mod.Bundle(files={})
        for _, parsed in _validate_library(groups):
            merged.processes.update(parsed.processes)
            merged.notes.extend(parsed.notes)
            merged.groups.update(parsed.groups)
        return merged
    try:
        return bundle_mod.load_bundle(files, known_roles(), _resolver())
    except bundle_mod.BundleInvalid as exc:
        raise Invalid(
            f"the bundle has {len(exc.problems)} problem(s); nothing was deployed",
            errors=[p.as_dict() for p in exc.problems],
        ) from exc


def deploy(files: list[bundle_mod.BundleFile], actor: str, source: str = "",
           within: Callable[[DeployResult], None] | None = None) -> DeployResult:
    """Deploy a bundle in one transaction: changed processes get a new version, unchanged are a no-op.

    ``within`` runs inside that transaction once the versions are written (the studio removes the
    published draft and records the note there: all of it happens, or none of it).
    """
    if len(_model_groups(files)) > 1:
        return _deploy_library(_model_groups(files), actor, source, within)
    parsed = validate_files(files)  # parsed before the write transaction: it may take a while
    if not parsed.processes:
        if not any(name.endswith((".dmn", ".json")) and name != "process_model.json" for name in parsed.files):
            problem = "the bundle holds no process (no .bpmn file with a bpmn:process): nothing was deployed"
            raise Invalid(problem, errors=[{"file": name, "line": None, "element": None, "message": problem}
                                           for name in sorted(parsed.files)])
        return _deploy_to_users(parsed, actor, source, within)
    result = DeployResult(deployment_id=None)
    # The latest versions are read inside the write transaction, so two deploys number in turn.
    with write_transaction():
        specs = _write_bundle(parsed, actor, source, result, {})
        if within is not None:
            within(result)
    _cache_created(result, specs)
    _note_calls(result, [parsed])
    _note_imports(result, [parsed])
    return result


def _note_imports(result: DeployResult, bundles: list[bundle_mod.Bundle]) -> None:
    """The Camunda import report (mapped and ignored extensions), one entry per attribute, and the
    warnings (lanes that became groups)."""
    notes = [f for parsed in bundles for f in parsed.notes]
    camunda = [str(f) for f in notes if f.what.startswith(("camunda:", "zeebe:"))]
    others = [str(f) for f in notes if not f.what.startswith(("camunda:", "zeebe:"))]
    if camunda:
        result.note = "; ".join(filter(None, [result.note, "Camunda extensions: " + "; ".join(camunda)]))
    if others:
        result.note = "; ".join(filter(None, [result.note, "warnings: " + "; ".join(others)]))


def _write_bundle(parsed: bundle_mod.Bundle, actor: str, source: str, result: DeployResult,
                  written: dict[str, ProcessVersion]) -> dict[str, bundle_mod.ParsedProcess]:
    """New versions of the changed processes of ``parsed`` in one deployment (inside the caller's
    write transaction). ``written``: versions of the models written before in the same upload,
    which calls between models are recorded with; the processes of ``parsed`` are added to it."""
    if parsed.groups:  # lanes that are not roles: their groups, made once (an admin fills them)
        people.ensure_groups(parsed.groups, actor)
    latest = _latest_versions(list(parsed.processes))
    changed = {k: p for k, p in parsed.processes.items()
               if k not in latest or latest[k].content_hash != p.content_hash}
    unchanged = [latest[k] for k in parsed.processes if k not in changed]
    result.unchanged.extend(unchanged)
    written.update({v.process_key: v for v in unchanged})
    if not changed:
        return {}
    deployment = Deployment(deployed_by=actor, source=source[:300])
    for name, content in sorted(parsed.files.items()):
        deployment.files.append(DeploymentFile(name=name, content=content,
                                               sha256=hashlib.sha256(content).hexdigest()))
    db.session.add(deployment)
    db.session.flush()
    created = []
    for key, proc in changed.items():
        previous = latest.get(key)
        spec = proc.spec_dict
        if proc.calls:  # which version of each called process this version embeds
            spec = {**spec, "calls": {name: {"version": r.version if r.version is not None
                                             else getattr(written.get(name), "version", None),
                                             "from": r.model or "deployed"}
                                      for name, r in sorted(proc.calls.items())}}
        version = ProcessVersion(
            process_key=key, version=(previous.version + 1) if previous else 1, name=proc.name,
            content_hash=proc.content_hash, spec=spec, bpmn_file=proc.file,
            forms=proc.forms, deployment_id=deployment.id, start_policy=proc.start_policy,
        )
        db.session.add(version)
        created.append(version)
    db.session.flush()
    result.created.extend(created)
    written.update({v.process_key: v for v in created})
    calls = {v.process_key: v.spec["calls"] for v in created if "calls" in v.spec}
    audit.record(actor, "deploy", source=source[:300],
                 versions={v.process_key: v.version for v in created},
                 unchanged=[v.process_key for v in unchanged], **({"calls": calls} if calls else {}))
    result.deployment_id = deployment.id
    return changed


def _cache_created(result: DeployResult, specs: dict[str, bundle_mod.ParsedProcess]) -> None:
    for v in result.created:
        proc = specs.get(v.process_key)
        if proc is not None:
            _SPEC_CACHE.put(v.id, (proc.spec, proc.subprocess_specs))


def _note_calls(result: DeployResult, bundles: list[bundle_mod.Bundle]) -> None:
    created = {v.process_key: v for v in result.created}
    parts = []
    for parsed in bundles:
        for key, proc in sorted(parsed.processes.items()):
            version = created.get(key)
            recorded = (version.spec.get("calls") or {}) if version is not None else {}
            for name in sorted(proc.calls):
                v = (recorded.get(name) or {}).get("version") or proc.calls[name].version
                parts.append(f"{key} calls {name} v{v}")
    if parts:
        result.note = "; ".join(filter(None, [result.note, "calls resolved: " + ", ".join(parts)]))


# -- a library: several process model folders in one upload ------------------------------------------

_GROUP_FILE = "process_group.json"


def _model_groups(files: list[bundle_mod.BundleFile]) -> dict[str, list[bundle_mod.BundleFile]]:
    """Files per process model folder; SpiffArena's process_group.json files are not part of a model."""
    return bundle_mod.group_by_model([f for f in files if f.name != _GROUP_FILE])


def _library_order(groups: dict[str, list[bundle_mod.BundleFile]]) -> list[str]:
    """Model folders with the called ones first (a cycle keeps name order)."""
    defines: dict[str, set[str]] = {}
    needs: dict[str, set[str]] = {}
    for folder, files in groups.items():
        defines[folder], needs[folder] = bundle_mod.ids_and_calls(files)
    owner = {pid: folder for folder, ids in defines.items() for pid in ids}
    deps = {folder: {owner[c] for c in needs[folder] if c in owner and owner[c] != folder} for folder in groups}
    order: list[str] = []
    pending = sorted(groups)
    while pending:
        ready = [f for f in pending if deps[f] <= set(order)] or pending[:1]
        order.append(ready[0])
        pending.remove(ready[0])
    return order


def _validate_library(groups: dict[str, list[bundle_mod.BundleFile]]) -> list[tuple[str, bundle_mod.Bundle]]:
    """Each model folder validated on its own, calls between them resolved; raise Invalid with all problems."""
    extra: dict[str, bundle_mod.Resolved] = {}
    parsed_groups: list[tuple[str, bundle_mod.Bundle]] = []
    problems: list[dict[str, Any]] = []
    shared = groups.get("", [])
    if shared and not any(f.name.endswith(".bpmn") for f in shared):
        # Forms or decision tables outside any model folder (e.g. the configured forms folder): each
        # model may use them, so each gets the ones it does not hold itself.
        groups = {folder: files + [f for f in shared if f.name not in {g.name for g in files}]
                  for folder, files in groups.items() if folder}
    for folder in _library_order(groups):
        files = groups[folder]
        where = f"{folder}/" if folder else ""
        if not any(f.name.endswith(".bpmn") for f in files):
            if folder or any(f.name != bundle_mod.MODEL_FILE for f in files):
                problems.append({"file": where + (files[0].name if files else bundle_mod.MODEL_FILE), "line": None,
                                 "element": None, "message": "this model folder holds no .bpmn file: nothing in it "
                                 "can be deployed" if folder else "files outside any process model folder: "
                                 + ", ".join(sorted(f.name for f in files))})
            continue
        try:
            parsed = bundle_mod.load_bundle(files, known_roles(), _resolver(extra))
        except bundle_mod.BundleInvalid as exc:
            problems.extend({**p.as_dict(), "file": where + p.file} for p in exc.problems)
            continue
        for key, proc in parsed.processes.items():
            if key in extra:
                problems.append({"file": where + proc.file, "line": None, "element": key,
                                 "message": f"process '{key}' is defined in two model folders "
                                            f"({extra[key].model} and {folder})"})
            extra[key] = bundle_mod.Resolved(key, None, proc.spec, proc.subprocess_specs, folder,
                                             {n: parsed.files[n] for n in proc.forms if n in parsed.files},
                                             folder.rsplit("/", 1)[-1] or key)
        parsed_groups.append((folder, parsed))
    if problems:
        raise Invalid(f"the library has {len(problems)} problem(s); nothing was deployed", errors=problems)
    return parsed_groups


def _deploy_library(groups: dict[str, list[bundle_mod.BundleFile]], actor: str, source: str,
                    within: Callable[[DeployResult], None] | None = None) -> DeployResult:
    """Each process model folder deployed as its own model (its own deployment and files), all in one
    transaction, called models first; calls between them are recorded with the versions written."""
    parsed_groups = _validate_library(groups)
    result = DeployResult(deployment_id=None)
    specs: dict[str, bundle_mod.ParsedProcess] = {}
    written: dict[str, ProcessVersion] = {}
    with write_transaction():
        for folder, parsed in parsed_groups:
            specs.update(_write_bundle(parsed, actor, f"{source} [{folder or '/'}]", result, written))
        if within is not None:
            within(result)
    _cache_created(result, specs)
    result.note = f"{len(parsed_groups)} process models deployed each as its own model: " + ", ".join(
        f"{folder or '/'} ({', '.join(sorted(parsed.processes))})" for folder, parsed in parsed_groups)
    _note_calls(result, [parsed for _, parsed in parsed_groups])
    _note_imports(result, [parsed for _, parsed in parsed_groups])
    return result


def _deploy_to_users(uploaded: bundle_mod.Bundle, actor: str, source: str,
                     within: Callable[[DeployResult], None] | None = None) -> DeployResult:
    """DMN tables and forms uploaded without a BPMN: a new version of every process that uses them.

    Each such process is rebuilt from the files of its latest deployment with the uploaded files
    in place of the old ones (a deployed DMN that defines an uploaded decision under another file
    name is left out). A process that uses none of them is not touched; when no deployed process
    uses them, nothing is deployed and the answer says so (422).
    """
    decisions = {d for name, content in uploaded.files.items() if name.endswith(".dmn")
                 for d in bundle_mod.decision_ids(content)}
    form_names = {name for name in uploaded.files if name.endswith(".json") and name != "process_model.json"}
    what = ", ".join([*(f"decision {d}" for d in sorted(decisions)), *sorted(form_names)]) or "these files"
    groups: dict[int, list[ProcessVersion]] = {}
    for version in list_latest():
        groups.setdefault(version.deployment_id, []).append(version)
    plans: list[tuple[dict[str, bytes], list[bundle_mod.ParsedProcess]]] = []
    users: list[str] = []
    used: set[str] = set()
    for deployment_id in sorted(groups):
        versions = {v.process_key: v for v in groups[deployment_id]}
        deployed = {f.name: f.content for f in db.session.get(Deployment, deployment_id).files}
        mentions = any(f"calledDecisionId>{d}<".encode() in content
                       for name, content in deployed.items() if name.endswith(".bpmn") for d in decisions)
        changed_forms = {n for n in form_names if n in deployed and deployed[n] != uploaded.files[n]}
        if not mentions and not any(set(v.forms or []) & form_names for v in versions.values()):
            continue
        files = {name: content for name, content in deployed.items()
                 if not (name.endswith(".dmn") and bundle_mod.decision_ids(content) & decisions)}
        files.update(uploaded.files)
        try:
            parsed = bundle_mod.load_bundle([bundle_mod.BundleFile(n, c) for n, c in files.items()], known_roles(),
                                            _resolver())
        except bundle_mod.BundleInvalid as exc:
            raise Invalid(f"with {what}, the deployed processes {', '.join(sorted(versions))} have "
                          f"{len(exc.problems)} problem(s); nothing was deployed",
                          errors=[p.as_dict() for p in exc.problems]) from exc
        chosen = []
        for key, proc in parsed.processes.items():
            if key not in versions:
                continue
            spec_text = json.dumps(proc.spec_dict, default=str)
            if not (any(f'"{d}"' in spec_text for d in decisions) or set(proc.forms) & form_names):
                continue
            users.append(key)
            used.update(d for d in decisions if f'"{d}"' in spec_text)
            if proc.content_hash != versions[key].content_hash or set(proc.forms) & changed_forms:
                chosen.append(proc)
        if chosen:
            plans.append((files, chosen))
    if not users:
        problem = (f"no deployed process uses {what}: nothing was deployed. Upload it together with the "
                   "BPMN file that calls it (a business rule task's calledDecisionId), or deploy that process first")
        raise Invalid(problem, errors=[{"file": name, "line": None, "element": None, "message": problem}
                                       for name in sorted(uploaded.files)])
    result = DeployResult(deployment_id=None)
    with write_transaction():
        latest = _latest_versions(sorted(set(users)))
        chosen_keys = {p.key for _, chosen in plans for p in chosen}
        result.unchanged = [latest[k] for k in sorted(set(users)) if k not in chosen_keys]
        specs = {}
        for files, chosen in plans:
            deployment = Deployment(deployed_by=actor, source=source)
            for name, content in sorted(files.items()):
                deployment.files.append(DeploymentFile(name=name, content=content,
                                                       sha256=hashlib.sha256(content).hexdigest()))
            db.session.add(deployment)
            db.session.flush()
            for proc in chosen:
                previous = latest[proc.key]
                version = ProcessVersion(
                    process_key=proc.key, version=previous.version + 1, name=proc.name,
                    content_hash=proc.content_hash, spec=proc.spec_dict, bpmn_file=proc.file, forms=proc.forms,
                    deployment_id=deployment.id, start_policy=proc.start_policy)
                db.session.add(version)
                result.created.append(version)
                specs[proc.key] = proc
            result.deployment_id = deployment.id
        db.session.flush()
        if result.created:
            result.note = (f"{what} deployed as a new version of every process that uses it, built from its "
                           "latest deployed files: " + ", ".join(f"{v.process_key} v{v.version}"
                                                                for v in result.created))
        else:
            result.note = (f"{what} is the same as deployed for " + ", ".join(v.process_key for v in result.unchanged)
                           + ": nothing was deployed")
        if decisions - used:
            result.note += (f"; decision {', '.join(sorted(decisions - used))} is used by no deployed process "
                            "(deploy it with the BPMN that calls it)")
        audit.record(actor, "deploy", source=source, versions={v.process_key: v.version for v in result.created},
                     unchanged=[v.process_key for v in result.unchanged], carried=sorted(decisions | form_names))
        if within is not None:
            within(result)
    for v in result.created:
        proc = specs[v.process_key]
        _SPEC_CACHE.put(v.id, (proc.spec, proc.subprocess_specs))
    return result


def deploy_directory(paths: list[Path], actor: str) -> DeployResult:
    return deploy(bundle_mod.read_paths(paths), actor, source=", ".join(str(p) for p in paths))




# -- the version new instances start on ----------------------------------------------------------------

def set_release(process_key: str, version: int, actor: Actor, reason: str = "") -> ProcessVersion:
    """Make ``version`` the one new instances of ``process_key`` start on (a roll back is one call).

    The newest version needs no row (no row: the newest), so releasing it removes the row and a later
    publish starts on its new version again. Running instances stay where they are.
    """
    if not actor.roles & RELEASERS:
        raise Forbidden("only a process owner or an admin chooses the version new instances start on")
    with write_transaction():
        chosen = db.session.scalars(select(ProcessVersion).where(
            ProcessVersion.process_key == process_key, ProcessVersion.version == version)).first()
        if chosen is None:
            raise NotFound(f"process '{process_key}' has no version {version}")
        newest = _latest_versions([process_key])[process_key]
        release = db.session.scalars(select(ProcessRelease).where(ProcessRelease.process_key == process_key)
                                     .with_for_update(of=ProcessRelease)
                                     .execution_options(populate_existing=True)).first()
        previous = release.process_version.version if release is not None else newest.version
        if chosen.id == newest.id:
            if release is not None:
                db.session.delete(release)
        elif release is None:
            db.session.add(ProcessRelease(process_key=process_key, process_version_id=chosen.id,
                                          set_by=actor.username, reason=reason))
        else:
            release.process_version_id, release.set_by, release.reason = chosen.id, actor.username, reason
            release.set_at = utcnow()
        audit.record(actor.username, "release_set", process_key=process_key, version=chosen.version,
                     previous_version=previous, newest_version=newest.version, reason=reason)
    return chosen
