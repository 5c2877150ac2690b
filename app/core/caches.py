"""In-process caches keyed by database ids; cleared when an app is created on a new database.

A domain that keeps such a cache registers its clear function here (``register``), so core does
not need to know which domains cache what.
"""

from __future__ import annotations

from collections.abc import Callable

_CLEARERS: list[Callable[[], None]] = []


def register(clear: Callable[[], None]) -> Callable[[], None]:
    if clear not in _CLEARERS:
        _CLEARERS.append(clear)
    return clear


def clear_all() -> None:
    for clear in _CLEARERS:
        clear()
