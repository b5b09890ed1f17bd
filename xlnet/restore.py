"""`xlnet restore`: put the parameters of a past fit back, from xlnet's history sheet, as a fit writes them."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import history
from .dataset import DECAY, open_package, read_sheet, read_spec
from .errors import XlnetError
from .fit import SheetResult
from .net import SHEETS
from .xlsx.patch import Patch
from .xlsx.safety import check_not_open, exclusive


def _fits(patch: Patch, name: str) -> dict[tuple[int, str], dict[str, list]]:
    """(fit number, sheet) -> {row kind: parameters} of the history sheet."""
    out: dict = {}
    header: dict[int, str] = {}
    for r, cells in patch.pkg.rows(name):
        if r == 1:
            header = {c: cell.value for c, cell in cells.items()}
            continue
        row = {header.get(c): cell.value for c, cell in cells.items() if c < history.FIRST_PARAM_COL}
        params = [cells[c].value for c in sorted(cells) if c >= history.FIRST_PARAM_COL]
        if isinstance(row.get("Fit"), float) and row.get("Sheet") in SHEETS:
            out.setdefault((int(row["Fit"]), row["Sheet"]), {})[row.get("Parameters")] = params
    return out


def restore_workbook(path: str | Path, fit: int, *, before: bool = False,
                     sheets: tuple[str, ...] = SHEETS) -> list[SheetResult]:
    """Write back the parameters fit `fit` wrote (or, with `before`, those it replaced); a history row records it."""
    path = Path(path)
    check_not_open(path)
    with exclusive(path):
        pkg = open_package(path)
        try:
            patch = Patch(pkg)
            name = patch.owned_sheet("history")
            if name is None:
                raise XlnetError(f"{path}: there is no history of fits to restore from; `xlnet fit` makes one.")
            fits = _fits(patch, name)
            chosen = [s for s in sheets if (fit, s) in fits]
            if not chosen:
                known = sorted({k for k, _ in fits})
                raise XlnetError(f"{path}: the sheet {name!r} has no fit {fit} of {', '.join(sheets)}; its fits are "
                                 f"{', '.join(map(str, known)) or 'none'}.")
            spec = read_spec(pkg)
            results, records = [], []
            for sheet_name in chosen:
                kind = "replaced" if before else next(k for k in fits[(fit, sheet_name)] if k != "names"
                                                      and k != "replaced")
                values = fits[(fit, sheet_name)].get(kind, [])
                sheet = read_sheet(pkg, sheet_name, spec)
                n = sheet.model.n_params
                names = fits[(fit, sheet_name)].get("names", [])
                with_decay = sheet.model.decay and len(names) == n + 1 and names[-1] == DECAY
                if len(values) != n + with_decay or not all(isinstance(v, float) for v in values):
                    raise XlnetError(f"{path}: fit {fit} of {sheet_name!r} in {name!r} does not hold "
                                     f"{n + with_decay} numbers; its row was edited.")
                W, decay = np.array(values[:n], float), values[n] if with_decay else sheet.weight_decay
                patch.set_numbers(sheet_name, sheet.settable_cells(W, decay))
                before_m, after_m = sheet.metrics(), sheet.metrics(W, decay)
                results.append(SheetResult(sheet_name, before_m, after_m, 0, 0.0, weight_decay=decay))
                settings = {"epochs": None, "lr": None, "restarts": None, "batch_size": None, "seed": None}
                names, old = sheet.recorded(sheet.W, sheet.weight_decay)
                records.append(history.FitRecord(sheet_name, f"restore of fit {fit} ({kind})", settings, before_m,
                                                 after_m, 0, 0.0, names, old, sheet.recorded(W, decay)[1], True))
            history.record(patch, records, str(path))
            patch.recalculate_on_open()
            patch.save(path)
            return results
        except history.HistoryFull as e:
            raise XlnetError(str(e)) from None
        finally:
            pkg.close()
