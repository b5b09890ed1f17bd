"""`xlnet compare`: the workbook's own losses beside xlnet's fit, the optimum and LibreOffice's solver."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from xlnet.errors import XlnetError
from xlnet.fitting.estimator import GradientFit
from xlnet.fitting.service import decays_to_try, fit_key, fit_sheets
from xlnet.model.net import SHEETS
from xlnet.peers import libreoffice
from xlnet.workbook.book import Workbook
from xlnet.workbook.sheet_data import SheetData


@dataclass
class SheetComparison:
    sheet: str
    problem: str | None = None             # why the sheet could not be compared
    workbook: dict | None = None           # metrics of the parameters now in the workbook, computed by xlnet
    cached_loss: float | None = None       # the loss cell's value as Excel or LibreOffice last saved it
    xlnet: dict | None = None              # metrics after xlnet's fit (run, not written)
    xlnet_seconds: float | None = None
    xlnet_source: str | None = None        # "refit": fitted now; "workbook": the workbook holds xlnet's fit of
                                           # these rows under these settings (its seconds are that fit's)
    optimum: float | None = None           # least squares, for the linear sheet
    libreoffice: dict | None = None        # engine, loss, seconds of LibreOffice's solver
    gap_percent: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _lo_spec(sheet: SheetData) -> dict:
    c, r = sheet.layout.loss_cell_at
    return {"name": sheet.name, "objective": [c - 1, r - 1],
            "variables": [[pc - 1, pr - 1] for pc, pr in sheet.layout.param_cells()]}


def compare_workbook(path: str | Path, *, sheets: tuple[str, ...] = SHEETS, use_libreoffice: bool = False,
                     engine: str = "swarm", time_limit: float = 60, refit: bool = False,
                     progress: Callable[[str], None] | None = None, **settings) -> list[SheetComparison]:
    """Compare each model sheet; reads the workbook and never writes it. A sheet whose parameters are, as
    recorded beside them, xlnet's fit of its rows under these very settings is not fitted again unless `refit`."""
    say = progress or (lambda _: None)
    fitter = GradientFit(**settings)  # checks the settings before any work
    path = Path(path)
    with Workbook.open(path) as book:
        return _compare(book, sheets, use_libreoffice, engine, time_limit, say, settings, None if refit else fitter)


def _fitted_before(book: Workbook, sheet: SheetData, fitter: GradientFit | None) -> float | None:
    """The seconds of the xlnet fit that wrote this sheet's parameters with `fitter`'s settings, if one did."""
    recorded = book.fit_recorded(sheet.name) if fitter is not None else None
    if recorded is None or recorded[0] != fit_key(fitter, sheet, decays_to_try(sheet, "sheet")[0]):
        return None
    return recorded[1]


def _compare(book: Workbook, sheets, use_libreoffice, engine, time_limit, say, settings, fitter
             ) -> list[SheetComparison]:
    out, ready, to_fit = [], [], []
    for name, sheet in zip(sheets, book.sheets_or_errors(sheets, rows=False)):
        if isinstance(sheet, XlnetError):
            out.append(SheetComparison(name, problem=str(sheet).removeprefix(f"{book.path}: ")))
            continue
        result = SheetComparison(name, workbook=sheet.metrics(),
                                 cached_loss=book.cached_value(name, sheet.layout.loss_cell_at))
        result.optimum = sheet.optimum()
        out.append(result)
        ready.append((result, sheet))
        seconds = _fitted_before(book, sheet, fitter)
        if seconds is None:
            to_fit.append((result, sheet))
        else:
            result.xlnet, result.xlnet_seconds, result.xlnet_source = result.workbook, seconds, "workbook"
            result.gap_percent = 0.0
    if to_fit:
        say(f"fitting {', '.join(r.sheet for r, _ in to_fit)} with xlnet")
        fitted = fit_sheets([s for _, s in to_fit], settings, weight_decay="sheet")
        for (result, sheet), f in zip(to_fit, fitted):
            result.xlnet = sheet.metrics(f.W)
            result.xlnet_seconds, result.xlnet_source = f.seconds, "refit"
            best = sheet.objective(f.W)
            result.gap_percent = 100 * (sheet.objective() - best) / best
    if use_libreoffice and ready:
        specs = [_lo_spec(sheet) for _, sheet in ready]
        say(f"starting LibreOffice's {engine} solver ({time_limit:g} s per sheet)")
        solved = libreoffice.solve(book.path, specs, engine=engine, time_limit=time_limit,
                                   progress=lambda r: say(f"LibreOffice solved {r['sheet']} in {r['seconds']:.1f} s"))
        for (result, sheet), lo in zip(ready, solved):
            W = np.array(lo["solution"], float)
            result.libreoffice = {"engine": engine, "loss": lo["loss"], "xlnet_loss": sheet.objective(W),
                                  "seconds": lo["seconds"], "status": lo["status"]}
    return out
