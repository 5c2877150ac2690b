"""Inbox views at volume: a user with 5,000 open candidate tasks in a database of 500,000 tasks.

Seeds fast with bulk inserts (executemany on SQLite, COPY on PostgreSQL) straight into
``process_instances``, ``human_tasks`` and ``human_task_candidates`` (instances share one tiny state
of a real deployed process; their business keys name 300 projects, which hold ``--raid`` RAID
entries, some the user's and overdue: the layout's Projects badge counts them), then times each inbox page through Flask's test client (server time:
routing, queries, template) and prints median and p95 per view, on SQLite and PostgreSQL.

    /tmp/venv/bin/python bench/inbox_views.py [--tasks 500000] [--mine 5000] [--runs 30]
        [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/pmo_inbox_bench] [--no-pg] [--no-sqlite]

Prints median and p95 ms per view, the SQL statements one request runs, and the load average, for
three passes in one process: the garbage collector as is, after ``gc_tuning.freeze_now()`` (what a
warm server does after ``GC_FREEZE_AFTER_REQUESTS``), and unfrozen again (the order's own effect). The
tables and indexes are the app's own (``db.create_all`` from the models, which the migrations
match). The PostgreSQL database is created when missing and its tables are dropped and recreated.
Never asserts timings.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parent.parent
TASKS_PER_INSTANCE = 10
PROJECTS = 300
VIEWS = [
    ("mine", "/inbox?view=mine"),
    ("available", "/inbox?view=available"),
    ("available p.50", "/inbox?view=available&page=50"),
    ("available overdue", "/inbox?view=available&overdue=1"),
    ("available search", "/inbox?view=available&q=budget"),
    ("available sort title", "/inbox?view=available&sort=title"),
    ("available filters", "/inbox?view=available&process=simple_approval&role=sponsor&due=week"),
    ("delegated", "/inbox?view=delegated"),
    ("waiting", "/inbox?view=waiting"),
    ("completed", "/inbox?view=completed"),
    ("home (my tasks)", "/"),
    ("counts JSON", "/inbox/count"),
    ("live (unchanged)", None),
]


def _rows(n_tasks: int, mine: int, instance_ids: list[int], version_id: int):  # noqa: ANN202
    """(tasks, candidates): ``mine`` open tasks for role 'sponsor', the rest for other roles or done."""
    now = datetime.now(UTC)
    rng = random.Random(7)
    roles = ["project_manager", "pmo", "ccb_member", "quality_lead", "resource_manager"]
    tasks, candidates = [], []
    for i in range(n_tasks):
        tid = str(uuid.UUID(int=rng.getrandbits(128)))
        instance_id = instance_ids[i // TASKS_PER_INSTANCE]
        if i < mine:
            status, role, completed_by, completed_at = "ready", "sponsor", None, None
        elif i % 3 == 0:
            status, role = "completed", roles[i % len(roles)]
            completed_by, completed_at = ("bench_sponsor" if i % 97 == 0 else f"user{i % 400}"), now
        else:
            status, role, completed_by, completed_at = "ready", roles[i % len(roles)], None, None
        created = now - timedelta(minutes=rng.randint(0, 60 * 24 * 60))
        due = created + timedelta(days=rng.randint(1, 30)) if i % 4 else None
        title = f"{'Approve budget' if i % 5 == 0 else 'Review change'} {i}"
        tasks.append({"id": tid, "instance_id": instance_id, "process_key": "simple_approval",
                      "process_name": "Simple approval", "element_id": "approve", "title": title, "lane": role,
                      "assignee": None, "status": status, "priority": 50 + (i % 3) * 10,
                      "form_schema_file": "decision-schema.json", "form_ui_file": None, "instructions": None,
                      "created_at": created, "due_at": due, "completed_at": completed_at,
                      "completed_by": completed_by, "excluded_users": "[]"})
        candidates.append({"task_id": tid, "role": role, "username": None})
    return tasks, candidates


def seed(app, n_tasks: int, mine: int, n_raid: int) -> float:  # noqa: ANN001
    from sqlalchemy import text

    from app.core.extensions import db
    from app.definitions import operations as definitions
    from app.instances import commands as instances
    from app.people import operations as users
    from app.people import queries as user_queries
    started = time.perf_counter()
    users.seed_demo_users()
    users.create("bench_sponsor", "bench-password-1", ["sponsor"], email="bench@pmo.example")
    definitions.deploy_directory([ROOT / "tests" / "fixtures"], "admin")
    first = instances.start("simple_approval", instances.Actor.of(user_queries.get("maria")), {"title": "Seed"})
    db.session.commit()
    version_id = first.process_version_id
    state = json.dumps(first.state)
    base_id = first.id + 1
    db.session.commit()  # end the read transaction: it would keep an old snapshot (SQLite WAL)
    n_instances = n_tasks // TASKS_PER_INSTANCE + 1
    now = datetime.now(UTC)
    instance_rows = [{"id": base_id + i, "process_version_id": version_id, "process_key": "simple_approval",
                      "status": "running", "business_key": f"project:{1 + i % PROJECTS}",
                      "started_by": "bench_sponsor" if i % 1000 == 0 else f"user{i % 400}",
                      "created_at": now, "updated_at": now, "state": state, "serializer_version": "1",
                      "waiting": "{}", "lock_version": 1} for i in range(n_instances)]
    instance_ids = [r["id"] for r in instance_rows]
    tasks, candidates = _rows(n_tasks, mine, instance_ids, version_id)
    engine = db.engine
    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            with raw.cursor() as cur:
                _copy(cur, "process_instances", instance_rows)
                _copy(cur, "human_tasks", tasks)
                _copy(cur, "human_task_candidates", candidates)
            raw.commit()
        finally:
            raw.close()
    else:
        def value(v):  # noqa: ANN001, ANN202 - SQLite stores DateTime as naive UTC text
            return v.astimezone(UTC).replace(tzinfo=None).isoformat(" ") if isinstance(v, datetime) else v

        with engine.begin() as conn:
            for table, rows in (("process_instances", instance_rows), ("human_tasks", tasks),
                                ("human_task_candidates", candidates)):
                columns = list(rows[0])
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
                for chunk in range(0, len(rows), 20000):
                    conn.exec_driver_sql(sql, [tuple(value(r[c]) for c in columns) for r in rows[chunk:chunk + 20000]])
    _seed_projects(engine, n_raid)
    import seeding

    with engine.begin() as conn:
        conn.execute(text(seeding.CLOSE_FINISHED_CANDIDATES))
        conn.execute(text(seeding.COPY_TASK_BUSINESS_KEYS))
        conn.execute(text("ANALYZE"))
    db.session.commit()
    return time.perf_counter() - started


def _seed_projects(engine, n_raid: int) -> None:  # noqa: ANN001
    """The projects behind the instances' business keys, and ``n_raid`` RAID entries over them (the
    Projects badge counts the user's overdue open ones): one in 400 is the user's, half of those overdue."""
    import seeding

    from app.projects.models import RaidKind
    today = datetime.now(UTC).date()
    rows = seeding.project_rows(PROJECTS, today)
    kinds = [(kind, statuses[0]) for kind, statuses in RaidKind.STATUSES.items()]
    now = datetime.now(UTC)
    raid = [(1 + k % PROJECTS, *kinds[k % len(kinds)], f"Entry {k}", "bench_sponsor" if k % 400 == 0 else f"user{k % 397}",
             today + timedelta(days=(k // 400) % 60 - 30), "bench", now, now, "") for k in range(n_raid)]
    with seeding.bulk_writer(engine) as insert:
        seeding.insert_projects(insert, rows)
        insert("project_raid_items", "project_id, kind, status, title, owner, due_date, created_by, created_at, "
               "updated_at, description", raid)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("SELECT setval('projects_id_seq', (SELECT max(id) FROM projects))")


def _copy(cur, table: str, rows: list[dict]) -> None:  # noqa: ANN001
    columns = list(rows[0])
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def measure(app, username: str, runs: int) -> dict[str, tuple[float, float, int]]:  # noqa: ANN001
    """Per view: median ms, p95 ms and the SQL statements of its last request."""
    import re

    from sqlalchemy import event

    from app.core.extensions import db
    from app.people import queries as user_queries
    from app.people.actor import Actor
    from app.projects.queries import needs_me_count
    statements = [0]

    def count(*_args) -> None:  # noqa: ANN002
        statements[0] += 1

    event.listen(db.engine, "before_cursor_execute", count)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": username, "password": username if username != "bench_sponsor"
                                else "bench-password-1", "csrf_token": token})
    results = {}
    for name, path in VIEWS:
        if path is None:
            sig = client.get("/inbox/live?view=available").get_json()["signature"]
            path = f"/inbox/live?view=available&sig={sig}"
        times = []
        for i in range(runs + 2):
            statements[0] = 0
            t0 = time.perf_counter()
            response = client.get(path)
            elapsed = (time.perf_counter() - t0) * 1000
            assert response.status_code in (200, 204), (path, response.status_code)
            if i >= 2:  # two warm-up requests
                times.append(elapsed)
        results[name] = _summary(times, statements[0])
    times = []
    actor = Actor.of(user_queries.get(username))
    for i in range(runs + 2):  # the layout's Projects badge alone (every page above includes it)
        statements[0] = 0
        t0 = time.perf_counter()
        needs_me_count(actor, date.today())
        if i >= 2:
            times.append((time.perf_counter() - t0) * 1000)
    results["Projects badge alone"] = _summary(times, statements[0])
    event.remove(db.engine, "before_cursor_execute", count)
    return results


def _summary(times: list[float], statements: int) -> tuple[float, float, int]:
    times.sort()
    return (statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)], statements)


def run(url: str, label: str, args) -> None:  # noqa: ANN001
    import gc

    from app import create_app
    from app.core import gc_tuning
    from app.core.extensions import db
    from app.inbox import queries as inbox
    from app.people.actor import Actor
    from app.projects.queries import needs_me_count
    # The bench freezes the collector itself (below), so each pass knows which state it ran in.
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": False, "WTF_CSRF_ENABLED": True,
                      "GC_FREEZE_AFTER_REQUESTS": 0})
    with app.app_context():
        db.drop_all()
        db.create_all()
        seconds = seed(app, args.tasks, args.mine, args.raid)
        username = "bench_sponsor"
        counts = inbox.counts(username, ["sponsor"])
        badge = needs_me_count(Actor(username, frozenset({"sponsor"})), date.today())
        db.session.remove()
    print(f"\n== {label}: {args.tasks:,} tasks, {args.mine:,} open for the user's role, {args.raid:,} RAID entries;"
          f" seeded in {seconds:.1f} s")
    print(f"   counts for {username}: {counts}; Projects badge {badge}")
    passes = {}
    def one_pass() -> dict:
        gc.collect()  # each pass starts from a full collection, as the frozen one does
        with app.test_request_context():  # its own: the signed-in user is remembered in g
            return measure(app, username, args.runs)

    passes["collector as is"] = one_pass()
    if not args.no_gc_compare:
        frozen = gc_tuning.freeze_now()  # what a warm server does after GC_FREEZE_AFTER_REQUESTS
        passes[f"frozen ({frozen:,} objects)"] = one_pass()
        gc.unfreeze()
        passes["unfrozen again"] = one_pass()
    names = list(passes)
    print("   median / p95 ms per pass: " + "; ".join(names))
    print(f"   {'view':24} " + " ".join(f"{'pass ' + str(i + 1):>15}" for i in range(len(names)))
          + f" {'statements':>11}")
    for view in passes[names[0]]:
        cells = " ".join(f"{passes[n][view][0]:7.1f}/{passes[n][view][1]:7.1f}" for n in names)
        print(f"   {view:24} {cells} {passes[names[0]][view][2]:11d}")
    print(f"   load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _ensure_pg_database(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}).scalar():
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=500_000)
    parser.add_argument("--mine", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--raid", type=int, default=100_000, help="RAID entries over the 300 projects")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/pmo_inbox_bench")
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-gc-compare", action="store_true",
                        help="one pass only, without the frozen and unfrozen-again passes")
    args = parser.parse_args()
    import app.projects  # noqa: F401 - the projects table, for project names and search

    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{tmp}/bench.db", "SQLite", args)
    if not args.no_pg:
        _ensure_pg_database(args.pg_url)
        run(args.pg_url, "PostgreSQL", args)


if __name__ == "__main__":
    main()
