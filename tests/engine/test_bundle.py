"""Bundle validation: every unsafe or broken file is refused with file, line, element and reason;
all problems of all files are reported; deploys are versioned and all-or-nothing."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from app.core.audit import AuditEntry
from app.core.errors import Invalid
from app.definitions import operations as definitions
from app.definitions import queries as definition_queries
from app.definitions.models import Deployment, DeploymentFile, ProcessVersion
from app.engine import bundle as bundle_mod
from app.engine.bundle import BundleFile, BundleInvalid, load_bundle, read_paths, read_zip
from tests.engine.conftest import bpmn, count, linear

FIXTURES = Path(__file__).parents[1] / "fixtures"

ROLES = ["admin", "pmo", "project_manager", "sponsor", "ccb_member", "quality_lead"]
GOOD_SCHEMA = json.dumps({"type": "object", "properties": {"a": {"type": "string"}}}).encode()


def problems_of(files: list[BundleFile]) -> list[bundle_mod.Problem]:
    with pytest.raises(BundleInvalid) as info:
        load_bundle(files, ROLES)
    assert info.value.problems
    return info.value.problems


def one_problem(name: str, text: str, *extra: BundleFile) -> bundle_mod.Problem:
    problems = problems_of([BundleFile(name, text.encode()), *extra])
    mine = [p for p in problems if p.file == name]
    assert mine, problems
    return mine[0]


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# -- unsafe XML ----------------------------------------------------------------------------------

XXE = """<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="p" name="&xxe;" isExecutable="true"><bpmn:startEvent id="s" /></bpmn:process>
</bpmn:definitions>
"""

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="p" name="&lol9;" isExecutable="true"><bpmn:startEvent id="s" /></bpmn:process>
</bpmn:definitions>
"""

PLAIN_DOCTYPE = """<?xml version="1.0"?>
<!DOCTYPE definitions>
""" + linear("plain_doctype").split("\n", 1)[1]


@pytest.mark.parametrize("text", [XXE, BILLION_LAUGHS, PLAIN_DOCTYPE], ids=["xxe", "billion-laughs", "doctype"])
def test_doctype_and_entities_are_refused(text):
    problem = one_problem("evil.bpmn", text)
    assert "DOCTYPE" in problem.message
    assert problem.line == 2  # the line of the DOCTYPE
    assert "root:" not in problem.message  # nothing of /etc/passwd leaked into the message


def test_external_entity_is_never_resolved():
    problems = problems_of([BundleFile("evil.bpmn", XXE.encode())])
    assert all("root:x:" not in str(p) for p in problems)


def test_malformed_xml_names_file_and_line():
    text = linear("broken").replace('<bpmn:endEvent id="end" />', '<bpmn:endEvent id="end">')
    problem = one_problem("broken.bpmn", text)
    assert problem.message.startswith("malformed XML")
    assert problem.line is not None and problem.line >= _line_of(text, 'id="end"')


# -- structure -----------------------------------------------------------------------------------

def test_process_without_id():
    text = linear("noid").replace('<bpmn:process id="noid" name="noid"', '<bpmn:process name="noid"')
    problem = one_problem("noid.bpmn", text)
    assert "has no id" in problem.message
    assert problem.line == _line_of(text, "<bpmn:process")


def test_sequence_flow_to_missing_element():
    text = linear("dangling", extra='    <bpmn:sequenceFlow id="f_ghost" sourceRef="work" targetRef="ghost" />\n')
    problem = one_problem("dangling.bpmn", text)
    assert problem.element == "f_ghost"
    assert "'ghost'" in problem.message
    assert problem.line == _line_of(text, "f_ghost")


def test_xsd_violation():
    text = linear("xsd", extra="    <bpmn:notAnElement id=\"weird\" />\n")
    problem = one_problem("xsd.bpmn", text)
    assert problem.message.startswith("schema:")
    assert "notAnElement" in problem.message
    assert problem.line == _line_of(text, "notAnElement")


# -- expressions and scripts are compiled at deploy time -------------------------------------------

GATEWAY = """<bpmn:exclusiveGateway id="gw" default="f_no" />
    <bpmn:sequenceFlow id="f_yes" sourceRef="gw" targetRef="work">
      <bpmn:conditionExpression>{cond}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_no" sourceRef="gw" targetRef="work" />
    <bpmn:userTask id="work" name="Work" />"""


def test_broken_python_in_gateway_condition():
    text = linear("badcond", GATEWAY.format(cond="amount &gt;&gt; = 3"), first="gw")
    problem = one_problem("badcond.bpmn", text)
    assert problem.element == "f_yes"
    assert "condition expression does not compile" in problem.message
    assert problem.line == _line_of(text, 'id="f_yes"')


def test_unsafe_gateway_condition_is_refused_at_deploy():
    text = linear("evilcond", GATEWAY.format(cond="().__class__.__base__"), first="gw")
    problem = one_problem("evilcond.bpmn", text)
    assert problem.element == "f_yes" and "__class__" in problem.message


def test_unquoted_timer_duration():
    middle = """<bpmn:intermediateCatchEvent id="wait">
      <bpmn:timerEventDefinition id="wait_def"><bpmn:timeDuration>PT2H</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>"""
    text = linear("timer", middle, first="wait", last="wait")
    problem = one_problem("timer.bpmn", text)
    assert problem.element == "wait_def"
    assert "unquoted ISO 8601" in problem.message and '"PT2H"' in problem.message
    assert problem.line is not None


def test_quoted_timer_duration_is_fine():
    middle = """<bpmn:intermediateCatchEvent id="wait">
      <bpmn:timerEventDefinition id="wait_def"><bpmn:timeDuration>"PT2H"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>"""
    assert "timer" in load_bundle([BundleFile("t.bpmn", linear("timer", middle, "wait", "wait").encode())],
                                  ROLES).processes


def test_broken_script():
    text = linear("badscript", '<bpmn:scriptTask id="calc"><bpmn:script>x = 1\nif x\n  y = 2</bpmn:script>'
                  "</bpmn:scriptTask>", first="calc", last="calc")
    problem = one_problem("badscript.bpmn", text)
    assert problem.element == "calc"
    assert "script does not compile" in problem.message
    assert "Line 2" in problem.message or "line 2" in problem.message


def test_script_with_forbidden_name_is_refused_at_deploy():
    text = linear("evilscript", "<bpmn:scriptTask id=\"calc\"><bpmn:script>x = __import__('os')</bpmn:script>"
                  "</bpmn:scriptTask>", first="calc", last="calc")
    problem = one_problem("evilscript.bpmn", text)
    assert problem.element == "calc" and "__import__" in problem.message


# -- forms ---------------------------------------------------------------------------------------

FORM_TASK = """<bpmn:userTask id="work" name="Work">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="{form}" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
    </bpmn:userTask>"""


def test_missing_form():
    text = linear("noform", FORM_TASK.format(form="missing-schema.json"))
    problem = one_problem("noform.bpmn", text)
    assert problem.element == "work"
    assert "'missing-schema.json'" in problem.message and "not in the bundle" in problem.message
    assert problem.line == _line_of(text, "missing-schema.json")


def test_invalid_json_schema():
    bad = json.dumps({"type": "object", "properties": {"a": {"type": "strnig"}}}).encode()
    problems = problems_of([BundleFile("p.bpmn", linear("p", FORM_TASK.format(form="bad-schema.json")).encode()),
                            BundleFile("bad-schema.json", bad)])
    [problem] = [p for p in problems if p.file == "bad-schema.json"]
    assert "invalid JSON Schema" in problem.message
    assert problem.element and "properties" in problem.element


def test_invalid_json():
    problems = problems_of([BundleFile("p.bpmn", linear("p", FORM_TASK.format(form="s.json")).encode()),
                            BundleFile("s.json", b'{\n  "type": "object",\n  "properties": {,}\n}')])
    [problem] = [p for p in problems if p.file == "s.json"]
    assert "not valid JSON" in problem.message
    assert problem.line == 3


# -- lanes and call activities -------------------------------------------------------------------

def test_a_lane_that_is_not_a_role_becomes_a_group_with_a_located_warning():
    lanes = """    <bpmn:laneSet id="ls">
      <bpmn:lane id="Lane_x" name="Chief Wizard"><bpmn:flowNodeRef>work</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
"""
    text = linear("lanes_group").replace("    <bpmn:startEvent", lanes + "    <bpmn:startEvent", 1)
    bundle = load_bundle([BundleFile("lanes_group.bpmn", text.encode())], ROLES)
    assert "lanes_group" in bundle.processes and bundle.groups == {"chief_wizard": "Chief Wizard"}
    [note] = bundle.notes
    assert (note.file, note.line, note.element, note.outcome) == (
        "lanes_group.bpmn", _line_of(text, "Lane_x"), "Lane_x", "warning")
    assert note.message == ("lane 'Chief Wizard' is not a role: its tasks go to the group 'Chief Wizard', "
                            "which an admin fills on the Groups page (/admin/groups)")


def test_lane_named_like_a_role_with_spaces_is_accepted():
    lanes = """    <bpmn:laneSet id="ls">
      <bpmn:lane id="Lane_x" name="Project Manager"><bpmn:flowNodeRef>work</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
"""
    text = linear("lanes_ok").replace("    <bpmn:startEvent", lanes + "    <bpmn:startEvent", 1)
    assert "lanes_ok" in load_bundle([BundleFile("ok.bpmn", text.encode())], ROLES).processes


def test_called_element_missing():
    text = linear("caller", '<bpmn:callActivity id="call" calledElement="nowhere" />', first="call", last="call")
    problem = one_problem("caller.bpmn", text)
    assert problem.element == "call"
    assert "'nowhere'" in problem.message
    assert problem.line == _line_of(text, 'id="call"')


def test_called_element_in_another_file_is_fine():
    caller = linear("caller", '<bpmn:callActivity id="call" calledElement="callee" />', first="call", last="call")
    callee = linear("callee")
    bundle = load_bundle([BundleFile("caller.bpmn", caller.encode()), BundleFile("callee.bpmn", callee.encode())],
                         ROLES)
    assert set(bundle.processes) == {"caller", "callee"}
    assert "callee" in bundle.processes["caller"].subprocess_specs


# -- all problems of all files --------------------------------------------------------------------

def test_every_bad_file_is_reported(tmp_path):
    files = {
        "a_malformed.bpmn": linear("a").replace("</bpmn:definitions>", ""),
        "b_doctype.bpmn": XXE,
        "c_condition.bpmn": linear("c", GATEWAY.format(cond="x ==== 1"), first="gw"),
        "d_call.bpmn": linear("d", '<bpmn:callActivity id="call" calledElement="nowhere" />', first="call",
                              last="call"),
        "e_schema.json": '{"type": 12}',
        "f_good.bpmn": linear("f"),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    problems = problems_of(read_paths([tmp_path]))
    bad_files = {p.file for p in problems}
    assert bad_files == {"a_malformed.bpmn", "b_doctype.bpmn", "c_condition.bpmn", "d_call.bpmn", "e_schema.json"}
    # Several problems in one file are all listed too.
    text = linear("multi", GATEWAY.format(cond="x ==== 1"), first="gw",
                  extra='    <bpmn:sequenceFlow id="f_ghost" sourceRef="work" targetRef="ghost" />\n')
    multi = problems_of([BundleFile("multi.bpmn", text.encode())])
    assert {p.element for p in multi} >= {"f_yes", "f_ghost"}


def test_problem_as_dict_and_str():
    problem = one_problem("noform.bpmn", linear("noform", FORM_TASK.format(form="nope.json")))
    assert set(problem.as_dict()) == {"file", "line", "element", "message"}
    assert str(problem).startswith("noform.bpmn:")


# -- zips ------------------------------------------------------------------------------------------

def _zip(entries: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_zip_reader_accepts_a_good_zip():
    data = _zip({"bundle/p.bpmn": linear("zipped").encode(), "bundle/forms/s.json": GOOD_SCHEMA,
                 "bundle/readme.txt": b"ignored", "__MACOSX/._p.bpmn": b"junk"})
    files = read_zip(data)
    assert sorted(f.name for f in files) == ["p.bpmn", "s.json"]
    assert "zipped" in load_bundle(files, ROLES).processes


def test_zip_reader_rejects_a_bad_zip():
    with pytest.raises(BundleInvalid) as info:
        read_zip(b"PK\x03\x04 this is not really a zip", "up.zip")
    [problem] = info.value.problems
    assert problem.file == "up.zip" and "not a valid zip" in problem.message


def test_zip_reader_rejects_too_many_files():
    data = _zip({f"f{i}.json": b"{}" for i in range(bundle_mod.MAX_FILES + 1)}, zipfile.ZIP_STORED)
    with pytest.raises(BundleInvalid, match="too large"):
        read_zip(data)


def test_zip_reader_rejects_a_zip_bomb():
    data = _zip({"bomb.bpmn": b"\0" * (bundle_mod.MAX_TOTAL_BYTES + 1)})
    assert len(data) < 100_000  # small on the wire, huge unpacked
    with pytest.raises(BundleInvalid, match="too large"):
        read_zip(data)


# -- deploying ----------------------------------------------------------------------------------

def _db_counts() -> dict[str, int]:
    return {m.__name__: count(m) for m in (Deployment, DeploymentFile, ProcessVersion, AuditEntry)}


def test_valid_bundle_deploys_and_same_bundle_again_is_a_no_op(app):
    first = definitions.deploy_directory([FIXTURES], "admin")
    assert [(v.process_key, v.version) for v in first.created] == [("simple_approval", 1)]
    before = _db_counts()
    again = definitions.deploy_directory([FIXTURES], "admin")
    assert again.created == [] and again.deployment_id is None
    assert [(v.process_key, v.version) for v in again.unchanged] == [("simple_approval", 1)]
    assert _db_counts() == before


def test_changed_bundle_makes_version_two(app, tmp_path):
    definitions.deploy_directory([FIXTURES], "admin")
    changed = tmp_path / "bundle"
    shutil.copytree(FIXTURES, changed)
    bpmn_file = changed / "approval.bpmn"
    bpmn_file.write_text(bpmn_file.read_text().replace('name="Approve {{ title }}"', 'name="Sign off {{ title }}"'))
    result = definitions.deploy_directory([changed], "admin")
    assert [(v.process_key, v.version) for v in result.created] == [("simple_approval", 2)]
    assert definition_queries.latest_version("simple_approval").version == 2
    assert [v.version for v in definition_queries.versions_of("simple_approval")] == [1, 2]


def test_changed_form_alone_makes_a_new_version(app, tmp_path):
    definitions.deploy_directory([FIXTURES], "admin")
    changed = tmp_path / "bundle"
    shutil.copytree(FIXTURES, changed)
    schema = json.loads((changed / "request-schema.json").read_text())
    schema["properties"]["title"]["minLength"] = 5
    (changed / "request-schema.json").write_text(json.dumps(schema))
    result = definitions.deploy_directory([changed], "admin")
    assert [(v.process_key, v.version) for v in result.created] == [("simple_approval", 2)]


def test_failed_deploy_writes_nothing(app, tmp_path):
    definitions.deploy_directory([FIXTURES], "admin")
    before = _db_counts()
    bad = tmp_path / "bundle"
    shutil.copytree(FIXTURES, bad)
    (bad / "approval.bpmn").write_text((bad / "approval.bpmn").read_text().replace('name="Approve {{ title }}"',
                                                                                     'name="Approve v2"'))
    (bad / "broken.bpmn").write_text(linear("broken", GATEWAY.format(cond="1 +"), first="gw"))
    with pytest.raises(Invalid) as info:
        definitions.deploy_directory([bad], "admin")
    assert "nothing was deployed" in info.value.detail
    assert any(e["file"] == "broken.bpmn" for e in info.value.errors)
    assert _db_counts() == before
    assert definition_queries.latest_version("simple_approval").version == 1


def test_failed_first_deploy_writes_nothing(app, tmp_path):
    (tmp_path / "x.bpmn").write_text(XXE)
    with pytest.raises(Invalid):
        definitions.deploy_directory([tmp_path], "admin")
    assert all(n == 0 for n in _db_counts().values())


def test_deploy_of_a_bad_zip_upload(app):
    with pytest.raises(BundleInvalid):
        definitions.deploy(read_zip(b"garbage", "up.zip"), "admin")
    assert all(n == 0 for n in _db_counts().values())


def test_empty_bundle_is_refused(app, tmp_path):
    with pytest.raises(Invalid):
        definitions.deploy_directory([tmp_path], "admin")


def test_bpmn_builder_sanity():
    # The helpers used above build valid documents.
    assert Path  # keep the import for type hints
    assert "p" in load_bundle([BundleFile("p.bpmn", bpmn("p", '<bpmn:startEvent id="s" />').encode())],
                              ROLES).processes
