"""workbooks/titanic.xlsx is what the README's main command makes (content, not bytes)."""
from __future__ import annotations

import numpy as np
import openpyxl
import pytest
from click.testing import CliRunner

from conftest import ROOT
from xlnet.cli import cli
from xlnet.layout import HISTORY_SHEET

COMMITTED = ROOT / "workbooks" / "titanic.xlsx"
VOLATILE = {HISTORY_SHEET: {1, 11}}  # when it ran, how long it took


def content(wb):
    out = {}
    for ws in wb.worksheets:
        skip = VOLATILE.get(ws.title, set())
        out[ws.title] = {c.coordinate: (c.value.text if hasattr(c.value, "text") else c.value)
                         for row in ws.iter_rows() for c in row if c.value is not None and c.column not in skip}
        out[ws.title]["names"] = {k: v.attr_text for k, v in ws.defined_names.items()}
    return out


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and a == pytest.approx(b, rel=1e-6)
    if isinstance(a, str) and isinstance(b, str) and a[:1] in "-0123456789" and " " in a:  # parameter lists
        return np.allclose(np.array(a.split(), float), np.array(b.split(), float), rtol=1e-6)
    return a == b


def test_committed_workbook_is_what_the_readme_command_makes(tmp_path):
    out = tmp_path / "titanic.xlsx"
    assert CliRunner().invoke(cli, ["build", "--out", str(out)]).exit_code == 0
    assert CliRunner().invoke(cli, ["fit", str(out), "--quiet"]).exit_code == 0
    made, committed = content(openpyxl.load_workbook(out)), content(openpyxl.load_workbook(COMMITTED))
    assert list(made) == list(committed)
    for sheet in made:
        a, b = made[sheet], committed[sheet]
        assert a.keys() == b.keys(), sheet
        differ = [k for k in a if not same(a[k], b[k])]
        assert not differ, f"{sheet}: {differ[:5]}"
