"""A draft's scenarios (test_<process>.json beside its BPMN) run with the real engine in memory."""

from __future__ import annotations

from collections.abc import Callable

from app.api.io import View
from app.definitions.scenarios import ScenarioResult, run_scenarios
from app.studio.models import Draft
from app.studio.operations import bundle_files


def scenario_runner() -> Callable[[list], list[ScenarioResult]]:
    """The runner publishing uses: every scenario of the files must pass."""
    return run_scenarios


def run_draft_scenarios(draft: Draft) -> list[ScenarioResult]:
    return run_scenarios(bundle_files(draft))


def as_view(result: ScenarioResult) -> View:
    """A result with its failures as one line each, as pages and the API show them."""
    return View(result, failures=result.reasons(), scenario=result.scenario or f"{result.file} (not readable)")
