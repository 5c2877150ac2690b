"""Flat cost as an instance loops (issue 15): one status-report loop instance (user task -> script
task -> exclusive gateway back to the user task) completed 500 times through the instance command
path (``app.instances.commands.complete``: lock, load, step, save, inbox sync, audit, commit), on a
SQLite file and on PostgreSQL.

It prints the completion cost at iterations 1, 100, 250 and 500 (median of the 25 completions up to
it; for 1, of the first 25), in wall time and in this process's CPU time (what the command path itself
spends, less moved by other jobs on the machine; on SQLite that is all of it), the ratio last/first of
both (target <= 1.5), and the saved state's size at those iterations (bytes, and growth per
iteration). ``--no-compaction`` runs the same loop with
``engine.compaction`` switched off, as before it existed: that run stops where SpiffWorkflow loses
the ready task (~iteration 334). It never asserts timings.

    flock /tmp/bench.lock .venv/bin/python bench/loop_cost.py [--iterations 500] [--no-compaction]
                                                              [--pg-url URL] [--no-pg]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.engine_overhead import BENCH_PASSWORD, _make_app, _pg_schema, _pg_schema_url  # noqa: E402

MARKS = (1, 100, 250, 500)
WINDOW = 25  # completions per figure: the median of the 25 up to each mark (the first 25 for 1)
TARGET_RATIO = 1.5
LOOP = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="Definitions_status_loop" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="status_loop" name="Status report loop" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="report" />
    <bpmn:userTask id="report" name="Status report {{ turns + 1 }}">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="dataFields" value="rag, summary, done" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="report" targetRef="count" />
    <bpmn:scriptTask id="count"><bpmn:script>turns = turns + 1</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="count" targetRef="more" />
    <bpmn:exclusiveGateway id="more" default="f_again" />
    <bpmn:sequenceFlow id="f_done" sourceRef="more" targetRef="end">
      <bpmn:conditionExpression>done</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_again" sourceRef="more" targetRef="report" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def run(url: str, iterations: int, compaction: bool) -> list[str]:
    from sqlalchemy import select

    from app.core.extensions import db
    from app.definitions import operations as definitions
    from app.engine.bundle import BundleFile
    from app.instances import commands as instances
    from app.instances.models import HumanTask, ProcessInstance, TaskStatus
    from app.people import operations as users

    if not compaction:
        instances.runtime.compact = lambda workflow: 0  # as before engine.compaction
    app = _make_app(url)
    lines = []
    with app.app_context():
        db.drop_all()
        db.create_all()
        users.create("bench", BENCH_PASSWORD, ["admin"], actor="bench")
        definitions.deploy([BundleFile("status_loop.bpmn", LOOP)], "bench")
        actor = instances.Actor("bench", frozenset({"admin"}))
        instance_id = instances.start("status_loop", actor, {"turns": 0}).id
        costs: list[float] = []
        cpu_costs: list[float] = []
        sizes: dict[int, int] = {}
        for turn in range(1, iterations + 1):
            task_id = db.session.scalar(select(HumanTask.id).where(
                HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.READY))
            if task_id is None:
                lines.append(f"  iteration {turn}: no ready task (the instance is "
                             f"{db.session.get(ProcessInstance, instance_id).status}): stopped")
                break
            t0, c0 = time.perf_counter(), time.process_time()
            instances.complete(task_id, actor, {"rag": "green", "summary": f"week {turn} on track", "done": False})
            costs.append(time.perf_counter() - t0)
            cpu_costs.append(time.process_time() - c0)
            if turn in MARKS or turn == iterations:
                db.session.expire_all()
                sizes[turn] = len(db.session.get(ProcessInstance, instance_id).state_json)
                db.session.rollback()  # end the read: PostgreSQL's DROP below would wait on its lock
        db.session.remove()
        db.drop_all()

    def cost_at(mark: int, samples: list[float] = costs) -> float:
        window = samples[:WINDOW] if mark == 1 else samples[max(0, mark - WINDOW):mark]
        return statistics.median(window) * 1000

    reached = [m for m in MARKS if m <= len(costs)]
    for mark in reached:
        lines.append(f"  iteration {mark:>3}: completion {cost_at(mark):6.2f} ms (CPU {cost_at(mark, cpu_costs):6.2f} ms),"
                     f" state {sizes[mark]:>7} B")
    if len(reached) > 1:
        last = reached[-1]
        per_turn = (sizes[last] - sizes[1]) / (last - 1)
        lines.append(f"  ratio {last}/1: {cost_at(last) / cost_at(1):.2f} wall, "
                     f"{cost_at(last, cpu_costs) / cost_at(1, cpu_costs):.2f} CPU (target <= {TARGET_RATIO}); "
                     f"state growth {per_turn:+.1f} B per iteration")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--no-compaction", action="store_true")
    parser.add_argument("--pg-url", default=os.environ.get("PMO_BENCH_PG_URL",
                                                           "postgresql+psycopg://postgres@127.0.0.1:5432/pmo_a"))
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    compaction = not args.no_compaction
    print(f"compaction {'on' if compaction else 'off'}; load average: "
          + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    with tempfile.TemporaryDirectory() as tmp:
        print("SQLite:")
        print("\n".join(run(f"sqlite:///{tmp}/loop.db", args.iterations, compaction)), flush=True)
    if not args.no_pg:
        schema, url = _pg_schema_url(args.pg_url)
        _pg_schema(args.pg_url, schema, create=True)
        try:
            print("PostgreSQL:")
            print("\n".join(run(url, args.iterations, compaction)), flush=True)
        finally:
            _pg_schema(args.pg_url, schema, create=False)
    print("load average after: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
