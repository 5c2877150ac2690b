"""Scale-out tests: real PostgreSQL, real Redis, real Celery worker processes.

They run in the PostgreSQL pass of the suite (.ci/run); a missing service fails them, never
skips them. The SQLite pass deselects them with ``-m "not scaleout"``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from tests.conftest import ON_POSTGRES, TEST_DATABASE_URL

REDIS_URL = os.environ.get("PMO_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REPO = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(config, items):  # noqa: ANN001
    for item in items:
        if "tests/scaleout" in str(item.fspath):
            item.add_marker(pytest.mark.scaleout)


@pytest.fixture
def scaleout_env() -> dict[str, str]:
    if not ON_POSTGRES:
        pytest.fail("scale-out tests need PMO_TEST_DATABASE_URL to point at PostgreSQL")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    client.ping()  # raises (fails the test) when Redis is down
    client.flushdb()
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": TEST_DATABASE_URL,
        "CELERY_BROKER_URL": REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "SCRIPT_TIME_LIMIT_SECONDS": "60",
        "SECRET_KEY": "test-secret",
        "PYTHONPATH": str(REPO),
    })
    return env


@pytest.fixture
def scaleout_app(app, scaleout_env):
    """The test's own app switched to the real broker (not eager)."""
    from app.worker import init_celery

    app.config.update(CELERY_BROKER_URL=REDIS_URL, CELERY_TASK_ALWAYS_EAGER=False,
                      TIMER_LEASE_SECONDS=3, SCRIPT_TIME_LIMIT_SECONDS=60)
    init_celery(app)
    yield app
    from app.worker import init_celery as reinit

    app.config.update(CELERY_BROKER_URL="memory://", CELERY_TASK_ALWAYS_EAGER=True)
    reinit(app)


class Workers:
    """Start, kill -9 and restart real `pmo worker` processes."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen] = []

    def start(self, name: str) -> subprocess.Popen:
        log = (self.log_dir / f"worker-{name}.log").open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "app.worker:celery_app", "worker", "--pool=solo",
             "-Q", "pmo", "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--loglevel=INFO"],
            cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def kill9(self, proc: subprocess.Popen) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 10
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def workers(scaleout_env, tmp_path):
    pool = Workers(scaleout_env, tmp_path)
    yield pool
    pool.stop_all()


def wait_until(predicate, timeout: float, interval: float = 0.2) -> bool:  # noqa: ANN001
    """Poll a real, external effect (a worker's commit) with a bound; returns whether it happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
