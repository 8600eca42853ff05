"""One CSV writer for every export: cells people typed never run as spreadsheet formulas.

A text cell starting with `=`, `+`, `-`, `@`, tab or carriage return is prefixed with `'`
(OWASP's advice against CSV injection). Numbers, and text that is one number, stay
numbers.
"""
from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

from django.http import HttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text == text.strip()


def safe_cell(value: Any) -> Any:
    # "-12.5" stays a number; "-1+cmd|..." and "=HYPERLINK(...)" do not run.
    if isinstance(value, str) and value[:1] in FORMULA_STARTS and not _is_number(value):
        return f"'{value}"
    return value


def csv_response(filename: str, header: Iterable[Any],
                 rows: Iterable[Iterable[Any]]) -> HttpResponse:
    """An attachment `<filename>.csv` with the header and the rows, every cell neutralised."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    writer = csv.writer(response)
    writer.writerow([safe_cell(v) for v in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return response
