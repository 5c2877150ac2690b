"""Issue 9 item 7 (health): /api/v1/health answers JSON 503 while the database is unreachable,
whether connections are refused or accepted and never answered (the request used to hang until
the server killed the worker: a bare 500 page)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from app import create_app

HEALTH = "/api/v1/health"


@pytest.fixture
def silent_database() -> Iterator[str]:
    """A loopback port that accepts TCP connections but never speaks PostgreSQL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)  # never accepted: the kernel completes the handshakes, nobody answers
    yield f"postgresql+psycopg://postgres@127.0.0.1:{listener.getsockname()[1]}/pmo"
    listener.close()


@pytest.fixture
def refused_database() -> str:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now: connections are refused
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/pmo"


def _health_of(url: str):  # noqa: ANN202
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "test-secret-" + "x" * 32,
                      "HEALTH_DB_TIMEOUT_SECONDS": 0.5})
    answer: list = []

    def ask() -> None:
        answer.append(app.test_client().get(HEALTH))

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    thread.join(60)  # a hang detector, not a timing assertion: before, this never returned
    assert answer, "the health check hung on an unreachable database"
    return answer[0]


@pytest.mark.parametrize("database", ["silent_database", "refused_database"])
def test_health_answers_json_503_when_the_database_is_unreachable(database, request):
    response = _health_of(request.getfixturevalue(database))
    assert response.status_code == 503
    assert response.is_json
    body = response.get_json()
    assert body["status"] == "degraded"
    assert body["database"]["ok"] is False and body["database"]["detail"]
    assert "scheduler" not in body  # not asked of a database that is down


def test_health_is_ok_again_when_the_database_answers(app):  # noqa: ANN001
    response = app.test_client().get(HEALTH)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["database"]["ok"] is True
