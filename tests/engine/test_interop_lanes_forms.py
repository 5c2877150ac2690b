"""SpiffArena models that PMO Flow refused and now runs: an empty form property is "no form", an
unnamed lane's tasks go to the process initiator, dynamic form options come from task data."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.definitions import operations as definitions
from app.engine import bundle as bundle_mod
from app.instances import access
from app.instances import commands as instances
from tests.engine.conftest import fresh_instance, ready

INTEROP = Path(__file__).parent / "fixtures" / "interop"


def _file(name: str) -> bundle_mod.BundleFile:
    return bundle_mod.BundleFile(name, (INTEROP / name).read_bytes())


def test_empty_form_property_and_unnamed_lane_go_to_the_initiator(app, actors):
    definitions.deploy([_file("empty_form_unnamed_lane.bpmn")], "admin")
    pm = actors["maria"]
    instance = instances.start_by_user("unnamed_lane", pm, {})
    [task] = ready(instance.id)
    assert task.element_id == "confirm" and task.form_schema_file is None and task.form_ui_file is None
    assert access.is_candidate(task, pm)
    assert not access.is_candidate(task, actors["sam"])
    instances.complete(task.id, pm, {})
    assert fresh_instance(instance.id).status == "completed"


def test_dynamic_options_come_from_task_data_in_the_form_and_on_the_server(app, actors):
    from app.core.errors import Invalid
    from app.definitions import forms
    from app.inbox import formrender

    definitions.deploy([_file("dynamic_options.bpmn"), _file("pick-supplier-schema.json")], "admin")
    pm = actors["maria"]
    instance = instances.start_by_user("dynamic_options", pm, {})
    [task] = ready(instance.id)
    data = instances.instance_data(fresh_instance(instance.id))
    schema = forms.load_form(fresh_instance(instance.id).process_version.deployment_id, task.form_schema_file, data)
    fields = {f.path: f for f in formrender.build(schema, {}, {})}
    assert fields["supplier"].kind == "select"
    assert fields["supplier"].options == [("acme", "ACME Ltd"), ("globex", "Globex")]
    assert [v for v, _ in fields["size"].options] == ["S", "M", "L"]

    with pytest.raises(Invalid) as info:
        instances.complete(task.id, pm, {"supplier": "initech"})
    assert "supplier" in str(info.value.errors)
    instances.complete(task.id, pm, {"supplier": "globex", "size": "M"})
    instance = fresh_instance(instance.id)
    assert instance.status == "completed"
    assert instances.instance_data(instance)["supplier"] == "globex"


def test_dynamic_options_with_a_bad_variable_name_are_refused_at_deploy(app):
    from app.core.errors import Invalid

    schema = b'{"type": "object", "properties": {"x": {"type": "string", "anyOf": ["options_from_task_data_var:no such"]}}}'
    files = [_file("dynamic_options.bpmn"), bundle_mod.BundleFile("pick-supplier-schema.json", schema)]
    with pytest.raises(Invalid) as info:
        definitions.deploy(files, "admin")
    [problem] = info.value.errors
    assert problem["element"] == "properties/x" and "'no such'" in problem["message"]
