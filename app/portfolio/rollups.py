"""Process analytics from precomputed rollups: per closed day (and month) and wait bucket, the
count, the sum of the waits and the SLA breaches of the completed human tasks, per step, per
candidate role and per person. ``catch_up`` fills them from a watermark (idempotent: a day is
deleted and rewritten whole); ``figures`` reads them for a period, adding the live completions of
the days the rollup does not hold (the part-day the period starts in, and everything after the
watermark, today included), so a figure never waits for the job.

Percentiles come from the buckets: bucket 0 holds waits under a minute, bucket k waits from
60 s x 1.25^(k-1) to 60 s x 1.25^k. A median or p90 is the mean wait of the bucket holding that
rank, so it is exact when the bucket's waits are equal (one value) and within 25 % otherwise.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select

from app.core.extensions import db
from app.engine import clock
from app.instances.models import HumanTask, HumanTaskCandidate, TaskStatus
from app.portfolio.models import AnalyticsSnapshot, RollupWatermark, TaskRollup

RATIO = 1.25
FIRST = 60.0   # seconds: the upper edge of bucket 0
RESOLUTION = ("Medians and 90th percentiles come from wait buckets 25 % wide (from one minute): "
              "exact when a bucket holds one value, within 25 % otherwise.")


def bucket_of(seconds: float) -> int:
    """The wait bucket of ``seconds`` (see the module's docstring)."""
    if seconds < FIRST:
        return 0
    return min(int(math.log(seconds / FIRST, RATIO)) + 1, 32000)


@dataclass
class Histogram:
    """Bucket -> [count, sum of seconds]; percentiles by rank as the exact SQL ranked them."""

    buckets: dict[int, list[float]] = field(default_factory=dict)
    breaches: int = 0
    title: str | None = None

    def add(self, bucket: int, n: int, seconds: float, breaches: int = 0, title: str | None = None) -> None:
        cell = self.buckets.setdefault(bucket, [0, 0.0])
        cell[0] += n
        cell[1] += seconds
        self.breaches += breaches
        if title is not None and (self.title is None or title < self.title):
            self.title = title

    @property
    def n(self) -> int:
        return int(sum(c[0] for c in self.buckets.values()))

    def at_rank(self, rank: int) -> float | None:
        seen = 0
        for bucket in sorted(self.buckets):
            count, total = self.buckets[bucket]
            seen += count
            if seen >= rank:
                return total / count
        return None

    def median(self) -> float | None:
        n = self.n
        if not n:
            return None
        low, high = self.at_rank((n + 1) // 2), self.at_rank((n + 2) // 2)
        return (low + high) / 2 if low is not None and high is not None else None

    def p90(self) -> float | None:
        return self.at_rank((self.n * 9 + 9) // 10) if self.n else None


@dataclass
class Figures:
    """Per step ``(process, step)``, per role and per person: the histogram of the period's waits."""

    steps: dict[tuple[str, str], Histogram] = field(default_factory=lambda: defaultdict(Histogram))
    roles: dict[str, Histogram] = field(default_factory=lambda: defaultdict(Histogram))
    people: dict[str, Histogram] = field(default_factory=lambda: defaultdict(Histogram))

    def of(self, kind: str, process: str, step: str, subject: str) -> Histogram:
        if kind == "step":
            return self.steps[(process, step)]
        return (self.roles if kind == "role" else self.people)[subject]


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def watermark() -> date | None:
    return db.session.scalar(select(RollupWatermark.through).where(RollupWatermark.id == 1))


def _completions(start: datetime, end: datetime | None, process: str | None = None) -> list[tuple]:
    """(kind, process, step, subject, bucket, seconds, breach, title) of the tasks completed in
    [start, end): one "step" and one "person" row each, one "role" row per candidate role."""
    proc = func.coalesce(HumanTask.bpmn_process_id, HumanTask.process_key)
    conditions = [HumanTask.status == TaskStatus.COMPLETED, HumanTask.completed_at >= start]
    if end is not None:
        conditions.append(HumanTask.completed_at < end)
    if process:
        conditions.append(proc == process)
    tasks = db.session.execute(select(HumanTask.id, proc, HumanTask.element_id, HumanTask.title,
                                      HumanTask.created_at, HumanTask.completed_at, HumanTask.due_at,
                                      HumanTask.completed_by).where(*conditions)).all()
    roles: dict[str, list[str]] = defaultdict(list)
    if tasks and not process:
        for task_id, role in db.session.execute(
                select(HumanTaskCandidate.task_id, HumanTaskCandidate.role)
                .join(HumanTask, HumanTask.id == HumanTaskCandidate.task_id)
                .where(*conditions, HumanTaskCandidate.role.is_not(None))):
            roles[task_id].append(role)
    rows = []
    for task_id, proc_id, step, title, created, completed, due, person in tasks:
        seconds = max((completed - created).total_seconds(), 0.0)
        bucket, breach = bucket_of(seconds), int(due is not None and completed > due)
        rows.append(("step", proc_id, step, "", bucket, seconds, breach, title))
        if person:
            rows.append(("person", "", "", person, bucket, seconds, 0, None))
        rows.extend(("role", "", "", role, bucket, seconds, 0, None) for role in roles.get(task_id, ()))
    return rows


def _add_live(figures: Figures, rows: list[tuple]) -> None:
    for kind, process, step, subject, bucket, seconds, breach, title in rows:
        figures.of(kind, process, step, subject).add(bucket, 1, seconds, breach, title)


def _read(figures: Figures, grain: str, first: date, last: date, process: str | None) -> None:
    """Add the rollup rows of ``grain`` with first <= day <= last."""
    if last < first:
        return
    t = TaskRollup
    conditions = [t.grain == grain, t.day >= first, t.day <= last]
    if process:
        conditions += [t.kind == "step", t.process == process]
    query = (select(t.kind, t.process, t.step, t.subject, t.bucket, func.sum(t.n), func.sum(t.seconds),
                    func.sum(t.breaches), func.min(t.title))
             .where(*conditions).group_by(t.kind, t.process, t.step, t.subject, t.bucket))
    for kind, proc, step, subject, bucket, n, seconds, breaches, title in db.session.execute(query):
        figures.of(kind, proc, step, subject).add(bucket, int(n), float(seconds), int(breaches or 0), title)


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _first_day(since: datetime | None) -> date:
    """The first whole day of a period starting at ``since`` (the part-day before it is read live)."""
    if since is None:
        return date(1970, 1, 1)
    return since.date() if since == _day_start(since.date()) else since.date() + timedelta(days=1)


def _snapshot(key: str | None, since: datetime | None, through: date) -> AnalyticsSnapshot | None:
    if key is None:
        return None
    kept = db.session.get(AnalyticsSnapshot, key)
    return kept if kept is not None and kept.through == through and kept.first_day == _first_day(since) else None


def snapshot(key: str, since: datetime | None) -> AnalyticsSnapshot | None:
    """The snapshot the job made today of the period ``key`` starting at ``since``, if it did. A page
    reads it once and hands it to ``figures`` and ``snapshot_rows``: its JSON is large (700 KB for a
    year at a million tasks), and the session holds it only while someone does, so each read of it
    decoded it again (three times a page, 110 ms on PostgreSQL)."""
    through = watermark()
    return _snapshot(key, since, through) if through is not None else None


def snapshot_rows(kept: AnalyticsSnapshot | None, table: str) -> tuple[list[dict[str, Any]], date] | None:
    """The rows of ``table`` ("rework", "phases") in the period's snapshot, with its last day."""
    return (kept.data[table], kept.through) if kept is not None else None


def figures(since: datetime | None, process: str | None = None,
            snapshot: AnalyticsSnapshot | None = None) -> Figures:
    """The histograms of the tasks completed since ``since`` (all time when None), up to now: from
    ``snapshot`` (the period's, from ``snapshot()``) when the job made one today, else the day and
    month rows."""
    found = Figures()
    through = watermark()
    if through is None or (since is not None and since >= _day_start(through + timedelta(days=1))):
        _add_live(found, _completions(since or datetime(1970, 1, 1, tzinfo=UTC), None, process))
        return found
    first_day = _first_day(since)
    if since is not None and since < _day_start(first_day):  # the part-day the period starts in
        _add_live(found, _completions(since, _day_start(first_day), process))
    kept = snapshot if snapshot is not None and (snapshot.through, snapshot.first_day) == (through, first_day) else None
    if kept is not None:
        for kind, proc, step, subject, bucket, n, seconds, breaches, title in kept.data["figures"]:
            if not process or (kind == "step" and proc == process):
                found.of(kind, proc, step, subject).add(bucket, n, seconds, breaches, title)
        _add_live(found, _completions(_day_start(through + timedelta(days=1)), None, process))
        return found
    _rolled(found, first_day, through, process)
    _add_live(found, _completions(_day_start(through + timedelta(days=1)), None, process))
    return found


def _rolled(found: Figures, first_day: date, through: date, process: str | None) -> None:
    # Whole months from month rows, the days around them from day rows, after the watermark live.
    month = first_day if first_day.day == 1 else _next_month(first_day)
    months_end = month
    while _next_month(months_end) - timedelta(days=1) <= through:
        months_end = _next_month(months_end)
    if months_end > month:
        _read(found, "day", first_day, month - timedelta(days=1), process)
        _read(found, "month", month, months_end - timedelta(days=1), process)
        _read(found, "day", months_end, through, process)
    else:
        _read(found, "day", first_day, through, process)


def _histograms(found: Figures) -> Iterator[tuple[str, tuple[str, str, str], Histogram]]:
    """(kind, (process, step, subject), histogram) of every group in ``found``."""
    for (process, step), h in found.steps.items():
        yield "step", (process, step, ""), h
    for kind, table in (("role", found.roles), ("person", found.people)):
        for subject, h in table.items():
            yield kind, ("", "", subject), h


PERIODS = (("7", 7), ("30", 30), ("90", 90), ("365", 365), ("all", None))


def take_snapshots() -> int:
    """Merge each period's closed days once (after the watermark moved): the pages then read one row."""
    from app.portfolio.queries import Period, snapshot_tables  # queries builds on this module

    through = watermark()
    if through is None:
        return 0
    now = clock.now()
    for key, days in PERIODS:
        since = now - timedelta(days=days) if days else None
        first_day = _first_day(since)
        kept = db.session.get(AnalyticsSnapshot, key)
        if kept is not None and kept.through == through and kept.first_day == first_day:
            continue
        found = Figures()
        _rolled(found, first_day, through, None)
        rows = [[kind, *key_, bucket, int(c[0]), c[1], h.breaches if i == 0 else 0, h.title if i == 0 else None]
                for kind, key_, h in _histograms(found) for i, (bucket, c) in enumerate(sorted(h.buckets.items()))]
        tables = snapshot_tables(Period(days, until=_day_start(through + timedelta(days=1))))
        if kept is None:
            db.session.add(AnalyticsSnapshot(period=key, first_day=first_day, through=through,
                                             data={"figures": rows, **tables}))
        else:
            kept.first_day, kept.through, kept.data = first_day, through, {"figures": rows, **tables}
        db.session.commit()
    return len(PERIODS)


# -- the job -----------------------------------------------------------------------------------

def _write_day(day: date) -> int:
    """Rewrite the day rows of ``day`` (and its month's rows when it is the month's last day)."""
    db.session.execute(delete(TaskRollup).where(TaskRollup.grain == "day", TaskRollup.day == day))
    sums: dict[tuple, list[Any]] = {}
    for kind, process, step, subject, bucket, seconds, breach, title in _completions(
            _day_start(day), _day_start(day + timedelta(days=1))):
        cell = sums.setdefault((kind, process, step, subject, bucket), [0, 0.0, 0, title])
        cell[0] += 1
        cell[1] += seconds
        cell[2] += breach
        if title is not None and (cell[3] is None or title < cell[3]):
            cell[3] = title
    rows = [{"grain": "day", "day": day, "kind": k[0], "process": k[1], "step": k[2], "subject": k[3],
             "bucket": k[4], "n": v[0], "seconds": v[1], "breaches": v[2], "title": v[3]} for k, v in sums.items()]
    if rows:
        db.session.execute(insert(TaskRollup), rows)
    if (day + timedelta(days=1)).day == 1:
        _write_month(day.replace(day=1))
    return len(rows)


def _write_month(first: date) -> None:
    t = TaskRollup
    db.session.execute(delete(t).where(t.grain == "month", t.day == first))
    sums = (select(t.kind, t.process, t.step, t.subject, t.bucket, func.sum(t.n), func.sum(t.seconds),
                   func.sum(t.breaches), func.min(t.title))
            .where(t.grain == "day", t.day >= first, t.day < _next_month(first))
            .group_by(t.kind, t.process, t.step, t.subject, t.bucket))
    rows = [{"grain": "month", "day": first, "kind": r[0], "process": r[1], "step": r[2], "subject": r[3],
             "bucket": r[4], "n": int(r[5]), "seconds": float(r[6]), "breaches": int(r[7] or 0), "title": r[8]}
            for r in db.session.execute(sums)]
    if rows:
        db.session.execute(insert(t), rows)


def catch_up(until: date | None = None, max_days: int = 4000) -> dict[str, Any]:
    """Roll up every closed day after the watermark through ``until`` (default yesterday), one
    transaction per day, moving the watermark with it: a rerun rewrites nothing it holds already,
    and a crash loses at most the day in progress. The first run starts at the first completion."""
    until = until or clock.now().astimezone(UTC).date() - timedelta(days=1)
    through = watermark()
    if through is None:
        first = db.session.scalar(select(func.min(HumanTask.completed_at))
                                  .where(HumanTask.status == TaskStatus.COMPLETED))
        if first is None:
            return {"days": 0, "rows": 0, "through": None}
        through = first.astimezone(UTC).date() - timedelta(days=1)
    days = rows = 0
    while through < until and days < max_days:
        day = through + timedelta(days=1)
        rows += _write_day(day)
        mark = db.session.get(RollupWatermark, 1)
        if mark is None:
            db.session.add(RollupWatermark(id=1, through=day))
        else:
            mark.through = day
        db.session.commit()
        through, days = day, days + 1
    return {"days": days, "rows": rows, "through": through.isoformat(), "snapshots": take_snapshots()}


def rebuild() -> dict[str, Any]:
    """Forget the rollup and roll every closed day up again (after an import of old tasks)."""
    db.session.execute(delete(TaskRollup))
    db.session.execute(delete(RollupWatermark))
    db.session.execute(delete(AnalyticsSnapshot))
    db.session.commit()
    return catch_up()


__all__ = ["RESOLUTION", "Figures", "Histogram", "bucket_of", "catch_up", "figures", "rebuild", "watermark"]
