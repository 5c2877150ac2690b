"""Load test of the scaled-out deployment: gunicorn + PostgreSQL + Redis + `pmo worker` + `pmo
scheduler`, driven by simulated users through the HTTP API (loopback only, bounded).

Each simulated user starts instances of a generated process (three user tasks with a one-second
timer between the first and the second) and completes its tasks through the API, as fast as it
can, for a fixed time. Afterwards it prints throughput, latency percentiles, timer lag, errors,
and a consistency check of every instance (the inbox table agrees with the engine state, no task
was completed twice, finished instances have no open task).

    .venv/bin/python bench/load_test.py                        # 50 users, 30 s, 4 web workers
    .venv/bin/python bench/load_test.py --users 20 --seconds 10 --web-workers 2

Targets on a 2-core machine: >= 200 task completions/s, p95 < 100 ms, zero errors, zero
inconsistent instances. It prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="Definitions_load" targetNamespace="http://pmo.example/load">
  <bpmn:process id="load_flow" name="Load test flow" isExecutable="true">
    <bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="startableBy" value="project_manager" />
    </spiffworkflow:properties></bpmn:extensionElements>
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="draft" />
    <bpmn:userTask id="draft" name="Draft status report">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="load-form.json" />
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="draft" targetRef="cool_off" />
    <bpmn:intermediateCatchEvent id="cool_off" name="Cool-off">
      <bpmn:timerEventDefinition id="td"><bpmn:timeDuration>"PT1S"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="cool_off" targetRef="review" />
    <bpmn:userTask id="review" name="Review status report">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="dataFields" value="rag, summary" />
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f4" sourceRef="review" targetRef="check" />
    <bpmn:exclusiveGateway id="check" default="f6" />
    <bpmn:sequenceFlow id="f5" sourceRef="check" targetRef="publish">
      <bpmn:conditionExpression>rag == "green"</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f6" sourceRef="check" targetRef="publish" />
    <bpmn:userTask id="publish" name="Publish status report">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="dataFields" value="rag, summary" />
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f7" sourceRef="publish" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""
FORM = {"type": "object", "required": ["rag"], "properties": {
    "rag": {"type": "string", "enum": ["green", "amber", "red"]}, "summary": {"type": "string"}}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Client:
    """One keep-alive HTTP connection with a bearer token."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict, float]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        began = time.perf_counter()
        try:
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
            payload = response.read()
        except (ConnectionError, http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            return 599, {}, time.perf_counter() - began
        elapsed = time.perf_counter() - began
        try:
            parsed = json.loads(payload) if payload else {}
        except ValueError:
            parsed = {}
        return response.status, parsed, elapsed


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.complete_latency: list[float] = []
        self.other_latency: list[float] = []
        self.errors: Counter[str] = Counter()
        self.completions = 0
        self.starts = 0

    def record(self, kind: str, status: int, elapsed: float, expected: int) -> bool:
        with self.lock:
            (self.complete_latency if kind == "complete" else self.other_latency).append(elapsed)
            if status != expected:
                self.errors[f"{kind} {status}"] += 1
                return False
            if kind == "complete":
                self.completions += 1
            elif kind == "start":
                self.starts += 1
            return True


def simulated_user(port: int, token: str, stats: Stats, stop: threading.Event) -> None:
    """Work the inbox like an approver: complete the oldest task; when the inbox is empty
    (the user's instances wait on their timers), start another instance."""
    client = Client(port, token)
    while not stop.is_set():
        status, body, elapsed = client.call("GET", "/api/v1/tasks?process_key=load_flow&per_page=1&sort=created_at")
        if not stats.record("inbox", status, elapsed, 200):
            continue
        items = body.get("items", [])
        if not items:
            status, body, elapsed = client.call("POST", "/api/v1/process-instances",
                                                {"process_key": "load_flow", "data": {}})
            stats.record("start", status, elapsed, 201)
            continue
        status, body, elapsed = client.call("POST", f"/api/v1/tasks/{items[0]['id']}/complete",
                                            {"data": {"rag": "green", "summary": "on track"}})
        stats.record("complete", status, elapsed, 200)


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _processes() -> list[tuple[int, int, str]]:
    """(pid, parent pid, command line) of every process that can be read now."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except (OSError, IndexError, ValueError):
                continue
            found.append((int(entry.name), ppid, cmdline))
    return found


def _children(pid: int) -> list[int]:
    return [child for child, ppid, _ in _processes() if ppid == pid]


def _postgres_backends(database: str) -> list[int]:
    return [pid for pid, _, cmdline in _processes()
            if cmdline.startswith("postgres:") and f" {database} " in cmdline]


def cpu_snapshot(parts: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds used so far by each part (a part is a list of pids), the machine's idle time too."""
    snapshot = {name: sum(_proc_cpu(pid) for pid in pids) for name, pids in parts.items()}
    snapshot["client (this script)"] = sum(os.times()[:2])
    idle = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    snapshot["idle"] = (int(idle[4]) + int(idle[5])) / os.sysconf("SC_CLK_TCK")
    return snapshot


def seed(env: dict[str, str], users: int, bundle: Path) -> list[str]:
    """Migrate, deploy the process and create the users; return their API tokens."""
    subprocess.run([sys.executable, "-m", "app.cli", "init"], cwd=REPO, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, "-m", "app.cli", "deploy", str(bundle)], cwd=REPO, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    os.environ.update(env)
    from app import create_app
    from app.people import operations as user_service
    app = create_app()
    tokens = []
    with app.app_context():
        for i in range(users):
            name = f"load{i:03d}"
            user = user_service.find(name) or user_service.create(name, "load-test-pw", ["project_manager"])
            tokens.append(user_service.issue_token(user))
    return tokens


def consistency_and_timer_lag(env: dict[str, str]) -> dict:
    from sqlalchemy import func, select

    from app import create_app
    from app.core.audit import AuditEntry
    from app.core.extensions import db
    from app.engine import runtime
    from app.instances import commands as instances
    from app.instances.models import HumanTask, ProcessInstance
    app = create_app()
    bad: list[str] = []
    lags: list[float] = []
    with app.app_context():
        doubled = db.session.execute(
            select(AuditEntry.task_id, func.count()).where(AuditEntry.action == "complete_task")
            .group_by(AuditEntry.task_id).having(func.count() > 1)).all()
        bad += [f"task {task_id} completed {n} times" for task_id, n in doubled]
        for instance in db.session.scalars(select(ProcessInstance)):
            workflow = instances._load(instance, instances._script_engine(instance, instances.SYSTEM,
                                                                         instance.process_key))
            engine_ready = {t.id for t in runtime.ready_human_tasks(workflow)}
            table_ready = set(db.session.scalars(select(HumanTask.id).where(
                HumanTask.instance_id == instance.id, HumanTask.status == "ready")))
            if engine_ready != table_ready:
                bad.append(f"instance {instance.id}: inbox {sorted(table_ready)} != engine {sorted(engine_ready)}")
            if (instance.status == "completed") != runtime.is_completed(workflow):
                bad.append(f"instance {instance.id}: status {instance.status} but engine completed="
                           f"{runtime.is_completed(workflow)}")
        for entry in db.session.scalars(select(AuditEntry).where(AuditEntry.action == "timer_fired")):
            for due in entry.details.get("due_at", []):
                lags.append((entry.at - datetime.fromisoformat(due)).total_seconds())
        instances_total = db.session.scalar(select(func.count()).select_from(ProcessInstance))
        completed = db.session.scalar(select(func.count()).select_from(ProcessInstance)
                                      .where(ProcessInstance.status == "completed"))
    return {"inconsistent": bad, "timer_lags": lags, "instances": instances_total, "completed": completed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--worker-concurrency", type=int, default=None,
                        help="processes of the worker's prefork pool (default: pmo worker's, two per CPU)")
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="pmo_load_test")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args(argv)
    if not 1 <= args.users <= 500 or not 1 <= args.seconds <= 600:
        parser.error("--users 1..500 and --seconds 1..600 (the test is bounded)")

    import psycopg
    import redis

    with psycopg.connect(args.pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.database}"')
    redis.Redis.from_url(args.redis_url).flushdb()
    base = args.pg_admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    env = dict(os.environ, DATABASE_URL=f"{base}/{args.database}", CELERY_BROKER_URL=args.redis_url,
               CELERY_TASK_ALWAYS_EAGER="false", SECRET_KEY="load-test-secret", PYTHONPATH=str(REPO))
    bundle = Path(tempfile.mkdtemp(prefix="pmo-load-"))
    (bundle / "load_flow.bpmn").write_text(PROCESS)
    (bundle / "load-form.json").write_text(json.dumps(FORM))
    tokens = seed(env, args.users, bundle)

    port = free_port()
    logs = Path(tempfile.mkdtemp(prefix="pmo-load-logs-"))
    bin_dir = Path(sys.executable).parent
    procs = [
        subprocess.Popen([str(bin_dir / "gunicorn"), "-w", str(args.web_workers), "-k", "gthread",
                          "--threads", str(args.web_threads), "-b", f"127.0.0.1:{port}", "app:create_app()"],
                         cwd=REPO, env=env, stdout=(logs / "web.log").open("w"), stderr=subprocess.STDOUT),
        subprocess.Popen([sys.executable, "-m", "app.cli", "worker", "--without-gossip", "--without-mingle",
                          *(["--concurrency", str(args.worker_concurrency)] if args.worker_concurrency else [])],
                         cwd=REPO, env=env, stdout=(logs / "worker.log").open("w"), stderr=subprocess.STDOUT),
        subprocess.Popen([sys.executable, "-m", "app.cli", "scheduler"], cwd=REPO, env=env,
                         stdout=(logs / "scheduler.log").open("w"), stderr=subprocess.STDOUT),
    ]
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/api/v1/health")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        else:
            print(f"the server did not become healthy; logs in {logs}")
            return 1
        stats = Stats()
        stop = threading.Event()
        threads = [threading.Thread(target=simulated_user, args=(port, tokens[i], stats, stop), daemon=True)
                   for i in range(args.users)]
        parts = {"web (gunicorn)": [procs[0].pid, *_children(procs[0].pid)],
                 "celery worker": [procs[1].pid, *_children(procs[1].pid)],
                 "scheduler": [procs[2].pid]}
        began = time.perf_counter()
        for t in threads:
            t.start()
        time.sleep(1.0)
        parts["postgres backends"] = _postgres_backends(args.database)
        cpu_before, done_before = cpu_snapshot(parts), stats.completions
        time.sleep(max(0.0, args.seconds - 1.0))
        cpu_after = cpu_snapshot(parts)
        completions_in_window = stats.completions - done_before
        stop.set()
        for t in threads:
            t.join(30)
        elapsed = time.perf_counter() - began
        time.sleep(2.0)  # let due timers fire before the consistency check
        check = consistency_and_timer_lag(env)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()

    lat = stats.complete_latency
    print(f"PMO Flow load test: {args.users} users for {args.seconds:g} s against gunicorn "
          f"({args.web_workers} workers x {args.web_threads} threads) + PostgreSQL + Redis + `pmo worker` "
          f"+ `pmo scheduler`; {os.cpu_count()} CPUs")
    print(f"  task completions      {stats.completions}  ({stats.completions / elapsed:.1f}/s)   [target >= 200/s]")
    print(f"  instances started     {stats.starts}  ({stats.starts / elapsed:.1f}/s); completed {check['completed']}"
          f" of {check['instances']}")
    if lat:
        print(f"  complete latency      p50 {pct(lat, .5) * 1000:.1f} ms  p95 {pct(lat, .95) * 1000:.1f} ms  "
              f"max {max(lat) * 1000:.1f} ms   [target p95 < 100 ms]")
    other = stats.other_latency
    if other:
        print(f"  other requests        {len(other)}  p50 {pct(other, .5) * 1000:.1f} ms  "
              f"p95 {pct(other, .95) * 1000:.1f} ms")
    lags = check["timer_lags"]
    if lags:
        print(f"  timer lag             n={len(lags)}  p50 {statistics.median(lags):.3f} s  "
              f"p95 {pct(lags, .95):.3f} s  max {max(lags):.3f} s   [target <= 2 s]")
    window = args.seconds - 1.0
    if window > 0:
        used = {name: cpu_after[name] - cpu_before[name] for name in cpu_after}
        print(f"  CPU over the last {window:g} s ({os.cpu_count()} CPUs = {window * (os.cpu_count() or 1):g} CPU-s):")
        for name, seconds in sorted(used.items(), key=lambda item: -item[1]):
            print(f"    {name:22s}{seconds:7.1f} s")
        if completions_in_window:
            per = used["web (gunicorn)"] / completions_in_window * 1000
            print(f"  web CPU per completion {per:.1f} ms (with its share of inbox reads and starts)")
    print(f"  errors                {sum(stats.errors.values())} {dict(stats.errors) if stats.errors else ''}")
    print(f"  inconsistent          {len(check['inconsistent'])}")
    for line in check["inconsistent"][:10]:
        print(f"    {line}")
    print(f"  logs                  {logs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
