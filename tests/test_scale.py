"""The large-workbook path, proved on the lesson's data with its thresholds lowered: row templates, level-1
compression in a thread of its own, and the streaming reader give what the small path gives."""
from __future__ import annotations

import os
import signal
import zipfile

import numpy as np
import openpyxl
import pytest

from conftest import cells, read_sheets
from test_workbook import RTOL, check_against_numpy
from xlnet.commands.build import build
from xlnet.errors import XlnetError
from xlnet.commands.fit import fit_workbook
from xlnet.workbook.layout import FIRST_ROW
from xlnet.xlsx import write


def members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}  # core.xml holds the time


@pytest.fixture
def both(tmp_path, monkeypatch):
    """The lesson's workbook built as a small one and as a large one (every sheet past BIG_SHEET)."""
    small = build(out=tmp_path / "small.xlsx", seed=3, valid_pct=0.2).out
    monkeypatch.setattr(write, "BIG_SHEET", 10)
    monkeypatch.setattr(write, "THREAD_BUFFER", 4096)  # many hand-offs to the compressing thread
    large = build(out=tmp_path / "large.xlsx", seed=3, valid_pct=0.2).out
    return small, large


def test_the_large_path_writes_the_same_bytes(both):
    small, large = both
    a, b = members(small), members(large)
    assert a == b
    with zipfile.ZipFile(small) as zs, zipfile.ZipFile(large) as zl:
        # The three model sheets and the data sheet went the fast way: level 1 compresses less.
        sheets = [f"xl/worksheets/sheet{k}.xml" for k in range(1, 5)]
        ratio = lambda z, n: z.getinfo(n).compress_size / z.getinfo(n).file_size
        assert all(ratio(zl, n) > 1.1 * ratio(zs, n) for n in sheets)


def test_every_cell_is_the_layouts_value_or_formula(both):
    """Row templates against the layout, cell by cell: each value as the sheet's data, each formula as the layout
    renders it for that row."""
    _, large = both
    wb = openpyxl.load_workbook(large)
    for name, sheet in read_sheets(large).items():
        ws, at = wb[name], sheet.layout
        for i in range(len(sheet.y)):
            r = FIRST_ROW + i
            for column, formula in at.row_formulas(r).items():
                assert ws.cell(r, at.col[column]).value == formula, (name, r, column)
            for column in at.values + (("Set",) if at.split else ()):
                got, want = ws.cell(r, at.col[column]).value, sheet.env[column][i]
                assert got == want or (isinstance(want, float) and np.isclose(got, want, rtol=0, atol=0)), \
                    (name, r, column)


def test_a_large_path_workbook_recalculates_to_numpys_losses_and_fits(both, libreoffice, tmp_path):
    _, large = both
    losses = check_against_numpy(large, libreoffice, tmp_path)
    results = fit_workbook(large, restarts=4, epochs=20)
    assert losses == pytest.approx({r.sheet: r.before["train_loss"] for r in results}, rel=RTOL)
    assert check_against_numpy(large, libreoffice, tmp_path) == pytest.approx(
        {r.sheet: r.after["train_loss"] for r in results}, rel=RTOL)


@pytest.mark.parametrize("options", [
    {"valid_pct": 0.2},                                          # the lesson's preset: accuracy by set
    {"target": "Age", "missing": "median", "seed": 5},          # continuous: R² merged, medians from tallies
    {"target": "Survived", "missing": "mode", "valid_pct": 0},  # filled with the mode, no validation set
])
def test_build_reads_cleans_writes_and_scores_a_chunk_at_a_time_as_all_at_once(tmp_path, monkeypatch, options):
    """Memory flat in the rows: build reads the CSV, learns the cleaning, writes the sheets and sums their
    scores a chunk at a time. Chunks of 50 rows (rendered 7 at a time, tallies merged every 5 numbers) give the
    workbook that one chunk of all the rows gives, cell for cell, with the same fills, report and metrics."""
    from xlnet.table import cleaning, reading as data
    from xlnet.workbook import writing as sheets
    from xlnet.workbook.book import open_package

    whole = build(out=tmp_path / "whole.xlsx", **options)
    monkeypatch.setattr(data, "ENCODE_ROWS", 50)
    monkeypatch.setattr(sheets, "CHUNK_ROWS", 7)
    monkeypatch.setattr(cleaning, "MERGE_AT", 5)
    chunked = build(out=tmp_path / "chunked.xlsx", **options)
    assert chunked.spec.to_json() == whole.spec.to_json()
    assert (chunked.rows_read, chunked.rows_kept, chunked.rows_valid, chunked.report) == \
        (whole.rows_read, whole.rows_kept, whole.rows_valid, whole.report)
    assert chunked.metrics.keys() == whole.metrics.keys()
    for name, metrics in whole.metrics.items():
        assert chunked.metrics[name] == pytest.approx(metrics, rel=1e-12, abs=0)
    assert cells(chunked.out) == cells(whole.out)
    digests = []
    for path in (whole.out, chunked.out):
        with open_package(path) as pkg:
            digests.append({pkg.seam(name).data for name in ("linear", "nnet", "mmult")})
    assert digests[0] == digests[1] and len(digests[0]) == 1  # one data digest, however the rows were chunked


def test_a_sheet_written_with_a_namespace_prefix_reads_the_same(tmp_path):
    """Some writers prefix every element (<x:row>): the raw row scanner steps aside and the parser reads it."""
    import re

    path = build(out=tmp_path / "t.xlsx", seed=3, valid_pct=0.2).out
    prefixed = tmp_path / "prefixed.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(prefixed, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet2.xml":  # nnet
                data = re.sub(rb"<(/?)(?![?!])([A-Za-z]+)([ />])", rb"<\1x:\2\3", data)
                data = data.replace(b'<x:worksheet xmlns="', b'<x:worksheet xmlns:x="', 1)
                assert b"<x:row " in data and b"<row " not in data
            dst.writestr(info, data)
    from xlnet.xlsx.read import NotPlain, Package
    with Package(prefixed) as pkg, pytest.raises(NotPlain):
        next(pkg.raw_blocks("nnet"))
    a, b = read_sheets(path)["nnet"], read_sheets(prefixed)["nnet"]
    np.testing.assert_array_equal(a.W, b.W)
    np.testing.assert_array_equal(a.X, b.X)
    assert list(a.sets) == list(b.sets) and a.loss() == b.loss()


def _read_all(path) -> dict:
    from xlnet.workbook.book import Workbook
    with Workbook.open(path) as book:
        return {s.name: s for s in book.sheets(("linear", "nnet", "mmult"))}


def _same(a: dict, b: dict) -> None:
    for name in a:
        assert a[name].env.keys() == b[name].env.keys()
        for column, values in a[name].env.items():
            assert np.array_equal(np.asarray(values), np.asarray(b[name].env[column])), (name, column)
        assert np.array_equal(a[name].W, b[name].W) and np.array_equal(a[name].X, b[name].X)


@pytest.mark.parametrize("raw_back", [1 << 30, 0])  # blocks handed back to be parsed; the reader taking over
@pytest.mark.parametrize("not_runs", [False, True])
def test_two_processes_read_a_sheet_as_one_does(tmp_path, monkeypatch, not_runs, raw_back):
    """Past SPLIT_FROM bytes, a forked process reads the later rows of a sheet while this one reads the earlier:
    the same values, row for row, also where some blocks are not runs and come back as bytes (or, past RAW_BACK,
    are read here from where the other process stopped)."""
    from xlnet.workbook import fast_rows
    from xlnet.xlsx import read
    monkeypatch.setattr(write, "BIG_SHEET", 10)
    path = build(out=tmp_path / "t.xlsx", seed=3, valid_pct=0.2).out  # a text column (Set) and numbers
    monkeypatch.setattr(read, "RAW_CHUNK", 2048)  # many blocks
    alone = _read_all(path)
    if not_runs:  # every other block (by its first row: the same in both processes) parsed row by row
        written = fast_rows.RowShape.written
        monkeypatch.setattr(fast_rows.RowShape, "written", lambda self, block, kinds: None if int(
            self.ROW.match(block)[1]) % 2 else written(self, block, kinds))
    monkeypatch.setattr(fast_rows, "SPLIT_FROM", 0)
    monkeypatch.setattr(fast_rows, "RAW_BACK", raw_back)
    split = []
    tail = fast_rows._split_tail
    monkeypatch.setattr(fast_rows, "_split_tail", lambda *a: split.append(1) or tail(*a))
    _same(alone, _read_all(path))
    assert split  # the two-process path was taken


@pytest.fixture
def small_parts(monkeypatch):
    """Thresholds lowered so the titanic rows take the large path, a few rows at a time."""
    from xlnet.workbook import writing
    monkeypatch.setattr(write, "BIG_SHEET", 10)
    monkeypatch.setattr(write, "THREAD_BUFFER", 4096)
    monkeypatch.setattr(writing, "CHUNK_ROWS", 50)
    return writing


@pytest.mark.parametrize("options", [
    {"valid_pct": 0.2},                                        # the lesson's three sheets
    {"target": "Survived", "seed": 4},                         # an inferred spec: the Set column's text
    {"target": "Embarked", "missing": "mode", "hidden": 3},    # classes as text, first met chunks apart
])
def test_model_sheets_written_by_a_worker_are_the_bytes_one_process_writes(tmp_path, small_parts, monkeypatch,
                                                                          options):
    """From PARALLEL_ROWS rows on, a forked worker writes every model sheet but the first, from the value cells
    sent to it: the package is the one a single process writes, member for member, compressed bytes, CRCs and
    seams (in the zip's extra fields) included, with one shared-strings table that holds every text either used."""
    monkeypatch.setattr(small_parts, "PARALLEL_ROWS", 10 ** 9)
    one = build(out=tmp_path / "one.xlsx", **options).out
    helpers = []
    monkeypatch.setattr(small_parts, "PARALLEL_ROWS", 100)
    monkeypatch.setattr(small_parts._Helper, "stop", lambda self, stop=small_parts._Helper.stop: (
        helpers.append(self), stop(self)))
    two = build(out=tmp_path / "two.xlsx", **options).out
    assert helpers, "no worker wrote a sheet"
    assert members(two) == members(one)
    def entries(path):
        with zipfile.ZipFile(path) as z:
            return [(i.filename, i.CRC, i.compress_size, i.extra) for i in z.infolist()
                    if i.filename != "docProps/core.xml"]
    assert entries(two) == entries(one)
    assert cells(two) == cells(one)


def test_a_worker_that_fails_fails_the_build_and_nothing_is_written(tmp_path, small_parts, monkeypatch):
    monkeypatch.setattr(small_parts, "PARALLEL_ROWS", 100)

    def full_disk(*args):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(small_parts, "_register", full_disk)  # in the worker only
    with pytest.raises(XlnetError, match="No space left on device"):
        build(out=tmp_path / "w.xlsx", valid_pct=0.2)
    assert list(tmp_path.iterdir()) == []


def test_a_worker_killed_midway_fails_the_build_in_one_line_and_nothing_is_written(tmp_path, small_parts,
                                                                                  monkeypatch):
    """The worker writing model sheets killed (as the kernel's out-of-memory killer does): the build ends with an
    XlnetError saying so rather than waiting for it, and leaves no file."""
    monkeypatch.setattr(small_parts, "PARALLEL_ROWS", 100)
    monkeypatch.setattr(small_parts, "_register", lambda *a: os.kill(os.getpid(), signal.SIGKILL))
    with pytest.raises(XlnetError, match="ended before its work was done"):
        build(out=tmp_path / "w.xlsx", valid_pct=0.2)
    assert list(tmp_path.iterdir()) == []


def test_sheets_read_side_by_side_as_one_by_one_and_a_killed_reader_fails_in_one_line(tmp_path, monkeypatch):
    """Large sheets are read a forked worker each (workbook.reading.read_each): the same sheets as read in turn;
    a worker killed as the out-of-memory killer kills ends the read with an XlnetError, not a wait for ever."""
    from xlnet.model.net import SHEETS
    from xlnet.workbook import reading
    from xlnet.workbook.book import Workbook
    build(out=tmp_path / "w.xlsx")
    with Workbook.open(tmp_path / "w.xlsx") as book:
        one_by_one = reading.read_each(book.pkg, SHEETS, book.spec)
        monkeypatch.setattr(reading, "PARALLEL_BYTES", 0)
        monkeypatch.setattr(reading, "_donors", lambda *a: {})  # (the nets would take their rows from linear's)
        side_by_side = reading.read_each(book.pkg, SHEETS, book.spec)
        assert [s.metrics() for s in side_by_side] == [s.metrics() for s in one_by_one]
        assert all(np.array_equal(a.W, b.W) for a, b in zip(side_by_side, one_by_one))
        monkeypatch.setattr(reading, "_read_in_worker", lambda *a: os.kill(os.getpid(), signal.SIGKILL))
        with pytest.raises(XlnetError, match="ended before its work was done"):
            reading.read_each(book.pkg, SHEETS, book.spec)
