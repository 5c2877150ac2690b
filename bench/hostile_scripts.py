"""Hostile process scripts against the sandbox: time to refusal, and how a concurrent request fares.

For each payload the script runs in one thread while another thread plays "a request": a small
piece of work every 5 ms whose latency is recorded (it can only run when the script lets go of
the interpreter). Each payload runs in process (the sandbox's bounds alone) and in the worker
pool (app/engine/isolation.py, the default). Then the per-call cost of both, and what starting
the pool and a worker costs.

    .venv/bin/python bench/hostile_scripts.py [--limit 2.0] [--calls 2000] [--pooled-only]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.engine import isolation  # noqa: E402
from app.engine.sandbox import Sandbox, _rss_bytes  # noqa: E402

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
    # One C call over containers built within the limits: only a separate process bounds these.
    "sorted() of 8 million pairs": (
        "b = [str(i) for i in range(999)] * 1000\nc = [str(i) for i in range(998)] * 1001\n"
        "a = list(zip(b, c))\nfor _ in range(3):\n    a.extend(a)\nn = len(sorted(a))\na = b = c = None"),
    "list.count over 200,000 refs to 1 MB": "s = 'a' * 10**6\nl = [s] * 200000\nn = l.count('a' * 10**6)",
    "list(zip()) after extends (2 GB)": "a = [0] * 10**6\nfor _ in range(4):\n    a.extend(a)\nb = list(zip(a, a))",
    "extend to 1 GB (memory bomb)": "a = [0] * 10**6\nfor _ in range(7):\n    a.extend(a)",
}


def _request_probe(stop: threading.Event, latencies: list[float]) -> None:
    payload = {"status": "ok", "items": list(range(50))}
    while not stop.is_set():
        started = time.perf_counter()
        json.dumps(payload)
        time.sleep(0.005)
        latencies.append(time.perf_counter() - started - 0.005)


def _attack(label: str, script: str | None, limit: float, isolated: bool) -> tuple[float, float, float, str, int]:
    sandbox = Sandbox(time_limit=limit, isolated=isolated)
    stop, latencies = threading.Event(), []
    probe = threading.Thread(target=_request_probe, args=(stop, latencies))
    probe.start()
    time.sleep(0.02)
    rss = _rss_bytes()
    started = time.perf_counter()
    try:
        if script is None:
            sandbox.evaluate("3 ** (3 * 10**7) > 1", {})
        else:
            sandbox.execute(script, {})
        outcome = "ran"
    except Exception as exc:  # noqa: BLE001 - the outcome is what we print
        outcome = f"{type(exc).__name__}: {str(exc)[:40]}"
    elapsed = time.perf_counter() - started
    grown = _rss_bytes() - rss
    stop.set()
    probe.join()
    lat = sorted(latencies) or [0.0]
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    return elapsed, p99, lat[-1], outcome, grown


def hostile(limit: float, modes: list[bool]) -> None:
    print(f"{'payload':40} {'mode':10} {'refused after':>13} {'probe p99':>10} {'probe max':>10} {'RSS +':>7}  outcome")
    for label, script in PAYLOADS.items():
        for isolated in modes:
            elapsed, p99, worst, outcome, grown = _attack(label, script, limit, isolated)
            mode = "pooled" if isolated else "in-process"
            print(f"{label:40} {mode:10} {elapsed:12.3f}s {p99 * 1000:8.1f}ms {worst * 1000:8.1f}ms "
                  f"{grown / 2**20:5.0f}MB  {outcome}", flush=True)


def _per_call(sandbox: Sandbox, n: int) -> tuple[float, float]:
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


def start_cost() -> None:
    """The first call in a fresh process (fork server start and preload, one worker), and one more worker's."""
    code = ("import time; from app.engine.sandbox import Sandbox; s = Sandbox(); t = time.perf_counter(); "
            "s.evaluate('1', {}); print(time.perf_counter() - t)")
    firsts = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                   cwd=Path(__file__).resolve().parents[1]).stdout) for _ in range(3)]
    pool = isolation.pool()
    samples = []
    for _ in range(10):
        started = time.perf_counter()
        worker = isolation._Worker(pool._ctx)
        worker.conn.send_bytes(b"")  # a request it cannot read: it answers with an error, so it is up
        worker.conn.recv_bytes()
        samples.append(time.perf_counter() - started)
        worker.stop()
    print(f"\nfirst call in a fresh process (fork server + preload + worker), median: "
          f"{statistics.median(firsts) * 1000:7.1f} ms")
    print(f"one more worker (fork from the server, first answer), median:          "
          f"{statistics.median(samples) * 1000:7.1f} ms")


def overhead(n: int) -> None:
    here = Sandbox(time_limit=2.0, isolated=False)
    pooled = Sandbox(time_limit=2.0, isolated=True)
    pooled.evaluate("1", {})
    he, hx = _per_call(here, n)
    pe, px = _per_call(pooled, n)
    print(f"\nper call ({n} calls x 5, median)  in-process     pooled   ratio")
    print(f"evaluate('amount > 1000 and ...')  {he * 1e6:8.1f}us {pe * 1e6:8.1f}us  {pe / he:5.1f}")
    print(f"execute(3-line script, 45 keys)    {hx * 1e6:8.1f}us {px * 1e6:8.1f}us  {px / hx:5.1f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=float, default=2.0, help="time budget per script (s)")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--pooled-only", action="store_true", help="skip the in-process runs of the payloads")
    args = parser.parse_args()
    Sandbox().evaluate("1", {})  # the pool's start is measured separately
    hostile(args.limit, [True] if args.pooled_only else [False, True])
    overhead(args.calls)
    start_cost()


if __name__ == "__main__":
    main()
