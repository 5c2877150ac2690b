"""The workspace's "You are here" diagram on the demo projects: what reading the lifecycle instance's
progress costs (restoring its state, then the walk over the task tree), and the server time of the
workspace page, its marks JSON and its BPMN file through Flask's test client, signed in as admin.

    .venv/bin/python bench/workspace_diagram.py [--runs 30]

SQLite in a temporary folder (``pmo init --demo`` done in-process). Prints median and p95 in ms
per project and part; never asserts timings. Check ``uptime`` first: 2 shared cores move figures.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent


def _timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    fn()  # warm-up: caches, first query plans
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    from sqlalchemy import select

    from app import create_app
    from app.core.extensions import db
    from app.definitions import operations as definitions
    from app.engine import runtime
    from app.instances import commands as instances
    from app.migrations import upgrade
    from app.people import operations as users
    from app.projects import demo
    from app.projects.models import Project

    folder = Path(tempfile.mkdtemp(prefix="pmo-bench-diagram-"))
    app = create_app({"DATABASE_URL": f"sqlite:///{folder / 'pmo.db'}", "SECRET_KEY": "bench-secret"})
    with app.app_context():
        upgrade()
        users.seed_demo_users()
        definitions.deploy_directory([ROOT / "workflows", ROOT / "forms"], "admin")
        demo.seed()
        projects = [(p.id, p.name, p.phase, p.lifecycle_instance_id) for p in db.session.scalars(select(Project))]
        client = app.test_client()
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
        client.post("/login", data={"username": "admin", "password": "admin", "csrf_token": token})

        print(f"{'project':34} {'part':24} {'median ms':>10} {'p95 ms':>8}")
        for project_id, name, phase, instance_id in projects:
            instance = instances.get(instance_id)
            engine = instances._script_engine(instance, instances.SYSTEM, instance.process_key)
            workflow = instances._load(instance, engine)
            parts = {
                "restore + walk": lambda instance=instance: instances.instance_progress(instance),
                "walk only": lambda workflow=workflow: runtime.workflow_progress(workflow),
                "workspace page": lambda pid=project_id: client.get(f"/projects/{pid}"),
                "marks JSON (lifecycle)": lambda pid=project_id: client.get(f"/projects/{pid}/diagram.json"),
                "BPMN file (lifecycle)": lambda pid=project_id: client.get(f"/projects/{pid}/diagram.bpmn"),
            }
            label = f"{name[:18]} ({phase})"
            for part, fn in parts.items():
                median, p95 = _timed(fn, args.runs)
                print(f"{label:34} {part:24} {median:10.2f} {p95:8.2f}")
            print(f"{'':34} {'state size':24} {len(instance.state_json) / 1024:9.1f}K")
        db.session.remove()


if __name__ == "__main__":
    main()
