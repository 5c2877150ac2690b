"""Where scripts, expressions and template renders run: a pool of separate worker processes.

The sandbox (app/engine/sandbox.py) bounds what a script may do between bytecodes and before the
known-costly built-ins, but one C call over containers built within its limits (``sorted`` of
millions of items, ``list.count`` over a million references to a long string) holds the
interpreter for seconds, and in the web process that freezes every other request. So the code
runs here instead, in a worker process: the web thread sends the request over a pipe and waits
without holding the interpreter; on the deadline (budget + ``MARGIN``) the worker is killed
(SIGKILL) and replaced, and the caller gets ``ScriptTimeout``. Each worker also runs under an
address-space limit (``RLIMIT_AS``, set per request: the worker's current size plus the run's
memory limit plus slack), so a single C allocation past the limit fails inside the worker, and a
CPU-time limit as a backstop should the parent ever fail to kill it.

Workers are forked from a ``forkserver`` that has the sandbox preloaded (a fork from the
multi-threaded web process itself is not safe; ``spawn`` would pay the import, ~0.5 s, per
worker). The pool is created lazily in each process (gunicorn and Celery fork after the app is
built) and starts over when it finds itself in a forked child.

What crosses the pipe is pickled. The worker is our code; the answers it sends back are read with
an unpickler that only builds plain data (containers, numbers, text, dates, Decimal, UUID) and the
exception types scripts and templates raise, so even a script that escaped the sandbox could not
make the web process run anything.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import math
import multiprocessing
import multiprocessing.context
import multiprocessing.forkserver
import os
import pickle
import resource
import signal
import threading
import time
import traceback
from functools import lru_cache
from multiprocessing import context, popen_forkserver, reduction, spawn, util
from multiprocessing import process as mp_process
from typing import Any

from . import sandbox as sb

DEFAULT_WORKERS = 4
DEFAULT_MEMORY_LIMIT_MB = 256   # per run, on top of the worker's own size (the sandbox's default budget)
MARGIN = 0.25                   # seconds past the budget before the parent kills the worker
MEMORY_SLACK = 64 * 1024 * 1024  # address space beyond the run's memory limit (the budget's RSS check trips first)
MAX_REPLY = 32 * 1024 * 1024    # bytes of pickled answer the parent accepts
RETIRE_GROWTH = 128 * 1024 * 1024  # a worker that kept this much after a run is replaced
MAX_REQUESTS = 20_000           # and every worker after this many runs (fragmentation, caches)
PRELOAD = ["app.engine.isolation", "app.engine.sandbox", "app.engine.templating", "app.engine.helpers"]

_settings: dict[str, Any] = {"enabled": True, "workers": DEFAULT_WORKERS, "memory_limit_mb": DEFAULT_MEMORY_LIMIT_MB}
_IN_WORKER = False
_KEEP, _RETIRE = b"K", b"R"


def configure(*, enabled: bool | None = None, workers: int | None = None, memory_limit_mb: int | None = None) -> None:
    """Set the pool's size and limits (from the app settings); a running pool is resized lazily."""
    if enabled is not None:
        _settings["enabled"] = bool(enabled)
    if workers is not None:
        _settings["workers"] = max(int(workers), 1)
    if memory_limit_mb is not None:
        _settings["memory_limit_mb"] = max(int(memory_limit_mb), 16)
    pool = _POOL
    if pool is not None and pool.pid == os.getpid():
        pool.size = _settings["workers"]


def enabled() -> bool:
    """Whether code should be sent to a worker (never from inside one)."""
    return _settings["enabled"] and not _IN_WORKER


def default_memory_limit() -> int:
    return _settings["memory_limit_mb"] * 1024 * 1024


class PoolBusy(sb.ScriptTimeout):
    """Every worker stayed busy for the whole budget: the code itself never ran."""


# -- what may come back -------------------------------------------------------------------------------

def _exception_classes(module: Any) -> set[str]:
    return {name for name, value in vars(module).items()
            if isinstance(value, type) and issubclass(value, BaseException)}


def _allowed_globals() -> dict[str, set[str]]:
    import builtins
    import decimal

    import jinja2.exceptions

    allowed = {
        "builtins": _exception_classes(builtins) | {"set", "frozenset", "bytearray", "complex", "range", "slice"},
        "datetime": {"datetime", "date", "time", "timedelta", "timezone"},
        "decimal": _exception_classes(decimal) | {"Decimal"},
        "json.decoder": {"JSONDecodeError"},
        "uuid": {"UUID", "SafeUUID"},
        "jinja2.exceptions": _exception_classes(jinja2.exceptions),
        "app.engine.sandbox": _exception_classes(sb),
        "app.engine.templating": {"TemplateBudgetError"},
    }
    import regex

    allowed.setdefault(regex.error.__module__, set()).add(regex.error.__name__)
    return allowed


_ALLOWED: dict[str, set[str]] | None = None


class _DataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        global _ALLOWED
        if _ALLOWED is None:
            _ALLOWED = _allowed_globals()
        if name in _ALLOWED.get(module, ()):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not plain data")


def loads_data(payload: bytes | memoryview) -> Any:
    """Unpickle an answer from a worker: plain data and known exception types only."""
    return _DataUnpickler(io.BytesIO(payload)).load()


# -- the worker ---------------------------------------------------------------------------------------

_STATM_FD: int | None = None


def _statm() -> tuple[int, int]:
    """(virtual size, resident size) of this process in bytes (one pread of a file kept open)."""
    global _STATM_FD
    if _STATM_FD is None:
        _STATM_FD = os.open("/proc/self/statm", os.O_RDONLY)
    fields = os.pread(_STATM_FD, 128, 0).split()
    return int(fields[0]) * sb._PAGE_SIZE, int(fields[1]) * sb._PAGE_SIZE


def _set_limits(memory_limit: int, seconds: float, vm_size: int) -> None:
    """Address space for this run (it stays set while the answer is pickled), and CPU time as a
    backstop should the parent not kill us on the deadline."""
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (vm_size + memory_limit + MEMORY_SLACK, resource.RLIM_INFINITY))
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CPU, (math.ceil(time.process_time() + seconds) + 5, resource.RLIM_INFINITY))


def _lift_limits() -> None:
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def _script_line(exc: BaseException) -> int | None:
    if isinstance(exc, SyntaxError):
        return None  # it carries its own filename and line
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == sb.SCRIPT_FILENAME]
    return frames[-1].lineno if frames else None


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if the parent can read it back, else a SandboxError naming it."""
    try:
        loads_data(pickle.dumps(exc, pickle.HIGHEST_PROTOCOL))
        return exc
    except Exception:  # noqa: BLE001 - anything that does not round-trip is replaced
        return sb.SandboxError(f"{type(exc).__name__}: {exc}")


def _run(kind: str, args: tuple, memory_limit: int) -> Any:
    if kind == "render":
        from . import templating

        return templating._render_here(*args)
    time_limit, helpers, script_memory_limit, source, context, external = args
    box = sb.Sandbox(time_limit=time_limit, helpers=helpers, memory_limit=script_memory_limit, isolated=False)
    if kind == "evaluate":
        return box.evaluate(source, context, external)
    return box.run_script(source, context, external)


def _serve(request: bytes, app: Any, last: bool) -> bytes:
    """Run one request; answer its pickled reply behind one byte: keep this worker, or it retires."""
    from . import clock

    vm_size, baseline = _statm()
    memory_limit = 0
    try:
        kind, args, offset, calendar, settings, seconds, memory_limit = pickle.loads(request)
        clock.restore(offset)
        clock.CALENDAR = calendar
        app.config.update(settings)
        _set_limits(memory_limit, seconds, vm_size)
        reply: tuple = ("ok", _run(kind, args, memory_limit))
    except MemoryError:
        _lift_limits()
        reply = ("error", sb.ScriptMemoryError(
            f"script exceeded its memory limit of {memory_limit // (1024 * 1024)} MB"), None)
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the caller
        reply = ("error", _portable(exc), _script_line(exc))
    try:
        payload = pickle.dumps(reply, pickle.HIGHEST_PROTOCOL)
        if len(payload) > MAX_REPLY:
            raise sb.SandboxError("the result is too large to return")
    except MemoryError:
        _lift_limits()
        payload = pickle.dumps(("error", sb.ScriptMemoryError("the result is too large to return"), None))
    except sb.SandboxError as exc:
        payload = pickle.dumps(("error", exc, None))
    except Exception as exc:  # noqa: BLE001 - an object pickle cannot write
        payload = pickle.dumps(("error", sb.SandboxError(f"the result is not plain data ({exc})"), None))
    retire = last or _statm()[1] - baseline > RETIRE_GROWTH
    return (_RETIRE if retire else _KEEP) + payload


def _worker_main(conn: Any) -> None:
    """A worker's life: serve requests until the pipe closes (or the parent kills it)."""
    global _IN_WORKER
    _IN_WORKER = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent; it ends us by closing the pipe
    from flask import Flask

    # Template filters read CURRENCY and LOCALE from the current app; the parent sends its values.
    app = Flask("pmo_script_worker")
    app.app_context().push()
    served = 0
    while True:
        try:
            request = conn.recv_bytes()
        except (EOFError, OSError):
            return
        served += 1
        payload = _serve(request, app, served >= MAX_REQUESTS)
        try:
            conn.send_bytes(payload)
        except (OSError, ValueError):
            return
        if payload[:1] == _RETIRE:
            conn.close()
            return


# -- the pool -----------------------------------------------------------------------------------------

class _WorkerPopen(popen_forkserver.Popen):
    """The fork server's launch, minus re-running the parent's ``__main__`` in the worker.

    multiprocessing re-imports the main script in every child it starts (for functions defined
    there); the worker needs nothing from it, and the main script of a server or of a test run
    must not run again (it may even start scripts itself). Otherwise as popen_forkserver.Popen.
    """

    def _launch(self, process_obj: Any) -> None:
        prep_data = spawn.get_preparation_data(process_obj._name)
        prep_data.pop("init_main_from_name", None)
        prep_data.pop("init_main_from_path", None)
        prep_data["authkey"] = process_obj.authkey
        buf = io.BytesIO()
        context.set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            context.set_spawning_popen(None)
        self.sentinel, w = multiprocessing.forkserver.connect_to_new_process(self._fds)
        _parent_w = os.dup(w)
        self.finalizer = util.Finalize(self, util.close_fds, (_parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = multiprocessing.forkserver.read_signed(self.sentinel)


class _WorkerProcess(multiprocessing.context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> Any:  # noqa: N802 - multiprocessing's name
        return _WorkerPopen(process_obj)

    def start(self) -> None:
        """BaseProcess.start without its refusal in daemonic processes: Celery's prefork children
        are daemonic, and they run scripts too. The worker never has children of its own, and the
        fork server (not this process) is its parent."""
        self._check_closed()
        assert self._popen is None, "cannot start a process twice"
        mp_process._cleanup()
        self._popen = self._Popen(self)
        self._sentinel = self._popen.sentinel
        del self._target, self._args, self._kwargs
        mp_process._children.add(self)


class _Worker:
    def __init__(self, ctx: Any) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = _WorkerProcess(target=_worker_main, args=(child,), name="pmo-script-worker", daemon=True)
        # Its own settings, not a copy of this process's: in a Celery child those hold billiard's
        # authkey, which refuses to be pickled outside billiard's own launch.
        self.process._config = {"authkey": mp_process.AuthenticationString(os.urandom(32)), "daemon": True}
        try:
            self.process.start()
        finally:
            child.close()

    def stop(self, kill: bool = True) -> int | None:
        """End the worker (SIGKILL unless it is already gone) and reap it; its exit code."""
        with contextlib.suppress(Exception):
            self.conn.close()
        if kill:
            with contextlib.suppress(Exception):
                self.process.kill()
        self.process.join(timeout=5)
        if self.process.exitcode is None:
            with contextlib.suppress(Exception):
                self.process.kill()
            self.process.join(timeout=5)
        code = self.process.exitcode
        with contextlib.suppress(Exception):
            self.process.close()
        return code


_SIGNALS_OF_MEMORY = {-signal.SIGKILL, -signal.SIGABRT, -signal.SIGSEGV, -signal.SIGBUS}


class ScriptPool:
    """Worker processes, grown on demand up to ``size``; thread-safe."""

    def __init__(self, size: int) -> None:
        self.pid = os.getpid()
        self.size = size
        self._cond = threading.Condition(threading.Lock())
        self._idle: list[_Worker] = []
        self._busy = 0      # workers handed out or being started
        self._closed = False
        self._ctx = multiprocessing.get_context("forkserver")
        if sorted(PRELOAD) != sorted(getattr(multiprocessing.forkserver._forkserver, "_preload_modules", [])):
            self._ctx.set_forkserver_preload(PRELOAD)

    def _acquire(self, deadline: float) -> _Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise sb.SandboxError("the script worker pool is shut down")
                if self._idle:
                    self._busy += 1
                    return self._idle.pop()
                if self._busy < self.size:
                    self._busy += 1
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise PoolBusy("no script worker was free within the script's time limit")
                self._cond.wait(remaining)
        try:
            return _Worker(self._ctx)
        except BaseException:
            self._done(None)
            raise

    def _done(self, worker: _Worker | None) -> None:
        """Give back a worker (None: it is gone)."""
        with self._cond:
            self._busy -= 1
            if worker is not None and not self._closed and len(self._idle) + self._busy < self.size:
                self._idle.append(worker)
                worker = None
            self._cond.notify()
        if worker is not None:
            worker.stop(kill=False)

    def prestart(self) -> None:
        """Start one worker in the background now, so the process's first script does not wait for it
        (a fork server and its preloaded sandbox: about 0.5 s quiet, up to 3 s on a busy machine)."""
        self._replace_soon()

    def _replace_soon(self) -> None:
        """Start a worker in the background for one that is gone, so the next caller finds it ready."""
        with self._cond:
            if self._closed or self._idle or self._busy >= self.size:
                return
            self._busy += 1

        def start() -> None:
            try:
                worker = _Worker(self._ctx)
            except Exception:  # noqa: BLE001 - the next caller starts one itself
                self._done(None)
                return
            self._done(worker)

        threading.Thread(target=start, name="pmo-script-worker-start", daemon=True).start()

    def call(self, kind: str, args: tuple, seconds: float, memory_limit: int) -> Any:
        """Run one request in a worker within ``seconds`` (+ MARGIN); return its result or raise its error."""
        from flask import current_app, has_app_context

        from . import clock

        config = current_app.config if has_app_context() else {}
        settings = {key: config.get(key) for key in ("CURRENCY", "LOCALE")}
        try:
            request = pickle.dumps((kind, args, clock.snapshot(), clock.CALENDAR, settings, seconds, memory_limit),
                                   pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - data that is not plain data cannot be sent
            raise sb.SandboxError(f"the data cannot be passed to a script worker ({exc})") from None
        wait_until = time.monotonic() + seconds
        worker = self._acquire(wait_until)
        while not worker.process.is_alive():  # ended while idle (killed from outside)
            worker.stop()
            self._done(None)
            worker = self._acquire(wait_until)
        ok = False
        try:
            try:
                worker.conn.send_bytes(request)
                deadline = time.monotonic() + seconds + MARGIN
                if not worker.conn.poll(max(deadline - time.monotonic(), 0)):
                    raise sb.ScriptTimeout(f"script exceeded its time limit of {seconds:g} s")
                payload = worker.conn.recv_bytes(MAX_REPLY + 4096)
            except (EOFError, OSError) as exc:
                code = worker.stop()
                worker = None
                if code in _SIGNALS_OF_MEMORY or code == 1:
                    raise sb.ScriptMemoryError(
                        f"script exceeded its memory limit of {memory_limit // (1024 * 1024)} MB"
                        f" (the worker ended with {code})") from None
                raise sb.SandboxError(f"the script worker ended unexpectedly ({code})") from exc
            ok = True
        finally:
            if ok and payload[:1] == _KEEP:
                self._done(worker)
            else:
                self._done(None)
                if worker is not None:  # killed on its deadline, or it retires after this answer
                    worker.stop(kill=not ok)
                self._replace_soon()
        try:
            reply = loads_data(memoryview(payload)[1:])
        except pickle.UnpicklingError as exc:
            raise sb.SandboxError(f"the result is not plain data ({exc})") from None
        if reply[0] == "ok":
            return reply[1]
        _raise(reply[1], reply[2])

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for worker in idle:
            worker.stop(kill=False)

    def stats(self) -> dict[str, int]:
        with self._cond:
            return {"idle": len(self._idle), "busy": self._busy, "size": self.size}


@lru_cache(maxsize=256)
def _raiser(line: int) -> Any:
    return compile("\n" * (line - 1) + "raise __pmo_error__", sb.SCRIPT_FILENAME, "exec")


def _raise(exc: BaseException, line: int | None) -> None:
    """Raise ``exc`` with a traceback frame at ``line`` of the script, as if it had run here: the
    engine reports the line from the script's frames (app/engine/runtime.py)."""
    if line:
        exec(_raiser(line), {"__pmo_error__": exc, "__builtins__": {}})  # noqa: S102
    raise exc


_POOL: ScriptPool | None = None
_POOL_LOCK = threading.Lock()


def pool() -> ScriptPool:
    """This process's pool (a new one in a forked child: the parent's workers are the parent's)."""
    global _POOL
    current = _POOL
    if current is not None and current.pid == os.getpid():
        return current
    with _POOL_LOCK:
        if _POOL is None or _POOL.pid != os.getpid():
            _POOL = ScriptPool(_settings["workers"])
        return _POOL


def warm_up() -> None:
    """A serving process starts its first script worker before its first request needs it."""
    if enabled():
        pool().prestart()


def call(kind: str, args: tuple, seconds: float, memory_limit: int | None) -> Any:
    """Run in this process's pool; the address-space headroom is the run's memory limit, capped by the setting."""
    cap = default_memory_limit()
    return pool().call(kind, args, seconds, min(memory_limit, cap) if memory_limit is not None else cap)


def shutdown() -> None:
    global _POOL
    with _POOL_LOCK:
        current, _POOL = _POOL, None
    if current is not None and current.pid == os.getpid():
        current.close()


def _after_fork_in_child() -> None:
    """A forked child (a gunicorn or Celery worker) starts its own pool and its own fork server."""
    global _POOL, _POOL_LOCK
    _POOL = None  # the parent's workers are not ours to use or end
    _POOL_LOCK = threading.Lock()
    server = getattr(multiprocessing.forkserver, "_forkserver", None)
    if server is not None and getattr(server, "_forkserver_pid", None) is not None:
        with contextlib.suppress(Exception):
            os.close(server._forkserver_alive_fd)
        server._forkserver_pid = None
        server._forkserver_address = None
        server._forkserver_alive_fd = None
        server._lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(shutdown)
