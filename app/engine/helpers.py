"""Functions every process script and expression may call (besides the allowed modules).

Timers are Python expressions, so an SLA such as "remind after 2 working days" is written as a
``timeDate`` of ``working_days_from_now(2)``.
"""

from __future__ import annotations

from datetime import datetime

from . import clock


def working_days_from_now(days: int) -> str:
    """ISO 8601 UTC time ``days`` working days from now (calendar from config)."""
    return clock.CALENDAR.add_working_days(clock.now(), int(days)).isoformat()


def add_working_days(start: str, days: int) -> str:
    """ISO 8601 time ``days`` working days after ``start`` (an ISO 8601 date or time)."""
    moment = datetime.fromisoformat(start)
    return clock.CALENDAR.add_working_days(moment, int(days)).isoformat()


def now_iso() -> str:
    """The current UTC time as ISO 8601 (the application clock)."""
    return clock.now().isoformat()


def today_iso() -> str:
    return clock.now().date().isoformat()


SCRIPT_HELPERS = {
    "working_days_from_now": working_days_from_now,
    "add_working_days": add_working_days,
    "now_iso": now_iso,
    "today_iso": today_iso,
}
