"""`xlnet restore`: put the parameters of a past fit back, from xlnet's history sheet, as a fit writes them."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from xlnet.errors import XlnetError
from xlnet.fitting.service import SheetResult
from xlnet.model.net import SHEETS
from xlnet.workbook.book import Workbook
from xlnet.workbook.sheet_data import DECAY, SheetData

NO_SETTINGS = {"epochs": None, "lr": None, "restarts": None, "batch_size": None, "seed": None}


def restore_workbook(path: str | Path, fit: int, *, before: bool = False,
                     sheets: tuple[str, ...] = SHEETS) -> list[SheetResult]:
    """Write back the parameters fit `fit` wrote (or, with `before`, those it replaced); a history row records it.

    Returns one SheetResult per sheet restored."""
    with Workbook.open(path, change=True, elsewhere=False) as book:
        fits = book.past_fits()
        chosen = [s for s in sheets if (fit, s) in fits]
        if not chosen:
            known = sorted({k for k, _ in fits})
            raise XlnetError(f"{path}: the sheet {book.history_sheet()!r} has no fit {fit} of {', '.join(sheets)}; "
                             f"its fits are {', '.join(map(str, known)) or 'none'}.")
        results = []
        for sheet in book.sheets(chosen):
            rows = fits[(fit, sheet.name)]
            kind = "replaced" if before else next(k for k in rows if k not in ("names", "replaced"))
            W, decay = _recorded(book, sheet, rows, kind, fit)
            book.set_parameters(sheet, W, decay)
            before_m, after_m = sheet.metrics(), sheet.metrics(W, decay)
            results.append(SheetResult(sheet.name, before_m, after_m, weight_decay=decay))
            book.record(sheet, method=f"restore of fit {fit} ({kind})", settings=NO_SETTINGS, before=before_m,
                        after=after_m, W=W, decay=decay)
        book.save()
        return results


def _recorded(book: Workbook, sheet: SheetData, rows: dict[str, list], kind: str, fit: int
              ) -> tuple[np.ndarray, float]:
    """The parameters and weight decay of one row of the history, checked against the sheet."""
    values, names = rows.get(kind, []), rows.get("names", [])
    n = sheet.model.n_params
    with_decay = sheet.model.decay and len(names) == n + 1 and names[-1] == DECAY
    if len(values) != n + with_decay or not all(isinstance(v, float) for v in values):
        raise XlnetError(f"{book.path}: fit {fit} of {sheet.name!r} in {book.history_sheet()!r} does not hold "
                         f"{n + with_decay} numbers; its row was edited.")
    return np.array(values[:n], float), values[n] if with_decay else sheet.weight_decay
