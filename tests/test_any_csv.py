"""Any tabular CSV: a spec inferred (or given), a net of any width, classification and regression, checked in
LibreOffice against numpy. Real data: data/penguins.csv and data/fair.csv (see data/README.md)."""
from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, built_or_refused, read_sheets
from test_workbook import check_against_numpy
from xlnet.commands.build import build
from xlnet.cli import cli

PENGUINS, FAIR = ROOT / "data" / "penguins.csv", ROOT / "data" / "fair.csv"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.mark.parametrize("csv_path, options, rows, features", [
    (PENGUINS, dict(target="sex", loss="logloss", hidden=3, valid_pct=0.2), 333, 11),
    (PENGUINS, dict(target="body_mass_g", missing="median", hidden=4), 342, 11),
    (FAIR, dict(target="had_affair", ignore=("affairs",), hidden=8, valid_pct=0.2), 6366, 26),
])
def test_real_data_sets_compute_in_libreoffice_what_numpy_computes(tmp_path, libreoffice, csv_path, options,
                                                                  rows, features):
    s = build(csv_path, tmp_path / "w.xlsx", seed=1, **options)
    assert (s.rows_kept, s.features) == (rows, features)
    losses = check_against_numpy(s.out, libreoffice, tmp_path)
    assert losses == pytest.approx(s.losses, rel=1e-12)


def test_a_fitted_net_of_any_width_still_computes_what_numpy_computes(tmp_path, libreoffice):
    s = build(PENGUINS, tmp_path / "w.xlsx", target="sex", loss="logloss", hidden=5, valid_pct=0.25)
    r = run("fit", s.out, "--quiet", "--restarts", "8", "--epochs", "50")
    assert r.exit_code == 0, r.output
    printed = {line.split()[0]: float(line.split()[2]) for line in r.output.splitlines()[1:4]}
    losses = check_against_numpy(s.out, libreoffice, tmp_path)
    assert losses == pytest.approx(printed, abs=5e-11)
    sheets = read_sheets(s.out)
    assert all(sheet.metrics()["valid_accuracy"] > 0.75 for sheet in sheets.values())


def test_the_nets_have_an_output_layer_and_solver_sees_every_parameter(tmp_path):
    s = build(PENGUINS, tmp_path / "w.xlsx", target="sex", loss="logloss", hidden=4)
    wb = openpyxl.load_workbook(s.out)
    nnet, mmult = wb["nnet"], wb["mmult"]
    header = {c.value: c.column_letter for c in nnet[3] if c.value and c.column > 32}
    assert [header[f"ReLU{k}"] for k in range(1, 5)] == ["AK", "AL", "AM", "AN"]
    assert nnet["AO4"].value == "=SUMPRODUCT(AK4:AN4,$U$10:$X$10)+$Y$10"
    assert [nnet[c].value for c in ("U9", "X9", "Y9")] == ["ReLU1", "ReLU4", "bias"]
    assert nnet["AP4"].value == "=IF(AO4>=0,1/(1+EXP(-AO4)),EXP(AO4)/(1+EXP(AO4)))"
    assert nnet["AQ4"].value == "=MAX(AO4,0)-A4*AO4+LN(1+EXP(-ABS(AO4)))"
    assert nnet.defined_names["solver_adj"].attr_text == "nnet!$U$4:$AE$7,nnet!$U$10:$Y$10"
    assert mmult.defined_names["solver_adj"].attr_text == "mmult!$V$4:$Y$14,mmult!$V$17:$V$21"
    arrays = {c.coordinate: (c.value.ref, c.value.text) for row in mmult.iter_rows(min_row=4, max_row=4)
              for c in row if hasattr(c.value, "text")}
    assert arrays == {"AA4": ("AA4:AD336", "=MMULT(I4:S336,$V$4:$Y$14)"),
                      "AI4": ("AI4:AI336", "=MMULT(AE4:AH336,$V$17:$V$20)+$V$21")}


NUMBER = st.floats(-1000, 1000, allow_nan=False).map(lambda x: f"{x:.6g}")
SKEWED = st.floats(0, 8).map(lambda x: f"{10 ** x - 1:.6g}")
KINDS = {
    "num": NUMBER, "skew": SKEWED, "whole": st.integers(0, 4).map(str),
    "cat": st.sampled_from(["red", "green", "blue", "Red", "grey"]),
    "free": st.text("abcdefghij", min_size=6, max_size=12), "id": None,
}
MISSING = st.sampled_from(["", "NA", "N/A", "NaN", "null", "?"])
CLASSES = ["cat", "dog", "Cat", "bird", "fish", "ant", "eel"]  # "Cat" is the class cat, as a spreadsheet compares


@st.composite
def any_csv(draw):
    n = draw(st.integers(8, 30))
    kinds = draw(st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=6))
    task = draw(st.sampled_from(["text", "number01", "continuous", "classes"]))
    target = {"text": st.sampled_from(["yes", "no"]), "number01": st.sampled_from(["0", "1"]),
              "continuous": NUMBER, "classes": st.sampled_from(CLASSES[:draw(st.integers(3, len(CLASSES)))])}[task]
    header = ["y"] + [f"{k}_{i}" if k != "id" else f"row_id_{i}" for i, k in enumerate(kinds)]
    rows = []
    for r in range(n):
        row = [draw(target)]
        for k in kinds:
            if k == "id":
                row.append(str(1000 + r))
            elif k not in ("free",) and draw(st.integers(0, 12)) == 0:
                row.append(draw(MISSING))
            else:
                row.append(draw(KINDS[k]))
        rows.append(row)
    buf = io.StringIO()
    csv.writer(buf).writerows([header] + rows)
    options = dict(target="y", hidden=draw(st.lists(st.integers(1, 8), min_size=1, max_size=3)),
                   missing=draw(st.sampled_from(["drop", "mode", "median"])),
                   valid_pct=draw(st.sampled_from([0.0, 0.25])))
    if task in ("text", "number01") and draw(st.booleans()):
        options["loss"] = "logloss"
    return buf.getvalue(), options


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=any_csv())
def test_any_csv_builds_a_sound_workbook_or_fails_cleanly(case):
    with tempfile.TemporaryDirectory() as d:
        built_or_refused(case[0].encode(), Path(d), **case[1])


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(case=any_csv())
def test_generated_csvs_recalculate_in_libreoffice_to_numpy(case, libreoffice):
    with tempfile.TemporaryDirectory() as d:
        summary = built_or_refused(case[0].encode(), Path(d), **case[1])
        if summary is not None:
            assert check_against_numpy(summary.out, libreoffice, Path(d)) == pytest.approx(summary.losses, rel=1e-12)


def test_text_levels_compare_without_case_as_spreadsheets_do(tmp_path, libreoffice):
    text = "y,colour,x\n" + "".join(f"{i % 2},{c},{i}\n" for i, c in enumerate(
        ["red", "Red", "RED", "blue", "Blue", "green", "red", "blue", "green", "red"]))
    (tmp_path / "c.csv").write_text(text)
    s = build(tmp_path / "c.csv", tmp_path / "c.xlsx", target="y")
    assert s.spec.column("colour").levels == ["red", "blue"]
    check_against_numpy(s.out, libreoffice, tmp_path)
    X = read_sheets(s.out)["linear"].X
    assert X[:3, 0].tolist() == [1.0, 1.0, 1.0]  # colour_red for red, Red and RED


def test_inspect_shows_the_spec_and_writes_it_for_build(tmp_path):
    r = run("inspect", PENGUINS, "--target", "sex", "--write-spec", tmp_path / "spec.toml")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[:4] == [
        "column             kind         transform  levels / feature     missing  why",
        "species            categorical  dummies    Adelie, Gentoo       0        text; baseline 'Chinstrap'",
        "island             categorical  dummies    Biscoe, Dream        0        text; baseline 'Torgersen'",
        "bill_length_mm     numeric      scale      bill_length_mm_N     2        numbers"]
    assert r.output.splitlines()[-2:] == [
        "344 rows; 11 features (with Ones); loss mse, hidden 2, missing values: median.",
        f"Wrote {tmp_path / 'spec.toml'}"]
    spec = (tmp_path / "spec.toml").read_text().replace('name = "year"\nkind = "categorical"\ntransform = "dummies"',
                                                        'name = "year"\nkind = "ignored"')
    (tmp_path / "spec.toml").write_text(spec)
    s = build(PENGUINS, tmp_path / "w.xlsx", spec_file=tmp_path / "spec.toml")
    assert s.features == 9 and s.spec.column("year").kind == "ignored"
    j = json.loads(run("inspect", PENGUINS, "--target", "sex", "--json").output)
    assert j["target"] == "sex" and {c["name"]: c["kind"] for c in j["columns"]}["year"] == "categorical"


@pytest.mark.parametrize("args, message", [
    (["--target", "weight"], "{csv}: --target names 'weight', which is not a column; the columns are: species, "
                             "island, bill_length_mm, bill_depth_mm, flipper_length_mm, body_mass_g, sex, year."),
    (["--target", "body_mass_g", "--loss", "logloss"],
     "--loss logloss does not fit the continuous target 'body_mass_g': use --loss mse."),
    (["--target", "sex", "--hidden", "0"], "--hidden takes the units of each hidden layer, whole numbers from 1 to "
                                           "64, 1 to 4 layers (as 8, or 8,4); not '0'."),
    (["--target", "species", "--loss", "mse"],
     "--loss mse does not fit the multiclass target 'species': use --loss crossentropy."),
    (["--target", "species", "--positive", "Emperor"],
     "{csv}: --positive 'Emperor' is not a value of species; its values include Adelie, Gentoo, Chinstrap."),
    (["--hidden", "4"], "{csv}: name the target column with --target to use spec options (the lesson's preset "
                        "takes none)."),
])
def test_bad_spec_options_are_refused(tmp_path, args, message):
    out = tmp_path / "w.xlsx"
    r = run("build", PENGUINS, "--out", out, *args)
    assert (r.exit_code, r.output) == (1, "Error: " + message.format(csv=PENGUINS) + "\n")
    assert not out.exists()


def test_one_vs_rest_with_positive_and_r2_for_continuous(tmp_path):
    s = build(PENGUINS, tmp_path / "a.xlsx", target="species", positive="Gentoo")
    assert s.spec.target_column.levels == ["other", "Gentoo"]
    s = build(PENGUINS, tmp_path / "b.xlsx", target="body_mass_g", valid_pct=0.2)
    r = run("compare", s.out, "--json", "--model", "linear")
    (lin,) = json.loads(r.output)
    assert set(lin["workbook"]) == {"train_loss", "valid_loss", "train_r2", "valid_r2", "objective"}
    assert {"sheet", "workbook", "xlnet", "optimum", "gap_percent", "cached_loss"} <= set(lin)
    assert lin["xlnet"]["train_r2"] > 0.8


def test_a_workbook_of_xlnet_0_1_still_fits_and_compares(tmp_path):
    old = tmp_path / "old.xlsx"
    old.write_bytes((ROOT / "tests" / "data" / "titanic-0.1.xlsx").read_bytes())
    before = {k: v.loss() for k, v in read_sheets(old).items()}
    assert before == pytest.approx({"linear": 0.1442271493, "nnet": 0.1289418039, "mmult": 0.1299172035}, rel=1e-9)
    assert run("compare", old, "--quiet").exit_code == 0
    r = run("fit", old, "--quiet", "--restarts", "4", "--epochs", "20")
    assert r.exit_code == 0, r.output
    assert all(v.loss() <= before[k] for k, v in read_sheets(old).items())
    assert openpyxl.load_workbook(old).sheetnames[-2:] == ["xlnet history", "xlnet curves"]


def test_a_constant_continuous_target_is_refused(tmp_path):
    (tmp_path / "c.csv").write_text("y,x\n5,1.5\n5,2.5\n5,3.5\n")
    r = run("build", tmp_path / "c.csv", "--target", "y", "--out", tmp_path / "c.xlsx")
    assert (r.exit_code, r.output) == (1, f"Error: {tmp_path / 'c.csv'}: every y kept is 5; a constant target has "
                                          "nothing to learn, and its R² would divide by zero in the sheet.\n")
