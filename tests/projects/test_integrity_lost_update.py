"""Issue 9 item 4: two change requests of one project approved at the same moment, with real threads.

Each approval runs ``pmo/ApplyChangeToBaseline``, which reads the project's baseline and writes it
back. Without a row lock both read 650000 and both write 658000 (one change lost). On PostgreSQL the
operators lock the project row (``SELECT ... FOR UPDATE``); on SQLite the write transaction is
``BEGIN IMMEDIATE``, so the same test passes there by serialisation.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from app.core.extensions import db
from app.engine import runtime
from app.instances import commands as instances
from app.projects.models import Project
from tests.conftest import ON_POSTGRES
from tests.projects.conftest import initiated_project
from tests.projects.data import CHANGE, assessment, d
from tests.threads import run_together as _run_together

pytestmark = pytest.mark.postgres  # proves it with real concurrency there; serialised on SQLite




@pytest.fixture
def both_inside_operator(monkeypatch):  # noqa: ANN001, ANN201
    """Hold each approval at its first project operator (RecordChangeDecision, which runs just before
    ApplyChangeToBaseline) until the other got there too.

    This makes the race certain on PostgreSQL (both steps are inside their transactions before
    either reads the project). On SQLite the second cannot begin while the first holds the write
    lock, so there the rendezvous just times out and each goes on alone.
    """
    name = "pmo/RecordChangeDecision"
    original = runtime.OPERATORS[name]
    rendezvous = threading.Barrier(2)

    def held(call):  # noqa: ANN001, ANN202
        if ON_POSTGRES:
            try:
                rendezvous.wait(timeout=10)
            except threading.BrokenBarrierError:
                pass
        return original(call)

    monkeypatch.setitem(runtime.OPERATORS, name, held)
    return rendezvous


def test_two_change_requests_approved_at_once_both_move_the_baseline(app, pmo, both_inside_operator):
    from app.projects import operations as services
    project_id, _ = initiated_project(pmo)
    project = db.session.get(Project, project_id)
    start_budget = project.budget_baseline or project.budget_estimate
    start_version = project.baseline_version or 0
    decisions = []
    for _ in range(2):
        iid = services.start_change_request(project_id, pmo.actors["paul"], d(CHANGE)).id
        pmo.do("maria", iid, "assess", assessment(8000, 3, "low"))
        decisions.append((iid, pmo.task(iid, "pm_decision").id))
    db.session.remove()

    def approve(task_id: str):  # noqa: ANN202
        return lambda: instances.complete(task_id, pmo.actors["maria"], {"change_decision": "approve"}).status

    results = _run_together(app, [approve(task_id) for _, task_id in decisions])
    assert results == ["completed", "completed"], [repr(r) for r in results]

    project = db.session.get(Project, project_id)
    assert project.budget_baseline == start_budget + Decimal("16000.00")  # 650000 -> 666000
    assert project.baseline_version == start_version + 2
    applied = sorted(cr.applied_baseline_version for cr in project.change_requests)
    assert applied == [start_version + 1, start_version + 2]
