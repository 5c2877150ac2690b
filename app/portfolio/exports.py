"""Every portfolio table as CSV or as an XLSX workbook (openpyxl), with the values people read.

Money stays a number in the workbook (formatted with the currency) so a spreadsheet can add it up;
the CSV carries the same numbers unformatted, dates as ISO dates, RAG colours as words.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from app.core import formatting
from app.portfolio.tables import Table

RAG_WORDS = {"red": "Red", "amber": "Amber", "green": "Green", "grey": "No current report"}
RAG_FILLS = {"red": "F4C7C3", "amber": "FCE8B2", "green": "B7E1CD", "grey": "E0E0E0"}


def _plain(value: Any, kind: str) -> Any:
    if value is None:
        return ""
    if kind == "rag":
        return RAG_WORDS.get(str(value), str(value))
    if isinstance(value, Decimal):
        return float(value)
    return value


def _rows(table: Table) -> list[list[Any]]:
    rows = [[_plain(row.get(c.key), c.kind) for c in table.columns] for row in table.rows]
    if table.total:
        rows.append([_plain(table.total.get(c.key), c.kind) for c in table.columns])
    return rows


def filename(table: Table, extension: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", table.title.lower()).strip("-")
    return f"portfolio-{slug}.{extension}"


def to_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([c.label for c in table.columns])
    for row in _rows(table):
        writer.writerow([v.isoformat() if isinstance(v, date) else v for v in row])
    return out.getvalue()


def to_xlsx(tables: list[Table]) -> bytes:
    """One sheet per table: a bold header, typed cells (money, dates, percentages), RAG cells filled.

    Written in openpyxl's write-only mode: rows stream to the file instead of a cell tree held in
    memory, so a table of every project costs its rows, not ten times them."""
    book = Workbook(write_only=True)
    money_format = f'"{formatting.currency_symbol()}"#,##0.00'
    bold = Font(bold=True)
    fills = {word: PatternFill("solid", fgColor=RAG_FILLS[colour]) for colour, word in RAG_WORDS.items()}
    for table in tables:
        sheet = book.create_sheet(re.sub(r"[\[\]:*?/\\]", " ", table.title)[:31])
        for i, column in enumerate(table.columns, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = max(12, min(48, len(column.label) + 4))
        sheet.freeze_panes = "A2"
        sheet.append([_cell(sheet, c.label, font=bold) for c in table.columns])
        kinds = [c.kind for c in table.columns]
        for values in _rows(table):
            sheet.append([_typed(sheet, kind, value, money_format, fills) for kind, value in zip(kinds, values, strict=True)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(sheet: Any, value: Any, **style: Any) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    for name, setting in style.items():
        setattr(cell, name, setting)
    return cell


def _typed(sheet: Any, kind: str, value: Any, money_format: str, fills: dict[str, PatternFill]) -> Any:
    """A plain value, or a styled cell for money, dates and RAG colours."""
    if value == "":
        return value
    if kind == "money":
        return _cell(sheet, value, number_format=money_format)
    if kind == "date":
        return _cell(sheet, value, number_format="d mmm yyyy")
    if kind == "rag" and value in fills:
        return _cell(sheet, value, fill=fills[value])
    return value
