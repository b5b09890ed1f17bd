"""Lesson 3's ReLUs as a workbook: LibreOffice (and Gnumeric) recalculate every step, unit and sum to an
independent numpy descent, and the sheet is live."""
from __future__ import annotations

import numpy as np
import openpyxl
import pytest
from click.testing import CliRunner

from conftest import recalculated
from office import gnumeric_convert, ssconvert
from xlnet.cli import cli
from xlnet.commands.lesson import build_relu_lesson
from xlnet.presets import relu, sgd


def numpy_descent(x, y, inputs: dict, units: int, optimizer: str, steps: int) -> list[dict[str, float]]:
    """Gradient descent on c + sum_k a_k max(0, m_k x + b_k), written out plainly: each step's parameters, loss,
    gradients and optimiser state, as the sheet lays them out."""
    names = [f"{p}{k + 1}" for k in range(units) for p in "mba"] + ["c"]
    start = {n: inputs["start_c" if n == "c" else f"start_{n[0]}_{n[1:]}"] for n in names}
    theta = np.array([start[n] for n in names])
    lr, beta, b1, b2, eps = (inputs[k] for k in ("lr", "beta", "beta1", "beta2", "eps"))
    rows, v, m, s = [], 0.0, 0.0, 0.0
    for step in range(steps + 1):
        P = dict(zip(names, theta))
        z = np.array([P[f"m{k + 1}"] * x + P[f"b{k + 1}"] for k in range(units)])
        a = np.array([P[f"a{k + 1}"] for k in range(units)])
        r = P["c"] + (a[:, None] * np.maximum(z, 0)).sum(axis=0) - y
        g = {}
        for k in range(units):
            on = (z[k] > 0).astype(float)
            g[f"m{k + 1}"] = 2 * np.mean(r * a[k] * on * x)
            g[f"b{k + 1}"] = 2 * np.mean(r * a[k] * on)
            g[f"a{k + 1}"] = 2 * np.mean(r * np.maximum(z[k], 0))
        g["c"] = 2 * np.mean(r)
        grad = np.array([g[n] for n in names])
        if step == 0:
            v, m, s = grad, (1 - b1) * grad, (1 - b2) * grad * grad
        else:
            v, m, s = beta * v + grad, b1 * m + (1 - b1) * grad, b2 * s + (1 - b2) * grad * grad
        row = {"step": float(step), **P, "loss": float(np.mean(r * r)), **{f"g_{n}": g[n] for n in names}}
        state = {"momentum": {"v": v}, "adam": {"m": m, "s": s}}.get(optimizer, {})
        for key, values in state.items():
            row.update({f"opt {key}{i + 1}": float(value) for i, value in enumerate(values)})
        rows.append(row)
        if optimizer == "sgd":
            theta = theta - lr * grad
        elif optimizer == "momentum":
            theta = theta - lr * v
        else:
            t = step + 1
            theta = theta - lr * (m / (1 - b1 ** t)) / (np.sqrt(s / (1 - b2 ** t)) + eps)
    return rows


def sheet_values(ws, at: sgd.Layout, names, rows_range, columns) -> dict[str, np.ndarray]:
    return {name: np.array([ws.cell(r, columns[name]).value for r in rows_range], float) for name in names}


def check(ws, s, inputs=None) -> dict[str, np.ndarray]:
    """Every step column and every model column at show_step equal numpy's, relative 1e-12 (of the column's
    scale where it cancels to near 0)."""
    plan = s.plan
    at = sgd.Layout(plan)
    data = relu.make_data(plan, 42)
    inputs = inputs or relu.input_values(plan, 0.03)
    expected = numpy_descent(data["x"], data["y"], inputs, plan.units, plan.optimizer, plan.steps)
    got = sheet_values(ws, at, at.step_names, range(sgd.FIRST, at.last_step + 1), at.step_col)
    assert set(at.step_names) == set(expected[0])
    for name in at.step_names:
        want = np.array([row[name] for row in expected])
        np.testing.assert_allclose(got[name], want, rtol=1e-12, atol=1e-12 * max(1, np.abs(want).max()),
                                   err_msg=name)
    shown = relu.relu_at(data, sgd.descend(plan, data, inputs), plan, plan.steps)
    model = sheet_values(ws, at, list(shown), range(sgd.FIRST, sgd.FIRST + plan.n), at.data_col)
    for name, want in shown.items():
        np.testing.assert_allclose(model[name], want, rtol=1e-12, atol=1e-12 * max(1, np.abs(want).max()),
                                   err_msg=name)
    return got


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("units, curve", [(1, "quadratic"), (2, "vee"), (10, "wiggly")])
def test_every_step_and_unit_computes_in_libreoffice_what_numpy_computes(tmp_path, libreoffice, units, curve,
                                                                          optimizer):
    s = build_relu_lesson(tmp_path / "r.xlsx", units=units, curve=curve, steps=40, optimizer=optimizer)
    got = check(recalculated(libreoffice, s.out, tmp_path / "lo")[relu.SHEET], s)
    assert got["loss"][-1] < got["loss"][0]
    if ssconvert() and units == 2:
        check(openpyxl.load_workbook(gnumeric_convert(s.out, tmp_path / "gn"), data_only=True)[relu.SHEET], s)


def test_changing_lr_or_a_start_in_the_sheet_moves_the_whole_descent(tmp_path, libreoffice):
    s = build_relu_lesson(tmp_path / "r.xlsx", units=2, curve="quadratic", steps=30)
    wb = openpyxl.load_workbook(s.out)
    for name, value in (("lr", 0.01), ("start_m_1", 0.5)):
        sheet, cell = wb.defined_names[name].attr_text.split("!")
        wb[sheet][cell.replace("$", "")] = value
    wb.save(tmp_path / "edited.xlsx")
    inputs = {**relu.input_values(s.plan, 0.03), "lr": 0.01, "start_m_1": 0.5}
    got = check(recalculated(libreoffice, tmp_path / "edited.xlsx", tmp_path / "lo")[relu.SHEET], s, inputs)
    assert got["m1"][0] == 0.5 and got["loss"][10] != pytest.approx(s.rows[10]["loss"], rel=1e-3)


def test_ten_units_draw_the_wiggly_curve_nearly_as_well_as_their_best_weights(tmp_path):
    """The descent's loss within 5 times the least-squares loss of the same units' ReLUs (the best weights and
    constant for the bends it found: 4.6 times, measured), and far below where it started."""
    s = build_relu_lesson(tmp_path / "w.xlsx", units=10, curve="wiggly", steps=500, lr=0.05)
    first, last = s.rows[0]["loss"], s.rows[-1]["loss"]
    assert last < first / 100 and s.least_squares <= last <= 5 * s.least_squares


def test_options_that_cannot_make_a_lesson_are_refused(tmp_path):
    for args, message in (
            (["--units", "0"], "--units must be a whole number from 1 to 20, not 0."),
            (["--units", "21"], "--units must be a whole number from 1 to 20, not 21."),
            (["--steps", "0"], "--steps must be a whole number from 1 to 100,000, not 0."),
            (["--lr", "-1"], "--lr must be a positive number, not -1.0.")):
        r = CliRunner().invoke(cli, ["lesson", "relu", "--out", str(tmp_path / "r.xlsx"), *args])
        assert (r.exit_code, r.output) == (1, f"Error: {message}\n"), args
    r = CliRunner().invoke(cli, ["lesson", "relu", "--out", str(tmp_path / "r.xlsx"), "--curve", "zigzag"])
    assert r.exit_code == 2 and "'zigzag' is not one of 'quadratic', 'wiggly', 'vee'" in r.output
    assert not (tmp_path / "r.xlsx").exists()


def test_names_solver_and_charts(tmp_path):
    s = build_relu_lesson(tmp_path / "r.xlsx", units=2, steps=20)
    wb = openpyxl.load_workbook(s.out)
    names = set(wb.defined_names)
    assert {"x", "y", "lr", "show_step", "loss", "m_1", "b_1", "a_1", "m_2", "b_2", "a_2", "c",
            "start_m_1", "start_c"} <= names
    ws = wb[relu.SHEET]
    assert ws.defined_names["solver_opt"].attr_text.endswith("$3")  # the loss of step 0
    assert ws.defined_names["solver_adj"].attr_text.startswith("relu!$B$")
    at = sgd.Layout(s.plan)
    relu1 = ws.cell(sgd.FIRST, at.data_col["ReLU 1"]).value
    assert relu1.startswith("=MAX(0,INDEX(m_1,show_step+1)*") and relu1.endswith("+INDEX(b_1,show_step+1))")
    import zipfile
    with zipfile.ZipFile(s.out) as z:
        assert len([n for n in z.namelist() if n.startswith("xl/charts/chart")]) == 3


def test_it_prints_its_inputs_then_each_chart_on_a_page_of_its_own(tmp_path, libreoffice):
    import re
    s = build_relu_lesson(tmp_path / "r.xlsx", units=10, steps=100)
    pdf = libreoffice(s.out, tmp_path / "pdf", "pdf").read_bytes()
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 4
