"""Workbooks and a command line that read well, checked as a person looks: each workbook kind printed to PDF by
LibreOffice shows no ### anywhere, its summary on the first page of each model sheet, in a bounded number of
pages; the command line's tables stay aligned for any magnitude, and its messages help."""
from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess

import openpyxl
import pytest
from click.testing import CliRunner

from conftest import ROOT
from xlnet.cli import cli
from xlnet.commands.build import build
from xlnet.commands.fit import fit_workbook
from xlnet.workbook.readme_sheet import WIDTH

PENGUINS = ROOT / "data" / "penguins.csv"
FIT = dict(restarts=4, epochs=30)


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def pages(libreoffice, path, tmp_path) -> list[str]:
    """The text of each page LibreOffice prints of the workbook."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed: `bash scripts/test` installs it")
    pdf = libreoffice(path, tmp_path / "pdf", "pdf")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return text.split("\f")[:-1]


def check_printed(libreoffice, path, tmp_path, most_pages: int) -> list[str]:
    printed = pages(libreoffice, path, tmp_path)
    assert 0 < len(printed) <= most_pages, len(printed)
    hidden = [i + 1 for i, page in enumerate(printed) if "###" in page]
    assert not hidden, f"### on pages {hidden} of {path.name}"
    for i, page in enumerate(printed):  # each model sheet's page shows its summary (its rows repeat on each page)
        if "Params" in page:
            assert re.search(r"(Mean loss|Train loss|Objective):\s+\d", page), f"page {i + 1}: no summary"
    return printed


def big_target_csv(path):
    rows = list(csv.reader(PENGUINS.open()))
    header = rows[0]
    k = header.index("body_mass_g")
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    for row in rows[1:]:
        if row[k] not in ("", "NA"):
            row[k] = str(int(row[k]) * 4567)
        w.writerow(row)
    path.write_text(out.getvalue())
    return path


def test_the_fitted_lesson_workbook_prints_in_few_pages_without_hashes(tmp_path, libreoffice):
    s = build(out=tmp_path / "t.xlsx")
    check_printed(libreoffice, s.out, tmp_path / "built", 80)
    fit_workbook(s.out, **FIT)
    printed = check_printed(libreoffice, s.out, tmp_path / "fitted", 80)
    assert any("objective of the last fit" in page for page in printed)  # the curves, a chart a page


def test_an_analyst_s_workbooks_print_without_hashes(tmp_path, libreoffice):
    s = build(PENGUINS, tmp_path / "p.xlsx", target="sex")
    fit_workbook(s.out, **FIT)
    r = run("predict", s.out, PENGUINS, "--sheet", "--out", tmp_path / "p.csv")
    assert r.exit_code == 0, r.output
    printed = check_printed(libreoffice, s.out, tmp_path / "penguins", 40)
    assert printed[0].lstrip().startswith("A model you can read")  # the README sheet comes first
    big = build(big_target_csv(tmp_path / "big.csv"), tmp_path / "big.xlsx", target="body_mass_g")
    fit_workbook(big.out, **FIT)
    check_printed(libreoffice, big.out, tmp_path / "big", 40)


@pytest.mark.parametrize("lr", ["0.1", "1.5"])
def test_lesson_2_prints_on_two_pages_diverging_or_not(tmp_path, libreoffice, lr):
    r = run("lesson", "sgd", "--lr", lr, "--out", tmp_path / "sgd.xlsx")
    assert r.exit_code == 0, r.output
    printed = check_printed(libreoffice, tmp_path / "sgd.xlsx", tmp_path, 2)
    assert "loss per step" in printed[0]
    params = re.search(r"\(a1 = (\S+), a2 = (\S+)\)", r.output)
    assert all(len(p.rstrip(")")) <= 12 for p in params.groups()), r.output  # 6 significant digits, any size


def test_the_readme_sheet_says_what_each_sheet_holds(tmp_path):
    s = build(PENGUINS, tmp_path / "p.xlsx", target="sex", derive=[("Heavy", "IF(body_mass_g>4500,1,0)")])
    wb = openpyxl.load_workbook(s.out)
    assert wb.sheetnames[0] == "README"
    lines = [row[0] for row in wb["README"].iter_rows(values_only=True) if row[0]]
    assert max(map(len, lines)) <= WIDTH
    text = "\n".join(lines)
    for needed in ("  linear:", "  nnet:", "  mmult:", "  data:", "yellow cells", "Heavy = IF(body_mass_g>4500,1,0)",
                   "Tools > Solver", "xlnet fit"):
        assert needed in text, needed
    assert wb["linear"].defined_names["solver_opt"].attr_text + ":" in text  # the very cell Solver minimises
    lesson = openpyxl.load_workbook(build(out=tmp_path / "t.xlsx").out)
    assert lesson.sheetnames[:3] == ["linear", "nnet", "mmult"] and "README" in lesson.sheetnames


def test_tables_stay_aligned_for_large_figures(tmp_path):
    big = build(big_target_csv(tmp_path / "big.csv"), tmp_path / "big.xlsx", target="body_mass_g")
    for args in (("fit", big.out, "--restarts", "2", "--epochs", "5"), ("compare", big.out)):
        r = run(*args)
        assert r.exit_code == 0, r.output
        for line in r.output.splitlines():
            assert not re.search(r"\d\.\d+\.\d", line), line  # two figures run together
            for figure in re.findall(r"\d+\.\d+", line):
                assert len(figure.replace(".", "").lstrip("0")) <= 10, line  # at most 10 significant digits
    assert "predict will use" in r.output


def test_a_gap_as_wide_as_its_column_keeps_a_space_before_it():
    from xlnet.cli import _row
    line = _row("mmult", "workbook", {"train_loss": 0.129619577}, "-7.395e-07")
    assert "0.129619577 -7.395e-07" in line, line  # compare once showed 0.129619577-7.395e-07


def test_predict_uses_the_lowest_validation_loss_and_says_why(tmp_path):
    s = build(PENGUINS, tmp_path / "p.xlsx", target="sex")
    results = {r.sheet: r.after for r in fit_workbook(s.out, **FIT)}
    r = run("predict", s.out, PENGUINS, "--out", tmp_path / "p.csv")
    best = min(results, key=lambda name: results[name]["valid_loss"])
    assert f"with {best} (the lowest validation loss, {results[best]['valid_loss']:.6g})" in r.output, r.output
    lesson = build(out=tmp_path / "t.xlsx")  # no validation set: never the linear model by default
    fitted = {r.sheet: r.after["train_loss"] for r in fit_workbook(lesson.out, **FIT)}
    r = run("predict", lesson.out, ROOT / "src" / "xlnet" / "presets" / "titanic.csv", "--out", tmp_path / "q.csv")
    assert f"with {min(fitted, key=fitted.get)} (the lowest training loss" in r.output, r.output


def test_messages_point_at_the_fix(tmp_path):
    r = run("build", PENGUINS, "--out", tmp_path / "x.xlsx")
    assert r.output == (f"Error: {PENGUINS}: it is not Kaggle's Titanic train.csv (it has no Survived, Pclass, Sex, "
                        "...); to predict a column of this CSV, name it with --target COLUMN (its columns: species, "
                        "island, bill_length_mm, bill_depth_mm, flipper_length_mm, body_mass_g, sex, year).\n")
    r = run("build", PENGUINS, "--target", "Sex", "--out", tmp_path / "x.xlsx")
    assert "--target names 'Sex', which is not a column (did you mean 'sex'?)" in r.output, r.output


def test_help_is_whole(tmp_path):
    r = run("--help")
    assert "..." not in r.output.split("Commands:")[1] and "Build the workbook from a CSV: the lesson's Titanic preset, or any" in r.output
    for command in (("lesson", "sgd"), ("lesson", "relu")):
        text = run(*command, "--help").output
        options = re.findall(r"^  (--[a-z-]+)[^\n]*\n((?:\s{20,}.*\n)*)", text, re.M)
        for name, _ in options:
            block = text[text.index(name):].split("\n  --")[0]
            assert len(block.split()) > 2 or name == "--help", f"{command} {name} has no help"
