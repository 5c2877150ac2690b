"""Large diagrams: validate, deploy and first start of generated processes of 1,000 / 5,000 / 10,000
elements in two shapes, and what a 20,000-element deploy answers, on SQLite and PostgreSQL.

- chain: one long chain (start, user tasks, script tasks, an exclusive gateway every 10 steps);
- fanout: branches of 24 user tasks behind one exclusive gateway, merged before the end (one branch
  runs; before the prediction horizon SpiffWorkflow predicted every branch on start).

Validate and deploy go through ``POST /api/v1/process-definitions`` (``?validate_only=true`` for validate)
with the Flask test client (in process, bearer token); the first start is
``app.instances.commands.start`` with the per-version spec cache cleared (spec restored from its
stored dict, new workflow, engine steps to the first user task, save), then a second start (warm). It prints seconds per step and the HTTP status of the
20,000-element deploy; it never asserts timings.

    flock /tmp/bench.lock .venv/bin/python bench/large_diagrams.py [--pg-url URL] [--no-pg]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.engine_overhead import BENCH_PASSWORD, _make_app, _pg_schema, _pg_schema_url  # noqa: E402

SIZES = (1_000, 5_000, 10_000)
REFUSED = 20_000
TARGET_START_S = 2.0


def chain(n_elements: int, pid: str) -> bytes:
    """A process of ``n_elements`` BPMN elements (nodes and flows) in one long chain."""
    steps = max(1, (n_elements - 3) // 2)
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
           f'id="Definitions_{pid}" targetNamespace="http://bpmn.io/schema/bpmn">',
           f'<bpmn:process id="{pid}" name="Large {n_elements}" isExecutable="true">', '<bpmn:startEvent id="start" />']
    previous = "start"
    for i in range(steps):
        node = f"t{i}"
        if i % 10 == 5:
            out.append(f'<bpmn:exclusiveGateway id="{node}" default="f{i + 1}" />')
        elif i % 2:
            out.append(f'<bpmn:scriptTask id="{node}"><bpmn:script>x = {i}</bpmn:script></bpmn:scriptTask>')
        else:
            out.append(f'<bpmn:userTask id="{node}" name="Step {i}" />')
        out.append(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{previous}" targetRef="{node}" />')
        previous = node
    out.append(f'<bpmn:sequenceFlow id="f_end" sourceRef="{previous}" targetRef="end" />')
    out.append('<bpmn:endEvent id="end" /></bpmn:process></bpmn:definitions>')
    return "\n".join(out).encode()


def fanout(n_elements: int, pid: str, length: int = 24) -> bytes:
    """A process of about ``n_elements`` elements as branches of ``length`` user tasks behind an
    exclusive gateway (one branch runs; SpiffWorkflow used to predict them all), merged before the end."""
    per_branch = 2 * length + 1  # its tasks, the flows between them and the flow into the merge
    branches = max(1, (n_elements - 6) // per_branch)
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
           f'id="Definitions_{pid}" targetNamespace="http://bpmn.io/schema/bpmn">',
           f'<bpmn:process id="{pid}" name="Large {n_elements}" isExecutable="true">', '<bpmn:startEvent id="start" />',
           '<bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="choose" />',
           '<bpmn:exclusiveGateway id="choose" default="f_b0_0" />', '<bpmn:exclusiveGateway id="merge" />',
           '<bpmn:sequenceFlow id="f_merge" sourceRef="merge" targetRef="end" />', '<bpmn:endEvent id="end" />']
    for b in range(branches):
        previous = "choose"
        for i in range(length):
            node = f"b{b}_{i}"
            out.append(f'<bpmn:userTask id="{node}" name="Branch {b} step {i}" />')
            flow = f'<bpmn:sequenceFlow id="f_{node}" sourceRef="{previous}" targetRef="{node}"'
            if previous == "choose" and b:
                flow += f'><bpmn:conditionExpression>branch == {b}</bpmn:conditionExpression></bpmn:sequenceFlow>'
            else:
                flow += " />"
            out.append(flow)
            previous = node
        out.append(f'<bpmn:sequenceFlow id="f_b{b}_merge" sourceRef="{previous}" targetRef="merge" />')
    out.append("</bpmn:process></bpmn:definitions>")
    return "\n".join(out).encode()


def run(url: str) -> list[str]:
    from app.core.extensions import db
    from app.definitions import queries as definition_queries
    from app.instances import commands as instances
    from app.people import operations as users

    app = _make_app(url)
    lines = []
    with app.app_context():
        db.drop_all()
        db.create_all()
        users.create("bench", BENCH_PASSWORD, ["admin", "process_owner"], actor="bench")
        client = app.test_client()
        token = client.post("/api/v1/auth/token", json={"username": "bench", "password": BENCH_PASSWORD}).json["token"]
        headers = {"Authorization": f"Bearer {token}"}

        def upload(content: bytes, name: str, validate_only: bool):  # noqa: ANN202
            query = "?validate_only=true" if validate_only else ""
            return client.post(f"/api/v1/process-definitions{query}", headers=headers, content_type="multipart/form-data",
                               data={"files": (io.BytesIO(content), name)})

        for (shape, make), n in ((s, n) for s in (("chain", chain), ("fanout", fanout)) for n in SIZES):
            pid = f"large_{shape}_{n}"
            content = make(n, pid)
            t0 = time.perf_counter()
            validated = upload(content, f"{pid}.bpmn", True)
            t1 = time.perf_counter()
            deployed = upload(content, f"{pid}.bpmn", False)
            t2 = time.perf_counter()
            if deployed.status_code not in (200, 201):
                lines.append(f"  {shape} {n:>6} elements: deploy answered {deployed.status_code} {deployed.get_data()[:200]!r}")
                continue
            actor = instances.Actor("bench", frozenset({"admin"}))
            definition_queries.clear_spec_cache()  # as in a worker that never saw this version
            t3 = time.perf_counter()
            instance = instances.start(pid, actor, {"branch": 0})
            t4 = time.perf_counter()
            instances.start(pid, actor, {"branch": 0})
            t5 = time.perf_counter()
            state = len(db.session.get(type(instance), instance.id).state_json)
            lines.append(f"  {shape} {n:>6} elements ({len(content) / 1e6:.2f} MB): validate {t1 - t0:.2f} s "
                         f"({validated.status_code}), deploy {t2 - t1:.2f} s ({deployed.status_code}), "
                         f"first start {t4 - t3:.2f} s (cold), "
                         f"next start {t5 - t4:.3f} s, state {state} B (first-start target < {TARGET_START_S} s "
                         "for 5,000)")
        content = chain(REFUSED, "large_refused")
        t0 = time.perf_counter()
        refused = upload(content, "large_refused.bpmn", False)
        body = refused.get_json(silent=True) or {}
        detail = (body.get("errors") or body.get("detail") or body.get("title") or "")
        lines.append(f"  {REFUSED:>6} elements ({len(content) / 1e6:.2f} MB): deploy answered {refused.status_code} "
                     f"in {time.perf_counter() - t0:.2f} s: {str(detail)[:220]}")
        db.session.remove()  # end the last read: PostgreSQL's DROP would wait on its lock
        db.drop_all()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg-url", default=os.environ.get("PMO_BENCH_PG_URL",
                                                           "postgresql+psycopg://postgres@127.0.0.1:5432/pmo_a"))
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        print("SQLite:")
        print("\n".join(run(f"sqlite:///{tmp}/large.db")))
    if not args.no_pg:
        schema, url = _pg_schema_url(args.pg_url)
        _pg_schema(args.pg_url, schema, create=True)
        try:
            print("PostgreSQL:")
            print("\n".join(run(url)))
        finally:
            _pg_schema(args.pg_url, schema, create=False)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
