"""Item 14: every Jinja render (task titles, instructions, form values) runs on a budget; a title
is rendered inside the instance's write transaction, so its budget is tight.

On the old code a nested loop in a title held the write transaction for 58 s, and one in the
instructions burnt a CPU for every viewer.
"""

from __future__ import annotations

import time

import pytest

from app.definitions import operations as definitions
from app.engine import templating
from app.engine.sandbox import SandboxError
from app.inbox.rendering import render_instructions, render_template
from app.instances import commands as instances
from tests.engine.conftest import linear, ready

NESTED_LOOP = "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}"

HOSTILE = [
    NESTED_LOOP,
    "{% set s = 'x' * 1000000 %}{% for i in range(100000) %}{{ s }}{% endfor %}",
    "{{ 'a'.ljust(2000000000) }}",
    "{{ 'a' * 2000000000 }}",
    "{{ 3 ** 30000000 }}",
    "{{ 'a'|center(2000000000) }}",
    "{{ '%2000000000d'|format(1) }}",
    "{{ ('a' * 100000)|replace('a', 'b' * 100000) }}",
]


@pytest.mark.parametrize("text", HOSTILE, ids=[h[:40] for h in HOSTILE])
def test_hostile_template_is_refused_within_its_budget(text):
    started = time.monotonic()
    with pytest.raises(SandboxError):
        templating.render(text + str(time.monotonic()), {}, seconds=0.2)  # unique text: not the cached refusal
    assert time.monotonic() - started < 3


def test_instructions_fall_back_to_the_raw_text():
    html = render_instructions("## Step\n" + NESTED_LOOP, {})
    assert "<h2>Step</h2>" in html and "for a in range" in html
    assert render_template("Hello {{ name }}", {"name": "Quote\" test"}) == "Hello Quote\" test"


def test_a_template_over_budget_is_not_rendered_again(monkeypatch):
    text = NESTED_LOOP + "<!-- once -->"
    with pytest.raises(SandboxError):
        templating.render(text, {}, seconds=0.1)

    def run_again(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("the refused template was rendered again")

    monkeypatch.setattr(templating.sb, "run_limited", run_again)
    with pytest.raises(SandboxError, match="time limit"):
        templating.render(text, {}, seconds=0.1)


def test_a_refusal_on_one_instances_data_does_not_refuse_the_text_for_others():
    # The refusal used to be kept by text alone: one instance with many rows made the same title
    # fall back to its raw text for every later instance, however small their data.
    text = "Review {% for a in rows %}{% for b in rows %}.{% endfor %}{% endfor %}<!-- per data -->"
    with pytest.raises(SandboxError):
        templating.render(text, {"rows": list(range(5000))}, seconds=0.1)
    assert templating.render(text, {"rows": [1, 2]}, seconds=0.1) == "Review ....<!-- per data -->"
    assert templating.render_or(text, {"rows": [1]}, fallback=text, seconds=0.1) == "Review .<!-- per data -->"


def test_ordinary_templates_still_render():
    data = {"project_code": "PRJ-1", "items": [1, 2, 3], "reason": 'said "no"\n'}
    assert templating.render("{{ project_code }} {{ items|join(', ') }} {{ reason|replace('no', 'yes') }}"
                             "{% for i in items %}[{{ i }}]{% endfor %}{{ '%05d'|format(7) }}", data) == \
        'PRJ-1 1, 2, 3 said "yes"\n[1][2][3]00007'


def test_title_with_a_nested_loop_does_not_hold_the_write_transaction(app, actors, deployed, tmp_path):
    (tmp_path / "slow_title.bpmn").write_text(linear(
        "slow_title", f'<bpmn:userTask id="work" name="Review {NESTED_LOOP}" />'))
    definitions.deploy_directory([tmp_path], "admin")
    started = time.monotonic()
    instance = instances.start("slow_title", actors["admin"], {})
    assert time.monotonic() - started < 5
    [task] = ready(instance.id)
    assert task.title.startswith("Review {% for a in range(100000) %}")
