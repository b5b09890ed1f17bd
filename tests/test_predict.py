"""`xlnet predict`: every new row gets a prediction, in order, from the workbook's parameters and statistics."""
from __future__ import annotations

import csv
import io
import time
import warnings
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from click.testing import CliRunner

from conftest import ROOT, cells, read_sheets
from xlnet.commands.build import build
from xlnet.errors import XlnetError
from xlnet.cli import cli

KAGGLE_TEST = ROOT.parent / "shared" / "data" / "titanic" / "test.csv"
PENGUINS = ROOT / "data" / "penguins.csv"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, kaggle_train):
    out = tmp_path_factory.mktemp("k") / "k.xlsx"
    build(kaggle_train, out, valid_pct=0.2, seed=1)
    assert run("fit", out, "--quiet", "--restarts", "8", "--epochs", "50").exit_code == 0
    return out


def test_a_kaggle_submission_from_test_csv(fitted, tmp_path):
    if not KAGGLE_TEST.exists():
        pytest.skip("../shared/data/titanic/test.csv is not here")
    out = tmp_path / "submission.csv"
    r = run("predict", fitted, KAGGLE_TEST, "--out", out)
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith(f"Predicted 418 rows of {KAGGLE_TEST} with ")
    assert lines[1:3] == ["  filled 86 missing Age with 24.0 (learned when the workbook was built)",
                          "  filled 1 missing Fare with 8.05 (learned when the workbook was built)"]
    got = rows(out)
    assert got[0] == ["PassengerId", "Survived"] and len(got) == 419
    assert [r[0] for r in got[1:]] == [r[0] for r in rows(KAGGLE_TEST)[1:]]
    assert {r[1] for r in got[1:]} == {"0", "1"}


def test_rows_the_workbook_holds_predict_as_its_own_sheet_does(tmp_path, kaggle_train):
    """The training rows fed back as new rows (Survived blanked) get the sheet's own predictions, to the CSV's 15 digits:
    same statistics, same parameters, same ops."""
    s = build(kaggle_train, tmp_path / "k.xlsx", seed=3)
    sheets = read_sheets(s.out)
    source = rows(kaggle_train)
    header = source[0]
    kept = [r for r in source[1:] if r[header.index("Age")] and r[header.index("Embarked")]]
    new = tmp_path / "new.csv"
    with open(new, "w", newline="") as f:
        csv.writer(f).writerows([header] + [[v if h != "Survived" else "" for h, v in zip(header, r)] for r in kept])
    for model in ("linear", "nnet", "mmult"):
        out = tmp_path / f"{model}.csv"
        assert run("predict", s.out, new, "--out", out, "--proba", "--model", model).exit_code == 0
        got = np.array([float(r[1]) for r in rows(out)[1:]])
        sheet = sheets[model]
        expected = sheet.model.evaluate(sheet.X, sheet.y, sheet.W)[sheet.model.prediction]
        np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-15)  # the CSV holds 15 significant digits


def test_predict_reads_its_csv_a_chunk_at_a_time_as_all_at_once(tmp_path, monkeypatch):
    """With chunks of 50 rows, the same predictions, fills, unseen counts and predict sheet as in one chunk."""
    import shutil
    from xlnet.table import reading as data
    s = build(PENGUINS, tmp_path / "p.xlsx", target="sex", loss="logloss", hidden=2, valid_pct=0.2, seed=2)
    source = rows(PENGUINS)
    island = source[0].index("island")
    for r in source[1::40]:
        r[island] = "Atlantis"  # an island the workbook never saw, in several chunks
    new = tmp_path / "new.csv"
    with open(new, "w", newline="") as f:
        csv.writer(f).writerows(source)
    outputs = []
    for chunk in (None, 50):
        if chunk:
            monkeypatch.setattr(data, "ENCODE_ROWS", chunk)
        book = shutil.copy(s.out, tmp_path / f"{chunk}.xlsx")
        out = tmp_path / f"{chunk}.csv"
        r = run("predict", book, new, "--out", out, "--proba", "--sheet")
        assert r.exit_code == 0, r.output
        outputs.append((r.output.replace(str(book), "BOOK").replace(str(out), "OUT"), out.read_bytes(), cells(book)))
    assert "9 rows have a island the workbook never saw" in outputs[0][0] and "filled 2 missing" in outputs[0][0]
    assert ("predict", "A347") in outputs[0][2] and outputs[0] == outputs[1]


def test_an_unseen_level_gets_zero_dummies_and_is_reported(tmp_path):
    s = build(PENGUINS, tmp_path / "p.xlsx", target="sex", loss="logloss", hidden=2)
    text = PENGUINS.read_text().splitlines()
    new = tmp_path / "new.csv"
    new.write_text("\n".join([text[0], text[1].replace("Torgersen", "Atlantis"), text[2]]) + "\n")
    out = tmp_path / "p.csv"
    r = run("predict", s.out, new, "--out", out, "--model", "nnet")
    assert r.exit_code == 0, r.output
    assert "  1 rows have a island the workbook never saw: all its dummies are 0 for them" in r.output
    assert rows(out)[0] == ["row", "sex"] and [x[0] for x in rows(out)[1:]] == ["1", "2"]
    assert {x[1] for x in rows(out)[1:]} <= {"male", "female"}


@pytest.mark.parametrize("missing", ["drop", "mode"])
def test_missing_values_are_filled_from_the_build_and_nothing_is_dropped(tmp_path, missing):
    s = build(out=tmp_path / "t.xlsx", missing=missing)
    new = tmp_path / "new.csv"
    new.write_text("Survived,Pclass,Name,Sex,Age,SibSp,Parch,Fare,Embarked\n"
                   ",3,A,male,,0,0,,\n,1,B,female,30,1,0,80,C\n")
    out = tmp_path / "o.csv"
    r = run("predict", s.out, new, "--out", out)
    assert r.exit_code == 0, r.output
    assert "filled 1 missing Age with 24.0" in r.output and "filled 1 missing Embarked with 'S'" in r.output
    assert [x[0] for x in rows(out)] == ["row", "1", "2"]


def test_predict_reads_only_the_columns_its_model_needs_yet_skips_only_wholly_blank_rows(tmp_path):
    """A row of spaces and commas is no row; a row empty in every column the model reads but not in the rest
    (here its Name) is a row, and is refused as one."""
    s = build(out=tmp_path / "t.xlsx")
    new, out = tmp_path / "new.csv", tmp_path / "o.csv"
    head = "Survived,Pclass,Name,Sex,Age,SibSp,Parch,Fare,Embarked\n"
    new.write_text(head + ",1,B,female,30,1,0,80,C\n , ,, ,,,,,\n,3,A,male,22,0,0,7.25,S\n")
    r = run("predict", s.out, new, "--out", out)
    assert r.exit_code == 0, r.output
    assert [x[0] for x in rows(out)] == ["row", "1", "2"]
    new.write_text(head + ",1,B,female,30,1,0,80,C\n,,Only a name,,,,,,\n")
    r = run("predict", s.out, new, "--out", tmp_path / "o2.csv")
    assert r.exit_code == 1 and "line 3, column SibSp: the value is empty" in r.output
    assert not (tmp_path / "o2.csv").exists()


def test_bad_inputs_are_one_error_line_and_nothing_written(tmp_path):
    s = build(out=tmp_path / "t.xlsx")
    new = tmp_path / "new.csv"
    new.write_text("Pclass,Name,Sex,Age,SibSp,Parch,Fare\n3,A,male,22,0,0,7\n")
    r = run("predict", s.out, new, "--out", tmp_path / "o.csv")
    assert (r.exit_code, r.output) == (1, f"Error: {new}: required column missing: Embarked. The header read "
                                          "was: Pclass, Name, Sex, Age, SibSp, Parch, Fare.\n")
    new.write_text("Pclass,Name,Sex,Age,SibSp,Parch,Fare,Embarked\n3,A,male,22,0,0,7,X\n")
    r = run("predict", s.out, new, "--out", tmp_path / "o.csv")
    assert r.output == (f"Error: {new}: line 2, column Embarked: 'X' is not valid; it must be S or C or Q or "
                        "empty.\n")
    (tmp_path / "o.csv").write_text("mine")
    new.write_text("Pclass,Name,Sex,Age,SibSp,Parch,Fare,Embarked\n3,A,male,22,0,0,7,S\n")
    r = run("predict", s.out, new, "--out", tmp_path / "o.csv")
    assert r.output == (f"Error: {tmp_path / 'o.csv'} already exists; use --force to overwrite it, or --out to "
                        "write elsewhere.\n")
    assert (tmp_path / "o.csv").read_text() == "mine"


@pytest.mark.parametrize("fork", [True, False])
def test_the_csv_parsed_beside_the_workbook_gives_the_same_and_its_errors_come_after_the_workbooks(
        tmp_path, monkeypatch, fork):
    """predict parses the CSV in a forked worker while it reads the model sheets (table.reading.parsed_ahead):
    the same predictions as parsed in turn, its chunks in order; a bad line is named as before, but only once the
    workbook has been read, so a workbook that cannot be used is named first."""
    from xlnet.table import reading
    monkeypatch.setattr(reading, "ENCODE_ROWS", 50)  # many chunks
    if not fork:
        monkeypatch.setattr(reading, "can_fork", lambda: False)
    s = build(out=tmp_path / "t.xlsx")
    new, out = tmp_path / "new.csv", tmp_path / "o.csv"
    with open(ROOT / "src" / "xlnet" / "presets" / "titanic.csv") as f:
        new.write_text(f.read())
    r = run("predict", s.out, new, "--out", out)
    assert r.exit_code == 0, r.output
    monkeypatch.setattr(reading, "can_fork", lambda: False)
    r = run("predict", s.out, new, "--out", tmp_path / "alone.csv")
    assert out.read_text() == (tmp_path / "alone.csv").read_text() and len(rows(out)) == 892
    new.write_text(new.read_text().replace("\n", "\n3,A,male\n", 1))  # line 2 has too few fields
    r = run("predict", s.out, new, "--out", tmp_path / "bad.csv")
    assert r.exit_code == 1 and r.output.startswith(f"Error: {new}: line 2 has 3 fields but the header has")
    wb = openpyxl.load_workbook(s.out)
    del wb["mmult"]
    wb.save(tmp_path / "edited.xlsx")
    r = run("predict", tmp_path / "edited.xlsx", new, "--out", tmp_path / "bad.csv")
    assert r.exit_code == 1 and "the sheet 'mmult' is missing" in r.output and str(new) not in r.output, r.output
    assert not (tmp_path / "bad.csv").exists()


def test_each_chunk_of_the_csv_comes_as_soon_as_it_is_parsed(tmp_path, monkeypatch):
    """The worker parsing the CSV hands each chunk on as it is written, so that predict works on one while the
    next is parsed; an error after some chunks comes after them."""
    from xlnet.table import reading
    flag = tmp_path / "first chunk taken"

    def chunks(self, rows=None, only=None, until=None):  # the second chunk only once the caller holds the first
        yield "first"
        deadline = time.monotonic() + 20
        while not flag.exists():
            if time.monotonic() > deadline:
                raise XlnetError("the first chunk was not handed on before the whole CSV was parsed")
            time.sleep(0.01)
        yield "second"
        raise XlnetError("a bad line after two chunks")
    monkeypatch.setattr(reading.CsvSource, "chunks", chunks)
    source = reading.CsvSource(ROOT / "src" / "xlnet" / "presets" / "titanic.csv")
    got = []
    with pytest.raises(XlnetError, match="a bad line after two chunks"):
        with reading.parsed_ahead(source) as parsed:
            for chunk in parsed():
                got.append(chunk)
                flag.touch()
    assert got == ["first", "second"]


def test_no_room_for_the_parsed_csv_is_one_line(tmp_path, monkeypatch):
    import errno
    import tempfile

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    s = build(out=tmp_path / "t.xlsx")
    monkeypatch.setattr(tempfile, "TemporaryFile", full)
    new = tmp_path / "new.csv"
    new.write_text("Pclass,Name,Sex,Age,SibSp,Parch,Fare,Embarked\n3,A,male,22,0,0,7,S\n")
    r = run("predict", s.out, new, "--out", tmp_path / "o.csv")
    assert (r.exit_code, r.output) == (1, f"Error: {new}: cannot keep its rows in a temporary file (No space left "
                                          f"on device); make room in {tempfile.gettempdir()} or point TMPDIR "
                                          "elsewhere.\n")
    assert not (tmp_path / "o.csv").exists()


def test_the_live_predict_sheet_computes_in_libreoffice_what_the_csv_says(tmp_path, libreoffice):
    s = build(PENGUINS, tmp_path / "p.xlsx", target="sex", loss="logloss", hidden=3, valid_pct=0.2)
    assert run("fit", s.out, "--quiet", "--restarts", "4", "--epochs", "20").exit_code == 0
    text = PENGUINS.read_text().splitlines()
    new = tmp_path / "new.csv"
    new.write_text("\n".join([text[0]] + text[1:40] + [text[40].replace("Dream", "Atlantis")]) + "\n")
    before = zip_members(s.out)
    expected = {}
    for model in ("linear", "nnet", "mmult"):
        out = tmp_path / f"{model}.csv"
        r = run("predict", s.out, new, "--out", out, "--proba", "--model", model, "--sheet")
        assert r.exit_code == 0, r.output
        assert f"Wrote the sheet 'predict' of {s.out}" in r.output
        expected[model] = np.array([float(x[1]) for x in rows(out)[1:]])
    after = zip_members(s.out)
    changed = {n for n in before if before[n] != after.get(n)}
    assert changed <= {"xl/workbook.xml", "[Content_Types].xml", "xl/_rels/workbook.xml.rels",
                       "xl/sharedStrings.xml", "xl/styles.xml"}  # the model sheets are untouched
    assert len([n for n in after if "xlnet_predict" in n]) == 1  # replaced, not added again
    from xlnet.workbook.predict_sheet import predict_columns
    values = openpyxl.load_workbook(libreoffice(s.out, tmp_path / "lo"), data_only=True)["predict"]
    for model, (c, r) in predict_columns(read_sheets(s.out)).items():
        got = np.array([values.cell(r + i, c).value for i in range(len(expected[model]))], float)
        np.testing.assert_allclose(got, expected[model], rtol=1e-12, atol=1e-15, err_msg=model)


def zip_members(path):
    import zipfile
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def test_cross_validation_reports_each_sheet_and_writes_nothing(tmp_path):
    s = build(PENGUINS, tmp_path / "p.xlsx", target="sex", loss="logloss", hidden=2)
    before = s.out.read_bytes()
    r = run("fit", s.out, "--cv", "3", "--quiet", "--restarts", "4", "--epochs", "20")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].split() == ["sheet", "cv", "loss", "cv", "accuracy", "sd", "folds"]
    assert [line.split()[0] for line in lines[1:4]] == ["linear", "nnet", "mmult"]
    assert all(0.7 < float(line.split()[2]) <= 1 and line.split()[4] == "3" for line in lines[1:4])
    assert lines[2].split()[1:] == lines[3].split()[1:]  # nnet and mmult, one net: one fit in each fold
    assert lines[4] == f"3-fold cross-validation of {s.out}; nothing was written."
    assert s.out.read_bytes() == before
    r = run("fit", s.out, "--cv", "1")
    assert (r.exit_code, r.output) == (1, "Error: --cv must be a whole number of folds, 2 or more, not 1.\n")


def test_a_continuous_target_predicts_numbers_without_warnings(tmp_path):
    """New rows have no target: predict computes the prediction column only (an R² over unknown targets would
    divide by zero and warn)."""
    s = build(PENGUINS, tmp_path / "b.xlsx", target="body_mass_g", missing="median")
    out = tmp_path / "b.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = run("predict", s.out, PENGUINS, "--out", out)
    assert r.exit_code == 0, r.output
    got = rows(out)
    assert got[0] == ["row", "body_mass_g"] and len(got) == 345
    assert all(np.isfinite(float(x[1])) for x in got[1:])


def _tables(chunks) -> list:
    """Chunks as plain data: each row's line and its texts."""
    out = []
    for t in chunks:
        texts = [c.texts() if c is not None else None for c in t.columns]
        out += [(int(line), tuple(col[i] if col else None for col in texts)) for i, line in enumerate(t.lines)]
    return out


def _csv_with_quoted_breaks(path, rows: int = 400, line_end: str = "\n", bom: bool = False) -> Path:
    """A CSV whose Name fields hold quoted commas, quotes and, every 7th row, a line break."""
    lines = ["\n", "Pclass,Name,Sex,Age,SibSp,Parch,Fare,Embarked"]  # a blank line before the header
    for i in range(rows):
        name = f'"Smith, Mr. ""J"" {i}' + ("\nthe second line" if i % 7 == 3 else "") + '"'
        lines.append(f"{1 + i % 3},{name},{'male' if i % 2 else 'female'},{20 + i % 50},0,0,{7 + i % 13}.25,S")
        if i % 50 == 10:
            lines.append("")  # a blank row
    text = line_end.join(lines) + line_end
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


@pytest.mark.parametrize("line_end, bom", [("\n", False), ("\r\n", True)])
def test_a_csv_cut_at_a_row_boundary_reads_as_one_parse_and_one_cut_inside_a_row_reads_on(tmp_path, line_end, bom):
    """The first half keeps the rows that end by the cut and says whether one ended on it; the second starts
    there; where a quoted line break spans the cut, the first half reads on to the end instead."""
    from xlnet.table import reading
    path = _csv_with_quoted_breaks(tmp_path / "q.csv", line_end=line_end, bom=bom)
    source = reading.CsvSource(path)
    whole = _tables(source.chunks(rows=9))
    data = path.read_bytes()
    breaks = [i + 1 for i, b in enumerate(data) if b == 10]
    clean = dirty = 0
    for k in range(5, len(breaks) - 5, 37):
        cut = (breaks[k - 1], k)  # just after the k-th line break: k lines before it
        first = _tables(source.chunks(rows=9, until=k))
        if source.cut_clean:
            clean += 1
            assert first + _tables(source.chunks_after(cut, rows=9)) == whole
        else:
            dirty += 1
            assert first == whole
    assert clean and dirty  # both kinds of cut were met


def test_predict_parses_a_large_csv_in_halves_to_the_same_predictions_and_errors(tmp_path, monkeypatch):
    from xlnet.table import reading
    monkeypatch.setattr(reading, "HALVES_FROM", 1000)
    monkeypatch.setattr(reading, "ENCODE_ROWS", 16)
    s = build(out=tmp_path / "t.xlsx")
    new = _csv_with_quoted_breaks(tmp_path / "new.csv", rows=600)
    assert reading.CsvSource(new).halves() is not None
    r = run("predict", s.out, new, "--out", tmp_path / "halves.csv")
    assert r.exit_code == 0, r.output
    monkeypatch.setattr(reading, "can_fork", lambda: False)
    r = run("predict", s.out, new, "--out", tmp_path / "one.csv")
    assert (tmp_path / "halves.csv").read_text() == (tmp_path / "one.csv").read_text()
    assert len(rows(tmp_path / "halves.csv")) == 601
    data = new.read_bytes()  # cut inside a quoted line break: the first half reads on, the second is not used
    inside = data.find(b"\nthe second line", len(data) // 2) + 1
    monkeypatch.setattr(reading.CsvSource, "halves", lambda self: (inside, data.count(b"\n", 0, inside)))
    monkeypatch.setattr(reading, "can_fork", lambda: True)
    r = run("predict", s.out, new, "--out", tmp_path / "inside.csv")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "inside.csv").read_text() == (tmp_path / "one.csv").read_text()
    monkeypatch.undo()
    monkeypatch.setattr(reading, "HALVES_FROM", 1000)
    monkeypatch.setattr(reading, "ENCODE_ROWS", 16)
    text = new.read_text()
    lines = text.split("\n")
    bad_lines = {"has 3 fields": "3,too,few", "'old' is not a number": '1,"Smith, Mr.",male,old,0,0,7.25,S'}
    for at in (len(lines) // 4, 3 * len(lines) // 4):  # a bad line in each half: named as one parse names it
        for message, line in bad_lines.items():  # one the parse refuses, one the typing (where it was parsed)
            new.write_text("\n".join(lines[:at] + [line] + lines[at:]))
            monkeypatch.setattr(reading, "can_fork", lambda: False)
            alone = run("predict", s.out, new, "--out", tmp_path / "x.csv").output
            monkeypatch.setattr(reading, "can_fork", lambda: True)
            halved = run("predict", s.out, new, "--out", tmp_path / "x.csv").output
            assert halved == alone and alone.startswith(f"Error: {new}: line ") and message in alone, alone
    assert not (tmp_path / "x.csv").exists()


def test_a_csv_is_not_cut_where_a_byte_may_not_be_a_line_break(tmp_path, monkeypatch):
    from xlnet.table import reading
    monkeypatch.setattr(reading, "HALVES_FROM", 1000)
    plain = _csv_with_quoted_breaks(tmp_path / "a.csv")
    assert reading.CsvSource(plain).halves() is not None
    assert reading.CsvSource(plain, max_rows=10**6).halves() is None
    (tmp_path / "r.csv").write_bytes(plain.read_bytes().replace(b"\n", b"\r"))  # old Mac line ends
    assert reading.CsvSource(tmp_path / "r.csv").halves() is None
    (tmp_path / "u.csv").write_bytes(plain.read_text().encode("utf-16"))
    assert reading.CsvSource(tmp_path / "u.csv").halves() is None
    monkeypatch.setattr(reading, "HALVES_FROM", 10**9)
    assert reading.CsvSource(plain).halves() is None


@pytest.mark.parametrize("ids, levels", [(["1", "2", "3"], ["no", "yes"]), (['a"b', "c", "d"], ["no", "yes"]),
                                          (["1", "2\n", "3"], [0, None]), (["1", "2", "3\r"], [0, 1]),
                                          (["1", "2", "3"], ["n,o", "yes"])])
def test_predictions_are_written_as_the_csv_module_writes_them(ids, levels):
    from xlnet.commands.predict import Predictions
    values = np.array([0.2, 0.7, 0.123456789012345678])
    p = Predictions(Path("x.csv"), "nnet", "", ids, "id", values, [levels[int(v > 0.5)] for v in values], "y")
    for proba, shown in ((False, p.labels), (True, [f"{v:.15g}" for v in values])):
        expected = io.StringIO()
        csv.writer(expected, lineterminator="\n").writerows([["id", "y"], *zip(ids, shown)])
        assert p.csv_text(proba) == expected.getvalue()


@pytest.mark.parametrize("level, levels", [("male", ["male", "Female", None, "MALE", "female"]),
                                           (2.0, [1.0, 2.0, 3.0]), (1, [1.0, 2.0, float("nan")])])
def test_a_dummy_of_levels_and_codes_is_the_dummy_of_the_column_they_make(level, levels):
    """predict gives the dummies each column's distinct values and each row's number among them (ops.Dummy); the
    dummy is the one of the whole column, the spreadsheet's case-blind comparison of texts included."""
    from xlnet.model.ops import Dummy
    values = np.empty(len(levels), dtype=object if isinstance(level, str) else float)
    values[:] = levels
    codes = np.random.default_rng(0).integers(0, len(levels), 50)
    dummy = Dummy("c", level)
    coded, _ = dummy.forward({"c": values[codes], ("coded", "c"): (values, codes)})
    whole, _ = dummy.forward({"c": values[codes]})
    assert coded.tolist() == whole.tolist() and 0 < coded.sum() < len(codes)
