"""Nets of any shape: several hidden layers and multi-class targets, every unit a live formula that LibreOffice
and Gnumeric compute as numpy does; predicted classes exactly, probabilities at a relative 1e-12."""
from __future__ import annotations

import csv

import numpy as np
import openpyxl
import pytest
from click.testing import CliRunner

from conftest import ROOT, read_sheets
from test_workbook import check_against_numpy
from xlnet.cli import cli
from xlnet.commands.build import build
from xlnet.commands.fit import fit_workbook
from xlnet.workbook.layout import FIRST_ROW
from xlnet.workbook.predict_sheet import predict_columns

PENGUINS = ROOT / "data" / "penguins.csv"
FIT = dict(restarts=8, epochs=40)


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_penguin_species_is_a_softmax_over_three_classes(tmp_path, libreoffice):
    s = build(PENGUINS, tmp_path / "s.xlsx", target="species", hidden="3,2")
    assert (s.spec.task, s.spec.loss, s.spec.classes, s.spec.hidden) == (
        "multiclass", "crossentropy", ["Adelie", "Chinstrap", "Gentoo"], [3, 2])
    assert check_against_numpy(s.out, libreoffice, tmp_path / "built") == pytest.approx(s.losses, rel=1e-12)
    results = fit_workbook(s.out, **FIT)
    assert all(r.after["valid_accuracy"] > 0.9 for r in results)
    check_against_numpy(s.out, libreoffice, tmp_path / "fitted")
    wb = openpyxl.load_workbook(s.out)
    nnet, mmult = wb["nnet"], wb["mmult"]
    at = read_sheets(s.out)["nnet"].layout
    # The class labels sit above the probabilities, and the predicted class is read off them by formula.
    assert [nnet.cell(2, at.col[f"P {c}"]).value for c in s.spec.classes] == s.spec.classes
    cls = nnet.cell(FIRST_ROW, at.col["Class"]).value
    assert cls.startswith("=INDEX(") and ",1,MATCH(MAX(" in cls
    # Layer 2 and the output have a bias in their blocks; mmult's layers are one array formula each.
    arrays = sorted(c.value.text for row in mmult.iter_rows(min_row=4, max_row=4) for c in row
                    if hasattr(c.value, "text"))
    assert len(arrays) == 3 and sum("MMULT" in a and "+" in a for a in arrays) == 2
    names = read_sheets(s.out)["nnet"].layout.param_names()
    assert "ReLU3·L2 Lin1" in names and "bias·L2 Lin2" in names and "bias·Z Gentoo" in names


def test_two_hidden_layers_on_a_number(tmp_path, libreoffice):
    s = build(PENGUINS, tmp_path / "m.xlsx", target="body_mass_g", hidden=[4, 3], missing="median")
    assert s.spec.task == "continuous" and [m["train_loss"] for m in s.metrics.values()]
    fit_workbook(s.out, **FIT)
    check_against_numpy(s.out, libreoffice, tmp_path)
    sheets = read_sheets(s.out)
    assert [b.name for b in sheets["nnet"].model.blocks] == ["W", "W2", "V"]
    assert sheets["nnet"].model.blocks[1].shape == (3, 5) and sheets["mmult"].model.blocks[1].shape == (5, 3)


def test_predicting_classes_with_an_unseen_level(tmp_path, libreoffice):
    s = build(PENGUINS, tmp_path / "s.xlsx", target="species", hidden=3)
    fit_workbook(s.out, **FIT)
    new = tmp_path / "new.csv"
    lines = PENGUINS.read_text().splitlines()
    new.write_text("\n".join(lines[:1] + [line.replace("Dream", "Atlantis") for line in lines[1:40]]) + "\n")
    labels, proba = tmp_path / "labels.csv", tmp_path / "proba.csv"
    r = run("predict", s.out, new, "--out", labels, "--model", "nnet")
    assert r.exit_code == 0 and "rows have a island the workbook never saw" in r.output, r.output
    r = run("predict", s.out, new, "--out", proba, "--proba", "--model", "nnet", "--sheet")
    assert r.exit_code == 0, r.output
    got_labels = list(csv.reader(labels.open()))
    got_proba = list(csv.reader(proba.open()))
    assert got_labels[0] == ["row", "species"] and got_proba[0] == ["row", "Adelie", "Chinstrap", "Gentoo"]
    P = np.array([[float(x) for x in row[1:]] for row in got_proba[1:]])
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-12)
    assert [row[1] for row in got_labels[1:]] == [s.spec.classes[k] for k in P.argmax(axis=1)]
    # The predict sheet's live formulas give the same classes and probabilities in LibreOffice.
    values = openpyxl.load_workbook(libreoffice(s.out, tmp_path / "lo"), data_only=True)["predict"]
    header = {values.cell(3, c).value: c for c in range(1, values.max_column + 1)}
    c, r0 = predict_columns(read_sheets(s.out))["nnet"]
    assert [values.cell(r0 + i, c).value for i in range(len(P))] == [row[1] for row in got_labels[1:]]
    for k, level in enumerate(s.spec.classes):
        got = np.array([values.cell(r0 + i, header[f"nnet·P {level}"]).value for i in range(len(P))], float)
        # Relative 1e-12 of the column's scale, 1: EXP turns the logits' last-digit differences into relative
        # ones, which matter only where a probability is far below 1e-12 anyway (as in check_against_numpy).
        np.testing.assert_allclose(got, P[:, k], rtol=1e-12, atol=1e-12)


def test_a_numeric_target_of_few_whole_values_is_classes_unless_continuous(tmp_path):
    rows = "".join(f"{i % 3},{i * 0.7:.2f},{(i * 7) % 11}\n" for i in range(60))
    (tmp_path / "w.csv").write_text("cultivar,x,z\n" + rows)
    r = run("build", tmp_path / "w.csv", "--target", "cultivar", "--out", tmp_path / "w.xlsx")
    assert r.exit_code == 0, r.output
    s = read_sheets(tmp_path / "w.xlsx")["linear"]
    assert s.spec.task == "multiclass" and s.spec.classes == [0, 1, 2]
    r = run("inspect", tmp_path / "w.csv", "--target", "cultivar")
    assert "3 whole-number values: classes (--continuous for a number): 3 classes" in r.output
    r = run("build", tmp_path / "w.csv", "--target", "cultivar", "--continuous", "--out", tmp_path / "c.xlsx")
    assert r.exit_code == 0 and read_sheets(tmp_path / "c.xlsx")["linear"].spec.task == "continuous"


@pytest.mark.parametrize("args, message", [
    *((["--hidden", bad], "--hidden takes the units of each hidden layer, whole numbers from 1 to 64, 1 to 4 layers "
                          f"(as 8, or 8,4); not '{bad}'.") for bad in ("0", "-3", "two", "8,8,8,8,8", "65")),
    (["--positive", "Emperor"], "{csv}: --positive 'Emperor' is not a value of species; its values include Adelie, "
                                "Gentoo, Chinstrap."),
    (["--positive", "Adelie", "--classes"], "--positive, --classes and --continuous each say what the target is: "
                                            "give one of them."),
    (["--continuous"], "{csv}: --continuous needs a numeric target; species holds 'Adelie'."),
])
def test_bad_shapes_are_refused_in_one_line(tmp_path, args, message):
    out = tmp_path / "s.xlsx"
    r = run("build", PENGUINS, "--target", "species", "--out", out, *args)
    assert (r.exit_code, r.output) == (1, "Error: " + message.format(csv=PENGUINS) + "\n")
    assert not out.exists()


def test_targets_with_no_classes_to_learn_are_refused(tmp_path):
    one = tmp_path / "one.csv"
    one.write_text("y,x\n" + "".join(f"same,{i}\n" for i in range(20)))
    r = run("build", one, "--target", "y", "--out", tmp_path / "o.xlsx")
    assert (r.exit_code, r.output) == (1, f"Error: {one}: every y is 'same'; a target of one value has nothing to "
                                          "predict.\n")
    many = tmp_path / "many.csv"
    many.write_text("y,x\n" + "".join(f"k{i % 25},{i}\n" for i in range(100)))
    r = run("build", many, "--target", "y", "--out", tmp_path / "m.xlsx")
    assert (r.exit_code, r.output) == (1, f"Error: {many}: the target y has 25 levels; xlnet predicts up to 20 "
                                          "classes: name the level to predict with --positive LEVEL.\n")
    # A class whose only row is held out for validation: no model can learn it.
    rare = tmp_path / "rare.csv"
    rare.write_text("y,x\n" + "".join(f"{'ab'[i % 2]},{i}\n" for i in range(59)) + "c,59\nc,60\n")
    for seed in range(40):
        r = run("build", rare, "--target", "y", "--seed", seed, "--out", tmp_path / "r.xlsx")
        if r.exit_code:
            break
        (tmp_path / "r.xlsx").unlink()
    assert (r.exit_code, r.output) == (1, f"Error: {rare}: the class 'c' of y has no training rows (all of its rows "
                                          "are validation rows), so no model can learn it; build with another "
                                          "--seed, or a smaller --valid-pct.\n")
    assert not (tmp_path / "r.xlsx").exists()


def test_build_says_when_excel_solver_cannot_take_a_sheet(tmp_path):
    r = run("build", PENGUINS, "--target", "species", "--hidden", "16,8", "--out", tmp_path / "b.xlsx")
    assert r.exit_code == 0, r.output
    # 10 features x 16 units, (16 + 1 bias) x 8, (8 + 1) x 3 classes, and the weight decay cell
    assert ("  nnet: 324 parameter cells; Excel's own Solver changes at most 200 (xlnet fits them all; Analytic "
            "Solver takes more)") in r.output.splitlines()
    assert not any(line.startswith("  linear:") for line in r.output.splitlines())


def test_a_spec_file_keeps_the_layers_and_the_classes(tmp_path):
    toml = tmp_path / "s.toml"
    r = run("inspect", PENGUINS, "--target", "species", "--hidden", "6,3", "--write-spec", toml)
    assert r.exit_code == 0 and "loss crossentropy, hidden 6,3," in r.output, r.output
    assert {'task = "multiclass"', 'loss = "crossentropy"', "hidden = [6, 3]"} <= set(toml.read_text().splitlines())
    r = run("build", PENGUINS, "--spec", toml, "--out", tmp_path / "s.xlsx")
    assert r.exit_code == 0, r.output
    spec = read_sheets(tmp_path / "s.xlsx")["nnet"].spec
    assert (spec.layers, spec.classes) == ((6, 3), ["Adelie", "Chinstrap", "Gentoo"])


@pytest.mark.parametrize("target, hidden, decay", [
    ("species", "3,2", 0.0),          # classes: a softmax over three output units, two hidden layers
    ("sex", "2,3", 0.01),             # two classes: log-loss, a sigmoid unit, and weight decay
    ("body_mass_g", "4,3,2", 0.003),  # a number: three hidden layers, squared error, weight decay
])
def test_every_shapes_gradient_matches_central_differences(tmp_path, target, hidden, decay):
    """The gradient a fit follows is the derivative of the objective the sheet computes, for every layer of
    every kind of net (a unit's values and gradient are gathered a layer at a time: ops.UnitGrad)."""
    s = build(PENGUINS, tmp_path / "g.xlsx", target=target, hidden=hidden, missing="median")
    for name, sheet in read_sheets(s.out).items():
        X, y = sheet.train_data()
        model = sheet.model
        W = np.random.default_rng(1).uniform(-1, 1, (2, model.n_params))
        _, g = model.loss_and_grad(X, y, W, decay)
        h, numeric = 1e-5, np.zeros_like(W)
        for idx in np.ndindex(*W.shape):
            Wp, Wm = W.copy(), W.copy()
            Wp[idx] += h
            Wm[idx] -= h
            loss = lambda V: model.loss_and_grad(X, y, V, decay)[0][idx[0]]  # noqa: E731
            numeric[idx] = (loss(Wp) - loss(Wm)) / (2 * h)
        # the body masses' squared errors are about 1e7: differences of the loss carry its rounding, ~1e-9 of it
        np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-6 * np.abs(g).max(), err_msg=name)


def test_a_deep_multiclass_nnet_and_mmult_are_one_net_whose_parameters_map_both_ways(tmp_path):
    s = build(PENGUINS, tmp_path / "s.xlsx", target="species", hidden="3,2")
    sheets = read_sheets(s.out)
    nnet, mmult = sheets["nnet"], sheets["mmult"]
    assert nnet.model.same_net(mmult.model) and mmult.model.same_net(nnet.model)
    W = mmult.model.params_from(nnet.model, nnet.W)
    assert [b.shape for b in mmult.model.blocks] == [b.shape[::-1] for b in nnet.model.blocks]
    X, y = nnet.train_data()
    assert mmult.model.loss_and_grad(X, y, W[None])[0][0] == pytest.approx(
        nnet.model.loss_and_grad(X, y, nnet.W[None])[0][0], rel=1e-12)
    assert np.array_equal(nnet.model.params_from(mmult.model, W), nnet.W)
    other = build(PENGUINS, tmp_path / "o.xlsx", target="species", hidden="2,3")  # the same sizes, other order
    assert not nnet.model.same_net(read_sheets(other.out)["mmult"].model)
