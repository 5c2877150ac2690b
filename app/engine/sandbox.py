"""The sandbox every process expression and script runs in.

SpiffWorkflow's default environment is plain ``exec``/``eval`` with full builtins, so a script
task, a gateway condition, a timer or a DMN cell could read files or import ``os``. Here every
piece of Python is compiled with RestrictedPython (with the access guards it needs to be safe),
imports are limited to an allow-list, and a budget bounds what one piece of code may cost.

The budget has two halves, because a trace hook only runs *between* bytecodes:

* between bytecodes, a trace hook stops the code once its wall-clock time is spent or the
  process grew by more than its memory limit (sampled every millisecond);
* inside one C call (which holds the interpreter until it returns), nothing can stop it, so the
  built-ins known to run long or allocate much from small input are bounded *before* they run: ``**``,
  ``*``, ``+``, ``<<``, ``%``, f-string widths, ``pow``, ``int``, ``round``, ``str``/``repr`` of
  huge nested data, the padding/joining/replacing string methods, ``math.factorial`` and friends,
  ``json.dumps``, Decimal precision and size; regular expressions run in the ``regex`` engine with
  a timeout and without holding the interpreter.

Each run also gets its own decimal context, so a script cannot change the arithmetic of the
thread (or of later requests); the module-wide contexts are not reachable.

Where it runs: in a worker process (app/engine/isolation.py), not in the web or Celery process.
Bounding built-ins one by one cannot cover every C call: one that walks or compares large
containers built within the limits (``sorted()`` of millions of items, 5.4 s; ``list.count``
over 200,000 references to a 1 MB string, 6.8 s; ``list(zip())`` over extended lists, 6 s and
1.4 GB) held the interpreter, and with it every other request. In a worker such a call holds only
the worker: the caller waits on a pipe, and on budget + 0.25 s the worker is killed and replaced
(``ScriptTimeout``); an address-space limit per run makes a single huge allocation fail there
(``ScriptMemoryError``). The bounds above stay, inside the worker: they give the clean, early
refusals, and the budget stops pure-Python loops on time.

Measured (bench/hostile_scripts.py): an expression costs ~80 us pooled against ~8 us in process
(~140 against ~27 on a busy machine: pickling the task data both ways, one pipe round trip); the
first call in a process starts the fork server and imports the app there (0.7 s; 2.3 s busy),
each further worker forks from it in ~25 ms. Per step of the engine that is noise next to the
database; against a whole server frozen for seconds it is cheap.
"""

from __future__ import annotations

import _strptime
import ast
import datetime
import decimal
import json
import math
import operator
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from functools import lru_cache
from types import CodeType, ModuleType, SimpleNamespace
from typing import Any

import regex
from RestrictedPython import RestrictingNodeTransformer, compile_restricted, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr_raise,
)
from RestrictedPython.Limits import limited_builtins

from .spiff_globals import DATETIME, SPIFF_GLOBALS

SCRIPT_FILENAME = "<process-script>"
# Code objects the trace hook follows opcode by opcode: scripts and (app/engine/templating.py) Jinja.
TRACED_FILENAMES = {SCRIPT_FILENAME, "<template>"}

MAX_INT_BITS = 100_000            # a 100,000-bit division takes ~5 ms; 1,000,000 bits ~450 ms
MAX_POW_RESULT_BITS = MAX_INT_BITS
MAX_SEQUENCE = 1_000_000          # items of a list or characters of a string one operation may build
MAX_SEQUENCE_REPEAT = MAX_SEQUENCE
MAX_TEXT = 4 * MAX_SEQUENCE       # estimated characters of str()/repr()/json.dumps() of nested data
MAX_FORMAT_WIDTH = 10_000         # width or precision in a format spec
MAX_DECIMAL_PREC = 100            # exp() at precision 1,000 takes 23 ms, at 100,000 five minutes
MAX_DECIMAL_INPUT = 1_000         # characters (or digits) a Decimal may be built from
MAX_MODPOW_COST = 2048 * 2048 ** 1.6  # exponent bits x modulus bits^1.6: pow(a, 2**2048, 2**2048) ~30 ms
MEMORY_CHECK_INTERVAL = 0.001     # seconds between two samples of the process size
DEFAULT_MEMORY_LIMIT = 256 * 1024 * 1024

# int <-> decimal string conversion is quadratic; Python's default limit (4300 digits) keeps it
# cheap. Make sure nothing switched it off (0 = unlimited).
if sys.get_int_max_str_digits() == 0 or sys.get_int_max_str_digits() > 4300:
    sys.set_int_max_str_digits(4300)


class SandboxError(Exception):
    """A script or expression was refused or failed inside the sandbox."""


class ScriptTimeout(SandboxError):
    """A script ran past its time budget."""


class ScriptMemoryError(SandboxError):
    """A script made the process grow past its memory limit."""


def _too_large(what: str) -> SandboxError:
    return SandboxError(f"{what} would be too large")


# -- the running budget -------------------------------------------------------------------------

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss_bytes() -> int:
    """Resident size of this process (Linux /proc; elsewhere the peak from getrusage)."""
    try:
        fd = os.open("/proc/self/statm", os.O_RDONLY)
        try:
            return int(os.read(fd, 128).split()[1]) * _PAGE_SIZE
        finally:
            os.close(fd)
    except (OSError, IndexError, ValueError):  # pragma: no cover - not Linux
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class Budget:
    """Time and memory one run may use; the trace hook and the bounded built-ins consult it.

    The memory baseline is taken at the first sample (after ``MEMORY_CHECK_INTERVAL``), so runs
    that end sooner (nearly all) never read the process size. The hook itself compares the clock
    with one number (``wake``: the deadline or the next sample, whichever is first).
    """

    __slots__ = ("seconds", "deadline", "memory_limit", "next_sample", "wake", "rss_start", "tripped")

    def __init__(self, seconds: float, memory_limit: int | None = DEFAULT_MEMORY_LIMIT) -> None:
        now = time.monotonic()
        self.seconds = seconds
        self.deadline = now + seconds
        self.memory_limit = memory_limit
        self.next_sample = now + MEMORY_CHECK_INTERVAL if memory_limit is not None else float("inf")
        self.wake = min(self.deadline, self.next_sample)
        self.rss_start: int | None = None
        self.tripped: SandboxError | None = None

    def remaining(self) -> float:
        return max(self.deadline - time.monotonic(), 0.0)

    def check(self) -> None:
        """Raise once the budget is spent; raise again on every later check (see ``_budget_``)."""
        if self.tripped is not None:
            raise type(self.tripped)(*self.tripped.args)
        now = time.monotonic()
        if now < self.wake:
            return
        if now > self.deadline:
            self.tripped = ScriptTimeout(f"script exceeded its time limit of {self.seconds:g} s")
            raise self.tripped
        self.next_sample = now + MEMORY_CHECK_INTERVAL
        self.wake = min(self.deadline, self.next_sample)
        rss = _rss_bytes()
        if self.rss_start is None:
            self.rss_start = rss
        elif rss - self.rss_start > self.memory_limit:
            self.tripped = ScriptMemoryError(
                f"script exceeded its memory limit of {self.memory_limit // (1024 * 1024)} MB")
            raise self.tripped

    def global_trace(self, frame, event, arg):  # noqa: ANN001
        if time.monotonic() >= self.wake:
            self.check()
        # Opcode-level tracing only in sandboxed code (a one-line ``while True: pass`` emits no line
        # events); library calls run at full speed.
        if frame.f_code.co_filename not in TRACED_FILENAMES:
            return None
        frame.f_trace_opcodes = True
        return self.local_trace

    def local_trace(self, frame, event, arg):  # noqa: ANN001
        if time.monotonic() >= self.wake:
            self.check()
        return self.local_trace


_STATE = threading.local()


def current_budget() -> Budget | None:
    return getattr(_STATE, "budget", None)


# A clean decimal context per run: the thread's own context (and DefaultContext, which new threads
# copy) is never the one a script changes.
_DECIMAL_BASE = decimal.Context(prec=28, rounding=decimal.ROUND_HALF_EVEN, Emin=-999999, Emax=999999,
                                capitals=1, clamp=0, flags=[],
                                traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow])


def run_limited(fn: Callable[[], Any], seconds: float, memory_limit: int | None = DEFAULT_MEMORY_LIMIT) -> Any:
    """Run ``fn`` under a time and memory budget, in a decimal context of its own."""
    previous_trace = sys.gettrace()
    previous_budget = current_budget()
    budget = Budget(seconds, memory_limit)
    _STATE.budget = budget
    try:
        with decimal.localcontext(_DECIMAL_BASE):
            sys.settrace(budget.global_trace)
            try:
                result = fn()
            finally:
                sys.settrace(previous_trace)
    finally:
        _STATE.budget = previous_budget
    if budget.tripped is not None:  # caught by code between the hook and here: still a failure
        raise type(budget.tripped)(*budget.tripped.args)
    return result


def _budget_() -> None:
    """Called first in every ``except`` and ``finally`` block of sandboxed code.

    When the trace hook raises, CPython switches tracing off; a script that caught the timeout
    would then run unbounded. A spent budget raises again here, so the error always escapes.
    """
    budget = current_budget()
    if budget is not None:
        budget.check()


def _remaining_seconds() -> float:
    budget = current_budget()
    return budget.remaining() if budget is not None else 1.0


# -- bounded operators ----------------------------------------------------------------------------

_SEQUENCES = (str, bytes, bytearray, list, tuple)


def _int_bits(value: Any) -> int:
    return value.bit_length() if isinstance(value, int) else 0


def _check_int(value: Any) -> Any:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise _too_large("integer result")
    return value


def _guarded_pow(base: Any, exp: Any, mod: Any = None) -> Any:
    if isinstance(base, int) and isinstance(exp, int):
        if mod is None:
            if exp > 0 and abs(base) > 1 and base.bit_length() * exp > MAX_INT_BITS:
                raise SandboxError(f"result of {base} ** {exp} would be too large")
        elif isinstance(mod, int) and exp > 0 and exp.bit_length() * max(mod.bit_length(), 1) ** 1.6 > MAX_MODPOW_COST:
            raise SandboxError("modular power is too large to compute")
    elif isinstance(base, decimal.Decimal) or isinstance(exp, decimal.Decimal):
        _check_decimal_operand(base)
        _check_decimal_operand(exp)
    return pow(base, exp) if mod is None else pow(base, exp, mod)


def _check_decimal_operand(value: Any) -> None:
    if isinstance(value, decimal.Decimal) and value.is_finite() and len(value.as_tuple().digits) > MAX_DECIMAL_INPUT:
        raise _too_large("decimal operand")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise _too_large("integer operand")


def _guarded_mul(left: Any, right: Any) -> Any:
    if type(left) is int and type(right) is int:
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise _too_large("integer product")
        return left * right
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, _SEQUENCES) and isinstance(count, int):
            if len(seq) * count > MAX_SEQUENCE:
                raise SandboxError("sequence repetition would be too large")
    if isinstance(left, int) and isinstance(right, int) and _int_bits(left) + _int_bits(right) > MAX_INT_BITS:
        raise _too_large("integer product")
    return left * right


def _guarded_add(left: Any, right: Any) -> Any:
    if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES) and len(left) + len(right) > MAX_SEQUENCE:
        raise SandboxError("concatenation would be too large")
    return left + right


def _guarded_lshift(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int) and left and left.bit_length() + right > MAX_INT_BITS:
        raise _too_large("shifted integer")
    return left << right


_DIGITS = regex.compile(r"\d+")
_PERCENT_SPEC = regex.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d*)(?:\.(\*|\d*))?")


def _check_format_spec(value: Any, spec: str) -> None:
    # Any number in a spec is a fill digit, a width or a precision: bounding them all is simplest.
    if any(len(d) > 6 or int(d) > MAX_FORMAT_WIDTH for d in _DIGITS.findall(spec)):
        raise _too_large("formatted value")
    if (isinstance(value, decimal.Decimal) and value.is_finite() and spec[-1:] in ("f", "F", "%")
            and abs(value.adjusted()) > MAX_FORMAT_WIDTH):
        raise _too_large("formatted decimal")


def _fmt_(value: Any, conversion: int, spec: str) -> str:
    """An f-string field: bounded width/precision, bounded text of nested data."""
    if conversion == 114:
        value = _guarded_repr(value)
    elif conversion == 97:
        _check_text_size(value)
        value = ascii(value)
    elif conversion == 115:
        value = _guarded_str(value)
    elif isinstance(value, (list, tuple, dict, set, frozenset)):
        _check_text_size(value)
    if spec:
        _check_format_spec(value, spec)
    return format(value, spec)


def _guarded_mod(left: Any, right: Any) -> Any:
    if isinstance(left, (str, bytes, bytearray)):
        text = left if isinstance(left, str) else left.decode("latin-1")
        for width, prec in _PERCENT_SPEC.findall(text):
            for part in (width, prec):
                if part == "*" or (part and (len(part) > 6 or int(part) > MAX_FORMAT_WIDTH)):
                    raise _too_large("formatted value")
        for arg in right if isinstance(right, tuple) else (right,):
            _check_text_size(arg)
            if isinstance(arg, decimal.Decimal) and arg.is_finite() and abs(arg.adjusted()) > MAX_FORMAT_WIDTH:
                raise _too_large("formatted decimal")
    return left % right


_INPLACE_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": _guarded_add,
    "-=": operator.sub,
    "*=": _guarded_mul,
    "/=": operator.truediv,
    "//=": operator.floordiv,
    "%=": _guarded_mod,
    "**=": _guarded_pow,
    "<<=": _guarded_lshift,
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


# -- size of nested data --------------------------------------------------------------------------

_TEXTS = (str, bytes, bytearray)
_CONTAINERS = (list, tuple, dict, set, frozenset)
_SIZED = (*_TEXTS, *_CONTAINERS, int)


_BIG_INT = 1 << 64


def _scalar_size(item: Any) -> int:
    if isinstance(item, _TEXTS):
        return len(item) + 3
    if type(item) is int:
        return 2 + item.bit_length() // 3
    return 8


def text_size(value: Any, limit: int = MAX_TEXT, work_limit: int = 2 * MAX_SEQUENCE) -> int:
    """Estimated characters of ``repr(value)`` or its JSON, counting a shared sub-object once per reference.

    A list holding the same list a thousand times, three levels deep, is a few lines of script
    but a billion elements to print or store. Each distinct container is sized once (memo by
    identity), so the estimate costs the number of references, not the expanded size; past
    ``work_limit`` references the value counts as too large, which bounds the estimate's own cost.
    """
    if not isinstance(value, _CONTAINERS):
        return _scalar_size(value)
    memo: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(value, False)]
    work = 0
    while stack:
        item, children_done = stack.pop()
        parts = [*item.keys(), *item.values()] if isinstance(item, dict) else item
        if children_done:
            size = 2 + 4 * len(parts)
            for child in parts:
                if isinstance(child, _CONTAINERS):
                    size += memo.get(id(child), 0)
                elif isinstance(child, _TEXTS):
                    size += len(child)
                elif type(child) is int and not -_BIG_INT < child < _BIG_INT:
                    size += child.bit_length() // 3
                else:
                    size += 8
            memo[id(item)] = min(size, limit + 1)
            continue
        if id(item) in memo:
            continue
        work += len(parts)
        if work > work_limit:
            return limit + 1
        memo[id(item)] = 0  # in progress: a cycle prints as [...]
        stack.append((item, True))
        stack.extend([(c, False) for c in parts if isinstance(c, _CONTAINERS) and id(c) not in memo])
    return memo[id(value)]


def _check_text_size(value: Any) -> None:
    if isinstance(value, (list, tuple, dict, set, frozenset)) and text_size(value) > MAX_TEXT:
        raise _too_large("text of this value")


def _guarded_str(*args: Any, **kwargs: Any) -> str:
    if args:
        _check_text_size(args[0])
    return str(*args, **kwargs)


def _guarded_repr(value: Any) -> str:
    _check_text_size(value)
    return repr(value)


def _guarded_int(*args: Any, **kwargs: Any) -> int:
    if args and isinstance(args[0], decimal.Decimal) and args[0].is_finite() and args[0].adjusted() > 4300:
        raise _too_large("integer of this decimal")
    return _check_int(int(*args, **kwargs))


def _guarded_round(number: Any, *ndigits: Any) -> Any:
    if not ndigits and isinstance(number, decimal.Decimal) and number.is_finite() and number.adjusted() > 4300:
        raise _too_large("integer of this decimal")
    return round(number, *ndigits)


def _guarded_sum(iterable: Any, /, start: Any = 0) -> Any:
    if isinstance(start, (int, float, complex, decimal.Decimal)) and not isinstance(start, bool):
        return sum(iterable, start)
    # Summing lists or tuples re-copies the result for every item, in one C call: add step by step.
    total = start
    for item in iterable:
        total = _guarded_add(total, item)
    return total


class _BoundedTypeMeta(type):
    """``isinstance(x, int)`` and ``int.from_bytes`` keep working on the bounded replacement."""

    _real: type

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, cls._real)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, cls._real)

    def __getattr__(cls, name: str) -> Any:
        return getattr(cls._real, name)


def _bounded_type(real: type, factory: Callable[..., Any]) -> type:
    def __new__(cls, *args: Any, **kwargs: Any) -> Any:  # noqa: N807
        return factory(*args, **kwargs)

    return _BoundedTypeMeta(real.__name__, (), {"_real": real, "__new__": __new__, "__doc__": real.__doc__})


BoundedInt = _bounded_type(int, _guarded_int)
BoundedStr = _bounded_type(str, _guarded_str)


# -- bounded methods ----------------------------------------------------------------------------

def _width_arg(args: tuple, kwargs: dict, name: str = "width") -> int:
    value = args[0] if args else kwargs.get(name, 0)
    return value if isinstance(value, int) else 0


def _check_str_method(s: Any, name: str, args: tuple, kwargs: dict) -> None:
    if not isinstance(s, (str, bytes, bytearray)):
        return
    if name in ("ljust", "rjust", "center", "zfill"):
        size = _width_arg(args, kwargs)
    elif name == "expandtabs":
        tab = _width_arg(args, kwargs, "tabsize") if (args or kwargs) else 8
        size = len(s) + s.count("\t" if isinstance(s, str) else b"\t") * max(tab, 0)
    elif name == "replace":
        old, new = (list(args) + [None, None])[:2]
        if not hasattr(old, "__len__") or not hasattr(new, "__len__"):
            return
        count = args[2] if len(args) > 2 else kwargs.get("count", -1)
        found = len(s) + 1 if len(old) == 0 else s.count(old)
        if isinstance(count, int) and count >= 0:
            found = min(found, count)
        size = len(s) + found * (len(new) - len(old))
    elif name == "translate":
        table = args[0] if args else None
        longest = max((len(v) for v in table.values() if isinstance(v, str)), default=1) if isinstance(table, dict) else 1
        size = len(s) * longest
    else:
        return
    if size > MAX_SEQUENCE:
        raise _too_large(f"result of {name}()")


def _bounded_join(sep: Any, items: Any) -> Any:
    items = list(items)
    try:
        size = len(sep) * max(len(items) - 1, 0) + sum(map(len, items))
    except TypeError:
        return sep.join(items)  # raises the usual TypeError
    if size > MAX_SEQUENCE:
        raise _too_large("result of join()")
    return sep.join(items)


def _bounded_to_bytes(value: int, *args: Any, **kwargs: Any) -> bytes:
    length = args[0] if args else kwargs.get("length", 1)
    if isinstance(length, int) and length > MAX_SEQUENCE:
        raise _too_large("result of to_bytes()")
    return value.to_bytes(*args, **kwargs)


_STR_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs", "replace", "translate"})
_WATCHED = _STR_METHODS | {"join", "to_bytes", "from_bytes", "as_integer_ratio"}


def _bounded_member(obj: Any, name: str, value: Any) -> Any:
    is_text_type = isinstance(obj, type) and issubclass(obj, (str, bytes, bytearray))
    if name in _STR_METHODS and (isinstance(obj, (str, bytes, bytearray)) or is_text_type):
        if is_text_type:
            def unbound(self: Any, *args: Any, **kwargs: Any) -> Any:
                _check_str_method(self, name, args, kwargs)
                return value(self, *args, **kwargs)
            return unbound

        def bound(*args: Any, **kwargs: Any) -> Any:
            _check_str_method(obj, name, args, kwargs)
            return value(*args, **kwargs)
        return bound
    if name == "join" and isinstance(obj, (str, bytes, bytearray)):
        return lambda items: _bounded_join(obj, items)
    if name == "join" and is_text_type:
        return _bounded_join
    if name == "to_bytes" and isinstance(obj, int):
        return lambda *a, **k: _bounded_to_bytes(obj, *a, **k)
    if name == "to_bytes" and obj is int:
        return _bounded_to_bytes
    if name == "from_bytes" and (obj is int or isinstance(obj, int)):
        return lambda *a, **k: _check_int(int.from_bytes(*a, **k))
    if name == "as_integer_ratio" and isinstance(obj, decimal.Decimal):
        def ratio() -> tuple[int, int]:
            if obj.is_finite() and abs(obj.adjusted()) > 4300:
                raise _too_large("integer ratio of this decimal")
            return obj.as_integer_ratio()
        return ratio
    return value


def _guarded_getattr(obj: Any, name: str, *default: Any) -> Any:
    if type(obj) is _BoundedTypeMeta:
        obj = obj._real  # ``str.format`` is refused on the real type, as RestrictedPython does
    value = safer_getattr_raise(obj, name, *default)
    if name in _WATCHED:
        return _bounded_member(obj, name, value)
    return value


# -- allowed modules -------------------------------------------------------------------------------

def _module_proxy(module: ModuleType, exclude: frozenset[str] = frozenset(), **replace: Any) -> SimpleNamespace:
    """Expose a module's public names but none of the modules it imported (no ``re.sys``)."""
    names = {
        name: value
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, ModuleType) and name not in exclude
    }
    names.update(replace)
    return SimpleNamespace(**names)


def _lg_bits(n: int) -> float:
    return math.lgamma(n + 1) / math.log(2) if n > 0 else 0.0


def _factorial(n: Any) -> int:
    if isinstance(n, int) and n > 0 and _lg_bits(n) > MAX_INT_BITS:
        raise _too_large("factorial")
    return math.factorial(n)


def _comb(n: Any, k: Any) -> int:
    if isinstance(n, int) and isinstance(k, int) and 0 < k < n:
        if _lg_bits(n) - _lg_bits(k) - _lg_bits(n - k) > MAX_INT_BITS:
            raise _too_large("binomial coefficient")
    return math.comb(n, k)


def _perm(n: Any, k: Any = None) -> int:
    if isinstance(n, int) and n > 0 and (k is None or isinstance(k, int)):
        kk = n if k is None else min(max(k, 0), n)
        if _lg_bits(n) - _lg_bits(n - kk) > MAX_INT_BITS:
            raise _too_large("permutation count")
    return math.perm(n, k)


def _lcm(*ints: Any) -> int:
    if sum(_int_bits(i) for i in ints) > MAX_INT_BITS:
        raise _too_large("least common multiple")
    return math.lcm(*ints)


def _prod(iterable: Any, *, start: Any = 1) -> Any:
    total = start
    for item in iterable:
        total = _guarded_mul(total, item)
    return total


def _integral(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def bounded(x: Any) -> Any:
        if isinstance(x, decimal.Decimal) and x.is_finite() and x.adjusted() > 4300:
            raise _too_large("integer of this decimal")
        return fn(x)

    bounded.__name__ = fn.__name__
    return bounded


_MATH = _module_proxy(math, factorial=_factorial, comb=_comb, perm=_perm, lcm=_lcm, prod=_prod,
                      floor=_integral(math.floor), ceil=_integral(math.ceil), trunc=_integral(math.trunc))


def _json_dumps(obj: Any, **kwargs: Any) -> str:
    if kwargs.get("cls") is not None:
        raise SandboxError("json.dumps(cls=...) is not allowed in process scripts")
    indent = kwargs.get("indent")
    if (isinstance(indent, int) and indent > 16) or (isinstance(indent, str) and len(indent) > 16):
        raise _too_large("json indent")
    separators = kwargs.get("separators")
    if separators and any(len(str(s)) > 16 for s in separators):
        raise _too_large("json separator")
    if text_size(obj) * (2 if indent else 1) > MAX_TEXT:
        raise _too_large("JSON text")
    return json.dumps(obj, **kwargs)


_JSON = SimpleNamespace(dumps=_json_dumps, loads=json.loads, JSONDecodeError=json.JSONDecodeError)


# Decimal: operations round to the context precision, so bounding the precision and what a
# Decimal is built from bounds every operation.

def _check_prec(name: str, value: Any) -> None:
    if name == "prec" and not (isinstance(value, int) and 1 <= value <= MAX_DECIMAL_PREC):
        raise SandboxError(f"decimal precision must be between 1 and {MAX_DECIMAL_PREC}")
    if name == "Emax" and not (isinstance(value, int) and 0 <= value <= 999999):
        raise SandboxError("decimal Emax must be between 0 and 999999")
    if name == "Emin" and not (isinstance(value, int) and -999999 <= value <= 0):
        raise SandboxError("decimal Emin must be between -999999 and 0")


class DecimalContext:
    """The script's own decimal context: readable, changeable within bounds, never a real Context."""

    _guarded_writes = True  # RestrictedPython's write guard: this class checks its own writes
    _SETTABLE = frozenset({"prec", "rounding", "Emin", "Emax", "capitals", "clamp"})

    def __init__(self, ctx: decimal.Context) -> None:
        object.__setattr__(self, "_ctx", ctx)

    def __getattr__(self, name: str) -> Any:
        if name == "copy":
            return lambda: DecimalContext(self._ctx.copy())
        return getattr(self._ctx, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._SETTABLE:
            raise AttributeError(f"decimal context attribute '{name}' cannot be set here")
        _check_prec(name, value)
        setattr(self._ctx, name, value)

    def __repr__(self) -> str:
        return repr(self._ctx)


def _getcontext() -> DecimalContext:
    return DecimalContext(decimal.getcontext())


class _LocalContext:
    def __init__(self, ctx: DecimalContext | None = None, **kwargs: Any) -> None:
        if ctx is not None and not isinstance(ctx, DecimalContext):
            raise TypeError("localcontext() takes a context from decimal.getcontext()")
        for name, value in kwargs.items():
            _check_prec(name, value)
        self._manager = decimal.localcontext(ctx._ctx if ctx is not None else None, **kwargs)

    def __enter__(self) -> DecimalContext:
        return DecimalContext(self._manager.__enter__())

    def __exit__(self, *exc: Any) -> Any:
        return self._manager.__exit__(*exc)


def _new_decimal(value: Any = "0", context: Any = None) -> decimal.Decimal:
    if context is not None:
        raise SandboxError("Decimal(context=...) is not allowed in process scripts")
    if isinstance(value, str) and len(value) > MAX_DECIMAL_INPUT:
        raise _too_large("Decimal input")
    if isinstance(value, int) and value.bit_length() > MAX_DECIMAL_INPUT * 3.33:
        raise _too_large("Decimal input")
    if isinstance(value, (tuple, list)) and len(value) == 3 and hasattr(value[1], "__len__") \
            and len(value[1]) > MAX_DECIMAL_INPUT:
        raise _too_large("Decimal input")
    return decimal.Decimal(value)


BoundedDecimal = _bounded_type(decimal.Decimal, _new_decimal)
_DECIMAL = _module_proxy(
    decimal,
    exclude=frozenset({"Context", "DefaultContext", "BasicContext", "ExtendedContext", "setcontext",
                       "HAVE_THREADS", "HAVE_CONTEXTVAR"}),
    Decimal=BoundedDecimal, getcontext=_getcontext, localcontext=_LocalContext,
)


# Regular expressions: the ``regex`` engine, with a timeout (the script's remaining budget) and
# ``concurrent=True`` so matching does not hold the interpreter. ``(a+)+$`` runs in linear time
# there, and ``(a|a)+$``, which does not, is stopped.

def _regex_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    # regex overshoots its timeout by about a third; it does not hold the interpreter meanwhile.
    kwargs["timeout"] = max(_remaining_seconds() * 0.75, 0.001)
    kwargs.setdefault("concurrent", True)
    try:
        return fn(*args, **kwargs)
    except TimeoutError as exc:
        raise ScriptTimeout("regular expression exceeded the script's time limit") from exc


def _check_sub(repl: Any, string: Any, count: int = 0) -> None:
    if isinstance(repl, (str, bytes)) and isinstance(string, (str, bytes)):
        matches = len(string) + 1 if count <= 0 else min(count, len(string) + 1)
        if len(string) + matches * len(repl) > MAX_SEQUENCE:
            raise _too_large("result of sub()")


class _Pattern:
    """A compiled pattern whose methods always pass the timeout."""

    def __init__(self, pattern: Any) -> None:
        self._p = pattern
        self.pattern, self.flags, self.groups, self.groupindex = (pattern.pattern, pattern.flags,
                                                                  pattern.groups, dict(pattern.groupindex))

    def search(self, string: Any, *args: Any) -> Any:
        return _regex_call(self._p.search, string, *args)

    def match(self, string: Any, *args: Any) -> Any:
        return _regex_call(self._p.match, string, *args)

    def fullmatch(self, string: Any, *args: Any) -> Any:
        return _regex_call(self._p.fullmatch, string, *args)

    def findall(self, string: Any, *args: Any) -> Any:
        return _regex_call(self._p.findall, string, *args)

    def finditer(self, string: Any, *args: Any) -> Iterator[Any]:
        # Collected here, under the timeout: a lazy iterator would match later without one.
        return iter(_regex_call(lambda *a, **k: list(self._p.finditer(*a, **k)), string, *args))

    def split(self, string: Any, maxsplit: int = 0) -> Any:
        return _regex_call(self._p.split, string, maxsplit)

    def sub(self, repl: Any, string: Any, count: int = 0) -> Any:
        _check_sub(repl, string, count)
        return _regex_call(self._p.sub, repl, string, count)

    def subn(self, repl: Any, string: Any, count: int = 0) -> Any:
        _check_sub(repl, string, count)
        return _regex_call(self._p.subn, repl, string, count)


def _re_compile(pattern: Any, flags: int = 0) -> _Pattern:
    return pattern if isinstance(pattern, _Pattern) else _Pattern(regex.compile(pattern, flags))


def _re_function(name: str) -> Callable[..., Any]:
    def call(pattern: Any, *args: Any, **kwargs: Any) -> Any:
        flags = kwargs.pop("flags", 0)
        return getattr(_re_compile(pattern, flags), name)(*args, **kwargs)

    call.__name__ = name
    return call


_RE = SimpleNamespace(
    compile=_re_compile, escape=regex.escape, error=regex.error,
    **{name: _re_function(name) for name in ("search", "match", "fullmatch", "findall", "finditer", "split",
                                             "sub", "subn")},
    **{flag: getattr(regex, flag) for flag in ("A", "ASCII", "I", "IGNORECASE", "M", "MULTILINE", "S", "DOTALL",
                                               "U", "UNICODE", "X", "VERBOSE")},
)

ALLOWED_MODULES: dict[str, SimpleNamespace] = {
    "datetime": _module_proxy(datetime, datetime=DATETIME),  # datetime.datetime.now() follows the clock
    "decimal": _DECIMAL,
    "math": _MATH,
    "json": _JSON,
    "re": _RE,
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


# -- compiling --------------------------------------------------------------------------------------

_BINOP_HELPERS = {ast.Pow: "_pow_", ast.Mult: "_mul_", ast.Add: "_add_", ast.LShift: "_lshift_", ast.Mod: "_mod_"}


def _helper_call(name: str, args: list[ast.expr], like: ast.AST) -> ast.Call:
    func = ast.copy_location(ast.Name(id=name, ctx=ast.Load()), like)
    return ast.copy_location(ast.Call(func=func, args=args, keywords=[]), like)


class _PmoPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus bounded operators, bounded f-string fields, and a budget
    check first in every ``except`` and ``finally`` block."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = self.node_contents_visit(node)
        helper = _BINOP_HELPERS.get(type(node.op))
        if helper is None:
            return node
        return ast.fix_missing_locations(_helper_call(helper, [node.left, node.right], node))

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        node = self.node_contents_visit(node)
        spec = node.format_spec if node.format_spec is not None else ast.Constant(value="")
        call = _helper_call("_fmt_", [node.value, ast.Constant(value=node.conversion), spec], node)
        return ast.fix_missing_locations(ast.copy_location(
            ast.FormattedValue(value=call, conversion=-1, format_spec=None), node))

    def _budget_check(self, like: ast.AST) -> ast.stmt:
        return ast.fix_missing_locations(ast.copy_location(ast.Expr(value=_helper_call("_budget_", [], like)), like))

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.AST:
        node = super().visit_ExceptHandler(node)
        node.body.insert(0, self._budget_check(node))
        return node

    def visit_Try(self, node: ast.Try) -> ast.AST:
        node = super().visit_Try(node)
        if node.finalbody:
            node.finalbody.insert(0, self._budget_check(node.finalbody[0]))
        return node


def _builtins() -> dict[str, Any]:
    allowed = dict(safe_builtins)
    allowed.update(limited_builtins)
    for name in ("min", "max", "any", "all", "enumerate", "sorted", "reversed", "map", "filter",
                 "dict", "list", "set", "frozenset", "tuple", "zip"):
        allowed[name] = __builtins__[name] if isinstance(__builtins__, dict) else getattr(__builtins__, name)
    allowed.update(pow=_guarded_pow, int=BoundedInt, str=BoundedStr, repr=_guarded_repr, round=_guarded_round,
                   sum=_guarded_sum, __import__=_guarded_import)
    return allowed


BASE_GLOBALS: dict[str, Any] = {
    "__builtins__": _builtins(),
    "_getattr_": _guarded_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": iter,
    "_write_": full_write_guard,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_inplacevar_": _inplacevar,
    "_pow_": _guarded_pow,
    "_mul_": _guarded_mul,
    "_add_": _guarded_add,
    "_lshift_": _guarded_lshift,
    "_mod_": _guarded_mod,
    "_fmt_": _fmt_,
    "_budget_": _budget_,
    "_apply_": lambda fn, *args, **kwargs: fn(*args, **kwargs),  # calls with *args / **kwargs
    **ALLOWED_MODULES,
    # SpiffArena's globals: ``datetime`` is the class (with the module's names), ``time``, ``timedelta``.
    **SPIFF_GLOBALS,
}
# Task data may use ``time`` and ``timedelta`` (SpiffArena models do): the data then wins.
RESERVED_NAMES = frozenset(BASE_GLOBALS) - {"time", "timedelta"}


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


def _check_overwrite(context: dict[str, Any]) -> None:
    clash = RESERVED_NAMES.intersection(context)
    if clash:
        raise SandboxError(
            "task data uses names reserved for script helpers; rename: " + ", ".join(sorted(clash))
        )


def _is_data(value: Any) -> bool:
    return not (callable(value) or isinstance(value, (ModuleType, SimpleNamespace, DecimalContext, _Pattern)))


class Sandbox:
    """Evaluates expressions and runs scripts against task data.

    By default the code runs in a worker process of app/engine/isolation.py (killed on its
    deadline, under an address-space limit); ``isolated=False`` runs it in this process, under the
    same budget (the workers themselves do that).
    """

    def __init__(self, time_limit: float = 2.0, helpers: dict[str, Any] | None = None,
                 memory_limit: int | None = DEFAULT_MEMORY_LIMIT, isolated: bool | None = None) -> None:
        self.time_limit = time_limit
        self.memory_limit = memory_limit
        self.helpers = dict(helpers or {})
        self.isolated = isolated

    def _use_worker(self) -> bool:
        from . import isolation

        return isolation.enabled() if self.isolated is None else self.isolated and not isolation._IN_WORKER

    def _call_worker(self, kind: str, source: str, context: dict[str, Any], external: dict[str, Any] | None) -> Any:
        from . import isolation

        args = (self.time_limit, self.helpers, self.memory_limit, source, context, external)
        return isolation.call(kind, args, self.time_limit, self.memory_limit)

    def _globals(self, context: dict[str, Any], external: dict[str, Any] | None) -> dict[str, Any]:
        _check_overwrite(context)
        glb = dict(BASE_GLOBALS)
        glb.update(self.helpers)
        glb.update(external or {})
        glb.update(context)
        return glb

    def evaluate(self, expression: str, context: dict[str, Any], external: dict[str, Any] | None = None) -> Any:
        if self._use_worker():
            return self._call_worker("evaluate", expression, context, external)
        code = compile_code(expression, "eval")
        glb = self._globals(context, external)
        return run_limited(lambda: eval(code, glb), self.time_limit, self.memory_limit)  # noqa: S307

    def execute(self, script: str, context: dict[str, Any], external: dict[str, Any] | None = None) -> None:
        """Run ``script``; the names it leaves that are plain data become the new task data."""
        if self._use_worker():
            result = self._call_worker("execute", script, context, external)
        else:
            result = self.run_script(script, context, external)
        context.clear()
        context.update(result)

    def run_script(self, script: str, context: dict[str, Any], external: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run ``script`` here; return the names it leaves that are plain data (``context`` is not changed).

        The result is measured before it is kept: data that would expand to gigabytes when the
        engine stores it as JSON is refused here, not later in one C call inside the commit.
        """
        code = compile_code(script, "exec")
        glb = self._globals(context, external)
        hidden = set(BASE_GLOBALS) | set(self.helpers) | set(external or {})

        run_limited(lambda: exec(code, glb), self.time_limit, self.memory_limit)  # noqa: S102
        result = {
            key: value
            for key, value in glb.items()
            if (key not in hidden or key in context) and not key.startswith("_") and _is_data(value)
        }
        nested = [value for value in result.values() if isinstance(value, _CONTAINERS)]
        if nested and text_size(nested) > MAX_TEXT:
            raise SandboxError("task data left by the script would be too large to store")
        return result
