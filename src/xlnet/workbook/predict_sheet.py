"""The live `predict` sheet: new rows, their features and each model's prediction as formulas.

The features use the statistics in the `linear` sheet's cells (its MAX cells: the rows built on, never the new
rows'); each model's columns use that model sheet's parameter cells. Refit with Solver or `xlnet fit`, and the
predictions follow. The sheet is xlnet's own (found by the hidden name `_xlnet_predict`).
"""
from __future__ import annotations

import numpy as np

from xlnet.workbook.sheet_data import SheetData
from xlnet.workbook.layout import HEADER_ROW, TITLE_ROW, SheetLayout, absolute
from xlnet.model.net import SHEETS
from xlnet.xlsx import parts
from xlnet.xlsx.parts import Formula, Style
from xlnet.xlsx.patch import Patch
from xlnet.xlsx.read import letters

FIRST = HEADER_ROW + 1
HEAD = Style(bold=True, align="center")
VALUE = Style(align="center")
COMPUTED = Style(num_fmt="0.000")
PREDICTION = Style(num_fmt="0.000", bold=True)


class PredictCells:
    """The Cells protocol of formula.py for one model's columns on the predict sheet."""

    def __init__(self, col: dict[str, int], n: int, model_sheet: SheetLayout, stats_sheet: SheetLayout,
                 prefix: str, features: tuple[str, ...]):
        self.col, self.n, self.model_sheet, self.stats_sheet = col, n, model_sheet, stats_sheet
        self.prefix, self.features = prefix, features
        self.row = FIRST

    def key(self, column: str) -> str:
        return column if column in self.col and not column.startswith(" ") else f"{self.prefix} {column}"

    def at_row(self, row) -> "PredictCells":
        self.row = row
        return self

    def cell(self, column):
        return f"{letters(self.col[self.key(column)])}{self.row}"

    def column_range(self, column):
        c = letters(self.col[self.key(column)])
        return f"{c}{FIRST}:{c}{FIRST + self.n - 1}"

    def fixed_cell(self, name):
        return parts.sheet_ref(self.stats_sheet.model.name, absolute(self.stats_sheet.col[name], TITLE_ROW))

    def features_row(self):
        return self.columns_row(self.features)

    def features_all(self):
        return self.columns_all(self.features)

    def columns_row(self, names):
        return f"{self.cell(names[0])}:{self.cell(names[-1])}"

    def columns_all(self, names):
        a, b = (letters(self.col[self.key(n)]) for n in (names[0], names[-1]))
        return f"{a}{FIRST}:{b}{FIRST + self.n - 1}"

    def param_range(self, block="W", k=None):
        return parts.sheet_ref(self.model_sheet.model.name, self.model_sheet.param_range(block, k))

    def param_span(self, block, start, stop=None):
        return parts.sheet_ref(self.model_sheet.model.name, self.model_sheet.param_span(block, start, stop))


def write_predict_sheet(patch: Patch, sheets: dict[str, SheetData], env: dict, ids: list[str], id_name: str) -> str:
    """Add or replace xlnet's predict sheet; returns its name."""
    spec = sheets["linear"].spec
    stats = sheets["linear"].layout
    n = len(ids)
    raw = [c for c in stats.values if c != spec.target and c not in stats.feature_names]
    values = [id_name] + raw + [c for c in stats.values if c in stats.feature_names]
    names = [id_name] + raw + list(stats.feature_names)
    col = {name: i + 1 for i, name in enumerate(dict.fromkeys(names))}
    cells_of = {}
    next_col = len(col) + 2
    for model in SHEETS:
        sheet = sheets[model]
        for column in sheet.model.column_names:
            if column == "Loss":
                continue
            col[f"{model} {column}"] = next_col
            next_col += 1
        next_col += 1
        cells_of[model] = PredictCells(col, n, sheet.layout, stats, model, stats.feature_names)
    name = patch.owned_sheet("predict") or patch.add_sheet("predict", "predict")
    sheet_xml = parts.SheetXML(patch.strings, patch.styles, freeze_row=HEADER_ROW)
    sheet_xml.put(TITLE_ROW, 1, "New rows and each model's prediction, as live formulas over the model sheets' "
                                "parameters and the linear sheet's statistics", Style(bold=True))
    for header, c in col.items():
        sheet_xml.put(HEADER_ROW, c, header, HEAD)
        sheet_xml.widths[c] = max(9, len(header) + 2)
    for model in SHEETS:
        c = col[f"{model} {sheets[model].model.prediction}"]
        sheet_xml.put(TITLE_ROW + 1, c, f"{model}'s prediction", Style(bold=True))
    data = {column: (ids if column == id_name else env[column]) for column in values}
    for i in range(n):
        r = FIRST + i
        for column in values:
            v = data[column][i]
            v = v.item() if isinstance(v, np.generic) else v
            sheet_xml.put(r, col[column], v, VALUE)
        cells = cells_of["linear"].at_row(r)
        for feature, op in stats.features:
            if op is not None:
                sheet_xml.put(r, col[feature], Formula("=" + op.formula(cells)), COMPUTED)
        for model in SHEETS:
            cells = cells_of[model].at_row(r)
            m = sheets[model].model
            for column, op in m.columns:
                if column == "Loss":
                    continue
                style = PREDICTION if column == m.prediction else COMPUTED
                if getattr(op, "array", False):
                    sheet_xml.put(r, col[f"{model} {column}"], None, style)
                    continue
                sheet_xml.put(r, col[f"{model} {column}"], Formula("=" + op.formula(cells)), style)
    for model in SHEETS:
        cells = cells_of[model].at_row(FIRST)
        m = sheets[model].model
        run: list[tuple[str, str]] = []
        for column, op in list(m.columns) + [(None, None)]:
            text = op.formula(cells) if op is not None and getattr(op, "array", False) else None
            if run and text != run[0][1]:
                first, last = (letters(col[f"{model} {run[k][0]}"]) for k in (0, -1))
                sheet_xml.put(FIRST, col[f"{model} {run[0][0]}"],
                              Formula("=" + run[0][1], f"{first}{FIRST}:{last}{FIRST + n - 1}"), COMPUTED)
                run = []
            if text is not None:
                run.append((column, text))
    patch.set_sheet(name, sheet_xml.xml())
    return name


def predict_columns(sheets: dict[str, SheetData]) -> dict[str, tuple[int, int]]:
    """(column, first row) of each model's prediction on the predict sheet, as write_predict_sheet places them."""
    stats = sheets["linear"].layout
    raw = [c for c in stats.values if c != sheets["linear"].spec.target and c not in stats.feature_names]
    c = 1 + len(raw) + len(stats.feature_names) + 2
    out = {}
    for model in SHEETS:
        m = sheets[model].model
        columns = [name for name in m.column_names if name != "Loss"]
        out[model] = (c + columns.index(m.prediction), FIRST)
        c += len(columns) + 1
    return out
