"""SpiffArena scripts run here: calls with *args / **kwargs, and the globals SpiffArena models use
(``time``, ``timedelta``, ``datetime`` as the class), following the application clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.definitions import operations as definitions
from app.engine import bundle as bundle_mod
from app.engine import clock
from app.engine.sandbox import Sandbox, SandboxError
from app.instances import commands as instances
from tests.engine.conftest import bpmn, fresh_instance, linear


def _deploy(pid: str, script: str) -> None:
    text = linear(pid, f'<bpmn:scriptTask id="work" name="Work"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>')
    definitions.deploy([bundle_mod.BundleFile(f"{pid}.bpmn", text.encode())], "admin")


ARGS_SCRIPT = """def total(*values, **named):
    return sum(values) + sum(named.values())
parts = [1, 2, 3]
extra = {"a": 4}
result = total(*parts, **extra)
biggest = max(*parts)
"""


def test_star_args_call_runs_in_a_process(app, actors):
    _deploy("args_call", ARGS_SCRIPT)
    instance = instances.start("args_call", actors["maria"])
    instance = fresh_instance(instance.id)
    assert instance.status == "completed", instance.error
    data = instances.instance_data(instance)
    assert data["result"] == 10 and data["biggest"] == 3


@pytest.fixture
def moved_clock():
    clock.reset()
    yield clock
    clock.reset()


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(time_limit=1.0)


def test_star_args_in_conditions_and_lambdas(sandbox):
    assert sandbox.evaluate("max(*values) > 2", {"values": [1, 3]}) is True
    ctx = {"values": [1, 2]}
    sandbox.execute("f = lambda *a, **k: len(a) + len(k)\nn = f(*values, x=1, **{'y': 2})", ctx)
    assert ctx["n"] == 4


def test_spiffarena_globals_follow_the_clock(sandbox, moved_clock):
    before = sandbox.evaluate("time.time()", {})
    utc_before = sandbox.evaluate("datetime.utcnow()", {})
    moved_clock.advance(timedelta(days=2))
    assert sandbox.evaluate("time.time()", {}) - before >= 2 * 86400 - 5
    assert sandbox.evaluate("datetime.utcnow() - utc_before", {"utc_before": utc_before}) >= timedelta(days=2)
    assert sandbox.evaluate("datetime.now(datetime.UTC)", {}) - clock.now() < timedelta(seconds=5)
    assert sandbox.evaluate("(datetime.now() + timedelta(hours=1)) > datetime.now()", {}) is True


SPIFF_FORMS = [
    ("y = datetime.strptime('2024-05-17', '%Y-%m-%d').day", 17),
    ("y = datetime(2024, 5, 17).isoformat()", "2024-05-17T00:00:00"),
    ("y = isinstance(datetime.now(), datetime)", True),
    ("y = type_name = str(timedelta(days=1, hours=2))", "1 day, 2:00:00"),
    ("y = time.strftime('%Y', time.gmtime(0))", "1970"),
    ("y = int(time.time()) > 1_700_000_000", True),
    # PMO Flow's module form keeps working, and ``import datetime`` too.
    ("y = datetime.datetime(2024, 5, 17).date().isoformat()", "2024-05-17"),
    ("y = datetime.date(2024, 5, 17).isoformat()", "2024-05-17"),
    ("y = (datetime.datetime(2024, 1, 1) + datetime.timedelta(days=1)).day", 2),
    ("import datetime\ny = datetime.datetime.strptime('2024-05-17', '%Y-%m-%d').month", 5),
    ("from datetime import datetime as D, timedelta as T\ny = (D(2024, 1, 1) + T(days=31)).month", 2),
    ("y = datetime.datetime.now().time().hour in range(24)", True),
]


@pytest.mark.parametrize(("script", "expected"), SPIFF_FORMS, ids=[s for s, _ in SPIFF_FORMS])
def test_datetime_class_and_module_forms(sandbox, script, expected):
    ctx = {}
    sandbox.execute(script, ctx)
    assert ctx["y"] == expected
    assert set(ctx) <= {"y", "type_name"}  # the globals are not left in the task data


def test_no_sleeping(sandbox):
    with pytest.raises(SandboxError, match="time.sleep is not allowed"):
        sandbox.execute("time.sleep(10)", {})


def test_task_data_named_time_wins(sandbox):
    ctx = {"time": "10:00", "timedelta": 3}
    sandbox.execute("later = time + ' +' + str(timedelta)", ctx)
    assert ctx["later"] == "10:00 +3" and ctx["time"] == "10:00"


TIMER_PROCESS = """    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="stamp" />
    <bpmn:scriptTask id="stamp"><bpmn:script>started = time.time()
due = (datetime.now() + timedelta(hours=1)).isoformat()</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="stamp" targetRef="wait" />
    <bpmn:intermediateCatchEvent id="wait">
      <bpmn:timerEventDefinition id="t1"><bpmn:timeDate>due</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="after" />
    <bpmn:scriptTask id="after"><bpmn:script>waited = time.time() - started &gt;= 3600
utc = datetime.utcnow().isoformat()</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f4" sourceRef="after" targetRef="end" />
    <bpmn:endEvent id="end" />
"""


def test_timer_written_with_spiffarena_globals_fires_on_the_moved_clock(app, actors, moved_clock):
    definitions.deploy([bundle_mod.BundleFile("spiff_timer.bpmn", bpmn("spiff_timer", TIMER_PROCESS).encode())],
                       "admin")
    instance = instances.start("spiff_timer", actors["maria"])
    assert fresh_instance(instance.id).status == "running"
    moved_clock.advance(timedelta(hours=2))
    instances.fire_due_timers(instance.id)
    instance = fresh_instance(instance.id)
    assert instance.status == "completed", instance.error
    assert instances.instance_data(instance)["waited"] is True
