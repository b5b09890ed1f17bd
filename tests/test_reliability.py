"""Hostile and broken inputs: a clear error, exit 1, and nothing written or changed."""
from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest
from click.testing import CliRunner

from conftest import recalculated
from xlnet.commands import build as build_module
from xlnet.commands.build import build
from xlnet.cli import cli
from xlnet.errors import XlnetError
from xlnet.xlsx.write import Writer

HEADER = "PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked\n"
GOOD = '1,0,3,"Braund, Mr. Owen Harris",male,22,1,0,A/5 21171,7.25,,S\n2,1,1,"Cumings, Mrs. J",female,38,1,0,PC,71.28,C85,C\n'


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def refused_build(tmp_path, content: bytes | str, name="in.csv"):
    csv = tmp_path / name
    csv.write_bytes(content.encode() if isinstance(content, str) else content)
    out = tmp_path / "out.xlsx"
    r = run("build", csv, "--out", out)
    assert r.exit_code == 1 and r.output.startswith(f"Error: {csv}"), r.output
    assert "Traceback" not in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [name], "something was written"
    return r.output[len(f"Error: {csv}: "):].rstrip("\n")


def row(**changes):
    fields = dict(PassengerId="3", Survived="1", Pclass="3", Name='"Heikkinen, Miss. Laina"', Sex="female", Age="26",
                  SibSp="0", Parch="0", Ticket="T", Fare="7.925", Cabin="", Embarked="S")
    fields.update(changes)
    return ",".join(fields.values()) + "\n"


@pytest.mark.parametrize("content, message", [
    ("", "the file is empty; xlnet needs Kaggle's Titanic train.csv or the same columns."),
    (HEADER, "the header is there but there are no passenger rows."),
    ("PassengerId,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked\n1,3,x,male,22,1,0,T,7.25,,S\n",
     "required column missing: Survived. Kaggle's test.csv has no Survived column: use train.csv. For your own "
     "data, name the target with --target."),
    (HEADER + GOOD + row(Age="twenty"), "line 4, column Age: 'twenty' is not a number."),
    (HEADER + GOOD + row(Fare="7,25"), "line 4 has 13 fields but the header has 12; check the quoting of that line."),
    (HEADER + GOOD + row(Fare='"7,25"'),
     "line 4, column Fare: '7,25' is not a number. If the file uses decimal commas, save it as CSV with decimal points."),
    (HEADER + GOOD + row(SibSp="one"), "line 4, column SibSp: 'one' is not a number."),
    (HEADER + GOOD + row(Parch="1.5"), "line 4, column Parch: '1.5' is not valid; it must be a whole number, 0 or more."),
    (HEADER + GOOD + row(Pclass="first"), "line 4, column Pclass: 'first' is not a number."),
    (HEADER + GOOD + row(Survived="yes"), "line 4, column Survived: 'yes' is not a number."),
    (HEADER + GOOD + row(Survived=""), "line 4, column Survived: the value is empty; every passenger needs a Survived."),
    (HEADER + GOOD + row(Survived="2"), "line 4, column Survived: '2' is not valid; it must be 0 or 1."),
    (HEADER + GOOD + row(Pclass="0"), "line 4, column Pclass: '0' is not valid; it must be 1 or 2 or 3."),
    (HEADER + GOOD + row(Sex="F"), "line 4, column Sex: 'F' is not valid; it must be male or female."),
    (HEADER + GOOD + row(Embarked="Southampton"),
     "line 4, column Embarked: 'Southampton' is not valid; it must be S or C or Q or empty."),
    (HEADER + GOOD + row(Fare="-7.925"), "line 4, column Fare: '-7.925' is negative; it must be 0 or more."),
    (HEADER + GOOD + row(Age="inf"), "line 4, column Age: 'inf' is not a number."),
    (HEADER + row(Age="") + row(Embarked=""),
     "no rows left after dropping rows with a missing Age or Embarked; use --missing mode to fill them instead."),
    (HEADER.replace("Cabin", "Age") + GOOD, "the column Age appears more than once in the header; keep one."),
    (HEADER + GOOD + row(Name='"Bad\x07name"'),
     "line 4, column Name: it holds a control character ('\\x07') that a workbook cannot store; remove it."),
    (HEADER + GOOD + '3,1,3,"unclosed,female,26,0,0,T,7.9,,S\n' + "x" * 200_000 + "\n",
     "line 4 is not valid CSV (field larger than field limit (131072))."),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01",
     "this is a binary file, not a CSV; export the data as CSV (comma-separated text)."),
])
def test_bad_csv_is_refused_with_a_clear_message(tmp_path, content, message):
    assert refused_build(tmp_path, content) == message


def test_no_rows_left_is_not_an_error_with_missing_mode(tmp_path):
    csv = tmp_path / "in.csv"
    csv.write_text(HEADER + row(Age="") + row(Embarked="") + row())
    r = run("build", csv, "--out", tmp_path / "o.xlsx", "--missing", "mode")
    assert r.exit_code == 0 and "kept 3" in r.output


def test_too_many_rows_for_a_worksheet(tmp_path, monkeypatch):
    assert build_module.MAX_ROWS == 1_048_576 - 3
    monkeypatch.setattr(build_module, "MAX_ROWS", 2)
    assert refused_build(tmp_path, HEADER + GOOD + row()) == (
        "more than 2 passenger rows, more than a worksheet holds (1,048,576 rows with its headers); split the file.")


@pytest.mark.parametrize("encode", [
    lambda text: text.encode("latin-1"),                                      # a Latin-1 export
    lambda text: text.encode("utf-16"),                                       # Excel's "Unicode text"
    lambda text: text.replace(",", ";").replace("7.25", "7,25").encode("cp1252"),  # a European spreadsheet's CSV
])
def test_spreadsheet_exports_are_read_correctly(tmp_path, encode):
    text = HEADER + '1,0,3,"Müller Jérôme",male,22,1,0,A/5 21171,7.25,,S\n' + row()
    text = text.replace('"Müller Jérôme"', "Müller Jérôme")
    csv = tmp_path / "in.csv"
    csv.write_bytes(encode(text))
    r = run("build", csv, "--out", tmp_path / "o.xlsx")
    assert r.exit_code == 0, r.output
    data = openpyxl.load_workbook(tmp_path / "o.xlsx")["data"]
    header = [c.value for c in data[1]]
    assert [data.cell(2, header.index(c) + 1).value for c in ("Name", "Fare")] == ["Müller Jérôme", 7.25]


HOSTILE = ['=HYPERLINK("http://example.com","click")', "+1+1", "-2+3", "@SUM(1,2)", "\t=1+1", "\r=1+1",
           "=1+1"]


def test_formula_injection_stays_text(tmp_path, libreoffice):
    csv = tmp_path / "in.csv"
    lines = [HEADER] + [row(Name='"' + name.replace('"', '""') + '"') for name in HOSTILE]
    csv.write_text("".join(lines), newline="")
    out = tmp_path / "o.xlsx"
    assert run("build", csv, "--out", out).exit_code == 0
    with zipfile.ZipFile(out) as z:
        data_xml = z.read("xl/worksheets/sheet4.xml").decode()  # the data sheet
        strings = z.read("xl/sharedStrings.xml").decode()
    assert "<f>" not in data_xml and "HYPERLINK" not in data_xml and "HYPERLINK" in strings
    names = [c.value for c in openpyxl.load_workbook(out)["data"]["D"][1:]]
    assert names == [n.strip() for n in HOSTILE]
    values = recalculated(libreoffice, out, tmp_path / "lo")["data"]
    assert [c.value for c in values["D"][1:]] == [n.strip() for n in HOSTILE]


# --- Workbooks ---------------------------------------------------------------------------------------

@pytest.fixture
def workbook(tmp_path):
    return build(out=tmp_path / "w.xlsx", seed=1).out


def edit(path, change):
    wb = openpyxl.load_workbook(path)
    change(wb)
    wb.save(path)


def refused_fit(path, *args):
    before = path.read_bytes()
    r = run("fit", path, "--quiet", *args)
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    assert path.read_bytes() == before
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    return r.output.rstrip("\n")


def rename(wb, old, new):
    wb[old].title = new


@pytest.mark.parametrize("change, message", [
    (lambda wb: rename(wb, "nnet", "net"),
     "the sheet 'nnet' is missing (sheets: linear, net, mmult, data, README, xlnet); rebuild the workbook with "
     "`xlnet build`."),
    (lambda wb: wb["nnet"].cell(4, 20, "0.5"), "sheet 'nnet', parameter cell T4 holds '0.5'; it must be a number."),
    (lambda wb: setattr(wb["mmult"]["T7"], "value", None),
     "sheet 'mmult', parameter cell T7 holds None; it must be a number."),
    (lambda wb: wb["linear"].cell(10, 4, "Male"), "sheet 'linear', cell D10 (Sex) holds 'Male'; it must be male or female."),
    (lambda wb: wb["linear"].cell(10, 5, "old"), "sheet 'linear', cell E10 (Age) holds 'old'; it must be a number."),
    (lambda wb: wb["nnet"].cell(12, 6, -3), "sheet 'nnet', cell F12 (Fare) holds -3.0; it must be a number, 0 or "
                                            "more (LOG10(x+1) needs it)."),
    (lambda wb: wb["nnet"].defined_names["solver_adj"].__setattr__("attr_text", "nnet!$R$5:$AA$6"),
     "sheet 'nnet': Solver's solver_adj points at nnet!$R$5:$AA$6, but xlnet's parameter block is nnet!$R$4:$AA$5; "
     "the sheet was rearranged: rebuild it with `xlnet build`."),
    (lambda wb: wb["linear"].defined_names["solver_opt"].__setattr__("attr_text", "linear!$AD$2"),
     "sheet 'linear': Solver's solver_opt points at linear!$AD$2, but xlnet's loss cell is linear!$AD$1; "
     "the sheet was rearranged: rebuild it with `xlnet build`."),
    (lambda wb: wb["nnet"].cell(9, 31, "=IF(AC9<0,0,AC9*2)"),
     "sheet 'nnet': 1 cell(s) differ from the formulas xlnet wrote, so its losses would not be the ones the sheet "
     "computes: AE9 holds '=IF(AC9<0,0,AC9*2)', xlnet wrote '=IF(AC9<0,0,AC9)'. Undo the edits or rebuild with "
     "`xlnet build`."),
])
def test_tampered_workbook_is_refused_and_unchanged(workbook, change, message):
    edit(workbook, change)
    assert refused_fit(workbook) == f"Error: {workbook}: {message}"


def test_not_a_workbook(tmp_path):
    text = tmp_path / "notes.xlsx"
    text.write_text("Survived,Pclass\n")
    assert refused_fit(text) == (f"Error: {text}: not an .xlsx workbook (not a zip file); make one with "
                                 "`xlnet build` or save it from Excel as .xlsx.")
    other = tmp_path / "other.xlsx"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("hello.txt", "hi")
    assert refused_fit(other).startswith(f"Error: {other}: not a readable .xlsx workbook (KeyError:")


def test_zip_bomb_is_refused_before_unpacking(workbook):
    buf = io.BytesIO()
    with zipfile.ZipFile(workbook) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet2.xml":
                data = data.replace(b"</worksheet>", b"<!--" + b"0" * (300 << 20) + b"--></worksheet>")
            dst.writestr(item, data)
    workbook.write_bytes(buf.getvalue())
    message = refused_fit(workbook)
    assert message.startswith(f"Error: {workbook}: refused: it would unpack to ")
    assert message.endswith("(xl/worksheets/sheet2.xml expands over 200 times); this is not a workbook xlnet made.")


PADDING = b"<!--" + b"padding " * 9000 + b"-->"  # 72 KB of comment: past where a DTD used to be looked for


@pytest.mark.parametrize("part, padding", [
    ("xl/worksheets/sheet1.xml", b""), ("xl/workbook.xml", b""), ("xl/styles.xml", b""),
    ("[Content_Types].xml", b""), ("xl/sharedStrings.xml", PADDING), ("xl/workbook.xml", b"\n" * 100_000)])
def test_xml_entity_bomb_is_refused(workbook, part, padding):
    """A DTD anywhere in a part's prolog, however padded with comments or white space."""
    bomb = (b'<?xml version="1.0"?>' + padding +
            b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">'
            b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>')
    buf = io.BytesIO()
    with zipfile.ZipFile(workbook) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == part:
                body = data.split(b"?>", 1)[1] if data.startswith(b"<?xml") else data
                data = bomb + body
            dst.writestr(item, data)
    workbook.write_bytes(buf.getvalue())
    assert refused_fit(workbook) == (f"Error: {workbook}: refused: {part} declares a DTD or entities, which no "
                                     "workbook needs; the file was crafted or corrupted.")


# --- Writes -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("failure, raised", [(OSError(28, "No space left on device"), XlnetError),
                                             (KeyboardInterrupt(), KeyboardInterrupt)])
def test_a_build_that_fails_mid_save_leaves_the_old_file(tmp_path, monkeypatch, failure, raised):
    old = build(out=tmp_path / "w.xlsx", seed=1).out
    before = old.read_bytes()

    def half_written(self):
        self.fp.seek(0)
        self.fp.write(b"PK\x03\x04 half a workbook")
        self.fp.truncate()
        raise failure
    monkeypatch.setattr(Writer, "close", half_written)
    with pytest.raises(raised):
        build(out=old, seed=2, force=True)
    with pytest.raises(raised):
        build(out=tmp_path / "new.xlsx")
    assert old.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.xlsx"]


def test_compare_refuses_bad_workbooks_too_and_changes_nothing(tmp_path, workbook):
    text = tmp_path / "notes.xlsx"
    text.write_text("not a workbook")
    edit(workbook, lambda wb: wb["nnet"].cell(4, 20, "x"))
    for path, message in ((text, "not an .xlsx workbook (not a zip file); make one with `xlnet build` or save it "
                                 "from Excel as .xlsx."),
                          (workbook, "")):
        before = path.read_bytes()
        r = run("compare", path, "--quiet", "--model", "nnet")
        assert r.exit_code == 1 and "Traceback" not in r.output
        assert path.read_bytes() == before
        if message:
            assert r.output == f"Error: {path}: {message}\n"
        else:
            assert r.output.splitlines()[-2:] == [
                "nnet    not compared: sheet 'nnet', parameter cell T4 holds 'x'; it must be a number.",
                "Error: 1 sheet(s) could not be compared: nnet"]
