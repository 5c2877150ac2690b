"""A draft's scenarios (test_<process>.json beside its BPMN) run with the real engine in memory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.studio.models import Draft
from app.studio.operations import bundle_files


def scenario_runner() -> Callable[[list[Any]], list[Any]]:
    """The runner publishing uses: every scenario of the files must pass."""
    from app.definitions.scenarios import run_scenarios

    return run_scenarios


def run_draft_scenarios(draft: Draft) -> list[Any]:
    return scenario_runner()(bundle_files(draft))
