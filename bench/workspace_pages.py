"""The project manager's pages at the issue's volume: 2,000 projects, each with its lifecycle and a
change request (open and completed human tasks), risks, RAID entries, change decisions, status
reports, milestones, allocations, gate decisions and audit entries. Each page is timed through
Flask's test client, signed in (server time: routing, the queries, the template) and printed as
median and p95 with the SQL statements one request runs:

- the workspace of a typical project (in execution, with open steps held by a user and by a role),
  as its PM and as the PMO; its JSON twice (``/api/v1/projects/<id>/workspace``);
- "My projects" as the PMO, who sees all (first page of 50), filtered, and as a PM (their ten).

    .venv/bin/python bench/workspace_pages.py                      # SQLite (a temporary file)
    .venv/bin/python bench/workspace_pages.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/pmo_b

The PostgreSQL database's tables are dropped and recreated. Target: under 200 ms a page on both.
Never asserts timings.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import seeding  # noqa: E402 - bench/ is not a package

BENCH_PM = "pm7"  # signs in as a PM: manages projects 7, 207, 407, ...
BENCH_PASSWORD = "bench-password"
# Completed steps of a lifecycle (element, title), then its open steps: (element, title, user, role).
LIFECYCLE_DONE = [("write_charter", "Write project charter"), ("sponsor_review", "Authorise charter"),
                  ("register", "Register project"), ("write_plan", "Write the plan baseline"),
                  ("resource_decision", "Decide resource request"), ("pmo_review", "Review the plan"),
                  ("signoff", "Sign off the baseline"), ("report", "Status report"),
                  ("update_milestone", "Update milestone"), ("submit_evidence", "Submit gate evidence")]
LIFECYCLE_OPEN = [("report", "Status report", "pm", None), ("quality_review", "Quality review", None, "quality_lead")]
CHANGE_DONE = [("submit", "Submit change request"), ("assess", "Assess change request")]
CHANGE_OPEN = [("ccb_vote", "Change board vote", None, "ccb_member")]
RAID = [("issue", "open"), ("issue", "resolved"), ("action", "open"), ("action", "done"), ("decision", "agreed"),
        ("decision", "proposed"), ("assumption", "to_validate"), ("dependency", "expected"),
        ("dependency", "at_risk"), ("action", "in_progress")]
AUDIT_ACTIONS = ["start", "complete_task", "claim", "add_risk", "update_risk", "add_action", "update_issue",
                 "timer_fired", "complete_task", "complete_task"]
PAGES = [
    ("workspace (PM)", BENCH_PM, "/projects/{pid}"),
    ("workspace (PMO)", "petra", "/projects/{pid}"),
    ("workspace activity filter", "petra", "/projects/{pid}?activity=complete_task"),
    ("my projects (PMO, all)", "petra", "/projects"),
    ("my projects (PMO, filtered)", "petra", "/projects?phase=execution&q=Project+1"),
    ("my projects (PM)", BENCH_PM, "/projects"),
    ("projects API (PMO)", "petra", "/api/v1/projects?phase=execution"),
]


def _people(insert: seeding.Insert, now: datetime) -> None:
    """The PMs and sponsors the records name, so names resolve (only ``BENCH_PM`` signs in)."""
    from app.people.models import User

    probe = User(username="x")
    probe.set_password(BENCH_PASSWORD)
    users, roles = [], []
    for k in range(200):
        users.append((10_000 + k, f"pm{k}", f"PM Number {k}", probe.password_hash))
        roles.append((10_000 + k, "project_manager"))
    for k in range(80):
        users.append((20_000 + k, f"sponsor{k}", f"Sponsor Number {k}", probe.password_hash))
        roles.append((20_000 + k, "sponsor"))
    insert("users", "id, username, display_name, password_hash, email, active, token_generation, session_generation, "
           "created_at", [(*u, "", True, 0, 0, now) for u in users])
    insert("user_roles", "user_id, role", roles)


def seed(n_projects: int) -> tuple[float, int, int]:
    """Seed and return (seconds, task rows, audit rows)."""
    from app.core.extensions import db

    started = time.perf_counter()
    lifecycle_version = seeding.deploy_shipped("project_lifecycle")
    change_version = seeding.deploy_shipped("change_request")
    rng = random.Random(41)
    now = datetime.now(UTC)
    today = now.date()
    rows = seeding.project_rows(n_projects, today, milestones=5, reports=6, risks=6, changes=3, gates=2)
    instances, tasks, candidates, audits, raid, decisions = [], [], [], [], [], []
    task_no = 0

    def add_tasks(instance: int, key: str, pid: int, done: list, open_: list) -> list[str]:
        nonlocal task_no
        ids = []
        for element, title in done:
            task_no += 1
            tid = f"w{task_no:011d}"
            created = now - timedelta(days=rng.randint(2, 300))
            tasks.append((tid, instance, key, "", key, element, f"{title}: Project {pid}", "completed", 50, created,
                          created + timedelta(days=3), created + timedelta(hours=rng.randint(1, 60)),
                          seeding.pm_of(pid), "[]", seeding.pm_of(pid)))
            candidates.append((tid, None, seeding.pm_of(pid)))
            ids.append(tid)
        for element, title, user, role in open_:
            task_no += 1
            tid = f"w{task_no:011d}"
            created = now - timedelta(days=rng.randint(0, 10))
            # Offered to one user, a task is assigned to them (as the instance service does).
            tasks.append((tid, instance, key, "", key, element, f"{title}: Project {pid}", "ready", 50, created,
                          created + timedelta(days=3), None, None, "[]", seeding.pm_of(pid) if user == "pm" else None))
            candidates.append((tid, role, seeding.pm_of(pid) if user == "pm" else None))
        return ids

    for pid in range(1, n_projects + 1):
        lifecycle, change = pid, n_projects + pid
        instances.append((lifecycle, lifecycle_version, "project_lifecycle", "running", f"project:{pid}",
                          seeding.pm_of(pid), now, now, "{}", "1", "{}", 1))
        instances.append((change, change_version, "change_request", "running", f"project:{pid}",
                          seeding.pm_of(pid), now, now, "{}", "1", "{}", 1))
        done = add_tasks(lifecycle, "project_lifecycle", pid, LIFECYCLE_DONE, LIFECYCLE_OPEN)
        done += add_tasks(change, "change_request", pid, CHANGE_DONE, CHANGE_OPEN)
        for k in range(40):
            action = AUDIT_ACTIONS[k % len(AUDIT_ACTIONS)]
            audits.append((now - timedelta(hours=k * 7 + rng.randint(0, 6)), seeding.pm_of(pid), action,
                           lifecycle if k % 4 else change, done[k % len(done)] if action == "complete_task" else None,
                           "project_lifecycle", "{}"))
        for k, (kind, status) in enumerate(RAID):
            raid.append((pid, kind, f"{kind.title()} {k}", seeding.pm_of(pid) if k % 2 else f"sponsor{pid % 80}",
                         today + timedelta(days=rng.randint(-20, 60)), status,
                         ("high" if k % 3 else "medium") if kind == "issue" else None, seeding.pm_of(pid), now, now))
    for cr_id in range(1, len(rows["change_requests"]) + 1):
        for who, decided_as in (("sam", "sponsor"), ("carla", "ccb member")):
            decisions.append((cr_id, "decision", decided_as, who, rng.choice(["approve", "reject"]), "", now))
    with seeding.bulk_writer(db.engine) as insert:
        _people(insert, now)
        insert("process_instances", seeding.INSTANCE_COLUMNS, instances)
        seeding.insert_projects(insert, rows)
        insert("human_tasks", seeding.TASK_COLUMNS + ", assignee", tasks)
        insert("human_task_candidates", "task_id, role, username", candidates)
        insert("audit_log", "at, actor, action, instance_id, task_id, process_key, details", audits)
        insert("project_raid_items", "project_id, kind, title, owner, due_date, status, severity, created_by, "
               "created_at, updated_at, description", [(*r, "") for r in raid])
        insert("change_decisions", "change_request_id, kind, decided_as, decided_by, decision, reason, decided_at",
               decisions)
    seeding.analyze(db.engine)
    db.session.commit()
    return time.perf_counter() - started, len(tasks), len(audits)


def typical_project(n_projects: int) -> int:
    """The first project of ``BENCH_PM`` in execution (open steps, reports, changes: the fullest page)."""
    from sqlalchemy import select

    from app.core.extensions import db
    from app.projects.models import Project

    return db.session.scalars(select(Project.id).where(Project.project_manager == BENCH_PM,
                                                       Project.phase == "execution").order_by(Project.id)).first()


def run(url: str, label: str, n_projects: int, runs: int) -> None:
    from app import create_app
    from app.core.extensions import db

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": False, "RATELIMIT_ENABLED": False})
    with app.app_context():
        db.drop_all()
        db.create_all()
        seconds, n_tasks, n_audit = seed(n_projects)
        pid = typical_project(n_projects)
        db.session.remove()
    print(f"\n== {label}: {n_projects:,} projects, {n_tasks:,} human tasks, {n_audit:,} audit entries; "
          f"seeded in {seconds:.1f} s; typical project {pid}")
    print(f"   {'page':30} {'median ms':>10} {'p95 ms':>10} {'SQL statements':>15}")
    with app.app_context():
        engine = db.engine
    # Requests outside any pushed context: each gets its own (a shared one would keep the signed-in
    # user in ``g`` across requests and clients).
    clients, tokens = {}, {}
    for name, user, path in PAGES:
        if user not in clients:
            clients[user] = app.test_client()
            seeding.sign_in(clients[user], user, BENCH_PASSWORD if user == BENCH_PM else None)
        headers = {}
        if path.startswith("/api/"):
            if user not in tokens:
                tokens[user] = seeding.api_token(clients[user], user, BENCH_PASSWORD if user == BENCH_PM else None)
            headers = {"Authorization": f"Bearer {tokens[user]}"}
        found = seeding.time_pages(clients[user], engine, [(name, path.format(pid=pid))], runs, headers=headers)
        median, p95, statements = found[name]
        print(f"   {name:30} {median:10.1f} {p95:10.1f} {statements:15d}")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (its tables are recreated); "
                                                           "a temporary SQLite file when empty")
    parser.add_argument("--projects", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    seeding.run_on(args.database_url, run, args.projects, args.runs)


if __name__ == "__main__":
    main()
