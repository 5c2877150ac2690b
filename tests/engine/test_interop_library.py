"""A library of SpiffArena process model folders: each folder deployed as its own model, forms of the
same name kept apart, call activities resolved between them and against what is already deployed
(the newest version, or a pinned one), the resolution recorded with the version."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from app.core.errors import Invalid
from app.core.extensions import db
from app.definitions import forms
from app.definitions import operations as definitions
from app.definitions.models import Deployment
from app.engine import bundle as bundle_mod
from app.instances import commands as instances
from tests.engine.conftest import fresh_instance, ready

LIBRARY = Path(__file__).parent / "fixtures" / "interop" / "library"
PROCUREMENT = LIBRARY / "procurement"


def _zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, str(Path(folder.name) / path.relative_to(folder)))
    return buffer.getvalue()


def _run_purchase(actors) -> None:  # noqa: ANN001
    pm, sponsor = actors["maria"], actors["sam"]
    instance = instances.start_by_user("purchase_request", pm, {})
    [describe] = ready(instance.id)
    inst = fresh_instance(instance.id)
    own = forms.load_form(inst.process_version.deployment_id, describe.form_schema_file, {})
    assert set(own["properties"]) == {"item", "amount"}
    instances.complete(describe.id, pm, {"item": "Laptop", "amount": 1200})
    [approve] = ready(instance.id)
    assert approve.element_id == "approve" and approve.candidate_roles == ["sponsor"]
    shared = forms.load_form(inst.process_version.deployment_id, approve.form_schema_file, {})
    assert set(shared["properties"]) == {"decision"}  # the called model's form, not the caller's namesake
    with pytest.raises(Invalid):
        instances.complete(approve.id, sponsor, {"decision": "maybe"})
    instances.complete(approve.id, sponsor, {"decision": "approve"})
    inst = fresh_instance(instance.id)
    assert inst.status == "completed"
    data = instances.instance_data(inst)
    assert data["approved"] is True and data["answer_by"]


def test_library_zip_deploys_each_folder_as_its_own_model(app, actors):
    files = bundle_mod.read_zip(_zip(PROCUREMENT), "procurement.zip")
    assert {f.folder for f in files} == {"procurement/shared-approval", "procurement/purchase-request", ""}
    result = definitions.deploy(files, "admin", source="procurement.zip")
    assert sorted((v.process_key, v.version) for v in result.created) == [("purchase_request", 1), ("shared_approval", 1)]
    by_key = {v.process_key: v for v in result.created}
    assert by_key["purchase_request"].deployment_id != by_key["shared_approval"].deployment_id
    assert by_key["purchase_request"].spec["calls"] == {"shared_approval": {"version": 1, "from": "procurement/shared-approval"}}
    assert "purchase_request calls shared_approval v1" in result.note
    caller_files = {f.name for f in db.session.get(Deployment, by_key["purchase_request"].deployment_id).files}
    assert {"approval-schema.json", "shared-approval/approval-schema.json", "process_model.json"} <= caller_files
    _run_purchase(actors)


def test_directory_of_folders_deploys_the_same_way(app, actors):
    result = definitions.deploy_directory([PROCUREMENT], "admin")
    assert len(result.created) == 2
    _run_purchase(actors)


def test_call_to_a_process_deployed_earlier_resolves_to_newest_or_pinned(app, actors):
    definitions.deploy_directory([PROCUREMENT / "shared-approval"], "admin")
    result = definitions.deploy_directory([PROCUREMENT / "purchase-request"], "admin")
    [purchase] = result.created
    assert purchase.spec["calls"] == {"shared_approval": {"version": 1, "from": "deployed"}}
    _run_purchase(actors)

    changed = (PROCUREMENT / "shared-approval" / "approval.bpmn").read_bytes().replace(
        b"Approve the request", b"Approve the request (v2)")
    definitions.deploy([bundle_mod.BundleFile("approval.bpmn", changed),
                        bundle_mod.BundleFile("approval-schema.json",
                                              (PROCUREMENT / "shared-approval" / "approval-schema.json").read_bytes())],
                       "admin")
    purchase_text = (PROCUREMENT / "purchase-request" / "purchase.bpmn").read_text()
    pinned = purchase_text.replace(
        '<bpmn:callActivity id="ask" name="Ask the sponsor" calledElement="shared_approval" />',
        '<bpmn:callActivity id="ask" name="Ask the sponsor" calledElement="shared_approval"><bpmn:extensionElements>'
        '<spiffworkflow:properties><spiffworkflow:property name="calledElementVersion" value="1" />'
        '</spiffworkflow:properties></bpmn:extensionElements></bpmn:callActivity>')
    own_form = bundle_mod.BundleFile("approval-schema.json",
                                     (PROCUREMENT / "purchase-request" / "approval-schema.json").read_bytes())
    newest = definitions.deploy([bundle_mod.BundleFile("purchase.bpmn", purchase_text.replace(
        "Describe the purchase", "Describe it").encode()), own_form], "admin")
    assert newest.created[0].spec["calls"]["shared_approval"]["version"] == 2
    old = definitions.deploy([bundle_mod.BundleFile("purchase.bpmn", pinned.encode()), own_form], "admin")
    assert old.created[0].spec["calls"]["shared_approval"]["version"] == 1
    _run_purchase(actors)


def test_unknown_called_process_and_pin_are_refused_with_their_place(app):
    text = (PROCUREMENT / "purchase-request" / "purchase.bpmn").read_text()
    own_form = bundle_mod.BundleFile("approval-schema.json",
                                     (PROCUREMENT / "purchase-request" / "approval-schema.json").read_bytes())
    with pytest.raises(Invalid) as info:
        definitions.deploy([bundle_mod.BundleFile("purchase.bpmn", text.encode()), own_form], "admin")
    [problem] = info.value.errors
    assert problem["element"] == "ask" and problem["line"] and "neither in the bundle nor deployed" in problem["message"]
