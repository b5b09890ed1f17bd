"""The zip writer: raw copies, seams, splices, and a refit whose write does not grow with the data."""
from __future__ import annotations

import io
import itertools
import os
import shutil
import zipfile
import zlib

import numpy as np
import pytest

from xlnet import XlnetError, build_workbook, fit_workbook
from xlnet.workbook.book import open_package, read_spec
from xlnet.workbook.fast_rows import RowShape
from xlnet.workbook.reading import _donors, read_sheets
from xlnet.xlsx import read
from xlnet.xlsx.read import Package
from xlnet.xlsx.seam import NOTE_MAX, note_of, seam_of
from xlnet.xlsx.zipout import ZipOut, crc32_combine, data_start


def raw_bytes(path, name: str) -> bytes:
    """A member's compressed bytes as stored."""
    with zipfile.ZipFile(path) as z, open(path, "rb") as f:
        info = z.getinfo(name)
        f.seek(data_start(f, info))
        return f.read(info.compress_size)


@pytest.mark.parametrize("a, b", [(b"", b""), (b"abc", b""), (b"", b"xyz"), (os.urandom(999), os.urandom(70001))])
def test_crc32_combine_is_zlibs(a, b):
    assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def test_a_splice_replaces_the_head_and_copies_the_rest_raw():
    buf = io.BytesIO()
    z = ZipOut(buf)
    with z.open("sheet.xml", 1) as m:
        m.write(b"<head>" + b"h" * 1000 + b"</head>")
        m.mark_seam()
        for i in range(20000):
            m.write(b'<row r="%d"/>' % i)
    z.writestr("caf\u00e9.txt", "caf\u00e9")
    z.close()
    source = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    info = source.getinfo("sheet.xml")
    seam = seam_of(info)
    assert seam is not None and seam.head_size == 1013
    out = io.BytesIO()
    z = ZipOut(out)
    z.splice(io.BytesIO(buf.getvalue()), info, seam, b"<head>new</head>", 6)
    z.copy(io.BytesIO(buf.getvalue()), source.getinfo("caf\u00e9.txt"))
    z.close()
    spliced = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    assert spliced.testzip() is None  # every CRC checks
    assert spliced.read("sheet.xml") == b"<head>new</head>" + source.read("sheet.xml")[1013:]
    assert spliced.read("caf\u00e9.txt") == "caf\u00e9".encode()
    assert seam_of(spliced.getinfo("sheet.xml")).head_size == len(b"<head>new</head>")


def test_a_seam_is_not_trusted_once_another_tool_rewrites_the_member():
    """A zip tool may keep the extra field while replacing the bytes: the CRC recorded beside the seam no longer
    matches, so the seam is ignored."""
    buf = io.BytesIO()
    z = ZipOut(buf)
    with z.open("sheet.xml") as m:
        m.write(b"<a/>")
        m.mark_seam()
        m.write(b"<b/>")
    z.close()
    info = zipfile.ZipFile(io.BytesIO(buf.getvalue())).getinfo("sheet.xml")
    assert seam_of(info) is not None
    again = io.BytesIO()
    with zipfile.ZipFile(again, "w", zipfile.ZIP_DEFLATED) as z2:
        z2.writestr(info, b"<a/><c/>")  # the same ZipInfo, so the same extra field
    assert zipfile.ZipFile(again).getinfo("sheet.xml").extra == info.extra
    assert seam_of(zipfile.ZipFile(again).getinfo("sheet.xml")) is None


def test_a_note_beside_the_seam_is_written_anew_with_the_head_and_trusted_only_on_the_bytes_it_was_written_with():
    buf = io.BytesIO()
    z = ZipOut(buf)
    with z.open("sheet.xml") as m:
        m.write(b"<a/>")
        m.mark_seam()
        m.note = b"first"
        m.write(b"<b/>" * 1000)
    z.close()
    info = zipfile.ZipFile(io.BytesIO(buf.getvalue())).getinfo("sheet.xml")
    assert note_of(info) == b"first"
    for note in (b"second", None, b"x" * (NOTE_MAX + 1)):  # a splice keeps the note it is given, and no other
        out = io.BytesIO()
        z = ZipOut(out)
        z.splice(io.BytesIO(buf.getvalue()), info, seam_of(info), b"<new/>", 6, note=note)
        z.close()
        spliced = zipfile.ZipFile(io.BytesIO(out.getvalue())).getinfo("sheet.xml")
        assert seam_of(spliced) is not None
        assert note_of(spliced) == (note if note is None or len(note) <= NOTE_MAX else None)
    again = io.BytesIO()
    with zipfile.ZipFile(again, "w", zipfile.ZIP_DEFLATED) as z2:
        z2.writestr(info, b"<a/><c/>")  # another tool keeps the extra field and changes the bytes
    assert zipfile.ZipFile(again).getinfo("sheet.xml").extra == info.extra
    assert note_of(zipfile.ZipFile(again).getinfo("sheet.xml")) is None


def test_a_refit_copies_the_long_rows_raw_and_matches_a_full_rewrite(tmp_path):
    """xlnet's sheets carry a seam after their parameter rows: a fit deflates only the rows above it anew and
    copies the data rows' compressed bytes, and the result is byte for byte what editing the whole sheet gives."""
    built = tmp_path / "t.xlsx"
    build_workbook(None, built)
    spliced = tmp_path / "spliced.xlsx"
    shutil.copy(built, spliced)
    fit_workbook(spliced, epochs=5, restarts=2, lbfgs_iters=5)

    full = tmp_path / "full.xlsx"  # the same workbook with its seams removed: the whole sheets are rewritten
    with zipfile.ZipFile(built) as src, zipfile.ZipFile(full, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    with zipfile.ZipFile(full) as f:
        assert not any(seam_of(info) for info in f.infolist())
    fit_workbook(full, epochs=5, restarts=2, lbfgs_iters=5)

    with zipfile.ZipFile(built) as b, zipfile.ZipFile(spliced) as s, zipfile.ZipFile(full) as f:
        assert s.testzip() is None
        for name in ("linear", "nnet", "mmult"):
            with open_package(built) as pkg:
                part = pkg.sheet(name).part
            seam = seam_of(b.getinfo(part))
            assert seam is not None
            assert s.read(part) == f.read(part)
            assert s.read(part)[-1000:] == b.read(part)[-1000:]
            assert raw_bytes(spliced, part).endswith(raw_bytes(built, part)[seam.head_compressed:])
        data = "xl/worksheets/sheet4.xml"
        assert raw_bytes(spliced, data) == raw_bytes(built, data)  # copied, not deflated again
    with open_package(spliced) as a, open_package(full) as c:
        for x, y in zip(read_sheets(a, ("linear", "nnet", "mmult"), read_spec(a)),
                        read_sheets(c, ("linear", "nnet", "mmult"), read_spec(c))):
            assert (x.W == y.W).all() and x.loss() == y.loss()


@pytest.fixture
def small_blocks(monkeypatch):
    """The reader takes a sheet a few rows at a time, so that most of the lesson's rows come after the seam."""
    monkeypatch.setattr(read, "RAW_CHUNK", 4096)
    runs = []
    written = RowShape.written

    def counted(self, block, kinds):
        run = written(self, block, kinds)
        runs.append(run)
        return run
    monkeypatch.setattr(RowShape, "written", counted)
    return runs


def sheets_of(path, **kw) -> dict:
    with open_package(path) as pkg:
        return {s.name: s for s in read_sheets(pkg, ("linear", "nnet", "mmult"), read_spec(pkg))}


def test_rows_xlnet_wrote_are_read_whole_to_the_same_values(tmp_path, small_blocks, monkeypatch):
    """After the seam, a run of rows that xlnet's writer rendered for this layout (the member's CRC and the
    layout's fingerprint say so) is read by its values alone: the same columns, parameters and losses as reading
    every row against the layout's regex, with text columns (Sex, Embarked, Set) and a refit in between."""
    out = tmp_path / "t.xlsx"
    build_workbook(None, out, valid_pct=0.2)
    fit_workbook(out, epochs=5, restarts=2, lbfgs_iters=5)  # spliced: the seam and its fingerprint are kept
    trusted = sheets_of(out)
    assert sum(run is not None for run in small_blocks) >= 50
    small_blocks.clear()
    monkeypatch.setattr(Package, "seam", lambda self, sheet: None)
    checked = sheets_of(out)
    assert not small_blocks
    for name, a in trusted.items():
        b = checked[name]
        assert set(a.env) == set(b.env)
        for column, values in a.env.items():
            assert np.array_equal(np.asarray(values), np.asarray(b.env[column])), (name, column)
        assert np.array_equal(a.W, b.W) and a.metrics() == b.metrics()


def test_sheets_written_from_the_same_data_are_read_once(tmp_path):
    """The three model sheets record the same data digest beside their seams: the smallest is read whole and the
    others only down to their seams. A sheet whose member no longer matches its seam (here the linear sheet,
    rewritten by a tool that kept the extra field) is read whole, and the two others still share."""
    out = tmp_path / "t.xlsx"
    build_workbook(None, out)
    with open_package(out) as pkg:
        assert _donors(pkg, ("linear", "nnet", "mmult")) == {"nnet": "linear", "mmult": "linear"}
    edited = tmp_path / "edited.xlsx"
    with zipfile.ZipFile(out) as src, open(out, "rb") as raw, open(edited, "wb") as f:
        z = ZipOut(f)
        for info in src.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                z.copy(raw, info)  # the other sheets' seams stay true
                continue
            head, row = src.read(info).split(b'<row r="600">')  # linear: row 600's Age gains a leading 1
            age = row.index(b'<c r="E600"')
            with z.open(info.filename) as member:
                member.write(head + b'<row r="600">' + row[:age] + row[age:].replace(b"<v>", b"<v>1", 1))
            z.entries[-1].extra = info.extra  # as a tool that keeps the extra field would
        z.close()
    with open_package(edited) as pkg:
        assert _donors(pkg, ("linear", "nnet", "mmult")) == {"nnet": "mmult"}
    a, b = sheets_of(out), sheets_of(edited)
    assert a["linear"].env["Age"][596] != b["linear"].env["Age"][596]
    for name in ("nnet", "mmult"):
        for column, values in a[name].env.items():
            assert np.array_equal(np.asarray(values), np.asarray(b[name].env[column])), (name, column)


def test_an_edit_below_the_seam_is_found_even_if_the_extra_field_stays(tmp_path, small_blocks):
    """A tool that rewrites a sheet's member but keeps its extra field: the seam no longer matches the CRC, so
    every row is checked against the layout and the edited formula is named."""
    out = tmp_path / "t.xlsx"
    build_workbook(None, out)
    edited = tmp_path / "edited.xlsx"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(edited, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet2.xml":  # nnet
                data = data.replace(b"<f>(AG600-A600)^2</f>", b"<f>(AG600-A600)^3</f>")
            dst.writestr(info, data)
    with pytest.raises(XlnetError, match=r"AH600 holds '=\(AG600-A600\)\^3'"):
        sheets_of(edited)


def test_a_row_template_renders_the_bytes_its_cells_give_one_by_one():
    """RowTemplate joins pieces of text around the row number and the open cells' values; braces in a formula
    or a text, and a row number at either end, must come out as cell_xml writes them."""
    from xlnet.xlsx.parts import OPEN, ROW_MARK, Formula, RowTemplate, SharedStrings, cell_xml, value_tail
    strings = SharedStrings()
    cells = [(1, OPEN, 0), (2, Formula(f'=IF(A{ROW_MARK}>0,"{{x}}",B{ROW_MARK})'), 3), (3, "a {0} b }}", 4),
             (4, OPEN, 5), (5, Formula(f"=SUM($A$1:A{ROW_MARK})+C{ROW_MARK}"), 0), (6, None, 2), (7, OPEN, 0)]
    template = RowTemplate(cells, strings)
    for r, values in ((3, (1.5, "t{1}", None)), (1048576, (float("nan"), 0.0, "=A1"))):
        tails = tuple(value_tail(v, strings) for v in values)
        it = iter(values)
        want = b"".join(cell_xml(c, r, next(it) if v is OPEN else
                                 Formula(v.text.replace(ROW_MARK, str(r))) if isinstance(v, Formula) else v, s,
                                 strings) for c, v, s in cells)
        assert template.render(r, tails) == f'<row r="{r}">'.encode() + want + b"</row>"


def test_members_read_by_isal_are_zipfiles_bytes(tmp_path):
    """Every member of a workbook xlnet wrote (ISA-L at level 1, zlib at 6, seams), of one zipfile wrote at
    level 9, and a stored one, read through open_member in pieces of any size: zipfile's bytes."""
    from xlnet.xlsx.zipin import open_member
    ours = build_workbook(out=tmp_path / "w.xlsx").out
    theirs = tmp_path / "z.zip"
    with zipfile.ZipFile(theirs, "w") as z:
        z.writestr("deflated.xml", os.urandom(5000).hex() * 40, zipfile.ZIP_DEFLATED, compresslevel=9)
        z.writestr("stored.xml", b"<a/>" * 100, zipfile.ZIP_STORED)
        z.writestr("empty.xml", b"", zipfile.ZIP_DEFLATED)
    for path in (ours, theirs):
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                stream, pieces = open_member(z, name, path), []
                for n in itertools.cycle((1, 7, 4096, 1 << 20)):
                    if not (piece := stream.read(n)):
                        break
                    pieces.append(piece)
                assert b"".join(pieces) == z.read(name), name
