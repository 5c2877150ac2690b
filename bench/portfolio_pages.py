"""The portfolio pages at the issue's volume: 10,000 projects and 1,000,000 completed tasks on
PostgreSQL (a tenth of that on SQLite), each page timed through Flask's test client (server time:
routing, the aggregate queries, the template) and printed as median and p95.

Seeds with bulk inserts straight into the tables: per project 3 milestones, 2 status reports,
3 risks, 2 change requests, 2 resource allocations and a gate decision; one lifecycle instance per
project holding its human tasks (real element ids of the shipped processes, waits of minutes to
days over the last year), one candidate row per task, and a few thousand tasks waiting now.

    /work/main/.venv/bin/python bench/portfolio_pages.py                       # SQLite, a tenth
    /work/main/.venv/bin/python bench/portfolio_pages.py --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/pmo_b

The database's tables are dropped and recreated, unless ``--keep`` finds this seed there already
(the same count of projects): then it only adds the tables and indexes the models declare and it lacks,
and the rollup job catches up. Never asserts timings.

    /work/main/.venv/bin/python bench/portfolio_pages.py --keep --pg-url ...          # seed once, reuse after
    /work/main/.venv/bin/python bench/portfolio_pages.py --keep --sqlite-file /tmp/portfolio.db
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import seeding  # noqa: E402 - bench/ is not a package

ROOT = Path(__file__).resolve().parent.parent
PAGES = [
    ("dashboard", "/portfolio"),
    ("dashboard filtered", "/portfolio?phase=execution&priority=P1"),
    ("resources", "/portfolio/resources"),
    *[(f"processes {p}", f"/portfolio/processes?period={p}&process=change_request")
      for p in ("7", "30", "90", "365", "all")],
    ("report", "/portfolio/report"),
    ("export health.csv (all rows)", "/portfolio/dashboard/export/health.csv"),
    ("export cost.xlsx (all rows)", "/portfolio/dashboard/export/cost.xlsx"),
    ("export dashboard all.xlsx", "/portfolio/dashboard/export/all.xlsx"),
    ("export resources all.xlsx", "/portfolio/resources/export/all.xlsx"),
    ("export steps.csv 365", "/portfolio/processes/export/steps.csv?period=365"),
    ("export processes all.xlsx 365", "/portfolio/processes/export/all.xlsx?period=365"),
]
API_PAGES = [
    ("api dashboard", "/api/v1/portfolio/dashboard"),
    ("api dashboard filtered", "/api/v1/portfolio/dashboard?phase=execution&priority=P1"),
    ("api resources", "/api/v1/portfolio/resources"),
    ("api processes 90", "/api/v1/portfolio/processes?period=90"),
    ("api processes 365", "/api/v1/portfolio/processes?period=365"),
    ("api heat map 365", "/api/v1/portfolio/processes/change_request/heat-map?period=365"),
]
STEPS = [("change_request", "change_request", "assess"), ("change_request", "change_request", "pm_decision"),
         ("change_request", "change_request", "sponsor_decision"), ("project_lifecycle", "project_initiation", "write_charter"),
         ("project_lifecycle", "project_planning", "write_plan"), ("project_lifecycle", "status_reporting", "report"),
         ("project_lifecycle", "quality_gate", "submit_evidence")]
ROLES = ["project_manager", "pmo", "sponsor", "ccb_member", "quality_lead", "resource_manager"]


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


def seed(n_projects: int, n_tasks: int) -> float:
    from app.core.extensions import db

    started = time.perf_counter()
    version_id = seeding.deploy_shipped()
    today = datetime.now(UTC).date()
    now = datetime.now(UTC)
    project_rows = seeding.project_rows(n_projects, today)
    instances = [(i + 1, version_id, "project_lifecycle", "running", f"project:{i + 1}", "maria", now, now, "{}", "1",
                  "{}", 1) for i in range(n_projects)]
    with seeding.bulk_writer(db.engine) as insert:
        insert("process_instances", seeding.INSTANCE_COLUMNS, instances)
        seeding.insert_projects(insert, project_rows)
        batch_tasks: list[tuple] = []
        batch_candidates: list[tuple] = []
        for task, candidate in _tasks(n_tasks, n_projects, 1, waiting=max(n_tasks // 200, 100)):
            batch_tasks.append(task)
            batch_candidates.append(candidate)
            if len(batch_tasks) >= 50_000:
                insert("human_tasks", seeding.TASK_COLUMNS, batch_tasks)
                insert("human_task_candidates", "task_id, role", batch_candidates)
                batch_tasks, batch_candidates = [], []
        insert("human_tasks", seeding.TASK_COLUMNS, batch_tasks)
        insert("human_task_candidates", "task_id, role", batch_candidates)
    seeding.analyze(db.engine)
    db.session.commit()
    return time.perf_counter() - started


def _roll_up() -> str:
    """Run the rollup job's catch-up over the seeded year (the first run after an upgrade)."""
    try:
        from app.portfolio import rollups
    except ImportError:  # a checkout from before the rollup
        return "no rollup"
    started = time.perf_counter()
    done = rollups.catch_up()
    return f"rolled up {done['days']} days ({done['rows']:,} rows) in {time.perf_counter() - started:.1f} s"


def measure(app, runs: int) -> dict[str, tuple[float, float]]:  # noqa: ANN001
    from app.core.extensions import db

    client = app.test_client()
    seeding.sign_in(client, "petra")
    found = seeding.time_pages(client, db.engine, PAGES, runs)
    headers = {"Authorization": f"Bearer {seeding.api_token(app.test_client(), 'petra')}"}
    found |= seeding.time_pages(app.test_client(), db.engine, API_PAGES, runs, headers=headers)
    return found


def _seeded(n_projects: int) -> bool:
    """Whether the database holds this bench's seed already (its projects and completed tasks)."""
    from sqlalchemy import func, inspect, select

    from app.core.extensions import db
    from app.projects.models import Project

    if not inspect(db.engine).has_table("projects"):
        return False
    return db.session.scalar(select(func.count()).select_from(Project)) == n_projects


def _schema_up_to_date() -> None:
    """Add what the models declare and a kept database lacks: new tables, and new indexes on old ones."""
    from app.core.extensions import db

    db.create_all()
    for table in db.metadata.sorted_tables:
        for index in table.indexes:
            index.create(db.engine, checkfirst=True)


def run(url: str, label: str, n_projects: int, n_tasks: int, runs: int, keep: bool = False,
        seed_only: bool = False) -> None:
    from app import create_app
    from app.core.extensions import db
    from app.instances.models import HumanTask
    from app.projects.models import Project

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": False})
    app.config["PORTFOLIO"] = {**app.config.get("PORTFOLIO", {}), "person_capacity": {}}
    # The operator of the monthly report and the pages' blueprints are registered by create_app.
    with app.app_context():
        seconds = 0.0
        kept = keep and _seeded(n_projects)
        if kept:
            _schema_up_to_date()
            seeding.analyze(db.engine)
        else:
            db.drop_all()
            db.create_all()
            seconds = seed(n_projects, n_tasks)
        rolled = _roll_up()
        completed = db.session.query(HumanTask).filter(HumanTask.status == "completed").count()
        projects = db.session.query(Project).count()
        db.session.remove()
    how = "kept from an earlier run" if kept else f"seeded in {seconds:.1f} s"
    print(f"\n== {label}: {projects:,} projects, {completed:,} completed tasks; {how}; {rolled}")
    if seed_only:
        return
    with app.test_request_context():
        results = measure(app, runs)
    print(f"   {'page':32} {'median ms':>10} {'p95 ms':>10} {'SQL':>5}")
    for name, (median, p95, statements) in results.items():
        print(f"   {name:32} {median:10.1f} {p95:10.1f} {statements:5}")
    print(f"   load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default="", help="PostgreSQL URL (its tables are recreated); SQLite when empty")
    parser.add_argument("--projects", type=int, default=0, help="default 10,000 on PostgreSQL, 1,000 on SQLite")
    parser.add_argument("--tasks", type=int, default=0, help="default 1,000,000 on PostgreSQL, 100,000 on SQLite")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", action="store_true",
                        help="reuse the database when it holds this seed already (else seed it); with "
                             "--sqlite-file on SQLite")
    parser.add_argument("--seed-only", action="store_true",
                        help="seed (or keep) and roll up, time nothing: seed outside the bench lock, time under it")
    parser.add_argument("--sqlite-file", default="", help="SQLite: this file instead of a temporary one")
    args = parser.parse_args()
    if args.pg_url:
        run(args.pg_url, "PostgreSQL", args.projects or 10_000, args.tasks or 1_000_000, args.runs, args.keep,
            args.seed_only)
    elif args.sqlite_file:
        run(f"sqlite:///{Path(args.sqlite_file).resolve()}", "SQLite", args.projects or 1_000,
            args.tasks or 100_000, args.runs, args.keep, args.seed_only)
    else:
        with tempfile.TemporaryDirectory() as folder:
            run(f"sqlite:///{folder}/bench.db", "SQLite", args.projects or 1_000, args.tasks or 100_000, args.runs)

if __name__ == "__main__":
    main()
