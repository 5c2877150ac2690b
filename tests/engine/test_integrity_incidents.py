"""Issue 9, item 5: only a repair (retry, skip, or the failed command done again) leaves the error
state; claiming a task of an instance in error used to clear the incident unrepaired."""

from __future__ import annotations

import pytest

from app.core.errors import StepFailed
from app.instances import commands as instances
from tests.engine.conftest import fresh_instance, ready


def _in_error(actors) -> tuple[int, str]:  # noqa: ANN001
    pm = actors["maria"]
    instance = instances.start("failures", pm, {"mode": "import"})
    [submit] = ready(instance.id)
    with pytest.raises(StepFailed):
        instances.complete(submit.id, pm, {"note": "go"})
    assert fresh_instance(instance.id).status == "error"
    return instance.id, submit.id


def test_claim_unclaim_and_assign_leave_the_incident_in_place(app, actors, engine_deployed):
    instance_id, submit_id = _in_error(actors)
    error = fresh_instance(instance_id).error
    instances.claim(submit_id, actors["maria"])
    instance = fresh_instance(instance_id)
    assert instance.status == "error" and instance.error == error
    instances.assign(submit_id, actors["maria"], "paul")
    instances.unclaim(submit_id, actors["paul"])
    instance = fresh_instance(instance_id)
    assert instance.status == "error" and instance.error == error


def test_retry_repairs_and_terminate_ends(app, actors, engine_deployed):
    instance_id, _ = _in_error(actors)
    instance = instances.retry(instance_id, actors["admin"])
    assert instance.status == "running" and instance.error is None
    other_id, _ = _in_error(actors)
    assert instances.terminate(other_id, actors["admin"], "give up").status == "terminated"


def test_the_failed_completion_done_again_repairs(app, actors, engine_deployed):
    instance_id, submit_id = _in_error(actors)
    assert fresh_instance(instance_id).error["command_task_id"] == submit_id
    instances.complete(submit_id, actors["maria"], {"mode": "ok"})
    instance = fresh_instance(instance_id)
    assert instance.status == "running" and instance.error is None
