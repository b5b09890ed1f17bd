"""Lesson 2 as a workbook: LibreOffice recalculates every step to numpy's descent, and the sheet is live."""
from __future__ import annotations

import numpy as np
import openpyxl
import pytest
from click.testing import CliRunner

from conftest import recalculated
from xlnet.cli import cli
from xlnet.commands.lesson import build_lesson
from xlnet.presets import sgd


def sheet_steps(ws, at: sgd.Layout) -> dict[str, np.ndarray]:
    rows = range(sgd.FIRST, at.last_step + 1)
    return {name: np.array([ws.cell(r, at.step_col[name]).value for r in rows], float) for name in at.step_names}


def check(values_ws, s, inputs=None):
    """Every step's parameters, loss, gradients and state equal numpy's, relative 1e-12 (absolute near 0)."""
    plan = s.plan
    at = sgd.Layout(plan)
    rows = s.rows if inputs is None else sgd.descend(plan, sgd.make_data(plan, 42), inputs)
    got = sheet_steps(values_ws, at)
    h = (inputs or sgd.input_values(plan, 0.1))["h"]
    for name in at.step_names:
        expected = np.array([r[name] for r in rows])
        # A finite difference divides the difference of two nearly equal losses by 2h: the apps' and numpy's
        # rounding of those losses (1e-12 of them) is magnified by 1/h, so it is held to 1e-12 of loss/h.
        atol = 1e-12 * np.abs([r["loss"] for r in rows]).max() / h if name.startswith("fd") else 1e-12
        np.testing.assert_allclose(got[name], expected, rtol=1e-12, atol=atol, err_msg=name)
    return got


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("model", ["line", "quadratic"])
@pytest.mark.parametrize("batch", [None, 10])
def test_every_step_computes_in_libreoffice_what_numpy_computes(tmp_path, libreoffice, optimizer, model, batch):
    s = build_lesson(tmp_path / "l.xlsx", steps=60, optimizer=optimizer, model=model, batch_size=batch)
    got = check(recalculated(libreoffice, s.out, tmp_path / "lo")[sgd.SHEET], s)
    assert got["loss"][-1] < got["loss"][0]
    if batch is None:  # the analytic gradient beside its finite difference, as the lesson compares them
        np.testing.assert_allclose(got["g1"], got["fd1"], rtol=1e-6, atol=1e-8)


def test_changing_lr_in_the_sheet_recomputes_the_whole_descent(tmp_path, libreoffice):
    s = build_lesson(tmp_path / "l.xlsx", steps=40)
    wb = openpyxl.load_workbook(s.out)
    lr_cell = wb.defined_names["lr"].attr_text.split("!")[1].replace("$", "")
    wb[sgd.SHEET][lr_cell] = 0.3
    wb.save(tmp_path / "edited.xlsx")
    inputs = sgd.input_values(s.plan, 0.3)
    got = check(recalculated(libreoffice, tmp_path / "edited.xlsx", tmp_path / "lo")[sgd.SHEET], s, inputs)
    assert got["loss"][10] != pytest.approx(s.rows[10]["loss"], rel=1e-3)  # a new descent, not the pasted one


def test_a_diverging_rate_shows_growing_losses_and_the_cli_warns(tmp_path, libreoffice):
    r = CliRunner().invoke(cli, ["lesson", "sgd", "--out", str(tmp_path / "d.xlsx"), "--lr", "1.5", "--steps", "30"])
    assert r.exit_code == 0
    assert "Warning: the descent diverges: the loss grows from 6.56774 to" in r.output
    values = recalculated(libreoffice, tmp_path / "d.xlsx", tmp_path / "lo")[sgd.SHEET]
    at = sgd.Layout(sgd.Plan("line", "sgd", 100, 30, None))
    losses = sheet_steps(values, at)["loss"]
    assert np.isfinite(losses).all() and (np.diff(losses[5:]) > 0).all()


def test_names_inputs_and_charts(tmp_path):
    s = build_lesson(tmp_path / "l.xlsx", steps=100, model="quadratic")
    wb = openpyxl.load_workbook(s.out)
    names = {k: v.attr_text for k, v in wb.defined_names.items()}
    assert {"x", "y", "lr", "loss", "a_1", "a_2", "a_3", "show_step", "beta", "beta1", "beta2", "eps"} <= set(names)
    assert names["a_1"].endswith("$3:$" + names["a_1"].split("$")[-2] + "$103")  # step 0 first, 101 rows
    ws = wb[sgd.SHEET]
    at = sgd.Layout(s.plan)
    a1 = openpyxl.utils.get_column_letter(at.step_col["a1"])
    g1 = openpyxl.utils.get_column_letter(at.step_col["g1"])
    assert ws[f"{a1}4"].value == f"=({a1}3-(lr*{g1}3))"
    assert ws[f"{a1}3"].value == "=start_1"
    import zipfile
    with zipfile.ZipFile(s.out) as z:
        assert len([n for n in z.namelist() if n.startswith("xl/charts/")]) == 2


def test_the_lessons_settings_reach_the_least_squares_line(tmp_path):
    s = build_lesson(tmp_path / "l.xlsx")
    assert s.within_1pct is not None and s.within_1pct < 100 and not s.diverged
    assert [round(s.rows[-1][p], 1) for p in s.plan.params] == [3.0, 2.0]
