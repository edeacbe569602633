"""An export opened in a real spreadsheet (LibreOffice, headless): phone numbers and amounts
arrive as written, and no cell runs as a formula. LibreOffice evaluates on opening, so a
formula that got through would show its result here instead of its text."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from pathlib import Path

import pytest

from clientcompass import csv_safe

SOFFICE = shutil.which("soffice")
# CSV import options: comma, double quote, UTF-8 (76), from line 1; export evaluates formulas.
FILTER = "44,34,76,1"


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice is not installed (make test installs it)")
def test_libreoffice_reads_phones_as_written_and_runs_no_formula(tmp_path: Path) -> None:
    cells = [
        "+27 82 123 4567",  # a phone number, as our exports write them
        "-12.50",
        "=1+1",
        "+1+1",
        "-2+3",
        '=HYPERLINK("http://evil.example","x")',
        "@SUM(1)",
    ]
    exported = tmp_path / "export.csv"
    exported.write_text(csv_safe.write_csv(["cell"], [[cell] for cell in cells]), "utf-8")
    out = tmp_path / "out"
    subprocess.run(
        [
            str(SOFFICE),
            "--headless",
            "--norestore",
            f"-env:UserInstallation=file://{tmp_path / 'profile'}",
            f"--infilter=CSV:{FILTER}",
            "--convert-to",
            f"csv:Text - txt - csv (StarCalc):{FILTER},,0,false,true,true",
            "--outdir",
            str(out),
            str(exported),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    shown = [row[0] for row in csv.reader(io.StringIO((out / "export.csv").read_text("utf-8-sig")))]
    assert shown[0] == "cell"
    assert shown[1] == "+27 82 123 4567" and shown[2] == "-12.5"
    # Every formula arrives as the text that was typed (behind its apostrophe), not a result.
    for typed, seen in zip(cells[2:], shown[3:], strict=True):
        assert seen.lstrip("'") == typed, (typed, seen)
