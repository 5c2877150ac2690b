"""Issue 9 item 6: a deploy while the scheduler writes its heartbeat does not fail on SQLite.

The deploy read the latest versions in a read transaction and wrote after; a heartbeat committed
in between made SQLite refuse the upgrade ("database is locked", about once in 150 deploys). The
hook below commits a heartbeat from another thread at exactly that moment.
"""

from __future__ import annotations

import threading

import pytest

from app.core.extensions import db
from app.definitions import operations as definitions
from app.definitions import queries as definition_queries
from app.instances import heartbeats
from app.instances.models import Heartbeat
from tests import conftest

pytestmark = pytest.mark.postgres


def test_a_deploy_survives_a_heartbeat_committed_while_it_reads(app, monkeypatch):
    original = definition_queries._latest_versions
    beats: list[object] = []
    threads: list[threading.Thread] = []

    def beat_meanwhile(keys):  # noqa: ANN001, ANN202
        found = original(keys)

        def beat() -> None:
            with app.app_context():
                try:
                    heartbeats.beat("scheduler", "during a deploy")
                    beats.append("ok")
                except Exception as exc:  # noqa: BLE001 - reported below
                    beats.append(exc)
                finally:
                    db.session.remove()

        thread = threading.Thread(target=beat)
        threads.append(thread)
        thread.start()
        # Before: the heartbeat committed here, under the deploy's read. Now the deploy holds the
        # write lock, so the heartbeat waits for it; do not wait for the heartbeat either.
        thread.join(2)
        return found

    monkeypatch.setattr(definitions, "_latest_versions", beat_meanwhile)
    result = definitions.deploy_directory([conftest.FIXTURES], "admin")
    assert result.created
    threads[0].join(60)  # the heartbeat goes on once the deploy committed
    assert beats == ["ok"]
    db.session.remove()  # a fresh snapshot, after the heartbeat's commit
    assert db.session.query(Heartbeat).count() == 1
