"""Jinja for text that process authors write (task titles, instructions, form values), on a budget.

Jinja's sandbox stops attribute escapes but not cost: a nested loop in a title ran for 58 s inside
an instance's write transaction. Every render here runs under the script sandbox's budget (the
same trace hook follows template code opcode by opcode, with a time and memory limit), and the
operators, methods and filters that build big strings in one C call are bounded first.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from functools import lru_cache
from typing import Any

from jinja2 import Template, TemplateError
from jinja2.filters import do_center, do_indent, do_join, do_replace
from jinja2.sandbox import SandboxedEnvironment

from . import isolation
from . import sandbox as sb

TITLE_SECONDS = 0.05          # titles render inside the instance's write transaction: keep it short
TEXT_SECONDS = 0.5            # instructions and form values, rendered per page view
MAX_OUTPUT = 200_000          # characters a rendered template may have
MEMORY_LIMIT = 64 * 1024 * 1024
_OVER_BUDGET_SIZE = 256


class TemplateBudgetError(sb.SandboxError):
    """A template was refused, or ran past its time, memory or output budget."""


class BudgetedEnvironment(SandboxedEnvironment):
    """Jinja's sandbox plus the script sandbox's bounded operators and string methods."""

    intercepted_binops = frozenset({"*", "**", "+", "%", "<<"})
    _BINOPS = {"*": sb._guarded_mul, "**": sb._guarded_pow, "+": sb._guarded_add, "%": sb._guarded_mod,
               "<<": sb._guarded_lshift}

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        return self._BINOPS[operator](left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        value = super().getattr(obj, attribute)
        return sb._bounded_member(obj, attribute, value) if attribute in sb._WATCHED else value

    def getitem(self, obj: Any, argument: Any) -> Any:
        value = super().getitem(obj, argument)
        if isinstance(argument, str) and argument in sb._WATCHED:
            return sb._bounded_member(obj, argument, value)
        return value


def _width_bounded(fn: Any, position: int = 1) -> Any:
    def bounded(*args: Any, **kwargs: Any) -> Any:
        width = args[position] if len(args) > position else kwargs.get("width", 0)
        if isinstance(width, int) and width > sb.MAX_FORMAT_WIDTH:
            raise TemplateBudgetError("filter width is too large")
        return fn(*args, **kwargs)

    return bounded


def _replace(eval_ctx: Any, s: Any, old: Any, new: Any, count: int | None = None) -> Any:
    sb._check_str_method(str(s), "replace", (str(old), str(new), -1 if count is None else count), {})
    return do_replace(eval_ctx, s, old, new, count)


def _join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> Any:
    items = list(value)
    if len(d) * len(items) + sb.text_size(items) > sb.MAX_SEQUENCE:
        raise TemplateBudgetError("joined text is too large")
    return do_join(eval_ctx, items, d, attribute)


_replace.jinja_pass_arg = do_replace.jinja_pass_arg  # type: ignore[attr-defined]
_join.jinja_pass_arg = do_join.jinja_pass_arg  # type: ignore[attr-defined]


def _format(value: Any, *args: Any, **kwargs: Any) -> str:
    if args and kwargs:
        raise TemplateBudgetError("format takes positional or keyword arguments, not both")
    return sb._guarded_mod(str(value), kwargs or args)


def environment(autoescape: bool = False) -> BudgetedEnvironment:
    from app.core import formatting

    # finalize: a bare boolean reads Yes/No, None nothing, 1800000.0 as 1800000; the filters money,
    # number, percent, yesno and day format by the one rule of app/formatting.py.
    env = BudgetedEnvironment(autoescape=autoescape, finalize=formatting.finalize)
    env.filters.update(center=_width_bounded(do_center), indent=_width_bounded(do_indent), replace=_replace,
                       join=_join, format=_format, **formatting.FILTERS)
    return env


_ENV = environment()
# Renders that ran over budget, by text, then by (budget, data): a later render of the same text
# with the same data and budget is refused at once instead of burning the budget again. Not by
# text alone: a title that timed out on one instance's data must still render for the others.
_OVER_BUDGET: OrderedDict[str, dict[tuple[float, bytes | None], str]] = OrderedDict()
_OVER_BUDGET_PER_TEXT = 16
_OVER_BUDGET_LOCK = threading.Lock()


def _fingerprint(data: dict[str, Any]) -> bytes | None:
    """A digest of ``data`` (None when it cannot be serialised: such renders are never skipped)."""
    try:
        text = json.dumps(data, sort_keys=True, default=repr)
    except (TypeError, ValueError, RecursionError):
        return None
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


@lru_cache(maxsize=2048)
def _compiled(text: str) -> Template:
    """Compiled once per text: compiling costs more than most renders."""
    return _ENV.from_string(text)


def has_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def render(text: str, data: dict[str, Any], seconds: float = TEXT_SECONDS) -> str:
    """Render ``text`` with ``data`` within ``seconds``; raise TemplateError or TemplateBudgetError."""
    refused = _OVER_BUDGET.get(text)
    key = (seconds, _fingerprint(data)) if refused is not None else None  # digest only for such texts
    if refused is not None and key[1] is not None and (reason := refused.get(key)) is not None:
        raise TemplateBudgetError(reason)
    try:
        out = isolation.call("render", (text, data, seconds), seconds, MEMORY_LIMIT) if isolation.enabled() \
            else _render_here(text, data, seconds)
    except (sb.ScriptTimeout, sb.ScriptMemoryError) as exc:
        key = key or (seconds, _fingerprint(data))
        if key[1] is not None and not isinstance(exc, isolation.PoolBusy):  # busy: not this text's fault
            with _OVER_BUDGET_LOCK:
                entries = _OVER_BUDGET.setdefault(text, {})
                entries[key] = str(exc)
                while len(entries) > _OVER_BUDGET_PER_TEXT:
                    del entries[next(iter(entries))]
                _OVER_BUDGET.move_to_end(text)
                while len(_OVER_BUDGET) > _OVER_BUDGET_SIZE:
                    _OVER_BUDGET.popitem(last=False)
        raise TemplateBudgetError(str(exc)) from exc
    if len(out) > MAX_OUTPUT:
        raise TemplateBudgetError(f"rendered text is longer than {MAX_OUTPUT} characters")
    return out


def _render_here(text: str, data: dict[str, Any], seconds: float) -> str:
    """The render itself, in this process (a script worker's, see app/engine/isolation.py)."""
    template = _compiled(text)
    out = sb.run_limited(lambda: template.render(data), seconds, MEMORY_LIMIT)
    if len(out) > MAX_OUTPUT:  # not sent back to be refused there
        raise TemplateBudgetError(f"rendered text is longer than {MAX_OUTPUT} characters")
    return out


def render_or(text: str, data: dict[str, Any], fallback: str, seconds: float = TEXT_SECONDS) -> str:
    """``render`` that answers ``fallback`` when the template is broken or over budget (never a 500)."""
    if not has_template(text):
        return text
    try:
        return render(text, data, seconds)
    except (TemplateError, sb.SandboxError, ArithmeticError, TypeError, ValueError, LookupError):
        return fallback
