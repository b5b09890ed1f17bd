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
CHART_LEFT, CHART_RIGHT = 14, 24  # the columns the charts span (from 0), right of the figures
MAX_SHEET_ROWS = 1_048_576
HEAD = Style(bold=True, align="center")
SCORE = Style(num_fmt="0.0000")
FIGURE_DIGITS = 8    # significant digits of a loss; a parameter shows 6
PARAM_WIDTH, MAX_PARAM_COLUMNS = 13, 256


def figure(x, digits: int = FIGURE_DIGITS) -> Style:
    """A number format that shows `x` to `digits` significant digits: 0.12894296 and 18281460, never ###."""
    if not (isinstance(x, float) and math.isfinite(x) and 1e-4 <= abs(x) < 1e12):
        return Style()  # General: zero, a tiny or huge figure, or no figure
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    return Style(num_fmt="0." + "0" * decimals if decimals else "0")


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
        sheet.widths.update({c: PARAM_WIDTH for c in range(FIRST_PARAM_COL, FIRST_PARAM_COL + MAX_PARAM_COLUMNS)})
        patch.set_sheet(name, sheet.xml())
        patch.print_setup(name, titles="$1:$1")
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
                (m["train_loss"], figure(m["train_loss"])), (m.get("valid_loss"), figure(m.get("valid_loss"))),
                (_score(m, "train"), SCORE),
                (_score(m, "valid"), SCORE)]
            more = [(None, Style())] * 2 if extra is None else [(extra[0], Style()), (extra[1], Style())]
            params = [(p, HEAD) if isinstance(p, str) else (float(p), figure(float(p), 6)) for p in W]
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
    spread = np.linspace(0, len(measured) - 1, min(len(measured), CURVE_POINTS)).round().astype(int).tolist()
    pick = np.array(sorted(set(spread)), int)  # not np.unique: it imports numpy.ma (12 ms)
    idx = measured[pick]
    return idx.astype(float), full[idx]


HANDOVER = " L-BFGS from"  # the header of the two cells that mark where a fit's Adam epochs end


def write_curves(patch: Patch, curves: dict[str, tuple[np.ndarray, np.ndarray, float | None]]) -> str:
    """xlnet's curves sheet, rewritten: the new curves (iterations, losses, and the iteration where L-BFGS takes
    over from Adam, or None), and the kept curves of sheets not fitted this time."""
    name = patch.owned_sheet("curves")
    kept: dict[str, list] = {}
    if name is not None:
        header: dict[int, str] = {}
        for r, cells in patch.pkg.rows(name):
            if r == 1:
                header = {c: str(cell.value) for c, cell in cells.items() if cell.value is not None}
                continue
            for c, text in header.items():
                if text.endswith(" iteration") and c in cells and c + 1 in cells:
                    x, y, _ = kept.setdefault(text[:-len(" iteration")], [[], [], None])
                    x.append(cells[c].value)
                    y.append(cells[c + 1].value)
                if text.endswith(HANDOVER) and r == 2 and c in cells:
                    kept.setdefault(text[:-len(HANDOVER)], [[], [], None])[2] = cells[c].value
    else:
        name = patch.add_sheet("curves", "curves")
    data = {s: (np.array(x, float), np.array(y, float), h) for s, (x, y, h) in kept.items() if s in SHEETS and x}
    data.update(curves)
    sheet = parts.SheetXML(patch.strings, patch.styles, freeze_row=1)
    charts, anchors = [], []
    for k, s in enumerate(x for x in SHEETS if x in data):
        charts.append(_curve(sheet, name, s, 1 + 4 * k, *data[s]))
        anchors.append((CHART_LEFT, 1 + CHART_ROWS * k, CHART_RIGHT, CHART_ROWS * (k + 1) - 2))
    sheet.row_breaks = [CHART_ROWS * (k + 1) for k in range(len(charts) - 1)]
    if charts:
        sheet.drawing_rid = "rId1"
    patch.set_sheet(name, sheet.xml(), charts, anchors)
    if charts:  # the charts print, a page each; the figures behind them stay on screen
        patch.print_setup(name, area=f"${parts.letters(CHART_LEFT + 1)}$1:${parts.letters(CHART_RIGHT + 1)}$"
                                     f"{CHART_ROWS * len(charts)}")
    return name


def _curve(sheet: parts.SheetXML, name: str, s: str, c: int, x: np.ndarray, y: np.ndarray,
           handover: float | None) -> bytes:
    """One sheet's curve into columns c.. of the curves sheet (iteration, loss, and the hand-over marker's two
    points), and its chart: whole-number iterations, the loss axis fitted to the curve (logarithmic, and titled
    so, where it spans more than a factor of 10), a vertical line where L-BFGS takes over."""
    sheet.put(1, c, f"{s} iteration", HEAD)
    sheet.put(1, c + 1, f"{s} objective", HEAD)
    sheet.widths.update({c: 12, c + 1: 14})
    for i, (xi, yi) in enumerate(zip(x, y), 2):
        sheet.put(i, c, float(xi), Style(num_fmt="0"))
        sheet.put(i, c + 1, float(yi), figure(float(yi)))
    lo, hi = parts.nice_range(float(np.min(y)), float(np.max(y)))

    def ref(col: int, r0: int, r1: int | None = None) -> str:
        return parts.sheet_ref(name, f"${parts.letters(col)}${r0}" + (f":${parts.letters(col)}${r1}" if r1 else ""))
    series = [(ref(c + 1, 1), ref(c, 2, len(x) + 1), ref(c + 1, 2, len(x) + 1))]
    if handover is not None and 0 < handover < x[-1]:
        sheet.put(1, c + 2, s + HANDOVER, HEAD)
        sheet.put(1, c + 3, "marker", HEAD)
        sheet.widths.update({c + 2: 16, c + 3: 9})
        for r, level in ((2, lo), (3, hi)):
            sheet.put(r, c + 2, float(handover), Style(num_fmt="0"))
            sheet.put(r, c + 3, float(level))
        series.append((ref(c + 2, 1), ref(c + 2, 2, 3), ref(c + 3, 2, 3)))
    log = lo > 0 and hi / lo >= 10
    return parts.line_chart(f"{s}: objective of the last fit", series,
                            "iteration (Adam, then L-BFGS)" if handover else "iteration (L-BFGS)",
                            "objective (log scale)" if log else "objective", (lo, hi), x_range=(0.0, float(x[-1])))
