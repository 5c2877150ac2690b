"""Running a bundle's process test scenarios (``test_<process>.json``) before it is published.

The bundle is validated and parsed as a deploy would (called processes and decision tables
included, deployed ones found as a deploy finds them); each scenario then runs in memory with
the real engine and sandbox (app/engine/scenarios.py). Every submission is checked against the
task's form as a completion in the app is, so a scenario cannot pass with data an approver could
not send. Nothing is written: the studio runs this for a draft, ``pmo test-processes`` for files.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from app.core.errors import Invalid
from app.definitions import forms
from app.definitions import operations as definitions
from app.engine import bundle as bundle_mod
from app.engine import scenarios as engine_scenarios
from app.engine.helpers import SCRIPT_HELPERS
from app.engine.sandbox import Sandbox

MAX_TOTAL_SECONDS = 60.0  # all scenarios of one run together


@dataclass
class ScenarioResult:
    """One scenario's result; ``scenario`` is None when its file could not be read."""

    process: str
    scenario: str | None
    passed: bool
    file: str
    path: list[str] = field(default_factory=list)
    # {scenario, step, task, message} for a run; {file, line, element (the field), message} for a file
    failures: list[dict[str, Any]] = field(default_factory=list)
    end: str = ""
    waiting_at: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"process": self.process, "scenario": self.scenario, "passed": self.passed, "file": self.file,
                "path": self.path, "failures": self.failures, "end": self.end, "waiting_at": self.waiting_at,
                "seconds": round(self.seconds, 4)}

    def reasons(self) -> list[str]:
        """Each failure as one line: ``step, task X: why`` or ``file:line: field: why``."""
        return [str(bundle_mod.Problem(f["file"], f.get("line"), f.get("element"), f["message"])) if "file" in f
                else str(engine_scenarios.Failure(f["scenario"], f["step"], f["message"], f.get("task")))
                for f in self.failures]


def scenario_files(files: list[bundle_mod.BundleFile]) -> list[bundle_mod.BundleFile]:
    return sorted((f for f in files if bundle_mod.is_scenario_file(f.name)), key=lambda f: (f.folder, f.name))


def _target(parsed: bundle_mod.Bundle, file_name: str) -> bundle_mod.ParsedProcess | None:
    """The process a ``test_<name>.json`` is for: process id ``name``, else the process of ``name.bpmn``."""
    name = engine_scenarios.process_of(file_name) or ""
    if name in parsed.processes:
        return parsed.processes[name]
    return next((p for key, p in sorted(parsed.processes.items()) if p.file == f"{name}.bpmn"), None)


def _json(files: dict[str, bytes], name: str | None) -> dict[str, Any] | None:
    if not name or name not in files:
        return None
    doc = json.loads(files[name])
    return doc if isinstance(doc, dict) else None


def submission_check(files: dict[str, bytes]) -> engine_scenarios.SubmissionCheck:
    """The rule of a completion in the app (instances.commands): only the form's fields (a task
    without a form: its ``dataFields``), a read-only field only unchanged, the rest validated."""

    def check(properties: dict[str, str], current: dict[str, Any],
              submission: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        schema = _json(files, properties.get("formJsonSchemaFilename"))
        if schema is not None:
            schema = forms.with_task_options(schema, current)
            known, readonly = bundle_mod.form_fields(schema, _json(files, properties.get("formUiSchemaFilename")))
        else:
            known, readonly = set(bundle_mod.split_names(properties.get(bundle_mod.DATA_FIELDS))), set()
        reasons: list[str] = []
        accepted: dict[str, Any] = {}
        for key, value in submission.items():
            if key not in known:
                reasons.append(f"{key}: not a field of this task's form" if schema is not None
                               else f"{key}: this task takes only {', '.join(sorted(known))}" if known
                               else f"{key}: this task has no form and takes no data")
            elif key in readonly:
                if key not in current or current[key] != value:
                    reasons.append(f"{key}: read-only, the process sets it")
            else:
                accepted[key] = value
        if schema is not None:
            try:
                forms.validate(schema, {**{k: current[k] for k in readonly if k in current}, **accepted})
            except Invalid as exc:
                reasons.extend(f"{path or '(form)'}: {message}" for path, messages in (exc.errors or {}).items()
                               for message in messages)
        return accepted, reasons

    return check


def run_scenarios(files: list[bundle_mod.BundleFile]) -> list[ScenarioResult]:
    """Validate the bundle (Invalid with every problem, as a deploy would say) and run each of its
    scenario files' scenarios; an unreadable file gives one failed result naming its problems."""
    tests = scenario_files(files)
    parsed = definitions.validate_files(files)
    contents = {**{f.name: f.content for f in files}, **parsed.files}
    check = submission_check(contents)
    sandbox = Sandbox(time_limit=float(current_app.config.get("SCRIPT_TIME_LIMIT_SECONDS", 2.0)),
                      helpers=SCRIPT_HELPERS)
    max_seconds = float(current_app.config.get("SCENARIO_TIME_LIMIT_SECONDS", engine_scenarios.MAX_SECONDS))
    deadline = time.monotonic() + float(current_app.config.get("SCENARIOS_TIME_LIMIT_SECONDS", MAX_TOTAL_SECONDS))
    results: list[ScenarioResult] = []
    for test in tests:
        name = f"{test.folder}/{test.name}" if test.folder else test.name
        process = _target(parsed, test.name)
        wanted = engine_scenarios.process_of(test.name) or ""
        if process is None:
            known = ", ".join(sorted(parsed.processes)) or "none"
            problem = bundle_mod.Problem(name, 1, None, f"no process '{wanted}' and no {wanted}.bpmn in the bundle "
                                                       f"(processes: {known})")
            results.append(ScenarioResult(wanted, None, False, name, failures=[problem.as_dict()]))
            continue
        scenarios, problems = engine_scenarios.parse_scenarios(name, test.content, process.key)
        if problems:
            results.append(ScenarioResult(process.key, None, False, name, failures=[p.as_dict() for p in problems]))
            continue
        for scenario in scenarios:
            started = time.monotonic()
            if started >= deadline:  # the whole run is bounded too: a draft's scenarios never hold the server
                results.append(ScenarioResult(process.key, scenario.name, False, name, failures=[{
                    "scenario": scenario.name, "step": "start", "task": None,
                    "message": "not run: the scenarios together took longer than the limit "
                               f"({current_app.config.get('SCENARIOS_TIME_LIMIT_SECONDS', MAX_TOTAL_SECONDS)} s)"}],
                    end="failed"))
                continue
            outcome = engine_scenarios.run_scenario(scenario, process.spec, process.subprocess_specs, sandbox,
                                                    check_submission=check,
                                                    max_seconds=min(max_seconds, deadline - started))
            results.append(ScenarioResult(
                process.key, scenario.name, outcome.passed, name, outcome.path, [f.as_dict() for f in outcome.failures],
                outcome.end, outcome.waiting_at, time.monotonic() - started))
    return results
