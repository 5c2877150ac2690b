"""The portfolio pages at the issue's volume: 10,000 projects and 1,000,000 completed tasks on
PostgreSQL (a tenth of that on SQLite), each page timed through Flask's test client (server time:
routing, the aggregate queries, the template) and printed as median and p95.

Seeds with bulk inserts straight into the tables: per project 3 milestones, 2 status reports,
3 risks, 2 change requests, 2 resource allocations and a gate decision; one lifecycle instance per
project holding its human tasks (real element ids of the shipped processes, waits of minutes to
days over the last year), one candidate row per task, and a few thousand tasks waiting now.

    /work/main/.venv/bin/python bench/portfolio_pages.py                       # SQLite, a tenth
    /work/main/.venv/bin/python bench/portfolio_pages.py --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/pmo_b

The PostgreSQL database's tables are dropped and recreated. Never asserts timings.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent
PAGES = [
    ("dashboard", "/portfolio"),
    ("dashboard filtered", "/portfolio?phase=execution&priority=P1"),
    ("resources", "/portfolio/resources"),
    ("processes 90 days", "/portfolio/processes?period=90&process=change_request"),
    ("processes 12 months", "/portfolio/processes?period=365&process=change_request"),
    ("report", "/portfolio/report"),
    ("export cost.xlsx (all rows)", "/portfolio/dashboard/export/cost.xlsx"),
]
STEPS = [("change_request", "change_request", "assess"), ("change_request", "change_request", "pm_decision"),
         ("change_request", "change_request", "sponsor_decision"), ("project_lifecycle", "project_initiation", "write_charter"),
         ("project_lifecycle", "project_planning", "write_plan"), ("project_lifecycle", "status_reporting", "report"),
         ("project_lifecycle", "quality_gate", "submit_evidence")]
ROLES = ["project_manager", "pmo", "sponsor", "ccb_member", "quality_lead", "resource_manager"]
SKILLS = ["Frontend developer", "DBA", "Solution architect", "Test manager", "Migration engineer"]


def _projects(n: int, today: date) -> dict[str, list[tuple]]:
    rng = random.Random(13)
    rows: dict[str, list[tuple]] = {k: [] for k in ("projects", "project_milestones", "status_reports", "project_risks",
                                                    "change_requests", "resource_allocations", "gate_decisions")}
    phases = ["initiation", "planning", "execution", "execution", "execution", "closure", "closed"]
    rags = ["green", "green", "amber", "red"]
    now = datetime.now(UTC)
    for pid in range(1, n + 1):
        baseline = rng.randint(50, 5000) * 1000
        end = today + timedelta(days=rng.randint(-60, 700))
        rows["projects"].append((pid, f"P-{pid:05d}", f"Project {pid}", f"pm{pid % 200}", f"sponsor{pid % 80}", "bench",
                                 rng.choice(phases), "active", rng.choice(["Digital", "Operations", "Compliance"]),
                                 f"P{rng.randint(1, 4)}", baseline, int(baseline * rng.uniform(.1, 1.2)), end, now, now))
        for seq in range(1, 4):
            base = today + timedelta(days=rng.randint(-200, 400))
            achieved = base < today and rng.random() < .7
            rows["project_milestones"].append((pid, seq, f"Milestone {seq}", base + timedelta(days=rng.choice([0, 0, 5, 20])),
                                               base, seq != 2, "achieved" if achieved else "planned"))
        for k in range(2):
            period = today - timedelta(days=14 * (2 - k) + rng.randint(0, 40))
            r = [rng.choice(rags) for _ in range(5)]
            overall = "red" if "red" in r else "amber" if "amber" in r else "green"
            rows["status_reports"].append((pid, period, *r, overall, "Bench report", f"pm{pid % 200}", now))
        for k in range(3):
            p, i = rng.randint(1, 5), rng.randint(1, 5)
            rows["project_risks"].append((pid, f"Risk {k}", p, i, p * i, "open" if rng.random() < .8 else "closed", now))
        for k in range(1, 3):
            status = rng.choice(["submitted", "approved", "approved", "rejected"])
            decided = now - timedelta(days=rng.randint(0, 300)) if status != "submitted" else None
            rows["change_requests"].append((pid, k, f"Change {k}", rng.randint(1, 80) * 1000, rng.randint(0, 30),
                                            status, rng.choice(["pm", "sponsor", "ccb"]) if decided else None,
                                            f"pm{pid % 200}", now - timedelta(days=rng.randint(0, 400)), decided))
        for _ in range(2):
            start = today + timedelta(days=rng.randint(-200, 200))
            fte = rng.choice([.5, 1, 1, 2])
            rows["resource_allocations"].append((pid, rng.choice(SKILLS), fte, fte, start,
                                                 start + timedelta(days=rng.randint(30, 300)),
                                                 f"person{rng.randint(0, 600)}", rng.choice(["approved", "adjusted", "rejected"]),
                                                 "rita", now))
        rows["gate_decisions"].append((pid, "Gate", "go", rng.choice(["go", "go", "hold", "recycle", "kill"]), "sam",
                                       "petra", now - timedelta(days=rng.randint(0, 200))))
    return rows


COLUMNS = {
    "projects": "id, code, name, project_manager, sponsor, created_by, phase, status, portfolio_category, priority, "
                "budget_baseline, budget_actual, target_end_date, created_at, updated_at",
    "project_milestones": "project_id, seq, name, due_date, baseline_due_date, gate_required, status",
    "status_reports": "project_id, period_end, schedule_rag, budget_rag, scope_rag, resources_rag, risk_rag, overall_rag, "
                      "summary, submitted_by, created_at",
    "project_risks": "project_id, title, probability, impact, score, status, created_at",
    "change_requests": "project_id, number, title, cost_impact, schedule_impact_days, status, route, requested_by, "
                       "submitted_at, decided_at",
    "resource_allocations": "project_id, role, requested_fte, fte, start_date, end_date, named_resource, status, "
                            "decided_by, decided_at",
    "gate_decisions": "project_id, gate_name, recommended, decision, decided_by, recorded_by, decided_at",
}
# Columns that have Python-side defaults only (not in the DDL): filled here.
DEFAULTS = {
    "projects": ("rag_detail, baseline_version, charter, plan, closure", ("{}", 0, "{}", "{}", "{}")),
    "project_milestones": ("deliverables", ("",)),
    "status_reports": ("max_risk_score, achievements, next_steps, top_issues, snapshot, escalated, escalation_reason",
                       (0, "", "", "[]", "{}", False, "")),
    "project_risks": ("owner, response, trigger, action, source", ("", "mitigate", "", "", "plan")),
    "change_requests": ("description, reason, scope_impact, risk_impact, reminders_sent", ("", "", "", "none", 0)),
    "resource_allocations": ("comment", ("",)),
    "gate_decisions": ("rationale, quality_assessment, overridden, evidence", ("", "", False, "{}")),
}


def _tasks(n_tasks: int, n_projects: int, first_instance: int, waiting: int) -> Iterator[tuple[tuple, tuple]]:
    """(task row, candidate row) pairs: completed ones over the last year, then ``waiting`` ready ones."""
    rng = random.Random(29)
    now = datetime.now(UTC)
    for i in range(n_tasks + waiting):
        key, bpmn, element = STEPS[i % len(STEPS)]
        instance = first_instance + (i % n_projects)
        created = now - timedelta(minutes=rng.randint(60, 365 * 24 * 60))
        wait = timedelta(minutes=int(rng.expovariate(1 / (60 * 20))) + 1)
        due = created + timedelta(days=3)
        done = i < n_tasks and created + wait < now
        tid = f"b{i:011d}"
        yield ((tid, instance, key, "", bpmn, element, f"Step {element}", "ready" if not done else "completed", 50,
                created, due, created + wait if done else None, f"user{i % 300}" if done else None, "[]"),
               (tid, ROLES[i % len(ROLES)]))


TASK_COLUMNS = ("id, instance_id, process_key, process_name, bpmn_process_id, element_id, title, status, priority, created_at, due_at, "
                "completed_at, completed_by, excluded_users")


def _sqlite_value(v):  # noqa: ANN001, ANN202 - SQLite stores DateTime as naive UTC text
    if isinstance(v, datetime):
        return v.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
    if isinstance(v, date):
        return v.isoformat()
    return v


def seed(n_projects: int, n_tasks: int) -> float:
    from sqlalchemy import select, text

    from app.core.extensions import db
    from app.definitions import operations as definitions
    from app.definitions.models import ProcessVersion
    from app.people import operations as users

    started = time.perf_counter()
    users.seed_demo_users()
    definitions.deploy_directory([ROOT / "workflows", ROOT / "forms"], "admin")
    version = db.session.scalars(select(ProcessVersion).where(ProcessVersion.process_key == "project_lifecycle")).first()
    db.session.commit()
    engine = db.engine
    pg = engine.dialect.name == "postgresql"
    today = datetime.now(UTC).date()
    now = datetime.now(UTC)
    project_rows = _projects(n_projects, today)
    instances = [(i + 1, version.id, "project_lifecycle", "running", f"project:{i + 1}", "maria", now, now, "{}", "1",
                  "{}", 1) for i in range(n_projects)]
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()

        def insert(table: str, columns: str, rows: list[tuple]) -> None:
            if pg:
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" * len(columns.split(",")))
                cur.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                                [tuple(_sqlite_value(v) for v in r) for r in rows])

        insert("process_instances", "id, process_version_id, process_key, status, business_key, started_by, created_at, "
               "updated_at, state, serializer_version, waiting, lock_version", instances)
        for table, columns in COLUMNS.items():
            extra_columns, extra = DEFAULTS[table]
            insert(table, f"{columns}, {extra_columns}", [(*r, *extra) for r in project_rows[table]])
        batch_tasks: list[tuple] = []
        batch_candidates: list[tuple] = []
        for task, candidate in _tasks(n_tasks, n_projects, 1, waiting=max(n_tasks // 200, 100)):
            batch_tasks.append(task)
            batch_candidates.append(candidate)
            if len(batch_tasks) >= 50_000:
                insert("human_tasks", TASK_COLUMNS, batch_tasks)
                insert("human_task_candidates", "task_id, role", batch_candidates)
                batch_tasks, batch_candidates = [], []
        if batch_tasks:
            insert("human_tasks", TASK_COLUMNS, batch_tasks)
            insert("human_task_candidates", "task_id, role", batch_candidates)
        raw.commit()
    finally:
        raw.close()
    with engine.begin() as conn:
        if pg:
            conn.execute(text("SELECT setval('projects_id_seq', (SELECT max(id) FROM projects))"))
        conn.execute(text("ANALYZE"))
    db.session.commit()
    return time.perf_counter() - started


def measure(app, runs: int) -> dict[str, tuple[float, float]]:  # noqa: ANN001
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": "petra", "password": "petra", "csrf_token": token})
    results = {}
    for name, path in PAGES:
        times = []
        for i in range(runs + 2):
            t0 = time.perf_counter()
            response = client.get(path)
            elapsed = (time.perf_counter() - t0) * 1000
            assert response.status_code == 200, (path, response.status_code)
            if i >= 2:  # two warm-up requests
                times.append(elapsed)
        times.sort()
        results[name] = (statistics.median(times), times[max(0, int(len(times) * 0.95 + 0.5) - 1)])
    return results


def run(url: str, label: str, n_projects: int, n_tasks: int, runs: int) -> None:
    from app import create_app
    from app.core.extensions import db
    from app.instances.models import HumanTask

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": False})
    app.config["PORTFOLIO"] = {**app.config.get("PORTFOLIO", {}), "person_capacity": {}}
    # The operator of the monthly report and the pages' blueprints are registered by create_app.
    with app.app_context():
        db.drop_all()
        db.create_all()
        seconds = seed(n_projects, n_tasks)
        completed = db.session.query(HumanTask).filter(HumanTask.status == "completed").count()
        db.session.remove()
    print(f"\n== {label}: {n_projects:,} projects, {completed:,} completed tasks; seeded in {seconds:.1f} s")
    with app.test_request_context():
        results = measure(app, runs)
    print(f"   {'page':30} {'median ms':>10} {'p95 ms':>10}")
    for name, (median, p95) in results.items():
        print(f"   {name:30} {median:10.1f} {p95:10.1f}")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default="", help="PostgreSQL URL (its tables are recreated); SQLite when empty")
    parser.add_argument("--projects", type=int, default=0, help="default 10,000 on PostgreSQL, 1,000 on SQLite")
    parser.add_argument("--tasks", type=int, default=0, help="default 1,000,000 on PostgreSQL, 100,000 on SQLite")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    if args.pg_url:
        run(args.pg_url, "PostgreSQL", args.projects or 10_000, args.tasks or 1_000_000, args.runs)
    else:
        with tempfile.TemporaryDirectory() as folder:
            run(f"sqlite:///{folder}/bench.db", "SQLite", args.projects or 1_000, args.tasks or 100_000, args.runs)


if __name__ == "__main__":
    main()
