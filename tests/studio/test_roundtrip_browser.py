"""Round trip of every shipped diagram through the real bpmn-js Modeler and dmn-js Modeler of the
studio bundle, in Chromium: opened and saved without a touch, a file must keep every spiffworkflow:
extension, documentation, multi-instance variable reference, condition, timer, script and id.
Unpatched, bpmn-js drops the loopDataInputRef/loopDataOutputRef that name process variables (the
CCB vote of change_request.bpmn); the comparison below catches exactly that (see the last test)."""

from __future__ import annotations

import pytest
from lxml import etree

from tests.studio.bundle_page import (
    BPMN,
    FORMS,
    WORKFLOWS,
    bpmn_facts,
    bundle_app,
    differences,
    dmn_facts,
    serve,
    watch_console,
)

pytestmark = pytest.mark.browser

ROLES = ["admin", "pmo", "process_owner", "project_manager", "sponsor", "ccb_member", "quality_lead",
         "resource_manager"]

BPMN_FILES = sorted(WORKFLOWS.glob("*.bpmn"))
DMN_FILES = sorted(WORKFLOWS.glob("*.dmn"))

SAVE_UNTOUCHED = """async (xml) => {
  const editor = await PmoStudio.modeler(document.getElementById('canvas'), document.getElementById('panel'), xml, {});
  const out = await editor.getXML();
  const lint = await editor.lint();
  const warnings = editor.importWarnings;
  editor.destroy();
  return {xml: out, lint, warnings};
}"""

SAVE_UNTOUCHED_DMN = """async (xml) => {
  const editor = await PmoStudio.dmnEditor(document.getElementById('dmn'), xml);
  const out = await editor.getXML();
  const policies = editor.hitPolicies();
  editor.destroy();
  return {xml: out, policies};
}"""


@pytest.fixture(scope="module")
def bundle_url():
    with serve(bundle_app()) as url:
        yield url


@pytest.fixture
def page(new_page, bundle_url):  # noqa: ANN001, ANN201
    page = new_page()
    errors = watch_console(page)
    page.goto(bundle_url)
    page.wait_for_function("() => typeof window.PmoStudio === 'object' && typeof window.PmoStudio.modeler === 'function'")
    yield page
    assert not errors, errors


def test_every_shipped_bpmn_survives_an_untouched_save(page) -> None:  # noqa: ANN001
    assert len(BPMN_FILES) >= 8
    for path in BPMN_FILES:
        original = path.read_bytes()
        result = page.evaluate(SAVE_UNTOUCHED, original.decode())
        lost = differences(bpmn_facts(original), bpmn_facts(result["xml"]))
        assert not lost, f"{path.name}: {lost}"
        # The restored references are no longer import warnings; nothing else was refused.
        assert result["warnings"] == [], f"{path.name}: {result['warnings']}"
        # The lint config is tuned to the shipped processes: what remains are true layout notes
        # (unnamed end events; in project_closure a task drawn past the bottom of its pool), and the
        # monthly portfolio report, which by design runs until it is terminated (no end event).
        allowed = {"label-required", "no-overlapping-elements"} | NEVER_ENDS.get(path.name, set())
        assert {p["rule"] for p in result["lint"]} <= allowed, f"{path.name}: {result['lint']}"
        assert all(p["severity"] == "warning" for p in result["lint"])


NEVER_ENDS = {"portfolio_report.bpmn": {"end-event-required"}}


def test_the_ccb_vote_keeps_its_ballots_after_a_save(page) -> None:  # noqa: ANN001
    result = page.evaluate(SAVE_UNTOUCHED, (WORKFLOWS / "change_request.bpmn").read_text())
    saved = etree.fromstring(result["xml"].encode())
    loop = saved.find(f".//{{{BPMN}}}userTask[@id='ccb_vote_task']/{{{BPMN}}}multiInstanceLoopCharacteristics")
    assert loop.findtext(f"{{{BPMN}}}loopDataInputRef") == "ccb_ballots"
    assert loop.findtext(f"{{{BPMN}}}loopDataOutputRef") == "ccb_votes"
    # And the engine still reads the saved file: the whole shipped bundle validates with it, and
    # the vote iterates the ballots.
    from app.engine import bundle

    files = [f for f in bundle.read_paths([WORKFLOWS, FORMS]) if f.name != "change_request.bpmn"]
    files.append(bundle.BundleFile("change_request.bpmn", result["xml"].encode()))
    loaded = bundle.load_bundle(files, ROLES)
    vote = loaded.processes["change_request"].spec.task_specs["ccb_vote_task"]
    assert vote.data_input.bpmn_id == "ccb_ballots" and vote.data_output.bpmn_id == "ccb_votes"


def test_every_shipped_dmn_survives_an_untouched_save(page) -> None:  # noqa: ANN001
    assert len(DMN_FILES) >= 4
    for path in DMN_FILES:
        original = path.read_bytes()
        result = page.evaluate(SAVE_UNTOUCHED_DMN, original.decode())
        lost = differences(dmn_facts(original), dmn_facts(result["xml"]))
        assert not lost, f"{path.name}: {lost}"
        assert [p["hitPolicy"] for p in result["policies"]] == ["UNIQUE"]
        assert not [n for p in result["policies"] for n in p["problems"] if n["severity"] == "error"], result


def test_the_comparison_catches_what_an_unpatched_modeler_drops() -> None:
    """The facts above are not vacuous: a save without the restored references (what bpmn-js
    writes unpatched) or with a changed script is reported."""
    original = (WORKFLOWS / "change_request.bpmn").read_bytes()
    tree = etree.fromstring(original)
    for tag in ("loopDataInputRef", "loopDataOutputRef"):
        for el in list(tree.iter(f"{{{BPMN}}}{tag}")):
            el.getparent().remove(el)
    lost = differences(bpmn_facts(original), bpmn_facts(etree.tostring(tree)))
    assert sorted(lost) == [
        "loop references: lost ('ccb_vote_task', 'loopDataInputRef', 'ccb_ballots', None, None)",
        "loop references: lost ('ccb_vote_task', 'loopDataOutputRef', 'ccb_votes', None, None)",
    ]
    tree = etree.fromstring(original)
    tree.find(f".//{{{BPMN}}}userTask[@id='assess']//*[@name='dueIn']").set("value", "P5D")
    assert any("dueIn" in d and "P3D" in d for d in differences(bpmn_facts(original), bpmn_facts(etree.tostring(tree))))


SPIFFARENA_EXTRAS = (
    '<spiffworkflow:unitTests><spiffworkflow:unitTest id="t1"><spiffworkflow:inputJson>{"a": 1}'
    '</spiffworkflow:inputJson><spiffworkflow:expectedOutputJson>{"b": 2}</spiffworkflow:expectedOutputJson>'
    '</spiffworkflow:unitTest></spiffworkflow:unitTests>'
    '<spiffworkflow:taskMetadataValues><spiffworkflow:taskMetadataValue name="cost" value="cost_impact" />'
    '</spiffworkflow:taskMetadataValues>'
    '<spiffworkflow:processVariableCorrelation><spiffworkflow:propertyId>cr</spiffworkflow:propertyId>'
    '<spiffworkflow:expression>cr_id</spiffworkflow:expression></spiffworkflow:processVariableCorrelation>'
    '<spiffworkflow:messageVariable>reply</spiffworkflow:messageVariable>'
)
ANCHOR = "<spiffworkflow:calledDecisionId>change_approval_route</spiffworkflow:calledDecisionId>"


def test_other_spiffworkflow_extensions_survive_and_unknown_ones_are_named(page) -> None:  # noqa: ANN001
    """What SpiffArena also writes (script unit tests, task metadata, correlations) survives; an
    element the descriptor does not know is named in the import warnings, so the editor can say
    that saving would drop it."""
    original = (WORKFLOWS / "change_request.bpmn").read_text().replace(ANCHOR, ANCHOR + SPIFFARENA_EXTRAS)
    result = page.evaluate(SAVE_UNTOUCHED, original)
    assert result["warnings"] == []
    assert not differences(bpmn_facts(original), bpmn_facts(result["xml"]))
    unknown = original.replace(ANCHOR, ANCHOR + '<spiffworkflow:somethingNew a="1">x</spiffworkflow:somethingNew>')
    result = page.evaluate(SAVE_UNTOUCHED, unknown)
    assert any("spiffworkflow:somethingNew" in w for w in result["warnings"]), result["warnings"]
