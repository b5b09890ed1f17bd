"""`xlnet fit`: fit a workbook's model sheets (one fit for the two nets) and write back only what xlnet owns."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from xlnet.fitting.estimator import GradientFit
from xlnet.fitting.service import (Fitted, SheetResult, check_weight_decay, diagnose, fit_key, fit_sheets,
                                   improves)
from xlnet.model.net import SHEETS, solver_target
from xlnet.workbook import history
from xlnet.workbook.book import Workbook
from xlnet.workbook.sheet_data import SheetData


def fit_workbook(path: str | Path, *, sheets: tuple[str, ...] = SHEETS, out: str | Path | None = None,
                 weight_decay: float | str = "auto", **settings) -> list[SheetResult]:
    """Fit each sheet's training rows from the workbook's own data and parameters; write back only what xlnet owns.

    Parameters
    ----------
    sheets: the model sheets to fit.
    out: write the fitted workbook here (the same kind, .xlsx or .xlsm) instead of in place.
    weight_decay: "auto" (chosen by the validation loss where there is a validation set; else the sheet's decay
        cell), "sheet" (the decay cell), or a number, written to the decay cell.
    settings: GradientFit's (epochs, lr, restarts, batch_size, random_state), and `progress`, called with the
        steps done.

    Returns
    -------
    One SheetResult per sheet. New parameters are written only where they are better (`improved`). Two fits of
    one workbook serialise on an advisory lock, so neither's history is lost.
    """
    progress = settings.pop("progress", None) or (lambda _: None)
    fitter = GradientFit(**settings)  # checks the settings before any work
    check_weight_decay(weight_decay)
    with Workbook.open(path, change=True, out=out) as book:
        read = book.sheets(sheets)  # every sheet checked before any work
        for sheet in read:
            diagnose(sheet, str(path))
        outcomes = fit_sheets(read, settings, progress, weight_decay)
        results = [_write_back(book, sheet, fitted, fitter) for sheet, fitted in zip(read, outcomes)]
        book.save()
        return results


def _write_back(book: Workbook, sheet: SheetData, fitted: Fitted, fitter: GradientFit) -> SheetResult:
    """A sheet's fit into the workbook where it is better than the parameters there (at the decay chosen: the
    fit's starting point, and what it must beat), and its history row and curve either way."""
    W, decay = fitted.W, fitted.decay
    before, start, after = sheet.metrics(), sheet.metrics(None, decay), sheet.metrics(W, decay)
    improved = improves(after, start)
    if improved:
        book.set_parameters(sheet, W, decay, fit=(fit_key(fitter, sheet, decay), round(fitted.seconds * 1000)))
    else:
        W, after, decay, start = sheet.W, before, sheet.weight_decay, before
        book.keep_summary(sheet)
    curve = history.resample(fitted.curve, solver_target(start))
    method, settings = fitter.describe(sheet.model)
    book.set_curve(sheet.name, curve, settings["epochs"] or None)
    book.record(sheet, method=method, settings={**settings, "weight_decay": decay},
                before=before, after=after, W=W, decay=decay, iterations=fitted.iterations, seconds=fitted.seconds,
                kept=improved)
    return SheetResult(sheet.name, before, after, fitted.iterations, fitted.seconds, improved, np.array(W, float),
                       sheet.layout.param_names(), np.column_stack(curve), decay)
