"""Lanes that are not roles (SpiffArena treats lane names as groups): the lane deploys with a located
warning and becomes a group an admin fills with users and roles. Its tasks wait, listed on the
operations page, until the group has a member; a member added later sees the tasks already waiting
(the inbox reads the membership, no task row is rewritten); ``lane_owners`` still decides first."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.core.audit import AuditEntry
from app.core.errors import Conflict, Forbidden, Invalid, NotFound
from app.core.extensions import db
from app.definitions import operations as definitions
from app.engine import bundle as bundle_mod
from app.inbox import delegation
from app.instances import access
from app.instances import commands as instances
from app.instances.models import HumanTask, HumanTaskCandidate
from app.ops import operations as ops
from app.people import operations as people
from app.people import queries as people_queries
from tests.engine.conftest import fresh_instance, ready

FINANCE = Path(__file__).parent / "fixtures" / "interop" / "library" / "operations" / "finance-review"


def _deploy():  # noqa: ANN202
    return definitions.deploy_directory([FINANCE], "admin")


def _sees(actor) -> set[str]:  # noqa: ANN001
    """Task ids the inbox's SQL rule offers ``actor`` (the "available" view)."""
    db.session.expire_all()
    return set(db.session.scalars(select(HumanTask.id).where(access.available_sql(actor))))


def test_the_lane_deploys_with_a_warning_and_its_group_is_made_once(app):
    result = _deploy()
    assert [v.process_key for v in result.created] == ["finance_review"]
    assert "warnings: finance.bpmn:7: lane_fin: warning: lane: lane 'Finance Team' is not a role" in result.note
    group = people_queries.get_group("finance_team")
    assert (group.name, group.members, group.created_by) == ("Finance Team", [], "admin")
    _deploy()  # the same model again: unchanged, and no second group
    people.ensure_groups({"finance_team": "Finance Team"}, "admin")
    assert len(people_queries.list_groups()) == 1
    made = db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "group_create"))
    assert made == 1


def test_pmo_validate_shows_the_warning(app):
    from click.testing import CliRunner

    from app.cli import main

    result = CliRunner().invoke(main, ["validate", str(FINANCE)],
                                env={"PMO_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"]})
    assert result.exit_code == 0, result.output
    assert ("finance.bpmn:7: lane_fin: warning: lane: lane 'Finance Team' is not a role: its tasks go to the "
            "group 'Finance Team', which an admin fills on the Groups page (/admin/groups)") in result.output


def test_a_group_task_waits_until_an_admin_fills_the_group_then_its_members_take_it(app, actors):
    _deploy()
    admin, rita, quinn, maria = actors["admin"], actors["rita"], actors["quinn"], actors["maria"]
    instance = instances.start("finance_review", maria, {})
    [task] = ready(instance.id)
    assert task.candidate_groups == ["finance_team"] and not task.candidate_roles and not task.candidate_users
    assert task.assignee is None
    for someone in (rita, quinn, maria):  # nobody is in the group: nobody but oversight sees it
        assert not access.is_candidate(task, someone) and not access.may_see(task, someone)
        assert task.id not in _sees(someone)
    with pytest.raises(NotFound):  # a task one may not see does not exist for them
        instances.complete(task.id, rita, {})
    [wait] = ops.waiting_for_empty_groups()
    assert (wait.task.id, wait.group_key, wait.group_name) == (task.id, "finance_team", "Finance Team")
    assert not ops.stuck()  # waiting for a person is waiting on something

    rows_before = db.session.scalar(select(func.count()).select_from(HumanTaskCandidate))
    people.add_group_member("finance_team", admin, role="resource_manager")
    assert db.session.scalar(select(func.count()).select_from(HumanTaskCandidate)) == rows_before  # no rewrite
    [task] = ready(instance.id)
    assert access.is_candidate(task, rita) and task.id in _sees(rita)
    assert not access.is_candidate(task, quinn) and task.id not in _sees(quinn)
    assert ops.waiting_for_empty_groups() == []
    assert [u.username for u in delegation.assignable_users(task)] == ["rita"]

    people.add_group_member("finance_team", admin, username="quinn")
    assert task.id in _sees(quinn) and access.is_candidate(ready(instance.id)[0], quinn)
    people.remove_group_member("finance_team", admin, role="resource_manager")
    [task] = ready(instance.id)
    assert not access.is_candidate(task, rita) and task.id not in _sees(rita)
    assert access.claim_refusal(task, rita).error is NotFound
    instances.complete(task.id, quinn, {})
    assert fresh_instance(instance.id).status == "completed"
    actions = [e.action for e in db.session.scalars(select(AuditEntry).where(
        AuditEntry.action.like("group_member_%")).order_by(AuditEntry.id))]
    assert actions == ["group_member_add", "group_member_add", "group_member_remove"]


def test_lane_owners_still_decide_before_the_group(app, actors):
    _deploy()
    instance = instances.start("finance_review", actors["maria"], {"lane_owners": {"Finance Team": ["paul"]}})
    [task] = ready(instance.id)
    assert task.candidate_users == ["paul"] and not task.candidate_groups and task.assignee == "paul"
    assert ops.waiting_for_empty_groups() == []
    instances.complete(task.id, actors["paul"], {})
    assert fresh_instance(instance.id).status == "completed"


def test_the_predicate_and_the_sql_agree_on_group_tasks(app, actors):
    _deploy()
    people.add_group_member("finance_team", actors["admin"], role="ccb_member")
    people.add_group_member("finance_team", actors["admin"], username="sam")
    open_task = ready(instances.start("finance_review", actors["maria"], {}).id)[0]
    for name, actor in actors.items():
        db.session.expire_all()
        task = db.session.get(HumanTask, open_task.id)
        assert access.may_see(task, actor) == (task.id in set(db.session.scalars(
            select(HumanTask.id).where(access.may_see_sql(actor))))), name
        assert access.is_available(task, actor) == (task.id in _sees(actor)), name
    assert {n for n, a in actors.items() if access.is_available(open_task, a)} == {"carla", "chen", "sam"}


def test_membership_changes_are_checked_and_admin_only(app, actors):
    _deploy()
    admin = actors["admin"]
    with pytest.raises(Forbidden):
        people.add_group_member("finance_team", actors["petra"], username="quinn")
    with pytest.raises(NotFound):
        people.add_group_member("no_such_group", admin, username="quinn")
    with pytest.raises(Invalid) as unknown:
        people.add_group_member("finance_team", admin, username="nobody")
    assert "username" in unknown.value.errors
    with pytest.raises(Invalid) as bad_role:
        people.add_group_member("finance_team", admin, role="wizard")
    assert "role" in bad_role.value.errors
    with pytest.raises(Invalid):
        people.add_group_member("finance_team", admin, username="quinn", role="pmo")
    people.add_group_member("finance_team", admin, username="quinn")
    with pytest.raises(Conflict):
        people.add_group_member("finance_team", admin, username="quinn")
    with pytest.raises(NotFound):
        people.remove_group_member("finance_team", admin, role="pmo")
    assert people_queries.get_group("finance_team").member_users == ["quinn"]


def test_a_group_lane_key_is_the_lane_name_like_a_role(app):
    assert bundle_mod.group_key("  Finance - Team ") == "finance_team"
