"""The one shape every figure of the portfolio pages takes: a titled table of typed columns.

Pages render it (with a chart above when it has one), the exports write it to CSV and XLSX and
the API dumps it, so a figure is computed once and reads the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from markupsafe import Markup, escape

from app.core import formatting

# How a column's values read: money, a count, a percentage, days, hours, a date, a RAG colour, text.
CHART_BARS = 12  # bars a chart draws at most: more would not read

KINDS = ("text", "money", "count", "percent", "days", "hours", "date", "rag", "fte")


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"


@dataclass
class Table:
    """Rows of plain values keyed by column; ``links`` maps a row index to the project it shows."""

    key: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    caption: str = ""
    chart: str | None = None          # "bar" | "doughnut" | "stacked": drawn from the table's numbers
    chart_label: str | None = None    # the column whose values label the chart's bars
    chart_values: tuple[str, ...] = ()
    project_column: str | None = None  # the column linking to the project's workspace (row["project_id"])
    total: dict[str, Any] | None = None
    more: int = 0                      # rows left off the page (the exports hold them all)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able: money as numbers, dates as ISO dates, only the columns (plus the project's id)."""
        keys = [c.key for c in self.columns] + (["project_id"] if self.project_column else [])
        return {"key": self.key, "title": self.title, "caption": self.caption,
                "columns": [{"key": c.key, "label": c.label, "kind": c.kind} for c in self.columns],
                "rows": [{k: _json(row.get(k)) for k in keys} for row in self.rows],
                "total": {k: _json(v) for k, v in self.total.items()} if self.total else None,
                "more": self.more}

    def chart_data(self) -> dict[str, Any] | None:
        """What the chart script draws: labels and one series per value column, nothing more."""
        if not self.chart or not self.chart_label:
            return None
        rows = self.rows[:CHART_BARS]  # the first (the worst) of a long table; the table has them all
        return {"type": self.chart, "title": self.title,
                "labels": [str(r.get(self.chart_label) or "") for r in rows],
                "series": [{"label": next(c.label for c in self.columns if c.key == key),
                            "values": [float(r.get(key) or 0) for r in rows]} for key in self.chart_values]}


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


RAG_LABELS = {"red": "Red", "amber": "Amber", "green": "Green", "grey": "None"}
_EMPTY = Markup('<span class="muted">—</span>')


def cell_html(value: Any, kind: str) -> Markup:
    """One table cell as people read it (the one formatting rule), escaped. A Python function rather
    than a Jinja macro: a page draws a few thousand cells, and a macro call costs several times more."""
    if value is None or value == "":
        return _EMPTY
    if kind == "rag":
        return Markup('<span class="rag rag-{}">{}</span>').format(value, RAG_LABELS.get(value, value))
    if kind == "money":
        text = formatting.money(value)
    elif kind == "percent":
        text = formatting.percent(value)
    elif kind == "date":
        text = formatting.day(value)
    elif kind == "days":
        text = f"{formatting.number(value)} day{'' if value == 1 else 's'}"
    elif kind == "hours":
        text = f"{formatting.number(value)} h"
    elif kind in ("fte", "count"):
        text = formatting.number(value)
    else:
        text = value
    return escape(text)
