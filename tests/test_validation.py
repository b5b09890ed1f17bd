"""The validation set: a seeded split, marked in the sheet, that fit respects and never trains on."""
from __future__ import annotations

import numpy as np
import openpyxl
import pytest
from click.testing import CliRunner

from xlnet.commands.build import build
from xlnet.cli import cli
from xlnet.table.reading import validation_split
from conftest import read_sheets
from xlnet.errors import XlnetError
from xlnet.commands.fit import fit_workbook
from xlnet.fitting.service import fit_sheets


def test_same_seed_same_split_and_the_counts_add_up():
    a, b, c = validation_split(712, 0.2, 42), validation_split(712, 0.2, 42), validation_split(712, 0.2, 43)
    assert (a == b).all() and (a != c).any()
    assert (a == "valid").sum() == 142 and (a == "train").sum() == 570
    assert validation_split(712, 0, 42) is None


def test_split_does_not_change_the_starting_parameters(tmp_path):
    a = read_sheets(build(out=tmp_path / "a.xlsx", seed=9).out)["nnet"]
    b = read_sheets(build(out=tmp_path / "b.xlsx", seed=9, valid_pct=0.3).out)["nnet"]
    np.testing.assert_array_equal(a.W, b.W)
    assert a.sets is None and set(b.sets) == {"train", "valid"}


@pytest.mark.parametrize("pct, message", [
    (1.0, "--valid-pct must be a fraction from 0 to below 1, like 0.2, not 1.0."),
    (-0.1, "--valid-pct must be a fraction from 0 to below 1, like 0.2, not -0.1."),
    (0.0001, "--valid-pct 0.0001 of 712 rows leaves 0 for validation and 712 for training; each needs at least one."),
])
def test_bad_valid_pct(tmp_path, pct, message):
    r = CliRunner().invoke(cli, ["build", "--out", str(tmp_path / "t.xlsx"), "--valid-pct", str(pct)])
    assert (r.exit_code, r.output) == (1, f"Error: {message}\n")
    assert not (tmp_path / "t.xlsx").exists()


def edit(path, sheet, changes):
    wb = openpyxl.load_workbook(path)
    for cell, value in changes.items():
        wb[sheet][cell] = value
    wb.save(path)


def test_fit_trains_on_train_rows_only_and_follows_marks_edited_in_the_sheet(tmp_path):
    s = build(out=tmp_path / "v.xlsx", seed=1, valid_pct=0.25)
    sheet = read_sheets(s.out)["linear"]
    valid_rows = np.flatnonzero(sheet.sets == "valid") + 4
    flipped = tmp_path / "flipped.xlsx"
    flipped.write_bytes(s.out.read_bytes())
    # Changing the answers of validation rows must not change the fit.
    edit(flipped, "linear", {f"A{r}": 1 - int(sheet.y[r - 4]) for r in valid_rows})
    settings = dict(restarts=2, epochs=20)
    Wa, Wb = (fit_sheets([read_sheets(p)["linear"]], settings)[0].W for p in (s.out, flipped))
    np.testing.assert_allclose(Wa, Wb, rtol=1e-9)
    a = fit_workbook(s.out, sheets=("linear",), **settings)[0]
    b = fit_workbook(flipped, sheets=("linear",), **settings)[0]
    # With a validation set, "better" is judged on it: against flipped answers the fit does worse than the
    # random start, and is not written.
    assert a.improved and not b.improved
    assert b.after == b.before
    w, *_ = np.linalg.lstsq(sheet.X[sheet.sets == "train"], sheet.y[sheet.sets == "train"], rcond=None)
    train_opt = np.mean((sheet.X[sheet.sets == "train"] @ w - sheet.y[sheet.sets == "train"]) ** 2)
    assert a.after["train_loss"] == pytest.approx(train_opt, rel=1e-9)
    # Marking a row valid by hand takes it out of training.
    first_train_row = np.flatnonzero(sheet.sets == "train")[0] + 4
    edit(flipped, "linear", {f"Q{first_train_row}": "valid"})
    Wc = fit_sheets([read_sheets(flipped)["linear"]], settings)[0].W
    assert not np.allclose(Wc, Wb, rtol=1e-6)


def test_a_bad_mark_is_refused(tmp_path):
    s = build(out=tmp_path / "v.xlsx", valid_pct=0.2)
    edit(s.out, "nnet", {"Q10": "test"})
    before = s.out.read_bytes()
    with pytest.raises(XlnetError, match=r"sheet 'nnet', cell Q10 \(Set\) holds 'test'; it must be train or valid\."):
        fit_workbook(s.out)
    assert s.out.read_bytes() == before


def test_fit_and_history_report_validation_figures(tmp_path):
    s = build(out=tmp_path / "v.xlsx", seed=42, valid_pct=0.2)
    r = CliRunner().invoke(cli, ["fit", str(s.out), "--quiet"])
    assert r.exit_code == 0, r.output
    header, *rows = r.output.splitlines()[:4]
    assert header.split() == ["sheet", "loss", "before", "loss", "after", "valid", "loss", "train", "acc",
                              "valid", "acc", "iterations", "seconds"]
    accuracy = {row.split()[0]: float(row.split()[5]) for row in rows}
    assert all(0.7 < a <= 1 for a in accuracy.values())
    history = list(openpyxl.load_workbook(s.out)["history"].iter_rows(min_row=2, values_only=True))
    new = [h for h in history if h[9] == "new"]
    assert [h[13] for h in new] == pytest.approx(list(accuracy.values()), abs=5e-5)
