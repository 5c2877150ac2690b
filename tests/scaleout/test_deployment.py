"""The scaled-out configuration as the README documents it, end to end over HTTP:
gunicorn with two web processes, `pmo scheduler`, `pmo worker`, PostgreSQL and Redis."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scaleout.conftest import REPO, wait_until

FIXTURES = Path(__file__).parent / "fixtures"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    def __init__(self, port: int) -> None:
        self.port = port
        self.token = ""

    def call(self, method: str, path: str, body: object = None, raw: bytes | None = None,
             content_type: str = "application/json") -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        headers = {"Content-Type": content_type}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        conn.request(method, f"/api/v1{path}", body=raw if raw is not None else
                     (json.dumps(body) if body is not None else None), headers=headers)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, (json.loads(data) if data else {})


@pytest.fixture
def deployment(scaleout_env, app, demo_users, tmp_path):
    """gunicorn (2 workers) + pmo scheduler + pmo worker against the test database and Redis."""
    subprocess.run([sys.executable, "-m", "app.cli", "init"], cwd=REPO, env=scaleout_env, check=True,
                   stdout=subprocess.DEVNULL)
    port = _free_port()
    bin_dir = Path(sys.executable).parent
    commands = {
        "web": [str(bin_dir / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "app:create_app()"],
        "scheduler": [sys.executable, "-m", "app.cli", "scheduler"],
        # Celery's default prefork pool, as the README runs it: two child processes.
        "worker": [sys.executable, "-m", "app.cli", "worker", "--concurrency", "2"],
    }
    procs = [subprocess.Popen(cmd, cwd=REPO, env=scaleout_env, stdout=(tmp_path / f"{name}.log").open("w"),
                              stderr=subprocess.STDOUT) for name, cmd in commands.items()]
    api = Api(port)
    api.logs = tmp_path

    def healthy() -> bool:
        try:
            status, body = api.call("GET", "/health")
        except OSError:
            return False
        return status == 200 and bool(body.get("workers", {}).get("workers")) and bool(
            body.get("scheduler", {}).get("schedulers"))

    try:
        assert wait_until(healthy, timeout=60, interval=0.5), "the deployment did not become healthy: " + \
            " | ".join((tmp_path / f"{n}.log").read_text()[-400:] for n in commands)
        yield api
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


def _multipart(path: Path) -> tuple[bytes, str]:
    boundary = "pmoflowboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{path.name}\"\r\n"
            f"Content-Type: application/xml\r\n\r\n").encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_timer_fires_through_scheduler_and_worker_and_the_flow_completes_over_http(deployment):
    api = deployment
    status, body = api.call("POST", "/auth/token", {"username": "admin", "password": "admin"})
    assert status == 200
    api.token = body["token"]
    raw, content_type = _multipart(FIXTURES / "slow_timer.bpmn")
    status, body = api.call("POST", "/process-definitions", raw=raw, content_type=content_type)
    assert status == 201, body
    status, inst = api.call("POST", "/process-instances", {"process_key": "slow_after_timer",
                                                           "data": {"wait_for": "PT0.5S", "slow_seconds": 0}})
    assert status == 201, inst

    def review_ready() -> bool:
        return [t["title"] for t in api.call("GET", f"/process-instances/{inst['id']}")[1].get("ready_tasks", [])] \
            == ["Review"]

    assert wait_until(review_ready, timeout=30, interval=0.3)
    task_id = api.call("GET", f"/process-instances/{inst['id']}")[1]["ready_tasks"][0]["id"]
    status, body = api.call("POST", f"/tasks/{task_id}/complete", {"data": {}})
    assert status == 200, body
    assert api.call("GET", f"/process-instances/{inst['id']}")[1]["status"] == "completed"
    status, audit = api.call("GET", f"/process-instances/{inst['id']}/audit")
    actions = [e["action"] for e in (audit["items"] if isinstance(audit, dict) else audit)]
    assert actions.count("timer_fired") == 1 and actions[-1] == "complete_task"


def test_prefork_worker_children_fire_timers_side_by_side(deployment):
    """Both prefork children fire timers at once, each on its own database connections."""
    api = deployment
    status, body = api.call("POST", "/auth/token", {"username": "admin", "password": "admin"})
    api.token = body["token"]
    raw, content_type = _multipart(FIXTURES / "slow_timer.bpmn")
    assert api.call("POST", "/process-definitions", raw=raw, content_type=content_type)[0] == 201
    started = []
    for _ in range(8):
        status, inst = api.call("POST", "/process-instances", {"process_key": "slow_after_timer",
                                                               "data": {"wait_for": "PT0.3S", "slow_seconds": 0.2}})
        assert status == 201, inst
        started.append(inst["id"])

    def all_reviewed() -> bool:
        return all([t["title"] for t in api.call("GET", f"/process-instances/{i}")[1].get("ready_tasks", [])]
                   == ["Review"] for i in started)

    assert wait_until(all_reviewed, timeout=60, interval=0.5)
    log = (api.logs / "worker.log").read_text()
    assert "ERROR" not in log and "InterfaceError" not in log, log[-2000:]
