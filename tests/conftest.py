from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import openpyxl
import pytest

from office import convert, soffice

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
KAGGLE_TRAIN = SHARED / "data" / "titanic" / "train.csv"
REFERENCE = SHARED / "reference" / "titanic-lesson3.xlsx"


@pytest.fixture(scope="session")
def kaggle_train() -> Path:
    if not KAGGLE_TRAIN.exists():
        pytest.skip("../shared/data/titanic/train.csv is not here")
    return KAGGLE_TRAIN


@pytest.fixture(scope="session")
def reference() -> Path:
    if not REFERENCE.exists():
        pytest.skip("../shared/reference/titanic-lesson3.xlsx is not here")
    return REFERENCE


@pytest.fixture(scope="session")
def libreoffice():
    """The oracle. CI installs it (.ci/run); without it a local run skips, CI fails."""
    if soffice() is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice is not installed: run `bash scripts/test`, which installs it")
        pytest.skip("LibreOffice is not installed: `bash scripts/test` installs it")
    return convert


def recalculated(libreoffice, path: Path, tmp: Path) -> openpyxl.Workbook:
    """The workbook's values after LibreOffice opened it, recalculated everything and saved it."""
    return openpyxl.load_workbook(libreoffice(path, tmp), data_only=True)


def column_values(ws, col: int, first: int, n: int) -> np.ndarray:
    return np.array([ws.cell(first + i, col).value for i in range(n)], dtype=float)


def read_sheets(path, names=("linear", "nnet", "mmult")) -> dict:
    """Each model sheet's SheetData, as xlnet reads it back from the workbook."""
    from xlnet.workbook.book import Workbook
    from xlnet.workbook.reading import read_sheet
    with Workbook.open(path) as book:
        return {name: read_sheet(book.pkg, name, book.spec) for name in names}


def built_or_refused(data: bytes, folder: Path, **options):
    """Build from CSV bytes: a sound workbook (its metrics read back as built) or one clean error, nothing left."""
    from hypothesis import event

    from xlnet.commands.build import build
    from xlnet.errors import XlnetError
    source, out = folder / "in.csv", folder / "out.xlsx"
    source.write_bytes(data)
    try:
        summary = build(source, out, seed=0, **options)
    except XlnetError as e:
        event(f"refused: {str(e).split(': ', 1)[-1][:40]}")
        assert str(e) and "Traceback" not in str(e)
        assert sorted(p.name for p in folder.iterdir()) == ["in.csv"], "a failed build left a file"
        return None
    event("built")
    sheets = read_sheets(out)
    for name, metrics in summary.metrics.items():
        assert sheets[name].metrics() == metrics
    return summary


def cells(path) -> dict:
    """Every cell of every sheet that holds something: its value, formula, or array formula's range and text."""
    out = {}
    for ws in openpyxl.load_workbook(path):
        for row in ws.iter_rows():
            for c in row:
                v = (c.value.ref, c.value.text) if hasattr(c.value, "text") else c.value
                if v is not None:
                    out[ws.title, c.coordinate] = v
    return out
