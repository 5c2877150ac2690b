"""A completed task's page shows what its person saw when they acted (issue 16 item 1): the
instructions rendered with the data of that moment, not the template with empty values."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.core.extensions import db
from app.instances.models import HumanTask, TaskStatus


def _completed(element_id: str) -> HumanTask:
    return db.session.scalars(select(HumanTask).where(HumanTask.element_id == element_id,
                                                      HumanTask.status == TaskStatus.COMPLETED)
                              .order_by(HumanTask.completed_at)).first()


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _instructions(html: str) -> str:
    found = re.search(r'<section class="card instructions".*?</section>', html, re.S)
    assert found, "no instructions on the page"
    return found.group(0)


def test_completed_sponsor_review_shows_the_charter_it_was_shown(seeded, login):
    task = _completed("sponsor_review")
    assert task is not None and task.instructions_seen
    page = login("admin").html(f"/tasks/{task.id}")
    shown = _text(_instructions(page))
    assert re.search(r"Charter of \w", shown), shown
    assert not re.search(r"Charter of\s*(Objectives|$)", shown), shown
    assert not re.search(r"Dates:\s*to\b", shown), shown
    assert not re.search(r"score:\s*of 25", shown), shown


def test_completed_change_assessment_shows_no_broken_markdown(seeded, login):
    task = _completed("assess")
    assert task is not None
    page = login("admin").html(f"/tasks/{task.id}")
    shown = _instructions(page)
    assert "**" not in shown, _text(shown)
    assert "cost <strong>" in shown, _text(shown)


def test_a_completed_task_keeps_its_instructions_when_the_data_moves_on(seeded, login):
    """Kept at completion: the text does not follow later data (what they saw, not what is now)."""
    task = _completed("sponsor_review")
    kept = task.instructions_seen
    assert kept and "{{" not in kept and "{%" not in kept


def test_instructions_that_cannot_render_are_not_kept_as_a_raw_template(app):
    from app.instances.commands import _instructions_seen

    assert _instructions_seen("Charter of {{ name }}", {"name": "ERP"}) == "Charter of ERP"
    assert _instructions_seen("Broken {{ 1 / 0 }}", {}) is None
    assert _instructions_seen(None, {}) is None
