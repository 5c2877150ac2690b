"""Moving running change requests to a new version: the dry run and the batch, per instance.

Seeds the demo (`pmo init --demo`), raises N change requests on a project in execution (each waiting
for the PM's assessment), publishes a version 2 of the change process with a PMO check added after
the assessment, then times the dry run over all of them and the batch that moves every movable one
(each instance in its own instance command), and prints the figures. SQLite by default.

    /work/main/.venv/bin/python bench/migration_batch.py --instances 200
    /work/main/.venv/bin/python bench/migration_batch.py --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/pmo_c

Never asserts timings.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent
CHANGE = {"cr_title": "Extra reporting dashboard", "cr_description": "A dashboard for the operations team.",
          "cr_reason": "Requested by operations to follow the migration.", "cost_impact": 8000,
          "schedule_impact_days": 3, "scope_impact": "One more dashboard.", "risk_impact": "low"}


def _with_pmo_check(xml: str) -> str:
    """Version 2: a PMO check between the PM's assessment and the routing (what process owners add)."""
    task = ('    <bpmn:userTask id="pmo_check" name="PMO check">\n'
            '      <bpmn:extensionElements><spiffworkflow:properties>'
            '<spiffworkflow:property name="dataFields" value="pmo_check_note" />'
            '</spiffworkflow:properties></bpmn:extensionElements>\n'
            '      <bpmn:incoming>Flow_assess_route_approval</bpmn:incoming>\n'
            '      <bpmn:outgoing>Flow_pmo_check_route</bpmn:outgoing>\n    </bpmn:userTask>\n')
    xml = xml.replace('    <bpmn:businessRuleTask id="route_approval"', task + '    <bpmn:businessRuleTask id="route_approval"', 1)
    xml = xml.replace("<bpmn:incoming>Flow_assess_route_approval</bpmn:incoming>\n      <bpmn:outgoing>"
                      "Flow_route_approval_route_gw", "<bpmn:incoming>Flow_pmo_check_route</bpmn:incoming>\n"
                      "      <bpmn:outgoing>Flow_route_approval_route_gw", 1)
    xml = xml.replace('<bpmn:sequenceFlow id="Flow_assess_route_approval" sourceRef="assess" targetRef="route_approval" />',
                      '<bpmn:sequenceFlow id="Flow_assess_route_approval" sourceRef="assess" targetRef="pmo_check" />\n'
                      '    <bpmn:sequenceFlow id="Flow_pmo_check_route" sourceRef="pmo_check" targetRef="route_approval" />', 1)
    return xml.replace("<bpmn:flowNodeRef>escalated</bpmn:flowNodeRef>",
                       "<bpmn:flowNodeRef>escalated</bpmn:flowNodeRef>\n        <bpmn:flowNodeRef>pmo_check</bpmn:flowNodeRef>", 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--pg-url", default="", help="PostgreSQL URL (its tables are recreated); SQLite when empty")
    args = parser.parse_args()

    from app import create_app
    from app.core.extensions import db
    from app.definitions import operations as definitions
    from app.instances import migration
    from app.instances.models import MigrationBatch
    from app.migrations import upgrade
    from app.people import queries as user_queries
    from app.people.actor import Actor
    from app.projects import demo
    from app.projects import operations as projects
    from app.projects.models import Phase, Project

    tmp = Path(tempfile.mkdtemp(prefix="pmo-migration-bench-"))
    url = args.pg_url or f"sqlite:///{tmp / 'pmo.db'}"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "SANDBOX_ISOLATION": True})
    with app.app_context():
        if args.pg_url:
            db.drop_all()
            db.session.execute(db.text("DROP TABLE IF EXISTS alembic_version"))
            db.session.commit()
        upgrade()
        from app.people import operations as users

        users.seed_demo_users()
        definitions.deploy_directory([ROOT / "workflows", ROOT / "forms"], "admin")
        demo.seed()
        paul = Actor.of(user_queries.get("paul"))
        owen = Actor.of(user_queries.get("owen"))
        project = db.session.scalars(db.select(Project).where(Project.phase == Phase.EXECUTION)).first()
        started = time.perf_counter()
        for _ in range(args.instances):
            projects.start_change_request(project.id, paul, dict(CHANGE))
        raised = time.perf_counter() - started
        folder = tmp / "v2"
        shutil.copytree(ROOT / "workflows", folder / "workflows")
        shutil.copytree(ROOT / "forms", folder / "forms")
        bpmn = folder / "workflows" / "change_request.bpmn"
        bpmn.write_text(_with_pmo_check(bpmn.read_text()))
        created = [v for v in definitions.deploy_directory([folder / "workflows", folder / "forms"], "owen").created
                   if v.process_key == "change_request"]
        to_version = created[0]

        started = time.perf_counter()
        dry_run = migration.plan("change_request", to_version.version, owen)
        planned = time.perf_counter() - started

        started = time.perf_counter()
        batch = migration.start_batch("change_request", to_version.id, owen)
        migration.run_batch(batch.id)
        moved_in = time.perf_counter() - started
        batch = db.session.get(MigrationBatch, batch.id)
        db.session.refresh(batch)
        n = max(batch.total, 1)
        print(f"database: {'PostgreSQL' if args.pg_url else 'SQLite'}; change requests raised: {args.instances} "
              f"in {raised:.1f} s")
        print(f"dry run over {dry_run.total} instances: {planned * 1000:.0f} ms "
              f"({planned * 1000 / max(dry_run.total, 1):.1f} ms per instance); {dry_run.movable} movable, "
              f"{dry_run.blocked} blocked")
        print(f"batch: {batch.moved} moved, {batch.blocked} blocked, {batch.failed} failed in {moved_in:.2f} s "
              f"({moved_in * 1000 / n:.1f} ms per instance, {n / moved_in:.0f} instances/s)")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
