"""xlnet's own sheets in a user's workbook: `history` (every fit, each parameter in its own cell, before and
after, so any past fit can be read and restored) and `curves` (the last fit's loss per sheet, with charts).

A sheet is xlnet's when a hidden defined name (`_xlnet_history`, `_xlnet_curves`) points at it; a user's sheet
called history or curves, in any case, is never touched: xlnet's is then named `xlnet history`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from xlnet.model.net import SHEETS
from xlnet.xlsx import parts
from xlnet.xlsx.parts import Style
from xlnet.xlsx.patch import Patch
from xlnet.xlsx.read import Package

HISTORY_COLUMNS = ("Fit", "When (UTC)", "Sheet", "Method", "Epochs", "LR", "Restarts", "Batch size", "Seed",
                   "Parameters", "Loss", "Valid loss", "Train score", "Valid score", "Iterations", "Seconds")
WIDTHS = (6, 20, 8, 20, 8, 8, 9, 10, 6, 18, 14, 14, 12, 12, 10, 8)
FIRST_PARAM_COL = len(HISTORY_COLUMNS) + 1
CURVE_POINTS = 400
CHART_ROWS = 22      # a chart and its margin: one printed page each
MAX_SHEET_ROWS = 1_048_576
HEAD = Style(bold=True, align="center")
LOSS = Style(num_fmt="0.0000000000")
SCORE = Style(num_fmt="0.0000")
PARAM = Style(num_fmt="0.000000")


@dataclass
class FitRecord:
    sheet: str
    method: str
    settings: dict
    before: dict
    after: dict
    iterations: int
    seconds: float
    names: list[str]
    W_before: np.ndarray
    W_after: np.ndarray
    kept: bool           # the new parameters were written (strictly better)


class HistoryFull(Exception):
    pass


def _score(m: dict, which: str):
    return next((v for k, v in m.items() if k.startswith(which + "_") and not k.endswith("loss")), None)


def _row(patch: Patch, r: int, values: list) -> bytes:
    cells = []
    for c, (value, style) in enumerate(values, 1):
        if value is None:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        cells.append(parts.cell_xml(c, r, value, patch.styles(style), patch.strings))
    return f'<row r="{r}">'.encode() + b"".join(cells) + b"</row>"


def record(patch: Patch, fits: list[FitRecord], where: str) -> str:
    """Append three rows per fit to xlnet's history sheet (made if missing): parameter names, replaced, new."""
    name = patch.owned_sheet("history")
    last_fit, last_row = 0, 1
    if name is None:
        name = patch.add_sheet("history", "history")
        sheet = parts.SheetXML(patch.strings, patch.styles, freeze_row=1)
        for c, text in enumerate(HISTORY_COLUMNS, 1):
            sheet.put(1, c, text, HEAD)
        sheet.widths = dict(enumerate(WIDTHS, 1))
        patch.set_sheet(name, sheet.xml())
    else:
        for r, cells in patch.pkg.rows(name):
            last_row = r
            v = cells.get(1)
            if v is not None and isinstance(v.value, float):
                last_fit = max(last_fit, int(v.value))
    if last_row + 3 * len(fits) > MAX_SHEET_ROWS:
        raise HistoryFull(f"{where}: the sheet {name!r} is full ({last_row:,} rows); rename it or delete old "
                          "rows, and xlnet starts a new one.")
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    rows, r = [], last_row
    k = last_fit + 1  # one number per run: its sheets' rows share it
    for fit in fits:
        s = fit.settings
        head = [(k, Style()), (when, Style()), (fit.sheet, Style()), (fit.method, Style()), (s["epochs"], Style()),
                (s["lr"], Style()), (s["restarts"], Style()), (s["batch_size"], Style()), (s["seed"], Style())]
        for label, m, W, extra in (("names", None, fit.names, None),
                                   ("replaced", fit.before, fit.W_before, None),
                                   ("new" if fit.kept else "kept: no better", fit.after, fit.W_after,
                                    (fit.iterations, round(fit.seconds, 3)))):
            r += 1
            figures = [(None, Style())] * 4 if m is None else [
                (m["train_loss"], LOSS), (m.get("valid_loss"), LOSS), (_score(m, "train"), SCORE),
                (_score(m, "valid"), SCORE)]
            more = [(None, Style())] * 2 if extra is None else [(extra[0], Style()), (extra[1], Style())]
            params = [(p if isinstance(p, str) else float(p), HEAD if isinstance(p, str) else PARAM) for p in W]
            rows.append(_row(patch, r, head + [(label, Style(bold=label == "names"))] + figures + more + params))
    patch.append_rows(name, b"".join(rows))
    return name


def past_fits(pkg: Package, name: str) -> dict[tuple[int, str], dict[str, list]]:
    """(fit number, sheet) -> {row kind ("names", "replaced", "new", ...): parameters} of xlnet's history sheet."""
    out: dict = {}
    header: dict[int, str] = {}
    for r, cells in pkg.rows(name):
        if r == 1:
            header = {c: cell.value for c, cell in cells.items()}
            continue
        row = {header.get(c): cell.value for c, cell in cells.items() if c < FIRST_PARAM_COL}
        params = [cells[c].value for c in sorted(cells) if c >= FIRST_PARAM_COL]
        if isinstance(row.get("Fit"), float) and row.get("Sheet") in SHEETS:
            out.setdefault((int(row["Fit"]), row["Sheet"]), {})[row.get("Parameters")] = params
    return out


def resample(curve: list[float], before: float) -> tuple[np.ndarray, np.ndarray]:
    """At most CURVE_POINTS (iteration, loss) points, from iteration 0 (the loss before the fit) to the last."""
    full = np.array([before] + list(curve), float)
    measured = np.flatnonzero(np.isfinite(full))  # NaN: an iteration whose loss was not measured
    pick = np.unique(np.linspace(0, len(measured) - 1, min(len(measured), CURVE_POINTS)).round().astype(int))
    idx = measured[pick]
    return idx.astype(float), full[idx]


def write_curves(patch: Patch, curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> str:
    """xlnet's curves sheet, rewritten: the new curves, and the kept curves of sheets not fitted this time."""
    name = patch.owned_sheet("curves")
    kept: dict[str, tuple[list, list]] = {}
    if name is not None:
        header: dict[int, str] = {}
        for r, cells in patch.pkg.rows(name):
            if r == 1:
                header = {c: str(cell.value) for c, cell in cells.items() if cell.value is not None}
                continue
            for c, text in header.items():
                if text.endswith(" iteration") and c in cells and c + 1 in cells:
                    x, y = kept.setdefault(text[:-len(" iteration")], ([], []))
                    x.append(cells[c].value)
                    y.append(cells[c + 1].value)
    else:
        name = patch.add_sheet("curves", "curves")
    data = {s: (np.array(x, float), np.array(y, float)) for s, (x, y) in kept.items() if s in SHEETS}
    data.update(curves)
    sheet = parts.SheetXML(patch.strings, patch.styles, freeze_row=1, landscape=True)
    charts, anchors = [], []
    for k, s in enumerate(x for x in SHEETS if x in data):
        x, y = data[s]
        c = 1 + 2 * k
        sheet.put(1, c, f"{s} iteration", HEAD)
        sheet.put(1, c + 1, f"{s} loss", HEAD)
        sheet.widths.update({c: 14, c + 1: 14})
        for i, (xi, yi) in enumerate(zip(x, y), 2):
            sheet.put(i, c, float(xi))
            sheet.put(i, c + 1, float(yi), LOSS)
        ref = lambda col, r0, r1: parts.sheet_ref(name, f"${parts.letters(col)}${r0}" +
                                                   (f":${parts.letters(col)}${r1}" if r1 else ""))
        charts.append(parts.line_chart(f"{s}: loss of the last fit", [
            (ref(c + 1, 1, None), ref(c, 2, len(x) + 1), ref(c + 1, 2, len(x) + 1))],
            "iteration (Adam, then L-BFGS)", "loss", parts.nice_range(float(np.min(y)), float(np.max(y)))))
        anchors.append((8, 1 + CHART_ROWS * k, 17, CHART_ROWS * (k + 1) - 2))
    sheet.row_breaks = [CHART_ROWS * (k + 1) for k in range(len(charts) - 1)]
    if charts:
        sheet.drawing_rid = "rId1"
    patch.set_sheet(name, sheet.xml(), charts, anchors)
    return name
