"""Thread helpers the concurrency tests share: run jobs at the same moment, and watch whether
other threads still get to run while one call works (a request being served meanwhile)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from app.core.extensions import db


def run_together(app, jobs: list[Callable[[], object]]) -> list[object]:  # noqa: ANN001
    """Run each job in its own thread and app context, released together by a barrier; each
    result is the job's return value or the exception it raised."""
    barrier = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)

    def worker(index: int, job: Callable[[], object]) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                results[index] = job()
            except BaseException as exc:  # noqa: BLE001 - reported to the test
                results[index] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    return results


def ticks_during(fn: Callable[[], object]) -> tuple[object, int]:
    """Run ``fn`` while another thread counts how often it got to run; returns (what ``fn``
    returned or raised, the count). A call that holds the interpreter leaves the count near 0."""
    ticks = 0
    stop = threading.Event()

    def probe() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.005)

    thread = threading.Thread(target=probe)
    thread.start()
    time.sleep(0.02)
    ticks = 0
    try:
        result: object = fn()
    except Exception as exc:  # noqa: BLE001 - returned to the test
        result = exc
    stop.set()
    thread.join()
    return result, ticks
