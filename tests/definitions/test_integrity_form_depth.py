"""Item 10 (forms): a form schema nested 100,000 deep answered 500 at deploy (RecursionError in the
JSON decoder or the schema check); it is a 422 naming the file and why."""

from __future__ import annotations

import pytest

from tests.support.api import TWO_STEPS_BPMN, assert_problem, upload


@pytest.mark.parametrize("depth", [100_000, 500])
def test_deeply_nested_form_is_422_with_the_file_and_why(api, depth):
    nested = '{"type": "object", "properties": {"a": ' * depth + '{"type": "string"}' + "}}" * depth
    files = [("two_steps.bpmn", TWO_STEPS_BPMN), ("deep-schema.json", nested.encode())]
    body = assert_problem(api.post("/process-definitions", "owen", **upload(files)), 422)
    [problem] = [e for e in body["errors"] if e["file"] == "deep-schema.json"]
    assert "nested more than 64 levels" in problem["message"]


def test_deep_array_form_is_422(api):
    files = [("two_steps.bpmn", TWO_STEPS_BPMN), ("deep-ui.json", b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")]
    body = assert_problem(api.post("/process-definitions", "owen", **upload(files)), 422)
    assert any(e["file"] == "deep-ui.json" and "nested" in e["message"] for e in body["errors"])
