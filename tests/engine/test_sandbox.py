"""The script sandbox: escapes are refused with a clear error, endless loops stop, allowed modules work,
and a failing script or condition in a real process puts the instance in error without changing it."""

from __future__ import annotations

import time

import pytest

from app.core.errors import StepFailed
from app.engine.sandbox import Sandbox, SandboxError, ScriptTimeout
from app.instances import commands as instances
from tests.engine.conftest import audit_entries, fresh_instance, ready

LIMIT = 1.0


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(time_limit=LIMIT)


# Each escape: (script, exception types, a piece of the message that says why).
ESCAPES = [
    ("import os", ImportError, "import of 'os' is not allowed"),
    ("from os import path", ImportError, "import of 'os' is not allowed"),
    ("import os.path", ImportError, "is not allowed"),
    ("import sys", ImportError, "import of 'sys' is not allowed"),
    ("import subprocess", ImportError, "import of 'subprocess' is not allowed"),
    ("__import__('os')", SyntaxError, "__import__"),
    ("open('/etc/passwd')", NameError, "open"),
    ("().__class__.__base__.__subclasses__()", SyntaxError, "__class__"),
    ("[].__class__.__mro__", SyntaxError, "__mro__"),
    ("f = lambda: 1\ng = f.__globals__", SyntaxError, "__globals__"),
    ("getattr((), '__class__')", NameError, "getattr"),
    ("getattr(1, '__cl' + 'ass__')", NameError, "getattr"),
    ("type(1)", NameError, "type"),
    ("vars()", NameError, "vars"),
    ("globals()", NameError, "globals"),
    ("locals()", NameError, "locals"),
    ("eval('1')", SyntaxError, "Eval calls are not allowed"),
    ("exec('x = 1')", SyntaxError, "Exec calls are not allowed"),
    ("compile('1', 'x', 'eval')", NameError, "compile"),
    ("'{0.__class__}'.format(1)", NotImplementedError, "format"),
    ("str.format('{0.__class__}', 1)", NotImplementedError, "format"),
    ("'{x.__class__}'.format_map({'x': 1})", NotImplementedError, "format"),
    ("y = f'{x.__class__}'", SyntaxError, "__class__"),
    ("def g():\n    yield gen.gi_frame.f_back\ngen = g()\nframe = next(gen)", SyntaxError, "gi_frame"),
    ("try:\n    1 / 0\nexcept Exception as e:\n    tb = e.__traceback__", SyntaxError, "__traceback__"),
    ("m = math.__dict__", SyntaxError, "__dict__"),
    ("r = json.decoder", AttributeError, "decoder"),
    ("y = 2 ** 10_000_000", SandboxError, "too large"),
    ("y = 10 ** 400_000", SandboxError, "too large"),
    ("y = 2\ny **= 100_000_000", SandboxError, "too large"),
    ("y = 'a' * 10 ** 9", SandboxError, "repetition would be too large"),
    ("y = [0] * 10 ** 9", SandboxError, "repetition would be too large"),
    ("y = 'a'\ny *= 10 ** 9", SandboxError, "repetition would be too large"),
    ("y = list(range(10 ** 9))", ValueError, "range"),
]


@pytest.mark.parametrize(("script", "error", "reason"), ESCAPES, ids=[e[0][:40] for e in ESCAPES])
def test_script_escape_is_refused(sandbox, script, error, reason):
    context = {"x": 1}
    with pytest.raises(error) as info:
        sandbox.execute(script, context)
    assert reason in str(info.value)


EXPRESSION_ESCAPES = [
    "__import__('os').getcwd()",
    "open('/etc/passwd').read()",
    "().__class__.__base__.__subclasses__()",
    "'{0.__class__}'.format(1)",
    "type(x)",
    "eval('1')",
    "2 ** 10_000_000",
    "'a' * 10 ** 9",
]


@pytest.mark.parametrize("expression", EXPRESSION_ESCAPES)
def test_expression_escape_is_refused(sandbox, expression):
    with pytest.raises((SyntaxError, NameError, NotImplementedError, SandboxError)):
        sandbox.evaluate(expression, {"x": 1})


def test_endless_loop_stops_within_the_limit(sandbox):
    started = time.monotonic()
    with pytest.raises(ScriptTimeout, match="time limit of 1 s"):
        sandbox.execute("while True: pass", {})
    assert time.monotonic() - started < LIMIT + 1.0


def test_endless_multiline_loop_and_expression_stop(sandbox):
    with pytest.raises(ScriptTimeout):
        sandbox.execute("n = 0\nwhile True:\n    n = n + 1\n    m = n * 2", {})
    with pytest.raises(ScriptTimeout):
        sandbox.evaluate("sum(1 for a in range(999) for b in range(999) for c in range(999))", {})


def test_time_limit_does_not_leak_into_the_next_script(sandbox):
    with pytest.raises(ScriptTimeout):
        sandbox.execute("while True: pass", {})
    context: dict = {}
    sandbox.execute("y = 1 + 1", context)
    assert context == {"y": 2}


ALLOWED = [
    ("import datetime\ny = datetime.date(2024, 5, 17).isoformat()", "2024-05-17"),
    ("y = datetime.date(2024, 5, 17).isoformat()", "2024-05-17"),
    ("y = datetime.date(2024, 5, 17).strftime('%d.%m.%Y')", "17.05.2024"),
    ("y = datetime.datetime.strptime('2024-05-17', '%Y-%m-%d').day", 17),
    ("y = datetime.date(2024, 5, 17).timetuple().tm_yday", 138),
    ("import decimal\ny = str(decimal.Decimal('1.10') + decimal.Decimal('2.20'))", "3.30"),
    ("y = str(decimal.Decimal('1.5') * 2)", "3.0"),
    ("import math\ny = math.sqrt(16)", 4.0),
    ("from math import floor\ny = floor(2.7)", 2),
    ("import json\ny = json.dumps({'a': [1, 2]})", '{"a": [1, 2]}'),
    ("y = json.loads('{\"a\": 1}')['a']", 1),
    ("import re\ny = re.sub('[0-9]+', '#', 'a1b22')", "a#b#"),
    ("y = re.match('(a+)', 'aaab').group(1)", "aaa"),
    ("import decimal as d\ny = str(d.Decimal(7))", "7"),
    ("y = sorted([3, 1, 2])[0] + sum([1, 2]) + max(1, 2)", 6),
    ("y = {}\ny['k'] = [1]\ny['k'].append(2)", {"k": [1, 2]}),
]


@pytest.mark.parametrize(("script", "expected"), ALLOWED, ids=[a[0][:40] for a in ALLOWED])
def test_allowed_modules_work(sandbox, script, expected):
    context: dict = {}
    sandbox.execute(script, context)
    assert context["y"] == expected


def test_script_results_are_data_only(sandbox):
    context = {"x": 1}
    sandbox.execute("import math\nf = lambda v: v\ny = x + 1", context)
    assert context == {"x": 1, "y": 2}


def test_task_data_cannot_shadow_sandbox_helpers(sandbox):
    with pytest.raises(SandboxError, match="reserved"):
        sandbox.execute("y = 1", {"_getattr_": "boom"})


# -- through a real process -----------------------------------------------------------------------

def _start_and_fail(actors, mode: str):
    pm = actors["maria"]
    instance = instances.start("failures", pm, {"mode": mode, "amount": 10, "divisor": 0})
    [submit] = ready(instance.id)
    state_before = fresh_instance(instance.id).state
    version_before = fresh_instance(instance.id).lock_version
    with pytest.raises(StepFailed) as info:
        instances.complete(submit.id, pm, {"note": "go"})
    return instance.id, submit.id, state_before, version_before, info.value


@pytest.mark.parametrize(("mode", "element", "line", "message"), [
    ("loop", "loop_forever", None, "time limit"),
    ("import", "bad_import", 2, "import of 'os' is not allowed"),
    ("gateway", "check", None, "division by zero"),
])
def test_failing_step_puts_instance_in_error_and_rolls_back(app, actors, engine_deployed, mode, element, line,
                                                            message):
    instance_id, submit_id, state_before, version_before, err = _start_and_fail(actors, mode)
    assert message in err.detail
    instance = fresh_instance(instance_id)
    assert instance.status == "error"
    assert message in instance.error["message"]
    assert instance.error["element_id"] == element
    assert instance.error["action"] == "complete_task"
    if line is not None:
        assert instance.error["line_number"] == line
    # The step rolled back: same state, the completed task is still ready, nothing of the data stuck.
    assert instance.state == state_before
    assert "spec" not in instance.state
    [still_ready] = ready(instance_id)
    assert still_ready.id == submit_id and still_ready.status == "ready"
    assert audit_entries(instance_id, "complete_task") == []
    [failed] = audit_entries(instance_id, "step_failed")
    assert failed.details["error"]["element_id"] == element
    assert failed.details["submitted"]["data"] == {"note": "go"}
    assert instance.lock_version == version_before + 1  # only the error mark was written
    assert "touched" not in instances.instance_data(instance)


def test_app_keeps_serving_after_a_failed_step(app, actors, engine_deployed):
    _start_and_fail(actors, "loop")
    pm = actors["maria"]
    instance = instances.start("failures", pm, {"mode": "ok"})
    [submit] = ready(instance.id)
    instances.complete(submit.id, pm, {})
    [review] = ready(instance.id)
    assert review.element_id == "review"
    instance = instances.complete(review.id, pm, {})
    assert fresh_instance(instance.id).status == "completed"


def test_instance_in_error_can_be_fixed_by_completing_with_other_data(app, actors, engine_deployed):
    instance_id, submit_id, *_ = _start_and_fail(actors, "import")
    instances.complete(submit_id, actors["maria"], {"mode": "ok"})
    instance = fresh_instance(instance_id)
    assert instance.status == "running" and instance.error is None
    assert [t.element_id for t in ready(instance_id)] == ["review"]


def test_failing_first_step_keeps_instance_in_error(app, actors, deployed, tmp_path):
    from app.definitions import operations as definitions
    from tests.engine.conftest import linear

    (tmp_path / "boom.bpmn").write_text(linear(
        "boom_at_start", '<bpmn:scriptTask id="boom"><bpmn:script>x = 1\ny = 1 / 0</bpmn:script></bpmn:scriptTask>',
        "boom", "boom"))
    definitions.deploy_directory([tmp_path], "admin")
    with pytest.raises(StepFailed, match="division by zero") as info:
        instances.start("boom_at_start", actors["maria"], {"a": 1})
    instance = fresh_instance(info.value.errors["instance_id"])
    assert instance.status == "error"
    assert instance.error["element_id"] == "boom" and instance.error["line_number"] == 2
    assert audit_entries(instance.id, "start_failed")
