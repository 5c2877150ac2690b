"""What PMO Flow adds on top of SpiffWorkflow, per completed user task.

One run measures, on the same generated 20-user-task process (4 lanes, 4 exclusive gateways, a
small form per task):

  (a) raw SpiffWorkflow in memory: parse once, a new workflow per instance, ``task.run()`` +
      ``do_engine_steps()`` per step, with the sandboxed script engine the app uses;
  (b) the instance service (``app.instances.commands.complete``): load, step, save, inbox sync,
      audit, commit; on a SQLite file and on PostgreSQL;
  (c) the HTTP API: ``POST /api/v1/tasks/{id}/complete`` with a bearer token against a real
      threaded werkzeug server on 127.0.0.1 (SQLite).

It prints per-step medians (ms) and the ratios b/a and c/a next to the targets. It never asserts
timings. Loopback only; the PostgreSQL run uses its own schema and drops it afterwards.

    /tmp/venv/bin/python bench/engine_overhead.py [--instances 30] [--pg-url URL] [--no-pg]
                                                  [--no-http] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import json
import os
import pstats
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from SpiffWorkflow.util.task import TaskState  # noqa: E402

N_TASKS = 20
LANES = ["project_manager", "sponsor", "pmo", "quality_lead"]
ROLES = ["admin", *LANES]
GATEWAY_AFTER = {4, 8, 12, 16}  # an exclusive gateway after these task numbers
BENCH_PASSWORD = "bench-password-42"
TARGET_RATIO = 3.0
TARGET_HTTP_MS = 10.0
TARGET_CPU_RATIO = 5.0  # server CPU per completion (PG backends included) / raw engine with state saved


# -- the generated process ------------------------------------------------------------------------

def build_bundle(directory: Path) -> None:
    nodes: list[str] = []
    flows: list[str] = []
    lane_refs: dict[str, list[str]] = {lane: [] for lane in LANES}
    lane_refs[LANES[0]].append("start")
    previous = "start"
    for i in range(1, N_TASKS + 1):
        lane = LANES[(i - 1) // 5 % len(LANES)]
        task = f"task_{i}"
        form = f"form-{lane}.json"
        nodes.append(f"""    <bpmn:userTask id="{task}" name="Step {i} of {{{{ project }}}}">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="{form}" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
    </bpmn:userTask>""")
        flows.append(f'    <bpmn:sequenceFlow id="f_{previous}_{task}" sourceRef="{previous}" targetRef="{task}" />')
        lane_refs[lane].append(task)
        previous = task
        if i in GATEWAY_AFTER and i < N_TASKS:
            gw = f"gw_{i}"
            nxt = f"task_{i + 1}"
            nodes.append(f'    <bpmn:exclusiveGateway id="{gw}" default="f_{gw}_default" />')
            flows.append(f'    <bpmn:sequenceFlow id="f_{task}_{gw}" sourceRef="{task}" targetRef="{gw}" />')
            flows.append(f"""    <bpmn:sequenceFlow id="f_{gw}_ok" sourceRef="{gw}" targetRef="{nxt}">
      <bpmn:conditionExpression>ok == True and score &gt;= 0</bpmn:conditionExpression>
    </bpmn:sequenceFlow>""")
            flows.append(f'    <bpmn:sequenceFlow id="f_{gw}_default" sourceRef="{gw}" targetRef="{nxt}" />')
            lane_refs[lane].append(gw)
            previous = gw + "!"  # the gateway already has its outgoing flows
    nodes.append('    <bpmn:endEvent id="end" />')
    flows.append(f'    <bpmn:sequenceFlow id="f_end" sourceRef="{previous}" targetRef="end" />')
    lane_refs[LANES[-1]].append("end")
    # The flow into task i+1 after a gateway is the gateway's; drop the placeholder ones.
    flows = [f for f in flows if "!" not in f]
    lanes = "\n".join(
        f'      <bpmn:lane id="Lane_{lane}" name="{lane}">\n'
        + "\n".join(f"        <bpmn:flowNodeRef>{ref}</bpmn:flowNodeRef>" for ref in refs)
        + "\n      </bpmn:lane>"
        for lane, refs in lane_refs.items())
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="Definitions_bench" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="bench_20" name="Bench 20 steps" isExecutable="true">
    <bpmn:extensionElements>
      <spiffworkflow:properties>
        <spiffworkflow:property name="startableBy" value="{LANES[0]}" />
        <spiffworkflow:property name="startDataFields" value="project" />
      </spiffworkflow:properties>
    </bpmn:extensionElements>
    <bpmn:laneSet id="LaneSet_bench">
{lanes}
    </bpmn:laneSet>
    <bpmn:startEvent id="start" />
{chr(10).join(nodes)}
{chr(10).join(flows)}
  </bpmn:process>
</bpmn:definitions>
"""
    (directory / "bench_20.bpmn").write_text(xml)
    for lane in LANES:
        schema = {"type": "object", "required": ["ok"], "properties": {
            "ok": {"type": "boolean"}, "score": {"type": "integer", "minimum": 0},
            "note": {"type": "string", "maxLength": 200}}}
        (directory / f"form-{lane}.json").write_text(json.dumps(schema))


def step_data(i: int) -> dict:
    return {"ok": True, "score": i, "note": f"step {i} done"}


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def pct_ms(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


# -- (a) raw SpiffWorkflow -----------------------------------------------------------------------------

def bench_raw(bundle_dir: Path, n_instances: int, persist: bool = False) -> dict:
    """Raw steps; with ``persist`` each step also restores the workflow from JSON and stores it
    again (what any engine that keeps instances outside memory must do, without a database)."""
    from app.engine import bundle as bundle_mod
    from app.engine import runtime
    from app.engine.sandbox import Sandbox

    parsed = bundle_mod.load_bundle(bundle_mod.read_paths([bundle_dir]), ROLES).processes["bench_20"]
    engine = runtime.PmoScriptEngine(Sandbox(time_limit=2.0))
    steps: list[float] = []
    cpu: list[float] = []
    for n in range(n_instances + 1):
        workflow = runtime.new_workflow(parsed.spec, parsed.subprocess_specs, engine, {"project": f"P{n}"})
        workflow.do_engine_steps()
        stored = runtime.state_to_json(workflow)
        done = 0
        while True:
            ready = workflow.get_tasks(state=TaskState.READY, manual=True)
            if not ready:
                break
            task = ready[0]
            t0, c0 = time.perf_counter(), time.process_time()
            if persist:
                workflow = runtime.state_from_json(stored, parsed.spec, parsed.subprocess_specs, engine)
                task = workflow.get_task_from_id(task.id)
            task.set_data(**step_data(done))
            task.run()
            workflow.do_engine_steps()
            if persist:
                stored = runtime.state_to_json(workflow)
            elapsed, used = time.perf_counter() - t0, time.process_time() - c0
            done += 1
            if n:  # instance 0 warms up
                steps.append(elapsed)
                cpu.append(used)
        assert workflow.is_completed() and done == N_TASKS, (done, workflow.is_completed())
    return {"steps": steps, "cpu": cpu}


# -- (b) the instance service ---------------------------------------------------------------------

def _make_app(url: str):
    from app import create_app

    return create_app({"DATABASE_URL": url, "TESTING": False, "SECRET_KEY": "bench-secret"})


def _seed(bundle_dir: Path) -> None:
    from app.definitions import operations as definitions
    from app.people import operations as users
    from app.people import queries as user_queries
    if user_queries.find("bench") is None:
        users.create("bench", BENCH_PASSWORD, LANES, actor="bench")
    definitions.deploy_directory([bundle_dir], "bench")


def bench_service(url: str, bundle_dir: Path, n_instances: int, profile: bool = False) -> dict:
    from app.core.extensions import db
    from app.instances import commands as instances
    app = _make_app(url)
    profiler = cProfile.Profile() if profile else None
    with app.app_context():
        db.drop_all()
        db.create_all()
        _seed(bundle_dir)
        actor = instances.Actor("bench", frozenset(LANES))
        steps: list[float] = []
        cpu: list[float] = []
        starts: list[float] = []
        database = db.engine.url.database if db.engine.url.get_backend_name() == "postgresql" else None
        statements = _count_statements(db.engine)
        backend_cpu0 = _backends_cpu(database) if database else {}
        for n in range(n_instances + 1):
            if n == 1:
                statements.clear()
            t0 = time.perf_counter()
            instance = instances.start("bench_20", actor, {"project": f"P{n}"})
            if n:
                starts.append(time.perf_counter() - t0)
            instance_id = instance.id
            for i in range(N_TASKS):
                [task] = instances.ready_tasks(instance_id)
                task_id = task.id
                if profiler and n:
                    profiler.enable()
                statements.mark()
                t0, c0 = time.perf_counter(), time.process_time()
                instances.complete(task_id, actor, step_data(i))
                elapsed, used = time.perf_counter() - t0, time.process_time() - c0
                statements.measure()
                if profiler and n:
                    profiler.disable()
                if n:
                    steps.append(elapsed)
                    cpu.append(used)
            assert instances.get(instance_id).status == "completed"
        # The database's own CPU over the counted instances (their starts and the bench's reads
        # included, so it slightly overstates a completion's share), per completion.
        backend_cpu = 0.0
        if database:
            after = _backends_cpu(database)
            backend_cpu = sum(after[pid] - backend_cpu0.get(pid, 0.0) for pid in after) / max(1, len(steps))
        db.session.remove()
        db.drop_all()
        db.engine.dispose()
    return {"steps": steps, "starts": starts, "profile": profiler, "cpu": cpu, "backend_cpu": backend_cpu,
            "statements": statements.per_completion()}


class _count_statements:  # noqa: N801 - used like a function
    """SQL statements and commits sent during the counted completions (a listener on the engine)."""

    def __init__(self, engine) -> None:  # noqa: ANN001
        from sqlalchemy import event

        self.total = self.commits = self.completions = 0
        self._on = False
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, *args) -> None:  # noqa: ANN002
        self.total += self._on

    def _commit(self, *args) -> None:  # noqa: ANN002
        self.commits += self._on

    def clear(self) -> None:
        self.total = self.commits = self.completions = 0

    def mark(self) -> None:
        self._on = True

    def measure(self) -> None:
        self._on = False
        self.completions += 1

    def per_completion(self) -> tuple[float, float]:
        n = max(1, self.completions)
        return self.total / n, self.commits / n


def _backends_cpu(database: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving ``database`` on this machine."""
    found: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if not (entry / "cmdline").read_bytes().decode(errors="replace").startswith("postgres: "):
                continue
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            if f" {database} " not in cmdline:
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


# -- (c) the HTTP API -----------------------------------------------------------------------------------

class _Client:
    def __init__(self, port: int) -> None:
        self.port = port
        self.token: str | None = None

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        conn.close()
        try:
            payload = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            payload = {"raw": raw[:300].decode(errors="replace")}
        return response.status, payload


def _ready_ids(payload: dict) -> list[str]:
    tasks = payload.get("ready_tasks") or payload.get("tasks") or []
    return [t["id"] for t in tasks if t.get("status", "ready") == "ready"]


def bench_http(url: str, bundle_dir: Path, n_instances: int) -> dict:
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
            pass

    from app.core.extensions import db

    app = _make_app(url)
    with app.app_context():
        db.drop_all()
        db.create_all()
        _seed(bundle_dir)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = _Client(server.server_port)
    try:
        status, payload = client.call("POST", "/api/v1/auth/token", {"username": "bench", "password": BENCH_PASSWORD})
        if status != 200 or "token" not in payload:
            return {"error": f"POST /api/v1/auth/token -> {status} {payload}"}
        client.token = payload["token"]
        steps: list[float] = []
        starts: list[float] = []
        for n in range(n_instances + 1):
            t0 = time.perf_counter()
            status, payload = client.call("POST", "/api/v1/process-instances",
                                          {"process_key": "bench_20", "data": {"project": f"P{n}"}})
            if status != 201:
                return {"error": f"POST /api/v1/process-instances -> {status} {payload}"}
            if n:
                starts.append(time.perf_counter() - t0)
            instance_id = payload["id"]
            ready = _ready_ids(payload)
            for i in range(N_TASKS):
                if not ready:
                    status, payload = client.call("GET", f"/api/v1/process-instances/{instance_id}")
                    ready = _ready_ids(payload)
                if len(ready) != 1:
                    return {"error": f"expected one ready task at step {i}, got {ready} ({payload})"}
                t0 = time.perf_counter()
                status, payload = client.call("POST", f"/api/v1/tasks/{ready[0]}/complete", {"data": step_data(i)})
                elapsed = time.perf_counter() - t0
                if status != 200:
                    return {"error": f"POST /api/v1/tasks/{{id}}/complete -> {status} {payload}"}
                if n:
                    steps.append(elapsed)
                ready = [] if i == N_TASKS - 1 else _ready_ids(payload)
            status, payload = client.call("GET", f"/api/v1/process-instances/{instance_id}")
            if payload.get("status") != "completed":
                return {"error": f"instance {instance_id} ended as {payload.get('status')}"}
        return {"steps": steps, "starts": starts}
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.engine.dispose()


# -- PostgreSQL in its own schema -------------------------------------------------------------------------

def _pg_schema_url(base_url: str) -> tuple[str, str]:
    schema = f"pmo_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    sep = "&" if "?" in base_url else "?"
    return schema, f"{base_url}{sep}options=-csearch_path%3D{schema}"


def _pg_schema(base_url: str, schema: str, create: bool) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(base_url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"' if create else f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


# -- report ------------------------------------------------------------------------------------------------

def _line(label: str, result: dict) -> str:
    steps = result["steps"]
    extra = f"  start median {median_ms(result['starts']):7.2f} ms" if result.get("starts") else ""
    if result.get("cpu"):
        extra += f"  CPU mean {statistics.fmean(result['cpu']) * 1000:6.2f} ms"
    if result.get("backend_cpu"):
        extra += f" + PG backend {result['backend_cpu'] * 1000:5.2f} ms"
    if result.get("statements"):
        extra += "  SQL {:.1f} statements, {:.1f} commits".format(*result["statements"])
    return (f"{label:<38} median {median_ms(steps):7.2f} ms  p90 {pct_ms(steps, 0.9):7.2f} ms  "
            f"mean {statistics.fmean(steps) * 1000:7.2f} ms  (n={len(steps)}){extra}")


def _print_profile(profiler: cProfile.Profile, steps: int) -> None:
    print(f"\nProfile of the SQLite service completions (cumulative time over {steps} steps, top entries):")
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative")
    rows = []
    for (filename, line, name), (_cc, nc, tt, ct, _callers) in stats.stats.items():
        rows.append((ct, tt, nc, f"{Path(filename).name}:{line}({name})", filename))
    rows.sort(reverse=True)
    shown = 0
    for ct, tt, nc, label, filename in rows:
        if "/app/" not in filename and "SpiffWorkflow" not in filename and "sqlalchemy" not in filename:
            continue
        print(f"  {ct / steps * 1000:7.3f} ms/step cum  {tt / steps * 1000:7.3f} ms/step own  {nc:7d} calls  {label}")
        shown += 1
        if shown >= 30:
            break


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=30)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile the SQLite service run")
    args = parser.parse_args(argv)

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="pmo-bench-") as tmp:
        tmp_path = Path(tmp)
        bundle_dir = tmp_path / "bundle"
        bundle_dir.mkdir()
        build_bundle(bundle_dir)
        print(f"PMO Flow engine overhead: {args.instances} instances x {N_TASKS} user tasks "
              f"({len(LANES)} lanes, {len(GATEWAY_AFTER)} exclusive gateways, a form per task); "
              f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n")

        results["a"] = bench_raw(bundle_dir, args.instances)
        print(_line("(a) raw SpiffWorkflow, in memory", results["a"]), flush=True)
        results["a2"] = bench_raw(bundle_dir, args.instances, persist=True)
        print(_line("(a2) raw + JSON restore/store per step", results["a2"]), flush=True)

        results["b_sqlite"] = bench_service(f"sqlite:///{tmp_path / 'service.db'}", bundle_dir, args.instances,
                                            profile=args.profile)
        print(_line("(b) instance service, SQLite", results["b_sqlite"]), flush=True)

        if not args.no_pg:
            schema, url = _pg_schema_url(args.pg_url)
            try:
                _pg_schema(args.pg_url, schema, create=True)
                results["b_pg"] = bench_service(url, bundle_dir, args.instances)
                print(_line("(b) instance service, PostgreSQL", results["b_pg"]), flush=True)
            except Exception as exc:  # noqa: BLE001 - report and go on
                print(f"(b) instance service, PostgreSQL: not run ({type(exc).__name__}: {str(exc)[:200]})")
            finally:
                try:
                    _pg_schema(args.pg_url, schema, create=False)
                except Exception:  # noqa: BLE001, S110
                    pass

        if not args.no_http:
            try:
                results["c"] = bench_http(f"sqlite:///{tmp_path / 'http.db'}", bundle_dir, args.instances)
            except Exception as exc:  # noqa: BLE001 - the API may not exist yet
                results["c"] = {"error": f"{type(exc).__name__}: {exc}"}
            if "error" in results["c"]:
                print(f"(c) HTTP API: not run: {results['c']['error']}")
            else:
                print(_line("(c) HTTP complete, SQLite", results["c"]), flush=True)

    raw = median_ms(results["a"]["steps"])
    print("\nRatios of per-step medians (target in brackets):")
    ratio = median_ms(results["b_sqlite"]["steps"]) / raw
    print(f"  b/a SQLite      {ratio:6.1f}x   [<= {TARGET_RATIO:g}x: {'met' if ratio <= TARGET_RATIO else 'NOT met'}]")
    raw_persist = median_ms(results["a2"]["steps"])
    print(f"  b/a2 SQLite     {median_ms(results['b_sqlite']['steps']) / raw_persist:6.1f}x   "
          "(against the raw engine that also restores and stores its state each step)")
    if "b_pg" in results:
        ratio_pg = median_ms(results["b_pg"]["steps"]) / raw
        print(f"  b/a PostgreSQL  {ratio_pg:6.1f}x")
        raw_cpu = statistics.fmean(results["a2"]["cpu"])
        server_cpu = statistics.fmean(results["b_pg"]["cpu"]) + results["b_pg"]["backend_cpu"]
        cpu_ratio = server_cpu / raw_cpu
        print(f"\nServer CPU per completion on PostgreSQL (this process + its PG backends) {server_cpu * 1000:.2f} ms"
              f" / raw engine with state restored+stored {raw_cpu * 1000:.2f} ms = {cpu_ratio:.1f}x   "
              f"[<= {TARGET_CPU_RATIO:g}x: {'met' if cpu_ratio <= TARGET_CPU_RATIO else 'NOT met'}]")
    if "c" in results and "steps" in results["c"]:
        http_ms = median_ms(results["c"]["steps"])
        print(f"  c/a HTTP        {http_ms / raw:6.1f}x")
        print(f"  HTTP completion median {http_ms:.2f} ms   [<= {TARGET_HTTP_MS:g} ms: "
              f"{'met' if http_ms <= TARGET_HTTP_MS else 'NOT met'}]")
    if results["b_sqlite"].get("profile") is not None:
        _print_profile(results["b_sqlite"]["profile"], len(results["b_sqlite"]["steps"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
