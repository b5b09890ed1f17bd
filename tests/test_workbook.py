"""The workbook's formulas, recalculated by LibreOffice, compute what numpy computes."""
from __future__ import annotations

import os

import numpy as np
import openpyxl
import pytest

from conftest import column_values, read_sheets, recalculated
from office import gnumeric_convert, ssconvert
from xlnet.commands.build import build
from xlnet.workbook.layout import FIRST_ROW
from xlnet.model.net import SHEETS as MODEL_SHEETS

RTOL = 1e-12


def check_computed_columns(ws, sheet, where: str) -> None:
    """The derived columns (text exactly, numbers at relative 1e-12) and every feature formula, as numpy has them."""
    at, n = sheet.layout, len(sheet.y)
    for name, _ in at.derived:
        expected = sheet.env[name]
        got = [ws.cell(FIRST_ROW + i, at.col[name]).value for i in range(n)]
        if expected.dtype == float:
            np.testing.assert_allclose(np.array(got, float), expected, rtol=RTOL,
                                       err_msg=f"{where} {name} = {sheet.spec.column(name).formula}")
        else:  # an app may save an empty text as no value
            for i, (v, e) in enumerate(zip(got, expected.tolist())):
                ok = v == pytest.approx(e, rel=RTOL) if isinstance(e, float) else ("" if v is None else v) == e
                assert ok, f"{where} {name} row {FIRST_ROW + i}: the app has {v!r}, numpy {e!r}"
    for k, (name, op) in enumerate(at.features):
        if op is not None:
            np.testing.assert_allclose(column_values(ws, at.col[name], FIRST_ROW, n), sheet.X[:, k], rtol=RTOL,
                                       atol=RTOL, err_msg=f"{where} {name}")


def check_against_numpy(path, libreoffice, tmp_path):
    """Every prediction, per-row loss, loss and score cell that LibreOffice, and Gnumeric, compute equals numpy
    (relative 1e-12). Returns LibreOffice's loss cells."""
    apps = {"LibreOffice": recalculated(libreoffice, path, tmp_path / "lo")}
    if ssconvert():
        apps["Gnumeric"] = openpyxl.load_workbook(gnumeric_convert(path, tmp_path / "gnumeric"), data_only=True)
    elif os.environ.get("CI"):
        pytest.fail("Gnumeric is not installed: run `bash scripts/test`, which installs it")
    losses = {}
    for name, sheet in read_sheets(path).items():
        model, n, at = sheet.model, len(sheet.y), sheet.layout
        expected = model.evaluate(sheet.X, sheet.y, sheet.W, sheet.sets, sheet.weight_decay)
        for app, values in apps.items():
            ws = values[name]
            check_computed_columns(ws, sheet, f"{app} {name}")
            for column in model.column_names:
                if column == model.prediction and sheet.spec.classes:  # the class, by its label: exactly
                    got = [ws.cell(FIRST_ROW + i, at.col[column]).value for i in range(n)]
                    assert got == [sheet.spec.classes[int(k)] for k in expected[column]], (app, name, column)
                    continue
                got = column_values(ws, at.col[column], FIRST_ROW, n)
                # Relative 1e-12; an entry that cancels to near zero (a sum of larger terms) is held to 1e-12 of
                # the column's scale instead, since the apps and numpy add in different orders.
                scale = max(1.0, float(np.abs(expected[column]).max()))
                if column == "Loss":  # a softmax's loss is LN(SUM)+MAX-SUMPRODUCT: terms the size of the logits
                    scale = max([scale] + [float(np.abs(expected[c]).max()) for c in model.column_names
                                           if c != model.prediction and np.ndim(expected[c])])
                np.testing.assert_allclose(got, expected[column], rtol=RTOL, atol=RTOL * scale,
                                           err_msg=f"{app} {name} {column}")
            for metric in model.metrics(at.split):
                c, r = at.metric_at[metric]
                assert ws.cell(r, c).value == pytest.approx(float(expected[metric]), rel=RTOL), (app, name, metric)
        c, r = at.metric_at["train_loss"]
        losses[name] = apps["LibreOffice"][name].cell(r, c).value
    return losses


@pytest.mark.parametrize("missing, rows", [("drop", 712), ("mode", 891)])
def test_built_workbook_computes_what_numpy_computes(tmp_path, libreoffice, missing, rows):
    s = build(out=tmp_path / "t.xlsx", seed=7, missing=missing)
    assert (s.rows_read, s.rows_kept) == (891, rows)
    losses = check_against_numpy(s.out, libreoffice, tmp_path)
    assert losses == pytest.approx(s.losses, rel=RTOL)


def reference_params(reference) -> dict[str, np.ndarray]:
    """The Excel-Solver parameters of the lesson's workbook, found through its solver_adj names."""
    wb = openpyxl.load_workbook(reference)
    params = {}
    for name in MODEL_SHEETS:
        ws = wb[name]
        rng = ws.defined_names["solver_adj"].attr_text.split("!")[1].replace("$", "")
        params[name] = np.array([[c.value for c in row] for row in ws[rng]], dtype=float)
    return params


def test_reference_workbook_reproduced(tmp_path, libreoffice, kaggle_train, reference):
    s = build(kaggle_train, tmp_path / "ref.xlsx", params=reference_params(reference))
    assert s.rows_kept == 712
    losses = check_against_numpy(s.out, libreoffice, tmp_path)
    expected = {"linear": 0.144227149309, "nnet": 0.143152096417, "mmult": 0.143152096410}
    assert losses == pytest.approx(expected, rel=1e-9)


def test_formulas_are_the_lessons(tmp_path):
    s = build(out=tmp_path / "t.xlsx")
    wb = openpyxl.load_workbook(s.out)
    lin, nnet, mm = wb["linear"], wb["nnet"], wb["mmult"]
    assert [lin.cell(3, c).value for c in range(1, 17)] == [
        "Survived", "Embarked", "Pclass", "Sex", "Age", "Fare", "SibSp", "Parch", "Age_N", "log_Fare",
        "Pclass_1", "Pclass_2", "Embark_S", "Embark_C", "Male", "Ones"]
    assert lin["E1"].value == "=MAX(E4:E715)"
    assert [lin[f"{c}4"].value for c in "IJKLMNO"] == [
        "=E4/$E$1", "=LOG10(F4+1)", "=IF(C4=1,1,0)", "=IF(C4=2,1,0)", '=IF(B4="S",1,0)', '=IF(B4="C",1,0)',
        '=IF(D4="male",1,0)']
    assert lin["AC4"].value == "=SUMPRODUCT(G4:P4,$R$4:$AA$4)"
    assert lin["AD4"].value == "=(AC4-A4)^2"
    assert lin["AD1"].value == "=AVERAGE(AD4:AD715)"
    assert (nnet["AC5"].value, nnet["AD5"].value) == ("=SUMPRODUCT(G5:P5,$R$4:$AA$4)", "=SUMPRODUCT(G5:P5,$R$5:$AA$5)")
    assert [nnet[f"{c}5"].value for c in ("AE", "AF", "AG", "AH")] == [
        "=IF(AC5<0,0,AC5)", "=IF(AD5<0,0,AD5)", "=AE5+AF5", "=(AG5-A5)^2"]
    assert (mm["V4"].value.ref, mm["V4"].value.text) == ("V4:W715", "=MMULT(G4:P715,$S$4:$T$13)")
    assert [mm[f"R{r}"].value for r in (4, 13)] == ["SibSp", "Ones"]
    names = {n: lin.defined_names[n].attr_text for n in ("solver_opt", "solver_adj", "solver_typ", "solver_eng")}
    assert names == {"solver_opt": "linear!$AD$1", "solver_adj": "linear!$R$4:$AA$4", "solver_typ": "2",
                     "solver_eng": "1"}
    assert mm.defined_names["solver_adj"].attr_text == "mmult!$S$4:$T$13"
    assert all(ws.defined_names["solver_opt"].hidden for ws in (lin, nnet, mm))
    assert lin.freeze_panes == "A4"
    assert lin["Q3"].value is None and "train_loss" not in lin.defined_names  # no validation set: the lesson's


def test_same_seed_same_start_other_seed_other_start(tmp_path):
    a = build(out=tmp_path / "a.xlsx", seed=3).losses
    b = build(out=tmp_path / "b.xlsx", seed=3).losses
    c = build(out=tmp_path / "c.xlsx", seed=4).losses
    assert a == b and a != c
    W = read_sheets(tmp_path / "a.xlsx")["nnet"].W
    assert W.shape == (20,) and (W >= -0.5).all() and (W < 0.5).all()


def test_validation_set_cells_compute_what_numpy_computes(tmp_path, libreoffice):
    s = build(out=tmp_path / "v.xlsx", seed=42, valid_pct=0.2)
    assert (s.rows_kept, s.rows_valid) == (712, 142)
    losses = check_against_numpy(s.out, libreoffice, tmp_path)
    assert losses == pytest.approx(s.losses, rel=RTOL)
    ws = openpyxl.load_workbook(s.out)["nnet"]
    assert ws["Q3"].value == "Set" and {ws.cell(r, 17).value for r in range(4, 716)} == {"train", "valid"}
    assert {k: v.attr_text for k, v in ws.defined_names.items() if not k.startswith("solver")} == {
        "train_loss": "nnet!$AH$1", "valid_loss": "nnet!$AH$2",
        "train_accuracy": "nnet!$AJ$1", "valid_accuracy": "nnet!$AJ$2"}
    assert ws.defined_names["solver_opt"].attr_text == "nnet!$AH$1"
    assert ws["AH1"].value == '=AVERAGEIF(Q4:Q715,"train",AH4:AH715)'
