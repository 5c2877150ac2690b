"""Saving and restoring a workflow's state without its spec (the spec is stored once per version),
with the value types process data may hold."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, TaskConverter
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as _SPIFF_SERIALIZER_VERSION
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from . import prediction  # noqa: F401 - every workflow made here predicts within the horizon
from .errors import EngineError

# Stored with every instance: a later engine upgrade can tell which format it is reading.
SERIALIZER_VERSION = f"pmo-1/spiff-{_SPIFF_SERIALIZER_VERSION}"


class _SpecInjectingConverter(BpmnWorkflowConverter):
    """Stores instances without their spec; the spec is stored once per process version.

    ``from_dict`` accepts spec objects already built (from the per-version cache) in place of
    their dictionaries, so loading an instance never re-parses or re-restores its spec.
    """

    def to_dict(self, workflow):  # noqa: ANN001
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct):  # noqa: ANN001
        spec = dct.pop("spec")
        subprocess_specs = dct.pop("subprocess_specs", {})
        if isinstance(spec, dict):
            spec = self.registry.restore(spec)
            subprocess_specs = self.mapping_from_dict(subprocess_specs)
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class _TypedTaskConverter(TaskConverter):
    """SpiffWorkflow 3.2's task converter stores task data (and its deltas) unconverted, so a date or
    a Decimal would be written by ``json_default`` as a string and come back as one. Convert them."""

    def to_dict(self, task):  # noqa: ANN001
        dct = super().to_dict(task)
        if dct["data"]:
            dct["data"] = self.registry.convert(dct["data"])
        if dct["delta"] and dct["delta"].get("updates"):
            dct["delta"]["updates"] = self.registry.convert(dct["delta"]["updates"])
        return dct


def _make_registry():
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _SpecInjectingConverter
    config[Task] = _TypedTaskConverter
    registry = BpmnWorkflowSerializer.configure(config)
    # Dates and decimals in task data survive a round trip instead of failing to serialize.
    registry.register(date, lambda v: {"value": v.isoformat()}, lambda d: date.fromisoformat(d["value"]),
                      typename="date")
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda d: Decimal(d["value"]), typename="Decimal")
    return registry


_REGISTRY = _make_registry()


_SPEC_REGISTRY = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)


_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"value of type {type(value).__name__} cannot be stored in task data")


def spec_to_dict(spec, subprocess_specs: dict) -> dict[str, Any]:  # noqa: ANN001
    return {
        "spec": _SPEC_REGISTRY.convert(spec),
        "subprocess_specs": {name: _SPEC_REGISTRY.convert(s) for name, s in subprocess_specs.items()},
    }


def spec_from_dict(dct: dict[str, Any]):  # noqa: ANN201
    spec = _SPEC_REGISTRY.restore(copy.deepcopy(dct["spec"]))
    subprocess_specs = {
        name: _SPEC_REGISTRY.restore(copy.deepcopy(s)) for name, s in dct["subprocess_specs"].items()
    }
    return spec, subprocess_specs


def state_to_json(workflow: BpmnWorkflow) -> str:
    """The instance's state as JSON text, without the spec.

    Encoded here, once, so a value that cannot be stored fails this step cleanly (as an
    EngineError) instead of failing later inside the database flush.
    """
    converted = _REGISTRY.convert(workflow)
    try:
        # orjson: about 10x faster than json.dumps on a state; datetimes still go through json_default.
        return orjson.dumps(converted, default=json_default, option=_ORJSON_OPTIONS).decode()
    except TypeError:
        pass  # what orjson refuses and json takes (an integer beyond 64 bits): json decides
    try:
        return json.dumps(converted, default=json_default, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise EngineError(f"task data cannot be stored: {exc}") from exc


def state_to_dict(workflow: BpmnWorkflow) -> dict[str, Any]:
    return json.loads(state_to_json(workflow))


def state_from_json(text: str, spec, subprocess_specs: dict, script_engine) -> BpmnWorkflow:  # noqa: ANN001
    """Restore from JSON text: freshly decoded, so no defensive deep copy is needed."""
    # json, not orjson: orjson reads an integer beyond 64 bits as a float (and refuses NaN).
    return _restore(json.loads(text), spec, subprocess_specs, script_engine)


def state_from_dict(state: dict[str, Any], spec, subprocess_specs: dict, script_engine) -> BpmnWorkflow:  # noqa: ANN001
    return _restore(copy.deepcopy(state), spec, subprocess_specs, script_engine)


def _restore(dct: dict[str, Any], spec, subprocess_specs: dict, script_engine) -> BpmnWorkflow:  # noqa: ANN001
    dct["spec"] = spec
    dct["subprocess_specs"] = subprocess_specs
    workflow = _REGISTRY.restore(dct)
    _attach_engine(workflow, script_engine)
    return workflow


def _attach_engine(workflow: BpmnWorkflow, script_engine) -> None:  # noqa: ANN001
    # Subprocesses read the top workflow's engine (their attribute is read-only in SpiffWorkflow 3.2).
    workflow.script_engine = script_engine


def new_workflow(spec, subprocess_specs: dict, script_engine, data: dict[str, Any] | None = None) -> BpmnWorkflow:  # noqa: ANN001
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine)
    start = workflow.get_tasks(state=TaskState.READY)
    for task in start:
        task.data.update(copy.deepcopy(data or {}))
    return workflow
