"""A realistic library of process models of our own making (tests/engine/fixtures/interop/library):
SpiffArena model folders, Camunda 7 and 8 diagrams, bpmn.io and Signavio exports. Each model is
deployed (a model folder on its own, a single-file diagram with the forms beside it) and driven
to its end; the ones refused say why, with file, line and element. The count is pinned here."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from app.core.errors import Invalid
from app.definitions import operations as definitions
from app.engine import clock
from app.instances import access
from app.instances import commands as instances
from app.people import operations as people
from tests.engine.conftest import fresh_instance, ready

LIBRARY = Path(__file__).parent / "fixtures" / "interop" / "library"


def _done(instance_id: int) -> bool:
    return fresh_instance(instance_id).status == "completed"


def _complete_all(instance_id: int, actor, data_for=lambda element: {}) -> None:  # noqa: ANN001
    for _ in range(10):
        tasks = [t for t in ready(instance_id) if access.is_candidate(t, actor)]
        if not tasks:
            return
        instances.complete(tasks[0].id, actor, data_for(tasks[0].element_id))


def _purchase(actors) -> bool:  # noqa: ANN001
    inst = instances.start_by_user("purchase_request", actors["maria"], {})
    _complete_all(inst.id, actors["maria"], lambda e: {"item": "Desk", "amount": 300})
    _complete_all(inst.id, actors["sam"], lambda e: {"decision": "approve"})
    return _done(inst.id)


def _status(actors) -> bool:  # noqa: ANN001
    inst = instances.start("status_check", actors["maria"], {})
    _complete_all(inst.id, actors["maria"], lambda e: {"status": "at_risk"})
    return _done(inst.id) and instances.instance_data(fresh_instance(inst.id))["colour"] == "green"


def _supplier(actors) -> bool:  # noqa: ANN001
    by_message = instances.start("await_supplier", actors["maria"], {})
    instances.start("send_quote", actors["maria"], {})
    by_timer = instances.start("await_supplier", actors["maria"], {})
    clock.advance(timedelta(days=3))
    instances.fire_due_timers(by_timer.id)
    return _done(by_message.id) and _done(by_timer.id)


def _leave(actors) -> bool:  # noqa: ANN001
    inst = instances.start("c7_leave_request", actors["maria"], {})
    _complete_all(inst.id, actors["maria"], lambda e: {"days": 3})
    [approve] = ready(inst.id)
    assert approve.candidate_roles == ["sponsor"] and approve.due_at is not None
    _complete_all(inst.id, actors["sam"])
    return _done(inst.id)


def _risk(actors) -> bool:  # noqa: ANN001
    inst = instances.start("c8_risk_review", actors["maria"], {})
    [review] = ready(inst.id)
    assert review.candidate_roles == ["pmo"]
    _complete_all(inst.id, actors["admin"])
    return _done(inst.id)


def _finance(actors) -> bool:  # noqa: ANN001
    """The lane 'Finance Team' is no role: its task waits for the group until an admin fills it."""
    inst = instances.start("finance_review", actors["maria"], {})
    [check] = ready(inst.id)
    assert check.candidate_groups == ["finance_team"]
    assert not any(access.is_candidate(check, a) for a in actors.values())
    people.add_group_member("finance_team", actors["admin"], username="quinn")
    _complete_all(inst.id, actors["quinn"])
    return _done(inst.id)


def _expense(actors) -> bool:  # noqa: ANN001
    inst = instances.start("expense_check", actors["maria"], {"amount": 900})
    _complete_all(inst.id, actors["maria"])
    return _done(inst.id)


# (what to deploy, how to run it, or the reason it is refused)
MODELS = [
    ("procurement/shared-approval", None, None),           # runs inside purchase-request
    ("procurement/purchase-request", _purchase, None),
    ("operations/status-check", _status, None),
    ("operations/supplier-reply", _supplier, None),
    ("operations/finance-review", _finance, None),      # its lane is a group an admin fills
    ("operations/weather-connector", None, "'http/GetRequest' is not registered"),
    ("camunda/leave_request.bpmn", _leave, None),
    ("camunda/risk_review.bpmn", _risk, None),
    ("bpmnio/expense_check.bpmn", _expense, None),
    ("signavio/escalation.bpmn", None, "JUEL expression"),
]


def _paths(name: str) -> list[Path]:
    path = LIBRARY / name
    return [path] if path.is_dir() else [path, *sorted(path.parent.glob("*.json"))]


def test_how_many_models_of_the_library_deploy_and_run(app, actors):
    clock.reset()
    ran: list[str] = []
    refused: dict[str, str] = {}
    try:
        for name, run, reason in MODELS:
            try:
                definitions.deploy_directory(_paths(name), "admin")
            except Invalid as exc:
                problem = exc.errors[0]
                assert problem["file"] and problem["line"] and problem["element"], problem
                refused[name] = problem["message"]
                assert reason and reason in problem["message"], (name, exc.errors)
                continue
            assert reason is None, (name, "deployed but expected to be refused")
            if run is None or run(actors):
                ran.append(name)
    finally:
        clock.reset()
    assert len(ran) == 8 and len(refused) == 2, (ran, refused)
    print(f"{len(ran)} of {len(MODELS)} models deploy and run; refused: {refused}")
