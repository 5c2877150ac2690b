"""A warm process freezes its long-lived objects out of the cyclic collector, once, and only when asked."""

from __future__ import annotations

import gc

import pytest

from app import create_app
from app.core import gc_tuning


@pytest.fixture
def fresh_state():
    saved = dict(gc_tuning._state)
    gc.unfreeze()
    gc_tuning._state.update(served=0, frozen=False)
    yield
    gc.unfreeze()
    gc_tuning._state.clear()
    gc_tuning._state.update(saved)


def _app(tmp_path, after: int, testing: bool = False):
    return create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'gc.db'}", "SECRET_KEY": "gc-test",
                       "TESTING": testing, "GC_FREEZE_AFTER_REQUESTS": after})


def test_the_process_freezes_after_the_set_number_of_requests(tmp_path, fresh_state, monkeypatch):
    calls = []
    real_freeze = gc.freeze
    monkeypatch.setattr(gc, "freeze", lambda: (calls.append(1), real_freeze()))
    client = _app(tmp_path, after=3).test_client()
    for _ in range(5):
        client.get("/api/v1/health")  # probes warm nothing: not counted
    for _ in range(3):
        client.get("/login")
    assert not gc_tuning.frozen()
    assert gc.get_freeze_count() == 0
    client.get("/login")  # the next one after three counted requests
    assert gc_tuning.frozen()
    frozen = gc.get_freeze_count()
    assert frozen > 10_000  # the app's modules, mappers and routes
    for _ in range(3):
        client.get("/login")
    assert len(calls) == 1  # once per process, not per request
    assert gc.get_freeze_count() <= frozen  # frozen objects still die by reference counting


@pytest.mark.parametrize(("after", "testing"), [(0, False), (2, True)])
def test_no_freeze_when_turned_off_or_testing(tmp_path, fresh_state, after, testing):
    client = _app(tmp_path, after=after, testing=testing).test_client()
    for _ in range(4):
        client.get("/login")
    assert not gc_tuning.frozen()
    assert gc.get_freeze_count() == 0
