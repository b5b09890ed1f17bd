"""The `history` sheet (every fit, with the parameters it replaced) and the loss-curve charts."""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
from openpyxl.chart import LineChart, Reference
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.workbook.workbook import Workbook

from .layout import CURVES_SHEET, HISTORY_SHEET, MODEL_SHEETS

HISTORY_COLUMNS = ("When (UTC)", "Sheet", "Method", "Settings", "Loss before", "Loss after", "Valid loss",
                   "Train accuracy", "Valid accuracy", "Iterations", "Seconds", "Replaced parameters",
                   "New parameters")
WIDTHS = (20, 8, 22, 40, 14, 14, 14, 14, 14, 10, 8, 60, 60)
CURVE_POINTS = 400


def _params_text(W: np.ndarray) -> str:
    return " ".join(repr(float(v)) for v in W.ravel())


def record(wb: Workbook, sheet: str, method: str, settings: str, result, W_before: np.ndarray,
           W_after: np.ndarray) -> None:
    """A row for one fit; `result` is a fit.SheetResult. Validation figures stay empty without a validation set."""
    if HISTORY_SHEET not in wb.sheetnames:
        ws = wb.create_sheet(HISTORY_SHEET)
        for c, name in enumerate(HISTORY_COLUMNS, 1):
            ws.cell(1, c, name).font = Font(bold=True)
        for c, width in enumerate(WIDTHS, 1):
            ws.column_dimensions[get_column_letter(c)].width = width
        ws.freeze_panes = "A2"
    ws = wb[HISTORY_SHEET]
    row = ws.max_row + 1
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    after = result.after
    values = (when, sheet, method, settings, result.before["train_loss"], after["train_loss"],
              after.get("valid_loss"), after.get("train_accuracy"), after.get("valid_accuracy"),
              result.iterations, round(result.seconds, 3), _params_text(W_before), _params_text(W_after))
    for c, v in enumerate(values, 1):
        cell = ws.cell(row, c, v)
        if isinstance(v, str):
            cell.data_type = "s"
    for c in (5, 6, 7, 8, 9):
        ws.cell(row, c).number_format = "0.0000000000"


def set_curve(wb: Workbook, sheet: str, curve: list[float]) -> None:
    """Keep the last fit's loss curve of `sheet` (at most CURVE_POINTS points) in the curves sheet."""
    ws = wb[CURVES_SHEET] if CURVES_SHEET in wb.sheetnames else wb.create_sheet(CURVES_SHEET)
    c = 1 + MODEL_SHEETS.index(sheet)
    ws.cell(1, c, sheet).font = Font(bold=True)
    for r in range(2, ws.max_row + 1):
        ws.cell(r, c).value = None
    idx = np.unique(np.linspace(0, len(curve) - 1, min(len(curve), CURVE_POINTS)).round().astype(int))
    for r, i in enumerate(idx, 2):
        ws.cell(r, c, float(curve[i]))


def draw_charts(wb: Workbook) -> None:
    """One line chart per fitted sheet; openpyxl drops charts it loads, so this runs before every save."""
    if CURVES_SHEET not in wb.sheetnames:
        return
    ws = wb[CURVES_SHEET]
    ws._charts = []
    for k, sheet in enumerate(MODEL_SHEETS):
        c = 1 + k
        n = sum(1 for r in range(2, ws.max_row + 1) if ws.cell(r, c).value is not None)
        if not n:
            continue
        chart = LineChart()
        chart.title = f"{sheet}: loss of the last fit"
        chart.y_axis.title, chart.x_axis.title = "loss", "iteration (Adam, then L-BFGS)"
        chart.add_data(Reference(ws, min_col=c, min_row=1, max_row=n + 1), titles_from_data=True)
        chart.height, chart.width = 7, 14
        ws.add_chart(chart, f"F{2 + 15 * k}")
