"""Render part of a workbook's sheet as LibreOffice shows it: by default the fitted lesson's nnet sheet, as
docs/workbook.png.

Needs LibreOffice, pdftoppm and ImageMagick (Debian: libreoffice-calc-nogui, poppler-utils, imagemagick).
    python scripts/screenshot.py [WORKBOOK [SHEET AREA PNG]]
    python scripts/screenshot.py relu.xlsx relu A1:N62 docs/lesson3.png    # xlnet lesson relu's picture
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import openpyxl
from openpyxl.worksheet.page import PageMargins

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from office import convert  # noqa: E402


def main(workbook: Path, sheet: str = "nnet", area: str = "A1:AH20", png: Path = ROOT / "docs" / "workbook.png"
         ) -> None:
    wb = openpyxl.load_workbook(workbook)
    for name in wb.sheetnames:
        if name != sheet:
            del wb[name]  # each model sheet is self-contained
    ws = wb[sheet]
    ws.print_area = area
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 1
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins = PageMargins(left=0.2, right=0.2, top=0.2, bottom=0.2)
    ws.print_options.gridLines = True
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / f"{sheet}.xlsx"
        wb.save(copy)
        pdf = convert(copy, Path(tmp), "pdf")
        page = Path(tmp) / "page"
        subprocess.run(["pdftoppm", "-png", "-r", "160", "-singlefile", str(pdf), str(page)], check=True)
        subprocess.run(["convert", f"{page}.png", "-trim", "-bordercolor", "white", "-border", "8",
                        str(png)], check=True)
    print(png)


if __name__ == "__main__":
    if len(sys.argv) > 2:
        main(Path(sys.argv[1]), sys.argv[2], sys.argv[3], Path(sys.argv[4]))
    else:
        main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "workbooks" / "titanic.xlsx")
