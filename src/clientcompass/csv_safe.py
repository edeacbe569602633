"""CSV cells a spreadsheet will not run: the neutraliser every CSV export goes through.

A cell that starts with `=` or `@` (and, after trimming, a tab or carriage return) can be read
as a formula, so a contact named `=HYPERLINK(…)` could run in the reader's spreadsheet (OWASP
"CSV injection"); so can `+` or `-` followed by an expression (`+1+1`, `-A1`). A leading
apostrophe makes the spreadsheet show the text as typed. A plain number after the sign is a
value, not a formula: a phone number (+27 82 123 4567) or an amount (-12.50) is written as it
is, since an apostrophe there would only corrupt it (tests/core/test_csv_safe.py opens an
export in LibreOffice to check both). Importers call `restore` to undo exactly the apostrophe,
so an export reads back unchanged.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SIGNS = ("+", "-")
# A signed plain number: digits with the spaces, dots and commas of phone numbers and amounts,
# and nothing a formula could use (no second operator, no letters, no cell references).
PLAIN_NUMBER = re.compile(r"[+-][0-9][0-9 .,]*")
# Excel opens a UTF-8 CSV as Windows-1252 unless it starts with a byte-order mark.
BOM = "\ufeff"


def is_formula_start(cell: str) -> bool:
    if not cell.startswith(FORMULA_STARTS):
        return False
    return not (cell.startswith(SIGNS) and PLAIN_NUMBER.fullmatch(cell))


def neutralise(value: object) -> str:
    """The cell's text, with a leading apostrophe if a spreadsheet would read it as a formula."""
    cell = "" if value is None else str(value)
    return "'" + cell if is_formula_start(cell) else cell


def restore(cell: str) -> str:
    """Undo `neutralise` on a cell read back from one of our exports."""
    if cell.startswith("'") and is_formula_start(cell[1:]):
        return cell[1:]
    return cell


def write_csv(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    """A whole CSV document (BOM, CRLF line ends), every cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([neutralise(cell) for cell in header])
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return BOM + buffer.getvalue()
