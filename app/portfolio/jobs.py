"""The portfolio's background work: rolling closed days of completed tasks up for the analytics."""

from __future__ import annotations

from celery import shared_task

from app.instances.scheduler import periodic

ROLLUP_SECONDS = 600.0  # a closed day is rolled up within ten minutes of midnight (UTC)


@periodic(ROLLUP_SECONDS)
@shared_task(name="pmo.portfolio_rollup")
def portfolio_rollup() -> dict:
    """Catch the rollup up to yesterday (idempotent: nothing to do until the next day closes)."""
    from app.portfolio import rollups

    return rollups.catch_up()
