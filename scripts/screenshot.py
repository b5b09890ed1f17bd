"""Render a workbook's sheet as LibreOffice prints it, with the workbook's own print setup (no area or scale of
this script's): by default the fitted lesson's nnet sheet, page 1, as docs/workbook.png.

Needs LibreOffice, pdftoppm and ImageMagick (Debian: libreoffice-calc-nogui, poppler-utils, imagemagick).
    python scripts/screenshot.py [WORKBOOK [SHEET PAGES PNG]]
    python scripts/screenshot.py sgd.xlsx sgd 1 docs/lesson2.png       # xlnet lesson sgd's picture
    python scripts/screenshot.py relu.xlsx relu 1-4 docs/lesson3.png    # its four pages, one below the other
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import openpyxl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from office import convert  # noqa: E402


def main(workbook: Path, sheet: str = "nnet", pages: str = "1", png: Path = ROOT / "docs" / "workbook.png") -> None:
    first, _, last = pages.partition("-")
    wb = openpyxl.load_workbook(workbook)
    for name in wb.sheetnames:
        if name != sheet:
            del wb[name]  # each model sheet is self-contained
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / f"{sheet}.xlsx"
        wb.save(copy)
        pdf = convert(copy, Path(tmp), "pdf")
        stem = Path(tmp) / "page"
        subprocess.run(["pdftoppm", "-png", "-r", "160", "-f", first, "-l", last or first, str(pdf), str(stem)],
                       check=True)
        shots = sorted(Path(tmp).glob("page*.png"))
        subprocess.run(["convert", *map(str, shots), "-trim", "-bordercolor", "white", "-border", "8", "-append",
                        str(png)], check=True)
    print(png)


if __name__ == "__main__":
    if len(sys.argv) > 2:
        main(Path(sys.argv[1]), sys.argv[2], sys.argv[3], Path(sys.argv[4]))
    else:
        main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "workbooks" / "titanic.xlsx")
