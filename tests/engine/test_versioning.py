"""Running instances stay on their version; new starts use the newest; specs are stored per version."""

from __future__ import annotations

import shutil
from pathlib import Path

from app.definitions import operations as definitions
from app.definitions import queries as definition_queries
from app.definitions.models import ProcessVersion
from app.instances import commands as instances
from tests.engine.conftest import count, fresh_instance, ready

FIXTURES = Path(__file__).parents[1] / "fixtures"
REQUEST = {"title": "New laptop", "cost": 1200}


def _deploy_v2(tmp_path: Path) -> None:
    """Version 2 inserts a 'review' task (lane pmo) between submit and approve."""
    bundle = tmp_path / "v2"
    shutil.copytree(FIXTURES, bundle)
    path = bundle / "approval.bpmn"
    text = path.read_text()
    text = text.replace('<bpmn:sequenceFlow id="f2" sourceRef="submit" targetRef="approve" />',
                        '<bpmn:sequenceFlow id="f2" sourceRef="submit" targetRef="review" />\n'
                        '    <bpmn:userTask id="review" name="PMO review {{ title }}" />\n'
                        '    <bpmn:sequenceFlow id="f2b" sourceRef="review" targetRef="approve" />')
    text = text.replace('<bpmn:lane id="Lane_sponsor" name="sponsor">',
                        '<bpmn:lane id="Lane_pmo" name="pmo"><bpmn:flowNodeRef>review</bpmn:flowNodeRef></bpmn:lane>\n'
                        '      <bpmn:lane id="Lane_sponsor" name="sponsor">')
    path.write_text(text)
    result = definitions.deploy_directory([bundle], "admin")
    assert [(v.process_key, v.version) for v in result.created] == [("simple_approval", 2)]


def test_running_instances_stay_on_their_version(app, actors, deployed, tmp_path):
    maria, sam, petra = actors["maria"], actors["sam"], actors["petra"]
    old = instances.start("simple_approval", maria)
    _deploy_v2(tmp_path)
    definition_queries.clear_spec_cache()  # load version 1 from the database, not from the deploy's cache
    new = instances.start("simple_approval", maria)
    assert fresh_instance(old.id).process_version.version == 1
    assert fresh_instance(new.id).process_version.version == 2

    [old_submit] = ready(old.id)
    instances.complete(old_submit.id, maria, REQUEST)
    [old_next] = ready(old.id)
    assert old_next.element_id == "approve"  # version 1 has no review step
    instances.complete(old_next.id, sam, {"decision": "approve"})
    assert fresh_instance(old.id).status == "completed"

    [new_submit] = ready(new.id)
    instances.complete(new_submit.id, maria, REQUEST)
    [review] = ready(new.id)
    assert review.element_id == "review" and review.candidate_roles == ["pmo"]
    assert review.title == "PMO review New laptop"
    instances.complete(review.id, petra, {})
    [approve] = ready(new.id)
    instances.complete(approve.id, sam, {"decision": "approve"})
    assert fresh_instance(new.id).status == "completed"


def test_start_can_pin_an_older_version(app, actors, deployed, tmp_path):
    _deploy_v2(tmp_path)
    v1 = definition_queries.versions_of("simple_approval")[0]
    instance = instances.start("simple_approval", actors["maria"], version=v1)
    assert fresh_instance(instance.id).process_version_id == v1.id


def test_spec_is_stored_once_per_version(app, actors, deployed, tmp_path):
    for _ in range(3):
        instances.start("simple_approval", actors["maria"])
    _deploy_v2(tmp_path)
    assert count(ProcessVersion) == 2
    for version in definition_queries.versions_of("simple_approval"):
        assert set(version.spec) == {"spec", "subprocess_specs"}
    for instance_id in (1, 2, 3):
        state = fresh_instance(instance_id).state
        assert "spec" not in state and "subprocess_specs" not in state
        assert "approve" not in str(state.get("tasks", {})) or len(str(state)) < 20_000


def test_spec_cache_is_not_needed_to_load_an_instance(app, actors, deployed):
    instance = instances.start("simple_approval", actors["maria"])
    definition_queries.clear_spec_cache()
    [submit] = ready(instance.id)
    instances.complete(submit.id, actors["maria"], REQUEST)
    assert ready(instance.id)[0].element_id == "approve"
