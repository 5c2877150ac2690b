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
    """One sheet per table: a bold header, typed cells (money, dates, percentages), RAG cells filled."""
    book = Workbook()
    book.remove(book.active)
    money_format = f'"{formatting.currency_symbol()}"#,##0.00'
    for table in tables:
        sheet = book.create_sheet(re.sub(r"[\[\]:*?/\\]", " ", table.title)[:31])
        sheet.append([c.label for c in table.columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for values in _rows(table):
            sheet.append(values)
            for column, cell in zip(table.columns, sheet[sheet.max_row], strict=True):
                if column.kind == "money" and cell.value != "":
                    cell.number_format = money_format
                elif column.kind == "date" and cell.value != "":
                    cell.number_format = "d mmm yyyy"
                elif column.kind == "rag":
                    colour = next((k for k, w in RAG_WORDS.items() if w == cell.value), None)
                    if colour:
                        cell.fill = PatternFill("solid", fgColor=RAG_FILLS[colour])
        for i, column in enumerate(table.columns, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = max(12, min(48, len(column.label) + 4))
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
