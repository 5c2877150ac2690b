"""How values read to people: one rule for money, numbers, dates, booleans and percentages.

Used by the instruction templates (as Jinja filters), the task page (context, earlier steps,
what was submitted) and the inbox alike. Babel formats by locale (thousands separators, the
currency's symbol); the currency and locale are the CURRENCY and LOCALE settings.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from babel.core import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import UnknownCurrencyError, format_currency, format_decimal

DEFAULT_CURRENCY = "EUR"
DEFAULT_LOCALE = "en"
EMPTY = "—"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _setting(name: str, default: str) -> str:
    try:
        from flask import current_app

        return str(current_app.config.get(name) or default)
    except RuntimeError:  # outside an application (a worker's plain script run)
        return default


def currency() -> str:
    return _setting("CURRENCY", DEFAULT_CURRENCY).upper()


def currency_symbol() -> str:
    """The configured currency's symbol ("€"), shown beside money inputs."""
    from babel.numbers import get_currency_symbol

    return get_currency_symbol(currency(), locale=locale())


def locale() -> Locale:
    return _parsed_locale(_setting("LOCALE", DEFAULT_LOCALE))


@lru_cache(maxsize=16)
def _parsed_locale(name: str) -> Locale:
    """Parsed once per name: a page of a few thousand numbers asks for it on every one."""
    try:
        return Locale.parse(name)
    except (ValueError, UnknownLocaleError):
        return Locale.parse(DEFAULT_LOCALE)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value))
    elif isinstance(value, str) and value.strip():
        try:
            number = Decimal(value.strip().replace(",", ""))
        except InvalidOperation:
            return None
    else:
        return None
    return number if number.is_finite() else None


def number(value: Any) -> str:
    """1800000.0 → "1,800,000"; 2.5 → "2.5"."""
    amount = _number(value)
    if amount is None:
        return EMPTY if value in (None, "") else str(value)
    return format_decimal(amount, format="#,##0.##", locale=locale())


def money(value: Any, code: str | None = None) -> str:
    """An amount in the configured currency: "€1,800,000" (cents only when there are some)."""
    amount = _number(value)
    if amount is None:
        return EMPTY if value in (None, "") else str(value)
    whole = amount == amount.to_integral_value()
    try:
        return format_currency(amount, (code or currency()).upper(), format="¤#,##0" if whole else None,
                               locale=locale(), currency_digits=not whole)
    except UnknownCurrencyError:
        return f"{number(amount)} {code or currency()}"


def percent(value: Any) -> str:
    """A percentage given in percent (80 → "80%", 12.5 → "12.5%")."""
    amount = _number(value)
    if amount is None:
        return EMPTY if value in (None, "") else str(value)
    return format_decimal(amount, format="#,##0.#", locale=locale()) + "%"


def yesno(value: Any) -> str:
    if value is None or value == "":
        return EMPTY
    return "Yes" if value else "No"


def day(value: Any) -> str:
    """A calendar date: "Mar 31, 2027" (an ISO date string or a date)."""
    if isinstance(value, datetime):
        value = value.date()
    elif isinstance(value, str) and _ISO_DATE.match(value.strip()):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            return value
    if isinstance(value, date):
        return format_date(value, format="medium", locale=locale())
    return EMPTY if value in (None, "") else str(value)


def moment(value: datetime | None) -> str:
    """A point in time (UTC, as stored): "Dec 1, 2026, 20:50 UTC" (the calendar date as ``day``)."""
    if value is None:
        return ""
    return f"{day(value)}, {value.strftime('%H:%M')} UTC"


def finalize(value: Any) -> Any:
    """What a bare ``{{ value }}`` in an instruction or title prints: Yes/No for booleans, nothing for
    None, 1800000.0 as "1800000" (no separators here: a year or a code must not read "2,026")."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return yesno(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def is_money_field(key: str, schema: dict[str, Any] | None = None) -> bool:
    """A form field that holds money (format or widget), else a key that names an amount."""
    if isinstance(schema, dict) and (schema.get("format") in ("money", "currency") or schema.get("x-money")):
        return True
    return bool(re.search(r"(^|_)(budget|cost|amount|price|capex|opex|spend)(_|$)", key)) and \
        not re.search(r"(_rag|_pct|_percent|_days|_ok|_over_estimate|_valid|_reason|_notes|_status)$", key)


def is_percent_field(key: str) -> bool:
    return bool(re.search(r"(_pct|_percent|_percentage)$", key))


def choice_titles(schema: dict[str, Any] | None) -> dict[Any, str]:
    """The titles a form gives its choices (``oneOf`` with ``const``/``title``, or ``enum`` + ``enumNames``)."""
    if not isinstance(schema, dict):
        return {}
    if isinstance(schema.get("oneOf"), list):
        return {o["const"]: str(o.get("title", o["const"])) for o in schema["oneOf"]
                if isinstance(o, dict) and "const" in o and isinstance(o["const"], str | int | float | bool)}
    if isinstance(schema.get("enum"), list):
        names = schema.get("enumNames") if isinstance(schema.get("enumNames"), list) else []
        # as the form shows a choice without a name: "needs_work" → "Needs work"
        return {v: str(names[i]) if i < len(names) else str(v).replace("_", " ").capitalize()
                for i, v in enumerate(schema["enum"]) if isinstance(v, str)}
    return {}


def field_title(key: str, schema: dict[str, Any] | None) -> str:
    """The form's title for a field, else a label made from its key."""
    title = schema.get("title") if isinstance(schema, dict) else None
    return str(title) if title else label(key)


def show(value: Any, key: str = "", schema: dict[str, Any] | None = None) -> str:
    """Any value as short text by the one rule (lists and objects flattened). ``schema`` is the field's
    form schema: its choice titles and its nested fields' titles are used when it has them."""
    schema = schema if isinstance(schema, dict) else {}
    if value is None or value == "":
        return EMPTY
    if not isinstance(value, dict | list):
        choices = choice_titles(schema)
        if value in choices and not (isinstance(value, bool) and not any(isinstance(c, bool) for c in choices)):
            return choices[value]
    if isinstance(value, bool):
        return yesno(value)
    if isinstance(value, int | float | Decimal):
        if key and is_money_field(key, schema):
            return money(value)
        if key and is_percent_field(key):
            return percent(value)
        return number(value)
    if isinstance(value, str) and _ISO_DATE.match(value):
        return day(value)
    if isinstance(value, date):
        return day(value)
    if isinstance(value, dict):
        props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        # the parts of an amount (a budget by category) are amounts too
        amounts = bool(key) and is_money_field(key, schema)
        return "; ".join(f"{field_title(k, props.get(k))}: "
                         f"{money(v) if amounts and isinstance(v, int | float) and not isinstance(v, bool) else show(v, k, props.get(k))}"
                         for k, v in value.items())
    if isinstance(value, list):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        return " | ".join(show(v, key, items) for v in value) or EMPTY
    return str(value)


def label(key: Any) -> str:
    """A data key as a label when no form gives one: "pm_recommendation" → "PM recommendation"."""
    words = str(key).replace("_", " ").strip().split()
    if not words:
        return ""
    acronyms = {"pm": "PM", "pmo": "PMO", "cr": "CR", "ccb": "CCB", "rag": "RAG", "fte": "FTE", "id": "ID",
                "pct": "%", "kpi": "KPI", "erp": "ERP", "it": "IT"}
    out = [acronyms.get(w.lower(), w) for w in words]
    out[0] = out[0][:1].upper() + out[0][1:]
    return " ".join(out)


FILTERS = {"money": money, "number": number, "percent": percent, "yesno": yesno, "day": day}
