"""The portfolio's rollups: completed human tasks summed per day (and per month) and wait bucket,
so process analytics read a few thousand sums instead of every completion (issue 13).

Filled by ``rollups.catch_up`` (a periodic job) for closed days only; the pages add the live
tasks of the days the rollup does not hold yet. See docs/architecture.md, "Portfolio rollups".
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import JSON, Date, Float, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.extensions import db


class TaskRollup(db.Model):
    """Completions of one day (``grain`` "day") or month ("month", ``day`` its first day) in one
    wait bucket, per step (``kind`` "step": process and step), candidate role or person (``subject``)."""

    __tablename__ = "portfolio_task_rollups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grain: Mapped[str] = mapped_column(String(5))
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(6))
    process: Mapped[str] = mapped_column(String(200), default="")
    step: Mapped[str] = mapped_column(String(200), default="")
    subject: Mapped[str] = mapped_column(String(200), default="")
    bucket: Mapped[int] = mapped_column(SmallInteger)
    n: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)       # the sum of the waits in the bucket
    breaches: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str | None] = mapped_column(String(500), nullable=True)

    __table_args__ = (Index("ix_portfolio_task_rollups_grain_day", "grain", "day", "kind"),)


class RollupWatermark(db.Model):
    """The last day the rollup holds (one row): days after it are read live from human_tasks."""

    __tablename__ = "portfolio_rollup_watermark"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    through: Mapped[date] = mapped_column(Date)


class AnalyticsSnapshot(db.Model):
    """One period's rolled-up figures over whole closed days, merged once by the job so a page
    reads one row: the wait histograms of ``first_day`` to ``through`` (rows of kind, process,
    step, subject, bucket, n, seconds, breaches, title) and the rework and phase tables to ``through``."""

    __tablename__ = "portfolio_analytics_snapshots"

    period: Mapped[str] = mapped_column(String(8), primary_key=True)   # "7" ... "365", "all"
    first_day: Mapped[date] = mapped_column(Date)
    through: Mapped[date] = mapped_column(Date)
    data: Mapped[dict] = mapped_column(JSON)
