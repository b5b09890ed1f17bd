"""The second hostile battery's remaining cases: a spreadsheet of another format, a package with a part twice, a
CSV from a pipe, a deleted spec sheet, a moved parameter block, new rows without their id: each one line that
names the cause and a fix the command offers, nothing written; or the right result."""
from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import warnings
import zipfile

import openpyxl
import pytest
from click.testing import CliRunner

from conftest import ROOT
from xlnet.cli import cli
from xlnet.commands.build import build

PENGUINS = ROOT / "data" / "penguins.csv"
LESSON_CSV = ROOT / "src" / "xlnet" / "presets" / "titanic.csv"
FAST = ["--restarts", "2", "--epochs", "5"]


def run(*args, **kwargs):
    return CliRunner().invoke(cli, [str(a) for a in args], **kwargs)


def refused(path, *args) -> str:
    """`fit` refuses the file in one line and leaves it and its folder as they were."""
    before, listing = path.read_bytes(), sorted(p.name for p in path.parent.iterdir())
    r = run("fit", path, *FAST, *args)
    assert r.exit_code == 1 and r.output.startswith("Error: ") and r.output.count("\n") == 1, r.output
    assert path.read_bytes() == before and sorted(p.name for p in path.parent.iterdir()) == listing
    return r.output


@pytest.fixture
def workbook(tmp_path):
    return build(PENGUINS, tmp_path / "p.xlsx", target="sex").out


@pytest.mark.parametrize("fmt, what", [("ods", "an OpenDocument spreadsheet (.ods, LibreOffice's own format)"),
                                       ("xls", "an Excel 97-2003 workbook (.xls)")])
def test_workbooks_saved_in_another_format_are_named_with_the_menu_path(workbook, tmp_path, libreoffice, fmt,
                                                                         what):
    other = libreoffice(workbook, tmp_path / fmt, fmt)
    assert what in refused(other) and "File > Save As" in refused(other)


def test_strict_xlsb_and_encrypted_workbooks_are_named(workbook, tmp_path):
    strict = tmp_path / "strict.xlsx"
    with zipfile.ZipFile(workbook) as src, zipfile.ZipFile(strict, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "_rels/.rels":
                data = data.replace(b"http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
                                    b"officeDocument",
                                    b"http://purl.oclc.org/ooxml/officeDocument/relationships/officeDocument")
            out.writestr(info, data)
    assert "a Strict Open XML workbook, which xlnet does not read" in refused(strict)
    xlsb = tmp_path / "b.xlsb"
    with zipfile.ZipFile(xlsb, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.bin", b"\x83\x01\x00")
    assert "an Excel binary workbook (.xlsb)" in refused(xlsb)
    locked = tmp_path / "locked.xlsx"
    locked.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500) + "EncryptionInfo".encode("utf-16-le")
                       + bytes(500))
    assert "a password-protected (encrypted) workbook" in refused(locked)


def test_a_part_twice_in_the_package_is_refused(workbook, tmp_path):
    twice = tmp_path / "twice.xlsx"
    shutil.copy(workbook, twice)
    with warnings.catch_warnings(), zipfile.ZipFile(twice, "a") as z:
        warnings.simplefilter("ignore")
        z.writestr("xl/worksheets/sheet2.xml", b"<worksheet/>")
    assert "it holds two parts named xl/worksheets/sheet2.xml" in refused(twice)


def test_a_csv_from_a_pipe_or_standard_input_is_read(tmp_path):
    out = tmp_path / "p.xlsx"
    done = subprocess.run(["bash", "-c", f'"{sys.executable}" -m xlnet build <(cat "{PENGUINS}") --target sex '
                                         f'--out "{out}"'], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "Read 344 rows from /dev/fd/" in done.stdout, done.stdout + done.stderr
    r = run("predict", out, "-", "--out", tmp_path / "p.csv", input=PENGUINS.read_text())
    assert r.exit_code == 0 and "Predicted 344 rows" in r.output, r.output


def test_a_deleted_spec_sheet_is_never_guessed(workbook, tmp_path):
    wb = openpyxl.load_workbook(workbook)
    del wb["xlnet"]
    wb.save(workbook)
    assert refused(workbook) == (f"Error: {workbook}: the hidden sheet 'xlnet', xlnet's record of the columns and "
                                 "how they were made, is missing, so the model sheets cannot be read; put it back "
                                 "from a copy of the workbook, or rebuild it with `xlnet build`.\n")
    split = build(out=tmp_path / "split.xlsx", valid_pct=0.2).out  # the lesson's columns, but not its layout
    wb = openpyxl.load_workbook(split)
    del wb["xlnet"]
    wb.save(split)
    assert "the hidden sheet 'xlnet'" in refused(split)
    lesson = build(out=tmp_path / "t.xlsx").out  # the lesson's very layout: read as xlnet 0.1's workbook
    wb = openpyxl.load_workbook(lesson)
    del wb["xlnet"]
    wb.save(lesson)
    assert run("fit", lesson, *FAST).exit_code == 0


def test_a_moved_parameter_block_is_named_first(tmp_path):
    path = build(out=tmp_path / "t.xlsx").out
    wb = openpyxl.load_workbook(path)
    ws = wb["linear"]
    block = ws.defined_names["solver_adj"].attr_text.split("!")[1].replace("$", "")
    ws.move_range(block, rows=6, cols=16)  # as a cut and paste does, and the apps move Solver's name with it
    first, last = block.split(":")
    moved = f"linear!${openpyxl.utils.get_column_letter(openpyxl.utils.column_index_from_string(first[0]) + 16)}$10"
    ws.defined_names["solver_adj"].attr_text = moved + ":" + moved.split("!")[1]
    wb.save(path)
    message = refused(path)
    assert "Solver's solver_adj points at" in message and "the sheet was rearranged" in message, message


def test_new_rows_without_their_id_are_numbered_and_said_so(tmp_path):
    path = build(out=tmp_path / "t.xlsx").out
    rows = list(csv.reader(LESSON_CSV.open()))[:20]
    new = tmp_path / "new.csv"
    with new.open("w", newline="") as f:
        csv.writer(f).writerows(row[1:] for row in rows)  # without PassengerId
    r = run("predict", path, new, "--out", tmp_path / "p.csv")
    assert f"  {new} has no PassengerId column, so the rows are numbered from 1" in r.output, r.output
