"""The sandbox every process expression and script runs in.

SpiffWorkflow's default environment is plain ``exec``/``eval`` with full builtins, so a script
task, a gateway condition, a timer or a DMN cell could read files or import ``os``. Here every
piece of Python is compiled with RestrictedPython (with the access guards it needs to be safe),
imports are limited to an allow-list, ``**`` and ``*`` are bounded so one line cannot allocate
gigabytes, and a wall-clock budget stops endless loops.
"""

from __future__ import annotations

import _strptime
import ast
import datetime
import decimal
import json
import math
import operator
import re
import sys
import time
from collections.abc import Callable
from functools import lru_cache
from types import CodeType, ModuleType, SimpleNamespace
from typing import Any

from RestrictedPython import RestrictingNodeTransformer, compile_restricted, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr_raise,
)
from RestrictedPython.Limits import limited_builtins

SCRIPT_FILENAME = "<process-script>"
MAX_POW_RESULT_BITS = 1_000_000
MAX_SEQUENCE_REPEAT = 1_000_000


class SandboxError(Exception):
    """A script or expression was refused or failed inside the sandbox."""


class ScriptTimeout(SandboxError):
    """A script ran past its time budget."""


def _module_proxy(module: ModuleType) -> SimpleNamespace:
    """Expose a module's public names but none of the modules it imported (no ``re.sys``)."""
    names = {
        name: value
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }
    return SimpleNamespace(**names)


ALLOWED_MODULES: dict[str, SimpleNamespace] = {
    mod.__name__: _module_proxy(mod) for mod in (datetime, decimal, math, json, re)
}


# C code of allowed modules imports these through the sandbox's ``__import__`` (``date.strftime`` and
# ``timetuple`` import ``time``, ``datetime.strptime`` imports ``_strptime``). CPython's C-level import
# passes ``fromlist`` as a list, which an ``import`` statement never does, so scripts still cannot
# import them; and they only get the one or two names the C code calls.
_C_LEVEL_MODULES: dict[str, SimpleNamespace] = {
    "time": SimpleNamespace(strftime=time.strftime, struct_time=time.struct_time),
    "_strptime": SimpleNamespace(_strptime_datetime=_strptime._strptime_datetime),
}


def _guarded_import(name: str, globals=None, locals=None, fromlist=(), level=0):  # noqa: A002
    if level == 0 and isinstance(fromlist, list) and name in _C_LEVEL_MODULES:
        return _C_LEVEL_MODULES[name]
    if level != 0 or name not in ALLOWED_MODULES:
        allowed = ", ".join(sorted(ALLOWED_MODULES))
        raise ImportError(f"import of '{name}' is not allowed in process scripts (allowed: {allowed})")
    return ALLOWED_MODULES[name]


def _guarded_pow(base: Any, exp: Any, mod: Any = None) -> Any:
    if isinstance(base, int) and isinstance(exp, int) and exp > 0 and mod is None:
        if max(base.bit_length(), 1) * exp > MAX_POW_RESULT_BITS:
            raise SandboxError(f"result of {base} ** {exp} would be too large")
    return pow(base, exp) if mod is None else pow(base, exp, mod)


def _guarded_mul(left: Any, right: Any) -> Any:
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, (str, bytes, list, tuple)) and isinstance(count, int):
            if len(seq) * count > MAX_SEQUENCE_REPEAT:
                raise SandboxError("sequence repetition would be too large")
    return left * right


_INPLACE_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.add,
    "-=": operator.sub,
    "*=": _guarded_mul,
    "/=": operator.truediv,
    "//=": operator.floordiv,
    "%=": operator.mod,
    "**=": _guarded_pow,
    "<<=": operator.lshift,
    ">>=": operator.rshift,
    "&=": operator.and_,
    "|=": operator.or_,
    "^=": operator.xor,
}


def _inplacevar(op: str, left: Any, right: Any) -> Any:
    try:
        return _INPLACE_OPS[op](left, right)
    except KeyError:
        raise SandboxError(f"operator {op} is not allowed") from None


class _PmoPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus bounded ``**`` and ``*``."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = self.node_contents_visit(node)
        helper = {ast.Pow: "_pow_", ast.Mult: "_mul_"}.get(type(node.op))
        if helper is None:
            return node
        func = ast.copy_location(ast.Name(id=helper, ctx=ast.Load()), node)
        call = ast.Call(func=func, args=[node.left, node.right], keywords=[])
        return ast.fix_missing_locations(ast.copy_location(call, node))


def _builtins() -> dict[str, Any]:
    allowed = dict(safe_builtins)
    allowed.update(limited_builtins)
    for name in ("sum", "min", "max", "any", "all", "enumerate", "sorted", "reversed", "map", "filter",
                 "dict", "list", "set", "frozenset", "tuple", "zip"):
        allowed[name] = __builtins__[name] if isinstance(__builtins__, dict) else getattr(__builtins__, name)
    allowed["__import__"] = _guarded_import
    return allowed


BASE_GLOBALS: dict[str, Any] = {
    "__builtins__": _builtins(),
    "_getattr_": safer_getattr_raise,
    "_getitem_": default_guarded_getitem,
    "_getiter_": iter,
    "_write_": full_write_guard,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_inplacevar_": _inplacevar,
    "_pow_": _guarded_pow,
    "_mul_": _guarded_mul,
    **ALLOWED_MODULES,
}
RESERVED_NAMES = frozenset(BASE_GLOBALS)


@lru_cache(maxsize=4096)
def compile_code(source: str, mode: str) -> CodeType:
    """Compile ``source`` ("exec" for scripts, "eval" for expressions) under the sandbox policy.

    Raises ``SyntaxError`` with the line number and RestrictedPython's reasons.
    """
    if mode == "eval":
        source = source.strip()
    return compile_restricted(source, filename=SCRIPT_FILENAME, mode=mode, policy=_PmoPolicy)


def check_compiles(source: str, mode: str) -> str | None:
    """Return why ``source`` does not compile in the sandbox, or None when it does."""
    try:
        compile_code(source, mode)
    except SyntaxError as exc:
        return str(exc.msg if exc.msg else exc)
    return None


class _Deadline:
    """Raise ScriptTimeout from inside the script's own frames once the budget is spent."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.seconds = seconds

    def _check(self) -> None:
        if time.monotonic() > self.deadline:
            raise ScriptTimeout(f"script exceeded its time limit of {self.seconds:g} s")

    def global_trace(self, frame, event, arg):  # noqa: ANN001
        self._check()
        # Opcode-level tracing only in sandboxed code (a one-line ``while True: pass`` emits no line
        # events); library calls run at full speed.
        if frame.f_code.co_filename != SCRIPT_FILENAME:
            return None
        frame.f_trace_opcodes = True
        return self.local_trace

    def local_trace(self, frame, event, arg):  # noqa: ANN001
        self._check()
        return self.local_trace


def run_limited(fn: Callable[[], Any], seconds: float) -> Any:
    previous = sys.gettrace()
    deadline = _Deadline(seconds)
    sys.settrace(deadline.global_trace)
    try:
        return fn()
    finally:
        sys.settrace(previous)


def _check_overwrite(context: dict[str, Any]) -> None:
    clash = RESERVED_NAMES.intersection(context)
    if clash:
        raise SandboxError(
            "task data uses names reserved for script helpers; rename: " + ", ".join(sorted(clash))
        )


def _is_data(value: Any) -> bool:
    return not (callable(value) or isinstance(value, (ModuleType, SimpleNamespace)))


class Sandbox:
    """Evaluates expressions and runs scripts against task data."""

    def __init__(self, time_limit: float = 2.0, helpers: dict[str, Any] | None = None) -> None:
        self.time_limit = time_limit
        self.helpers = dict(helpers or {})

    def _globals(self, context: dict[str, Any], external: dict[str, Any] | None) -> dict[str, Any]:
        _check_overwrite(context)
        glb = dict(BASE_GLOBALS)
        glb.update(self.helpers)
        glb.update(external or {})
        glb.update(context)
        return glb

    def evaluate(self, expression: str, context: dict[str, Any], external: dict[str, Any] | None = None) -> Any:
        code = compile_code(expression, "eval")
        glb = self._globals(context, external)
        return run_limited(lambda: eval(code, glb), self.time_limit)  # noqa: S307 - restricted code

    def execute(self, script: str, context: dict[str, Any], external: dict[str, Any] | None = None) -> None:
        """Run ``script``; the names it leaves that are plain data become the new task data."""
        code = compile_code(script, "exec")
        glb = self._globals(context, external)
        hidden = set(BASE_GLOBALS) | set(self.helpers) | set(external or {})
        run_limited(lambda: exec(code, glb), self.time_limit)  # noqa: S102 - restricted code
        result = {
            key: value
            for key, value in glb.items()
            if (key not in hidden or key in context) and not key.startswith("_") and _is_data(value)
        }
        context.clear()
        context.update(result)
