"""A sheet's summary beside its seam: compare and predict read no rows where it describes the sheet as it is, give
what a read of every row gives, and never take a summary that speaks of other parameters, rows or another app's
save."""
from __future__ import annotations

import json
import shutil
import zlib

import numpy as np
import openpyxl
import pytest

from conftest import ROOT
from xlnet.commands.build import build
from xlnet.commands.compare import compare_workbook
from xlnet.commands.fit import fit_workbook
from xlnet.commands.predict import predict_csv
from xlnet.model.net import SHEETS
from xlnet.workbook import reading, summary
from xlnet.workbook.book import Workbook
from xlnet.xlsx.patch import Patch
from xlnet.xlsx.read import Package

PENGUINS = ROOT / "data" / "penguins.csv"
LESSON_CSV = ROOT / "src" / "xlnet" / "presets" / "titanic.csv"
SETTINGS = {"restarts": 4, "epochs": 50}  # the fit's, so that compare takes it from the workbook


@pytest.fixture(scope="module", params=["lesson", "species", "body_mass_g"])
def fitted(request, tmp_path_factory):
    """A fitted workbook and CSV rows to predict: the lesson's; penguins' species (three classes, a validation
    set, the decay chosen); their body mass (squared error, so the linear sheet has an optimum at its decay)."""
    folder = tmp_path_factory.mktemp(request.param)
    out = folder / "w.xlsx"
    if request.param == "lesson":
        build(out=out)
        rows = LESSON_CSV
    else:
        build(PENGUINS, out, target=request.param, hidden=2, valid_pct=0.2, seed=1)
        rows = PENGUINS
    fit_workbook(out, **SETTINGS)
    return out, rows


def no_rows_read(monkeypatch):
    """Make any whole read of a sheet's rows fail."""
    def refuse(*_, **__):
        raise AssertionError("a sheet's rows were read")
    monkeypatch.setattr(reading, "read_sheet", refuse)
    monkeypatch.setattr(reading, "_read_in_worker", refuse)


def without_summaries(monkeypatch):
    monkeypatch.setattr(summary, "read", lambda note: None)


def test_a_fit_records_each_sheets_summary_as_its_rows_give_it(fitted):
    path, _ = fitted
    with Workbook.open(path) as book:
        for sheet in book.sheets(SHEETS):
            found = summary.read(book.pkg.note(sheet.name))
            assert summary.describes(found, sheet), sheet.name
            assert found["rows"] == len(sheet.y)
            assert found["metrics"] == sheet.metrics()
            assert found["statistics"] == sheet.statistics()
            assert found["levels"] == {k: list(v) for k, v in sheet.levels_seen().items()}
            assert found["modes"] == sheet.modes()
            assert found["optimum"] == sheet.optimum()
            assert (found["optimum"] is not None) == (sheet.name == "linear" and sheet.spec.loss == "mse")


def test_compare_and_predict_read_no_rows_and_say_what_a_whole_read_says(fitted, monkeypatch):
    path, rows = fitted
    with monkeypatch.context() as m:
        no_rows_read(m)
        compared = [r.as_dict() for r in compare_workbook(path, **SETTINGS)]
        predicted = predict_csv(path, rows)
    without_summaries(monkeypatch)
    assert compared == [r.as_dict() for r in compare_workbook(path, **SETTINGS)]
    whole = predict_csv(path, rows)
    assert (predicted.model, predicted.why, predicted.filled, predicted.unseen) == \
           (whole.model, whole.why, whole.filled, whole.unseen)
    np.testing.assert_array_equal(predicted.values, whole.values)
    assert predicted.csv_text() == whole.csv_text()


def test_rows_a_summarised_sheet_needs_are_read_then_all_together(fitted, monkeypatch):
    path, _ = fitted
    with Workbook.open(path) as book:
        whole = book.sheets(SHEETS)
        light = book.sheets(SHEETS, rows=False)
        assert not any(s.env.loaded for s in light)
        np.testing.assert_array_equal(light[1].X, whole[1].X)  # one sheet's rows asked for: all are read
        no_rows_read(monkeypatch)
        for a, b in zip(light, whole):
            assert a.env.keys() == b.env.keys()
            np.testing.assert_array_equal(a.y, b.y)
            assert a.metrics(b.W * 0.5) == b.metrics(b.W * 0.5)


def _rewritten(path, tmp_path, sheet: str, change) -> "Path":
    """A copy of the workbook whose sheet's parameters xlnet's patch rewrote as `change` says."""
    out = tmp_path / "changed.xlsx"
    with Workbook.open(path) as book:
        read = book.sheets([sheet])[0]
        patch = Patch(book.pkg)
        change(patch, read)
        patch.save(out, True)
    return out


def test_a_summary_of_other_parameters_is_never_taken(fitted, tmp_path, monkeypatch):
    path, rows = fitted
    with Package(path) as pkg:
        old = pkg.note("nnet")

    def other_parameters(patch, sheet):  # new parameters, with the note of the old ones beside them
        patch.set_numbers("nnet", sheet.settable_cells(sheet.W * 0.9, sheet.weight_decay), note=old)

    def no_note(patch, sheet):  # new parameters, the old note dropped
        patch.set_numbers("nnet", sheet.settable_cells(sheet.W * 0.9, sheet.weight_decay))
    with Workbook.open(path) as book:
        nnet = book.sheets(["nnet"])[0]
    for change in (other_parameters, no_note):
        out = _rewritten(path, tmp_path, "nnet", change)
        with Workbook.open(out) as book:
            light = dict(zip(SHEETS, book.sheets(SHEETS, rows=False)))
            assert type(light["nnet"].env) is dict and type(light["linear"].env) is not dict  # nnet read whole
            assert light["nnet"].metrics() == nnet.metrics(nnet.W * 0.9)
        with monkeypatch.context() as m:
            no_rows_read(m)
            with pytest.raises(AssertionError, match="rows were read"):
                compare_workbook(out, **SETTINGS)


def test_a_workbook_another_app_saved_is_read_whole(fitted, tmp_path, monkeypatch):
    path, rows = fitted
    saved = tmp_path / "saved.xlsx"
    wb = openpyxl.load_workbook(path)
    wb.save(saved)
    with Package(saved) as pkg:
        assert all(pkg.note(name) is None for name in SHEETS)
    with monkeypatch.context() as m:
        no_rows_read(m)
        with pytest.raises(AssertionError, match="rows were read"):
            predict_csv(saved, rows)
    np.testing.assert_allclose(predict_csv(saved, rows).values, predict_csv(path, rows).values, rtol=1e-12)


def test_a_note_that_is_not_a_summary_is_not_read():
    assert summary.read(None) is None
    assert summary.read(b"not zlib") is None
    assert summary.read(zlib.compress(b"[1, 2]")) is None
    assert summary.read(zlib.compress(b'{"key": 1, "rows": 2}')) is None
    assert summary.read(zlib.compress(b" " * (summary.LARGEST + 1) + b"{}")) is None  # inflates past the limit
    assert summary.read(zlib.compress(b"[" * 100000)) is None
    good = {"key": 1, "rows": 2, "metrics": {"train_loss": 0.5}, "statistics": {}, "levels": {}, "modes": {},
            "optimum": None}
    assert summary.read(zlib.compress(json.dumps(good).encode())) == good
    for bad in ({"metrics": {"train_loss": "0.5"}}, {"levels": {"Sex": "male"}}, {"optimum": "1"},
                {"levels": {"Sex": [{"a": 1}]}}, {"modes": {"Sex": ["male"]}}):
        assert summary.read(zlib.compress(json.dumps({**good, **bad}).encode())) is None


def test_a_fit_that_keeps_a_sheets_parameters_records_its_summary(tmp_path):
    out = tmp_path / "t.xlsx"
    build(out=out)
    fit_workbook(out, sheets=("linear",), restarts=2, epochs=10)
    spliced = tmp_path / "spliced.xlsx"
    with Workbook.open(out) as book:  # parameters written without a summary, as xlnet 0.x wrote them
        linear = book.sheets(["linear"])[0]
        patch = Patch(book.pkg)
        patch.set_numbers("linear", linear.settable_cells(linear.W, linear.weight_decay), fit=(7, 1500))
        patch.save(spliced, True)
    shutil.copy(spliced, out)
    with Package(out) as pkg:
        assert pkg.note("linear") is None
    results = fit_workbook(out, sheets=("linear",), restarts=2, epochs=10)
    assert not results[0].improved  # the least-squares optimum is reached already
    with Workbook.open(out) as book:
        kept = book.sheets(["linear"])[0]
        assert summary.describes(summary.read(book.pkg.note("linear")), kept)
        np.testing.assert_array_equal(kept.W, linear.W)
        assert book.fit_recorded("linear") == (7, 1.5)
