"""The one clock of the application, also used by SpiffWorkflow's timers.

SpiffWorkflow reads ``datetime.now(timezone.utc)`` inside its timer module and offers no way to
inject a clock, so that module's ``datetime`` is replaced by a subclass that asks this clock.
Tests move the clock with ``advance()`` instead of sleeping; in production the offset is zero.
A process test scenario (app/engine/scenarios.py) runs on a clock of its own, ``simulated()``:
it is seen only by the thread running the scenario, so moving it never fires a real timer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer

_offset = timedelta(0)
_lock = threading.Lock()
_real_datetime = datetime
# A scenario's simulated time: per thread (a context variable), None outside a scenario.
_simulated: ContextVar[datetime | None] = ContextVar("pmo_simulated_now", default=None)


def now() -> datetime:
    """Current time in UTC, shifted by the test offset (or this thread's simulated time)."""
    simulated = _simulated.get()
    if simulated is not None:
        return simulated
    return _real_datetime.now(UTC) + _offset


def snapshot() -> tuple[timedelta, datetime | None]:
    """This thread's clock (offset and simulated time), for a script worker to run on (``restore``)."""
    return _offset, _simulated.get()


def restore(state: tuple[timedelta, datetime | None]) -> None:
    """Run this (single-threaded) process on the clock a ``snapshot`` took."""
    global _offset
    _offset, simulated = state
    _simulated.set(simulated)


@contextmanager
def simulated(start: datetime) -> Iterator[None]:
    """Run the block on a clock that stands still at ``start`` until ``set_simulated`` moves it."""
    token = _simulated.set(start.astimezone(UTC))
    try:
        yield
    finally:
        _simulated.reset(token)


def set_simulated(moment: datetime) -> None:
    if _simulated.get() is None:
        raise RuntimeError("no simulated clock is running in this thread")
    _simulated.set(moment.astimezone(UTC))


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
