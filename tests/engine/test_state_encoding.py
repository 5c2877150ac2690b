"""The stored state's encoding (orjson writes, json the fallback and the reader): the same values come back, the
types json took still go through ``json_default``, and states json wrote (NaN) still load."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from app.engine import runtime
from app.engine.bundle import BundleFile, load_bundle
from app.engine.errors import EngineError
from app.engine.sandbox import Sandbox

PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D" targetNamespace="http://x">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="step" />
    <bpmn:userTask id="step" name="Step" />
    <bpmn:sequenceFlow id="f2" sourceRef="step" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def _workflow(data: dict):  # noqa: ANN202
    parsed = load_bundle([BundleFile("p.bpmn", PROCESS.encode())], []).processes["p"]
    engine = runtime.PmoScriptEngine(Sandbox(time_limit=2.0, isolated=False), {})
    workflow = runtime.new_workflow(parsed.spec, parsed.subprocess_specs, engine, data)
    runtime.advance(workflow)
    return workflow, parsed, engine


def _round_trip(data: dict) -> dict:
    workflow, parsed, engine = _workflow(data)
    text = runtime.state_to_json(workflow)
    restored = runtime.state_from_json(text, parsed.spec, parsed.subprocess_specs, engine)
    [task] = runtime.ready_human_tasks(restored)
    return task.data


def test_values_come_back_as_json_stored_them() -> None:
    when = datetime(2026, 12, 2, 10, 30, 5, 123456, tzinfo=UTC)
    data = _round_trip({"n": 3, "big": 2**70, "f": 1.5, "s": "é", "l": [1, None, True], "d": {"1": "a"},
                        "when": when, "day": date(2026, 12, 2), "amount": Decimal("1.10"),
                        "span": timedelta(minutes=2), "tags": {"b", "a"}})
    assert data["big"] == 2**70  # beyond 64 bits: the json fallback
    assert data["when"] == when and data["day"] == date(2026, 12, 2)  # the engine's own converters
    assert data["amount"] == Decimal("1.10") and data["span"] == timedelta(minutes=2) and data["tags"] == ["a", "b"]
    assert data["l"] == [1, None, True] and data["d"] == {"1": "a"} and data["s"] == "é"


def test_a_state_json_wrote_with_nan_still_loads() -> None:
    workflow, parsed, engine = _workflow({"x": 1})
    state = json.loads(runtime.state_to_json(workflow))
    text = json.dumps(state).replace('"x": 1', '"x": NaN')
    assert "NaN" in text
    restored = runtime.state_from_json(text, parsed.spec, parsed.subprocess_specs, engine)
    [task] = runtime.ready_human_tasks(restored)
    assert task.data["x"] != task.data["x"]  # NaN


def test_an_integer_beyond_64_bits_is_not_read_back_as_a_float() -> None:
    assert type(_round_trip({"big": 2**70 + 1})["big"]) is int


def test_a_value_that_cannot_be_stored_is_an_engine_error() -> None:
    workflow, _parsed, _engine = _workflow({"x": object()})
    with pytest.raises(EngineError, match="cannot be stored"):
        runtime.state_to_json(workflow)
