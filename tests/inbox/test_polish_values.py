"""One rule for how values read (issue 16 item 4): money in the configured currency with thousands
separators, dates, Yes/No and percentages, in instructions, task context, earlier steps and forms."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.core import formatting
from app.core.extensions import db
from app.engine import templating
from app.instances.models import TaskStatus
from app.projects.models import Project
from tests.support.web import task_at as _task


def _main(html: str) -> str:
    return re.search(r"<main.*?</main>", html, re.S).group(0)


def test_the_rule(app):
    assert formatting.money(1800000.0) == "€1,800,000"
    assert formatting.money("1800000.00") == "€1,800,000"
    assert formatting.money(12.5) == "€12.50"
    assert formatting.number(1800000.0) == "1,800,000"
    assert formatting.percent(80) == "80%"
    assert formatting.yesno(True) == "Yes" and formatting.yesno(False) == "No"
    assert formatting.day("2027-06-29") == "Jun 29, 2027"
    assert formatting.show(True) == "Yes"
    assert formatting.show(1800000.0, "budget_baseline") == "€1,800,000"
    assert formatting.show({"labour": 290000}, "budget_by_category") == "Labour: €290,000"


def test_the_currency_is_a_setting(app):
    app.config["CURRENCY"] = "USD"
    try:
        assert formatting.money(1800000) == "$1,800,000"
        assert formatting.currency_symbol() == "$"
    finally:
        app.config["CURRENCY"] = "EUR"


def test_instruction_templates_have_the_filters_and_booleans_read_yes_no(app):
    text = templating.render("{{ b | money }} · {{ d | day }} · {{ p | percent }} · {{ ok }} · {{ n }} · {{ f }}",
                             {"b": 1800000.0, "d": "2027-06-29", "p": 80, "ok": True, "n": None, "f": 3.0})
    assert text == "€1,800,000 · Jun 29, 2027 · 80% · Yes ·  · 3"


def test_a_task_page_reads_money_dates_and_booleans_one_way(seeded, login):
    page = _main(login("quinn").html(f"/tasks/{_task('quality_review').id}"))
    assert "business case still valid: <strong>Yes</strong>" in page
    assert "True" not in page and "¤" not in page
    assert "<dt>Budget</dt><dd>€1,800,000</dd>" in page              # the project card
    assert "Budget estimate</dt><dd>€1,800,000</dd>" in page         # earlier steps
    assert not re.search(r"1800000|1,800,000\.0", page), re.findall(r".{40}1800000.{20}", page)

    report = _main(login("maria").html(f"/tasks/{_task('report').id}"))
    assert "Budget baseline <strong>€1,800,000</strong>" in report
    # The demo dates its projects from today: the target end reads as people write a date.
    project = db.session.scalars(select(Project).where(Project.code == "DCM-0058")).one()
    assert f"target end {project.target_end_date:%b} {project.target_end_date.day}, {project.target_end_date.year}" in report


def test_money_inputs_show_the_configured_currency(seeded, login):
    page = login("maria").html(f"/tasks/{_task('write_charter', TaskStatus.COMPLETED).id}")
    assert '<span class="currency" aria-hidden="true">€</span>' in page
    assert "¤" not in page


def _visible(html: str) -> str:
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", _main(html), flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_dates_read_one_way_on_the_task_page_and_in_the_inbox(seeded, login):
    quinn = login("quinn")
    page = _visible(quinn.html(f"/tasks/{_task('quality_review').id}"))
    assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", page), re.findall(r".{30}\d{4}-\d{2}-\d{2}.{10}", page)
    assert re.search(r"Planned start [A-Z][a-z]{2} \d{1,2}, \d{4}", page)
    inbox = _visible(quinn.html("/inbox?view=all"))
    assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", inbox), inbox
