"""Read-only views of the process definitions: the versions of a process, the newest one, and a
version's parsed spec (cached: parsing BPMN is the costly part of loading an instance)."""


from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, ScalarSelect, func, select

from app.core import caches
from app.core.errors import NotFound
from app.core.extensions import db
from app.definitions.models import ProcessRelease, ProcessVersion
from app.engine.runtime import spec_from_dict


def known_roles() -> list[str]:
    return list(current_app.config["ROLES"])


def _latest_versions(keys: list[str]) -> dict[str, ProcessVersion]:
    if not keys:
        return {}
    newest = (select(ProcessVersion.process_key, func.max(ProcessVersion.version).label("v"))
              .where(ProcessVersion.process_key.in_(keys)).group_by(ProcessVersion.process_key).subquery())
    rows = db.session.scalars(select(ProcessVersion).join(
        newest, (ProcessVersion.process_key == newest.c.process_key) & (ProcessVersion.version == newest.c.v)))
    return {v.process_key: v for v in rows}


def _newest_id(key: str) -> ScalarSelect[int]:
    return (select(ProcessVersion.id).where(ProcessVersion.process_key == key)
            .order_by(ProcessVersion.version.desc()).limit(1).scalar_subquery())


def _version_of(key: str, version_id: ColumnElement[int]) -> ProcessVersion:
    version = db.session.scalars(select(ProcessVersion).where(ProcessVersion.id == version_id)).first()
    if version is None:
        raise NotFound(f"no process definition with key '{key}'")
    return version


def latest_version(key: str) -> ProcessVersion:
    return _version_of(key, _newest_id(key))


def release_of(key: str) -> ProcessRelease | None:
    """The release row of ``key``: set when new instances start on another version than the newest."""
    return db.session.get(ProcessRelease, key)


def current_version(key: str) -> ProcessVersion:
    """The version new instances of ``key`` start on: the one a process owner released, else the newest.

    One statement (every start asks): the released version's id, else the newest's, then its row.
    """
    released = select(ProcessRelease.process_version_id).where(ProcessRelease.process_key == key).scalar_subquery()
    return _version_of(key, func.coalesce(released, _newest_id(key)))


def list_latest() -> list[ProcessVersion]:
    keys = list(db.session.scalars(select(ProcessVersion.process_key).distinct()))
    return sorted(_latest_versions(keys).values(), key=lambda v: v.process_key)


def versions_of(key: str) -> list[ProcessVersion]:
    return list(db.session.scalars(
        select(ProcessVersion).where(ProcessVersion.process_key == key).order_by(ProcessVersion.version)))


class _SpecCache:
    """Parsed specs by process version id. Specs are read-only while workflows run."""

    def __init__(self, size: int = 256) -> None:
        self._items: OrderedDict[int, tuple[Any, dict]] = OrderedDict()
        self._lock = threading.Lock()
        self.size = size

    def get(self, version_id: int) -> tuple[Any, dict] | None:
        with self._lock:
            item = self._items.get(version_id)
            if item is not None:
                self._items.move_to_end(version_id)
            return item

    def put(self, version_id: int, item: tuple[Any, dict]) -> None:
        with self._lock:
            self._items[version_id] = item
            self._items.move_to_end(version_id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_SPEC_CACHE = _SpecCache()


def spec_for(version: ProcessVersion) -> tuple[Any, dict]:
    cached = _SPEC_CACHE.get(version.id)
    if cached is None:
        cached = spec_from_dict(version.spec)
        _SPEC_CACHE.put(version.id, cached)
    return cached


@caches.register
def clear_spec_cache() -> None:
    _SPEC_CACHE.clear()
