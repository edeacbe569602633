"""CSV cells a spreadsheet will not run: the neutraliser every CSV export goes through.

Excel, LibreOffice and Google Sheets treat a cell that starts with `=`, `+`, `-` or `@` (and,
after trimming, a tab or carriage return) as a formula, so a contact named `=HYPERLINK(…)`
could run in the reader's spreadsheet (OWASP "CSV injection"). A leading apostrophe makes the
spreadsheet show the text as typed. Importers call `restore` to undo exactly that, so an
export reads back unchanged.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Excel opens a UTF-8 CSV as Windows-1252 unless it starts with a byte-order mark.
BOM = "\ufeff"


def neutralise(value: object) -> str:
    """The cell's text, with a leading apostrophe if a spreadsheet would read it as a formula."""
    cell = "" if value is None else str(value)
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def restore(cell: str) -> str:
    """Undo `neutralise` on a cell read back from one of our exports."""
    if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS):
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
