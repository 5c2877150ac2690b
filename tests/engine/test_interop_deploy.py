"""Models made elsewhere: what PMO Flow cannot run is refused at deploy, each problem with its file,
line and element."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.errors import Invalid
from app.definitions import operations as definitions
from app.engine import bundle as bundle_mod
from app.engine.interop import foreign_expression
from tests.engine.conftest import linear

INTEROP = Path(__file__).parent / "fixtures" / "interop"


def _problems(files: list[bundle_mod.BundleFile]) -> list[dict]:
    with pytest.raises(Invalid) as info:
        definitions.deploy(files, "admin")
    return info.value.errors


def _file(name: str) -> bundle_mod.BundleFile:
    return bundle_mod.BundleFile(name, (INTEROP / name).read_bytes())


def _line_of(name: str, text: str) -> int:
    lines = (INTEROP / name).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def test_each_refusal_names_file_line_and_element(app):
    problems = _problems([_file("refusals.bpmn")])
    by_element = {}
    for p in problems:
        assert p["file"] == "refusals.bpmn" and p["line"] and p["element"], p
        assert "\n" not in p["message"] and " at 0x" not in p["message"], p
        by_element.setdefault(p["element"], []).append(p)
    assert set(by_element) == {"whoami", "fetch", "f_juel", "f_feel2", "f_xpath", "f_env", "notify"}, problems

    [script] = by_element["whoami"]
    assert "get_secret()" in script["message"] and "only SpiffArena's server" in script["message"]
    [service] = by_element["fetch"]
    assert "'http/GetRequest' is not registered" in service["message"]
    assert service["line"] == _line_of("refusals.bpmn", 'serviceTaskOperator id="http/GetRequest"')
    [juel] = by_element["f_juel"]
    assert "JUEL" in juel["message"] and "write approved and amount > 1000" in juel["message"]
    [feel] = by_element["f_feel2"]
    assert "FEEL" in feel["message"] and "write status == \"open\"" in feel["message"]
    [xpath] = by_element["f_xpath"]
    assert "XPath" in xpath["message"] and "Python" in xpath["message"]
    [env] = by_element["f_env"]
    assert "get_env()" in env["message"]
    [end] = by_element["notify"]
    assert "message end event has no messageRef" in end["message"]
    assert end["line"] == _line_of("refusals.bpmn", '<bpmn:endEvent id="notify"')


def test_message_end_event_naming_an_unknown_message_is_refused(app):
    text = linear("msg_unknown", extra="").replace(
        '<bpmn:endEvent id="end" />',
        '<bpmn:endEvent id="end"><bpmn:messageEventDefinition id="m" messageRef="nowhere" /></bpmn:endEvent>')
    [problem] = _problems([bundle_mod.BundleFile("msg_unknown.bpmn", text.encode())])
    assert problem["element"] == "end" and "'nowhere'" in problem["message"]


def test_schema_problem_names_its_element(app):
    text = linear("bad_schema", '<bpmn:userTask id="work"><bpmn:bogus /></bpmn:userTask>')
    problems = _problems([bundle_mod.BundleFile("bad_schema.bpmn", text.encode())])
    assert any(p["element"] == "work" and p["message"].startswith("schema:") for p in problems), problems


def test_bundle_without_a_process_deploys_nothing(app):
    for files in ([bundle_mod.BundleFile("process_model.json", b'{"display_name": "Empty"}')],):
        with pytest.raises(Invalid, match="holds no process"):
            definitions.deploy(files, "admin")


@pytest.mark.parametrize(("text", "language", "hint"), [
    ("${approved}", None, "write approved"),
    ("#{amount > 5 && !rejected}", None, "write amount > 5 and not rejected"),
    ("${status eq 'open' || empty owner}", None, "write status == 'open' or not owner"),
    ("= amount >= 1000", None, "write amount >= 1000"),
    ("=approved = true", None, "write approved == True"),
    ("count(/x) > 1", "http://www.w3.org/1999/XPath", "XPath"),
    ("approved", "javascript", "expression language is javascript"),
])
def test_foreign_expressions_get_the_python_equivalent(text, language, hint):
    assert hint in foreign_expression(text, language)


@pytest.mark.parametrize("text", ["approved", "amount == 1000", "x >= 2 and not y", "'${x}' in note"])
def test_python_expressions_are_not_foreign(text):
    assert foreign_expression(text, None) is None


def test_one_line_messages_without_reprs():
    p = bundle_mod.Problem("a.bpmn", 3, "t", "first\n  second <Element {http://x}userTask at 0x7f1234abcd>")
    assert p.message == "first; second element userTask"
