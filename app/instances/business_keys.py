"""What an instance's business key stands for: a registry of resolvers, one per key prefix.

An instance's ``business_key`` may tie it to a record of a domain above the instances (a project:
``project:42``). Generic code (the inbox, the task page) does not parse those keys or read those
tables: it asks this registry, and the domain that owns the prefix answers through the resolver it
registered (``register``). Every question is asked in batch or once per page:

- ``labels(keys)``: a short label (code, name, the record's id and a link) for each key;
- ``label_from_data(key, data)``: a label from an instance's data when its key does not say (a
  process started with a record's fields in its data, without the record's key);
- ``keys_matching(text)``: the keys whose record matches a search text (the inbox's filter);
- ``card(key, data)``: what the task page shows about the record (a dict the page renders).

Keys no resolver owns have no label. A resolver that fails (its table not migrated yet) answers
nothing rather than breaking the page that asked.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyLabel:
    """What a list shows for a business key: a code, a name, the record's id and where it lives."""

    code: str = ""
    name: str = ""
    id: int | None = None
    url: str | None = None


class Resolver(Protocol):
    """What a domain registers for the business keys starting with its ``prefix``."""

    prefix: str

    def labels(self, keys: list[str]) -> dict[str, KeyLabel]:
        """A label for each of ``keys`` (all of this prefix) it knows; one query for all."""

    def label_from_data(self, data: dict[str, Any]) -> KeyLabel | None:
        """A label from an instance's data (the record's fields copied into it), if it has them."""

    def keys_matching(self, text: str) -> list[str]:
        """Keys of this prefix whose record matches ``text`` (a code or a name, say)."""

    def card(self, key: str | None, data: dict[str, Any]) -> dict[str, Any] | None:
        """What the task page shows about the record of ``key`` (or of the data), or None."""


_RESOLVERS: dict[str, Resolver] = {}


def register(resolver: Resolver) -> Resolver:
    """Answer for the keys starting with ``resolver.prefix`` (registering a prefix again replaces it)."""
    _RESOLVERS[resolver.prefix] = resolver
    return resolver


def unregister(prefix: str) -> None:
    _RESOLVERS.pop(prefix, None)


def resolvers() -> dict[str, Resolver]:
    """The registered resolvers by prefix (a copy)."""
    return dict(_RESOLVERS)


def resolver_for(key: str | None) -> Resolver | None:
    if not key:
        return None
    for prefix, resolver in _RESOLVERS.items():
        if key.startswith(prefix):
            return resolver
    return None


def _ask(resolver: Resolver, question: str, default: Any, *args: Any) -> Any:
    """``resolver.<question>(*args)``, or ``default`` when it fails."""
    try:
        return getattr(resolver, question)(*args)
    except Exception:  # noqa: BLE001 - a resolver's table may not be migrated yet: no label, not an error page
        from app.core.extensions import db

        db.session.rollback()
        log.warning("business key resolver %r failed to answer %s", resolver.prefix, question, exc_info=True)
        return default


def labels(keys: Iterable[str | None]) -> dict[str, KeyLabel]:
    """Labels of the keys some resolver owns and knows: one batch per resolver."""
    by_resolver: dict[str, list[str]] = {}
    for key in set(filter(None, keys)):
        resolver = resolver_for(key)
        if resolver is not None:
            by_resolver.setdefault(resolver.prefix, []).append(key)
    out: dict[str, KeyLabel] = {}
    for prefix, owned in by_resolver.items():
        resolver = _RESOLVERS[prefix]
        out.update(_ask(resolver, "labels", {}, sorted(owned)))
    return out


def label_from_data(key: str | None, data: dict[str, Any]) -> KeyLabel | None:
    """A label from an instance's data: the key's resolver, else the first resolver that finds one."""
    owner = resolver_for(key)
    for resolver in [owner] if owner is not None else list(_RESOLVERS.values()):
        found = _ask(resolver, "label_from_data", None, data)
        if found is not None:
            return found
    return None


def keys_matching(text: str) -> list[str]:
    """The business keys whose record matches ``text``, from every resolver."""
    out: list[str] = []
    for resolver in list(_RESOLVERS.values()):
        out.extend(_ask(resolver, "keys_matching", [], text))
    return out


def card(key: str | None, data: dict[str, Any]) -> dict[str, Any] | None:
    """What the task page shows about the record behind an instance (its key, else its data)."""
    owner = resolver_for(key)
    for resolver in [owner] if owner is not None else list(_RESOLVERS.values()):
        found = _ask(resolver, "card", None, key if resolver is owner else None, data)
        if found is not None:
            return found
    return None
