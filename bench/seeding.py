"""Shared seeding and timing for the page benchmarks (``portfolio_pages.py``, ``workspace_pages.py``):
project records generated in bulk, written with COPY on PostgreSQL and ``executemany`` on SQLite
(far faster than the ORM at these volumes), and page timing through Flask's test client.
"""

from __future__ import annotations

import random
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SKILLS = ["Frontend developer", "DBA", "Solution architect", "Test manager", "Migration engineer"]
PHASES = ["initiation", "planning", "execution", "execution", "execution", "closure", "closed"]
RAGS = ["green", "green", "amber", "red"]
TABLES = ("projects", "project_milestones", "status_reports", "project_risks", "change_requests",
          "resource_allocations", "gate_decisions")


def pm_of(pid: int) -> str:
    return f"pm{pid % 200}"


def sponsor_of(pid: int) -> str:
    return f"sponsor{pid % 80}"


def project_rows(n: int, today: date, *, milestones: int = 3, reports: int = 2, risks: int = 3, changes: int = 2,
                 gates: int = 1) -> dict[str, list[tuple]]:
    """Rows for ``TABLES`` (columns as in ``COLUMNS``): ``n`` projects with the given count of each record."""
    rng = random.Random(13)
    rows: dict[str, list[tuple]] = {k: [] for k in TABLES}
    now = datetime.now(UTC)
    for pid in range(1, n + 1):
        baseline = rng.randint(50, 5000) * 1000
        end = today + timedelta(days=rng.randint(-60, 700))
        rows["projects"].append((pid, f"P-{pid:05d}", f"Project {pid}", pm_of(pid), sponsor_of(pid), "bench",
                                 rng.choice(PHASES), "active", rng.choice(["Digital", "Operations", "Compliance"]),
                                 f"P{rng.randint(1, 4)}", baseline, int(baseline * rng.uniform(.1, 1.2)), end, now, now))
        for seq in range(1, milestones + 1):
            base = today + timedelta(days=rng.randint(-200, 400))
            achieved = base < today and rng.random() < .7
            rows["project_milestones"].append((pid, seq, f"Milestone {seq}", base + timedelta(days=rng.choice([0, 0, 5, 20])),
                                               base, seq != 2, "achieved" if achieved else "planned"))
        for k in range(reports):
            period = today - timedelta(days=14 * (reports - k) + rng.randint(0, 40))
            r = [rng.choice(RAGS) for _ in range(5)]
            overall = "red" if "red" in r else "amber" if "amber" in r else "green"
            rows["status_reports"].append((pid, period, *r, overall, "Bench report", pm_of(pid), now))
        for k in range(risks):
            p, i = rng.randint(1, 5), rng.randint(1, 5)
            rows["project_risks"].append((pid, f"Risk {k}", p, i, p * i, "open" if rng.random() < .8 else "closed", now))
        for k in range(1, changes + 1):
            status = rng.choice(["submitted", "approved", "approved", "rejected"])
            decided = now - timedelta(days=rng.randint(0, 300)) if status != "submitted" else None
            rows["change_requests"].append((pid, k, f"Change {k}", rng.randint(1, 80) * 1000, rng.randint(0, 30),
                                            status, rng.choice(["pm", "sponsor", "ccb"]) if decided else None,
                                            pm_of(pid), now - timedelta(days=rng.randint(0, 400)), decided))
        for _ in range(2):
            start = today + timedelta(days=rng.randint(-200, 200))
            fte = rng.choice([.5, 1, 1, 2])
            rows["resource_allocations"].append((pid, rng.choice(SKILLS), fte, fte, start,
                                                 start + timedelta(days=rng.randint(30, 300)),
                                                 f"person{rng.randint(0, 600)}", rng.choice(["approved", "adjusted", "rejected"]),
                                                 "rita", now))
        for _ in range(gates):
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
    "projects": ("rag_detail, baseline_version, charter, plan, closure, tags", ("{}", 0, "{}", "{}", "{}", "[]")),
    "project_milestones": ("deliverables", ("",)),
    "status_reports": ("max_risk_score, achievements, next_steps, top_issues, snapshot, escalated, escalation_reason",
                       (0, "", "", "[]", "{}", False, "")),
    "project_risks": ("owner, response, trigger, action, source", ("", "mitigate", "", "", "plan")),
    "change_requests": ("description, reason, scope_impact, risk_impact, reminders_sent", ("", "", "", "none", 0)),
    "resource_allocations": ("comment", ("",)),
    "gate_decisions": ("rationale, quality_assessment, overridden, evidence", ("", "", False, "{}")),
}
TASK_COLUMNS = ("id, instance_id, process_key, process_name, bpmn_process_id, element_id, title, status, priority, "
                "created_at, due_at, completed_at, completed_by, excluded_users")
INSTANCE_COLUMNS = ("id, process_version_id, process_key, status, business_key, started_by, created_at, updated_at, "
                    "state, serializer_version, waiting, lock_version")


def sqlite_value(v: Any) -> Any:
    """SQLite stores DateTime as naive UTC text and dates as ISO text."""
    if isinstance(v, datetime):
        return v.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
    if isinstance(v, date):
        return v.isoformat()
    return v


Insert = Callable[[str, str, list[tuple]], None]


@contextmanager
def bulk_writer(engine) -> Iterator[Insert]:  # noqa: ANN001
    """``insert(table, columns, rows)`` on one raw connection, committed at the end: COPY on
    PostgreSQL, ``executemany`` on SQLite."""
    pg = engine.dialect.name == "postgresql"
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()

        def insert(table: str, columns: str, rows: list[tuple]) -> None:
            if not rows:
                return
            if pg:
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" * len(columns.split(",")))
                cur.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                                [tuple(sqlite_value(v) for v in r) for r in rows])

        yield insert
        raw.commit()
    finally:
        raw.close()


def insert_projects(insert: Insert, rows: dict[str, list[tuple]]) -> None:
    for table, columns in COLUMNS.items():
        extra_columns, extra = DEFAULTS[table]
        insert(table, f"{columns}, {extra_columns}", [(*r, *extra) for r in rows[table]])


def deploy_shipped(version_of: str = "project_lifecycle") -> int:
    """Demo users and the shipped processes deployed; the id of ``version_of``'s version."""
    from sqlalchemy import select

    from app.core.extensions import db
    from app.definitions import operations as definitions
    from app.definitions.models import ProcessVersion
    from app.people import operations as users

    users.seed_demo_users()
    definitions.deploy_directory([ROOT / "workflows", ROOT / "forms"], "admin")
    version = db.session.scalars(select(ProcessVersion).where(ProcessVersion.process_key == version_of)).first()
    db.session.commit()
    return version.id


# The app marks a task's candidate rows closed when the task completes or is cancelled; bulk seeds do it here.
CLOSE_FINISHED_CANDIDATES = ("UPDATE human_task_candidates SET is_open = false WHERE is_open AND task_id IN "
                             "(SELECT id FROM human_tasks WHERE status <> 'ready')")


# A task carries its instance's business key (the app copies it when it creates the task).
COPY_TASK_BUSINESS_KEYS = ("UPDATE human_tasks SET business_key = (SELECT business_key FROM process_instances "
                           "WHERE process_instances.id = human_tasks.instance_id) WHERE business_key IS NULL")


def analyze(engine) -> None:  # noqa: ANN001
    """Close the candidate rows of finished tasks and copy the business keys onto the tasks (as the
    app keeps them), fix the id sequences after explicit ids (PostgreSQL) and refresh the planner's
    statistics."""
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text(CLOSE_FINISHED_CANDIDATES))
        conn.execute(text(COPY_TASK_BUSINESS_KEYS))
        if engine.dialect.name == "postgresql":
            for table in ("projects", "process_instances"):
                conn.execute(text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))"))
        conn.execute(text("ANALYZE"))


def sign_in(client, username: str, password: str | None = None) -> None:  # noqa: ANN001
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"username": username, "password": password or username,
                                           "csrf_token": token})
    assert response.status_code in (302, 303), f"sign-in of {username} failed ({response.status_code})"


def api_token(client, username: str, password: str | None = None) -> str:  # noqa: ANN001
    response = client.post("/api/v1/auth/token", json={"username": username, "password": password or username})
    assert response.status_code in (200, 201), f"no API token for {username} ({response.status_code})"
    return response.get_json()["token"]


@contextmanager
def statement_counter(engine) -> Iterator[list[int]]:  # noqa: ANN001
    """Counts the SQL statements the engine runs while the block is open (``counter[0]``)."""
    from sqlalchemy import event

    counter = [0]

    def count(*_args: Any) -> None:
        counter[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", count)


def percentile(sorted_values: list[float], share: float) -> float:
    return sorted_values[max(0, int(len(sorted_values) * share + 0.5) - 1)]


def time_pages(client, engine, pages: list[tuple[str, str]], runs: int,  # noqa: ANN001
               warmup: int = 2, headers: dict[str, str] | None = None) -> dict[str, tuple[float, float, int]]:
    """Per page: median and p95 server time in ms over ``runs`` requests (after ``warmup``), and the
    SQL statements one request runs."""
    results = {}
    for name, path in pages:
        times = []
        statements = 0
        for i in range(runs + warmup):
            with statement_counter(engine) as counter:
                t0 = time.perf_counter()
                response = client.get(path, headers=headers or {})
                elapsed = (time.perf_counter() - t0) * 1000
            assert response.status_code == 200, (path, response.status_code)
            if i >= warmup:
                times.append(elapsed)
                statements = counter[0]
        times.sort()
        results[name] = (statistics.median(times), percentile(times, 0.95), statements)
    return results


def run_on(database_url: str, run: Callable[..., None], *args: Any) -> None:
    """Run a benchmark on the PostgreSQL URL given, or on a temporary SQLite file when it is empty."""
    if database_url:
        run(database_url, "PostgreSQL", *args)
    else:
        with tempfile.TemporaryDirectory() as folder:
            run(f"sqlite:///{folder}/bench.db", "SQLite", *args)
