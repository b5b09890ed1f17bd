"""The Workbook: a workbook xlnet made, from opening it to saving a change. Every command goes through it.

    with Workbook.open(path) as book:                        # read: vetted, its spec read
        linear, nnet = book.sheets(("linear", "nnet"))
    with Workbook.open(path, change=True, out=out) as book:  # refused while open in an app; locked against
        book.set_parameters(nnet, W, decay)                  # another xlnet write until the block ends
        book.record(nnet, method="...", ...)                 # a row of xlnet's history sheet
        book.save()                                          # one atomic patch: the rest of the package kept

A change touches only what xlnet owns (xlsx.patch): parameter and decay cells, and xlnet's own history, curves
and predict sheets. Nothing is written until `save`, and nothing at all if the block ends in an error.
"""
from __future__ import annotations

import contextlib
import json
from functools import cached_property
from pathlib import Path
from typing import Iterator

import numpy as np

from xlnet.errors import XlnetError
from xlnet.model.spec import Spec
from xlnet.presets import titanic
from xlnet.workbook import history, summary
from xlnet.workbook.layout import HEADER_ROW, SPEC_SHEET, SheetLayout
from xlnet.workbook.predict_sheet import write_predict_sheet
from xlnet.workbook.reading import model_of, read_each, read_sheets
from xlnet.workbook.sheet_data import SheetData
from xlnet.xlsx.patch import Patch
from xlnet.xlsx.read import Package
from xlnet.xlsx.safety import (check_not_open, check_package, check_regular_mode, exclusive, os_error,
                               remove_stale_temps, target_of)


class Workbook:
    """An open workbook: its path, package and spec; the sheets read on demand; a change kept until `save`."""

    def __init__(self, path: Path, pkg: Package, out: Path | None = None, elsewhere: bool = True):
        self.path, self.pkg, self.out, self.elsewhere = path, pkg, out, elsewhere
        self.spec = read_spec(pkg)
        self._records: list[history.FitRecord] = []
        self._curves: dict[str, tuple[np.ndarray, np.ndarray, float | None]] = {}

    @classmethod
    @contextlib.contextmanager
    def open(cls, path: str | Path, *, change: bool = False, out: str | Path | None = None,
             elsewhere: bool = True) -> Iterator["Workbook"]:
        """The workbook at `path`, to read; with `change`, to change and save (to `out`, or in place): refused
        while a spreadsheet app has it open, and locked against other xlnet writes until the block ends.
        `elsewhere`: the command has `--out` for the workbook (so its errors may advise it)."""
        path = Path(path)
        out = Path(out) if out else path
        if change:
            check_not_open(path, elsewhere)
            if out != path:
                check_not_open(out, elsewhere)
        with exclusive(path) if change else contextlib.nullcontext():
            pkg = open_package(path)
            try:
                if change:
                    check_out(path, out, pkg.macro_enabled, elsewhere)
                    remove_stale_temps(target_of(out, elsewhere))
                yield cls(path, pkg, out if change else None, elsewhere)
            finally:
                pkg.close()

    # Reading
    def sheets(self, names: tuple[str, ...] | list[str], rows: bool = True) -> list[SheetData]:
        """Each model sheet named, checked (read side by side where large); the first that cannot be read raises.
        Without `rows`, a sheet whose summary the workbook records is read without its rows until they are
        needed (for a command that needs the summary's figures alone)."""
        return read_sheets(self.pkg, names, self.spec, rows)

    def sheets_or_errors(self, names: tuple[str, ...] | list[str], rows: bool = True) -> list[SheetData | XlnetError]:
        """Each model sheet named, or the error that says why it cannot be read."""
        return read_each(self.pkg, names, self.spec, rows)

    def cached_value(self, sheet: str, cell: tuple[int, int]) -> float | None:
        """A cell's value as the spreadsheet app that last saved the workbook computed it."""
        c, r = cell
        for row, cells in self.pkg.rows(sheet, max_row=r):
            if row == r and c in cells and isinstance(cells[c].value, float):
                return cells[c].value
        return None

    def fit_recorded(self, sheet: str) -> tuple[int, float] | None:
        """(fit key, seconds) of the xlnet fit that wrote the sheet's parameters, as recorded beside them."""
        seam = self.pkg.seam(sheet)
        return None if seam is None or not seam.fit else (seam.fit, seam.fit_ms / 1000)

    def past_fits(self) -> dict[tuple[int, str], dict[str, list]]:
        """The fits xlnet's history sheet records: (fit number, sheet) -> {row kind: parameters}."""
        sheet = self.history_sheet()
        if sheet is None:
            raise XlnetError(f"{self.path}: there is no history of fits to restore from; `xlnet fit` makes one.")
        return history.past_fits(self.pkg, sheet)

    def history_sheet(self) -> str | None:
        """The name of xlnet's history sheet, if the workbook has one."""
        return self.patch.owned_sheet("history")

    # Changing
    @cached_property
    def patch(self) -> Patch:
        if self.out is None:
            raise RuntimeError("the workbook was opened to read: Workbook.open(path, change=True) to change it")
        return Patch(self.pkg)

    def set_parameters(self, sheet: SheetData, W: np.ndarray, decay: float, fit: tuple[int, int] = (0, 0)) -> None:
        """Write a sheet's parameters and weight decay, and beside them the summary of the sheet's rows under
        them; `fit`: (fit key, milliseconds) of the fit that made them."""
        self.patch.set_numbers(sheet.name, sheet.settable_cells(W, decay), fit=fit, note=summary.note(sheet, W, decay))

    def keep_summary(self, sheet: SheetData) -> None:
        """Record the summary of a sheet's rows under the parameters it keeps, where the workbook records none
        for them and the sheet's first rows can be written anew alone (it has a seam): its cells are written
        as they are, and the fit recorded beside them is kept."""
        if self.pkg.seam(sheet.name) is None or summary.describes(summary.read(self.pkg.note(sheet.name)), sheet):
            return
        key, seconds = self.fit_recorded(sheet.name) or (0, 0.0)
        self.set_parameters(sheet, sheet.W, sheet.weight_decay, fit=(key, round(seconds * 1000)))

    def record(self, sheet: SheetData, *, method: str, settings: dict, before: dict, after: dict, W: np.ndarray,
               decay: float, iterations: int = 0, seconds: float = 0.0, kept: bool = True) -> None:
        """A history row for the change of a sheet's parameters from those it holds to `W` at `decay`."""
        names, old = sheet.recorded(sheet.W, sheet.weight_decay)
        self._records.append(history.FitRecord(
            sheet=sheet.name, method=method, settings=settings, before=before, after=after, iterations=iterations,
            seconds=seconds, names=names, W_before=old, W_after=sheet.recorded(W, decay)[1], kept=kept))

    def set_curve(self, sheet: str, curve: tuple[np.ndarray, np.ndarray], handover: float | None = None) -> None:
        """A sheet's loss per iteration of its last fit, for xlnet's curves sheet, and the iteration where L-BFGS
        took over from Adam (None: no Adam epochs)."""
        self._curves[sheet] = (*curve, handover)

    def set_predict_sheet(self, sheets: dict[str, SheetData], env: dict, ids: list[str], id_name: str) -> str:
        """xlnet's live predict sheet, made or replaced; returns its name."""
        return write_predict_sheet(self.patch, sheets, env, ids, id_name)

    def save(self) -> None:
        """Write the change atomically (to `out`): history rows and curves, then the patched package."""
        if self._records:
            try:
                history.record(self.patch, self._records, str(self.out))
            except history.HistoryFull as e:
                raise XlnetError(str(e)) from None
        if self._curves:
            history.write_curves(self.patch, self._curves)
        self.patch.recalculate_on_open()
        self.patch.save(self.out, self.elsewhere)


def open_package(path: str | Path) -> Package:
    """A workbook from anywhere, vetted (zip and entity bombs refused) and opened for reading."""
    path = Path(path)
    check_regular(path)
    check_package(path)
    try:
        return Package(path)
    except OSError as e:
        raise os_error(path, e, "read") from None
    except Exception as e:  # a zip that is not a sound xlsx raises many kinds
        raise XlnetError(f"{path}: not a readable .xlsx workbook ({type(e).__name__}: {str(e)[:120]}).") from None


def check_regular(path: Path) -> None:
    """A workbook to read is a file: not a folder, nor a FIFO, a socket or a device (which a reader would wait
    on; a write's lock checks the same: safety.exclusive)."""
    if path.is_dir():
        raise XlnetError(f"{path}: it is a folder; name a workbook file.")
    if not path.exists():
        raise XlnetError(f"{path}: no such workbook; make one with `xlnet build`.")
    check_regular_mode(path, path.stat().st_mode)


def read_spec(pkg: Package) -> Spec:
    """The spec the workbook was built with; a workbook with no spec sheet is the lesson's of xlnet 0.1 (which had
    none) only where its linear sheet has that very layout, else refused: its data cannot be read without it."""
    marker = pkg.name("_xlnet_spec")
    sheet = marker.text.split("!")[0].strip("'") if marker else SPEC_SHEET
    if pkg.sheet(sheet) is None:
        legacy = titanic.legacy_spec()
        found = _headers(pkg, "linear")
        expected = SheetLayout(legacy, model_of(legacy, "linear"), 1).headers()
        if not expected.items() <= found.items() or found.get(SheetLayout.set_column(legacy)) == "Set":
            raise XlnetError(f"{pkg.path}: the hidden sheet {sheet!r}, xlnet's record of the columns and how they "
                             "were made, is missing, so the model sheets cannot be read; put it back from a copy "
                             "of the workbook, or rebuild it with `xlnet build`.")
        return legacy
    text = "".join(str(cells[1].value) for r, cells in pkg.rows(sheet) if r > 1 and 1 in cells)
    try:
        return Spec.from_dict(json.loads(text))
    except (ValueError, TypeError, KeyError) as e:
        raise XlnetError(f"{pkg.path}: the hidden sheet {sheet!r} holds no readable spec ({e}); "
                         "rebuild the workbook with `xlnet build`.") from None


def _headers(pkg: Package, sheet: str) -> dict[int, str]:
    """The header row of a sheet (row HEADER_ROW): column -> text; empty where the sheet is missing."""
    if pkg.sheet(sheet) is None:
        return {}
    for r, cells in pkg.rows(sheet):
        if r == HEADER_ROW:
            return {c: cell.value for c, cell in cells.items() if cell.value is not None}
        if r > HEADER_ROW:
            break
    return {}


def check_out(path: Path, out: Path, macro_enabled: bool, elsewhere: bool = True) -> None:
    """`--out` keeps the workbook's kind (.xlsx, or .xlsm with macros) and never overwrites another workbook."""
    want = ".xlsm" if macro_enabled else ".xlsx"
    if out.suffix.lower() != want:
        kind = "a macro-enabled workbook (.xlsm)" if macro_enabled else "an .xlsx workbook"
        raise XlnetError(f"{out}: {path.name} is {kind}, so it must be written to a {want} path; "
                         f"choose another --out.")
    if target_of(out, elsewhere) != target_of(path, elsewhere) and out.exists():
        raise XlnetError(f"{out} already exists and may hold your Solver results; choose another --out, "
                         "or fit it in place without --out.")
