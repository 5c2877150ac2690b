"""What the resource request's panel costs its task page: the page of the demo's DBA request timed
as the resource manager with the panel and without it (unregistered), request by request
interleaved, over a portfolio of 2,000 bulk-seeded projects with 4,000 allocations (a fifth of them
DBA) besides the demo's. Server time through Flask's test client, signed in; prints median and p95
and the SQL statements one request runs.

    .venv/bin/python bench/request_effect_panel.py                      # SQLite (a temporary file)
    .venv/bin/python bench/request_effect_panel.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/pmo_e

The PostgreSQL database's tables are dropped and recreated. Never asserts timings.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import seeding  # noqa: E402 - bench/ is not a package


def seed(n_projects: int) -> str:
    """The portfolio, then the demo; the id of the demo's open DBA request task."""
    from sqlalchemy import select

    from app.core.extensions import db
    from app.instances.models import HumanTask, TaskStatus
    from app.projects import demo

    seeding.deploy_shipped()
    with seeding.bulk_writer(db.engine) as insert:
        seeding.insert_projects(insert, seeding.project_rows(n_projects, datetime.now(UTC).date()))
    seeding.analyze(db.engine)
    demo.seed()
    db.session.commit()
    return db.session.scalars(select(HumanTask.id).where(HumanTask.element_id == "review_resources",
                                                         HumanTask.status == TaskStatus.READY,
                                                         HumanTask.title.like("%DBA%"))).one()


def run(url: str, label: str, n_projects: int, runs: int) -> None:
    from sqlalchemy import func, select

    from app import create_app
    from app.core.extensions import db
    from app.inbox import task_panels
    from app.portfolio import panels
    from app.projects.models import ResourceAllocation

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": False, "RATELIMIT_ENABLED": False})
    with app.app_context():
        db.drop_all()
        db.create_all()
        started = time.perf_counter()
        task_id = seed(n_projects)
        allocations = db.session.scalar(select(func.count()).select_from(ResourceAllocation))
        dba = db.session.scalar(select(func.count()).select_from(ResourceAllocation)
                                .where(ResourceAllocation.role == "DBA"))
        seconds = time.perf_counter() - started
        engine = db.engine
        db.session.remove()
    print(f"\n== {label}: {n_projects:,} projects, {allocations:,} allocations ({dba:,} DBA); seeded in {seconds:.1f} s")
    client = app.test_client()
    seeding.sign_in(client, "rita")
    path = f"/tasks/{task_id}"
    on = (panels.PROCESS, panels.STEP)
    times: dict[str, list[float]] = {"with the panel": [], "without it": []}
    statements: dict[str, int] = {}
    for i in range(2 * runs + 4):
        name = "with the panel" if i % 2 == 0 else "without it"
        if name == "with the panel":
            task_panels.register(*on)(panels.request_effect_panel)
        else:
            task_panels.unregister(*on)
        with seeding.statement_counter(engine) as counter:
            t0 = time.perf_counter()
            response = client.get(path)
            elapsed = (time.perf_counter() - t0) * 1000
        body = response.get_data(as_text=True)
        assert response.status_code == 200 and (('data-testid="request-effect"' in body) == (name == "with the panel"))
        if i >= 4:
            times[name].append(elapsed)
            statements[name] = counter[0]
    task_panels.register(*on)(panels.request_effect_panel)
    print(f"   {'task page of the DBA request':32} {'median ms':>10} {'p95 ms':>10} {'SQL statements':>15}")
    for name, values in times.items():
        values.sort()
        print(f"   {name:32} {statistics.median(values):10.1f} {seeding.percentile(values, .95):10.1f} "
              f"{statements[name]:15d}")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (its tables are recreated); "
                                                           "a temporary SQLite file when empty")
    parser.add_argument("--projects", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    seeding.run_on(args.database_url, run, args.projects, args.runs)


if __name__ == "__main__":
    main()
