"""The workbook stays the user's: a refit writes only xlnet's own cells and parts, and keeps everything else.

The user's additions are made by a real LibreOffice through UNO and saved as .xlsx, and as .xlsm with a
real VBA project (tests/data/vbaProject.bin, from XlsxWriter 3.3.1's sdist, examples/vbaProject.bin,
BSD-2-Clause, sha256 0ced1464b3677e98f5e3a8c5d80135e18dc98dca39299f1a8cfd2a00999fbf9f).
"""
from __future__ import annotations

import hashlib
import re
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from conftest import ROOT, read_sheets
from office import run_uno, uno_python
from xlnet.commands.build import build
from xlnet.cli import cli
from xlnet.xlsx.read import Package

VBA = ROOT / "tests" / "data" / "vbaProject.bin"
VBA_SHA256 = "0ced1464b3677e98f5e3a8c5d80135e18dc98dca39299f1a8cfd2a00999fbf9f"
PNG = ROOT / "docs" / "workbook.png"
FORMULA_VALUE = re.compile(rb"(<f\b[^>]*?(?:/>|>[^<]*</f>))<v>[^<]*</v>")


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def with_macros(xlsx: Path, xlsm: Path) -> None:
    """The same package as a macro-enabled workbook holding a real VBA project, as Excel would save it."""
    assert hashlib.sha256(VBA.read_bytes()).hexdigest() == VBA_SHA256
    parts = members(xlsx)
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        b"application/vnd.ms-excel.sheet.macroEnabled.main+xml").replace(
        b"<Default ", b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/><Default ', 1)
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", b'<Relationship Id="rIdVba" Type="http://schemas.microsoft.com/office/2006/'
                             b'relationships/vbaProject" Target="vbaProject.bin"/></Relationships>')
    parts["xl/vbaProject.bin"] = VBA.read_bytes()
    with zipfile.ZipFile(xlsm, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)


@pytest.fixture(scope="module")
def decorated(tmp_path_factory, libreoffice) -> dict[str, Path]:
    if uno_python() is None:
        pytest.skip("LibreOffice's python3-uno is not installed")
    d = tmp_path_factory.mktemp("user")
    fresh = build(out=d / "fresh.xlsx", seed=3).out
    run_uno("decorate", fresh, d / "user.xlsx", PNG)
    with_macros(d / "user.xlsx", d / "user.xlsm")
    return {"xlsx": d / "user.xlsx", "xlsm": d / "user.xlsm"}


def model_parts(path: Path) -> dict[str, str]:
    with Package(path) as pkg:
        return {s.part: s.name for s in pkg.sheets if s.name in ("linear", "nnet", "mmult")}


OWNED = {"xl/workbook.xml", "[Content_Types].xml", "xl/_rels/workbook.xml.rels", "xl/sharedStrings.xml",
         "xl/styles.xml"}


@pytest.mark.parametrize("kind", ["xlsx", "xlsm"])
def test_refit_keeps_everything_the_user_added(decorated, kind, tmp_path):
    path = tmp_path / f"w.{kind}"
    shutil.copy(decorated[kind], path)
    seen_before = run_uno("inspect", path)
    before = members(path)
    r = CliRunner().invoke(cli, ["fit", str(path), "--quiet", "--restarts", "4", "--epochs", "20"])
    assert r.exit_code == 0, r.output
    printed = {line.split()[0]: float(line.split()[2]) for line in r.output.splitlines()[1:4]}
    after = members(path)
    # Every part xlnet does not own is there, byte for byte.
    models = model_parts(path)
    untouched = [n for n in before if n not in OWNED and n not in models]
    assert untouched and all(after.get(n) == before[n] for n in untouched), \
        [n for n in untouched if after.get(n) != before[n]]
    assert set(after) - set(before) and all(re.fullmatch(r"xl/(worksheets|drawings|charts)/(_rels/)?xlnet_\w+\.xml"
                                                         r"(\.rels)?", n) for n in set(after) - set(before))
    if kind == "xlsm":
        assert after["xl/vbaProject.bin"] == VBA.read_bytes()
        assert b"macroEnabled.main+xml" in after["[Content_Types].xml"]
    # In the model sheets only the parameter cells changed (their style kept) and the stale cached values went.
    sheets = read_sheets(path)
    for part, name in models.items():
        params = {f"{openpyxl.utils.get_column_letter(c)}{r}" for c, r in sheets[name].layout.param_cells()}
        old, new = (FORMULA_VALUE.sub(rb"\1", x[part]) for x in (before, after))
        pattern = rb'<c r="(' + b"|".join(p.encode() for p in params) + rb')"([^>]*?)>(<v>[^<]*</v>)</c>'
        styles_old = {m[1]: re.sub(rb'\s*t="n"', b"", m[2]) for m in re.finditer(pattern, old)}
        styles_new = {m[1]: m[2] for m in re.finditer(pattern, new)}
        assert styles_old == styles_new and len(styles_new) == len(params)
        assert re.sub(pattern, b"P", old) == re.sub(pattern, b"P", new)
    # LibreOffice still sees all of it, and recalculates to the losses xlnet printed.
    seen = run_uno("inspect", path)
    for key in ("shapes", "texts", "comments", "param_format", "user_charts", "user_curves", "rich_text",
                "basic_libraries", "macro_code_has_msgbox"):
        assert seen[key] == seen_before[key], key
    assert seen["param_format"] == '0.000000" w"' and len(seen["shapes"]) == 3
    assert seen["rich_text"] == [["plain and ", 100.0, -1], ["bold red", 150.0, 0xFF0000]]
    assert seen["macro_code_has_msgbox"] == (kind == "xlsm")
    assert seen["sheets"] == seen_before["sheets"] + ["xlnet history", "xlnet curves"]
    for name, loss in seen["losses"].items():
        assert loss == pytest.approx(sheets[name].loss(), rel=1e-12)
        assert loss == pytest.approx(printed[name], abs=5e-11)
    # A second fit finds xlnet's own sheets again and leaves the user's History and curves alone.
    assert CliRunner().invoke(cli, ["fit", str(path), "--quiet", "--restarts", "2", "--epochs", "5",
                                    "--model", "linear"]).exit_code == 0
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == seen_before["sheets"] + ["xlnet history", "xlnet curves"]
    assert wb["xlnet history"].max_row == 1 + 3 * 4
    assert members(path)["xl/worksheets/sheet6.xml"] == before["xl/worksheets/sheet6.xml"]


def test_an_xlsm_keeps_its_kind(decorated, tmp_path):
    path = tmp_path / "w.xlsm"
    shutil.copy(decorated["xlsm"], path)
    for out in ("x.xlsx", "x.txt"):
        r = CliRunner().invoke(cli, ["fit", str(path), "--quiet", "--out", str(tmp_path / out)])
        assert (r.exit_code, r.output) == (1, f"Error: {tmp_path / out}: w.xlsm is a macro-enabled workbook "
                                              "(.xlsm), so it must be written to a .xlsm path; choose another --out.\n")
    plain = build(out=tmp_path / "p.xlsx").out
    r = CliRunner().invoke(cli, ["fit", str(plain), "--quiet", "--out", str(tmp_path / "p.xlsm")])
    assert r.output == (f"Error: {tmp_path / 'p.xlsm'}: p.xlsx is an .xlsx workbook, so it must be written to a "
                        ".xlsx path; choose another --out.\n")
