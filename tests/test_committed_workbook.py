"""workbooks/titanic.xlsx is what the README's main command makes: the same sheets, cells and formulas.

A fit is not bit-identical across CPUs and BLAS builds (the restarts' paths differ in the last digits, and
then L-BFGS may stop a few iterations apart), so the fitted parameters are checked through their losses, to
a tolerance that a wrong fit cannot meet, and the history's figures of the fit itself approximately.
"""
from __future__ import annotations

import openpyxl
import pytest
from click.testing import CliRunner

from conftest import ROOT, read_sheets
from xlnet.cli import cli
from xlnet.workbook.layout import HISTORY_SHEET

COMMITTED = ROOT / "workbooks" / "titanic.xlsx"
FIT_FIGURES = {"When (UTC)", "Loss", "Valid loss", "Train score", "Valid score", "Iterations", "Seconds"}


def cells(ws, skip=frozenset()):
    return {c.coordinate: (c.value.text if hasattr(c.value, "text") else c.value)
            for row in ws.iter_rows() for c in row if c.value is not None and c.coordinate not in skip}


def test_committed_workbook_is_what_the_readme_command_makes(tmp_path):
    out = tmp_path / "titanic.xlsx"
    assert CliRunner().invoke(cli, ["build", "--out", str(out)]).exit_code == 0
    assert CliRunner().invoke(cli, ["fit", str(out), "--quiet"]).exit_code == 0
    made, committed = openpyxl.load_workbook(out), openpyxl.load_workbook(COMMITTED)
    assert made.sheetnames == committed.sheetnames
    made_sheets, committed_sheets = read_sheets(out), read_sheets(COMMITTED)
    for name, sheet in made_sheets.items():
        params = {openpyxl.utils.get_column_letter(c) + str(r) for c, r in sheet.layout.param_cells()}
        assert cells(made[name], params) == cells(committed[name], params), name
        # A wrong fit is off by far more than this; machines differ by less.
        assert sheet.loss() == pytest.approx(committed_sheets[name].loss(), rel=1e-3), name
    for name in ("data", "xlnet"):
        assert cells(made[name]) == cells(committed[name]), name
    a, b = (list(wb[HISTORY_SHEET].iter_rows(values_only=True)) for wb in (made, committed))
    header = [h for h in a[0] if h is not None]
    assert len(a) == len(b) and a[0] == b[0]
    for row_a, row_b in zip(a[1:], b[1:]):
        da, db = dict(zip(header, row_a)), dict(zip(header, row_b))
        assert {k: v for k, v in da.items() if k not in FIT_FIGURES} == {
            k: v for k, v in db.items() if k not in FIT_FIGURES}
        if da["Parameters"] != "new":  # the names, and the starting parameters replaced: exact
            assert row_a[len(header):] == row_b[len(header):]
        if da["Parameters"] == "replaced":
            assert da["Loss"] == pytest.approx(db["Loss"], rel=1e-12)
