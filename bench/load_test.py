"""Load test of the scaled-out deployment: gunicorn + PostgreSQL + Redis + `pmo worker` + `pmo
scheduler`, driven by simulated users through the HTTP API (loopback only, bounded).

Three scenarios (`--scenario`):

inbox (the default): each simulated user starts instances of a generated process (three user
tasks with a one-second timer between the first and the second) and completes its tasks through
the API, as fast as it can, for a fixed time: it reads its inbox, completes the oldest task, and
starts an instance when the inbox is empty. Afterwards it prints throughput, completion latency
percentiles, timer lag, errors, and a consistency check of every instance (the inbox table agrees
with the engine state, no task was completed twice).

start-complete: each of N clients (default 16) loops: start an instance of a second generated
process (start -> a user task with a JSON Schema form -> an exclusive gateway on a form field ->
a one-line script task on each branch -> end) through the API, take the user task from the start
answer's `ready_tasks`, and complete it with valid form data, which runs the instance to its end.
It prints completions and starts per second, latency p50/p95/p99 of the start call, of the
complete call and of the pair (over all calls, and over the calls begun after the first second:
each web worker's first script waits for its sandbox fork server to start), errors by call and
status, and the consistency check extended to these instances (every instance completed, no open
task, one completed task per instance, the script's variable agrees with the branch the form
chose, as many completions audited as answered 200); timer lag is n/a.

floor: each of N clients (default 16) loops the cheapest authenticated API request there is,
`GET /api/v1/tasks/<an id that does not exist>` (the bearer token's identity, one indexed read,
a 404 answer), and nothing else. It prints requests per second, their latency, and the CPU each
part used per request: what the deployment costs before a request does any work, so the ceiling
it puts on the other two scenarios (a start-complete pair is two requests) is measured, not guessed.

All three print the CPU each part used after the first second (web, the web's script sandbox
processes, PostgreSQL backends, worker, scheduler, this client, idle) and per completion (per
request for floor).

    .venv/bin/python bench/load_test.py                        # inbox: 50 users, 30 s, a web worker per CPU
    .venv/bin/python bench/load_test.py --users 20 --seconds 10 --web-workers 4
    .venv/bin/python bench/load_test.py --scenario start-complete --seconds 20   # 16 clients
    .venv/bin/python bench/load_test.py --scenario floor --seconds 20            # 16 clients

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

# The start-complete scenario's process: start, a user task with a form (no lane: it goes to the
# starter), an exclusive gateway on a form field, a one-line script on each branch, end.
LOOP_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="Definitions_load_loop" targetNamespace="http://pmo.example/load">
  <bpmn:process id="load_loop" name="Load test start-and-complete" isExecutable="true">
    <bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="startableBy" value="project_manager" />
    </spiffworkflow:properties></bpmn:extensionElements>
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="triage" />
    <bpmn:userTask id="triage" name="Triage the request">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="load-loop-form.json" />
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="triage" targetRef="decide" />
    <bpmn:exclusiveGateway id="decide" default="f_reject" />
    <bpmn:sequenceFlow id="f_approve" sourceRef="decide" targetRef="record_approval">
      <bpmn:conditionExpression>decision == "approve"</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_reject" sourceRef="decide" targetRef="record_rejection" />
    <bpmn:scriptTask id="record_approval" name="Record approval" scriptFormat="python">
      <bpmn:script>outcome = "approved"</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:scriptTask id="record_rejection" name="Record rejection" scriptFormat="python">
      <bpmn:script>outcome = "rejected"</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="record_approval" targetRef="end" />
    <bpmn:sequenceFlow id="f4" sourceRef="record_rejection" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""
LOOP_FORM = {"type": "object", "required": ["decision", "amount"], "properties": {
    "decision": {"type": "string", "enum": ["approve", "reject"]},
    "amount": {"type": "integer", "minimum": 0, "maximum": 1000000},
    "note": {"type": "string", "maxLength": 200}}}
OUTCOMES = {"approve": "approved", "reject": "rejected"}
SCENARIOS = {"inbox": 50, "start-complete": 16, "floor": 16}  # scenario -> default users / clients


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
        # (when the call began, its latency) by call, "pair" being a start and its completion end to end
        self.timed: dict[str, list[tuple[float, float]]] = {"start": [], "complete": [], "pair": [], "probe": []}
        self.errors: Counter[str] = Counter()
        self.completions = 0
        self.starts = 0
        self.probes = 0

    def record(self, kind: str, status: int, elapsed: float, expected: int) -> bool:
        with self.lock:
            (self.complete_latency if kind == "complete" else self.other_latency).append(elapsed)
            if kind in self.timed:
                self.timed[kind].append((time.perf_counter() - elapsed, elapsed))
            if status != expected:
                self.errors[f"{kind} {status}"] += 1
                return False
            if kind == "complete":
                self.completions += 1
            elif kind == "start":
                self.starts += 1
            elif kind == "probe":
                self.probes += 1
            return True

    def error(self, kind: str) -> None:
        """An answer with the expected status that still says something went wrong."""
        with self.lock:
            self.errors[kind] += 1

    def pair(self, began: float) -> None:
        with self.lock:
            self.timed["pair"].append((began, time.perf_counter() - began))


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


def start_and_complete(port: int, token: str, stats: Stats, stop: threading.Event) -> None:
    """Start an instance, complete its user task from the start answer, again: each completion
    runs the gateway and a script and ends the instance. The two branches alternate. A started
    instance is always completed, even when the stop comes in between, so none is left open."""
    client = Client(port, token)
    n = 0
    while not stop.is_set():
        n += 1
        decision = "approve" if n % 2 else "reject"
        began = time.perf_counter()
        status, body, elapsed = client.call("POST", "/api/v1/process-instances",
                                            {"process_key": "load_loop", "data": {}})
        if not stats.record("start", status, elapsed, 201):
            stop.wait(0.05)  # a failing server is not hammered
            continue
        tasks = [t for t in body.get("ready_tasks", []) if t.get("element_id") == "triage"]
        if len(tasks) != 1:
            stats.error(f"start answer with {len(tasks)} triage tasks")
            continue
        status, answer, elapsed = client.call(
            "POST", f"/api/v1/tasks/{tasks[0]['id']}/complete",
            {"data": {"decision": decision, "amount": n, "note": "load test"}})
        if not stats.record("complete", status, elapsed, 200):
            stop.wait(0.05)
            continue
        stats.pair(began)
        if answer.get("instance", {}).get("status") != "completed" or answer.get("next_tasks"):
            stats.error("complete answer: instance not completed")


FLOOR_PATH = "/api/v1/tasks/no-such-task"


def floor_probe(port: int, token: str, stats: Stats, stop: threading.Event) -> None:
    """The cheapest authenticated request, again and again: identity, one indexed read, a 404."""
    client = Client(port, token)
    while not stop.is_set():
        status, _body, elapsed = client.call("GET", FLOOR_PATH)
        if not stats.record("probe", status, elapsed, 404):
            stop.wait(0.05)


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


def part_pids(web: int, worker: int, scheduler: int, database: str) -> dict[str, list[int]]:
    """The pids of each part now, descendants included. The script sandbox's processes (a fork
    server and its pool, app/engine/isolation.py) start lazily under each web worker, so the
    tree is walked at each snapshot; the web's are their own part, the worker's count as its own."""
    found = _processes()
    children: dict[int, list[int]] = {}
    for pid, ppid, _ in found:
        children.setdefault(ppid, []).append(pid)

    def tree(pid: int) -> list[int]:
        return [pid, *(d for child in children.get(pid, []) for d in tree(child))]

    web_workers = children.get(web, [])
    return {"web (gunicorn)": [web, *web_workers],
            "script sandboxes (web's)": [d for w in web_workers for child in children.get(w, [])
                                         for d in tree(child)],
            "celery worker": tree(worker),
            "scheduler": tree(scheduler),
            "postgres backends": [pid for pid, _, cmdline in found
                                  if cmdline.startswith("postgres:") and f" {database} " in cmdline]}


def cpu_snapshot(parts: dict[str, list[int]]) -> dict[str, dict[int, float]]:
    """CPU seconds used so far by each process of each part; this client's and the machine's idle
    time as the parts "client (this script)" and "idle" (pid 0)."""
    snapshot = {name: {pid: _proc_cpu(pid) for pid in pids} for name, pids in parts.items()}
    snapshot["client (this script)"] = {0: sum(os.times()[:2])}
    idle = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    snapshot["idle"] = {0: (int(idle[4]) + int(idle[5])) / os.sysconf("SC_CLK_TCK")}
    return snapshot


def cpu_used(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
    """CPU seconds each part used between two snapshots: a process that started in between counts
    from zero, one that ended in between with what it had at the first (the rest is lost)."""
    return {name: sum(max(after[name].get(pid, cpu), cpu) - cpu for pid, cpu in before.get(name, {}).items())
            + sum(cpu for pid, cpu in after[name].items() if pid not in before.get(name, {}))
            for name in after}


def seed(env: dict[str, str], users: int, bundle: Path) -> list[str]:
    """Migrate, deploy the process and create the users; return their API tokens."""
    subprocess.run([sys.executable, "-m", "app.cli", "init"], cwd=REPO, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, "-m", "app.cli", "deploy", str(bundle)], cwd=REPO, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    os.environ.update(env)
    from app import create_app
    from app.people import operations as user_service
    from app.people import queries as user_queries
    app = create_app()
    tokens = []
    with app.app_context():
        for i in range(users):
            name = f"load{i:03d}"
            user = user_queries.find(name) or user_service.create(name, "load-test-pw", ["project_manager"])
            tokens.append(user_service.issue_token(user))
    return tokens


def consistency_and_timer_lag(env: dict[str, str], finished_keys: tuple[str, ...] = ()) -> dict:
    """Every instance: the inbox table agrees with the engine (ready tasks, completed or not), no
    task was completed twice; the timer lags of the `timer_fired` audit entries. The instances of
    `finished_keys` must also have run to their end: status completed, no open task, exactly one
    completed task, and the script's `outcome` agrees with the branch the form's `decision` chose."""
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
        task_counts = Counter({(instance_id, status): n for instance_id, status, n in db.session.execute(
            select(HumanTask.instance_id, HumanTask.status, func.count())
            .where(HumanTask.process_key.in_(finished_keys)).group_by(HumanTask.instance_id, HumanTask.status))})
        finished = 0
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
            if instance.process_key not in finished_keys:
                continue
            finished += 1
            if instance.status != "completed":
                bad.append(f"instance {instance.id}: {instance.status}, not completed")
            if task_counts[(instance.id, "ready")]:
                bad.append(f"instance {instance.id}: {task_counts[(instance.id, 'ready')]} open tasks")
            if task_counts[(instance.id, "completed")] != 1:
                bad.append(f"instance {instance.id}: {task_counts[(instance.id, 'completed')]} completed tasks, not 1")
            data = runtime.workflow_data(workflow)
            if data.get("outcome") != OUTCOMES.get(data.get("decision")):
                bad.append(f"instance {instance.id}: decision {data.get('decision')!r} but outcome "
                           f"{data.get('outcome')!r}")
        for entry in db.session.scalars(select(AuditEntry).where(AuditEntry.action == "timer_fired")):
            for due in entry.details.get("due_at", []):
                lags.append((entry.at - datetime.fromisoformat(due)).total_seconds())
        instances_total = db.session.scalar(select(func.count()).select_from(ProcessInstance))
        completed = db.session.scalar(select(func.count()).select_from(ProcessInstance)
                                      .where(ProcessInstance.status == "completed"))
        audited = db.session.scalar(select(func.count()).select_from(AuditEntry)
                                    .where(AuditEntry.action == "complete_task"))
    return {"inconsistent": bad, "timer_lags": lags, "instances": instances_total, "completed": completed,
            "finished_checked": finished, "completions_audited": audited}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=SCENARIOS, default="inbox",
                        help="inbox: users work their inboxes (default); start-complete: clients loop start "
                             "an instance, complete its task; floor: clients loop the cheapest authenticated "
                             "request")
    parser.add_argument("--users", type=int, default=None,
                        help="simulated users / clients (default: 50 for inbox, 16 for start-complete and floor)")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--web-workers", type=int, default=os.cpu_count() or 2,
                        help="gunicorn worker processes (default: one per CPU, the README's setting)")
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--worker-concurrency", type=int, default=None,
                        help="processes of the worker's prefork pool (default: pmo worker's, two per CPU)")
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="pmo_load_test")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args(argv)
    if args.users is None:
        args.users = SCENARIOS[args.scenario]
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
    (bundle / "load_loop.bpmn").write_text(LOOP_PROCESS)
    (bundle / "load-loop-form.json").write_text(json.dumps(LOOP_FORM))
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
    loop = args.scenario == "start-complete"
    floor = args.scenario == "floor"
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
        target = start_and_complete if loop else floor_probe if floor else simulated_user
        threads = [threading.Thread(target=target, args=(port, tokens[i], stats, stop), daemon=True)
                   for i in range(args.users)]
        began = time.perf_counter()
        for t in threads:
            t.start()
        time.sleep(1.0)
        pids = (procs[0].pid, procs[1].pid, procs[2].pid, args.database)
        cpu_before = cpu_snapshot(part_pids(*pids))
        done_before, starts_before, probes_before = stats.completions, stats.starts, stats.probes
        window_began = time.perf_counter()
        time.sleep(max(0.0, args.seconds - 1.0))
        cpu_after = cpu_snapshot(part_pids(*pids))
        window = max(time.perf_counter() - window_began, 1e-6)
        completions_in_window = stats.completions - done_before
        starts_in_window = stats.starts - starts_before
        probes_in_window = stats.probes - probes_before
        stop.set()
        for t in threads:
            t.join(30)
        elapsed = time.perf_counter() - began
        if args.scenario == "inbox":
            time.sleep(2.0)  # let due timers fire before the consistency check
        check = consistency_and_timer_lag(env, ("load_loop",) if loop else ())
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()

    who = (f"{args.users} clients looping start + complete" if loop
           else f"{args.users} clients looping GET {FLOOR_PATH} (404)" if floor else f"{args.users} users")
    print(f"PMO Flow load test, scenario {args.scenario}: {who} for {args.seconds:g} s against gunicorn "
          f"({args.web_workers} workers x {args.web_threads} threads) + PostgreSQL + Redis + `pmo worker` "
          f"+ `pmo scheduler`; {os.cpu_count()} CPUs")
    if floor:
        samples = [elapsed for _, elapsed in stats.timed["probe"]]
        rate = probes_in_window / window
        print(f"  requests              {stats.probes}  ({stats.probes / elapsed:.1f}/s over {elapsed:.1f} s; "
              f"{rate:.1f}/s after the first second)")
        if samples:
            print(f"  request latency       p50 {pct(samples, .5) * 1000:.1f}  p95 {pct(samples, .95) * 1000:.1f}"
                  f"  p99 {pct(samples, .99) * 1000:.1f}  max {max(samples) * 1000:.1f} ms")
        print(f"  ceiling it sets       {rate / 2:.1f} start-complete pairs/s (two requests each) if a request "
              f"cost no more than this one   [target >= 200/s]")
    elif loop:
        print(f"  task completions      {stats.completions}  ({stats.completions / elapsed:.1f}/s over "
              f"{elapsed:.1f} s; {completions_in_window / window:.1f}/s after the first second)   "
              f"[target >= 200/s]")
        print(f"  instances started     {stats.starts}  ({stats.starts / elapsed:.1f}/s; "
              f"{starts_in_window / window:.1f}/s after the first second); completed {check['completed']}"
              f" of {check['instances']}")
        for name, key in (("start", "start"), ("complete", "complete"), ("start + complete", "pair")):
            samples = [elapsed for _, elapsed in stats.timed[key]]
            later = [elapsed for at, elapsed in stats.timed[key] if at >= window_began]
            if samples:
                print(f"  {name + ' latency':26s}p50 {pct(samples, .5) * 1000:.1f}  p95 {pct(samples, .95) * 1000:.1f}"
                      f"  p99 {pct(samples, .99) * 1000:.1f}  max {max(samples) * 1000:.1f} ms")
            if later:
                print(f"  {'  begun after 1 s':26s}p50 {pct(later, .5) * 1000:.1f}  p95 {pct(later, .95) * 1000:.1f}"
                      f"  p99 {pct(later, .99) * 1000:.1f}  max {max(later) * 1000:.1f} ms  ({len(later)} calls)")
        print("  [target p95 < 100 ms]")
        print("  timer lag             n/a (the process has no timer)")
    else:
        lat = stats.complete_latency
        print(f"  task completions      {stats.completions}  ({stats.completions / elapsed:.1f}/s)   "
              f"[target >= 200/s]")
        print(f"  instances started     {stats.starts}  ({stats.starts / elapsed:.1f}/s); completed "
              f"{check['completed']} of {check['instances']}")
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
    if window > 0:
        used = cpu_used(cpu_before, cpu_after)
        cpus = os.cpu_count() or 1
        units, unit = (probes_in_window, "request") if floor else (completions_in_window, "completion")
        print(f"  CPU over the last {window:.1f} s ({cpus} CPUs = {window * cpus:.1f} CPU-s), "
              f"and per {unit} ({units} in that time):")
        for name, seconds in sorted(used.items(), key=lambda item: -item[1]):
            per = f"{seconds / units * 1000:7.2f} ms" if units else ""
            print(f"    {name:26s}{seconds:7.1f} s  {per}")
        if units:
            busy = sum(seconds for name, seconds in used.items() if name != "idle")
            print(f"    {'all listed but idle':26s}{busy:7.1f} s  {busy / units * 1000:7.2f} ms")
        if completions_in_window and not floor:
            share = "its start" if loop else "its share of inbox reads and starts"
            per = used["web (gunicorn)"] / completions_in_window * 1000
            sandboxed = (used["web (gunicorn)"] + used["script sandboxes (web's)"]) / completions_in_window * 1000
            print(f"  web CPU per completion {per:.1f} ms, {sandboxed:.1f} ms with its script sandboxes "
                  f"(with {share})")
    print(f"  errors                {sum(stats.errors.values())}" + (f" {dict(stats.errors)}" if stats.errors else ""))
    if loop:
        print(f"  consistency           {check['finished_checked']} load_loop instances checked; "
              f"{check['completions_audited']} completions audited, {stats.completions} answered 200")
        if check["completions_audited"] != stats.completions:
            check["inconsistent"].append(f"{check['completions_audited']} complete_task audit entries but "
                                         f"{stats.completions} completions answered 200")
    if floor:
        print(f"  instances             {check['instances']} (the scenario starts none)")
    print(f"  inconsistent          {len(check['inconsistent'])}")
    for line in check["inconsistent"][:10]:
        print(f"    {line}")
    print(f"  logs                  {logs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
