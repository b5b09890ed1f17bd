"""Weight decay: a cell on the sheet that enters the objective Solver minimises, chosen by the validation loss."""
from __future__ import annotations

import numpy as np
import openpyxl
import pytest
from click.testing import CliRunner

from conftest import ROOT, read_sheets
from test_workbook import check_against_numpy
from xlnet.commands.build import build
from xlnet.cli import cli
from xlnet.commands.compare import compare_workbook
from xlnet.commands.fit import fit_workbook
from xlnet.fitting.service import DECAY_GRID
from xlnet.commands.restore import restore_workbook

PENGUINS = ROOT / "data" / "penguins.csv"
FAST = dict(restarts=4, epochs=20)


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_the_objective_cell_is_what_solver_minimises_and_the_apps_agree(tmp_path, libreoffice):
    s = build(PENGUINS, tmp_path / "w.xlsx", target="body_mass_g", missing="median", hidden=3)
    r = run("fit", s.out, "--quiet", "--weight-decay", "0.01", "--restarts", "4", "--epochs", "20")
    assert r.exit_code == 0, r.output
    assert "Weight decay (as given): linear 0.01, nnet 0.01, mmult 0.01" in r.output
    wb = openpyxl.load_workbook(s.out)
    for name, sheet in read_sheets(s.out).items():
        at = sheet.layout
        assert sheet.weight_decay == 0.01
        assert wb[name].defined_names["solver_opt"].attr_text == f"{name}!{at.summary_cell('objective')}"
        penalty = 0.01 * float(np.sum(sheet.W ** 2))
        m = sheet.metrics()
        assert m["objective"] == pytest.approx(m["train_loss"] + penalty, rel=1e-12)
    # LibreOffice and Gnumeric recalculate every cell, the objective among them, to numpy's at 1e-12.
    check_against_numpy(s.out, libreoffice, tmp_path)


def test_the_linear_sheet_reaches_ridge_regressions_optimum(tmp_path):
    """The decay's gradient is the objective's: the fitted linear sheet is the closed-form ridge solution."""
    s = build(PENGUINS, tmp_path / "w.xlsx", target="body_mass_g", missing="median", valid_pct=0)
    fit_workbook(s.out, sheets=("linear",), weight_decay=0.003, **FAST)
    sheet = read_sheets(s.out)["linear"]
    X, y = sheet.X, sheet.y
    w = np.linalg.solve(X.T @ X / len(y) + 0.003 * np.eye(X.shape[1]), X.T @ y / len(y))
    ridge = np.mean((X @ w - y) ** 2) + 0.003 * w @ w
    assert sheet.objective() == pytest.approx(ridge, rel=1e-9)
    (c,) = compare_workbook(s.out, sheets=("linear",), **FAST)  # compare's optimum is the same ridge solution
    assert c.optimum == pytest.approx(ridge, rel=1e-12)


def test_auto_chooses_the_decay_with_the_lowest_validation_loss(tmp_path):
    s = build(PENGUINS, tmp_path / "w.xlsx", target="sex", loss="logloss", hidden=2)
    assert s.rows_valid > 0  # --target holds out 20 % by default
    results = {r.sheet: r for r in fit_workbook(s.out, **FAST)}
    fixed = {}
    for decay in DECAY_GRID:
        copy = tmp_path / f"d{decay}.xlsx"
        copy.write_bytes(s.out.read_bytes())
        restore_workbook(copy, 1, before=True)
        fixed[decay] = {r.sheet: r for r in fit_workbook(copy, weight_decay=decay, **FAST)}
    for name, r in results.items():
        assert r.weight_decay in DECAY_GRID
        assert read_sheets(s.out)[name].weight_decay == r.weight_decay
        # No decay of the grid, fitted alone from the same start, does better on the validation set by more
        # than the path's own tolerance (the path warm-starts each decay from the one before).
        best = min(f[name].after["valid_loss"] for f in fixed.values())
        assert r.after["valid_loss"] <= best * 1.05, (name, r.weight_decay)


def test_the_chooser_judges_by_the_validation_loss_the_sheet_shows(tmp_path):
    """fit's chooser computes the validation loss on the validation rows alone: the sheet's valid_loss cell."""
    s = build(PENGUINS, tmp_path / "w.xlsx", target="sex", loss="logloss", hidden=2)
    rng = np.random.default_rng(0)
    for name, sheet in read_sheets(s.out).items():
        for W in (sheet.W, rng.uniform(-1, 1, sheet.model.n_params)):
            shown = sheet.metrics(W, 1e-3)
            shown["valid_loss"] = -1.0  # a copy: what metrics remembers is not changed through it
            assert sheet.valid_loss(W) == pytest.approx(sheet.metrics(W, 1e-3)["valid_loss"], rel=1e-12)


def test_restore_puts_the_decay_back_with_the_parameters(tmp_path):
    s = build(PENGUINS, tmp_path / "w.xlsx", target="sex", loss="logloss", valid_pct=0)
    fit_workbook(s.out, weight_decay=0.03, **FAST)
    assert {x.weight_decay for x in read_sheets(s.out).values()} == {0.03}
    restore_workbook(s.out, 1, before=True)
    restored = read_sheets(s.out)
    assert {x.weight_decay for x in restored.values()} == {0.0}
    start = read_sheets(build(PENGUINS, tmp_path / "again.xlsx", target="sex", loss="logloss", valid_pct=0).out)
    for name in restored:
        np.testing.assert_array_equal(restored[name].W, start[name].W)


@pytest.mark.parametrize("value, message", [
    ("-1", "--weight-decay must be a number, 0 or more, or auto, not -1.0."),
    ("lots", "Invalid value for '--weight-decay': auto, sheet or a number, not 'lots'"),
])
def test_a_bad_decay_is_refused_before_any_work(tmp_path, value, message):
    s = build(PENGUINS, tmp_path / "w.xlsx", target="sex")
    before = s.out.read_bytes()
    r = run("fit", s.out, "--weight-decay", value)
    assert r.exit_code != 0 and message in r.output
    assert s.out.read_bytes() == before


def test_a_decay_cell_edited_to_text_is_named(tmp_path):
    s = build(PENGUINS, tmp_path / "w.xlsx", target="sex")
    at = read_sheets(s.out)["nnet"].layout
    c, r = at.decay_cell_at
    wb = openpyxl.load_workbook(s.out)
    wb["nnet"].cell(r, c).value = "a little"
    wb.save(s.out)
    out = run("fit", s.out)
    assert out.exit_code == 1
    assert out.output.startswith(f"Error: {s.out}: sheet 'nnet', weight decay cell ")
    assert "holds 'a little'; it must be a number, 0 or more (0: no decay)." in out.output
