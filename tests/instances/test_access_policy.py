"""The access policy (app/instances/access.py): its Python predicates and its SQL conditions agree on
a matrix of users × task states, and the rules say what the module states."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from app.core.errors import Conflict, Forbidden, NotFound
from app.core.extensions import db
from app.instances import access
from app.instances import commands as instances
from app.instances.models import HumanTask, HumanTaskCandidate, ProcessInstance, TaskStatus
from app.people.actor import Actor

# name -> (status, assignee, completed_by, candidate roles, candidate users, excluded users)
STATES = {
    "offered_to_role": (TaskStatus.READY, None, None, ["project_manager"], [], []),
    "claimed_by_paul": (TaskStatus.READY, "paul", None, ["project_manager"], [], []),
    "maria_excluded": (TaskStatus.READY, None, None, ["project_manager"], [], ["maria"]),
    "assigned_to_excluded_maria": (TaskStatus.READY, "maria", None, [], ["maria"], ["maria"]),
    "offered_by_name_to_sam": (TaskStatus.READY, None, None, [], ["sam"], []),
    "completed_by_sam": (TaskStatus.COMPLETED, None, "sam", ["sponsor"], [], []),
    "cancelled": (TaskStatus.CANCELLED, None, None, ["project_manager"], [], []),
    "lookalike_exclusions": (TaskStatus.READY, None, None, ["project_manager"], [], ["ma_ia", "maria2", "zoë"]),
    "zoe_excluded": (TaskStatus.READY, None, None, ["project_manager"], [], ["zoë"]),
}

ACTORS = {
    "maria": Actor("maria", frozenset({"project_manager"})),
    "paul": Actor("paul", frozenset({"project_manager"})),
    "sam": Actor("sam", frozenset({"sponsor"})),
    "petra": Actor("petra", frozenset({"pmo"})),
    "admin": Actor("admin", frozenset({"admin"})),
    "quinn": Actor("quinn", frozenset({"quality_lead"})),
    "nobody": Actor("nobody", frozenset()),
    "zoë": Actor("zoë", frozenset({"project_manager"})),
}


@pytest.fixture
def tasks(app, actors, deployed) -> dict[str, HumanTask]:
    instance = instances.start("simple_approval", actors["owen"], {})
    for row in instances.ready_tasks(instance.id):  # the instance's own task is not part of the matrix
        row.status = TaskStatus.CANCELLED
    rows = {}
    for name, (status, assignee, completed_by, roles, users, excluded) in STATES.items():
        row = HumanTask(id=str(uuid.uuid4()), instance_id=instance.id, process_key="simple_approval",
                        business_key=instance.business_key,
                        element_id=name, title=name, status=status, assignee=assignee,
                        completed_by=completed_by, excluded_users=excluded)
        row.candidates = [HumanTaskCandidate(role=r) for r in roles] + [HumanTaskCandidate(username=u) for u in users]
        db.session.add(row)
        rows[name] = row
    db.session.commit()
    return rows


def _matching(condition, task_ids: list[str]) -> set[str]:  # noqa: ANN001
    return set(db.session.scalars(select(HumanTask.id).where(HumanTask.id.in_(task_ids), condition)))


RULES = [
    (access.may_see, access.may_see_sql),
    (access.is_available, access.available_sql),
    (access.may_act, access.may_act_sql),
    (access.is_involved, access.involves_sql),
    (lambda t, a: access.is_candidate(t, a), access.candidate_sql),
    (lambda t, a: access.is_excluded(t, a.username), lambda a: access.excluded_sql(a.username)),
    (lambda t, a: access.may_act(t, a) and t.assignee == a.username, access.assigned_open_sql),
]


@pytest.mark.parametrize("actor", list(ACTORS), ids=list(ACTORS))
def test_predicates_and_sql_conditions_agree(tasks, actor):
    who = ACTORS[actor]
    ids = [t.id for t in tasks.values()]
    for predicate, condition in RULES:
        in_python = {t.id for t in tasks.values() if predicate(t, who)}
        assert _matching(condition(who), ids) == in_python, (actor, predicate, condition)


def test_the_rules(tasks):
    def who(rule, name: str) -> set[str]:  # noqa: ANN001
        return {a for a, actor in ACTORS.items() if rule(tasks[name], actor)}

    everyone_who_oversees = {"petra", "admin"}
    # seeing: oversight, assignee, completer, a candidate who is not excluded
    assert who(access.may_see, "offered_to_role") == everyone_who_oversees | {"maria", "paul", "zoë"}
    assert who(access.may_see, "claimed_by_paul") == everyone_who_oversees | {"maria", "paul", "zoë"}
    assert who(access.may_see, "maria_excluded") == everyone_who_oversees | {"paul", "zoë"}
    assert who(access.may_see, "assigned_to_excluded_maria") == everyone_who_oversees | {"maria"}
    assert who(access.may_see, "completed_by_sam") == everyone_who_oversees | {"sam"}
    assert who(access.may_see, "zoe_excluded") == everyone_who_oversees | {"maria", "paul"}
    # available: open, unclaimed, offered, not excluded
    assert who(access.is_available, "offered_to_role") == {"maria", "paul", "zoë"}
    assert who(access.is_available, "claimed_by_paul") == set()
    assert who(access.is_available, "maria_excluded") == {"paul", "zoë"}
    assert who(access.is_available, "lookalike_exclusions") == {"maria", "paul"}
    assert who(access.is_available, "offered_by_name_to_sam") == {"sam"}
    assert who(access.is_available, "cancelled") == set()
    # acting: open, not excluded, assignee or available; an excluded assignee may not
    assert who(access.may_act, "claimed_by_paul") == {"paul"}
    assert who(access.may_act, "assigned_to_excluded_maria") == set()
    assert who(access.may_act, "completed_by_sam") == set()
    assert who(access.may_claim, "maria_excluded") == {"paul", "zoë"}
    assert who(access.may_claim, "claimed_by_paul") == {"paul"}  # claiming one's own again is a no-op


def test_refusals_carry_the_answer(tasks):
    maria, paul, sam = ACTORS["maria"], ACTORS["paul"], ACTORS["sam"]
    refusal = access.claim_refusal(tasks["maria_excluded"], maria)
    assert refusal.error is NotFound  # a task she may not see does not exist for her
    refusal = access.act_refusal(tasks["assigned_to_excluded_maria"], maria)
    assert refusal.error is Forbidden and "segregation of duties" in refusal.message
    assert access.claim_refusal(tasks["claimed_by_paul"], maria).error is Conflict
    assert access.act_refusal(tasks["claimed_by_paul"], maria).error is Forbidden
    assert access.act_refusal(tasks["completed_by_sam"], sam).error is Conflict
    assert access.release_refusal(tasks["claimed_by_paul"], maria).error is Forbidden
    assert access.release_refusal(tasks["claimed_by_paul"], ACTORS["admin"]) is None
    assert access.assign_refusal(tasks["claimed_by_paul"], paul, maria) is None
    assert access.assign_refusal(tasks["claimed_by_paul"], paul, sam).error is Forbidden
    assert access.assign_refusal(tasks["claimed_by_paul"], ACTORS["petra"]) is None
    assert access.assign_refusal(tasks["offered_to_role"], maria).error is Forbidden
    with pytest.raises(NotFound):
        access.visible_task(tasks["offered_to_role"].id, sam)


@pytest.mark.parametrize("actor", list(ACTORS), ids=list(ACTORS))
def test_instance_visibility_is_made_of_the_same_terms(tasks, actor):
    who = ACTORS[actor]
    instance_id = tasks["offered_to_role"].instance_id
    instance = db.session.get(ProcessInstance, instance_id)
    through_tasks = any(access.is_involved(t, who) for t in db.session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance_id)))
    expected = access.has_oversight(who) or instance.started_by == who.username or through_tasks
    found = db.session.scalar(select(ProcessInstance.id).where(ProcessInstance.id == instance_id,
                                                               access.instance_visible_sql(who)))
    assert (found is not None) == expected
