"""URL converters: path ids no larger than the database columns hold.

Werkzeug's ``int`` converter accepts any number of digits: a 30-digit id reached SQLite as an
``OverflowError`` and PostgreSQL as "integer out of range" (500). The id columns are ``Integer``,
32-bit signed on PostgreSQL (SQLite's are wider, but the same schema must work on both), so a
larger number cannot name a row: it does not match the route (404), for every ``<int:...>``.
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter, Map

# The largest id an Integer column holds on every supported database (PostgreSQL's int4).
MAX_ID = 2**31 - 1


class BoundedIntegerConverter(IntegerConverter):
    """``int`` with ``max`` defaulting to :data:`MAX_ID` (a larger value is a 404, not a 500)."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:  # noqa: A002 - werkzeug's name
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def install(url_map: Map) -> None:
    """Replace ``int`` (and add ``id``) before any route is added."""
    url_map.converters["int"] = BoundedIntegerConverter
    url_map.converters["id"] = BoundedIntegerConverter
