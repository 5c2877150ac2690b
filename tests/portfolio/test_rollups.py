"""The rollup behind process analytics: the same hand-worked figures once the days are rolled up,
the catch-up from its watermark, and idempotence (conftest.seed_tasks has the values)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.core.extensions import db
from app.portfolio import queries as portfolio
from app.portfolio import rollups
from app.portfolio.models import AnalyticsSnapshot, TaskRollup
from app.portfolio.queries import Period


def _rows() -> list[tuple]:
    return sorted(db.session.execute(select(TaskRollup.grain, TaskRollup.day, TaskRollup.kind, TaskRollup.process,
                                            TaskRollup.step, TaskRollup.subject, TaskRollup.bucket, TaskRollup.n,
                                            TaskRollup.seconds, TaskRollup.breaches)).all())


@pytest.fixture
def rolled(actors, with_tasks):  # noqa: ANN001, ANN201
    done = rollups.catch_up()
    assert done["days"] > 0 and rollups.watermark() == portfolio.today() - timedelta(days=1)
    return actors


def _step(tables, step_id):  # noqa: ANN001, ANN202
    return next(r for r in tables["steps"].rows if r["step_id"] == step_id)


def test_the_rolled_up_figures_are_the_hand_worked_ones(rolled):
    tables = portfolio.analytics(rolled["owen"], Period.of("90"))
    pm = _step(tables, "pm_decision")
    assert (pm["completed"], pm["median"], pm["p90"], pm["breaches"]) == (3, 4.0, 10.0, 1)
    assert (pm["waiting"], pm["overdue"]) == (2, 1)  # waiting now is read live
    assess = _step(tables, "assess")
    assert (assess["completed"], assess["median"], assess["p90"]) == (2, 2.0, 3.0)
    people = {r["person"]: (r["completed"], r["median"], r["p90"]) for r in tables["people"].rows}
    assert people["Maria Garcia" if "Maria Garcia" in people else "maria"] == (2, 3.0, 4.0)
    roles = {r["role"]: (r["completed"], r["median"]) for r in tables["roles"].rows}
    assert roles["Project manager"] == (3, 4.0) and roles["PMO analyst"] == (2, 2.0)
    every = _step(portfolio.analytics(rolled["owen"], Period.of("all")), "pm_decision")
    assert (every["completed"], every["median"], every["p90"]) == (4, 7.0, 100.0)  # 2, 4, 10, 100 (June: a month row)
    assert "25 %" in tables["steps"].caption
    # Rework and phase times come from the job's snapshot of the closed days, the same hand values.
    assert "rolled up nightly" in tables["rework"].caption
    rework = {r["step"]: r for r in tables["rework"].rows}["Approve (PM tolerance)"]
    assert (rework["instances"], rework["reworked"], rework["repeats"], rework["share"]) == (2, 1, 1, 50.0)
    initiation = {r["phase"]: r for r in tables["phases"].rows}["Project initiation"]
    assert (initiation["instances"], initiation["median"], initiation["p90"]) == (2, 3.5, 5.0)


def test_a_page_reads_its_period_s_snapshot_once(rolled):
    from sqlalchemy import event

    read: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        if "FROM portfolio_analytics_snapshots" in statement:
            read.append(statement)

    db.session.expunge_all()  # nothing held from the job's run: the page reads what it needs
    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        tables = portfolio.analytics(rolled["owen"], Period.of("90"))
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert len(read) == 1 and "rolled up nightly" in tables["phases"].caption


def test_today_s_completions_count_before_the_job_runs(rolled):
    from app.definitions.models import ProcessVersion
    from tests.portfolio.conftest import _at, _instance, _task  # the fixtures' own task maker

    version = db.session.scalar(select(ProcessVersion.id).where(ProcessVersion.process_key == "change_request"))
    today = portfolio.today().isoformat()
    _task(_instance(version, "change_request"), "assess", _at(today, 0), 5, "petra", "pmo")
    db.session.commit()
    assess = _step(portfolio.analytics(rolled["owen"], Period.of("90")), "assess")
    assert (assess["completed"], assess["median"], assess["p90"]) == (3, 3.0, 5.0)  # 1, 3, 5 h


def test_catching_up_is_idempotent_and_resumes_from_the_watermark(rolled):
    first = _rows()
    snapshots = {s.period: (s.through, s.data) for s in db.session.scalars(select(AnalyticsSnapshot))}
    assert set(snapshots) == {"7", "30", "90", "365", "all"}
    assert rollups.catch_up()["days"] == 0 and _rows() == first  # nothing new: nothing rewritten
    # Put the watermark back three weeks: the job rewrites those days to the same sums.
    mark = db.session.get(rollups.RollupWatermark, 1)
    mark.through -= timedelta(days=21)
    db.session.commit()
    assert rollups.catch_up()["days"] == 21 and _rows() == first
    assert {s.period: (s.through, s.data) for s in db.session.scalars(select(AnalyticsSnapshot))} == snapshots
    assert rollups.rebuild()["through"] == (portfolio.today() - timedelta(days=1)).isoformat() and _rows() == first
    months = db.session.scalar(select(func.sum(TaskRollup.n)).where(TaskRollup.grain == "month",
                                                                     TaskRollup.kind == "step"))
    assert months == 9  # every completion is in a closed month (June, November)


def test_catch_up_stops_where_it_is_told_and_goes_on_later(actors, with_tasks):
    assert rollups.catch_up(until=date(2026, 11, 2))["through"] == "2026-11-02"
    pm = _step(portfolio.analytics(actors["owen"], Period.of("90")), "pm_decision")
    assert (pm["completed"], pm["median"], pm["p90"]) == (3, 4.0, 10.0)  # 2 Nov rolled up, 3-4 Nov live
    assert rollups.catch_up()["through"] == (portfolio.today() - timedelta(days=1)).isoformat()


@pytest.mark.parametrize(("seconds", "bucket"), [(0, 0), (59.9, 0), (60, 1), (74.9, 1), (76, 2), (3600, 19)])
def test_wait_buckets_grow_by_a_quarter_from_one_minute(seconds, bucket):
    assert rollups.bucket_of(seconds) == bucket


def test_a_percentile_is_the_mean_of_its_bucket():
    h = rollups.Histogram()
    for s in (3600, 3700, 7200):  # 3600 and 3700 share bucket 19, 7200 is in 22
        h.add(rollups.bucket_of(s), 1, s)
    assert h.n == 3 and h.median() == 3650 and h.p90() == 7200
