"""Hostile process scripts against the sandbox: time to refusal, and how a concurrent request fares.

For each payload the script runs in one thread while another thread plays "a request": a small
piece of work every 5 ms whose latency is recorded (it can only run when the script lets go of
the interpreter). Then the per-call cost of the sandbox, before (the previous sandbox, read from
git) and after, for an expression and a small script.

    .venv/bin/python bench/hostile_scripts.py [--limit 2.0] [--before REV]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.engine.sandbox import Sandbox  # noqa: E402

PAYLOADS = {
    "pow(3, 3*10**7)": "y = pow(3, 3*10**7)",
    "3 ** (3*10**7) in an expression": None,  # evaluated, see below
    "math.factorial(10**6)": "import math\ny = math.factorial(10**6)",
    "math.comb(10**7, 10**6)": "import math\ny = math.comb(10**7, 10**6)",
    "re (a+)+$": "import re\ny = re.match('(a+)+$', 'a' * 40 + 'b')",
    "re (a|a)+$ (catastrophic in regex too)": "import re\ny = re.match('(a|a)+$', 'a' * 40 + 'b')",
    "'a'.ljust(2*10**9)": "y = 'a'.ljust(2 * 10**9)",
    "('a'*10**5).replace('a', 'b'*10**5)": "y = ('a' * 10**5).replace('a', 'b' * 10**5)",
    "f'{1:>2000000000}'": "y = f'{1:>2000000000}'",
    "dict growth loop": "d = {}\ni = 0\nwhile True:\n    d[i] = [0] * 100000\n    i += 1",
    "caught timeout, then loop": "n = 0\ntry:\n    while True: pass\nexcept BaseException:\n    pass\nwhile True:\n    n += 1",
    "str() of a 10**9-element shared list": "a = [0] * 1000\nb = [a] * 1000\nc = [b] * 1000\ny = str(c)",
    "decimal prec 10**6": "import decimal\ndecimal.getcontext().prec = 10**6\ny = decimal.Decimal(1) / 3",
    "while True: pass": "while True: pass",
}


def _request_probe(stop: threading.Event, latencies: list[float]) -> None:
    payload = {"status": "ok", "items": list(range(50))}
    while not stop.is_set():
        started = time.perf_counter()
        json.dumps(payload)
        time.sleep(0.005)
        latencies.append(time.perf_counter() - started - 0.005)


def hostile(limit: float) -> None:
    print(f"{'payload':45} {'refused after':>13} {'probe p99':>10} {'probe max':>10}  outcome")
    for label, script in PAYLOADS.items():
        sandbox = Sandbox(time_limit=limit)
        stop, latencies = threading.Event(), []
        probe = threading.Thread(target=_request_probe, args=(stop, latencies))
        probe.start()
        time.sleep(0.02)
        started = time.perf_counter()
        try:
            if script is None:
                sandbox.evaluate("3 ** (3 * 10**7) > 1", {})
            else:
                sandbox.execute(script, {})
            outcome = "ran"
        except Exception as exc:  # noqa: BLE001 - the outcome is what we print
            outcome = f"{type(exc).__name__}: {str(exc)[:50]}"
        elapsed = time.perf_counter() - started
        stop.set()
        probe.join()
        lat = sorted(latencies) or [0.0]
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print(f"{label:45} {elapsed:12.3f}s {p99 * 1000:8.1f}ms {lat[-1] * 1000:8.1f}ms  {outcome}")


def _load_before(rev: str):  # noqa: ANN202
    source = subprocess.run(["git", "show", f"{rev}:app/engine/sandbox.py"], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).resolve().parents[1]).stdout
    path = Path(tempfile.mkdtemp()) / "sandbox_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("sandbox_before", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _per_call(sandbox, n: int) -> tuple[float, float]:  # noqa: ANN001
    data = {f"field_{i}": (f"value {i}" if i % 2 else i) for i in range(40)}
    data.update(amount=1200, lane_owners={"project_manager": ["maria"]}, rows=[{"a": 1, "b": "x"}] * 5)
    script = "total = amount * 2 + len(rows)\nlabel = f'{total} for {field_1}'\nbig = total > 1000"
    results = []
    for kind in ("eval", "exec"):
        samples = []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(n):
                if kind == "eval":
                    sandbox.evaluate("amount > 1000 and field_1 != ''", data)
                else:
                    sandbox.execute(script, dict(data))
            samples.append((time.perf_counter() - started) / n)
        results.append(statistics.median(samples))
    return results[0], results[1]


def overhead(before_rev: str, n: int) -> None:
    before = _load_before(before_rev).Sandbox(time_limit=2.0)
    after = Sandbox(time_limit=2.0)
    be, bx = _per_call(before, n)
    ae, ax = _per_call(after, n)
    print(f"\nper call ({n} calls x 5, median)      before      after   ratio")
    print(f"evaluate('amount > 1000 and ...')  {be * 1e6:8.1f}us {ae * 1e6:8.1f}us  {ae / be:5.2f}")
    print(f"execute(3-line script, 45 keys)    {bx * 1e6:8.1f}us {ax * 1e6:8.1f}us  {ax / bx:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=float, default=2.0, help="time budget per script (s)")
    parser.add_argument("--before", default="8b3c4da", help="git revision of the sandbox to compare with")
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    hostile(args.limit)
    overhead(args.before, args.calls)


if __name__ == "__main__":
    main()
