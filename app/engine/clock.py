"""The one clock of the application, also used by SpiffWorkflow's timers.

SpiffWorkflow reads ``datetime.now(timezone.utc)`` inside its timer module and offers no way to
inject a clock, so that module's ``datetime`` is replaced by a subclass that asks this clock.
Tests move the clock with ``advance()`` instead of sleeping; in production the offset is zero.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer

_offset = timedelta(0)
_lock = threading.Lock()
_real_datetime = datetime


def now() -> datetime:
    """Current time in UTC, shifted by the test offset."""
    return _real_datetime.now(UTC) + _offset


def advance(delta: timedelta) -> datetime:
    global _offset
    with _lock:
        _offset += delta
    return now()


def reset() -> None:
    global _offset
    with _lock:
        _offset = timedelta(0)


class _ClockDateTime(_real_datetime):
    @classmethod
    def now(cls, tz=None):  # noqa: ANN001, ANN206
        current = now()
        return current.astimezone(tz) if tz is not None else current.astimezone().replace(tzinfo=None)

    @classmethod
    def utcnow(cls):  # noqa: ANN206
        return now().replace(tzinfo=None)


_spiff_timer.datetime = _ClockDateTime


# -- working-day calendar ---------------------------------------------------------------------

class WorkingCalendar:
    """Working days (Mon=0 .. Sun=6) and holidays, for SLA durations such as "2 working days"."""

    def __init__(self, working_weekdays: list[int] | None = None, holidays: list[str] | None = None) -> None:
        self.working_weekdays = set(working_weekdays if working_weekdays is not None else [0, 1, 2, 3, 4])
        self.holidays = {date.fromisoformat(h) for h in (holidays or [])}
        if not self.working_weekdays:
            raise ValueError("the calendar needs at least one working weekday")

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.working_weekdays and day not in self.holidays

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """``start`` moved forward by ``days`` working days, keeping the time of day.

        A start on a non-working day counts from the next working day's same time.
        """
        current = start
        while not self.is_working_day(current.date()):
            current += timedelta(days=1)
        remaining = days
        while remaining > 0:
            current += timedelta(days=1)
            if self.is_working_day(current.date()):
                remaining -= 1
        return current


CALENDAR = WorkingCalendar()


def configure_calendar(working_weekdays: list[int] | None, holidays: list[str] | None) -> None:
    global CALENDAR
    CALENDAR = WorkingCalendar(working_weekdays, holidays)
