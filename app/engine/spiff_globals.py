"""The globals SpiffArena's script engine offers, made safe for the sandbox.

SpiffArena models call ``time.time()``, ``timedelta(days=3)``, ``datetime.now()`` and
``datetime.utcnow()`` in scripts, conditions and timer expressions: there ``datetime`` is the class,
while PMO Flow's own processes use the module form (``datetime.datetime.now()``,
``datetime.date(...)``, ``datetime.timedelta``). ``DATETIME`` below is both: the class (calls build
real ``datetime`` objects, ``isinstance`` works, ``now``/``utcnow`` follow the application clock)
with the module's names as attributes. ``TIME`` is a bounded ``time``: clock readings and
conversions, no ``sleep``.

Two of SpiffArena's server functions have an equivalent here and are offered the same way, with values
the command that runs the step hands over through the script engine's context (plain values: the
worker process that runs the script reaches nothing else): ``get_current_user()`` (who acts: a dict
with ``username``, ``email`` and ``display_name``, as SpiffArena returns its user; None for the
system) and ``get_url_for_task_with_bpmn_identifier(id)`` (the absolute URL of the page of the ready
task of that BPMN id, or None).
"""

from __future__ import annotations

import datetime as _dt
import time as _time
from types import SimpleNamespace
from typing import Any

from . import clock

_real = _dt.datetime


class _ClockTypeMeta(type):
    """A stand-in type: ``isinstance`` and class attributes are those of the real class."""

    _real: type

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, cls._real)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, cls._real)

    def __getattr__(cls, name: str) -> Any:
        return getattr(cls._real, name)


def _now(tz: _dt.tzinfo | None = None) -> _dt.datetime:
    current = clock.now()
    return current.astimezone(tz) if tz is not None else current.astimezone().replace(tzinfo=None)


def _utcnow() -> _dt.datetime:
    return clock.now().replace(tzinfo=None)


def _today() -> _dt.datetime:
    return _now()


def _new(cls: type, *args: Any, **kwargs: Any) -> _dt.datetime:  # noqa: ARG001
    return _real(*args, **kwargs)


# The module's names, so ``datetime.datetime.now()`` and ``datetime.date(...)`` keep working on
# the class; ``datetime.time`` is the time-of-day class, as in the module (``dt.time()`` on an
# instance is unaffected: instances are real datetimes).
DATETIME = _ClockTypeMeta("datetime", (), {
    "_real": _real, "__new__": _new, "__doc__": _real.__doc__,
    "now": staticmethod(_now), "utcnow": staticmethod(_utcnow), "today": staticmethod(_today),
    "date": _dt.date, "time": _dt.time, "timedelta": _dt.timedelta, "timezone": _dt.timezone,
    "tzinfo": _dt.tzinfo, "UTC": _dt.UTC, "MINYEAR": _dt.MINYEAR, "MAXYEAR": _dt.MAXYEAR,
})
DATETIME.datetime = DATETIME


def _sleep(*_args: Any) -> None:
    from .sandbox import SandboxError

    raise SandboxError("time.sleep is not allowed in process scripts (use a timer event to wait)")


def _timestamp() -> float:
    return clock.now().timestamp()


def _strftime(fmt: str, t: Any = None) -> str:
    if len(fmt) > 200:
        from .sandbox import SandboxError

        raise SandboxError("time.strftime format is too long")
    return _time.strftime(fmt, t if t is not None else _time.localtime(_timestamp()))


# ``time`` as SpiffArena scripts use it: the clock and conversions, no sleeping.
TIME = SimpleNamespace(
    time=_timestamp,
    time_ns=lambda: int(_timestamp() * 1_000_000_000),
    gmtime=lambda secs=None: _time.gmtime(_timestamp() if secs is None else secs),
    localtime=lambda secs=None: _time.localtime(_timestamp() if secs is None else secs),
    mktime=_time.mktime,
    strftime=_strftime,
    strptime=_time.strptime,
    struct_time=_time.struct_time,
    timezone=_time.timezone, altzone=_time.altzone, daylight=_time.daylight, tzname=_time.tzname,
    sleep=_sleep,
)

# What scripts see as globals (task data of the same name takes precedence).
SPIFF_GLOBALS: dict[str, Any] = {"time": TIME, "timedelta": _dt.timedelta, "datetime": DATETIME}


class CurrentUser:
    """``get_current_user()``: the user the running command acts for, as a new dict each call."""

    __slots__ = ("_user",)

    def __init__(self, user: dict[str, Any] | None) -> None:
        self._user = dict(user) if user else None

    def __call__(self) -> dict[str, Any] | None:
        return dict(self._user) if self._user else None


class TaskUrls:
    """``get_url_for_task_with_bpmn_identifier(bpmn_identifier)``: the URL of that ready task's page."""

    __slots__ = ("_urls",)

    def __init__(self, urls: dict[str, str]) -> None:
        self._urls = dict(urls)

    def __call__(self, bpmn_identifier: str) -> str | None:
        return self._urls.get(str(bpmn_identifier))


CURRENT_USER = "get_current_user"
TASK_URL = "get_url_for_task_with_bpmn_identifier"
SERVER_FUNCTIONS = (CURRENT_USER, TASK_URL)
